#include "worker/service/torch_executor.h"

#include <dlfcn.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spec/arch_spec.h"
#include "spec/data_spec.h"
#include "spec/neural_spec.h"
#include "util/json_object.h"
#include "util/status_macros.h"
#include "worker/data/data.h"
#include "worker/model/model.h"
#include "worker/neural/job.h"
#include "worker/train/trainer.h"

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

  bool CanScore() const override { return true; }

  absl::StatusOr<std::string> Score(const ScoreTask& task, const TrialHooks& hooks) override {
    ASSIGN_OR_RETURN(ArchSpec spec, ParseArchSpecText(task.spec_json));
    ASSIGN_OR_RETURN(NeuralSpec neural, ParseNeuralSpecText(task.neural_json, "neural"));
    ASSIGN_OR_RETURN(DataSpec data_spec, ParseData(task.data_json));
    torch::set_num_threads(Threads());
    NeuralJobRunner& runner = Runner(hooks);
    ASSIGN_OR_RETURN(nlohmann::json report,
                     runner.ScoreCheckpoint(spec, task.checkpoint_dir, data_spec, neural));
    report["trial_id"] = task.trial_id;
    return report.dump();
  }

  absl::StatusOr<TrialOutcome> Run(const TrialTask& task, const TrialHooks& hooks) override {
    ASSIGN_OR_RETURN(ArchSpec spec, ParseArchSpecText(task.spec_json));
    std::optional<NeuralSpec> neural;
    if (!task.neural_json.empty()) {
      ASSIGN_OR_RETURN(NeuralSpec parsed, ParseNeuralSpecText(task.neural_json, "neural"));
      neural = std::move(parsed);
    }
    ASSIGN_OR_RETURN(std::shared_ptr<const Datasets> data, Data(task.data_json));

    TrainerOptions trainer;
    trainer.device = options_.device;
    trainer.threads = Threads();
    trainer.checkpoint_dir = task.checkpoint_dir;
    trainer.resume = task.resume;
    trainer.cancel = hooks.cancel;
    trainer.on_warning = hooks.on_warning;
    if (hooks.on_epoch) {
      trainer.on_epoch = [&hooks](const EpochMetrics& m) {
        return hooks.on_epoch(EpochReport{m.epoch, EpochMetricsMap(m)});
      };
    }
    ASSIGN_OR_RETURN(TrainResult result, Train(spec, *data, trainer));

    TrialOutcome outcome;
    outcome.stopped_early = result.stopped_early;
    double wall = 0;
    for (const EpochMetrics& m : result.epochs) wall += m.wall_seconds;
    auto& f = outcome.final_metrics;
    f["val_top1"] = result.val_top1;
    f["params"] = static_cast<double>(result.params);
    f["flops"] = static_cast<double>(result.flops_per_image);
    f["epochs"] = static_cast<double>(result.epochs.size());
    f["resumed_epochs"] = result.resumed_epochs;
    f["wall_s"] = wall;  // every epoch's, resumed ones included
    if (!result.epochs.empty()) {
      f["train_loss"] = result.epochs.back().train_loss;
      f["images_per_s"] = result.epochs.back().images_per_sec;
    }
    if (result.test_top1 >= 0) f["test_top1"] = result.test_top1;
    if (neural.has_value() && !outcome.stopped_early) {
      // The campaign scores its trials: a failure to score fails the trial
      // (retryable when the file is missing here, final when malformed).
      absl::StatusOr<nlohmann::json> report = Runner(hooks).ScoreWeights(
          spec, *result.model, *neural, Normalization{data->mean, data->stddev});
      if (!report.ok()) {
        return absl::Status(report.status().code(),
                            absl::StrCat("neural scoring: ", report.status().message()));
      }
      for (const auto& [name, value] : NeuralMetrics(*report, *neural)) f[name] = value;
    }
    return outcome;
  }

 private:
  int Threads() const { return options_.threads > 0 ? options_.threads : DefaultThreads(1); }

  // The scorer, keeping the last recordings read; warnings go to `hooks`.
  NeuralJobRunner& Runner(const TrialHooks& hooks) {
    warn_ = hooks.on_warning;
    if (runner_ == nullptr) {
      runner_ = std::make_unique<NeuralJobRunner>([this](const std::string& w) {
        if (warn_) warn_(w);
      });
    }
    return *runner_;
  }

  static absl::StatusOr<DataSpec> ParseData(const std::string& data_json) {
    DataSpec data_spec;
    if (!data_json.empty()) {
      nlohmann::json json;
      RETURN_IF_ERROR(ParseJsonText(data_json, "data spec", &json));
      ASSIGN_OR_RETURN(DataSpec parsed, ParseDataSpec(json, "data"));
      data_spec = parsed;
    }
    return data_spec;
  }

  // The datasets of `data_json`, from memory when the previous trial used
  // the same (canonical) data spec.
  absl::StatusOr<std::shared_ptr<const Datasets>> Data(const std::string& data_json) {
    ASSIGN_OR_RETURN(DataSpec parsed, ParseData(data_json));
    const DataSpec& data_spec = parsed;
    std::string key = ToJson(data_spec).dump();
    if (cached_ != nullptr && key == cached_key_) return cached_;
    cached_.reset();  // free the old data before loading the new
    ASSIGN_OR_RETURN(Datasets loaded, LoadDatasets(data_spec));
    cached_ = std::make_shared<const Datasets>(std::move(loaded));
    cached_key_ = key;
    return cached_;
  }

  TorchExecutorOptions options_;
  std::function<void(const std::string&)> warn_;
  std::unique_ptr<NeuralJobRunner> runner_;
  std::string cached_key_;
  std::shared_ptr<const Datasets> cached_;
};

}  // namespace

std::unique_ptr<TrialExecutor> NewTorchExecutor(TorchExecutorOptions options) {
  return std::make_unique<TorchExecutor>(std::move(options));
}

int CudaDeviceCount() { return static_cast<int>(torch::cuda::device_count()); }

std::string CudaUnavailableReason() {
  if (CudaDeviceCount() > 0) return "";
  // libtorch_cuda is loaded with the process when the LibTorch has CUDA (the
  // binaries keep it linked); the driver library comes from the host.
  void* torch_cuda = dlopen("libtorch_cuda.so", RTLD_LAZY | RTLD_NOLOAD);
  if (torch_cuda == nullptr) {
    return "this worker's LibTorch is CPU-only (no libtorch_cuda); use a CUDA build "
           "(the image's cuda variant)";
  }
  dlclose(torch_cuda);  // RTLD_NOLOAD only took a reference to the loaded one
  if (void* driver = dlopen("libcuda.so.1", RTLD_LAZY); driver != nullptr) {
    dlclose(driver);
    const char* visible = getenv("CUDA_VISIBLE_DEVICES");
    return absl::StrCat("the NVIDIA driver shows this process no GPU (CUDA_VISIBLE_DEVICES=",
                        visible == nullptr ? "unset" : absl::StrCat("'", visible, "'"), ")");
  }
  return "LibTorch has CUDA but there is no NVIDIA driver here (libcuda.so.1 not found): run "
         "on a GPU node, and give a container the GPU (podman --device nvidia.com/gpu=all, "
         "docker --gpus all, Kubernetes resources.limits nvidia.com/gpu)";
}

}  // namespace convrnn
