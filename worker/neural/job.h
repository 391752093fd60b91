// Neural predictivity as the service runs it (issue 5): score a trained
// architecture against recordings named by a neural section
// (spec/neural_spec.h), either right after training (a campaign with a
// neural_predictivity objective) or from a trial's checkpoint (a scoring job
// of `convrnn score`).
//
// Stimuli are normalised with the statistics the model was trained with:
// the in-memory datasets after training, or the checkpoint's meta
// (checkpoint.h kNormalizationKey). A checkpoint written before those were
// recorded falls back to recomputing them from the data spec, with a
// warning (it loads the training set once).
//
// Scoring runs on the CPU with the caller's intra-op threads.
//
// Thread-safety: one job at a time per NeuralJobRunner; HDF5 reads are not
// thread-safe, so one runner per process.
#ifndef CONVRNN_WORKER_NEURAL_JOB_H_
#define CONVRNN_WORKER_NEURAL_JOB_H_

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/arch_spec.h"
#include "spec/data_spec.h"
#include "spec/neural_spec.h"

namespace torch {
namespace nn {
class Module;
}
}  // namespace torch

namespace convrnn {

struct NeuralData;

// Per-channel input statistics on the [0, 1] scale.
struct Normalization {
  std::vector<float> mean, stddev;
};

class NeuralJobRunner {
 public:
  // `warn` gets conditions worth a log line (may be empty).
  explicit NeuralJobRunner(std::function<void(const std::string&)> warn = {});
  ~NeuralJobRunner();

  // Scores `weights` (a trained model of `spec`, on any device) and returns
  // the report (score.h's ToJson plus "method" and "data").
  // InvalidArgument for a malformed file or a required region it lacks;
  // NotFound for a missing file.
  absl::StatusOr<nlohmann::json> ScoreWeights(const ArchSpec& spec, torch::nn::Module& weights,
                                              const NeuralSpec& neural,
                                              const Normalization& normalization);

  // Scores the trial checkpoint in `checkpoint_dir` (holding checkpoint.pt
  // of `spec`). NotFound naming the path when it is not there;
  // FailedPrecondition when it belongs to another spec.
  absl::StatusOr<nlohmann::json> ScoreCheckpoint(const ArchSpec& spec,
                                                 const std::string& checkpoint_dir,
                                                 const DataSpec& data, const NeuralSpec& neural);

 private:
  // The recordings of `file`, from memory when the last job read the same
  // file (unchanged on disk).
  absl::StatusOr<std::shared_ptr<const NeuralData>> Data(const std::string& file);

  std::function<void(const std::string&)> warn_;
  std::string cached_key_;
  std::shared_ptr<const NeuralData> cached_;
};

}  // namespace convrnn

#endif  // CONVRNN_WORKER_NEURAL_JOB_H_
