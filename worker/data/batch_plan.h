// What makes batch b of epoch e what it is, shared by the two batch sources
// (batch_loader.cc on the host, device_batches.cc on the training device)
// so that they cannot drift apart: the epoch's order, each image's crop and
// flip draws, and the byte -> normalised float table.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_WORKER_DATA_BATCH_PLAN_H_
#define CONVRNN_WORKER_DATA_BATCH_PLAN_H_

#include <array>
#include <cstdint>
#include <vector>

#include "spec/data_spec.h"

namespace convrnn {

// The order of a split's n images in `epoch`: a permutation seeded by
// (seed, epoch), or 0..n-1 without shuffling.
std::vector<int64_t> EpochOrder(int64_t n, bool shuffle, uint64_t seed, int64_t epoch);

// One image's augmentation: shift the crop window by (dy, dx) in
// [-crop_padding, crop_padding] (outside the image reads raw 0, black), then
// mirror horizontally when `flip`.
struct AugmentDraw {
  int64_t dy = 0, dx = 0;
  bool flip = false;
};
bool Augments(const AugmentSpec& augment);
// The draws of the `size` images of batch `batch` of `epoch`, in order.
std::vector<AugmentDraw> AugmentDraws(const AugmentSpec& augment, uint64_t seed, int64_t epoch,
                                      int64_t batch, int64_t size);

// (v / 255 - mean[c]) / stddev[c] for every byte v of every channel c, in
// float32: one table per channel.
std::vector<std::array<float, 256>> NormalisationTable(const std::vector<float>& mean,
                                                       const std::vector<float>& stddev,
                                                       int64_t channels);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_DATA_BATCH_PLAN_H_
