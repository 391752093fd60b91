#include "worker/torch_executor.h"

#include <torch/cuda.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "util/json_object.h"
#include "worker/arch_spec.h"
#include "worker/data.h"
#include "worker/data_spec.h"
#include "worker/trainer.h"

namespace convrnn {

namespace {

std::map<std::string, double> EpochMetricsMap(const EpochMetrics& m) {
  return {{"train_loss", m.train_loss},
          {"val_top1", m.val_top1},
          {"wall_s", m.wall_seconds},
          {"images_per_s", m.images_per_sec},
          {"lr", m.lr},
          {"steps", static_cast<double>(m.steps)}};
}

class TorchExecutor final : public TrialExecutor {
 public:
  explicit TorchExecutor(TorchExecutorOptions options) : options_(std::move(options)) {}

  absl::StatusOr<TrialOutcome> Run(const TrialTask& task, const TrialHooks& hooks) override {
    absl::StatusOr<ArchSpec> spec = ParseArchSpecText(task.spec_json);
    if (!spec.ok()) return spec.status();
    absl::StatusOr<std::shared_ptr<const Datasets>> data = Data(task.data_json);
    if (!data.ok()) return data.status();

    TrainerOptions trainer;
    trainer.device = options_.device;
    trainer.threads = options_.threads > 0 ? options_.threads : DefaultThreads(1);
    trainer.checkpoint_dir = task.checkpoint_dir;
    trainer.resume = task.resume;
    trainer.cancel = hooks.cancel;
    trainer.on_warning = hooks.on_warning;
    if (hooks.on_epoch) {
      trainer.on_epoch = [&hooks](const EpochMetrics& m) {
        return hooks.on_epoch(EpochReport{m.epoch, EpochMetricsMap(m)});
      };
    }
    absl::StatusOr<TrainResult> result = Train(*spec, **data, trainer);
    if (!result.ok()) return result.status();

    TrialOutcome outcome;
    outcome.stopped_early = result->stopped_early;
    double wall = 0;
    for (const EpochMetrics& m : result->epochs) wall += m.wall_seconds;
    auto& f = outcome.final_metrics;
    f["val_top1"] = result->val_top1;
    f["params"] = static_cast<double>(result->params);
    f["flops"] = static_cast<double>(result->flops_per_image);
    f["epochs"] = static_cast<double>(result->epochs.size());
    f["resumed_epochs"] = result->resumed_epochs;
    f["wall_s"] = wall;  // every epoch's, resumed ones included
    if (!result->epochs.empty()) {
      f["train_loss"] = result->epochs.back().train_loss;
      f["images_per_s"] = result->epochs.back().images_per_sec;
    }
    if (result->test_top1 >= 0) f["test_top1"] = result->test_top1;
    return outcome;
  }

 private:
  // The datasets of `data_json`, from memory when the previous trial used
  // the same (canonical) data spec.
  absl::StatusOr<std::shared_ptr<const Datasets>> Data(const std::string& data_json) {
    DataSpec data_spec;
    if (!data_json.empty()) {
      nlohmann::json json;
      if (absl::Status s = ParseJsonText(data_json, "data spec", &json); !s.ok()) return s;
      absl::StatusOr<DataSpec> parsed = ParseDataSpec(json, "data");
      if (!parsed.ok()) return parsed.status();
      data_spec = *parsed;
    }
    std::string key = ToJson(data_spec).dump();
    if (cached_ != nullptr && key == cached_key_) return cached_;
    cached_.reset();  // free the old data before loading the new
    absl::StatusOr<Datasets> loaded = LoadDatasets(data_spec);
    if (!loaded.ok()) return loaded.status();
    cached_ = std::make_shared<const Datasets>(*std::move(loaded));
    cached_key_ = key;
    return cached_;
  }

  TorchExecutorOptions options_;
  std::string cached_key_;
  std::shared_ptr<const Datasets> cached_;
};

}  // namespace

std::unique_ptr<TrialExecutor> NewTorchExecutor(TorchExecutorOptions options) {
  return std::make_unique<TorchExecutor>(std::move(options));
}

int CudaDeviceCount() { return static_cast<int>(torch::cuda::device_count()); }

}  // namespace convrnn
