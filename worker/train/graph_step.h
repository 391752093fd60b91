// Whole training steps as one CUDA graph: the T unrolled steps, the loss,
// backward, gradient clipping and the optimizer step (GraphSafeStep) are
// captured once into an at::cuda::CUDAGraph over static image and label
// buffers, then replayed for every batch: one launch instead of the
// hundreds of small kernels an unrolled ConvRNN step is made of.
//
// ChooseCudaGraphs decides, from train.cuda_graphs, the device and this
// LibTorch, whether a run may use graphs, and why not. GraphStep runs the
// steps: the first `warmup` eagerly on a side stream (real training steps:
// they let cuDNN/cuBLAS pick algorithms and allocate workspaces outside
// the capture), then captures and replays. A batch whose shape differs
// from the captured one (a short last batch) runs eagerly. A capture that
// fails (an op that synchronises or reads host state) ends the capture and
// reports the reason; the trainer then trains eagerly (auto) or fails (on).
//
// The model must not draw random numbers in training (no dropout: the
// ConvRNN has none) and must not branch on tensor values; both hold for
// worker/model/.
//
// Thread-safety: one training thread per GraphStep.
#ifndef CONVRNN_WORKER_TRAIN_GRAPH_STEP_H_
#define CONVRNN_WORKER_TRAIN_GRAPH_STEP_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "spec/arch_spec.h"

namespace convrnn {

struct CudaGraphsChoice {
  bool use = false;
  // Why graphs are not used ("" when they are), e.g. "train.cuda_graphs is
  // off" or "device cpu is not a CUDA device".
  std::string reason;
};

// `torch_has_graphs`: this LibTorch can capture (kTorchHasCudaGraphs; a
// parameter so tests can ask about both kinds of build). With
// train.cuda_graphs "on", a reason not to use graphs is an error
// (FAILED_PRECONDITION naming it); with "auto" it is the choice's reason.
absl::StatusOr<CudaGraphsChoice> ChooseCudaGraphs(const TrainSpec& train,
                                                  const torch::Device& device,
                                                  bool torch_has_graphs);

class GraphStep {
 public:
  // One training step on (images, labels), returning the loss: forward,
  // backward and the parameter update, device work only, no host reads.
  using StepFn =
      std::function<torch::Tensor(const torch::Tensor& images, const torch::Tensor& labels)>;
  // REQUIRES: a CUDA device and a LibTorch with graphs (ChooseCudaGraphs).
  explicit GraphStep(StepFn step, int warmup = 3);
  ~GraphStep();
  GraphStep(const GraphStep&) = delete;
  GraphStep& operator=(const GraphStep&) = delete;

  // One training step. The returned loss is overwritten by the next Run():
  // read or accumulate it before then. Throws c10::Error when a capture
  // fails; failed() then says so and later calls run eagerly.
  torch::Tensor Run(const torch::Tensor& images, const torch::Tensor& labels);

  int64_t replays() const { return replays_; }
  bool failed() const { return failed_; }

 private:
  struct Graph;
  torch::Tensor RunEager(const torch::Tensor& images, const torch::Tensor& labels, bool side);

  StepFn step_;
  int warmup_;
  int64_t warm_done_ = 0;
  int64_t replays_ = 0;
  bool failed_ = false;
  std::unique_ptr<Graph> graph_;
};

}  // namespace convrnn

#endif  // CONVRNN_WORKER_TRAIN_GRAPH_STEP_H_
