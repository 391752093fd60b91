// Model features for neural scoring: a ConvRNN unrolled on stimuli, each
// chosen layer's output at every step reduced to a fixed width.
//
// Stimuli are prepared as in training: resized (bilinear) to the model's
// input, channels matched (colour -> gray by averaging, gray -> colour by
// repeating), normalised with the training mean and deviation, shown for
// steps [0, image_off) and blank after (the model does that itself).
// Each layer output [C, H, W] is average-pooled to C x pool x pool; if that
// is wider than max_features, a fixed Gaussian projection (seeded per layer)
// maps it to max_features. Memory is T x N x F floats per layer.
//
// Thread-safety: as the model; uses LibTorch's intra-op threads.
#ifndef CONVRNN_WORKER_NEURAL_FEATURES_H_
#define CONVRNN_WORKER_NEURAL_FEATURES_H_

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/model/model.h"

namespace convrnn {

struct FeatureOptions {
  std::vector<int> layers;  // layer indices to record; empty: every layer
  int pool = 2;             // adaptive average pool to pool x pool per channel
  int max_features = 1024;  // wider pooled outputs are randomly projected; 0: never
  int batch_size = 64;      // images per unroll
  uint64_t seed = 0;        // seeds the projections
  // Per-channel normalisation on the [0, 1] scale, as in training
  // (Datasets::mean / stddev). Empty: the stimuli's own statistics.
  std::vector<float> mean, stddev;
};

struct LayerFeatures {
  int layer = 0;
  torch::Tensor features;  // float32 [T, N, F]
};

// Unrolls `model` (in eval mode, without gradients) over `stimuli`
// (float32 [N, C, H, W], [0, 1] scale). InvalidArgument for a layer index
// out of range or normalisation of the wrong length.
absl::StatusOr<std::vector<LayerFeatures>> ExtractFeatures(ConvRnnImpl& model,
                                                           const torch::Tensor& stimuli,
                                                           const FeatureOptions& options);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_NEURAL_FEATURES_H_
