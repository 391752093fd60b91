// An optimizer step that reads no host state, so that a CUDA graph can
// capture it once and replay it every batch.
//
// LibTorch's C++ optimizers pass the learning rate as a host scalar into
// each kernel, and Adam also keeps its step count and bias corrections on
// the host: a captured step would bake in the values of the step it was
// captured at. GraphSafeStep does the same updates as torch::optim::SGD
// (momentum, Nesterov, weight decay, no dampening) and torch::optim::Adam
// (no amsgrad) with those per-step values in device tensors, which Prepare()
// refills before each step (a few fills, no synchronisation). It updates
// the optimizer's own state tensors (momentum buffers, Adam moments; created
// here when missing, as the optimizer would on its first step, and Adam's
// step count kept current), so checkpoints save and restore it unchanged.
//
// Thread-safety: one training thread.
#ifndef CONVRNN_WORKER_TRAIN_GRAPH_SAFE_STEP_H_
#define CONVRNN_WORKER_TRAIN_GRAPH_SAFE_STEP_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "spec/arch_spec.h"

namespace convrnn {

class GraphSafeStep {
 public:
  // `optimizer` is the one MakeOptimizer built for `train` over `params`.
  // REQUIRES: `optimizer` outlives this; its state is not replaced while
  // this is in use (loading a checkpoint replaces it: build a new one).
  GraphSafeStep(torch::optim::Optimizer& optimizer, const TrainSpec& train,
                std::vector<torch::Tensor> params);

  // Sets the values the next Step() uses: the learning rate and, for Adam,
  // the bias corrections of optimizer step `step` (1-based, as Adam counts).
  // Host code, outside any capture.
  void Prepare(double lr, int64_t step);

  // The update of every parameter with a gradient: device operations only.
  void Step();

 private:
  struct Slot {
    torch::Tensor param;
    torch::Tensor buffer;     // SGD momentum buffer / Adam exp_avg (undefined without momentum)
    torch::Tensor buffer_sq;  // Adam exp_avg_sq
    torch::optim::AdamParamState* adam = nullptr;  // for its host step count
  };
  const TrainSpec train_;
  std::vector<Slot> slots_;
  torch::Tensor lr_;          // SGD: -lr; Adam: -lr / bias_correction1
  torch::Tensor sqrt_bias2_;  // Adam: sqrt(bias_correction2)
};

}  // namespace convrnn

#endif  // CONVRNN_WORKER_TRAIN_GRAPH_SAFE_STEP_H_
