#include "worker/train/graph_step.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "worker/model/torch_compat.h"

#ifdef CONVRNN_TORCH_CUDA_GRAPHS
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/cuda.h>
#endif

namespace convrnn {

absl::StatusOr<CudaGraphsChoice> ChooseCudaGraphs(const TrainSpec& train,
                                                  const torch::Device& device,
                                                  bool torch_has_graphs) {
  CudaGraphsChoice choice;
  if (train.cuda_graphs == "off") {
    choice.reason = "train.cuda_graphs is off";
    return choice;
  }
  if (!device.is_cuda()) {
    choice.reason = absl::StrCat("device ", device.str(), " is not a CUDA device");
  } else if (!torch_has_graphs) {
    choice.reason = absl::StrCat("this worker's LibTorch (", TorchVersionString(),
                                 ") cannot capture CUDA graphs (needs 2.x built with CUDA)");
  } else {
    choice.use = true;
    return choice;
  }
  if (train.cuda_graphs == "on") {
    return absl::FailedPreconditionError(
        absl::StrCat("train.cuda_graphs is on, but ", choice.reason));
  }
  return choice;
}

#ifdef CONVRNN_TORCH_CUDA_GRAPHS

struct GraphStep::Graph {
  at::cuda::CUDAGraph graph;
  torch::Tensor images, labels, loss;  // the static buffers and output
};

#else

struct GraphStep::Graph {};

#endif

GraphStep::GraphStep(StepFn step, int warmup) : step_(std::move(step)), warmup_(warmup) {
  TORCH_CHECK(kTorchHasCudaGraphs, "GraphStep: this LibTorch cannot capture CUDA graphs");
}

GraphStep::~GraphStep() = default;

torch::Tensor GraphStep::RunEager(const torch::Tensor& images, const torch::Tensor& labels,
                                  bool side) {
#ifdef CONVRNN_TORCH_CUDA_GRAPHS
  if (side) {
    // Warm-up on a side stream, as capture will run: the caching allocator
    // and cuDNN set up per-stream state there. Synchronising around it is
    // a once-per-run cost.
    torch::cuda::synchronize();
    c10::cuda::CUDAStreamGuard guard(at::cuda::getStreamFromPool());
    torch::Tensor loss = step_(images, labels);
    torch::cuda::synchronize();
    return loss;
  }
#endif
  return step_(images, labels);
}

torch::Tensor GraphStep::Run(const torch::Tensor& images, const torch::Tensor& labels) {
  if (failed_) return RunEager(images, labels, /*side=*/false);
  if (warm_done_ < warmup_) {
    ++warm_done_;
    return RunEager(images, labels, /*side=*/true);
  }
#ifdef CONVRNN_TORCH_CUDA_GRAPHS
  if (!graph_) {
    auto g = std::make_unique<Graph>();
    g->images = images.clone();  // keeps the memory format (channels-last)
    g->labels = labels.clone();
    torch::cuda::synchronize();
    {
      c10::cuda::CUDAStreamGuard guard(at::cuda::getStreamFromPool());
      SetAutocastCacheEnabled(false);
      try {
        g->graph.capture_begin();
        g->loss = step_(g->images, g->labels);
        g->graph.capture_end();
      } catch (const c10::Error&) {
        failed_ = true;
        SetAutocastCacheEnabled(true);
        try {
          g->graph.capture_end();  // leaves capture mode; fails on a broken capture
        } catch (const c10::Error&) {
        }
        throw;
      }
      SetAutocastCacheEnabled(true);
    }
    torch::cuda::synchronize();
    graph_ = std::move(g);
    // Capturing ran no kernels: this batch is the static buffers' content.
    graph_->graph.replay();
    ++replays_;
    return graph_->loss;
  }
  if (images.sizes() != graph_->images.sizes() || labels.sizes() != graph_->labels.sizes()) {
    return RunEager(images, labels, /*side=*/false);
  }
  graph_->images.copy_(images, /*non_blocking=*/true);
  graph_->labels.copy_(labels, /*non_blocking=*/true);
  graph_->graph.replay();
  ++replays_;
  return graph_->loss;
#else
  return RunEager(images, labels, /*side=*/false);
#endif
}

}  // namespace convrnn
