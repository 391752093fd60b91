// Synthetic recordings with a known answer, for validating neural scoring
// without real data (DESIGN.md §5): a "teacher" ConvRNN is unrolled on the
// stimuli; each site is a fixed random linear read-out of one teacher
// layer's features (features.h, z-scored) at the bin's step; every
// (site, bin) signal is rescaled to unit variance over images, and each
// repetition adds independent Gaussian noise of standard deviation
// noise_sd. The true reliability of the repetition mean is then
// 1 / (1 + noise_sd^2 / R) wherever the read-out layer carries image
// information at that step, and 0 where it does not yet (before the layer
// first computes); it is stored in NeuralData::true_reliability.
//
// Deterministic for a seed. Thread-safety: as the model.
#ifndef CONVRNN_WORKER_NEURAL_SYNTHETIC_H_
#define CONVRNN_WORKER_NEURAL_SYNTHETIC_H_

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/model/model.h"
#include "worker/neural/features.h"
#include "worker/neural/recordings.h"

namespace convrnn {

struct SyntheticOptions {
  std::vector<std::string> regions = {"V4", "IT"};
  // Teacher layer read by each region; empty: spread over the layers
  // (region i of k reads layer ceil((i + 1) * L / k) - 1, so the last region
  // reads the last layer).
  std::vector<int> region_layers;
  int sites_per_region = 32;
  int repetitions = 4;
  double noise_sd = 1.0;     // per repetition, relative to unit signal variance
  double missing = 0.0;      // fraction of repetitions set to NaN at random
  int step_offset = 0;       // bin b reads teacher step b + step_offset
  int bins = 0;              // 0: every teacher step from step_offset on
  double bin_start_ms = 70;  // start of bin 0; bins are 10 ms apart
  uint64_t seed = 0;
  FeatureOptions features;  // pooling and normalisation of the teacher's features
};

// Builds the recordings for `stimuli` (float32 [N, C, H, W], [0, 1] scale).
absl::StatusOr<NeuralData> MakeSyntheticNeuralData(ConvRnnImpl& teacher,
                                                   const torch::Tensor& stimuli,
                                                   const SyntheticOptions& options);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_NEURAL_SYNTHETIC_H_
