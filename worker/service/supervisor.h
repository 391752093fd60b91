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

// "all": every CUDA device ("cuda:0".."cuda:N-1"), or {"cpu"} without any;
// "cpu"; or a comma-separated list of "cpu" / "cuda:N" (N < cuda_count).
// Errors are INVALID_ARGUMENT naming --devices.
absl::StatusOr<std::vector<std::string>> ParseDevices(absl::string_view devices, int cuda_count);

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
};

// Returns the exit status: 0 after a signal or when every child exited 0,
// 2 when a child refused its input, 1 when the children could not start.
int RunSupervisor(const SupervisorOptions& options);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_SUPERVISOR_H_
