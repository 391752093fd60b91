// A small seeded random generator for the data pipeline.
//
// The validation split, occluders, epoch order and augmentation must be the
// same on every machine and standard library, and must not touch LibTorch's
// global generator (the trainer seeds that, and the loader's producer thread
// runs beside training). std::shuffle and std::uniform_int_distribution are
// implementation-defined, so this is SplitMix64 with explicit bounded draws.
//
// Thread-safety: a DataRng is a plain value; use one per thread.
#ifndef CONVRNN_WORKER_DATA_DATA_RNG_H_
#define CONVRNN_WORKER_DATA_DATA_RNG_H_

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "util/mix.h"

namespace convrnn {

// One seed from several keys, e.g. (seed, epoch, batch): order matters.
inline uint64_t MixSeed(std::initializer_list<uint64_t> keys) {
  uint64_t h = 0x6a09e667f3bcc909ULL;
  for (uint64_t k : keys) h = SplitMix64(h ^ SplitMix64(k));
  return h;
}

class DataRng {
 public:
  explicit DataRng(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    state_ += kSplitMixGamma;
    return Scramble(state_);
  }
  // Uniform in [0, n). REQUIRES: n > 0. (Multiply-shift; the bias for the
  // n of this pipeline, well below 2^32, is under 2^-32.)
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Coin() { return (Next() >> 63) != 0; }

  // Fisher-Yates, the same order everywhere.
  template <typename T>
  void Shuffle(std::vector<T>* v) {
    for (size_t i = v->size(); i > 1; --i) std::swap((*v)[i - 1], (*v)[Below(i)]);
  }

 private:
  uint64_t state_;
};

}  // namespace convrnn

#endif  // CONVRNN_WORKER_DATA_DATA_RNG_H_
