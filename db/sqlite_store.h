// SqliteStore: the Store on one SQLite file (see db/store.h for the contract).
//
// One writer connection, owned by a writer thread, runs every change; a pool
// of read-only connections serves reads, which in WAL mode see the last
// committed state without waiting for the writer. Prepared statements are
// cached per connection.
//
// Group commit: a mutating call queues its body (a closure) and waits. The
// writer thread takes every queued body (at most kMaxBatchCalls), runs each
// inside its own SAVEPOINT of one BEGIN IMMEDIATE transaction (so a call is
// atomic on its own: a failing body rolls back to its savepoint and leaves
// the others alone), and commits them together. No lock passes from thread
// to thread between bodies, so a batch costs one wake-up of the writer, not
// one per call. With sync_full the COMMIT appends to the WAL without an
// fsync (synchronous=NORMAL) and a syncer thread fdatasyncs the WAL for
// every batch committed so far while the writer runs the next batch; a call
// returns only once its batch is committed and fsynced, so it is exactly as
// durable as with synchronous=FULL. Another connection (a reader) may see a
// batch in the few milliseconds between its commit and its fsync; nothing
// is acknowledged before it is durable. An idle store commits each call at
// once: there is no timer and no added latency. Writes run in arrival order.
//
// Thread-safety: every public method may be called from any thread.
#ifndef CONVRNN_DB_SQLITE_STORE_H_
#define CONVRNN_DB_SQLITE_STORE_H_

#include <deque>
#include <functional>
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
#include "absl/time/clock.h"
#include "db/sqlite_connection.h"
#include "db/store.h"
#include "util/stage_stats.h"
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
  ~SqliteStore() override;

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

  absl::StatusOr<Campaign> CreateCampaign(const NewCampaign& campaign, int64_t now_us) override;
  absl::StatusOr<Campaign> GetCampaign(int64_t campaign_id) override;
  absl::StatusOr<std::optional<Campaign>> FindCampaignByRequest(
      absl::string_view request_id) override;
  absl::StatusOr<std::vector<Campaign>> ListCampaigns(int64_t before_id, int limit) override;
  absl::Status SetCampaignState(int64_t campaign_id, CampaignState state, int64_t now_us) override;
  absl::Status UpdateCampaignConfig(int64_t campaign_id, const std::string& config_json,
                                    std::optional<CampaignState> state,
                                    absl::string_view event_type, const std::string& payload_json,
                                    int64_t now_us) override;

  absl::StatusOr<Trial> InsertTrial(int64_t campaign_id, const std::string& spec_json,
                                    const std::string& params_json, int64_t now_us) override;
  absl::StatusOr<Trial> GetTrial(int64_t trial_id) override;
  absl::StatusOr<std::vector<Trial>> ListTrials(const TrialQuery& query) override;
  absl::StatusOr<TrialCounts> CountTrials(int64_t campaign_id) override;
  absl::StatusOr<std::vector<Trial>> TopTrials(int64_t campaign_id, absl::string_view metric,
                                               bool maximize, int k) override;
  absl::StatusOr<std::vector<EpochReport>> ListEpochs(int64_t trial_id) override;

  absl::StatusOr<std::optional<Trial>> LeaseTrial(const LeaseRequest& request) override;
  absl::StatusOr<LeaseOutcome> LeaseOrInsertTrial(const LeaseRequest& request,
                                                  const TrialProposal& proposal) override;
  absl::StatusOr<std::vector<int64_t>> ExtendLeases(
      const std::vector<std::pair<int64_t, int64_t>>& deadlines, int64_t now_us) override;
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
  absl::Status TouchWorkers(const std::vector<std::pair<int64_t, int64_t>>& seen) override;
  absl::StatusOr<std::vector<Worker>> ListWorkers(int64_t seen_since_us) override;

  absl::StatusOr<int64_t> AppendEvent(const Event& event) override;
  absl::StatusOr<std::vector<Event>> ListEvents(int64_t campaign_id, int64_t after_id,
                                                int limit) override;

 private:
  explicit SqliteStore(std::unique_ptr<Connection> writer) : writer_(std::move(writer)) {}

  // One queued write: the caller's body as a closure, and how it ended.
  struct WriteOp {
    // Runs the body and returns its status (not OK: rolled back).
    std::function<absl::Status(Connection&)> run;
    // Instead of `run`: checkpoint the WAL (TRUNCATE), outside any transaction.
    bool checkpoint = false;
    absl::Status status;  // OK, or why the batch did not commit / sync
    int64_t enqueued_us = 0;
    int64_t finished_us = 0;  // when `done` was notified
    absl::Notification done;
  };
  // Most calls one batch takes before it commits: bounds the latency the
  // first call of a batch waits for the later ones.
  static constexpr int kMaxBatchCalls = 256;

  // Runs `body(Connection&)` (returning Status or StatusOr) atomically in a
  // write batch on the writer thread, and returns once that batch committed
  // (and, with sync_full, was fsynced; see the top note). The body's changes
  // are rolled back when it fails.
  template <typename Body>
  auto Write(Body&& body) -> decltype(body(std::declval<Connection&>())) {
    using Result = decltype(body(std::declval<Connection&>()));
    static StageHistogram& total_stage = Stage("store.write");
    StageTimer total(total_stage);
    std::optional<Result> result;
    WriteOp op;
    op.run = [&](Connection& conn) -> absl::Status {
      result.emplace(body(conn));
      return StatusOf(*result);
    };
    Submit(&op);
    op.done.WaitForNotification();
    static StageHistogram& wake_stage = Stage("store.write.wake");
    wake_stage.Record(absl::GetCurrentTimeNanos() / 1000 - op.finished_us);
    RETURN_IF_ERROR(op.status);
    return *std::move(result);
  }

  // Queues `op` for the writer thread.
  void Submit(WriteOp* op);
  void WriterLoop();
  void SyncerLoop();
  bool WriterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
    return !queue_.empty() || stopping_;
  }
  bool SyncerHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
    return !unsynced_.empty() || stopping_;
  }
  // Runs one batch on the writer connection; returns its commit status.
  // Ops whose body failed keep an OK status (their result holds the error).
  absl::Status RunBatch(const std::vector<WriteOp*>& batch);
  // Ends `batch` with `status` (wakes its callers).
  static void Finish(const std::vector<WriteOp*>& batch, const absl::Status& status);
  // fdatasync of the WAL file, by the one thread that set syncing_.
  absl::Status SyncWal();
  absl::Status TimedSyncWal();  // SyncWal, timed as store.write.fsync

  // Runs `body(Connection&)` on a free read-only connection.
  template <typename Body>
  auto Read(Body&& body) -> decltype(body(std::declval<Connection&>())) {
    static StageHistogram& acquire_stage = Stage("store.read.acquire");
    static StageHistogram& read_stage = Stage("store.read");
    StageTimer total(read_stage);
    StageTimer acquire(acquire_stage);
    ReaderPool::Handle conn = readers_.Acquire();
    acquire.Stop();
    return body(*conn);
  }

  // Ends the live lease `token` as FAILED or PRUNED (or re-queues it).
  absl::StatusOr<Trial> EndLease(int64_t lease_token, TrialState state, absl::string_view reason,
                                 bool retryable, int64_t now_us);

  // Checkpoints the WAL (TRUNCATE) on the writer connection. Writer thread only.
  absl::Status CheckpointNow();

  // Used by the writer thread only once Open returned.
  std::unique_ptr<Connection> writer_;
  bool sync_full_ = false;
  std::string wal_path_;
  // Options::on_commit.
  std::function<void(absl::Duration, int)> on_commit_;
  int wal_fd_ = -1;  // opened on the first sync; used by whoever set syncing_

  absl::Mutex queue_mu_;
  std::deque<WriteOp*> queue_ ABSL_GUARDED_BY(queue_mu_);
  // Batches committed and waiting for their fsync (sync_full).
  std::vector<WriteOp*> unsynced_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool syncing_ ABSL_GUARDED_BY(queue_mu_) = false;  // an fdatasync is running
  std::thread writer_thread_;
  std::thread syncer_thread_;
  ReaderPool readers_;
  // Options::wal_limit_bytes and checkpoint_interval_ms (0: none); the
  // writer thread checkpoints after a batch leaves the WAL past the limit,
  // and when it has been idle for the interval.
  int64_t wal_limit_bytes_ = 0;
  absl::Duration checkpoint_interval_ = absl::ZeroDuration();
};

}  // namespace convrnn::db

#endif  // CONVRNN_DB_SQLITE_STORE_H_
