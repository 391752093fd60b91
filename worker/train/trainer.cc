#include "worker/train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "spec/cost.h"
#include "util/json_object.h"
#include "util/status_macros.h"
#include "worker/data/data.h"
#include "worker/model/model.h"
#include "worker/model/torch_compat.h"
#include "worker/train/checkpoint.h"

namespace convrnn {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
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

absl::StatusOr<TrainResult> TrainImpl(const ArchSpec& spec, const Datasets& data,
                                      const TrainerOptions& options) {
  RETURN_IF_ERROR(CheckFits(spec, data));
  torch::Device device(options.device);
  const bool cuda = device.is_cuda();
  if (cuda && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(
        absl::StrCat("device ", options.device, " requested but CUDA is not available"));
  }
  if (options.threads > 0) torch::set_num_threads(options.threads);
  auto warn = [&](const std::string& message) {
    if (options.on_warning) options.on_warning(message);
  };
  if (!cuda && (spec.train.precision == "bf16" || spec.train.channels_last)) {
    warn("train.precision bf16 and train.channels_last take effect on CUDA only; ignored on CPU");
  }
  Context ctx{spec,
              data,
              options,
              device,
              cuda,
              cuda && spec.train.precision == "bf16",
              cuda && spec.train.channels_last};

  const TrainSpec& t = spec.train;
  torch::manual_seed(t.seed);
  ConvRnn model(spec);
  model->to(device);
  if (ctx.channels_last) {
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : model->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  std::vector<torch::Tensor> params = model->parameters();
  std::unique_ptr<torch::optim::Optimizer> optimizer = MakeOptimizer(t, params);

  LoaderOptions lo;
  lo.batch_size = t.batch_size;
  lo.shuffle = true;
  lo.drop_last = true;  // static shapes in every training step
  lo.augment = {};
  lo.seed = static_cast<uint64_t>(t.seed);
  lo.prefetch = options.prefetch;
  BatchLoader loader(data.train, data.mean, data.stddev, lo);
  const int64_t steps_per_epoch = loader.BatchesPerEpoch();
  if (steps_per_epoch == 0) {
    return absl::InvalidArgumentError(absl::StrCat("train.batch_size: ", t.batch_size,
                                                   " exceeds the ", data.train.size(),
                                                   " training images"));
  }
  const int64_t total_steps = t.steps > 0 ? t.steps : int64_t{t.epochs} * steps_per_epoch;
  const int num_epochs = static_cast<int>((total_steps + steps_per_epoch - 1) / steps_per_epoch);

  TrainResult result;
  CostEstimate cost = EstimateCost(spec);
  result.params = model->ParameterCount();
  result.flops_per_image = cost.flops_per_image;
  int start_epoch = 0;
  int64_t step = 0;

  const json spec_json = ToJson(spec);
  std::string checkpoint;
  if (!options.checkpoint_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.checkpoint_dir, ec);
    checkpoint = (std::filesystem::path(options.checkpoint_dir) / "checkpoint.pt").string();
    if (options.resume) {
      json meta;
      absl::Status loaded = LoadCheckpoint(checkpoint, *model, *optimizer, &meta);
      if (loaded.ok() && meta.value("spec", json()) != spec_json) {
        loaded = absl::FailedPreconditionError(
            absl::StrCat(checkpoint, ": checkpoint belongs to a different spec"));
      }
      if (loaded.ok()) {
        start_epoch = meta.at("epoch").get<int>();
        step = meta.at("step").get<int64_t>();
        for (const json& e : meta.at("history")) {
          EpochMetrics m;
          m.epoch = e.at("epoch");
          m.steps = e.at("steps");
          m.train_loss = e.at("train_loss");
          m.val_top1 = e.at("val_top1");
          m.images_per_sec = e.at("images_per_sec");
          m.wall_seconds = e.at("wall_seconds");
          m.lr = e.at("lr");
          result.epochs.push_back(m);
        }
        result.resumed_epochs = start_epoch;
        if (!result.epochs.empty()) result.val_top1 = result.epochs.back().val_top1;
      } else if (!absl::IsNotFound(loaded)) {
        warn(absl::StrCat(loaded.message(), "; training from scratch"));
        torch::manual_seed(t.seed);  // a partial load may have touched the weights
        model = ConvRnn(spec);
        model->to(device);
        params = model->parameters();
        optimizer = MakeOptimizer(t, params);
      }
    }
  }

  const auto run_start = Clock::now();
  model->train();
  const int check_every = cuda ? 25 : 1;
  for (int epoch = start_epoch; epoch < num_epochs && step < total_steps; ++epoch) {
    const auto epoch_start = Clock::now();
    loader.StartEpoch(epoch);
    torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(device));
    int64_t batches = 0;
    double lr = t.lr;
    while (step < total_steps) {
      if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
        return absl::CancelledError(
            absl::StrCat("training cancelled at epoch ", epoch + 1, ", step ", step));
      }
      std::optional<Batch> batch = loader.Next();
      if (!batch) break;
      lr = LearningRate(t, step, total_steps, epoch);
      for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
      torch::Tensor images = ToDevice(ctx, batch->images);
      torch::Tensor labels = batch->labels.to(device, /*non_blocking=*/cuda);
      optimizer->zero_grad();
      torch::Tensor loss = UnrolledLoss(Forward(ctx, model, images), labels, spec.time);
      loss.backward();
      if (t.clip_grad_norm > 0) ClipGradNorm(params, t.clip_grad_norm);
      optimizer->step();
      loss_sum += loss.detach();
      ++batches;
      ++step;
      if (step % check_every == 0) {
        double value = loss.item<double>();
        if (!std::isfinite(value)) {
          return absl::AbortedError(absl::StrCat("non-finite loss (", value, ") at epoch ",
                                                 epoch + 1, ", step ", step,
                                                 ": the trial diverged"));
        }
      }
      if (options.on_step && step % 20 == 0) options.on_step(step);
    }
    const double train_seconds = Seconds(epoch_start);
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.steps = step;
    m.train_loss = batches > 0 ? loss_sum.item<double>() / batches : 0.0;
    if (!std::isfinite(m.train_loss)) {
      return absl::AbortedError(
          absl::StrCat("non-finite loss at epoch ", epoch + 1, ": the trial diverged"));
    }
    m.images_per_sec = batches * t.batch_size / std::max(train_seconds, 1e-9);
    m.val_top1 = Evaluate(ctx, model, data.val);
    m.wall_seconds = Seconds(epoch_start);
    m.lr = lr;
    result.epochs.push_back(m);
    result.val_top1 = m.val_top1;

    if (!checkpoint.empty()) {
      json history = json::array();
      for (const EpochMetrics& e : result.epochs) history.push_back(ToJson(e));
      json meta = {{"epoch", epoch + 1},
                   {"step", step},
                   {"history", history},
                   {"spec", spec_json},
                   {kNormalizationKey, {{"mean", data.mean}, {"stddev", data.stddev}}}};
      if (absl::Status s = SaveCheckpoint(checkpoint, *model, *optimizer, meta); !s.ok()) {
        warn(std::string(s.message()));
      }
    }
    if (options.on_epoch && !options.on_epoch(m)) {
      result.stopped_early = true;
      break;
    }
  }
  if (options.evaluate_test) result.test_top1 = Evaluate(ctx, model, data.test);
  result.wall_seconds = Seconds(run_start);
  result.model = model.ptr();
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
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, processes));
}

}  // namespace convrnn
