// Free memory of a training device, read before a worker leases a trial so
// that several trial slots sharing one device (`--devices cuda:0x4`) do not
// take work the device has no room for.
//
// "cpu": the kernel's MemAvailable (/proc/meminfo), capped by the cgroup's
// memory limit less its usage when one is set. "cuda:N": cudaMemGetInfo of
// device N through the CUDA runtime already loaded by LibTorch (looked up at
// run time, so this file builds and links without CUDA).
//
// Thread-safety: FreeMemoryBytes may be called from any thread.
#ifndef CONVRNN_WORKER_SERVICE_DEVICE_MEMORY_H_
#define CONVRNN_WORKER_SERVICE_DEVICE_MEMORY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convrnn {

// Bytes free on `device` ("cpu" or "cuda:N"). UNAVAILABLE when the number
// cannot be read (no CUDA runtime in this process, no /proc), naming why.
absl::StatusOr<int64_t> FreeMemoryBytes(const std::string& device);

// MemAvailable of a /proc/meminfo text, in bytes. INVALID_ARGUMENT without it.
absl::StatusOr<int64_t> ParseMemAvailable(absl::string_view meminfo);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_DEVICE_MEMORY_H_
