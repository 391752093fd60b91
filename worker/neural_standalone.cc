#include "worker/neural_standalone.h"

#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "util/exit_code.h"
#include "worker/arch_spec.h"
#include "worker/data.h"
#include "worker/data_spec.h"
#include "worker/neural_data.h"
#include "worker/neural_score.h"
#include "worker/trainer.h"

namespace convrnn {
namespace {

int Fail(const absl::Status& status) {
  std::cerr << "convrnn-worker: " << status.message() << std::endl;
  return ExitCodeFor(status);
}

}  // namespace

absl::Status LoadModelWeights(const std::string& checkpoint, torch::nn::Module& model) {
  std::string file = checkpoint;
  if (std::filesystem::is_directory(file))
    file = (std::filesystem::path(file) / "checkpoint.pt").string();
  if (!std::filesystem::exists(file))
    return absl::NotFoundError(absl::StrCat(file, ": no checkpoint"));
  try {
    torch::serialize::InputArchive archive, model_archive;
    archive.load_from(file);
    archive.read("model", model_archive);
    model.load(model_archive);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return absl::DataLossError(
        absl::StrCat(file, ": unreadable checkpoint: ", what.substr(0, what.find('\n'))));
  }
  return absl::OkStatus();
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

  // Normalise the stimuli as in training: the data spec's training statistics.
  DataSpec data_spec;
  if (!config.data_file.empty()) {
    absl::StatusOr<DataSpec> parsed = ReadDataSpecFile(config.data_file);
    if (!parsed.ok()) return Fail(parsed.status());
    data_spec = *parsed;
  }
  absl::StatusOr<Datasets> train_data = LoadDatasets(data_spec);
  if (!train_data.ok()) return Fail(train_data.status());
  options.features.mean = train_data->mean;
  options.features.stddev = train_data->stddev;

  torch::set_num_threads(config.threads > 0 ? config.threads : DefaultThreads(1));
  torch::manual_seed(spec->train.seed);
  ConvRnn model(SpecForBins(*spec, static_cast<int>(data->bins()), options.step_offset));
  if (config.checkpoint.empty()) {
    std::cerr << "convrnn-worker: warning: no --checkpoint: scoring untrained weights (seed "
              << spec->train.seed << ")" << std::endl;
  } else if (absl::Status s = LoadModelWeights(config.checkpoint, *model); !s.ok()) {
    return Fail(s);
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
