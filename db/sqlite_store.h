// SqliteStore: the Store on one SQLite file (see db/store.h for the contract).
//
// One writer connection, guarded by write_mu_, runs every change; a pool of
// read-only connections serves reads, which in WAL mode see the last
// committed state without waiting for the writer. Prepared statements are
// cached per connection.
//
// Group commit: each mutating call runs inside a SAVEPOINT of a shared
// BEGIN IMMEDIATE transaction (its batch), so it is atomic on its own (a
// failing call rolls back to its savepoint and leaves the others alone). The
// call that finds no other writer queued behind it commits the batch, once
// for all of its calls; every call returns only after its batch committed
// (and with the commit's error if it did not). So a call is still durable
// when it returns OK, while N queued calls cost one commit (one fsync with
// sync_full) instead of N. An idle store commits each call at once: there is
// no timer and no added latency.
//
// Thread-safety: every public method may be called from any thread.
#ifndef CONVRNN_DB_SQLITE_STORE_H_
#define CONVRNN_DB_SQLITE_STORE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "db/sqlite_connection.h"
#include "db/store.h"
#include "util/status_macros.h"

namespace convrnn::db {

inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& value) {
  return value.status();
}

// Read-only connections handed to one thread at a time.
class ReaderPool {
 public:
  // Returns its connection to the pool when destroyed.
  class Handle {
   public:
    Handle(ReaderPool* pool, std::unique_ptr<Connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Handle(Handle&&) = default;
    ~Handle() {
      if (conn_ != nullptr) pool_->Release(std::move(conn_));
    }
    Connection& operator*() { return *conn_; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  void Add(std::unique_ptr<Connection> conn) { Release(std::move(conn)); }
  // Blocks until a connection is free.
  Handle Acquire();

 private:
  void Release(std::unique_ptr<Connection> conn);

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> free_ ABSL_GUARDED_BY(mu_);
};

class SqliteStore final : public Store {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           const Options& options);

  // For tests and operators: each hot query's name and its EXPLAIN QUERY PLAN
  // ("SEARCH t USING INDEX trials_by_state (state=?); ..."). A plan that scans
  // the whole trials table means a missing index.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ExplainHotQueries();

  // Checkpoints the WAL into the database file and truncates it to zero
  // bytes (PRAGMA wal_checkpoint(TRUNCATE)); UNAVAILABLE while readers pin
  // old pages (retried by the next timer tick or commit). Options'
  // wal_limit_bytes and checkpoint_interval_ms call it on their own.
  absl::Status Checkpoint();
  // Bytes in the WAL file now (0 when it does not exist).
  int64_t WalBytes() const;

  ~SqliteStore() override;

  absl::StatusOr<Campaign> CreateCampaign(const NewCampaign& campaign, int64_t now_us) override;
  absl::StatusOr<Campaign> GetCampaign(int64_t campaign_id) override;
  absl::StatusOr<std::vector<Campaign>> ListCampaigns(int64_t before_id, int limit) override;
  absl::Status SetCampaignState(int64_t campaign_id, CampaignState state, int64_t now_us) override;

  absl::StatusOr<Trial> InsertTrial(int64_t campaign_id, const std::string& spec_json,
                                    const std::string& params_json, int64_t now_us) override;
  absl::StatusOr<Trial> GetTrial(int64_t trial_id) override;
  absl::StatusOr<std::vector<Trial>> ListTrials(const TrialQuery& query) override;
  absl::StatusOr<TrialCounts> CountTrials(int64_t campaign_id) override;
  absl::StatusOr<std::vector<Trial>> TopTrials(int64_t campaign_id, absl::string_view metric,
                                               bool maximize, int k) override;
  absl::StatusOr<std::vector<EpochReport>> ListEpochs(int64_t trial_id) override;

  absl::StatusOr<std::optional<Trial>> LeaseTrial(const LeaseRequest& request) override;
  absl::Status MarkRunning(int64_t lease_token, int64_t now_us) override;
  absl::StatusOr<Trial> ExtendLease(int64_t lease_token, int64_t deadline_us,
                                    int64_t now_us) override;
  absl::StatusOr<Trial> RecordEpoch(int64_t lease_token, int epoch, const std::string& metrics_json,
                                    int64_t deadline_us, int64_t now_us) override;
  absl::StatusOr<Trial> CompleteTrial(int64_t lease_token, const std::string& metrics_json,
                                      int64_t now_us) override;
  absl::StatusOr<Trial> FailTrial(int64_t lease_token, absl::string_view reason, bool retryable,
                                  int64_t now_us) override;
  absl::StatusOr<Trial> ReleaseLease(int64_t lease_token, absl::string_view reason,
                                     int64_t now_us) override;
  absl::StatusOr<Trial> PruneTrial(int64_t lease_token, absl::string_view reason,
                                   int64_t now_us) override;
  absl::StatusOr<std::vector<Trial>> ExpireLeases(int64_t now_us) override;
  absl::StatusOr<int64_t> ExtendAllLeases(int64_t min_deadline_us, int64_t now_us) override;

  // Scores: sqlite_scores.cc.
  absl::StatusOr<Score> CreateScore(int64_t trial_id, const std::string& neural_json,
                                    int64_t now_us) override;
  absl::StatusOr<Score> GetScore(int64_t score_id) override;
  absl::StatusOr<std::vector<Score>> ListScores(int64_t trial_id) override;
  absl::StatusOr<std::optional<Score>> LeaseScore(int64_t worker_id, int64_t now_us,
                                                  int64_t deadline_us) override;
  absl::StatusOr<Score> ExtendScoreLease(int64_t lease_token, int64_t deadline_us,
                                         int64_t now_us) override;
  absl::StatusOr<Score> CompleteScore(int64_t lease_token, const std::string& result_json,
                                      int64_t now_us) override;
  absl::StatusOr<Score> FailScore(int64_t lease_token, absl::string_view reason, int error_code,
                                  int64_t now_us) override;
  absl::StatusOr<std::vector<Score>> ExpireScoreLeases(int64_t now_us) override;

  absl::StatusOr<Worker> RegisterWorker(const Worker& worker, int64_t now_us) override;
  absl::Status TouchWorker(int64_t worker_id, int64_t now_us) override;
  absl::StatusOr<std::vector<Worker>> ListWorkers(int64_t seen_since_us) override;

  absl::StatusOr<int64_t> AppendEvent(const Event& event) override;
  absl::StatusOr<std::vector<Event>> ListEvents(int64_t campaign_id, int64_t after_id,
                                                int limit) override;

 private:
  explicit SqliteStore(std::unique_ptr<Connection> writer) : writer_(std::move(writer)) {}

  // After a commit: checkpoint when the WAL passed wal_limit_bytes_.
  void AfterCommitLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status CheckpointLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  void CheckpointLoop(absl::Duration interval);

  // One group-commit batch: the calls sharing a transaction.
  struct Batch {
    int calls = 0;
    bool done = false;    // committed or rolled back
    absl::Status status;  // how it ended
  };
  // Most calls one batch takes before it commits: bounds the latency the
  // first call of a batch waits for the later ones.
  static constexpr int kMaxBatchCalls = 64;

  // Runs `body(Connection&)` (returning Status or StatusOr) atomically in the
  // open write batch, and returns once that batch committed (see the top
  // note). The body's changes are rolled back when it fails.
  template <typename Body>
  auto Write(Body&& body) -> decltype(body(std::declval<Connection&>())) {
    using Result = decltype(body(std::declval<Connection&>()));
    queued_writers_.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock lock(&write_mu_);
    queued_writers_.fetch_sub(1, std::memory_order_relaxed);
    if (batch_ == nullptr) {
      RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
      batch_ = std::make_shared<Batch>();
    }
    std::shared_ptr<Batch> batch = batch_;
    ++batch->calls;
    std::optional<Result> result;
    try {
      if (absl::Status s = writer_->Exec("SAVEPOINT call"); !s.ok()) {
        result.emplace(s);
      } else {
        result.emplace(body(*writer_));
        if (!result->ok()) {
          (void)writer_->Exec("ROLLBACK TO call");
        }
        (void)writer_->Exec("RELEASE call");
      }
    } catch (...) {
      EndBatch(*batch, absl::InternalError("a write threw; its batch was rolled back"));
      throw;
    }
    if (!writer_->in_transaction()) {
      // SQLite rolled the whole transaction back (I/O error, disk full):
      // the batch's earlier calls are lost with it.
      EndBatch(*batch, absl::UnavailableError(
                           absl::StrCat("write batch rolled back: ", StatusOf(*result).message())));
      return *std::move(result);
    }
    const bool leave_open =
        queued_writers_.load(std::memory_order_relaxed) > 0 && batch->calls < kMaxBatchCalls;
    if (leave_open) {
      // A queued writer will join this batch; the last one commits it.
      write_mu_.Await(absl::Condition(&batch->done));
    } else {
      absl::Status committed = writer_->Exec("COMMIT");
      EndBatch(*batch, committed);
      if (committed.ok()) AfterCommitLocked();
    }
    if (!batch->status.ok()) return batch->status;
    return *std::move(result);
  }

  // Ends the open batch: rolls it back unless `status` is OK (it committed),
  // and wakes its waiting calls.
  void EndBatch(Batch& batch, absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  // Runs `body(Connection&)` on a free read-only connection.
  template <typename Body>
  auto Read(Body&& body) -> decltype(body(std::declval<Connection&>())) {
    ReaderPool::Handle conn = readers_.Acquire();
    return body(*conn);
  }

  // Ends the live lease `token` as FAILED or PRUNED (or re-queues it).
  absl::StatusOr<Trial> EndLease(int64_t lease_token, TrialState state, absl::string_view reason,
                                 bool retryable, int64_t now_us);

  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_ ABSL_PT_GUARDED_BY(write_mu_);
  // The open batch (a transaction is open on writer_), or null.
  std::shared_ptr<Batch> batch_ ABSL_GUARDED_BY(write_mu_);
  // Writers waiting for write_mu_: while there are any, a call leaves the
  // commit to them.
  std::atomic<int> queued_writers_{0};
  ReaderPool readers_;
  std::string wal_path_;
  int64_t wal_limit_bytes_ = 0;
  absl::Notification stop_checkpoints_;
  std::thread checkpointer_;
};

}  // namespace convrnn::db

#endif  // CONVRNN_DB_SQLITE_STORE_H_
