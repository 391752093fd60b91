#include "worker/service/service_loop.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spec/checkpoint_path.h"
#include "util/posix_fs.h"
#include "util/status_macros.h"
#include "worker/service/device_memory.h"
#include "worker/service/service_loop_impl.h"

#ifndef CONVRNN_VERSION
#define CONVRNN_VERSION "unknown"
#endif

namespace convrnn {

bool IsRetryableFailure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:  // out of memory: another device may fit it
    case absl::StatusCode::kUnavailable:        // data not reachable from this host
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDeadlineExceeded:
      return true;
    default:  // kAborted (diverged), kInvalidArgument (spec and data disagree), ...
      return false;
  }
}

namespace {

// Heartbeat period while the server is unreachable (see HeartbeatLoop).
constexpr absl::Duration kReconnectProbe = absl::Milliseconds(250);

std::string ThisHostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace

namespace service_internal {

void ServiceLoopImpl::Shutdown(bool cancel_current_trial) {
  absl::MutexLock lock(&mu_);
  if (!stop_leasing_.HasBeenNotified()) stop_leasing_.Notify();
  if (!cancel_current_trial) return;
  cancel_on_shutdown_ = true;
  if (!abort_.HasBeenNotified()) abort_.Notify();
  if (current_ != nullptr) {
    current_->shutdown = true;
    current_->Cancel();
  }
}

grpc::Status ServiceLoopImpl::Register() {
  v1::RegisterWorkerRequest request;
  request.set_hostname(options_.hostname.empty() ? ThisHostname() : options_.hostname);
  request.set_pid(options_.pid != 0 ? options_.pid : getpid());
  request.set_device(options_.device);
  request.set_version(options_.version.empty() ? CONVRNN_VERSION : options_.version);
  v1::RegisterWorkerResponse response;
  grpc::Status s = client_.Retry(
      "RegisterWorker",
      [&](grpc::ClientContext* c) { return client_.stub().RegisterWorker(c, request, &response); },
      &stop_leasing_);
  if (!s.ok()) return s;
  worker_id_ = response.worker_id();
  heartbeat_ = response.heartbeat_interval_ms() > 0
                   ? absl::Milliseconds(response.heartbeat_interval_ms())
                   : options_.default_heartbeat;
  need_register_ = false;
  Count(&ServiceStats::registrations);
  Log(absl::StrCat("registered with ", options_.server, " as worker ", response.worker_id(),
                   " (heartbeat every ", absl::FormatDuration(heartbeat_), ")"));
  return s;
}

void ServiceLoopImpl::ResendSpooled() {
  for (const v1::CompleteTrialRequest& request : spool_.Load()) {
    if (stop_leasing_.HasBeenNotified()) return;
    const std::string name = absl::StrCat("spooled result of lease ", request.lease_id());
    v1::CompleteTrialResponse response;
    grpc::Status s = client_.Retry(
        "CompleteTrial",
        [&](grpc::ClientContext* c) { return client_.stub().CompleteTrial(c, request, &response); },
        &stop_leasing_);
    if (IsTransient(s) || s.error_code() == grpc::StatusCode::CANCELLED) return;  // kept
    spool_.Remove(request.lease_id());
    if (s.ok()) Count(&ServiceStats::spooled_completed);
    Log(absl::StrCat(name, s.ok() ? (response.already_completed() ? ": already recorded"
                                                                  : ": completed the trial")
                                  : absl::StrCat(": refused (", s.error_message(), ")")));
  }
}

absl::Status ServiceLoopImpl::Run() {
  int trials_ended = 0;
  bool resent = false;
  while (!stop_leasing_.HasBeenNotified()) {
    if (worker_id_ == 0 || need_register_) {
      grpc::Status s = Register();
      if (stop_leasing_.HasBeenNotified()) break;
      if (!s.ok()) return GiveUp(s, "RegisterWorker");
    }
    if (!resent) {  // results a previous process finished but could not deliver
      ResendSpooled();
      resent = true;
    }
    if (options_.max_trials > 0 && trials_ended >= options_.max_trials) break;
    if (!DeviceHasRoom()) {
      options_.clock->SleepUntil(
          options_.clock->NowMicros() + absl::ToInt64Microseconds(options_.default_retry_after),
          &stop_leasing_);
      continue;
    }

    v1::LeaseTrialRequest request;
    request.set_worker_id(worker_id_);
    request.set_can_score(executor_->CanScore());
    v1::LeaseTrialResponse lease;
    grpc::Status s = client_.Retry(
        "LeaseTrial",
        [&](grpc::ClientContext* c) { return client_.stub().LeaseTrial(c, request, &lease); },
        &stop_leasing_);
    if (stop_leasing_.HasBeenNotified() && !(s.ok() && lease.has_trial())) break;
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      Log(absl::StrCat("the server does not know worker ", worker_id_.load(), " (",
                       s.error_message(), "); registering again"));
      need_register_ = true;
      continue;
    }
    if (!s.ok()) return GiveUp(s, "LeaseTrial");
    if (!lease.has_trial()) {
      absl::Duration wait = lease.retry_after_ms() > 0 ? absl::Milliseconds(lease.retry_after_ms())
                                                       : options_.default_retry_after;
      options_.clock->SleepUntil(options_.clock->NowMicros() + absl::ToInt64Microseconds(wait),
                                 &stop_leasing_);
      continue;
    }
    if (lease.kind() == v1::JOB_KIND_SCORE) {
      // Scoring jobs do not count towards max_trials.
      RETURN_IF_ERROR(RunScore(lease));
      continue;
    }
    absl::Status trial = RunTrial(lease);
    ++trials_ended;
    RETURN_IF_ERROR(trial);
  }
  Log("stopped leasing; exiting");
  return absl::OkStatus();
}

bool ServiceLoopImpl::DeviceHasRoom() {
  if (options_.min_free_memory <= 0 || !memory_readable_) return true;
  absl::StatusOr<int64_t> free =
      options_.free_memory ? options_.free_memory() : FreeMemoryBytes(options_.device);
  if (!free.ok()) {
    Log(absl::StrCat("cannot read free memory of ", options_.device, " (", free.status().message(),
                     "); leasing without the check"));
    memory_readable_ = false;
    return true;
  }
  constexpr int64_t kMiB = 1 << 20;
  if (*free < options_.min_free_memory) {
    if (!waiting_for_memory_) {
      Log(absl::StrCat("not leasing: ", options_.device, " has ", *free / kMiB,
                       " MiB free, a trial needs ", options_.min_free_memory / kMiB, " MiB"));
    }
    waiting_for_memory_ = true;
    return false;
  }
  if (waiting_for_memory_) {
    Log(absl::StrCat(options_.device, " has ", *free / kMiB, " MiB free again; leasing"));
  }
  waiting_for_memory_ = false;
  return true;
}

void ServiceLoopImpl::TakeUp(ActiveTrial* job) {
  absl::MutexLock lock(&mu_);
  current_ = job;
  if (stop_leasing_.HasBeenNotified()) {
    job->shutdown = true;
    job->Cancel();
  }
}

absl::Status ServiceLoopImpl::RunTrial(const v1::LeaseTrialResponse& lease) {
  ActiveTrial trial(lease);
  Count(&ServiceStats::trials_leased);
  TakeUp(&trial);
  TrialTask task;
  task.trial_id = lease.trial_id();
  task.attempt = lease.attempt();
  task.spec_json = lease.spec_json();
  task.data_json = lease.data_json();
  task.neural_json = lease.neural_json();
  if (!options_.checkpoint_root.empty()) {
    task.checkpoint_dir = TrialCheckpointDir(options_.checkpoint_root, lease.trial_id());
    std::error_code ec;
    bool reachable = std::filesystem::exists(CheckpointFile(task.checkpoint_dir), ec);
    task.resume = lease.attempt() > 1 && reachable;
    if (lease.attempt() > 1) {
      Log(reachable ? absl::StrCat("trial ", task.trial_id, " attempt ", task.attempt,
                                   ": resuming from ", task.checkpoint_dir)
                    : absl::StrCat("trial ", task.trial_id, " attempt ", task.attempt,
                                   ": no checkpoint reachable at ", task.checkpoint_dir,
                                   "; starting afresh"));
    }
  }
  Log(absl::StrCat("trial ", task.trial_id, " attempt ", task.attempt, ": leased (lease ",
                   trial.lease_id, ")"));

  std::thread heartbeat([this, &trial] { HeartbeatLoop(&trial); });

  TrialHooks hooks;
  hooks.cancel = &trial.cancel;
  hooks.cancelled = &trial.cancelled;
  hooks.on_warning = [this, &task](const std::string& w) {
    Log(absl::StrCat("trial ", task.trial_id, ": warning: ", w));
  };
  hooks.on_epoch = [this, &trial](const EpochReport& report) {
    v1::ReportProgressRequest request;
    request.set_worker_id(worker_id_);
    request.set_lease_id(trial.lease_id);
    request.set_epoch(report.epoch);
    for (const auto& [name, value] : report.metrics) (*request.mutable_metrics())[name] = value;
    trial.pending.push_back(std::move(request));
    // One attempt: while the server is away training goes on and the reports
    // wait their turn.
    FlushReports(&trial, /*retry=*/false);
    return !(trial.stop || trial.lost || trial.cancel);
  };

  absl::StatusOr<TrialOutcome> outcome =
      trial.cancel ? absl::CancelledError("worker shutting down") : executor_->Run(task, hooks);
  absl::Status result = Finish(&trial, outcome);

  trial.done.Notify();
  heartbeat.join();
  absl::MutexLock lock(&mu_);
  current_ = nullptr;
  return result;
}

void ServiceLoopImpl::HeartbeatLoop(ActiveTrial* trial) {
  Clock* clock = options_.clock;
  const int64_t period = absl::ToInt64Microseconds(heartbeat_);
  int64_t next = clock->NowMicros() + period;
  while (clock->SleepUntil(next, &trial->done)) {
    next = std::max(next + period, clock->NowMicros());
    v1::HeartbeatRequest request;
    request.set_worker_id(worker_id_);
    request.set_lease_id(trial->lease_id);
    v1::HeartbeatResponse response;
    grpc::Status s = client_.Once(
        [&](grpc::ClientContext* c) { return client_.stub().Heartbeat(c, request, &response); },
        heartbeat_);
    if (s.ok() && response.lease_lost()) {
      trial->MarkLost("the server says the lease is lost");
      return;
    }
    if (LeaseRefused(s)) {
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) need_register_ = true;
      trial->MarkLost(absl::StrCat("heartbeat refused: ", s.error_message()));
      return;
    }
    if (!s.ok() && !IsTransient(s)) {
      Log(absl::StrCat("trial ", trial->trial_id, ": heartbeat failed: ", s.error_message()));
    }
    // While the server is away, probe often: a restarted server grants a
    // lease only a short grace, so re-confirm it as soon as it answers.
    if (IsUnreachable(s)) {
      next = std::min(next, clock->NowMicros() + absl::ToInt64Microseconds(kReconnectProbe));
    }
  }
}

grpc::Status ServiceLoopImpl::FlushReports(ActiveTrial* trial, bool retry) {
  while (!trial->pending.empty() && !trial->stop && !trial->lost) {
    const v1::ReportProgressRequest& request = trial->pending.front();
    ReportProgressResponse response;
    auto call = [&](grpc::ClientContext* c) {
      return client_.stub().ReportProgress(c, request, &response);
    };
    grpc::Status s = retry ? client_.Retry("ReportProgress", call, &abort_) : client_.Once(call);
    if (IsTransient(s) || s.error_code() == grpc::StatusCode::CANCELLED) return s;
    int epoch = request.epoch();
    trial->pending.pop_front();
    if (s.ok()) {
      if (response.decision() == ReportProgressResponse::DECISION_STOP) {
        trial->stop = true;
        trial->stop_reason = response.reason();
      }
    } else if (LeaseRefused(s)) {
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) need_register_ = true;
      trial->MarkLost(absl::StrCat("report of epoch ", epoch, " refused: ", s.error_message()));
    } else {
      Log(absl::StrCat("trial ", trial->trial_id, ": report of epoch ", epoch,
                       " dropped: ", s.error_message()));
    }
  }
  if (trial->stop || trial->lost) trial->pending.clear();
  return grpc::Status::OK;
}

void ServiceLoopImpl::HandBack(ActiveTrial* trial, const std::string& reason) {
  v1::FailTrialRequest request;
  request.set_worker_id(worker_id_);
  request.set_lease_id(trial->lease_id);
  request.set_reason(reason);
  request.set_retryable(true);
  v1::FailTrialResponse response;
  grpc::Status s = client_.Once(
      [&](grpc::ClientContext* c) { return client_.stub().FailTrial(c, request, &response); });
  Count(&ServiceStats::trials_failed);
  Log(absl::StrCat("trial ", trial->trial_id, ": handed back (", reason, ")",
                   s.ok() ? ""
                          : absl::StrCat("; the server did not hear it: ", s.error_message(),
                                         " (the lease will expire)")));
}

absl::Status ServiceLoopImpl::Abandon(const std::string& name, const std::string& why) {
  Count(&ServiceStats::trials_abandoned);
  Log(absl::StrCat(name, ": abandoned: ", why));
  return absl::OkStatus();
}

absl::Status ServiceLoopImpl::Finish(ActiveTrial* trial,
                                     const absl::StatusOr<TrialOutcome>& outcome) {
  const std::string name = absl::StrCat("trial ", trial->trial_id, " attempt ", trial->attempt);
  if (trial->lost) return Abandon(name, trial->LostReason());
  if (trial->shutdown) {
    HandBack(trial, "worker shut down");
    return absl::OkStatus();
  }

  // Reports still queued (the server was away) go first, in order.
  grpc::Status flushed = FlushReports(trial, /*retry=*/true);
  if (flushed.error_code() == grpc::StatusCode::CANCELLED) {
    HandBack(trial, "worker shut down");
    return absl::OkStatus();
  }
  if (!flushed.ok()) return GiveUp(flushed, "ReportProgress");
  if (trial->lost) return Abandon(name, trial->LostReason());
  if (trial->stop) {
    Count(&ServiceStats::trials_stopped);
    Log(absl::StrCat(name, ": stopped by the server",
                     trial->stop_reason.empty() ? "" : ": " + trial->stop_reason));
    return absl::OkStatus();
  }
  if (!outcome.ok()) {
    if (outcome.status().code() == absl::StatusCode::kCancelled) {
      return Abandon(name, std::string(outcome.status().message()));
    }
    return SendFailure(trial, name, outcome.status());
  }
  if (outcome->stopped_early) {
    return Abandon(name, "training stopped without a STOP from the server");
  }
  return SendCompletion(trial, name, *outcome);
}

absl::Status ServiceLoopImpl::SendFailure(ActiveTrial* trial, const std::string& name,
                                          const absl::Status& failed) {
  v1::FailTrialRequest request;
  request.set_worker_id(worker_id_);
  request.set_lease_id(trial->lease_id);
  request.set_reason(std::string(failed.message()));
  request.set_retryable(IsRetryableFailure(failed));
  v1::FailTrialResponse response;
  grpc::Status s = client_.Retry(
      "FailTrial",
      [&](grpc::ClientContext* c) { return client_.stub().FailTrial(c, request, &response); },
      &abort_);
  if (s.error_code() == grpc::StatusCode::CANCELLED) return absl::OkStatus();
  if (IsTransient(s)) return GiveUp(s, "FailTrial");
  if (LeaseRefused(s)) return Abandon(name, absl::StrCat("failure refused: ", s.error_message()));
  if (!s.ok()) return Abandon(name, absl::StrCat("FailTrial: ", s.error_message()));
  Count(&ServiceStats::trials_failed);
  Log(absl::StrCat(name, ": failed (", request.retryable() ? "retryable" : "final",
                   "): ", request.reason(), response.requeued() ? "; re-queued" : ""));
  return absl::OkStatus();
}

absl::Status ServiceLoopImpl::SendCompletion(ActiveTrial* trial, const std::string& name,
                                             const TrialOutcome& outcome) {
  v1::CompleteTrialRequest request;
  request.set_worker_id(worker_id_);
  request.set_lease_id(trial->lease_id);
  for (const auto& [key, value] : outcome.final_metrics) {
    (*request.mutable_final_metrics())[key] = value;
  }
  // On disk first: if this process dies before the server's answer, the
  // next one re-sends it (ResendSpooled) and the server's fencing decides.
  if (absl::Status saved = spool_.Save(request); !saved.ok()) {
    Log(absl::StrCat(name, ": could not spool the result (", saved.message(), ")"));
  }
  v1::CompleteTrialResponse response;
  grpc::Status s = client_.Retry(
      "CompleteTrial",
      [&](grpc::ClientContext* c) { return client_.stub().CompleteTrial(c, request, &response); },
      &abort_);
  if (s.error_code() == grpc::StatusCode::CANCELLED) return absl::OkStatus();  // spooled
  if (IsTransient(s)) return GiveUp(s, "CompleteTrial");                       // spooled
  spool_.Remove(request.lease_id());                                           // the server decided
  if (LeaseRefused(s)) {
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) need_register_ = true;
    return Abandon(name, absl::StrCat("the lease was refused as stale (", s.error_message(),
                                      "); result dropped"));
  }
  if (!s.ok()) return Abandon(name, absl::StrCat("CompleteTrial: ", s.error_message()));
  Count(&ServiceStats::trials_completed);
  auto it = outcome.final_metrics.find("val_top1");
  Log(absl::StrCat(name, ": completed, val_top1 ",
                   it == outcome.final_metrics.end() ? 0.0 : it->second,
                   response.already_completed() ? " (already recorded)" : ""));
  if (options_.remove_checkpoint_on_complete && !options_.checkpoint_root.empty()) {
    const std::string dir = TrialCheckpointDir(options_.checkpoint_root, trial->trial_id);
    if (absl::Status removed = RemoveTree(dir); !removed.ok()) {
      Log(absl::StrCat(name, ": could not remove its checkpoint: ", removed.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace service_internal

absl::StatusOr<std::unique_ptr<ServiceLoop>> ServiceLoop::Create(ServiceOptions options,
                                                                 TrialExecutor* executor) {
  if (options.server.empty()) return absl::InvalidArgumentError("--server: HOST:PORT is required");
  if (executor == nullptr) return absl::InvalidArgumentError("no trial executor");
  if (options.clock == nullptr) options.clock = Clock::Real();
  if (options.pid == 0) options.pid = getpid();
  return std::unique_ptr<ServiceLoop>(
      new service_internal::ServiceLoopImpl(std::move(options), executor));
}

}  // namespace convrnn
