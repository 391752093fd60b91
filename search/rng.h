// A small deterministic random number generator for the samplers.
//
// The standard library's distributions are implementation-defined, so the
// same seed could give different suggestions on another toolchain. Rng
// (SplitMix64 seeding + xoshiro256**) and its own uniform/normal draws give
// bit-identical streams everywhere, which is what "deterministic given a
// seed" needs when a coordinator restarts on another machine.
//
// Thread-safety: none; one Rng per caller.
#ifndef CONVRNN_SEARCH_RNG_H_
#define CONVRNN_SEARCH_RNG_H_

#include <cmath>
#include <cstdint>

#include "util/mix.h"

namespace convrnn::search {

// Mixes a value into a hash state; used to derive a per-call seed from the
// sampler seed and the history. Scrambling h first keeps (seed, count) pairs
// apart, so seed 1 at trial t never replays seed 2 at trial t - k.
inline uint64_t MixSeed(uint64_t h, uint64_t v) { return Scramble(SplitMix64(h) ^ v); }

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& s : s_) {
      x += kSplitMixGamma;
      s = Scramble(x);
    }
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [0, n). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>(Uniform() * static_cast<double>(n)) % n;
  }
  // Standard normal (Box-Muller; no cached second value, so streams stay simple).
  double Normal() {
    double u1 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_RNG_H_
