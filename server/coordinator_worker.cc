// The coordinator's worker path: registration, proposing and leasing trials,
// heartbeats, progress with early stopping, completion, failure, the lease
// table and the reaper.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "search/early_stopping.h"
#include "search/sampler.h"
#include "server/coordinator.h"
#include "server/coordinator_runtime.h"
#include "server/metrics.h"
#include "util/stage_stats.h"
#include "util/status_macros.h"

namespace convrnn::server {
namespace {

// Stage timings of the worker path (util/stage_stats.h).
StageHistogram& LeaseStage() {
  static StageHistogram& h = Stage("coord.lease");
  return h;
}

}  // namespace

// --- Workers -----------------------------------------------------------------

absl::StatusOr<Registration> Coordinator::RegisterWorker(const db::Worker& worker) {
  const int64_t now = clock_.NowMicros();
  ASSIGN_OR_RETURN(db::Worker stored, store_.RegisterWorker(worker, now));
  {
    absl::MutexLock lock(&mu_);
    last_touch_us_[stored.id] = now;
  }
  return Registration{stored.id, absl::ToInt64Milliseconds(options_.heartbeat_interval)};
}

void Coordinator::MaybeTouchWorker(int64_t worker_id, int64_t now_us) {
  // Memory only: the reaper writes it (FlushWorkerTouches), so no call
  // waits for a write to record a sign of life.
  absl::MutexLock lock(&mu_);
  int64_t& seen = last_seen_us_[worker_id];
  seen = std::max(seen, now_us);
}

absl::Status Coordinator::FlushWorkerTouches(int64_t now_us) {
  std::vector<std::pair<int64_t, int64_t>> due;
  {
    absl::MutexLock lock(&mu_);
    const int64_t interval = absl::ToInt64Microseconds(options_.worker_touch_interval);
    for (const auto& [worker_id, seen] : last_seen_us_) {
      int64_t& written = last_touch_us_[worker_id];
      if (seen - written >= interval || (seen > written && now_us - written >= interval)) {
        due.emplace_back(worker_id, seen);
        written = seen;
      }
    }
  }
  return store_.TouchWorkers(due);
}

absl::StatusOr<std::optional<db::Trial>> Coordinator::TryLease(CampaignRuntime& rt,
                                                               int64_t worker_id, int64_t now_us) {
  if (rt.state.load() != db::CampaignState::kRunning) return std::nullopt;
  const db::LeaseRequest request{worker_id, rt.id, now_us,
                                 now_us + int64_t{rt.config.lease_seconds} * 1'000'000};
  // One write: the oldest PENDING trial, or else a new trial made from a
  // proposal sampled ahead (by the proposer thread, or here when none is
  // ready). No campaign lock is held across the write: admit_mu only to
  // reserve the budget and take a proposal, mu only to sample inline.
  static StageHistogram& take_stage = Stage("coord.lease.take_proposal");
  StageTimer take_time(take_stage);
  ASSIGN_OR_RETURN(std::optional<Proposal> proposal, TakeProposal(rt, now_us));
  take_time.Stop();
  if (!proposal.has_value()) {
    // A completion the store refused when the last trial finished is
    // retried by every lease request until it is written.
    bool may_be_done = false;
    {
      absl::MutexLock admit(&rt.admit_mu);
      may_be_done = rt.total_trials >= rt.max_trials && rt.unfinished_trials == 0;
    }
    if (may_be_done) {
      absl::MutexLock lock(&rt.mu);
      rt.DrainFinished();
      RETURN_IF_ERROR(MaybeCompleteCampaign(rt));
      return std::nullopt;
    }
    // No budget or room for a new trial: only a PENDING one can be leased.
    // A read first (never queued behind writes): a campaign at max_parallel
    // mostly has none, and then the lease costs no write. One requeued but
    // not yet committed is found by the worker's next try.
    ASSIGN_OR_RETURN(db::TrialCounts counts, store_.CountTrials(rt.id));
    if (counts.pending == 0) return std::nullopt;
    static StageHistogram& lease_write = Stage("coord.lease.store");
    StageTimer lease_time(lease_write);
    absl::StatusOr<std::optional<db::Trial>> leased = store_.LeaseTrial(request);
    if (!leased.ok() || !leased->has_value()) return leased;
    AddLease((*leased)->lease_token,
             {rt.id, (*leased)->id, worker_id, (*leased)->lease_deadline_us,
              (*leased)->lease_deadline_us, request.deadline_us - request.now_us});
    NotifyEvents();
    return leased;
  }
  static StageHistogram& lease_write = Stage("coord.lease.store");
  StageTimer lease_time(lease_write);
  absl::StatusOr<db::LeaseOutcome> outcome =
      store_.LeaseOrInsertTrial(request, {proposal->spec_json, proposal->params_json});
  lease_time.Stop();
  if (!outcome.ok() || !outcome->inserted) {
    // A PENDING trial was leased instead (or nothing): keep the proposal.
    ReturnProposal(rt, *std::move(proposal));
    RETURN_IF_ERROR(outcome.status());
  } else {
    NoteRejected(rt.id, proposal->rejected, request.now_us);
    static StageHistogram& record_stage = Stage("coord.lease.record");
    StageTimer record_time(record_stage);
    absl::MutexLock lock(&rt.mu);
    rt.DrainFinished();
    const int64_t id = outcome->trial->id;
    // The trial may have ended already (it cannot before this lease is
    // answered, short of an expiry); then it is in the history as finished.
    if (rt.finished_unrecorded.erase(id) != 0) {
      rt.history.DropPending(proposal->provisional_id);
    } else {
      rt.history.RenamePending(proposal->provisional_id, id);
    }
  }
  if (!outcome->trial.has_value()) return std::nullopt;
  const db::Trial& trial = *outcome->trial;
  AddLease(trial.lease_token, {rt.id, trial.id, worker_id, trial.lease_deadline_us,
                               trial.lease_deadline_us, request.deadline_us - request.now_us});
  NotifyEvents();
  return outcome->trial;
}

absl::StatusOr<LeaseGrant> Coordinator::LeaseTrial(int64_t worker_id, bool can_score) {
  StageTimer timer(LeaseStage());
  const int64_t now = clock_.NowMicros();
  absl::Status first_error;
  if (can_score) {
    // Scoring jobs first: they are short and a user waits on each.
    absl::StatusOr<std::optional<LeaseGrant>> score = TryLeaseScore(worker_id, now);
    if (!score.ok()) {
      first_error = score.status();
    } else if (score->has_value()) {
      absl::MutexLock lock(&mu_);
      last_touch_us_[worker_id] = now;
      return **std::move(score);
    }
  }
  std::vector<std::shared_ptr<CampaignRuntime>> running;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, rt] : campaigns_) running.push_back(rt);  // oldest first
  }
  LeaseGrant grant;
  for (const std::shared_ptr<CampaignRuntime>& rt : running) {
    // A campaign that scores its trials needs a worker that can.
    if (rt->config.neural.has_value() && !can_score) continue;
    absl::StatusOr<std::optional<db::Trial>> trial = TryLease(*rt, worker_id, now);
    if (!trial.ok()) {
      // One campaign in trouble (or an unknown worker) must not starve the
      // others; report the error only when nothing else could be leased.
      if (first_error.ok()) first_error = trial.status();
      continue;
    }
    if (!trial->has_value()) continue;
    grant.has_trial = true;
    grant.trial = **std::move(trial);
    grant.data_json = rt->config.data_json;
    grant.neural_json = rt->config.neural_json;
    grant.heartbeat_interval_ms = std::min(absl::ToInt64Milliseconds(options_.heartbeat_interval),
                                           int64_t{rt->config.lease_seconds} * 1000 / 3);
    absl::MutexLock lock(&mu_);
    last_touch_us_[worker_id] = now;  // LeaseTrial wrote last_seen
    return grant;
  }
  // Nothing to do; still a sign of life (and NOT_FOUND for an unknown
  // worker): in memory for a worker known since this process started (the
  // reaper writes it), else a write that checks the worker exists.
  bool known = false;
  {
    absl::MutexLock lock(&mu_);
    known = last_touch_us_.count(worker_id) != 0;
  }
  if (known) {
    MaybeTouchWorker(worker_id, now);
  } else {
    RETURN_IF_ERROR(store_.TouchWorker(worker_id, now));
    absl::MutexLock lock(&mu_);
    last_touch_us_[worker_id] = now;
  }
  RETURN_IF_ERROR(first_error);
  grant.retry_after_ms = absl::ToInt64Milliseconds(options_.retry_after);
  return grant;
}

std::optional<Coordinator::LeaseInfo> Coordinator::FindLease(int64_t token) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(token);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

void Coordinator::AddLease(int64_t token, const LeaseInfo& info) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(token);
  if (it != leases_.end()) EraseLeaseLocked(it);
  leases_[token] = info;
  lease_of_trial_[info.trial_id] = token;
}

void Coordinator::StoredDeadline(int64_t token, int64_t deadline_us) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(token);
  if (it == leases_.end()) return;
  LeaseInfo& lease = it->second;
  lease.stored_deadline_us = std::max(lease.stored_deadline_us, deadline_us);
  lease.deadline_us = std::max(lease.deadline_us, deadline_us);
}

void Coordinator::EraseLeaseLocked(std::map<int64_t, LeaseInfo>::iterator it) {
  const int64_t token = it->first;
  auto by_trial = lease_of_trial_.find(it->second.trial_id);
  if (by_trial != lease_of_trial_.end() && by_trial->second == token) {
    lease_of_trial_.erase(by_trial);
  }
  leases_.erase(it);
}

bool Coordinator::EraseLease(int64_t token) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(token);
  if (it == leases_.end()) return false;
  EraseLeaseLocked(it);
  return true;
}

void Coordinator::EraseLeaseOfTrial(int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  auto by_trial = lease_of_trial_.find(trial_id);
  if (by_trial == lease_of_trial_.end()) return;
  auto it = leases_.find(by_trial->second);
  if (it != leases_.end()) {
    EraseLeaseLocked(it);
  } else {
    lease_of_trial_.erase(by_trial);
  }
}

namespace {

absl::Status StaleLease(int64_t token) {
  return absl::FailedPreconditionError(
      absl::StrCat("lease ", token, " is not held: it expired, was taken over or its trial ended"));
}

absl::Status WrongWorker(int64_t token, int64_t holder, int64_t caller) {
  return absl::FailedPreconditionError(
      absl::StrCat("lease ", token, " is held by worker ", holder, ", not worker ", caller));
}

}  // namespace

absl::StatusOr<HeartbeatResult> Coordinator::Heartbeat(int64_t worker_id, int64_t lease_token) {
  static StageHistogram& stage = Stage("coord.heartbeat");
  StageTimer timer(stage);
  HeartbeatResult result;
  std::optional<LeaseInfo> info = FindLease(lease_token);
  if (!info.has_value()) return ScoreHeartbeat(worker_id, lease_token);
  if (info->worker_id != worker_id) {
    result.lease_lost = true;
    MaybeTouchWorker(worker_id, clock_.NowMicros());
    return result;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> rt, Runtime(info->campaign_id));
  if (rt->Stopped()) {
    const int64_t now = clock_.NowMicros();
    absl::StatusOr<db::Trial> released = store_.ReleaseLease(lease_token, "campaign stopped", now);
    EraseLease(lease_token);
    if (released.ok()) NotifyEvents();
    result.lease_lost = true;
    return result;
  }
  const int64_t lease_us = int64_t{rt->config.lease_seconds} * 1'000'000;
  int64_t now = 0, deadline = 0;
  bool write = false;
  {
    // The clock is read under mu_, as ReapOnce reads it, so a heartbeat
    // either moves the deadline before the reaper looks or sees the lease
    // overdue and asks the store.
    absl::MutexLock lock(&mu_);
    now = clock_.NowMicros();
    deadline = now + lease_us;
    auto it = leases_.find(lease_token);
    if (it == leases_.end()) {
      result.lease_lost = true;
      return result;
    }
    LeaseInfo& lease = it->second;
    // Overdue: the reaper may have expired it in the store; ask the store.
    // Otherwise memory only: the reaper writes deadlines that lag.
    write = lease.deadline_us < now;
    if (!write) lease.deadline_us = std::max(lease.deadline_us, deadline);
  }
  if (write) {
    absl::StatusOr<db::Trial> trial = store_.ExtendLease(lease_token, deadline, now);
    if (!trial.ok()) {
      if (trial.status().code() != absl::StatusCode::kFailedPrecondition) return trial.status();
      EraseLease(lease_token);
      result.lease_lost = true;
      return result;
    }
    StoredDeadline(lease_token, deadline);
  }
  MaybeTouchWorker(worker_id, now);
  result.lease_deadline_us = deadline;
  return result;
}

absl::StatusOr<ProgressResult> Coordinator::ReportProgress(int64_t worker_id, int64_t lease_token,
                                                           int epoch, const Metrics& metrics) {
  if (epoch < 1) return absl::InvalidArgumentError("epoch: must be at least 1");
  static StageHistogram& stage = Stage("coord.report");
  StageTimer timer(stage);
  const int64_t now = clock_.NowMicros();
  std::optional<LeaseInfo> info = FindLease(lease_token);
  if (!info.has_value()) return StaleLease(lease_token);
  if (info->worker_id != worker_id) return WrongWorker(lease_token, info->worker_id, worker_id);
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> runtime, Runtime(info->campaign_id));
  CampaignRuntime& rt = *runtime;
  ProgressResult result;
  if (rt.Stopped()) {
    absl::StatusOr<db::Trial> released = store_.ReleaseLease(lease_token, "campaign stopped", now);
    EraseLease(lease_token);
    RETURN_IF_ERROR(released.status());
    NotifyEvents();
    result.stop = true;
    result.reason = "campaign stopped";
    return result;
  }
  const int64_t deadline = now + int64_t{rt.config.lease_seconds} * 1'000'000;
  absl::StatusOr<db::Trial> trial =
      store_.RecordEpoch(lease_token, epoch, MetricsToJson(metrics), deadline, now);
  if (!trial.ok()) {
    if (trial.status().code() == absl::StatusCode::kFailedPrecondition) EraseLease(lease_token);
    return trial.status();
  }
  StoredDeadline(lease_token, deadline);
  NotifyEvents();
  MaybeTouchWorker(worker_id, now);
  result.lease_deadline_us = deadline;

  search::Decision decision = search::Decision::kContinue;
  if (rt.config.early_stopping.has_value()) {
    absl::MutexLock lock(&rt.mu);
    auto value = metrics.find(rt.config.objectives.front().metric);
    if (rt.stopper != nullptr && value != metrics.end()) {
      decision = rt.stopper->Decide(trial->id, epoch, value->second);
    }
  }
  if (decision == search::Decision::kContinue) return result;

  const std::string reason = absl::StrCat(
      "pruned by ",
      rt.config.early_stopping->rule == search::EarlyStoppingOptions::Rule::kAsha ? "asha"
                                                                                  : "median",
      " at epoch ", epoch);
  absl::StatusOr<db::Trial> pruned = store_.PruneTrial(lease_token, reason, now);
  if (!pruned.ok()) {
    if (pruned.status().code() == absl::StatusCode::kFailedPrecondition) EraseLease(lease_token);
    return pruned.status();
  }
  NotifyEvents();
  OnTrialFinished(rt, *pruned, WithCost(metrics, pruned->spec_json));
  result.stop = true;
  result.reason = reason;
  return result;
}

absl::StatusOr<bool> Coordinator::Complete(int64_t worker_id, int64_t lease_token,
                                           const Metrics& metrics) {
  static StageHistogram& stage = Stage("coord.complete");
  StageTimer timer(stage);
  const int64_t now = clock_.NowMicros();
  std::optional<LeaseInfo> info = FindLease(lease_token);
  Metrics final_metrics = metrics;
  if (info.has_value()) {
    if (info->worker_id != worker_id) return WrongWorker(lease_token, info->worker_id, worker_id);
    if (!metrics.count("params") || !metrics.count("flops")) {
      ASSIGN_OR_RETURN(db::Trial trial, store_.GetTrial(info->trial_id));
      final_metrics = WithCost(metrics, trial.spec_json);
    }
  }
  // Without a known lease the store still answers: ALREADY_EXISTS for a
  // retried completion of this lease, FAILED_PRECONDITION for a stale one.
  absl::StatusOr<db::Trial> trial =
      store_.CompleteTrial(lease_token, MetricsToJson(final_metrics), now);
  if (trial.status().code() == absl::StatusCode::kAlreadyExists) {
    // Completed by this lease before. A lease still held here means that
    // completion was written but its answer lost before the trial was
    // finished in memory: finish it now, once (whoever erases the lease).
    if (info.has_value() && EraseLease(lease_token)) {
      RETURN_IF_ERROR(FinishStoredCompletion(info->trial_id));
    }
    return true;
  }
  if (!trial.ok()) {
    if (trial.status().code() == absl::StatusCode::kFailedPrecondition) EraseLease(lease_token);
    return trial.status();
  }
  NotifyEvents();
  MaybeTouchWorker(worker_id, now);
  // A concurrent retry of this completion may have finished it already.
  if (info.has_value() && !EraseLease(lease_token)) return false;
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> rt, Runtime(trial->campaign_id));
  OnTrialFinished(*rt, *trial, final_metrics);
  return false;
}

absl::Status Coordinator::FinishStoredCompletion(int64_t trial_id) {
  ASSIGN_OR_RETURN(const db::Trial trial, store_.GetTrial(trial_id));
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> rt, Runtime(trial.campaign_id));
  OnTrialFinished(*rt, trial, ParseMetricsJson(trial.metrics_json));
  return absl::OkStatus();
}

absl::StatusOr<FailResult> Coordinator::Fail(int64_t worker_id, int64_t lease_token,
                                             const std::string& reason, bool retryable) {
  const int64_t now = clock_.NowMicros();
  std::optional<LeaseInfo> info = FindLease(lease_token);
  if (!info.has_value()) return StaleLease(lease_token);
  if (info->worker_id != worker_id) return WrongWorker(lease_token, info->worker_id, worker_id);
  absl::StatusOr<db::Trial> trial = store_.FailTrial(
      lease_token, reason.empty() ? "failed (no reason given)" : reason, retryable, now);
  if (!trial.ok()) {
    if (trial.status().code() == absl::StatusCode::kFailedPrecondition) EraseLease(lease_token);
    return trial.status();
  }
  NotifyEvents();
  MaybeTouchWorker(worker_id, now);
  FailResult result{trial->state == db::TrialState::kPending, trial->attempt};
  if (result.requeued) {
    EraseLease(lease_token);
  } else {
    ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> rt, Runtime(trial->campaign_id));
    OnTrialFinished(*rt, *trial, {});
  }
  return result;
}

// --- Reaper ------------------------------------------------------------------

absl::Status Coordinator::FlushLeaseDeadlines(int64_t now_us) {
  // Deadlines heartbeats moved in memory: written when the stored one lags
  // by more than half a lease (so after a crash a lease has at least half
  // its time left, plus restart_grace), and, before the store expires
  // anything, for every lease alive in memory whose stored deadline passed.
  // A heartbeat after this look sees its lease overdue (the clock is read
  // under mu_ on both sides) and extends it in the store itself.
  std::vector<std::pair<int64_t, int64_t>> due;  // (token, deadline)
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [token, lease] : leases_) {
      if (lease.deadline_us <= lease.stored_deadline_us) continue;
      const bool overtaken = lease.stored_deadline_us < now_us && lease.deadline_us >= now_us;
      const bool lagging = lease.deadline_us - lease.stored_deadline_us > lease.lease_us / 2;
      if (overtaken || lagging) due.emplace_back(token, lease.deadline_us);
    }
  }
  if (due.empty()) return absl::OkStatus();
  static StageHistogram& stage = Stage("coord.reaper.flush_deadlines");
  StageTimer timer(stage);
  ASSIGN_OR_RETURN(std::vector<int64_t> lost,
                   store_.ExtendLeases(due, now_us));  // expiring now could take a live lease
  for (const auto& [token, deadline] : due) StoredDeadline(token, deadline);
  for (int64_t token : lost) EraseLease(token);  // the lease ended meanwhile
  return absl::OkStatus();
}

absl::StatusOr<int> Coordinator::ReapOnce() {
  int64_t now = 0;
  {
    absl::MutexLock lock(&mu_);
    now = clock_.NowMicros();
  }
  // A failed flush of last-seen times costs nothing but freshness.
  (void)FlushWorkerTouches(now);
  if (absl::Status s = FlushLeaseDeadlines(now); !s.ok()) return s;
  ASSIGN_OR_RETURN(std::vector<db::Trial> expired, store_.ExpireLeases(now));
  for (const db::Trial& trial : expired) {
    if (trial.state != db::TrialState::kFailed) {
      EraseLeaseOfTrial(trial.id);
      continue;
    }
    ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> rt, Runtime(trial.campaign_id));
    OnTrialFinished(*rt, trial, {});
  }
  ASSIGN_OR_RETURN(std::vector<db::Score> scores, store_.ExpireScoreLeases(now));
  if (!expired.empty() || !scores.empty()) NotifyEvents();
  if (options_.on_leases_expired) {
    options_.on_leases_expired(static_cast<int>(expired.size()), static_cast<int>(scores.size()));
  }
  return static_cast<int>(expired.size() + scores.size());
}

void Coordinator::ReaperLoop() {
  while (true) {
    const int64_t wake = clock_.NowMicros() + absl::ToInt64Microseconds(options_.reap_interval);
    if (!clock_.SleepUntil(wake, &stop_reaper_)) return;
    // A failed pass (the store busy) is retried at the next interval.
    (void)ReapOnce();
  }
}

}  // namespace convrnn::server
