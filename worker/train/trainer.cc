#include "worker/train/trainer.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "spec/checkpoint_path.h"
#include "spec/cost.h"
#include "util/cpu_allocation.h"
#include "util/json_object.h"
#include "util/status_macros.h"
#include "worker/data/data.h"
#include "worker/model/model.h"
#include "worker/model/torch_compat.h"
#include "worker/train/checkpoint.h"
#include "worker/train/graph_safe_step.h"
#include "worker/train/graph_step.h"

namespace convrnn {

using nlohmann::json;

namespace {

// Seconds on the options' clock since `since_us`.
double Seconds(const TrainerOptions& options, int64_t since_us) {
  return (options.clock->NowMicros() - since_us) / 1e6;
}

void Warn(const TrainerOptions& options, const std::string& message) {
  if (options.on_warning) options.on_warning(message);
}

// Learning rate at optimizer step `step` (0-based) within epoch `epoch`.
double LearningRate(const TrainSpec& t, int64_t step, int64_t total_steps, int epoch) {
  if (t.schedule == "cosine") {
    return t.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step) / total_steps));
  }
  if (t.schedule == "step") return t.lr * std::pow(t.gamma, epoch / t.step_size);
  return t.lr;
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainSpec& t,
                                                       std::vector<torch::Tensor> params) {
  if (t.optimizer == "adam") {
    return std::make_unique<torch::optim::Adam>(
        std::move(params), torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
  }
  return std::make_unique<torch::optim::SGD>(std::move(params),
                                             torch::optim::SGDOptions(t.lr)
                                                 .momentum(t.momentum)
                                                 .nesterov(t.nesterov && t.momentum > 0)
                                                 .weight_decay(t.weight_decay));
}

// Scales gradients so their global norm is at most max_norm, without a host
// synchronisation (the scale stays on the device).
void ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm) {
  std::vector<torch::Tensor> norms;
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm());
  }
  if (norms.empty()) return;
  torch::Tensor scale = (max_norm / (torch::stack(norms).norm() + 1e-6)).clamp_max(1.0);
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) p.grad().mul_(scale);
  }
}

struct Context {
  const ArchSpec& spec;
  const Datasets& data;
  const TrainerOptions& options;
  torch::Device device;
  bool cuda;
  bool autocast;
  bool channels_last;
};

torch::Tensor ToDevice(const Context& ctx, const torch::Tensor& t) {
  torch::Tensor moved = t.to(ctx.device, /*non_blocking=*/ctx.cuda);
  if (ctx.channels_last && moved.dim() == 4) {
    moved = moved.contiguous(torch::MemoryFormat::ChannelsLast);
  }
  return moved;
}

torch::Tensor Forward(const Context& ctx, ConvRnn& model, const torch::Tensor& images) {
  if (!ctx.autocast) return model->forward(images);
  SetCudaAutocast(true, torch::kBFloat16);
  torch::Tensor logits = model->forward(images).to(torch::kFloat32);
  SetCudaAutocast(false, torch::kBFloat16);
  ClearAutocastCache();
  return logits;
}

// Top-1 of the readout at the last step over a whole split.
double Evaluate(const Context& ctx, ConvRnn& model, const ImageSet& set) {
  if (set.size() == 0) return -1.0;
  torch::NoGradGuard no_grad;
  model->eval();
  LoaderOptions lo;
  lo.batch_size = std::max(ctx.spec.train.batch_size, 256);
  lo.shuffle = false;
  lo.prefetch = ctx.options.prefetch;
  BatchLoader loader(set, ctx.data.mean, ctx.data.stddev, lo);
  loader.StartEpoch(0);
  torch::Tensor correct =
      torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(ctx.device));
  while (std::optional<Batch> batch = loader.Next()) {
    torch::Tensor logits = Forward(ctx, model, ToDevice(ctx, batch->images));
    torch::Tensor labels = batch->labels.to(ctx.device);
    correct += (logits[logits.size(0) - 1].argmax(1) == labels).sum();
  }
  model->train();
  return static_cast<double>(correct.item<int64_t>()) / set.size();
}

absl::Status CheckFits(const ArchSpec& spec, const Datasets& data) {
  if (spec.input.channels != data.channels || spec.input.height != data.height ||
      spec.input.width != data.width) {
    return PathError("input",
                     absl::StrCat("spec expects ", spec.input.channels, "x", spec.input.height, "x",
                                  spec.input.width, " images but the data are ", data.channels, "x",
                                  data.height, "x", data.width));
  }
  if (spec.num_classes < data.num_classes) {
    return PathError("num_classes", absl::StrCat("spec has ", spec.num_classes,
                                                 " classes but the data have ", data.num_classes));
  }
  return absl::OkStatus();
}

// The model being trained, with its parameters and optimizer.
struct Learner {
  ConvRnn model{nullptr};
  std::vector<torch::Tensor> params;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  // With CUDA graphs (set up after any resume, over the optimizer's state):
  // the update that reads no host state, and the captured step.
  std::unique_ptr<GraphSafeStep> graph_safe;
  std::unique_ptr<GraphStep> graph;
};

// One eager training step: device work only (the loss is not read back).
torch::Tensor StepOnce(const Context& ctx, Learner& l, const torch::Tensor& images,
                       const torch::Tensor& labels) {
  l.optimizer->zero_grad();
  torch::Tensor loss = UnrolledLoss(Forward(ctx, l.model, images), labels, ctx.spec.time);
  loss.backward();
  if (ctx.spec.train.clip_grad_norm > 0) ClipGradNorm(l.params, ctx.spec.train.clip_grad_norm);
  if (l.graph_safe) {
    l.graph_safe->Step();
  } else {
    l.optimizer->step();
  }
  return loss.detach();
}

// A freshly seeded model on the context's device, with its optimizer.
Learner NewLearner(const Context& ctx) {
  torch::manual_seed(ctx.spec.train.seed);
  Learner l;
  l.model = ConvRnn(ctx.spec);
  l.model->to(ctx.device);
  if (ctx.channels_last) {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : l.model->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  l.params = l.model->parameters();
  l.optimizer = MakeOptimizer(ctx.spec.train, l.params);
  return l;
}

EpochMetrics EpochMetricsFromJson(const json& e) {
  EpochMetrics m;
  m.epoch = e.at("epoch");
  m.steps = e.at("steps");
  m.train_loss = e.at("train_loss");
  m.val_top1 = e.at("val_top1");
  m.images_per_sec = e.at("images_per_sec");
  m.wall_seconds = e.at("wall_seconds");
  m.lr = e.at("lr");
  return m;
}

// Restores the learner and the finished epochs from `checkpoint` when it
// holds this spec's; returns the epoch to start from (0: from scratch) and
// sets *step. An unreadable checkpoint is a warning: training starts afresh.
int ResumeFromCheckpoint(const Context& ctx, const std::string& checkpoint, const json& spec_json,
                         Learner* learner, TrainResult* result, int64_t* step) {
  json meta;
  absl::Status loaded = LoadCheckpoint(checkpoint, *learner->model, *learner->optimizer, &meta);
  if (loaded.ok() && meta.value("spec", json()) != spec_json) {
    loaded = absl::FailedPreconditionError(
        absl::StrCat(checkpoint, ": checkpoint belongs to a different spec"));
  }
  if (!loaded.ok()) {
    if (!absl::IsNotFound(loaded)) {
      Warn(ctx.options, absl::StrCat(loaded.message(), "; training from scratch"));
      *learner = NewLearner(ctx);  // a partial load may have touched the weights
    }
    return 0;
  }
  const int start_epoch = meta.at("epoch").get<int>();
  *step = meta.at("step").get<int64_t>();
  for (const json& e : meta.at("history")) result->epochs.push_back(EpochMetricsFromJson(e));
  result->resumed_epochs = start_epoch;
  if (!result->epochs.empty()) result->val_top1 = result->epochs.back().val_top1;
  return start_epoch;
}

// Progress of one run through its optimizer steps.
struct StepPlan {
  int64_t total_steps = 0;
  int64_t step = 0;  // steps done so far
};

// One epoch of optimizer steps (ending early at plan->total_steps), then
// validation. CANCELLED when options.cancel is set, ABORTED on a diverged loss.
absl::StatusOr<EpochMetrics> TrainEpoch(const Context& ctx, Learner& l, BatchSource& loader,
                                        int epoch, StepPlan* plan, TrainResult* result) {
  const TrainSpec& t = ctx.spec.train;
  const int check_every = ctx.cuda ? 25 : 1;
  const int64_t epoch_start_us = ctx.options.clock->NowMicros();
  loader.StartEpoch(epoch);
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(ctx.device));
  int64_t batches = 0;
  double lr = t.lr;
  while (plan->step < plan->total_steps) {
    if (ctx.options.cancel != nullptr && ctx.options.cancel->load(std::memory_order_relaxed)) {
      return absl::CancelledError(
          absl::StrCat("training cancelled at epoch ", epoch + 1, ", step ", plan->step));
    }
    std::optional<Batch> batch = loader.Next();
    if (!batch) break;
    lr = LearningRate(t, plan->step, plan->total_steps, epoch);
    for (auto& group : l.optimizer->param_groups()) group.options().set_lr(lr);
    if (l.graph_safe) l.graph_safe->Prepare(lr, plan->step + 1);
    torch::Tensor images = ToDevice(ctx, batch->images);
    torch::Tensor labels = batch->labels.to(ctx.device, /*non_blocking=*/ctx.cuda);
    torch::Tensor loss;
    if (l.graph) {
      try {
        loss = l.graph->Run(images, labels);
      } catch (const c10::Error& e) {
        const std::string why =
            absl::StrCat("CUDA graph capture failed: ", e.what_without_backtrace());
        if (t.cuda_graphs == "on") return absl::FailedPreconditionError(why);
        Warn(ctx.options, absl::StrCat(why, "; training eagerly"));
        result->eager_reason = why;
        loss = l.graph->Run(images, labels);  // eager from now on
      }
    } else {
      loss = StepOnce(ctx, l, images, labels);
    }
    loss_sum += loss;
    ++batches;
    const int64_t step = ++plan->step;
    if (step % check_every == 0) {
      double value = loss.item<double>();
      if (!std::isfinite(value)) {
        return absl::AbortedError(absl::StrCat("non-finite loss (", value, ") at epoch ", epoch + 1,
                                               ", step ", step, ": the trial diverged"));
      }
    }
    if (ctx.options.on_step && step % 20 == 0) ctx.options.on_step(step);
  }
  const double train_seconds = Seconds(ctx.options, epoch_start_us);
  EpochMetrics m;
  m.epoch = epoch + 1;
  m.steps = plan->step;
  m.train_loss = batches > 0 ? loss_sum.item<double>() / batches : 0.0;
  if (!std::isfinite(m.train_loss)) {
    return absl::AbortedError(
        absl::StrCat("non-finite loss at epoch ", epoch + 1, ": the trial diverged"));
  }
  m.images_per_sec = batches * t.batch_size / std::max(train_seconds, 1e-9);
  m.val_top1 = Evaluate(ctx, l.model, ctx.data.val);
  m.wall_seconds = Seconds(ctx.options, epoch_start_us);
  m.lr = lr;
  return m;
}

// Writes the checkpoint after `result`'s last epoch; a failure is a warning.
void SaveEpochCheckpoint(const Context& ctx, const std::string& checkpoint, Learner& l,
                         const json& spec_json, const TrainResult& result, int64_t step) {
  json history = json::array();
  for (const EpochMetrics& e : result.epochs) history.push_back(ToJson(e));
  json meta = {{"epoch", result.epochs.back().epoch},
               {"step", step},
               {"history", history},
               {"spec", spec_json},
               {kNormalizationKey, {{"mean", ctx.data.mean}, {"stddev", ctx.data.stddev}}}};
  if (absl::Status s = SaveCheckpoint(checkpoint, *l.model, *l.optimizer, meta); !s.ok()) {
    Warn(ctx.options, std::string(s.message()));
  }
}

absl::StatusOr<Context> MakeContext(const ArchSpec& spec, const Datasets& data,
                                    const TrainerOptions& options) {
  torch::Device device(options.device);
  const bool cuda = device.is_cuda();
  if (cuda && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(
        absl::StrCat("device ", options.device, " requested but CUDA is not available"));
  }
  if (!cuda && (spec.train.precision == "bf16" || spec.train.channels_last)) {
    Warn(options,
         "train.precision bf16 and train.channels_last take effect on CUDA only; ignored on CPU");
  }
  return Context{spec,
                 data,
                 options,
                 device,
                 cuda,
                 cuda && spec.train.precision == "bf16",
                 cuda && spec.train.channels_last};
}

// The training batches: on the training device or from the host loader
// thread (TrainerOptions::device_data); the same batches either way.
absl::StatusOr<std::unique_ptr<BatchSource>> TrainingBatches(const Context& ctx) {
  const TrainSpec& t = ctx.spec.train;
  LoaderOptions lo;
  lo.batch_size = t.batch_size;
  lo.shuffle = true;
  lo.drop_last = true;  // static shapes in every training step (and graph)
  lo.augment = ctx.data.augment;
  lo.seed = static_cast<uint64_t>(t.seed);
  lo.prefetch = ctx.options.prefetch;
  const std::string& mode = ctx.options.device_data;
  if (mode != "auto" && mode != "on" && mode != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("device data must be auto, on or off, not \"", mode, "\""));
  }
  const bool on_device = mode == "on" || (mode == "auto" && ctx.cuda &&
                                          DeviceBatches::ResidentBytes(ctx.data.train) <=
                                              ctx.options.device_data_budget_bytes);
  if (on_device) {
    return std::unique_ptr<BatchSource>(std::make_unique<DeviceBatches>(
        ctx.data.train, ctx.data.mean, ctx.data.stddev, lo, ctx.device));
  }
  return std::unique_ptr<BatchSource>(
      std::make_unique<BatchLoader>(ctx.data.train, ctx.data.mean, ctx.data.stddev, lo));
}

// Sets up CUDA graphs when the spec, device and LibTorch allow; otherwise
// records (and on a CUDA device reports once) why steps run eagerly.
absl::Status SetUpCudaGraphs(const Context& ctx, Learner& l, TrainResult* result) {
  ASSIGN_OR_RETURN(const CudaGraphsChoice choice,
                   ChooseCudaGraphs(ctx.spec.train, ctx.device, kTorchHasCudaGraphs));
  if (!choice.use) {
    result->eager_reason = choice.reason;
    if (ctx.cuda && ctx.spec.train.cuda_graphs != "off") {
      Warn(ctx.options, absl::StrCat("CUDA graphs not used: ", choice.reason));
    }
    return absl::OkStatus();
  }
  l.graph_safe = std::make_unique<GraphSafeStep>(*l.optimizer, ctx.spec.train, l.params);
  l.graph = std::make_unique<GraphStep>(
      [&ctx, &l](const torch::Tensor& images, const torch::Tensor& labels) {
        return StepOnce(ctx, l, images, labels);
      });
  return absl::OkStatus();
}

absl::StatusOr<TrainResult> TrainImpl(const ArchSpec& spec, const Datasets& data,
                                      const TrainerOptions& options) {
  RETURN_IF_ERROR(CheckFits(spec, data));
  ASSIGN_OR_RETURN(const Context ctx, MakeContext(spec, data, options));
  if (options.threads > 0) torch::set_num_threads(options.threads);
  const TrainSpec& t = spec.train;
  Learner learner = NewLearner(ctx);
  ASSIGN_OR_RETURN(std::unique_ptr<BatchSource> loader, TrainingBatches(ctx));
  const int64_t steps_per_epoch = loader->BatchesPerEpoch();
  if (steps_per_epoch == 0) {
    return absl::InvalidArgumentError(absl::StrCat("train.batch_size: ", t.batch_size,
                                                   " exceeds the ", data.train.size(),
                                                   " training images"));
  }
  StepPlan plan;
  plan.total_steps = t.steps > 0 ? t.steps : int64_t{t.epochs} * steps_per_epoch;
  const int num_epochs =
      static_cast<int>((plan.total_steps + steps_per_epoch - 1) / steps_per_epoch);

  TrainResult result;
  result.params = learner.model->ParameterCount();
  result.flops_per_image = EstimateCost(spec).flops_per_image;
  const json spec_json = ToJson(spec);
  std::string checkpoint;
  int start_epoch = 0;
  if (!options.checkpoint_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.checkpoint_dir, ec);
    checkpoint = CheckpointFile(options.checkpoint_dir);
    if (options.resume) {
      start_epoch = ResumeFromCheckpoint(ctx, checkpoint, spec_json, &learner, &result, &plan.step);
    }
  }

  result.device_data = dynamic_cast<DeviceBatches*>(loader.get()) != nullptr;
  RETURN_IF_ERROR(SetUpCudaGraphs(ctx, learner, &result));

  const int64_t run_start_us = options.clock->NowMicros();
  learner.model->train();
  for (int epoch = start_epoch; epoch < num_epochs && plan.step < plan.total_steps; ++epoch) {
    ASSIGN_OR_RETURN(const EpochMetrics m,
                     TrainEpoch(ctx, learner, *loader, epoch, &plan, &result));
    result.epochs.push_back(m);
    result.val_top1 = m.val_top1;
    if (!checkpoint.empty()) {
      SaveEpochCheckpoint(ctx, checkpoint, learner, spec_json, result, plan.step);
    }
    if (options.on_epoch && !options.on_epoch(m)) {
      result.stopped_early = true;
      break;
    }
  }
  if (learner.graph) {
    result.graph_replays = learner.graph->replays();
    result.cuda_graphs = result.graph_replays > 0 && !learner.graph->failed();
  }
  if (options.evaluate_test) result.test_top1 = Evaluate(ctx, learner.model, data.test);
  result.wall_seconds = Seconds(options, run_start_us);
  result.model = learner.model.ptr();
  return result;
}

}  // namespace

json ToJson(const EpochMetrics& m) {
  return {{"epoch", m.epoch},
          {"steps", m.steps},
          {"train_loss", m.train_loss},
          {"val_top1", m.val_top1},
          {"images_per_sec", m.images_per_sec},
          {"wall_seconds", m.wall_seconds},
          {"lr", m.lr}};
}

json ToJson(const TrainResult& r) {
  json j = {{"val_top1", r.val_top1},
            {"params", r.params},
            {"flops_per_image", r.flops_per_image},
            {"epochs", static_cast<int>(r.epochs.size())},
            {"resumed_epochs", r.resumed_epochs},
            {"wall_seconds", r.wall_seconds},
            {"stopped_early", r.stopped_early}};
  if (r.test_top1 >= 0) j["test_top1"] = r.test_top1;
  j["cuda_graphs"] = r.cuda_graphs;
  if (r.graph_replays > 0) j["graph_replays"] = r.graph_replays;
  if (!r.eager_reason.empty()) j["eager_reason"] = r.eager_reason;
  j["device_data"] = r.device_data;
  return j;
}

absl::StatusOr<TrainResult> Train(const ArchSpec& spec, const Datasets& data,
                                  const TrainerOptions& options) {
  try {
    return TrainImpl(spec, data, options);
  } catch (const c10::OutOfMemoryError& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory: ", e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    if (what.find("out of memory") != std::string::npos) {
      return absl::ResourceExhaustedError(absl::StrCat("out of memory: ", what));
    }
    return absl::InternalError(absl::StrCat("LibTorch error: ", what));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training failed: ", e.what()));
  }
}

int DefaultThreads(int processes) {
  const int cpus = CurrentCpuAllocation().cpus;
  return std::max(1, cpus / std::max(1, processes));
}

}  // namespace convrnn
