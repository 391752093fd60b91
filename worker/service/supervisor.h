// `convrnn-worker --server ... --devices LIST`: one training process per
// device, supervised.
//
// The supervisor re-executes this binary once per device with `--device D`
// (and the flags it was given, less --devices), restarts a child that dies
// or fails (exit status other than 0 and 2) after a backoff that doubles up
// to a cap and resets once a child has run for a while, forwards SIGINT and
// SIGTERM to every child and stops restarting, and returns when every child
// has exited. A child that exits 0 (it was told to stop) or 2 (bad input:
// it would fail the same way again) is not restarted.
//
// Thread-safety: RunSupervisor blocks SIGINT, SIGTERM and SIGCHLD in the
// calling thread and waits for them there; call it from main's thread before
// starting others.
#ifndef CONVRNN_WORKER_SERVICE_SUPERVISOR_H_
#define CONVRNN_WORKER_SERVICE_SUPERVISOR_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "util/clock.h"

namespace convrnn {

// Most trial slots (worker processes) one --devices entry may ask for.
inline constexpr int kMaxSlotsPerDevice = 64;

// The devices of the worker processes to start, one entry per trial slot.
// `devices` is a comma-separated list of "all" (every CUDA device
// "cuda:0".."cuda:N-1", or "cpu" without any), "cpu" or "cuda:N"
// (N < cuda_count), each optionally followed by "xK": K trial slots on that
// device ("cuda:0x4" -> four processes on cuda:0). An entry without "xK" gets
// `slots` (`--slots`). A CUDA device named by two entries is refused (use
// xK). Errors are INVALID_ARGUMENT naming --devices or --slots.
absl::StatusOr<std::vector<std::string>> ParseDevices(absl::string_view devices, int cuda_count,
                                                      int slots = 1);

// `args` (argv without argv[0]) less every --devices, --device and
// --threads flag with its value, plus `--device device --threads threads`.
std::vector<std::string> ChildArgs(const std::vector<std::string>& args, const std::string& device,
                                   int threads);

struct SupervisorOptions {
  // The program to run for each device; default: this executable.
  std::string executable = "/proc/self/exe";
  // Arguments (argv[1..]) of each child, by device.
  std::vector<std::string> devices;
  std::function<std::vector<std::string>(const std::string& device)> args_for;
  // Restart backoff: first delay, cap, and how long a child must live for
  // the delay to go back to `restart_initial`.
  absl::Duration restart_initial = absl::Seconds(1);
  absl::Duration restart_max = absl::Seconds(60);
  absl::Duration healthy_after = absl::Seconds(60);
  // Log lines; default stderr.
  std::function<void(const std::string&)> log;
  // Times the restart backoff; never null.
  Clock* clock = Clock::Real();
  // nvidia-cuda-mps-control to run for the children's lifetime (several
  // trial slots share a GPU through one MPS server instead of time-slicing
  // contexts); empty: no MPS. The daemon gets private pipe and log folders
  // (CUDA_MPS_PIPE_DIRECTORY, CUDA_MPS_LOG_DIRECTORY, inherited by the
  // children) and is told to quit when the last child has exited. If it
  // cannot start, the children run without it (logged).
  std::string mps_control;
};

// The MPS control program to use for `devices`: `mps_control` found on
// `path` (a PATH-style list) when some CUDA device has more than one slot and
// the operator runs no MPS daemon of their own (`mps_pipe_env`, the value of
// CUDA_MPS_PIPE_DIRECTORY, is null or empty); otherwise "".
std::string FindMpsControl(const std::vector<std::string>& devices, const char* path,
                           const char* mps_pipe_env,
                           const std::string& mps_control = "nvidia-cuda-mps-control");

// Returns the exit status: 0 after a signal or when every child exited 0,
// 2 when a child refused its input, 1 when the children could not start.
int RunSupervisor(const SupervisorOptions& options);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_SUPERVISOR_H_
