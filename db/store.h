// The coordinator's durable state: campaigns, trials and their leases,
// per-epoch metrics, workers and the event log.
//
// Store is the only way the rest of the program reaches the database; db/ is
// the only code that speaks SQL. Every mutating call is atomic and durable
// when the call returns OK (calls that write at the same time may share one
// commit: group commit, see sqlite_store.h), so the coordinator may acknowledge an
// RPC right after it (an acknowledged change survives kill -9 and, with
// Options::sync_full, a power cut).
//
// Time is never read here: callers pass `now_us` (microseconds since the Unix
// epoch) from their injected clock, which makes lease logic testable with a
// fake clock.
//
// Leases and fencing: LeaseTrial hands a PENDING trial to a worker with a new
// lease token, unique over the life of the database and never reused. Every
// later call about that trial (extend, progress, complete, fail, prune) names
// the token; once the lease has expired, been reaped or been replaced, the
// token is stale and the call fails with FAILED_PRECONDITION and changes
// nothing. A trial completes at most once.
//
// Each trial state change also appends an Event in the same transaction, so
// a watcher resuming from an event id never misses a change.
//
// Thread-safety: a Store is safe to call from many threads. Writes are
// serialized on one connection; reads use separate connections and do not
// wait for writes.
#ifndef CONVRNN_DB_STORE_H_
#define CONVRNN_DB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace convrnn::db {

enum class TrialState { kPending, kLeased, kRunning, kCompleted, kFailed, kPruned };
enum class CampaignState { kRunning, kStopped, kCompleted, kFailed };
enum class ScoreState { kPending, kLeased, kCompleted, kFailed };

// "PENDING", "LEASED", ... (the names stored in the database and shown to users).
absl::string_view TrialStateName(TrialState state);
absl::string_view CampaignStateName(CampaignState state);
// Inverse of the above, case-sensitive; INVALID_ARGUMENT for an unknown name.
absl::StatusOr<TrialState> ParseTrialState(absl::string_view name);
absl::StatusOr<CampaignState> ParseCampaignState(absl::string_view name);
absl::string_view ScoreStateName(ScoreState state);
absl::StatusOr<ScoreState> ParseScoreState(absl::string_view name);

struct Campaign {
  int64_t id = 0;
  std::string name;
  CampaignState state = CampaignState::kRunning;
  std::string config_json;  // The campaign JSON as launched.
  int max_attempts = 3;     // Leases a trial may use before it fails.
  int64_t created_us = 0;
  int64_t updated_us = 0;
  // The launch's request id and the digest of the document it launched
  // (schema v4, see NewCampaign); "" when launched without one.
  std::string request_id;
  std::string request_digest;
};

struct Trial {
  int64_t id = 0;
  int64_t campaign_id = 0;
  int64_t number = 0;  // 1, 2, ... within the campaign.
  TrialState state = TrialState::kPending;
  int attempt = 1;                // Current or last attempt, from 1.
  int64_t worker_id = 0;          // Holder of the current (or last) lease; 0 if none.
  int64_t lease_token = 0;        // Current lease; kept after COMPLETED/FAILED/PRUNED
                                  // to name the lease that ended it. 0 if none.
  int64_t lease_deadline_us = 0;  // 0 unless LEASED or RUNNING.
  std::string spec_json;
  std::string params_json;     // Sampled search-space values; "{}" if none.
  std::string metrics_json;    // Final metrics object; "" unless COMPLETED.
  std::string failure_reason;  // Set when FAILED or PRUNED (and last requeue reason).
  int64_t created_us = 0;
  int64_t updated_us = 0;
};

// A neural-predictivity scoring job of a completed trial (schema v3).
struct Score {
  int64_t id = 0;
  int64_t trial_id = 0;
  int64_t campaign_id = 0;
  ScoreState state = ScoreState::kPending;
  int attempt = 1;                // From 1; raised when a lease expires.
  std::string neural_json;        // What to score against (the neural section).
  int64_t worker_id = 0;          // Holder of the current (or last) lease; 0 if none.
  int64_t lease_token = 0;        // Current lease, kept after it ended; 0 if none.
  int64_t lease_deadline_us = 0;  // 0 unless LEASED.
  std::string result_json;        // The report; "" unless COMPLETED.
  std::string error;              // Set when FAILED.
  int error_code = 0;             // absl/gRPC status code of the failure.
  int64_t created_us = 0;
  int64_t updated_us = 0;
};

// Leases a scoring job may use before it fails for good.
inline constexpr int kScoreMaxAttempts = 3;

// One epoch as a worker reported it, stored (its metrics as JSON; the
// trainer's EpochMetrics is what the worker measured).
struct EpochReport {
  int64_t trial_id = 0;
  int epoch = 0;  // From 1.
  int attempt = 0;
  std::string metrics_json;  // JSON object: train_loss, val_top1, ...
  int64_t reported_us = 0;
};

struct Worker {
  int64_t id = 0;
  std::string hostname;
  int64_t pid = 0;
  std::string device;
  std::string version;
  int64_t registered_us = 0;
  int64_t last_seen_us = 0;
  int64_t current_trial_id = 0;  // Trial it holds a live lease on; 0 if idle.
};

// Event types written by the store; callers may append others.
inline constexpr absl::string_view kEventCampaignState = "campaign_state";
inline constexpr absl::string_view kEventTrialCreated = "trial_created";
inline constexpr absl::string_view kEventTrialLeased = "trial_leased";
inline constexpr absl::string_view kEventTrialRunning = "trial_running";
inline constexpr absl::string_view kEventTrialProgress = "trial_progress";
inline constexpr absl::string_view kEventTrialCompleted = "trial_completed";
inline constexpr absl::string_view kEventTrialFailed = "trial_failed";
inline constexpr absl::string_view kEventTrialRequeued = "trial_requeued";
inline constexpr absl::string_view kEventTrialPruned = "trial_pruned";

struct Event {
  int64_t id = 0;  // Increasing over the whole database.
  int64_t campaign_id = 0;
  int64_t trial_id = 0;  // 0 for campaign-level events.
  std::string type;      // One of kEvent* above, or a caller's own.
  // Details as a JSON object, e.g. {"state":"PENDING","attempt":2,
  // "reason":"lease expired"} or {"epoch":3,"metrics":{...}}.
  std::string payload_json;
  int64_t time_us = 0;
};

struct TrialCounts {
  int64_t pending = 0, leased = 0, running = 0, completed = 0, failed = 0, pruned = 0;
  int64_t total() const { return pending + leased + running + completed + failed + pruned; }
};

struct NewCampaign {
  std::string name;
  std::string config_json;
  int max_attempts = 3;  // REQUIRES: >= 1.
  // The client's launch request id, unique over the database (a client
  // retrying a launch whose reply it lost sends the same one); "": none.
  std::string request_id;
  // Kept beside request_id, opaque to the store: what the coordinator
  // compares a retried launch against (a digest of the launched document).
  std::string request_digest;
};

struct LeaseRequest {
  int64_t worker_id = 0;    // REQUIRES: a registered worker.
  int64_t campaign_id = 0;  // 0: any RUNNING campaign (oldest pending trial first).
  int64_t now_us = 0;
  int64_t deadline_us = 0;  // REQUIRES: > now_us.
  // Nonzero: lease this trial of campaign_id only, if it is still PENDING
  // (e.g. one the caller just inserted); nullopt when it is not.
  int64_t trial_id = 0;
};

// What LeaseOrInsertTrial did.
struct LeaseOutcome {
  std::optional<Trial> trial;  // the trial now leased; nullopt: nothing leased
  bool inserted = false;       // true: it is the new trial, made from the proposal
};

// A trial to insert when a campaign has none PENDING.
struct TrialProposal {
  std::string spec_json;
  std::string params_json;
};

struct TrialQuery {
  int64_t campaign_id = 0;
  std::optional<TrialState> state;  // Unset: every state.
  int64_t after_number = 0;         // Paging: trials with number > this.
  int limit = 100;                  // At most this many, by number.
};

struct Options {
  // Create the file (and its schema) when missing. Default: true.
  bool create_if_missing = true;
  // Milliseconds a connection waits for a lock held by another connection
  // before giving up with UNAVAILABLE. Default: 5000.
  int busy_timeout_ms = 5000;
  // Read-only connections serving reads concurrently with the writer. Default: 4.
  int read_connections = 4;
  // PRAGMA synchronous=FULL: fsync the WAL on every commit, so a commit
  // survives a power cut too. NORMAL (false) survives kill -9 but may lose the
  // last commits on power loss. Default: true.
  bool sync_full = true;
  // Run PRAGMA quick_check when opening, so a corrupt file is refused at once
  // rather than at the first unlucky query. Costs a read of the whole file.
  // Default: true.
  bool check_on_open = true;
  // Told the duration of each COMMIT (the fsync with sync_full) and how many
  // calls its group-commit batch held (server/telemetry.h); called on the
  // committing thread with the writer locked, so it must be quick. Default: none.
  std::function<void(absl::Duration commit, int calls)> on_commit;
  // The WAL is checkpointed with TRUNCATE (its file cut back to zero bytes)
  // after a commit leaves it larger than this, and SQLite keeps it at most
  // this large after any checkpoint (journal_size_limit), so the space a
  // burst of writes or a disk-full episode took is given back. Default: 16 MiB.
  int64_t wal_limit_bytes = int64_t{16} << 20;
  // Also checkpoint (TRUNCATE) every this many milliseconds while no write
  // is in progress, so the WAL shrinks even when writes have stopped (after
  // a disk-full episode, say). 0: no timer. Default: 30000.
  int checkpoint_interval_ms = 30000;
};

class Store {
 public:
  // Opens (creating and migrating as needed) the SQLite database at `path`.
  // Errors name the file: DATA_LOSS for a corrupt or non-database file,
  // FAILED_PRECONDITION for a schema newer than this build understands,
  // NOT_FOUND for a missing file without create_if_missing.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     const Options& options = Options());

  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  virtual ~Store() = default;

  // --- Campaigns ---------------------------------------------------------
  // On a full disk every write fails with RESOURCE_EXHAUSTED ("disk full:
  // ... writes are refused until space is freed"); reads go on, and writes
  // work again as soon as there is space, without reopening.
  // Stores a new campaign in state RUNNING. ALREADY_EXISTS (naming the
  // request id) when a campaign with the same non-empty request_id is stored.
  virtual absl::StatusOr<Campaign> CreateCampaign(const NewCampaign& campaign, int64_t now_us) = 0;
  virtual absl::StatusOr<Campaign> GetCampaign(int64_t campaign_id) = 0;
  // The campaign launched with `request_id`; nullopt when there is none.
  // REQUIRES: request_id is not empty.
  virtual absl::StatusOr<std::optional<Campaign>> FindCampaignByRequest(
      absl::string_view request_id) = 0;
  // Newest first; campaigns with id < before_id (0: from the newest).
  virtual absl::StatusOr<std::vector<Campaign>> ListCampaigns(int64_t before_id, int limit) = 0;
  // Appends a campaign_state event when the state changes.
  virtual absl::Status SetCampaignState(int64_t campaign_id, CampaignState state,
                                        int64_t now_us) = 0;

  // Replaces a campaign's stored config (convrnn extend) and, when `state`
  // is set, its state, in one transaction that appends a `event_type` event
  // with `payload_json` (and a campaign_state event when the state changes).
  virtual absl::Status UpdateCampaignConfig(int64_t campaign_id, const std::string& config_json,
                                            std::optional<CampaignState> state,
                                            absl::string_view event_type,
                                            const std::string& payload_json, int64_t now_us) = 0;

  // --- Trials ------------------------------------------------------------
  // Adds a PENDING trial numbered after the campaign's last one.
  virtual absl::StatusOr<Trial> InsertTrial(int64_t campaign_id, const std::string& spec_json,
                                            const std::string& params_json, int64_t now_us) = 0;
  virtual absl::StatusOr<Trial> GetTrial(int64_t trial_id) = 0;
  virtual absl::StatusOr<std::vector<Trial>> ListTrials(const TrialQuery& query) = 0;
  // Indexed: costs the same with 100 or 100,000 trials in other states.
  virtual absl::StatusOr<TrialCounts> CountTrials(int64_t campaign_id) = 0;
  // Best `k` COMPLETED trials by a final metric (a name of [A-Za-z0-9_]);
  // trials without the metric are left out.
  virtual absl::StatusOr<std::vector<Trial>> TopTrials(int64_t campaign_id,
                                                       absl::string_view metric, bool maximize,
                                                       int k) = 0;
  virtual absl::StatusOr<std::vector<EpochReport>> ListEpochs(int64_t trial_id) = 0;

  // --- Leases ------------------------------------------------------------
  // Atomically moves the oldest PENDING trial (of a RUNNING campaign) to
  // LEASED under a new token. nullopt when there is none.
  virtual absl::StatusOr<std::optional<Trial>> LeaseTrial(const LeaseRequest& request) = 0;
  // One write for a lease of a campaign that proposes trials as workers ask:
  // leases the oldest PENDING trial of request.campaign_id, and when there is
  // none, inserts `proposal` (as InsertTrial) and leases it, all in one
  // transaction. REQUIRES: request.campaign_id != 0 and request.trial_id == 0.
  // The default runs InsertTrial and LeaseTrial one after the other (not
  // atomic; for wrappers and fakes): SqliteStore overrides it.
  virtual absl::StatusOr<LeaseOutcome> LeaseOrInsertTrial(const LeaseRequest& request,
                                                          const TrialProposal& proposal);
  // Raises the deadline of each live lease (token, deadline_us) as
  // ExtendLease does, in one write; returns the tokens that hold no live
  // lease any more. The default calls ExtendLease per lease.
  virtual absl::StatusOr<std::vector<int64_t>> ExtendLeases(
      const std::vector<std::pair<int64_t, int64_t>>& deadlines, int64_t now_us);
  // LEASED -> RUNNING (already RUNNING: no-op).
  virtual absl::Status MarkRunning(int64_t lease_token, int64_t now_us) = 0;
  // Raises the deadline of a live lease to `deadline_us` (never lowers it, so
  // writers racing with older deadlines cannot shorten a lease); returns the
  // trial.
  virtual absl::StatusOr<Trial> ExtendLease(int64_t lease_token, int64_t deadline_us,
                                            int64_t now_us) = 0;
  // Records (or, on a retried attempt, replaces) one epoch's metrics, moves
  // LEASED -> RUNNING and optionally extends the lease (deadline_us > 0; only
  // raised, as ExtendLease).
  virtual absl::StatusOr<Trial> RecordEpoch(int64_t lease_token, int epoch,
                                            const std::string& metrics_json, int64_t deadline_us,
                                            int64_t now_us) = 0;
  // RUNNING/LEASED -> COMPLETED with final metrics. ALREADY_EXISTS when this
  // same token already completed the trial (a retried call: treat as success).
  virtual absl::StatusOr<Trial> CompleteTrial(int64_t lease_token, const std::string& metrics_json,
                                              int64_t now_us) = 0;
  // Retryable and attempts left: PENDING with attempt + 1; else FAILED.
  // Returns the trial in its new state.
  virtual absl::StatusOr<Trial> FailTrial(int64_t lease_token, absl::string_view reason,
                                          bool retryable, int64_t now_us) = 0;
  // RUNNING/LEASED -> PRUNED (early stopping).
  virtual absl::StatusOr<Trial> PruneTrial(int64_t lease_token, absl::string_view reason,
                                           int64_t now_us) = 0;
  // RUNNING/LEASED -> PENDING with the same attempt: the lease ends through no
  // fault of the trial (its campaign was stopped), so no attempt is spent.
  virtual absl::StatusOr<Trial> ReleaseLease(int64_t lease_token, absl::string_view reason,
                                             int64_t now_us) = 0;
  // Every LEASED/RUNNING trial whose deadline < now_us goes back to PENDING
  // with attempt + 1, or to FAILED when it used its campaign's max_attempts.
  // Returns those trials in their new state. Indexed on the deadline.
  virtual absl::StatusOr<std::vector<Trial>> ExpireLeases(int64_t now_us) = 0;
  // Raises every live lease's deadline to at least `min_deadline_us`, e.g. a
  // grace period after a coordinator restart. Returns how many moved.
  virtual absl::StatusOr<int64_t> ExtendAllLeases(int64_t min_deadline_us, int64_t now_us) = 0;

  // --- Scores (neural predictivity) -------------------------------------
  // Queues a PENDING scoring job for a COMPLETED trial: NOT_FOUND for an
  // unknown trial, FAILED_PRECONDITION naming its state otherwise.
  virtual absl::StatusOr<Score> CreateScore(int64_t trial_id, const std::string& neural_json,
                                            int64_t now_us) = 0;
  virtual absl::StatusOr<Score> GetScore(int64_t score_id) = 0;
  // A trial's scores, oldest first.
  virtual absl::StatusOr<std::vector<Score>> ListScores(int64_t trial_id) = 0;
  // Moves the oldest PENDING job to LEASED under a new token (from the
  // trials' counter, so tokens never collide). nullopt when there is none.
  virtual absl::StatusOr<std::optional<Score>> LeaseScore(int64_t worker_id, int64_t now_us,
                                                          int64_t deadline_us) = 0;
  // Raises a live score lease's deadline; FAILED_PRECONDITION when the token
  // holds no LEASED job.
  virtual absl::StatusOr<Score> ExtendScoreLease(int64_t lease_token, int64_t deadline_us,
                                                 int64_t now_us) = 0;
  // LEASED -> COMPLETED with the report (a JSON document). ALREADY_EXISTS
  // when this token already completed it.
  virtual absl::StatusOr<Score> CompleteScore(int64_t lease_token, const std::string& result_json,
                                              int64_t now_us) = 0;
  // LEASED -> FAILED with the reason and status code.
  virtual absl::StatusOr<Score> FailScore(int64_t lease_token, absl::string_view reason,
                                          int error_code, int64_t now_us) = 0;
  // Every LEASED job whose deadline < now_us goes back to PENDING with
  // attempt + 1, or to FAILED after kScoreMaxAttempts. Returns them.
  virtual absl::StatusOr<std::vector<Score>> ExpireScoreLeases(int64_t now_us) = 0;

  // --- Workers -----------------------------------------------------------
  // Registers a worker (id ignored) and returns it with its new id.
  virtual absl::StatusOr<Worker> RegisterWorker(const Worker& worker, int64_t now_us) = 0;
  // Records that the worker was heard from. NOT_FOUND for an unknown id.
  virtual absl::Status TouchWorker(int64_t worker_id, int64_t now_us) = 0;
  // TouchWorker for each (worker id, time) in one write; unknown ids are
  // skipped. The default calls TouchWorker per worker.
  virtual absl::Status TouchWorkers(const std::vector<std::pair<int64_t, int64_t>>& seen);
  // By id; workers last seen before `seen_since_us` are left out (0: all).
  virtual absl::StatusOr<std::vector<Worker>> ListWorkers(int64_t seen_since_us) = 0;

  // --- Events ------------------------------------------------------------
  // Appends an event; returns its id.
  virtual absl::StatusOr<int64_t> AppendEvent(const Event& event) = 0;
  // A campaign's events with id > after_id, oldest first, at most `limit`.
  virtual absl::StatusOr<std::vector<Event>> ListEvents(int64_t campaign_id, int64_t after_id,
                                                        int limit) = 0;
};

}  // namespace convrnn::db

#endif  // CONVRNN_DB_STORE_H_
