// The few LibTorch calls that differ between Debian's 1.13 (CPU) and the
// 2.x builds on GPU machines. Everything version-dependent lives here.
//
// Thread-safety: autocast state is thread-local in LibTorch; call from the
// training thread.
#ifndef CONVRNN_WORKER_MODEL_TORCH_COMPAT_H_
#define CONVRNN_WORKER_MODEL_TORCH_COMPAT_H_

#include <ATen/autocast_mode.h>
#include <c10/core/ScalarType.h>
#include <torch/version.h>

namespace convrnn {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define CONVRNN_TORCH_DEVICE_AUTOCAST 1
#endif

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

}  // namespace convrnn

#endif  // CONVRNN_WORKER_MODEL_TORCH_COMPAT_H_
