#include "worker/standalone.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "spec/arch_spec.h"
#include "spec/cost.h"
#include "spec/data_spec.h"
#include "spec/param_budget.h"
#include "util/exit_code.h"
#include "worker/data/data.h"
#include "worker/neural_standalone.h"
#include "worker/train/trainer.h"

namespace convrnn {

using nlohmann::json;

namespace {

int Fail(const absl::Status& status) {
  std::cerr << "convrnn-worker: " << status.message() << std::endl;
  return ExitCodeFor(status);
}

}  // namespace

int RunStandalone(const StandaloneConfig& config) {
  if (!config.neural_file.empty()) return RunNeuralStandalone(config);
  if (!config.checkpoint.empty() || !config.neural_layers.empty() || config.neural_offset != 0 ||
      config.neural_method != "pls") {
    return Fail(
        absl::InvalidArgumentError("--checkpoint and --neural-* options need --neural FILE.h5"));
  }
  absl::StatusOr<ArchSpec> spec = ReadArchSpecFile(config.spec_file);
  if (!spec.ok()) return Fail(spec.status());
  double multiplier = 1.0;
  if (config.match_params > 0) {
    absl::StatusOr<BudgetMatch> match =
        MatchParams(*spec, {config.match_params, config.match_tolerance});
    if (!match.ok()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--match-params: ", config.spec_file, ": ", match.status().message())));
    }
    spec = match->spec;
    multiplier = match->multiplier;
  }
  DataSpec data_spec;
  if (!config.data_file.empty()) {
    absl::StatusOr<DataSpec> parsed = ReadDataSpecFile(config.data_file);
    if (!parsed.ok()) return Fail(parsed.status());
    data_spec = *parsed;
  }
  if (config.dry_run) {
    CostEstimate cost = EstimateCost(*spec);
    json line = {{"event", "spec"},
                 {"spec", ToJson(*spec)},
                 {"data", ToJson(data_spec)},
                 {"params", cost.params},
                 {"flops_per_image", cost.flops_per_image}};
    if (config.match_params > 0) line["width_multiplier"] = multiplier;
    std::cout << line.dump() << std::endl;
    return kExitOk;
  }
  absl::StatusOr<Datasets> data = LoadDatasets(data_spec);
  if (!data.ok()) return Fail(data.status());
  std::cerr << "convrnn-worker: " << data->description << std::endl;

  TrainerOptions options;
  options.device = config.device;
  options.threads = config.threads > 0 ? config.threads : DefaultThreads(1);
  options.checkpoint_dir = config.checkpoint_dir;
  options.resume = config.resume;
  options.evaluate_test = config.evaluate_test;
  options.device_data = config.device_data;
  options.on_epoch = [](const EpochMetrics& m) {
    json line = ToJson(m);
    line["event"] = "epoch";
    std::cout << line.dump() << std::endl;
    return true;
  };
  options.on_warning = [](const std::string& message) {
    std::cerr << "convrnn-worker: warning: " << message << std::endl;
  };
  absl::StatusOr<TrainResult> result = Train(*spec, *data, options);
  if (!result.ok()) {
    json line = {{"event", "failed"}, {"reason", std::string(result.status().message())}};
    std::cout << line.dump() << std::endl;
    return Fail(result.status());
  }
  json line = ToJson(*result);
  line["event"] = "final";
  std::cout << line.dump() << std::endl;
  return kExitOk;
}

}  // namespace convrnn
