#include "worker/train/graph_safe_step.h"

#include <cmath>
#include <memory>
#include <tuple>
#include <utility>

#include "worker/model/torch_compat.h"

namespace convrnn {

GraphSafeStep::GraphSafeStep(torch::optim::Optimizer& optimizer, const TrainSpec& train,
                             std::vector<torch::Tensor> params)
    : train_(train) {
  TORCH_CHECK(!params.empty(), "GraphSafeStep: no parameters");
  const torch::TensorOptions scalar =
      torch::TensorOptions().dtype(torch::kFloat32).device(params.front().device());
  lr_ = torch::zeros({}, scalar);
  sqrt_bias2_ = torch::ones({}, scalar);
  auto& state = optimizer.state();
  for (torch::Tensor& p : params) {
    Slot slot;
    slot.param = p;
    const auto key = OptimizerStateKey(p);
    if (train_.optimizer == "adam") {
      auto it = state.find(key);
      if (it == state.end()) {
        auto fresh = std::make_unique<torch::optim::AdamParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state.insert_or_assign(key, std::move(fresh)).first;
      }
      slot.adam = static_cast<torch::optim::AdamParamState*>(it->second.get());
      slot.buffer = slot.adam->exp_avg();
      slot.buffer_sq = slot.adam->exp_avg_sq();
    } else if (train_.momentum > 0) {
      auto it = state.find(key);
      // A zero buffer gives exactly what SGD's first step does (buf = grad):
      // 0 * momentum + grad.
      if (it == state.end()) {
        auto fresh = std::make_unique<torch::optim::SGDParamState>();
        fresh->momentum_buffer(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state.insert_or_assign(key, std::move(fresh)).first;
      }
      auto* sgd = static_cast<torch::optim::SGDParamState*>(it->second.get());
      if (!sgd->momentum_buffer().defined()) {
        sgd->momentum_buffer(torch::zeros_like(p, torch::MemoryFormat::Preserve));
      }
      slot.buffer = sgd->momentum_buffer();
    }
    slots_.push_back(std::move(slot));
  }
}

void GraphSafeStep::Prepare(double lr, int64_t step) {
  if (train_.optimizer != "adam") {
    lr_.fill_(-lr);
    return;
  }
  const torch::optim::AdamOptions defaults;
  const double beta1 = std::get<0>(defaults.betas()), beta2 = std::get<1>(defaults.betas());
  const double bias1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bias2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  lr_.fill_(-lr / bias1);
  sqrt_bias2_.fill_(std::sqrt(bias2));
  for (Slot& s : slots_) s.adam->step(step);
}

void GraphSafeStep::Step() {
  torch::NoGradGuard no_grad;
  const bool adam = train_.optimizer == "adam";
  const double wd = train_.weight_decay;
  const torch::optim::AdamOptions adam_defaults;
  const double beta1 = std::get<0>(adam_defaults.betas());
  const double beta2 = std::get<1>(adam_defaults.betas());
  for (Slot& s : slots_) {
    torch::Tensor grad = s.param.grad();
    if (!grad.defined()) continue;
    if (wd != 0) grad = grad.add(s.param, wd);
    if (adam) {
      s.buffer.mul_(beta1).add_(grad, 1 - beta1);
      s.buffer_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
      torch::Tensor denom = (s.buffer_sq.sqrt() / sqrt_bias2_).add_(adam_defaults.eps());
      s.param.addcdiv_(s.buffer * lr_, denom);
      continue;
    }
    if (s.buffer.defined()) {
      s.buffer.mul_(train_.momentum).add_(grad);
      grad = train_.nesterov ? grad.add(s.buffer, train_.momentum) : s.buffer;
    }
    s.param.addcmul_(grad, lr_);
  }
}

}  // namespace convrnn
