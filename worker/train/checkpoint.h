// Training checkpoints: model, optimizer state and progress, one file.
//
// Written at every epoch end through a temporary file and rename, so a kill
// at any moment leaves either the previous or the new checkpoint, never a
// torn one. Loading checks that the checkpoint belongs to the same spec.
//
// Thread-safety: functions; callers serialise access to one path.
#ifndef CONVRNN_WORKER_TRAIN_CHECKPOINT_H_
#define CONVRNN_WORKER_TRAIN_CHECKPOINT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"

namespace torch {
namespace nn {
class Module;
}
namespace optim {
class Optimizer;
}
}  // namespace torch

namespace convrnn {

// Saves `model`, `optimizer` and `meta` (progress, history, spec) to `file`.
absl::Status SaveCheckpoint(const std::string& file, torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, const nlohmann::json& meta);

// Restores into `model` and `optimizer` and returns meta in *meta. A missing
// file is NotFound; an unreadable or truncated one is DataLoss naming it.
absl::Status LoadCheckpoint(const std::string& file, torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, nlohmann::json* meta);

// Restores only the model weights (for scoring) and, when `meta` is not
// null, the meta document. `path` is checkpoint.pt or a directory holding
// one. NotFound / DataLoss naming the file, as LoadCheckpoint.
absl::Status LoadCheckpointWeights(const std::string& path, torch::nn::Module& model,
                                   nlohmann::json* meta);

// Meta key of the input normalisation the model was trained with:
// {"mean": [per channel], "stddev": [per channel]} on the [0, 1] scale
// (Datasets::mean / stddev). Checkpoints written before it was recorded
// lack it; scoring then recomputes it from the data spec.
inline constexpr char kNormalizationKey[] = "normalization";

}  // namespace convrnn

#endif  // CONVRNN_WORKER_TRAIN_CHECKPOINT_H_
