#include "db/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "db/lease_steps.h"
#include "db/migrations.h"
#include "db/queries.h"
#include "db/reads.h"
#include "util/status_macros.h"

namespace convrnn::db {
namespace {

using nlohmann::json;

bool IsLive(TrialState state) {
  return state == TrialState::kLeased || state == TrialState::kRunning;
}

// A metrics document: a JSON object of numbers. Returned parsed, so what is
// stored is canonical JSON.
absl::StatusOr<json> ParseMetrics(absl::string_view text) {
  json metrics = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (metrics.is_discarded() || !metrics.is_object()) {
    return absl::InvalidArgumentError("metrics: must be a JSON object of numbers");
  }
  for (const auto& [key, value] : metrics.items()) {
    if (!value.is_number()) {
      return absl::InvalidArgumentError(absl::StrCat("metrics.", key, ": must be a number"));
    }
  }
  return metrics;
}

absl::StatusOr<int64_t> InsertEvent(Connection& conn, int64_t campaign_id, int64_t trial_id,
                                    absl::string_view type, absl::string_view payload_json,
                                    int64_t time_us) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kInsertEvent));
  RETURN_IF_ERROR(stmt.Bind(1, campaign_id)
                      .BindOrNull(2, trial_id)
                      .Bind(3, type)
                      .Bind(4, payload_json)
                      .Bind(5, time_us)
                      .Run());
  return conn.last_insert_rowid();
}

// Records a trial's change of state; `extra` adds fields to the payload.
absl::Status TrialEvent(Connection& conn, const Trial& trial, absl::string_view type, json extra,
                        int64_t now_us) {
  extra["state"] = TrialStateName(trial.state);
  extra["attempt"] = trial.attempt;
  return InsertEvent(conn, trial.campaign_id, trial.id, type, extra.dump(), now_us).status();
}

// The trial whose live lease is `token`, or FAILED_PRECONDITION: the fencing
// check every call from a worker goes through.
absl::StatusOr<Trial> LiveLease(Connection& conn, int64_t token) {
  ASSIGN_OR_RETURN(std::optional<Trial> trial, reads::TrialByLease(conn, token));
  if (!trial.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lease ", token, " is not held: it expired and its trial was re-queued, or never existed"));
  }
  if (!IsLive(trial->state)) {
    return absl::FailedPreconditionError(absl::StrCat("lease ", token, " no longer holds trial ",
                                                      trial->id, ": the trial is ",
                                                      TrialStateName(trial->state)));
  }
  return *std::move(trial);
}

// Ends attempt `trial.attempt`: PENDING with attempt + 1 while attempts are
// left and `retryable`, else FAILED. Returns the trial in its new state.
absl::StatusOr<Trial> EndAttempt(Connection& conn, const Trial& trial, absl::string_view reason,
                                 bool retryable, int64_t now_us) {
  ASSIGN_OR_RETURN(Stmt max_stmt, conn.Prepare(sql::kCampaignMaxAttempts));
  max_stmt.Bind(1, trial.campaign_id);
  ASSIGN_OR_RETURN(bool found, max_stmt.Step());
  const int64_t max_attempts = found ? max_stmt.Int64(0) : 1;
  const bool requeue = retryable && trial.attempt < max_attempts;
  std::string why(reason);
  if (requeue) {
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kRequeueTrial));
    RETURN_IF_ERROR(stmt.Bind(1, trial.id).Bind(2, why).Bind(3, now_us).Run());
  } else {
    if (retryable) {
      why = absl::StrCat(reason, " (attempt ", trial.attempt, " of ", max_attempts, ")");
    }
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kFinishTrial));
    RETURN_IF_ERROR(stmt.Bind(1, trial.id)
                        .Bind(2, TrialStateName(TrialState::kFailed))
                        .BindNull(3)
                        .Bind(4, why)
                        .Bind(5, now_us)
                        .Bind(6, trial.lease_token)
                        .Run());
  }
  if (conn.changes() != 1) {
    return absl::InternalError(absl::StrCat("trial ", trial.id, " changed under its lease"));
  }
  ASSIGN_OR_RETURN(Trial after, reads::GetTrial(conn, trial.id));
  RETURN_IF_ERROR(TrialEvent(conn, after, requeue ? kEventTrialRequeued : kEventTrialFailed,
                             {{"reason", why}, {"lease_token", trial.lease_token}}, now_us));
  return after;
}

// The oldest PENDING trial (of `campaign_id`, or of any RUNNING campaign).
absl::StatusOr<std::optional<int64_t>> NextPendingInTx(Connection& conn, int64_t campaign_id) {
  ASSIGN_OR_RETURN(Stmt next, conn.Prepare(campaign_id == 0 ? sql::kNextPendingAny
                                                            : sql::kNextPendingInCampaign));
  if (campaign_id != 0) next.Bind(1, campaign_id);
  ASSIGN_OR_RETURN(bool found, next.Step());
  if (!found) return std::optional<int64_t>();
  return std::optional<int64_t>(next.Int64(0));
}

// Adds a PENDING trial numbered after the campaign's last one.
absl::StatusOr<Trial> InsertTrialInTx(Connection& conn, int64_t campaign_id,
                                      const std::string& spec_json, const std::string& params_json,
                                      int64_t now_us) {
  RETURN_IF_ERROR(reads::GetCampaign(conn, campaign_id).status());
  ASSIGN_OR_RETURN(Stmt next, conn.Prepare(sql::kNextTrialNumber));
  next.Bind(1, campaign_id);
  RETURN_IF_ERROR(next.Step().status());
  const int64_t number = next.Int64(0);
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kInsertTrial));
  RETURN_IF_ERROR(stmt.Bind(1, campaign_id)
                      .Bind(2, number)
                      .Bind(3, spec_json)
                      .Bind(4, params_json.empty() ? "{}" : params_json)
                      .Bind(5, now_us)
                      .Run());
  ASSIGN_OR_RETURN(Trial trial, reads::GetTrial(conn, conn.last_insert_rowid()));
  RETURN_IF_ERROR(TrialEvent(conn, trial, kEventTrialCreated, {{"number", number}}, now_us));
  return trial;
}

// Leases trial `trial_id` under a new token if it is still PENDING.
absl::StatusOr<std::optional<Trial>> LeaseInTx(Connection& conn, const LeaseRequest& request,
                                               int64_t trial_id) {
  ASSIGN_OR_RETURN(const int64_t token, steps::NextLeaseToken(conn));
  ASSIGN_OR_RETURN(Stmt lease, conn.Prepare(sql::kLeaseTrial));
  RETURN_IF_ERROR(lease.Bind(1, trial_id)
                      .Bind(2, request.worker_id)
                      .Bind(3, token)
                      .Bind(4, request.deadline_us)
                      .Bind(5, request.now_us)
                      .Run());
  if (conn.changes() == 0) return std::optional<Trial>();  // not PENDING (any more)
  ASSIGN_OR_RETURN(Trial trial, reads::GetTrial(conn, trial_id));
  if (request.campaign_id != 0 && trial.campaign_id != request.campaign_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial ", trial_id, " is not in campaign ", request.campaign_id));
  }
  RETURN_IF_ERROR(TrialEvent(conn, trial, kEventTrialLeased,
                             {{"worker_id", request.worker_id},
                              {"lease_token", token},
                              {"deadline_us", request.deadline_us}},
                             request.now_us));
  return std::optional<Trial>(std::move(trial));
}

}  // namespace

ReaderPool::Handle ReaderPool::Acquire() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::vector<std::unique_ptr<Connection>>* free) { return !free->empty(); }, &free_));
  std::unique_ptr<Connection> conn = std::move(free_.back());
  free_.pop_back();
  return Handle(this, std::move(conn));
}

void ReaderPool::Release(std::unique_ptr<Connection> conn) {
  absl::MutexLock lock(&mu_);
  free_.push_back(std::move(conn));
}

SqliteStore::~SqliteStore() {
  {
    absl::MutexLock lock(&queue_mu_);
    stopping_ = true;
  }
  // Every call returned before the store is destroyed, so the queues are
  // empty; the threads exit at once.
  if (writer_thread_.joinable()) writer_thread_.join();
  if (syncer_thread_.joinable()) syncer_thread_.join();
  if (wal_fd_ >= 0) close(wal_fd_);
}

void SqliteStore::Submit(WriteOp* op) {
  op->enqueued_us = absl::GetCurrentTimeNanos() / 1000;
  absl::MutexLock lock(&queue_mu_);
  queue_.push_back(op);
}

void SqliteStore::Finish(const std::vector<WriteOp*>& batch, const absl::Status& status) {
  const int64_t now_us = absl::GetCurrentTimeNanos() / 1000;
  for (WriteOp* op : batch) {
    if (!status.ok()) op->status = status;
    op->finished_us = now_us;
    op->done.Notify();
  }
}

absl::Status SqliteStore::RunBatch(const std::vector<WriteOp*>& batch) {
  static StageHistogram& queue_stage = Stage("store.write.queue");
  static StageHistogram& body_stage = Stage("store.write.body");
  static StageHistogram& commit_stage = Stage("store.write.commit");
  static StageHistogram& size_stage = Stage("store.write.batch_calls");
  size_stage.Record(static_cast<int64_t>(batch.size()));
  const int64_t start_us = absl::GetCurrentTimeNanos() / 1000;
  for (WriteOp* op : batch) queue_stage.Record(start_us - op->enqueued_us);
  RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
  for (WriteOp* op : batch) {
    StageTimer body_time(body_stage);
    absl::Status ran;
    if (ran = writer_->Exec("SAVEPOINT call"); ran.ok()) {
      try {
        ran = op->run(*writer_);
      } catch (const std::exception& e) {
        ran = absl::InternalError(absl::StrCat("a write threw: ", e.what()));
        op->status = ran;
      }
      if (!ran.ok()) (void)writer_->Exec("ROLLBACK TO call");
      (void)writer_->Exec("RELEASE call");
    } else {
      op->status = ran;
    }
    if (!writer_->in_transaction()) {
      // SQLite rolled the whole transaction back (I/O error, disk full):
      // every call of the batch so far is lost with it.
      return absl::UnavailableError(absl::StrCat("write batch rolled back: ", ran.message()));
    }
  }
  StageTimer commit_time(commit_stage);
  const int64_t commit_start_us = absl::GetCurrentTimeNanos() / 1000;
  absl::Status committed = writer_->Exec("COMMIT");
  if (committed.ok() && on_commit_) {
    on_commit_(absl::Microseconds(absl::GetCurrentTimeNanos() / 1000 - commit_start_us),
               static_cast<int>(batch.size()));
  }
  if (!committed.ok() && writer_->in_transaction()) (void)writer_->Exec("ROLLBACK");
  return committed;
}

void SqliteStore::WriterLoop() {
  std::vector<WriteOp*> batch;
  while (true) {
    batch.clear();
    bool idle = false;
    {
      absl::MutexLock lock(&queue_mu_);
      const absl::Condition has_work(this, &SqliteStore::WriterHasWork);
      if (checkpoint_interval_ > absl::ZeroDuration()) {
        // Idle for the interval with nothing being synced: time to give the
        // WAL's space back (after a burst or a disk-full episode, say).
        idle = !queue_mu_.AwaitWithTimeout(has_work, checkpoint_interval_) && !syncing_ &&
               unsynced_.empty();
      } else {
        queue_mu_.Await(has_work);
      }
      if (queue_.empty() && stopping_) return;
      if (!queue_.empty() && queue_.front()->checkpoint) {
        batch.push_back(queue_.front());  // alone: it runs outside a transaction
        queue_.pop_front();
      } else {
        while (!queue_.empty() && !queue_.front()->checkpoint &&
               batch.size() < static_cast<size_t>(kMaxBatchCalls)) {
          batch.push_back(queue_.front());
          queue_.pop_front();
        }
      }
    }
    if (batch.empty()) {
      // A failure (readers, disk full) is retried at the next idle interval.
      if (idle && WalBytes() > 0) (void)CheckpointNow();
      continue;
    }
    if (batch.front()->checkpoint) {
      Finish(batch, CheckpointNow());
      continue;
    }
    absl::Status status = RunBatch(batch);
    if (!status.ok() && writer_->in_transaction()) (void)writer_->Exec("ROLLBACK");
    // Past the size limit the WAL is checkpointed and cut back at once; its
    // commits are then in the database file, synced by the checkpoint.
    if (status.ok() && wal_limit_bytes_ > 0 && WalBytes() > wal_limit_bytes_) {
      (void)CheckpointNow();
    }
    if (!status.ok() || !sync_full_) {
      Finish(batch, status);
      continue;
    }
    // Committed: the syncer makes it durable while this thread runs the
    // next batch; with no next batch and no fsync running, this thread
    // fsyncs itself (one thread hand-off less when the store is quiet).
    {
      absl::MutexLock lock(&queue_mu_);
      if (!queue_.empty() || syncing_ || !unsynced_.empty()) {
        unsynced_.insert(unsynced_.end(), batch.begin(), batch.end());
        continue;
      }
      syncing_ = true;
    }
    absl::Status synced = TimedSyncWal();
    {
      absl::MutexLock lock(&queue_mu_);
      syncing_ = false;
    }
    Finish(batch, synced);
  }
}

absl::Status SqliteStore::TimedSyncWal() {
  static StageHistogram& sync_stage = Stage("store.write.fsync");
  StageTimer sync_time(sync_stage);
  return SyncWal();
}

void SqliteStore::SyncerLoop() {
  std::vector<WriteOp*> batch;
  while (true) {
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.Await(absl::Condition(this, &SqliteStore::SyncerHasWork));
      if (unsynced_.empty()) return;  // stopping
      batch.swap(unsynced_);
      syncing_ = true;
    }
    // Every op here was committed before this fdatasync starts.
    absl::Status synced = TimedSyncWal();
    {
      absl::MutexLock lock(&queue_mu_);
      syncing_ = false;
    }
    // A failed fsync leaves those commits' durability unknown: their calls
    // fail (UNAVAILABLE; a retry finds the state as it is).
    Finish(batch, synced);
    batch.clear();
  }
}

absl::Status SqliteStore::SyncWal() {
  if (wal_fd_ < 0) {
    wal_fd_ = open(wal_path_.c_str(), O_RDWR | O_CLOEXEC);
    if (wal_fd_ < 0) {
      return absl::UnavailableError(
          absl::StrCat(wal_path_, ": cannot open the WAL to fsync it: ", std::strerror(errno)));
    }
  }
  if (fdatasync(wal_fd_) != 0) {
    return absl::UnavailableError(
        absl::StrCat(wal_path_, ": fsync failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               const Options& options) {
  Connection::Options conn_options;
  conn_options.create_if_missing = options.create_if_missing;
  conn_options.busy_timeout_ms = options.busy_timeout_ms;
  conn_options.sync_full = options.sync_full;
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer, Connection::Open(path, conn_options));
  if (options.check_on_open) {
    ASSIGN_OR_RETURN(Stmt check, writer->Prepare("PRAGMA quick_check"));
    std::vector<std::string> problems;
    while (true) {
      ASSIGN_OR_RETURN(bool has_row, check.Step());
      if (!has_row) break;
      if (check.Text(0) != "ok" && problems.size() < 5) problems.push_back(check.Text(0));
    }
    if (!problems.empty()) {
      return absl::DataLossError(
          absl::StrCat(path, ": database is corrupt: ", absl::StrJoin(problems, "; ")));
    }
  }
  RETURN_IF_ERROR(Migrate(*writer, SchemaMigrations()));

  if (options.sync_full) {
    // Commits append to the WAL without an fsync; the syncer thread fsyncs
    // it for every batch before its calls return (see the header's note).
    RETURN_IF_ERROR(writer->Exec("PRAGMA synchronous = NORMAL"));
  }
  // After a checkpoint SQLite cuts a larger WAL back to this size.
  RETURN_IF_ERROR(
      writer->Exec(absl::StrCat("PRAGMA journal_size_limit = ", options.wal_limit_bytes)));
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(writer)));
  store->sync_full_ = options.sync_full;
  store->wal_limit_bytes_ = options.wal_limit_bytes;
  store->checkpoint_interval_ = absl::Milliseconds(std::max(0, options.checkpoint_interval_ms));
  store->on_commit_ = options.on_commit;
  store->wal_path_ = path + "-wal";
  store->writer_thread_ = std::thread([s = store.get()] { s->WriterLoop(); });
  if (options.sync_full)
    store->syncer_thread_ = std::thread([s = store.get()] { s->SyncerLoop(); });
  conn_options.read_only = true;
  for (int i = 0; i < std::max(1, options.read_connections); ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> reader, Connection::Open(path, conn_options));
    store->readers_.Add(std::move(reader));
  }
  return store;
}

int64_t SqliteStore::WalBytes() const {
  struct stat st {};
  return stat(wal_path_.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

absl::Status SqliteStore::CheckpointNow() {
  ASSIGN_OR_RETURN(Stmt stmt, writer_->Prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  // (busy, WAL frames, frames checkpointed): busy = 1 when readers held it up.
  if (row && stmt.Int64(0) != 0) {
    return absl::UnavailableError(absl::StrCat(writer_->path(), ": checkpoint held up by readers"));
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::Checkpoint() {
  // On the writer thread, between batches (the writer connection is its own).
  WriteOp op;
  op.checkpoint = true;
  Submit(&op);
  op.done.WaitForNotification();
  return op.status;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SqliteStore::ExplainHotQueries() {
  static const auto* const kHot = new std::vector<std::pair<std::string, const std::string*>>{
      {"count_trials", &sql::kCountTrials},
      {"list_trials_in_state", &sql::kListTrialsInState},
      {"next_pending_any", &sql::kNextPendingAny},
      {"next_pending_in_campaign", &sql::kNextPendingInCampaign},
      {"trial_by_lease", &sql::kTrialByLease},
      {"expired_leases", &sql::kExpiredLeases},
      {"raise_deadlines", &sql::kRaiseDeadlines},
      {"next_trial_number", &sql::kNextTrialNumber},
      {"top_trials", &sql::kTopTrialsMax},
      {"list_workers", &sql::kListWorkers},
      {"list_events", &sql::kListEvents},
      {"next_pending_score", &sql::kNextPendingScore},
      {"score_by_lease", &sql::kScoreByLease},
      {"expired_score_leases", &sql::kExpiredScoreLeases},
      {"list_scores", &sql::kListScores},
  };
  return Read(
      [&](Connection& conn) -> absl::StatusOr<std::vector<std::pair<std::string, std::string>>> {
        std::vector<std::pair<std::string, std::string>> plans;
        for (const auto& [name, query] : *kHot) {
          ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare("EXPLAIN QUERY PLAN " + *query));
          std::vector<std::string> steps;
          while (true) {
            ASSIGN_OR_RETURN(bool has_row, stmt.Step());
            if (!has_row) break;
            steps.push_back(stmt.Text(3));
          }
          plans.emplace_back(name, absl::StrJoin(steps, "; "));
        }
        return plans;
      });
}

// --- Campaigns -------------------------------------------------------------

absl::StatusOr<Campaign> SqliteStore::CreateCampaign(const NewCampaign& campaign, int64_t now_us) {
  if (campaign.max_attempts < 1) {
    return absl::InvalidArgumentError("trial.max_attempts: must be at least 1");
  }
  return Write([&](Connection& conn) -> absl::StatusOr<Campaign> {
    if (!campaign.request_id.empty()) {
      // Checked in the write transaction (writes are serialized), so two
      // launches with one id cannot both pass; the unique index backs it.
      ASSIGN_OR_RETURN(std::optional<Campaign> prior,
                       reads::CampaignByRequest(conn, campaign.request_id));
      if (prior.has_value()) {
        return absl::AlreadyExistsError(absl::StrCat("request id '", campaign.request_id,
                                                     "' already launched campaign ", prior->id));
      }
    }
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kInsertCampaign));
    stmt.Bind(1, campaign.name)
        .Bind(2, campaign.config_json)
        .Bind(3, int64_t{campaign.max_attempts})
        .Bind(4, now_us);
    if (campaign.request_id.empty()) {
      stmt.BindNull(5).BindNull(6);
    } else {
      stmt.Bind(5, campaign.request_id).Bind(6, campaign.request_digest);
    }
    RETURN_IF_ERROR(stmt.Run());
    const int64_t id = conn.last_insert_rowid();
    json payload = {{"state", CampaignStateName(CampaignState::kRunning)}};
    RETURN_IF_ERROR(InsertEvent(conn, id, 0, kEventCampaignState, payload.dump(), now_us).status());
    return reads::GetCampaign(conn, id);
  });
}

absl::StatusOr<Campaign> SqliteStore::GetCampaign(int64_t campaign_id) {
  return Read([&](Connection& conn) { return reads::GetCampaign(conn, campaign_id); });
}

absl::StatusOr<std::optional<Campaign>> SqliteStore::FindCampaignByRequest(
    absl::string_view request_id) {
  return Read([&](Connection& conn) { return reads::CampaignByRequest(conn, request_id); });
}

absl::StatusOr<std::vector<Campaign>> SqliteStore::ListCampaigns(int64_t before_id, int limit) {
  return Read([&](Connection& conn) { return reads::ListCampaigns(conn, before_id, limit); });
}

absl::Status SqliteStore::SetCampaignState(int64_t campaign_id, CampaignState state,
                                           int64_t now_us) {
  return Write([&](Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(reads::GetCampaign(conn, campaign_id).status());
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kSetCampaignState));
    RETURN_IF_ERROR(
        stmt.Bind(1, campaign_id).Bind(2, CampaignStateName(state)).Bind(3, now_us).Run());
    if (conn.changes() == 0) return absl::OkStatus();  // Already in that state.
    json payload = {{"state", CampaignStateName(state)}};
    return InsertEvent(conn, campaign_id, 0, kEventCampaignState, payload.dump(), now_us).status();
  });
}

absl::Status SqliteStore::UpdateCampaignConfig(int64_t campaign_id, const std::string& config_json,
                                               std::optional<CampaignState> state,
                                               absl::string_view event_type,
                                               const std::string& payload_json, int64_t now_us) {
  return Write([&](Connection& conn) -> absl::Status {
    RETURN_IF_ERROR(reads::GetCampaign(conn, campaign_id).status());
    ASSIGN_OR_RETURN(Stmt config, conn.Prepare(sql::kSetCampaignConfig));
    RETURN_IF_ERROR(config.Bind(1, campaign_id).Bind(2, config_json).Bind(3, now_us).Run());
    RETURN_IF_ERROR(InsertEvent(conn, campaign_id, 0, event_type, payload_json, now_us).status());
    if (!state.has_value()) return absl::OkStatus();
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kSetCampaignState));
    RETURN_IF_ERROR(
        stmt.Bind(1, campaign_id).Bind(2, CampaignStateName(*state)).Bind(3, now_us).Run());
    if (conn.changes() == 0) return absl::OkStatus();
    json payload = {{"state", CampaignStateName(*state)}};
    return InsertEvent(conn, campaign_id, 0, kEventCampaignState, payload.dump(), now_us).status();
  });
}

// --- Trials ----------------------------------------------------------------

absl::StatusOr<Trial> SqliteStore::InsertTrial(int64_t campaign_id, const std::string& spec_json,
                                               const std::string& params_json, int64_t now_us) {
  return Write([&](Connection& conn) {
    return InsertTrialInTx(conn, campaign_id, spec_json, params_json, now_us);
  });
}

absl::StatusOr<Trial> SqliteStore::GetTrial(int64_t trial_id) {
  return Read([&](Connection& conn) { return reads::GetTrial(conn, trial_id); });
}

absl::StatusOr<std::vector<Trial>> SqliteStore::ListTrials(const TrialQuery& query) {
  return Read([&](Connection& conn) { return reads::ListTrials(conn, query); });
}

absl::StatusOr<TrialCounts> SqliteStore::CountTrials(int64_t campaign_id) {
  return Read([&](Connection& conn) { return reads::CountTrials(conn, campaign_id); });
}

absl::StatusOr<std::vector<Trial>> SqliteStore::TopTrials(int64_t campaign_id,
                                                          absl::string_view metric, bool maximize,
                                                          int k) {
  return Read(
      [&](Connection& conn) { return reads::TopTrials(conn, campaign_id, metric, maximize, k); });
}

absl::StatusOr<std::vector<EpochReport>> SqliteStore::ListEpochs(int64_t trial_id) {
  return Read([&](Connection& conn) { return reads::ListEpochs(conn, trial_id); });
}

// --- Leases ----------------------------------------------------------------

absl::StatusOr<std::optional<Trial>> SqliteStore::LeaseTrial(const LeaseRequest& request) {
  if (request.deadline_us <= request.now_us) {
    return absl::InvalidArgumentError("lease deadline must be after now");
  }
  return Write([&](Connection& conn) -> absl::StatusOr<std::optional<Trial>> {
    RETURN_IF_ERROR(steps::TouchWorker(conn, request.worker_id, request.now_us));
    int64_t trial_id = request.trial_id;
    if (trial_id == 0) {
      ASSIGN_OR_RETURN(std::optional<int64_t> next, NextPendingInTx(conn, request.campaign_id));
      if (!next.has_value()) return std::optional<Trial>();
      trial_id = *next;
    }
    return LeaseInTx(conn, request, trial_id);
  });
}

absl::StatusOr<LeaseOutcome> SqliteStore::LeaseOrInsertTrial(const LeaseRequest& request,
                                                             const TrialProposal& proposal) {
  if (request.deadline_us <= request.now_us) {
    return absl::InvalidArgumentError("lease deadline must be after now");
  }
  if (request.campaign_id == 0 || request.trial_id != 0) {
    return absl::InvalidArgumentError("LeaseOrInsertTrial: needs a campaign and no trial id");
  }
  return Write([&](Connection& conn) -> absl::StatusOr<LeaseOutcome> {
    RETURN_IF_ERROR(steps::TouchWorker(conn, request.worker_id, request.now_us));
    LeaseOutcome outcome;
    ASSIGN_OR_RETURN(std::optional<int64_t> next, NextPendingInTx(conn, request.campaign_id));
    if (!next.has_value()) {
      ASSIGN_OR_RETURN(Trial inserted,
                       InsertTrialInTx(conn, request.campaign_id, proposal.spec_json,
                                       proposal.params_json, request.now_us));
      next = inserted.id;
      outcome.inserted = true;
    }
    ASSIGN_OR_RETURN(outcome.trial, LeaseInTx(conn, request, *next));
    if (!outcome.trial.has_value()) {
      return absl::InternalError(absl::StrCat("trial ", *next, " changed within its lease"));
    }
    return outcome;
  });
}

absl::StatusOr<std::vector<int64_t>> SqliteStore::ExtendLeases(
    const std::vector<std::pair<int64_t, int64_t>>& deadlines, int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<std::vector<int64_t>> {
    std::vector<int64_t> lost;
    for (const auto& [token, deadline] : deadlines) {
      absl::StatusOr<Trial> trial = LiveLease(conn, token);
      if (!trial.ok()) {
        if (trial.status().code() != absl::StatusCode::kFailedPrecondition) return trial.status();
        lost.push_back(token);
        continue;
      }
      ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kSetDeadline));
      RETURN_IF_ERROR(stmt.Bind(1, trial->id).Bind(2, deadline).Bind(3, now_us).Run());
    }
    return lost;
  });
}

absl::Status SqliteStore::MarkRunning(int64_t lease_token, int64_t now_us) {
  return Write([&](Connection& conn) -> absl::Status {
    ASSIGN_OR_RETURN(Trial trial, LiveLease(conn, lease_token));
    if (trial.state == TrialState::kRunning) return absl::OkStatus();
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kMarkRunning));
    RETURN_IF_ERROR(stmt.Bind(1, trial.id).Bind(2, now_us).Run());
    trial.state = TrialState::kRunning;
    return TrialEvent(conn, trial, kEventTrialRunning, json::object(), now_us);
  });
}

absl::StatusOr<Trial> SqliteStore::ExtendLease(int64_t lease_token, int64_t deadline_us,
                                               int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<Trial> {
    ASSIGN_OR_RETURN(Trial trial, LiveLease(conn, lease_token));
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kSetDeadline));
    RETURN_IF_ERROR(stmt.Bind(1, trial.id).Bind(2, deadline_us).Bind(3, now_us).Run());
    trial.lease_deadline_us = std::max(trial.lease_deadline_us, deadline_us);
    trial.updated_us = now_us;
    return trial;
  });
}

absl::StatusOr<Trial> SqliteStore::RecordEpoch(int64_t lease_token, int epoch,
                                               const std::string& metrics_json, int64_t deadline_us,
                                               int64_t now_us) {
  ASSIGN_OR_RETURN(json metrics, ParseMetrics(metrics_json));
  if (epoch < 1) return absl::InvalidArgumentError("epoch: must be at least 1");
  return Write([&](Connection& conn) -> absl::StatusOr<Trial> {
    ASSIGN_OR_RETURN(Trial trial, LiveLease(conn, lease_token));
    ASSIGN_OR_RETURN(Stmt upsert, conn.Prepare(sql::kUpsertEpoch));
    RETURN_IF_ERROR(upsert.Bind(1, trial.id)
                        .Bind(2, int64_t{epoch})
                        .Bind(3, int64_t{trial.attempt})
                        .Bind(4, metrics.dump())
                        .Bind(5, now_us)
                        .Run());
    if (trial.state == TrialState::kLeased) {
      ASSIGN_OR_RETURN(Stmt running, conn.Prepare(sql::kMarkRunning));
      RETURN_IF_ERROR(running.Bind(1, trial.id).Bind(2, now_us).Run());
      trial.state = TrialState::kRunning;
      RETURN_IF_ERROR(TrialEvent(conn, trial, kEventTrialRunning, json::object(), now_us));
    }
    if (deadline_us > 0) {
      ASSIGN_OR_RETURN(Stmt extend, conn.Prepare(sql::kSetDeadline));
      RETURN_IF_ERROR(extend.Bind(1, trial.id).Bind(2, deadline_us).Bind(3, now_us).Run());
      trial.lease_deadline_us = std::max(trial.lease_deadline_us, deadline_us);
    }
    trial.updated_us = now_us;
    RETURN_IF_ERROR(TrialEvent(conn, trial, kEventTrialProgress,
                               {{"epoch", epoch}, {"metrics", metrics}}, now_us));
    return trial;
  });
}

absl::StatusOr<Trial> SqliteStore::CompleteTrial(int64_t lease_token,
                                                 const std::string& metrics_json, int64_t now_us) {
  ASSIGN_OR_RETURN(json metrics, ParseMetrics(metrics_json));
  return Write([&](Connection& conn) -> absl::StatusOr<Trial> {
    ASSIGN_OR_RETURN(std::optional<Trial> held, reads::TrialByLease(conn, lease_token));
    if (held.has_value() && held->state == TrialState::kCompleted) {
      return absl::AlreadyExistsError(
          absl::StrCat("trial ", held->id, " was already completed by lease ", lease_token));
    }
    ASSIGN_OR_RETURN(Trial trial, LiveLease(conn, lease_token));
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kFinishTrial));
    RETURN_IF_ERROR(stmt.Bind(1, trial.id)
                        .Bind(2, TrialStateName(TrialState::kCompleted))
                        .Bind(3, metrics.dump())
                        .BindNull(4)
                        .Bind(5, now_us)
                        .Bind(6, lease_token)
                        .Run());
    if (conn.changes() != 1) {
      return absl::InternalError(absl::StrCat("trial ", trial.id, " changed under its lease"));
    }
    ASSIGN_OR_RETURN(Trial after, reads::GetTrial(conn, trial.id));
    RETURN_IF_ERROR(TrialEvent(conn, after, kEventTrialCompleted,
                               {{"metrics", metrics}, {"lease_token", lease_token}}, now_us));
    return after;
  });
}

absl::StatusOr<Trial> SqliteStore::EndLease(int64_t lease_token, TrialState state,
                                            absl::string_view reason, bool retryable,
                                            int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<Trial> {
    ASSIGN_OR_RETURN(Trial trial, LiveLease(conn, lease_token));
    if (state == TrialState::kFailed) return EndAttempt(conn, trial, reason, retryable, now_us);
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kFinishTrial));
    RETURN_IF_ERROR(stmt.Bind(1, trial.id)
                        .Bind(2, TrialStateName(state))
                        .BindNull(3)
                        .Bind(4, reason)
                        .Bind(5, now_us)
                        .Bind(6, lease_token)
                        .Run());
    ASSIGN_OR_RETURN(Trial after, reads::GetTrial(conn, trial.id));
    RETURN_IF_ERROR(TrialEvent(conn, after, kEventTrialPruned,
                               {{"reason", reason}, {"lease_token", lease_token}}, now_us));
    return after;
  });
}

absl::StatusOr<Trial> SqliteStore::FailTrial(int64_t lease_token, absl::string_view reason,
                                             bool retryable, int64_t now_us) {
  return EndLease(lease_token, TrialState::kFailed, reason, retryable, now_us);
}

absl::StatusOr<Trial> SqliteStore::PruneTrial(int64_t lease_token, absl::string_view reason,
                                              int64_t now_us) {
  return EndLease(lease_token, TrialState::kPruned, reason, /*retryable=*/false, now_us);
}

absl::StatusOr<Trial> SqliteStore::ReleaseLease(int64_t lease_token, absl::string_view reason,
                                                int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<Trial> {
    ASSIGN_OR_RETURN(Trial trial, LiveLease(conn, lease_token));
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kReleaseTrial));
    RETURN_IF_ERROR(stmt.Bind(1, trial.id).Bind(2, reason).Bind(3, now_us).Run());
    if (conn.changes() != 1) {
      return absl::InternalError(absl::StrCat("trial ", trial.id, " changed under its lease"));
    }
    ASSIGN_OR_RETURN(Trial after, reads::GetTrial(conn, trial.id));
    RETURN_IF_ERROR(TrialEvent(conn, after, kEventTrialRequeued,
                               {{"reason", reason}, {"lease_token", lease_token}}, now_us));
    return after;
  });
}

absl::StatusOr<std::vector<Trial>> SqliteStore::ExpireLeases(int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<std::vector<Trial>> {
    ASSIGN_OR_RETURN(const std::vector<int64_t> expired,
                     reads::ExpiredIds(conn, sql::kExpiredLeases, now_us));
    std::vector<Trial> changed;
    for (int64_t id : expired) {
      ASSIGN_OR_RETURN(Trial trial, reads::GetTrial(conn, id));
      const std::string reason =
          absl::StrCat("lease ", trial.lease_token, " expired at ", trial.lease_deadline_us, " us");
      ASSIGN_OR_RETURN(Trial after, EndAttempt(conn, trial, reason, /*retryable=*/true, now_us));
      changed.push_back(std::move(after));
    }
    return changed;
  });
}

absl::StatusOr<int64_t> SqliteStore::ExtendAllLeases(int64_t min_deadline_us, int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kRaiseDeadlines));
    RETURN_IF_ERROR(stmt.Bind(1, min_deadline_us).Bind(2, now_us).Run());
    return conn.changes();
  });
}

// --- Workers ---------------------------------------------------------------

absl::StatusOr<Worker> SqliteStore::RegisterWorker(const Worker& worker, int64_t now_us) {
  return Write([&](Connection& conn) -> absl::StatusOr<Worker> {
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kInsertWorker));
    RETURN_IF_ERROR(stmt.Bind(1, worker.hostname)
                        .Bind(2, worker.pid)
                        .Bind(3, worker.device)
                        .Bind(4, worker.version)
                        .Bind(5, now_us)
                        .Run());
    return reads::GetWorker(conn, conn.last_insert_rowid());
  });
}

absl::Status SqliteStore::TouchWorker(int64_t worker_id, int64_t now_us) {
  return Write([&](Connection& conn) { return steps::TouchWorker(conn, worker_id, now_us); });
}

absl::Status SqliteStore::TouchWorkers(const std::vector<std::pair<int64_t, int64_t>>& seen) {
  if (seen.empty()) return absl::OkStatus();
  return Write([&](Connection& conn) -> absl::Status {
    for (const auto& [worker_id, time_us] : seen) {
      absl::Status s = steps::TouchWorker(conn, worker_id, time_us);
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Worker>> SqliteStore::ListWorkers(int64_t seen_since_us) {
  return Read([&](Connection& conn) { return reads::ListWorkers(conn, seen_since_us); });
}

// --- Events ----------------------------------------------------------------

absl::StatusOr<int64_t> SqliteStore::AppendEvent(const Event& event) {
  std::string payload = event.payload_json.empty() ? "{}" : event.payload_json;
  if (json::parse(payload, nullptr, false).is_discarded()) {
    return absl::InvalidArgumentError("event payload: must be JSON");
  }
  return Write([&](Connection& conn) -> absl::StatusOr<int64_t> {
    RETURN_IF_ERROR(reads::GetCampaign(conn, event.campaign_id).status());
    return InsertEvent(conn, event.campaign_id, event.trial_id, event.type, payload, event.time_us);
  });
}

absl::StatusOr<std::vector<Event>> SqliteStore::ListEvents(int64_t campaign_id, int64_t after_id,
                                                           int limit) {
  return Read(
      [&](Connection& conn) { return reads::ListEvents(conn, campaign_id, after_id, limit); });
}

}  // namespace convrnn::db
