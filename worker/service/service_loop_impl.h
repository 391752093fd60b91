// Internal to the service loop (worker/service_loop.h): the loop's
// implementation class and the per-lease state it shares with its
// heartbeat thread, so the training path (service_loop.cc) and the scoring
// path (service_loop_score.cc) live in separate files.
//
// Thread-safety: as documented on each class.
#ifndef CONVRNN_WORKER_SERVICE_SERVICE_LOOP_IMPL_H_
#define CONVRNN_WORKER_SERVICE_SERVICE_LOOP_IMPL_H_

#include <atomic>
#include <deque>
#include <iostream>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "proto/convrnn.grpc.pb.h"
#include "util/log.h"
#include "worker/service/completion_spool.h"
#include "worker/service/service_loop.h"
#include "worker/service/worker_client.h"

namespace convrnn::service_internal {

using v1::ReportProgressResponse;

// The server no longer honours the lease (or forgot the worker).
inline bool LeaseRefused(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
         s.error_code() == grpc::StatusCode::NOT_FOUND;
}

// One leased trial, shared by the training thread (on_epoch, Finish), the
// heartbeat thread and Shutdown().
class ActiveTrial {
 public:
  explicit ActiveTrial(const v1::LeaseTrialResponse& lease)
      : trial_id(lease.trial_id()), attempt(lease.attempt()), lease_id(lease.lease_id()) {}

  // Ends training at the next step; safe from any thread, any number of times.
  void Cancel() {
    if (!cancel.exchange(true)) cancelled.Notify();
  }
  void MarkLost(const std::string& why) {
    {
      absl::MutexLock lock(&mu);
      if (lost_reason.empty()) lost_reason = why;
    }
    lost = true;
    Cancel();
  }
  std::string LostReason() {
    absl::MutexLock lock(&mu);
    return lost_reason;
  }

  const int64_t trial_id;
  const int attempt;
  const int64_t lease_id;

  std::atomic<bool> cancel{false};
  absl::Notification cancelled;       // notified with `cancel`
  absl::Notification done;            // reported; the heartbeat thread ends
  std::atomic<bool> lost{false};      // the server no longer honours the lease
  std::atomic<bool> shutdown{false};  // cancelled because the worker shuts down
  // Training thread only: STOP from the server, and reports not yet accepted.
  bool stop = false;
  std::string stop_reason;
  std::deque<v1::ReportProgressRequest> pending;

 private:
  absl::Mutex mu;
  std::string lost_reason ABSL_GUARDED_BY(mu);
};

class ServiceLoopImpl final : public ServiceLoop {
 public:
  ServiceLoopImpl(ServiceOptions options, TrialExecutor* executor)
      : options_(std::move(options)),
        executor_(executor),
        client_(ClientOptions(options_)),
        spool_(options_.spool_dir) {}

  absl::Status Run() override;
  void Shutdown(bool cancel_current_trial) override;
  ServiceStats stats() const override {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

 private:
  WorkerClient::Options ClientOptions(const ServiceOptions& o) {
    WorkerClient::Options c;
    c.server = o.server;
    c.token = o.token;
    c.tls_ca_pem = o.tls_ca_pem;
    c.rpc_timeout = o.rpc_timeout;
    c.server_down_grace = o.server_down_grace;
    c.backoff = o.backoff;
    c.clock = o.clock;
    c.seed = static_cast<uint64_t>(o.pid);
    c.log = [this](const std::string& line) { Log(line); };
    return c;
  }

  void Log(const std::string& line) {
    if (options_.log) {
      options_.log(line);
    } else {
      convrnn::Log("worker[" + options_.device + "]")->info(line);
    }
  }

  absl::Status GiveUp(const grpc::Status& s, absl::string_view what) {
    if (IsTransient(s)) {
      return absl::UnavailableError(
          absl::StrCat("server ", options_.server, " unreachable for longer than ",
                       absl::FormatDuration(options_.server_down_grace), " (", what, ": ",
                       s.error_message(), "); giving up"));
    }
    return FromGrpc(s, what);
  }

  // Registers (again); CANCELLED when shut down first.
  grpc::Status Register();
  // Whether the device has room for a trial (ServiceOptions::min_free_memory);
  // logs when waiting for memory starts and ends.
  bool DeviceHasRoom();
  // Makes `job` the current one (Shutdown reaches it there); one leased
  // while Shutdown() ran is marked to be handed back at once.
  void TakeUp(ActiveTrial* job) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status RunTrial(const v1::LeaseTrialResponse& lease);
  // Sends the completions a previous process spooled; each is removed once
  // the server decided on it (completed, already recorded, or refused).
  void ResendSpooled();
  // A JOB_KIND_SCORE lease: score, heartbeat meanwhile, report.
  absl::Status RunScore(const v1::LeaseTrialResponse& lease);
  absl::Status FinishScore(ActiveTrial* job, int64_t score_id,
                           const absl::StatusOr<std::string>& result);
  void HeartbeatLoop(ActiveTrial* trial);
  // Sends queued reports in order. retry: wait out an outage (up to the
  // grace); otherwise one attempt each, leaving the rest queued.
  grpc::Status FlushReports(ActiveTrial* trial, bool retry);
  // Tells the server how the trial ended (after its queued reports).
  absl::Status Finish(ActiveTrial* trial, const absl::StatusOr<TrialOutcome>& outcome);
  // The three endings Finish tells: FailTrial, CompleteTrial, or nothing
  // (the trial is dropped here, logged with `why`).
  absl::Status SendFailure(ActiveTrial* trial, const std::string& name, const absl::Status& failed);
  absl::Status SendCompletion(ActiveTrial* trial, const std::string& name,
                              const TrialOutcome& outcome);
  absl::Status Abandon(const std::string& name, const std::string& why);
  void HandBack(ActiveTrial* trial, const std::string& reason);
  void Count(int ServiceStats::*counter) {
    absl::MutexLock lock(&mu_);
    ++(stats_.*counter);
  }

  const ServiceOptions options_;
  TrialExecutor* const executor_;
  WorkerClient client_;
  const CompletionSpool spool_;

  std::atomic<int64_t> worker_id_{0};
  std::atomic<bool> need_register_{false};
  absl::Duration heartbeat_ = absl::Seconds(10);

  // Notified by Shutdown(): no new leases; interrupts waits and lease retries.
  absl::Notification stop_leasing_;
  bool waiting_for_memory_ = false;  // Run()'s thread only
  bool memory_readable_ = true;      // Run()'s thread only
  // Notified by Shutdown(cancel): interrupts the retries of a trial's reports.
  absl::Notification abort_;

  mutable absl::Mutex mu_;
  ActiveTrial* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancel_on_shutdown_ ABSL_GUARDED_BY(mu_) = false;
  ServiceStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace convrnn::service_internal

#endif  // CONVRNN_WORKER_SERVICE_SERVICE_LOOP_IMPL_H_
