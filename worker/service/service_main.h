// `convrnn-worker --server HOST:PORT` on one device, in this process: reads
// the token and CA files, builds the trial executor (LibTorch, or simulated),
// runs the ServiceLoop, and turns SIGINT/SIGTERM into a phased shutdown
// (first signal: stop leasing and cancel — or, with finish_on_shutdown,
// finish — the current trial; second signal: cancel it).
//
// Thread-safety: call from main's thread before starting any other.
#ifndef CONVRNN_WORKER_SERVICE_SERVICE_MAIN_H_
#define CONVRNN_WORKER_SERVICE_SERVICE_MAIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "worker/service/service_loop.h"

namespace convrnn {

// The service-mode flags of convrnn-worker.
struct ServiceConfig {
  std::string server;                     // HOST:PORT (required)
  std::string device = "cpu";             // cpu | cuda:N
  int threads = 0;                        // intra-op threads; 0: DefaultThreads(1)
  std::string token_file;                 // bearer token; empty: none
  std::string tls_ca_file;                // PEM root certificates; empty: plaintext
  std::string checkpoint_root;            // checkpoints in DIR/trial-<id>/; empty: none
  bool keep_checkpoints = false;          // keep a completed trial's checkpoint
  std::string spool_dir;                  // empty: DefaultSpoolDir(server); "none": off
  std::string server_down_grace = "10m";  // absl duration: "90s", "10m", "1h"
  bool finish_on_shutdown = false;        // first signal lets the current trial finish
  int max_trials = 0;                     // exit after this many trials; 0: no limit
  int64_t min_free_memory_mb = 0;         // lease only with this much free device memory
  bool simulate = false;                  // synthetic training (worker/simulate.h)
  int simulate_epoch_ms = 1000;
  int simulate_epochs = 0;  // 0: the spec's epochs
};

// Checks the files and values of `config` (INVALID_ARGUMENT / NOT_FOUND
// naming the flag) and returns the loop's options.
absl::StatusOr<ServiceOptions> MakeServiceOptions(const ServiceConfig& config);

// Returns the process exit status: 0 after a signal or max_trials, 2 for bad
// flags, 1 when the server stayed unreachable or refused the worker.
int RunService(const ServiceConfig& config);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_SERVICE_MAIN_H_
