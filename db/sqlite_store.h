// SqliteStore: the Store on one SQLite file (see db/store.h for the contract).
//
// One writer connection, guarded by write_mu_, runs every change as a
// BEGIN IMMEDIATE transaction; a pool of read-only connections serves reads,
// which in WAL mode see the last committed state without waiting for the
// writer. Prepared statements are cached per connection.
//
// Thread-safety: every public method may be called from any thread.
#ifndef CONVRNN_DB_SQLITE_STORE_H_
#define CONVRNN_DB_SQLITE_STORE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "db/sqlite_connection.h"
#include "db/status_macros.h"
#include "db/store.h"

namespace convrnn::db {

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

  absl::StatusOr<Campaign> CreateCampaign(const NewCampaign& campaign, int64_t now_us) override;
  absl::StatusOr<Campaign> GetCampaign(int64_t campaign_id) override;
  absl::StatusOr<std::vector<Campaign>> ListCampaigns(int64_t before_id, int limit) override;
  absl::Status SetCampaignState(int64_t campaign_id, CampaignState state, int64_t now_us) override;

  absl::StatusOr<Trial> InsertTrial(int64_t campaign_id, const std::string& spec_json,
                                    const std::string& params_json, int64_t now_us) override;
  absl::StatusOr<Trial> GetTrial(int64_t trial_id) override;
  absl::StatusOr<std::vector<Trial>> ListTrials(const TrialQuery& query) override;
  absl::StatusOr<TrialCounts> CountTrials(int64_t campaign_id) override;
  absl::StatusOr<std::vector<Trial>> TopTrials(int64_t campaign_id, std::string_view metric,
                                               bool maximize, int k) override;
  absl::StatusOr<std::vector<EpochMetrics>> ListEpochs(int64_t trial_id) override;

  absl::StatusOr<std::optional<Trial>> LeaseTrial(const LeaseRequest& request) override;
  absl::Status MarkRunning(int64_t lease_token, int64_t now_us) override;
  absl::StatusOr<Trial> ExtendLease(int64_t lease_token, int64_t deadline_us,
                                    int64_t now_us) override;
  absl::StatusOr<Trial> RecordEpoch(int64_t lease_token, int epoch, const std::string& metrics_json,
                                    int64_t deadline_us, int64_t now_us) override;
  absl::StatusOr<Trial> CompleteTrial(int64_t lease_token, const std::string& metrics_json,
                                      int64_t now_us) override;
  absl::StatusOr<Trial> FailTrial(int64_t lease_token, std::string_view reason, bool retryable,
                                  int64_t now_us) override;
  absl::StatusOr<Trial> ReleaseLease(int64_t lease_token, std::string_view reason,
                                     int64_t now_us) override;
  absl::StatusOr<Trial> PruneTrial(int64_t lease_token, std::string_view reason,
                                   int64_t now_us) override;
  absl::StatusOr<std::vector<Trial>> ExpireLeases(int64_t now_us) override;
  absl::StatusOr<int64_t> ExtendAllLeases(int64_t min_deadline_us, int64_t now_us) override;

  absl::StatusOr<Worker> RegisterWorker(const Worker& worker, int64_t now_us) override;
  absl::Status TouchWorker(int64_t worker_id, int64_t now_us) override;
  absl::StatusOr<std::vector<Worker>> ListWorkers(int64_t seen_since_us) override;

  absl::StatusOr<int64_t> AppendEvent(const Event& event) override;
  absl::StatusOr<std::vector<Event>> ListEvents(int64_t campaign_id, int64_t after_id,
                                                int limit) override;

 private:
  explicit SqliteStore(std::unique_ptr<Connection> writer) : writer_(std::move(writer)) {}

  // Runs `body(Connection&)` (returning Status or StatusOr) in one write
  // transaction, committed only when the body succeeds.
  template <typename Body>
  auto Write(Body&& body) -> decltype(body(std::declval<Connection&>())) {
    absl::MutexLock lock(&write_mu_);
    Transaction txn(writer_.get());
    DB_RETURN_IF_ERROR(txn.Begin());
    auto result = body(*writer_);
    if (!result.ok()) return result;
    DB_RETURN_IF_ERROR(txn.Commit());
    return result;
  }

  // Runs `body(Connection&)` on a free read-only connection.
  template <typename Body>
  auto Read(Body&& body) -> decltype(body(std::declval<Connection&>())) {
    ReaderPool::Handle conn = readers_.Acquire();
    return body(*conn);
  }

  // Ends the live lease `token` as FAILED or PRUNED (or re-queues it).
  absl::StatusOr<Trial> EndLease(int64_t lease_token, TrialState state, std::string_view reason,
                                 bool retryable, int64_t now_us);

  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_ ABSL_PT_GUARDED_BY(write_mu_);
  ReaderPool readers_;
};

}  // namespace convrnn::db

#endif  // CONVRNN_DB_SQLITE_STORE_H_
