#include "worker/data/batch_plan.h"

#include "worker/data/data_rng.h"

namespace convrnn {
namespace {

constexpr uint64_t kOrderKey = 0x0d3e5;
constexpr uint64_t kAugmentKey = 0xa06;

}  // namespace

std::vector<int64_t> EpochOrder(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (shuffle) {
    DataRng rng(MixSeed({seed, static_cast<uint64_t>(epoch), kOrderKey}));
    rng.Shuffle(&order);
  }
  return order;
}

bool Augments(const AugmentSpec& augment) { return augment.crop_padding > 0 || augment.flip; }

std::vector<AugmentDraw> AugmentDraws(const AugmentSpec& augment, uint64_t seed, int64_t epoch,
                                      int64_t batch, int64_t size) {
  std::vector<AugmentDraw> draws(size);
  if (!Augments(augment)) return draws;
  const int pad = augment.crop_padding;
  DataRng rng(
      MixSeed({seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(batch), kAugmentKey}));
  for (AugmentDraw& d : draws) {
    d.dy = pad > 0 ? rng.Between(-pad, pad) : 0;
    d.dx = pad > 0 ? rng.Between(-pad, pad) : 0;
    d.flip = augment.flip && rng.Coin();
  }
  return draws;
}

std::vector<std::array<float, 256>> NormalisationTable(const std::vector<float>& mean,
                                                       const std::vector<float>& stddev,
                                                       int64_t channels) {
  std::vector<std::array<float, 256>> lut(channels);
  for (int64_t ch = 0; ch < channels; ++ch) {
    for (int v = 0; v < 256; ++v) {
      lut[ch][v] = (static_cast<float>(v) / 255.0f - mean[ch]) / stddev[ch];
    }
  }
  return lut;
}

}  // namespace convrnn
