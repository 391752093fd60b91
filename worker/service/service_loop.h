// worker/service/: the worker's service mode. This header is the folder's
// face; worker_client.h and rpc_retry.h speak to the coordinator,
// torch_executor.h trains and scores leased trials, simulate.h fakes
// training for load tests, supervisor.h runs one process per device, and
// service_main.h wires them into `convrnn-worker --server`.
//
// The worker's service mode (`convrnn-worker --server HOST:PORT`): the loop
// that registers with the coordinator, leases trials, trains them through a
// TrialExecutor, heartbeats while it does, reports every epoch (and stops when
// told), and completes or fails each trial with its reason.
//
// Failure behaviour, in one place:
//   * Every RPC that fails with UNAVAILABLE or DEADLINE_EXCEEDED is retried
//     with capped exponential backoff and jitter, read through the injected
//     Clock, for up to `server_down_grace`; past it, Run() gives up with
//     UNAVAILABLE. RESOURCE_EXHAUSTED (the server's disk is full) is retried
//     the same way for as long as it lasts.
//   * A finished result is spooled to `spool_dir` before CompleteTrial and
//     removed once the server answered; a worker that died meanwhile (or
//     gave up) re-sends it after its next registration. A trial in training keeps training while
//     the server is away: its epoch reports queue up and are sent, in order, once it is back.
//   * A lease the server no longer honours (Heartbeat says lease_lost, or a
//     call answers FAILED_PRECONDITION) cancels training and abandons the
//     trial: no CompleteTrial, no FailTrial; a finished result is dropped.
//   * NOT_FOUND for the worker id (the server forgot this worker): register
//     again and go on.
//   * STOP from ReportProgress ends training without CompleteTrial.
//   * A training failure is sent with FailTrial; retryable per
//     IsRetryableFailure() (out of memory yes, NaN loss or a bad spec no).
//   * Shutdown(): stop leasing; the current trial is cancelled (and handed
//     back with a retryable FailTrial) or finished, as asked.
//
// Thread-safety: Run() on one thread; Shutdown() from any thread (e.g. a
// signal-handling thread). The executor runs on Run()'s thread.
#ifndef CONVRNN_WORKER_SERVICE_SERVICE_LOOP_H_
#define CONVRNN_WORKER_SERVICE_SERVICE_LOOP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "util/clock.h"
#include "worker/service/rpc_retry.h"

namespace convrnn {

// One leased trial, as the executor sees it.
struct TrialTask {
  int64_t trial_id = 0;
  int attempt = 1;             // counted from 1
  std::string spec_json;       // architecture spec (DESIGN.md §7)
  std::string data_json;       // data spec; empty: Fashion-MNIST defaults
  std::string checkpoint_dir;  // empty: no checkpoints
  bool resume = false;         // resume from checkpoint_dir when it holds one
  // The campaign's neural section (spec/neural_spec.h); non-empty: score
  // the trained model and add the neural metrics to the final metrics.
  std::string neural_json;
};

// One leased scoring job (`convrnn score`): score a completed trial's
// checkpoint against the neural section's recordings.
struct ScoreTask {
  int64_t score_id = 0;
  int64_t trial_id = 0;
  std::string spec_json;       // the trial's architecture spec
  std::string data_json;       // its campaign's data spec
  std::string neural_json;     // what to score against
  std::string checkpoint_dir;  // <checkpoint_root>/trial-<id>; empty: no checkpoint root
};

// Metrics of one finished epoch: train_loss, val_top1, wall_s, images_per_s...
struct EpochReport {
  int epoch = 0;  // counted from 1
  std::map<std::string, double> metrics;
};

// What the loop lends the executor for one trial.
struct TrialHooks {
  // After every epoch; false means stop training now (STOP, lost lease, or
  // shutdown) and return what you have.
  std::function<bool(const EpochReport&)> on_epoch;
  // Conditions worth a log line that do not stop training.
  std::function<void(const std::string&)> on_warning;
  // Set (and `cancelled` notified) when training must end at once; the
  // executor then returns CANCELLED.
  const std::atomic<bool>* cancel = nullptr;
  absl::Notification* cancelled = nullptr;
};

// How a trial ended when it did not fail.
struct TrialOutcome {
  std::map<std::string, double> final_metrics;  // val_top1, params, flops, ...
  bool stopped_early = false;                   // on_epoch returned false
};

// Trains one trial. A failure is a Status whose code says whether another
// attempt could succeed (see IsRetryableFailure).
class TrialExecutor {
 public:
  virtual ~TrialExecutor() = default;
  virtual absl::StatusOr<TrialOutcome> Run(const TrialTask& task, const TrialHooks& hooks) = 0;
  // Whether this executor scores neural predictivity (Score, and
  // TrialTask::neural_json). The loop tells the server, which then sends
  // scoring jobs and trials of campaigns with a neural section.
  virtual bool CanScore() const { return false; }
  // The scorer's JSON report (docs/neural-data.md "Output"). A failure's
  // code is reported to the user: INVALID_ARGUMENT / NOT_FOUND mean bad
  // input (a malformed file, no checkpoint).
  virtual absl::StatusOr<std::string> Score(const ScoreTask& task, const TrialHooks& hooks) {
    return absl::UnimplementedError("this worker cannot score neural predictivity");
  }
};

// Whether a trial that failed with `status` may succeed on another attempt:
// true for RESOURCE_EXHAUSTED (out of memory), UNAVAILABLE / NOT_FOUND /
// DATA_LOSS (data not reachable here), INTERNAL, UNKNOWN; false for ABORTED
// (the loss diverged), INVALID_ARGUMENT (spec and data disagree) and the rest.
bool IsRetryableFailure(const absl::Status& status);

struct ServiceOptions {
  // Coordinator address, HOST:PORT. Required.
  std::string server;
  // Sent with RegisterWorker. Defaults: this host's name, getpid(), "cpu",
  // the build's version.
  std::string hostname;
  int64_t pid = 0;
  std::string device = "cpu";
  std::string version;
  // Bearer token sent as `authorization: Bearer <token>` on every call;
  // empty: none.
  std::string token;
  // PEM root certificates for TLS; empty: plaintext.
  std::string tls_ca_pem;
  // Trial checkpoints go to <checkpoint_root>/trial-<id>/; empty: none.
  std::string checkpoint_root;
  // Finished results wait here until the server has answered, and are
  // re-sent by the next process (worker/service/completion_spool.h); empty:
  // no spooling. convrnn-worker defaults it to DefaultSpoolDir(server).
  std::string spool_dir;
  // Remove a trial's checkpoint directory once it completed.
  bool remove_checkpoint_on_complete = true;
  // How long the server may stay unreachable before Run() gives up.
  absl::Duration server_down_grace = absl::Minutes(10);
  // Deadline of one RPC attempt.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // Retry pacing for UNAVAILABLE / DEADLINE_EXCEEDED.
  BackoffOptions backoff;
  // Heartbeat period when the server does not say (RegisterWorker's
  // heartbeat_interval_ms == 0).
  absl::Duration default_heartbeat = absl::Seconds(10);
  // Poll period when the server says "nothing to do" without retry_after_ms.
  absl::Duration default_retry_after = absl::Seconds(1);
  // Stop after this many trials have ended (any way); 0: run until Shutdown.
  int max_trials = 0;
  // Lease only while the device has at least this many bytes free, so that
  // trial slots sharing a device (`--devices cuda:0x4`) leave each other
  // room; checked before every lease, polled every default_retry_after while
  // short. 0: no check. When the free memory cannot be read the loop leases
  // anyway and says so once.
  int64_t min_free_memory = 0;
  // Reads the device's free bytes; default: FreeMemoryBytes(device)
  // (worker/service/device_memory.h).
  std::function<absl::StatusOr<int64_t>()> free_memory;
  // Where backoff, polling and heartbeat timing read time; never null.
  Clock* clock = Clock::Real();
  // Log lines (one per event) go here; default: stderr with a prefix.
  std::function<void(const std::string&)> log;
};

// Counters for tests and the operator.
struct ServiceStats {
  int registrations = 0;
  int trials_leased = 0;
  int trials_completed = 0;
  int trials_failed = 0;      // FailTrial sent
  int trials_stopped = 0;     // STOP from the server
  int trials_abandoned = 0;   // lease lost or refused as stale
  int scores_completed = 0;   // scoring jobs reported with CompleteScore
  int scores_failed = 0;      // scoring jobs reported with FailScore
  int spooled_completed = 0;  // spooled results of a previous process accepted
};

class ServiceLoop {
 public:
  // REQUIRES: `executor` outlives the loop.
  static absl::StatusOr<std::unique_ptr<ServiceLoop>> Create(ServiceOptions options,
                                                             TrialExecutor* executor);
  virtual ~ServiceLoop() = default;

  // Registers, then leases and trains until Shutdown(), max_trials, or the
  // server has been unreachable for longer than the grace (UNAVAILABLE).
  // Other errors: the server refused the worker (e.g. UNAUTHENTICATED).
  virtual absl::Status Run() = 0;

  // Stop leasing. cancel_current_trial: cancel the trial in training and
  // hand it back (retryable FailTrial); otherwise let it finish and report.
  // Safe to call more than once and from any thread; a later call may turn
  // "finish" into "cancel".
  virtual void Shutdown(bool cancel_current_trial) = 0;

  virtual ServiceStats stats() const = 0;
};

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_SERVICE_LOOP_H_
