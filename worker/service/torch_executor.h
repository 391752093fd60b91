// Trains leased trials with the LibTorch trainer (worker/train/trainer.h) for the
// service loop: parses the spec and data spec, loads the dataset (kept in
// memory while consecutive trials use the same data spec), checkpoints and
// resumes as the task says, and turns the result into the wire's metrics.
//
// Thread-safety: one trial at a time per executor.
#ifndef CONVRNN_WORKER_SERVICE_TORCH_EXECUTOR_H_
#define CONVRNN_WORKER_SERVICE_TORCH_EXECUTOR_H_

#include <memory>
#include <string>

#include "worker/service/service_loop.h"

namespace convrnn {

struct TorchExecutorOptions {
  // "cpu" or "cuda:N".
  std::string device = "cpu";
  // Intra-op threads; 0: DefaultThreads(1).
  int threads = 0;
};

std::unique_ptr<TrialExecutor> NewTorchExecutor(TorchExecutorOptions options);

// CUDA devices LibTorch sees (0 on a CPU-only build).
int CudaDeviceCount();

// Why CudaDeviceCount() is 0, in words for the operator: a CPU-only LibTorch,
// no NVIDIA driver for this process (e.g. a container started without the
// GPU), or a driver that shows this process no GPU. Empty when a GPU is seen.
std::string CudaUnavailableReason();

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_TORCH_EXECUTOR_H_
