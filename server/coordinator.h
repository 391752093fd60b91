// The coordinator: owns campaigns, proposes trials through search/, leases
// them to workers, reaps expired leases, decides early stopping, and feeds
// watchers. It knows nothing of gRPC: server/service.h translates the wire
// contract (proto/convrnn.proto) to these calls, one call per RPC.
//
// Durability: every state change goes through Store (one SQLite transaction,
// group-committed with whatever other calls are writing at the same time)
// before a call returns, so an RPC is acknowledged only once it is durable.
// The exceptions are a lease's deadline and a worker's last-seen time: the
// coordinator is the single writer, so its in-memory deadline is
// authoritative, and a heartbeat moves it in memory only (a heartbeat never
// waits for a write, but on a lease already overdue). The reaper writes, in
// one batch per pass, every stored deadline that lags the in-memory one by
// more than half the campaign's lease_seconds, and every one that is about
// to overtake a lease alive in memory; so the store never expires a lease
// the coordinator still holds, and a stored deadline is at most
// lease_seconds / 2 + reap_interval behind. After a restart Create() gives
// every live lease a grace in proportion to its campaign's lease
// (CoordinatorOptions::restart_grace_leases), which covers what was kept only
// in memory and lets live workers reconnect; the grace is anchored to when
// the lease's worker was last heard of, so restarts however frequent never
// keep a dead worker's lease alive for more than about two lease periods.
// Last-seen times are written the same way, by the reaper, at most once per
// worker_touch_interval.
//
// Latency (docs/performance.md, "Coordinator latency"): a lease is one
// write (the oldest PENDING trial, or a new trial inserted and leased in the
// same transaction) from a proposal sampled ahead by a proposer thread
// (CoordinatorOptions::proposals_ahead), so no lease waits for a sampler and
// no campaign lock is held across a write; every write is group-committed
// by the store's writer thread and fsynced outside it (db/sqlite_store.h).
// In-memory state is otherwise a cache of the store, rebuilt once by Create():
//   * per campaign: the parsed config, its sampler and sampler History, its
//     early stopper (replayed from the stored epochs), and its state;
//   * the live leases: token -> (campaign, trial, worker), so a heartbeat
//     needs no read to find the lease's campaign and lease_seconds.
//
// What each call costs (n = the campaign's trials; no hot path reads every
// trial; "write" is one SQLite transaction on the single writer):
//   RegisterWorker   1 write.
//   LeaseTrial       per RUNNING campaign tried, oldest first: 1 write (lease
//                    a PENDING trial, or, when there is none and the budget
//                    (counted in memory) allows, insert a proposal sampled
//                    ahead and lease it). Sampling (flat in n, see
//                    search/sampler.h) runs on the proposer thread, or in
//                    the lease only when no proposal is ready. Nothing to
//                    give: + 1 write (worker seen).
//   Heartbeat        no write: the deadline and last-seen time move in
//                    memory (the reaper writes them); 1 write only when the
//                    lease is overdue or its campaign stopped.
//   ReportProgress   1 write (record epoch + extend; last-seen in memory); with early stopping an
//                    O(log r) decision in memory (r = reports at that rung),
//                    and 1 write when it prunes.
//   CompleteTrial    1 write, + 1 indexed read when params/flops must be
//                    estimated; "is the campaign done?" is answered from
//                    the trial counts kept in memory.
//   FailTrial        1 write.
//   Reaper           every Options::reap_interval: 1 write of the last-seen
//                    times due, 1 write of the lease deadlines due (a scan
//                    of the lease table in memory), 1 write expiring what
//                    the store holds overdue (indexed on the deadline).
//   Get/List*        indexed reads, one page at a time; counts via CountTrials.
//   Best             TopTrials: 1 indexed read of k rows.
//   Pareto, Export   read every trial of the campaign (user queries, not on
//   Importance       the worker path); Export a page at a time (export.h).
//   Watch            1 indexed ListEvents read per batch; watchers sleep on a
//                    condition variable between appends.
//   Create (start)   reads every trial of each RUNNING/STOPPED campaign once
//                    (and, with early stopping, its epochs) to rebuild the
//                    History and the stopper's rungs; ended campaigns load
//                    lazily, on their first query.
//
// Thread-safety: every public method may be called from many threads at once.
// A campaign's sampler, history and early stopper are serialised by that
// campaign's mutex (its state is an atomic, read without it); the lease
// table, with the in-memory deadlines, by the coordinator's.
#ifndef CONVRNN_SERVER_COORDINATOR_H_
#define CONVRNN_SERVER_COORDINATOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "db/store.h"
#include "search/importance.h"
#include "server/campaign.h"
#include "server/metrics.h"
#include "util/clock.h"

namespace convrnn::server {

// Longest launch request id accepted (the client makes 32 hex digits).
inline constexpr size_t kMaxRequestIdBytes = 128;

struct CoordinatorOptions {
  // How often the reaper thread expires overdue leases. Default: 1 s.
  absl::Duration reap_interval = absl::Seconds(1);
  // Run the reaper thread. Tests that drive ReapOnce() themselves may turn
  // it off. Default: true.
  bool start_reaper = true;
  // After a restart a live lease of a campaign with lease_seconds L may not
  // expire before min(restart + g, worker last seen + L + g), g = this
  // factor times L (and never before its stored deadline): workers that
  // trained on while the coordinator was down can reach it again, while a
  // dead worker's lease lapses within L + g of its last heartbeat however
  // often the coordinator restarts. Default: 1 (a dead worker's trial is
  // re-leased within about two lease periods of its death).
  double restart_grace_leases = 1.0;
  // Heartbeat interval given to workers at registration, and the most a
  // lease asks for; a lease asks for at most a third of its lease_seconds.
  // Default: 10 s.
  absl::Duration heartbeat_interval = absl::Seconds(10);
  // When there is nothing to lease: ask again after this long. Default: 2 s.
  absl::Duration retry_after = absl::Seconds(2);
  // A worker not heard from for this long is presumed dead (three leases of
  // the default 60 s). Default: 3 min.
  absl::Duration worker_dead_after = absl::Minutes(3);
  // Heartbeats and reports record the worker's last-seen time at most this
  // often, saving a write per call. Default: 5 s.
  absl::Duration worker_touch_interval = absl::Seconds(5);
  // Lease of a scoring job (ScoreTrial), extended by heartbeats; workers
  // heartbeat it every third of it (at most heartbeat_interval). Default: 120 s.
  absl::Duration score_lease = absl::Seconds(120);
  // Proposals each RUNNING campaign keeps sampled ahead of the leases that
  // store them (at most its max_parallel and remaining budget, less what is
  // in flight), by a proposer thread started with the reaper; a lease
  // samples itself only when none is ready. 0: sample in the lease.
  // Default: 32.
  int proposals_ahead = 32;
  // Page size when a request asks for 0, and the most one page holds.
  // Defaults: 100 and 1000.
  int default_page_size = 100;
  int max_page_size = 1000;
  // Told how many trial and scoring-job leases each reaper pass expired
  // (server/telemetry.h counts them); called on the reaper's thread. Default: none.
  std::function<void(int trials, int scores)> on_leases_expired;
};

// A campaign with its trials per state.
struct CampaignView {
  db::Campaign campaign;
  db::TrialCounts counts;
};

struct CampaignPage {
  std::vector<CampaignView> campaigns;
  int64_t next_before_id = 0;  // 0: this was the last page
};

struct TrialPage {
  std::vector<db::Trial> trials;
  int64_t next_after_number = 0;  // 0: this was the last page
};

struct TrialDetail {
  db::Trial trial;
  std::vector<db::EpochReport> epochs;
  std::vector<db::Score> scores;  // neural scores asked for, oldest first
};

struct RankedTrials {
  std::string metric;
  bool maximize = true;
  std::vector<db::Trial> trials;  // best first
};

struct ParetoFrontResult {
  std::vector<Objective> objectives;
  std::vector<db::Trial> trials;  // non-dominated, best first by the first objective
};

struct ExportedDocument {
  std::string content_type;  // "text/csv" or "application/json"
  std::string content;
};

struct ImportanceResult {
  std::string metric;                           // the final metric explained
  int64_t trials = 0;                           // completed trials with a value of it
  std::vector<search::ParamImportance> params;  // most important first
};

struct WorkerView {
  db::Worker worker;
  bool presumed_dead = false;
};

struct Registration {
  int64_t worker_id = 0;
  int64_t heartbeat_interval_ms = 0;
};

struct LeaseGrant {
  bool has_trial = false;
  // When has_trial: the trial to train (trial.lease_token is the fencing
  // token) or, when `score` is set, the completed trial to score
  // (score->lease_token is the fencing token).
  db::Trial trial;
  std::optional<db::Score> score;
  std::string data_json;    // the campaign's canonical data spec
  std::string neural_json;  // training: the campaign's neural section ("" if none);
                            // scoring: the job's
  int64_t heartbeat_interval_ms = 0;
  int64_t retry_after_ms = 0;  // when !has_trial
};

struct HeartbeatResult {
  bool lease_lost = false;
  int64_t lease_deadline_us = 0;
};

struct ProgressResult {
  bool stop = false;
  std::string reason;  // why stop
  int64_t lease_deadline_us = 0;
};

struct FailResult {
  bool requeued = false;
  int attempt = 0;
};

// A batch of a campaign's events for a watcher.
struct EventBatch {
  std::vector<db::Event> events;
  // The campaign has ended (COMPLETED or FAILED) and every event was read:
  // the watch is over.
  bool finished = false;
};

class Coordinator {
 public:
  // Loads every campaign from the store, rebuilds the in-memory state, gives
  // live leases the restart grace period and starts the reaper.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Create(
      db::Store& store, Clock& clock, const CoordinatorOptions& options = {});
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;
  // Calls Shutdown().
  ~Coordinator();

  // Stops the reaper and wakes every AwaitEvents caller. Idempotent. Calls
  // made afterwards still work (the store stays open until it is destroyed).
  void Shutdown();

  // --- Campaigns (CampaignService) ---------------------------------------
  // Validates (INVALID_ARGUMENT naming the key path) and stores a campaign
  // in state RUNNING. Its trials are proposed as workers ask for them.
  // A non-empty `request_id` (at most kMaxRequestIdBytes of A-Z a-z 0-9
  // - _ . :) makes the launch idempotent: when a campaign was already
  // launched with it, the same document returns that campaign (OK, nothing
  // new stored) and a different one is ALREADY_EXISTS naming the id.
  absl::StatusOr<CampaignView> Launch(const std::string& campaign_json,
                                      const std::string& request_id = "");
  // Newest first; before_id 0 starts at the newest. page_size 0: default.
  absl::StatusOr<CampaignPage> ListCampaigns(int64_t before_id, int page_size);
  absl::StatusOr<CampaignView> GetCampaign(int64_t campaign_id);
  // In trial-number order, after `after_number`; `state` unset: every state.
  absl::StatusOr<TrialPage> ListTrials(int64_t campaign_id, std::optional<db::TrialState> state,
                                       int64_t after_number, int page_size);
  absl::StatusOr<TrialDetail> GetTrial(int64_t trial_id);
  // No new leases; trials in flight are told to stop at their next report or
  // heartbeat and go back to PENDING (no attempt spent). Stopping a stopped
  // campaign is a no-op; an ended one is FAILED_PRECONDITION.
  absl::StatusOr<CampaignView> Stop(int64_t campaign_id);
  // STOPPED -> RUNNING (RUNNING: no-op; ended: FAILED_PRECONDITION).
  absl::StatusOr<CampaignView> Resume(int64_t campaign_id);
  // Adds trials with fixed specs (coordinator_plan.cc): each must lie in the
  // campaign's space (INVALID_ARGUMENT naming specs[i] and the key path) and,
  // with a budget, is scaled to it like any candidate. They are PENDING, so
  // they are leased before the sampler proposes, count toward max_trials,
  // and are told to the sampler like any result. A RUNNING or STOPPED
  // campaign only (FAILED_PRECONDITION otherwise: extend it first).
  absl::StatusOr<std::vector<db::Trial>> Enqueue(int64_t campaign_id,
                                                 const std::vector<std::string>& spec_jsons);
  // Raises max_trials (and max_parallel when > 0) of a RUNNING, STOPPED or
  // COMPLETED campaign; a COMPLETED one becomes RUNNING. The stored config
  // is rewritten, so a restart keeps the new budget. INVALID_ARGUMENT when
  // max_trials is below the current one; FAILED_PRECONDITION for FAILED.
  absl::StatusOr<CampaignView> Extend(int64_t campaign_id, int max_trials, int max_parallel);
  // Top-k completed trials by `metric` (empty: the first objective); `goal`
  // "max"/"min" (empty: the objective's goal, or max). top_k 0: 10.
  absl::StatusOr<RankedTrials> Best(int64_t campaign_id, int top_k, const std::string& metric,
                                    const std::string& goal);
  // `objectives` as "metric:max"/"metric:min"; empty: val_top1:max, params:min.
  absl::StatusOr<ParetoFrontResult> Pareto(int64_t campaign_id,
                                           const std::vector<std::string>& objectives);
  // "csv" or "json": one row/object per trial.
  absl::StatusOr<ExportedDocument> Export(int64_t campaign_id, const std::string& format);
  absl::StatusOr<std::vector<WorkerView>> ListWorkers(bool include_dead);

  // --- Analysis (coordinator_analysis.cc): user queries, off the worker path
  // A trial's per-epoch reports, oldest first (one indexed read).
  absl::StatusOr<std::vector<db::EpochReport>> TrialEpochs(int64_t trial_id);
  // The campaign's parsed config (space, objectives), shared with its runtime.
  absl::StatusOr<std::shared_ptr<const CampaignConfig>> Config(int64_t campaign_id);
  // fANOVA importance of the searched parameters for final metric `metric`
  // (empty: the first objective) over the completed trials
  // (search/importance.h); reads every completed trial.
  absl::StatusOr<ImportanceResult> Importance(int64_t campaign_id, const std::string& metric);

  // --- Workers (WorkerService) -------------------------------------------
  absl::StatusOr<Registration> RegisterWorker(const db::Worker& worker);
  // The next job for `worker_id` (NOT_FOUND for an unknown worker), or
  // has_trial false with a retry delay. Only a worker that `can_score` is
  // given scoring jobs (first: a user waits on them) and trials of
  // campaigns with a neural section.
  absl::StatusOr<LeaseGrant> LeaseTrial(int64_t worker_id, bool can_score = false);
  // Extends the lease by its campaign's lease_seconds; lease_lost when the
  // lease is stale or its campaign was stopped.
  absl::StatusOr<HeartbeatResult> Heartbeat(int64_t worker_id, int64_t lease_token);
  // Records the epoch, extends the lease and asks the early stopper.
  // FAILED_PRECONDITION for a stale lease.
  absl::StatusOr<ProgressResult> ReportProgress(int64_t worker_id, int64_t lease_token, int epoch,
                                                const Metrics& metrics);
  // Completes the trial exactly once; returns true when this lease had
  // already completed it (a retried call). params and flops are estimated
  // from the spec when missing. FAILED_PRECONDITION for a stale lease.
  absl::StatusOr<bool> Complete(int64_t worker_id, int64_t lease_token, const Metrics& metrics);
  // Retryable with attempts left: back to PENDING; else FAILED.
  absl::StatusOr<FailResult> Fail(int64_t worker_id, int64_t lease_token, const std::string& reason,
                                  bool retryable);

  // --- Neural scores (coordinator_scores.cc) -----------------------------
  // Queues a scoring job for a COMPLETED trial. `neural_json` is a neural
  // section (spec/neural_spec.h): INVALID_ARGUMENT naming the key path;
  // NOT_FOUND for an unknown trial; FAILED_PRECONDITION when not COMPLETED.
  absl::StatusOr<db::Score> ScoreTrial(int64_t trial_id, const std::string& neural_json);
  absl::StatusOr<db::Score> GetScore(int64_t score_id);
  // Stores the report; true when this lease had already completed it.
  // FAILED_PRECONDITION for a stale lease.
  absl::StatusOr<bool> CompleteScore(int64_t worker_id, int64_t lease_token,
                                     const std::string& result_json);
  // The job fails for good with `reason` and `code` (an absl::StatusCode).
  absl::Status FailScore(int64_t worker_id, int64_t lease_token, const std::string& reason,
                         int code);

  // --- Reaper -------------------------------------------------------------
  // Expires every overdue lease now (what the reaper thread does each
  // interval); returns how many trials it re-queued or failed.
  absl::StatusOr<int> ReapOnce();

  // --- Watch ---------------------------------------------------------------
  // Events of the campaign with id > after_id, oldest first, at most `limit`.
  absl::StatusOr<EventBatch> ReadEvents(int64_t campaign_id, int64_t after_id, int limit);
  // Rises whenever events may have been appended (any campaign).
  int64_t event_sequence() const;
  // Blocks until event_sequence() > seen, WakeWatchers(), Shutdown(), or
  // `max_wait` passes (a backstop; watchers are normally woken). Returns the
  // current sequence.
  int64_t AwaitEvents(int64_t seen, absl::Duration max_wait);
  // Wakes every AwaitEvents caller (e.g. to let a watch hub notice it is
  // stopping).
  void WakeWatchers();
  // The clock every wait of the coordinator and its watch hub goes through.
  Clock& clock() { return clock_; }

 private:
  struct CampaignRuntime;
  // A suggestion sampled ahead of the lease that stores it: pending in its
  // campaign's history under `provisional_id` (negative) until then, so the
  // sampler counts it as running.
  struct Proposal {
    int64_t provisional_id = 0;
    std::string spec_json;
    std::string params_json;
    // Why the sampler redrew candidates before this one (a parameter budget
    // they could not reach); noted in the event log when it is inserted.
    std::vector<std::string> rejected;
  };
  struct LeaseInfo {
    int64_t campaign_id = 0;
    int64_t trial_id = 0;
    int64_t worker_id = 0;
    int64_t deadline_us = 0;         // authoritative, moved by heartbeats
    int64_t stored_deadline_us = 0;  // what the store holds; <= deadline_us
    int64_t lease_us = 0;            // the campaign's lease_seconds (0: unknown)
  };

  Coordinator(db::Store& store, Clock& clock, const CoordinatorOptions& options);
  absl::Status Load();
  // The in-memory deadline of a live lease found at a restart (see
  // restart_grace_leases). Reads restart_seen_us_; called from Load only.
  int64_t RestartDeadline(const db::Trial& trial, int lease_seconds) const;
  // The runtime of a campaign, loaded from the store on first use.
  absl::StatusOr<std::shared_ptr<CampaignRuntime>> Runtime(int64_t campaign_id);
  absl::StatusOr<std::shared_ptr<CampaignRuntime>> LoadRuntime(const db::Campaign& campaign);
  // REQUIRES: rt.mu held (asserted; the type is incomplete here, so clang's
  // analysis learns it from Mutex::AssertHeld).
  absl::Status RebuildHistory(CampaignRuntime& rt);
  // Leases a trial of `rt` to the worker, proposing one when the campaign
  // has budget and room; nullopt when it has nothing to give.
  absl::StatusOr<std::optional<db::Trial>> TryLease(CampaignRuntime& rt, int64_t worker_id,
                                                    int64_t now_us);
  // Reserves room for a new trial and hands out a proposal (sampled here
  // when none is ready); nullopt when the budget or max_parallel is spent.
  absl::StatusOr<std::optional<Proposal>> TakeProposal(CampaignRuntime& rt, int64_t now_us);
  // Gives back a proposal TakeProposal handed out, and its reservation.
  void ReturnProposal(CampaignRuntime& rt, Proposal proposal);
  // Samples one proposal (REQUIRES rt.mu not held); nullopt when the
  // campaign cannot propose (not RUNNING, or its space is exhausted: FAILED).
  absl::StatusOr<std::optional<Proposal>> Propose(CampaignRuntime& rt, int64_t now_us);
  // Fills rt.ready up to Options::proposals_ahead (and the room left).
  void TopUpProposals(CampaignRuntime& rt);
  void WakeProposer();
  void ProposerLoop();
  // The reaper's flushes: worker last-seen times and lease deadlines kept in
  // memory, one write each.
  absl::Status FlushWorkerTouches(int64_t now_us);
  absl::Status FlushLeaseDeadlines(int64_t now_us);
  // After a trial ended: record it in the history, complete the campaign
  // when its budget is spent and nothing is in flight.
  void OnTrialFinished(CampaignRuntime& rt, const db::Trial& trial, const Metrics& values_from);
  // REQUIRES: rt.mu held.
  absl::Status MaybeCompleteCampaign(CampaignRuntime& rt);
  // Stop and Resume: moves the campaign from `from` to `to`, stored first,
  // and wakes watchers; nothing when it is in `to` already. A campaign in any
  // other state has ended: FAILED_PRECONDITION naming that state, then
  // `refusal`. Returns whether it moved. REQUIRES: rt.mu held.
  absl::StatusOr<bool> MoveCampaignState(CampaignRuntime& rt, db::CampaignState from,
                                         db::CampaignState to, absl::string_view refusal);
  // Feeds the completed trials of config.warm_start campaigns whose space is
  // the same into the history; `note`: append a warm_start event naming
  // those used and those skipped, with why. REQUIRES: rt.mu held, a fresh
  // history (InitSearch).
  absl::Status WarmStart(CampaignRuntime& rt, bool note);
  // A budget_resample event when the sampler redrew candidates.
  void NoteRejected(int64_t campaign_id, const std::vector<std::string>& rejected, int64_t now_us);
  absl::StatusOr<CampaignView> View(const db::Campaign& campaign);
  // Launch's answer when `prior` holds its request id: `prior` when it was
  // launched from the document of SHA-256 `digest`, else ALREADY_EXISTS.
  absl::StatusOr<CampaignView> Relaunch(const db::Campaign& prior, const std::string& digest);
  // A pending scoring job leased to the worker, with its trial and data
  // spec; nullopt when there is none.
  absl::StatusOr<std::optional<LeaseGrant>> TryLeaseScore(int64_t worker_id, int64_t now_us);
  // Heartbeat of a token that holds no trial: a score lease, or lost.
  HeartbeatResult ScoreHeartbeat(int64_t worker_id, int64_t lease_token);
  std::optional<LeaseInfo> FindLease(int64_t token);
  void AddLease(int64_t token, const LeaseInfo& info);
  // Records that the store holds `deadline_us` for the lease (and that the
  // lease lives at least that long).
  void StoredDeadline(int64_t token, int64_t deadline_us);
  // Erases `it` from leases_ and lease_of_trial_.
  void EraseLeaseLocked(std::map<int64_t, LeaseInfo>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the lease was held (the caller that erases it claims it).
  bool EraseLease(int64_t token);
  // Finishes in memory a trial whose completion the store already holds.
  absl::Status FinishStoredCompletion(int64_t trial_id);
  void EraseLeaseOfTrial(int64_t trial_id);
  void MaybeTouchWorker(int64_t worker_id, int64_t now_us);
  absl::StatusOr<std::vector<db::Trial>> AllTrials(int64_t campaign_id,
                                                   std::optional<db::TrialState> state);
  int PageSize(int requested) const;
  void NotifyEvents();
  void ReaperLoop();

  db::Store& store_;
  Clock& clock_;
  const CoordinatorOptions options_;

  absl::Mutex mu_;
  std::map<int64_t, std::shared_ptr<CampaignRuntime>> campaigns_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, LeaseInfo> leases_ ABSL_GUARDED_BY(mu_);        // by token
  std::map<int64_t, int64_t> lease_of_trial_ ABSL_GUARDED_BY(mu_);  // trial -> token
  // worker -> last time the store recorded as its last_seen, and the last
  // time it was heard from (written by the reaper when the two differ by
  // worker_touch_interval).
  std::map<int64_t, int64_t> last_touch_us_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, int64_t> last_seen_us_ ABSL_GUARDED_BY(mu_);
  // When Create() ran, and each worker's stored last-seen time then: the
  // anchors of the restart grace. Written by Load() before the reaper or any
  // call starts, read-only afterwards.
  int64_t restart_us_ = 0;
  std::map<int64_t, int64_t> restart_seen_us_;

  mutable absl::Mutex events_mu_;
  int64_t event_seq_ ABSL_GUARDED_BY(events_mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(events_mu_) = false;

  absl::Notification stop_reaper_;
  std::thread reaper_;
  absl::Mutex proposer_mu_;
  bool proposer_wake_ ABSL_GUARDED_BY(proposer_mu_) = false;
  std::thread proposer_;
};

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_COORDINATOR_H_
