// The service loop's scoring jobs (JOB_KIND_SCORE): score a completed
// trial's checkpoint through the executor, heartbeating meanwhile, and
// report the result with CompleteScore or the failure, with its code, with
// FailScore.
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "spec/checkpoint_path.h"
#include "worker/service/service_loop_impl.h"

namespace convrnn::service_internal {

absl::Status ServiceLoopImpl::RunScore(const v1::LeaseTrialResponse& lease) {
  ActiveTrial job(lease);
  TakeUp(&job);
  ScoreTask task;
  task.score_id = lease.score_id();
  task.trial_id = lease.trial_id();
  task.spec_json = lease.spec_json();
  task.data_json = lease.data_json();
  task.neural_json = lease.neural_json();
  if (!options_.checkpoint_root.empty()) {
    task.checkpoint_dir = TrialCheckpointDir(options_.checkpoint_root, task.trial_id);
  }
  Log(absl::StrCat("score ", task.score_id, " of trial ", task.trial_id, ": leased (lease ",
                   job.lease_id, ")"));
  std::thread heartbeat([this, &job] { HeartbeatLoop(&job); });
  TrialHooks hooks;
  hooks.cancel = &job.cancel;
  hooks.cancelled = &job.cancelled;
  hooks.on_warning = [this, &task](const std::string& w) {
    Log(absl::StrCat("score ", task.score_id, ": warning: ", w));
  };
  absl::StatusOr<std::string> result;
  if (job.cancel) {
    result = absl::CancelledError("worker shutting down");
  } else if (task.checkpoint_dir.empty()) {
    result = absl::NotFoundError(absl::StrCat(
        "worker ", worker_id_.load(), " has no --checkpoint-root, so trial ", task.trial_id,
        "'s checkpoint cannot be found; run workers with --checkpoint-root DIR "
        "--keep-checkpoints"));
  } else {
    result = executor_->Score(task, hooks);
  }
  absl::Status status = FinishScore(&job, task.score_id, result);
  job.done.Notify();
  heartbeat.join();
  absl::MutexLock lock(&mu_);
  current_ = nullptr;
  return status;
}

absl::Status ServiceLoopImpl::FinishScore(ActiveTrial* job, int64_t score_id,
                                          const absl::StatusOr<std::string>& result) {
  const std::string name = absl::StrCat("score ", score_id, " of trial ", job->trial_id);
  if (job->lost) {
    Log(absl::StrCat(name, ": abandoned: ", job->LostReason()));
    return absl::OkStatus();
  }
  if (!result.ok() && result.status().code() == absl::StatusCode::kCancelled) {
    // Not this job's fault: its lease expires and another worker takes it.
    Log(absl::StrCat(name, ": abandoned: ", result.status().message()));
    return absl::OkStatus();
  }
  grpc::Status s;
  if (result.ok()) {
    v1::CompleteScoreRequest request;
    request.set_worker_id(worker_id_);
    request.set_lease_id(job->lease_id);
    request.set_result_json(*result);
    v1::CompleteScoreResponse response;
    s = client_.Retry(
        "CompleteScore",
        [&](grpc::ClientContext* c) { return client_.stub().CompleteScore(c, request, &response); },
        &abort_);
  } else {
    v1::FailScoreRequest request;
    request.set_worker_id(worker_id_);
    request.set_lease_id(job->lease_id);
    request.set_reason(std::string(result.status().message()));
    request.set_code(static_cast<int>(result.status().code()));
    v1::FailScoreResponse response;
    s = client_.Retry(
        "FailScore",
        [&](grpc::ClientContext* c) { return client_.stub().FailScore(c, request, &response); },
        &abort_);
  }
  if (s.error_code() == grpc::StatusCode::CANCELLED) return absl::OkStatus();
  if (IsTransient(s)) return GiveUp(s, result.ok() ? "CompleteScore" : "FailScore");
  if (!s.ok()) {
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) need_register_ = true;
    Log(absl::StrCat(name, ": abandoned: the server refused the report: ", s.error_message()));
    return absl::OkStatus();
  }
  if (result.ok()) {
    Count(&ServiceStats::scores_completed);
    Log(absl::StrCat(name, ": completed"));
  } else {
    Count(&ServiceStats::scores_failed);
    Log(absl::StrCat(name, ": failed: ", result.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace convrnn::service_internal
