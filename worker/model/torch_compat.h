// The few LibTorch calls that differ between Debian's 1.13 (CPU) and the
// 2.x builds on GPU machines. Everything version-dependent lives here.
//
// Thread-safety: autocast state is thread-local in LibTorch; call from the
// training thread.
#ifndef CONVRNN_WORKER_MODEL_TORCH_COMPAT_H_
#define CONVRNN_WORKER_MODEL_TORCH_COMPAT_H_

#include <ATen/autocast_mode.h>
#include <c10/core/ScalarType.h>
#include <torch/optim/optimizer.h>
#include <torch/version.h>

#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

namespace convrnn {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define CONVRNN_TORCH_DEVICE_AUTOCAST 1
#endif

// Whole-step CUDA graphs (worker/train/graph_step.h) need a LibTorch built
// with CUDA (CMake defines CONVRNN_TORCH_CUDA when it links torch_cuda) and
// 2.x: 1.13's CUDAGraph lacks the private-pool handling that capturing
// autograd and the optimizer together relies on, and is not what the GPU
// machines run. Debian's 1.13 ships <ATen/cuda/CUDAGraph.h> without CUDA, so
// the header alone says nothing.
#if defined(CONVRNN_TORCH_CUDA) && TORCH_VERSION_MAJOR >= 2
#define CONVRNN_TORCH_CUDA_GRAPHS 1
inline constexpr bool kTorchHasCudaGraphs = true;
#else
inline constexpr bool kTorchHasCudaGraphs = false;
#endif

// "1.13.1", "2.11.0": the LibTorch this binary was built against.
inline const char* TorchVersionString() { return TORCH_VERSION; }

// Turns CUDA autocast on (to `dtype`) or off for this thread.
inline void SetCudaAutocast(bool enabled, c10::ScalarType dtype) {
#ifdef CONVRNN_TORCH_DEVICE_AUTOCAST
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
  at::autocast::set_enabled(enabled);
  at::autocast::set_autocast_gpu_dtype(dtype);
#endif
}

// Drops autocast's cached casts (call after every step).
inline void ClearAutocastCache() { at::autocast::clear_cache(); }

// Autocast's cast cache must be off while a CUDA graph is captured (a cached
// cast would be a tensor of the capture's pool read by later eager code).
inline void SetAutocastCacheEnabled(bool enabled) {
  at::autocast::set_autocast_cache_enabled(enabled);
}

// torch::optim::Optimizer::state() is keyed by the parameter's TensorImpl
// address: printed to a string in 1.13, the pointer itself in 2.x.
using OptimizerStateMap = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>;
template <typename Key = OptimizerStateMap::key_type>
Key OptimizerStateKey(const at::Tensor& param) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;  // what c10::guts::to_string wrote
    key << param.unsafeGetTensorImpl();
    return key.str();
  } else {
    return param.unsafeGetTensorImpl();
  }
}

}  // namespace convrnn

#endif  // CONVRNN_WORKER_MODEL_TORCH_COMPAT_H_
