#include "worker/neural_standalone.h"

#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "spec/arch_spec.h"
#include "spec/data_spec.h"
#include "util/exit_code.h"
#include "worker/data/data.h"
#include "worker/neural/recordings.h"
#include "worker/neural/score.h"
#include "worker/train/checkpoint.h"
#include "worker/train/trainer.h"

namespace convrnn {
namespace {

int Fail(const absl::Status& status) {
  std::cerr << "convrnn-worker: " << status.message() << std::endl;
  return ExitCodeFor(status);
}

}  // namespace

absl::Status LoadModelWeights(const std::string& checkpoint, torch::nn::Module& model) {
  return LoadCheckpointWeights(checkpoint, model, /*meta=*/nullptr);
}

int RunNeuralStandalone(const StandaloneConfig& config) {
  absl::StatusOr<ArchSpec> spec = ReadArchSpecFile(config.spec_file);
  if (!spec.ok()) return Fail(spec.status());
  NeuralScoreOptions options;
  if (config.neural_method == "pls") {
    options.fit.method = NeuralMethod::kPls;
  } else if (config.neural_method == "ridge") {
    options.fit.method = NeuralMethod::kRidge;
  } else {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--neural-method must be pls or ridge, got '", config.neural_method, "'")));
  }
  options.features.layers = config.neural_layers;
  options.step_offset = config.neural_offset;
  options.seed = spec->train.seed;
  absl::StatusOr<NeuralData> data = ReadNeuralData(config.neural_file);
  if (!data.ok()) return Fail(data.status());
  std::cerr << "convrnn-worker: " << config.neural_file << ": " << data->Describe() << std::endl;

  torch::set_num_threads(config.threads > 0 ? config.threads : DefaultThreads(1));
  torch::manual_seed(spec->train.seed);
  ConvRnn model(SpecForBins(*spec, static_cast<int>(data->bins()), options.step_offset));
  nlohmann::json meta;
  if (config.checkpoint.empty()) {
    std::cerr << "convrnn-worker: warning: no --checkpoint: scoring untrained weights (seed "
              << spec->train.seed << ")" << std::endl;
  } else if (absl::Status s = LoadCheckpointWeights(config.checkpoint, *model, &meta); !s.ok()) {
    return Fail(s);
  }

  // Normalise the stimuli as in training: the statistics the checkpoint
  // recorded, else (no checkpoint, or one written before they were
  // recorded) the data spec's training statistics, recomputed.
  const nlohmann::json norm = meta.value(kNormalizationKey, nlohmann::json());
  if (config.data_file.empty() && norm.is_object() && norm.contains("mean") &&
      norm.contains("stddev")) {
    options.features.mean = norm["mean"].get<std::vector<float>>();
    options.features.stddev = norm["stddev"].get<std::vector<float>>();
  } else {
    DataSpec data_spec;
    if (!config.data_file.empty()) {
      absl::StatusOr<DataSpec> parsed = ReadDataSpecFile(config.data_file);
      if (!parsed.ok()) return Fail(parsed.status());
      data_spec = *parsed;
    } else if (!config.checkpoint.empty()) {
      std::cerr << "convrnn-worker: warning: " << config.checkpoint
                << ": checkpoint predates recorded input statistics; recomputing them from the "
                   "data spec (loads the training set)"
                << std::endl;
    }
    absl::StatusOr<Datasets> train_data = LoadDatasets(data_spec);
    if (!train_data.ok()) return Fail(train_data.status());
    options.features.mean = train_data->mean;
    options.features.stddev = train_data->stddev;
  }
  absl::StatusOr<NeuralScore> score = ScoreModel(*model, *data, options);
  if (!score.ok()) return Fail(score.status());
  nlohmann::json line = ToJson(*score);
  line["event"] = "neural";
  line["method"] = config.neural_method;
  line["data"] = data->Describe();
  std::cout << line.dump() << std::endl;
  return kExitOk;
}

}  // namespace convrnn
