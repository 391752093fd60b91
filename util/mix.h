// SplitMix64 (Steele, Lea and Flood 2014), the one 64-bit mixer behind every
// seeded stream and seed derivation: the samplers' Rng, the data pipeline's
// DataRng and the simulated executor. Bit-identical on every toolchain.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_UTIL_MIX_H_
#define CONVRNN_UTIL_MIX_H_

#include <cstdint>

namespace convrnn {

// SplitMix64's increment (2^64 / golden ratio).
inline constexpr uint64_t kSplitMixGamma = 0x9e3779b97f4a7c15ULL;

// SplitMix64's finaliser: a bijection that scatters nearby inputs.
inline uint64_t Scramble(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// One SplitMix64 step from state `x`: a well-mixed 64-bit hash of `x`.
inline uint64_t SplitMix64(uint64_t x) { return Scramble(x + kSplitMixGamma); }

}  // namespace convrnn

#endif  // CONVRNN_UTIL_MIX_H_
