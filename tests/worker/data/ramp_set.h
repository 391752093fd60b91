// The augmentation tests' image set: `n` copies of one 1x4x6 image whose
// pixels are 1..24 (so every shift and mirror is visible, and 0 is the
// black a crop pads with), all labelled 0.
#ifndef CONVRNN_TESTS_WORKER_DATA_RAMP_SET_H_
#define CONVRNN_TESTS_WORKER_DATA_RAMP_SET_H_

#include <cstdint>

#include "worker/data/data.h"

namespace convrnn::data_testing {

inline ImageSet RampSet(int64_t n) {
  ImageSet set;
  set.images = torch::arange(1, 1 + 4 * 6, torch::kInt64)
                   .to(torch::kUInt8)
                   .view({1, 1, 4, 6})
                   .repeat({n, 1, 1, 1});
  set.labels = torch::zeros({n}, torch::kInt64);
  return set;
}

}  // namespace convrnn::data_testing

#endif  // CONVRNN_TESTS_WORKER_DATA_RAMP_SET_H_
