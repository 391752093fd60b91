#include "db/reads.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "db/queries.h"
#include "util/status_macros.h"

namespace convrnn::db::reads {
namespace {

// Columns in the order of sql::kTrialColumns.
absl::StatusOr<Trial> ReadTrial(const Stmt& row) {
  Trial t;
  t.id = row.Int64(0);
  t.campaign_id = row.Int64(1);
  t.number = row.Int64(2);
  ASSIGN_OR_RETURN(t.state, ParseTrialState(row.Text(3)));
  t.attempt = static_cast<int>(row.Int64(4));
  t.worker_id = row.Int64(5);
  t.lease_token = row.Int64(6);
  t.lease_deadline_us = row.Int64(7);
  t.spec_json = row.Text(8);
  t.params_json = row.Text(9);
  t.metrics_json = row.Text(10);
  t.failure_reason = row.Text(11);
  t.created_us = row.Int64(12);
  t.updated_us = row.Int64(13);
  return t;
}

// Columns in the order of sql::kCampaignColumns.
absl::StatusOr<Campaign> ReadCampaign(const Stmt& row) {
  Campaign c;
  c.id = row.Int64(0);
  c.name = row.Text(1);
  ASSIGN_OR_RETURN(c.state, ParseCampaignState(row.Text(2)));
  c.config_json = row.Text(3);
  c.max_attempts = static_cast<int>(row.Int64(4));
  c.created_us = row.Int64(5);
  c.updated_us = row.Int64(6);
  c.request_id = row.Text(7);
  c.request_digest = row.Text(8);
  return c;
}

Worker ReadWorker(const Stmt& row) {
  Worker w;
  w.id = row.Int64(0);
  w.hostname = row.Text(1);
  w.pid = row.Int64(2);
  w.device = row.Text(3);
  w.version = row.Text(4);
  w.registered_us = row.Int64(5);
  w.last_seen_us = row.Int64(6);
  w.current_trial_id = row.Int64(7);
  return w;
}

bool IsMetricName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    if (!absl::ascii_isalnum(ch) && ch != '_' && ch != '.') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<Campaign> GetCampaign(Connection& conn, int64_t campaign_id) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kGetCampaign));
  stmt.Bind(1, campaign_id);
  ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("campaign ", campaign_id, " not found"));
  return ReadCampaign(stmt);
}

absl::StatusOr<std::optional<Campaign>> CampaignByRequest(Connection& conn,
                                                          absl::string_view request_id) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kCampaignByRequest));
  stmt.Bind(1, request_id);
  ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return std::optional<Campaign>();
  ASSIGN_OR_RETURN(Campaign campaign, ReadCampaign(stmt));
  return std::optional<Campaign>(std::move(campaign));
}

absl::StatusOr<std::vector<Campaign>> ListCampaigns(Connection& conn, int64_t before_id,
                                                    int limit) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kListCampaigns));
  stmt.BindOrNull(1, before_id).Bind(2, int64_t{limit});
  return ReadAll<Campaign>(stmt, ReadCampaign);
}

absl::StatusOr<Trial> GetTrial(Connection& conn, int64_t trial_id) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kGetTrial));
  stmt.Bind(1, trial_id);
  ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("trial ", trial_id, " not found"));
  return ReadTrial(stmt);
}

absl::StatusOr<std::optional<Trial>> TrialByLease(Connection& conn, int64_t lease_token) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kTrialByLease));
  stmt.Bind(1, lease_token);
  ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return std::optional<Trial>();
  ASSIGN_OR_RETURN(Trial trial, ReadTrial(stmt));
  return std::optional<Trial>(std::move(trial));
}

absl::StatusOr<std::vector<Trial>> ListTrials(Connection& conn, const TrialQuery& query) {
  if (query.state.has_value()) {
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kListTrialsInState));
    stmt.Bind(1, query.campaign_id)
        .Bind(2, TrialStateName(*query.state))
        .Bind(3, query.after_number)
        .Bind(4, int64_t{query.limit});
    return ReadAll<Trial>(stmt, ReadTrial);
  }
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kListTrials));
  stmt.Bind(1, query.campaign_id).Bind(2, query.after_number).Bind(3, int64_t{query.limit});
  return ReadAll<Trial>(stmt, ReadTrial);
}

absl::StatusOr<TrialCounts> CountTrials(Connection& conn, int64_t campaign_id) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kCountTrials));
  stmt.Bind(1, campaign_id);
  TrialCounts counts;
  while (true) {
    ASSIGN_OR_RETURN(bool has_row, stmt.Step());
    if (!has_row) return counts;
    ASSIGN_OR_RETURN(TrialState state, ParseTrialState(stmt.Text(0)));
    const int64_t n = stmt.Int64(1);
    switch (state) {
      case TrialState::kPending:
        counts.pending = n;
        break;
      case TrialState::kLeased:
        counts.leased = n;
        break;
      case TrialState::kRunning:
        counts.running = n;
        break;
      case TrialState::kCompleted:
        counts.completed = n;
        break;
      case TrialState::kFailed:
        counts.failed = n;
        break;
      case TrialState::kPruned:
        counts.pruned = n;
        break;
    }
  }
}

absl::StatusOr<std::vector<Trial>> TopTrials(Connection& conn, int64_t campaign_id,
                                             absl::string_view metric, bool maximize, int k) {
  if (!IsMetricName(metric)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric \"", metric, "\": must be 1-64 characters of [A-Za-z0-9_.]"));
  }
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(maximize ? sql::kTopTrialsMax : sql::kTopTrialsMin));
  stmt.Bind(1, campaign_id).Bind(2, absl::StrCat("$.\"", metric, "\"")).Bind(3, int64_t{k});
  return ReadAll<Trial>(stmt, ReadTrial);
}

absl::StatusOr<std::vector<EpochReport>> ListEpochs(Connection& conn, int64_t trial_id) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kListEpochs));
  stmt.Bind(1, trial_id);
  return ReadAll<EpochReport>(stmt, [](const Stmt& row) {
    EpochReport e;
    e.trial_id = row.Int64(0);
    e.epoch = static_cast<int>(row.Int64(1));
    e.attempt = static_cast<int>(row.Int64(2));
    e.metrics_json = row.Text(3);
    e.reported_us = row.Int64(4);
    return e;
  });
}

absl::StatusOr<Worker> GetWorker(Connection& conn, int64_t worker_id) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kGetWorker));
  stmt.Bind(1, worker_id);
  ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
  return ReadWorker(stmt);
}

absl::StatusOr<std::vector<Worker>> ListWorkers(Connection& conn, int64_t seen_since_us) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kListWorkers));
  stmt.Bind(1, seen_since_us);
  return ReadAll<Worker>(stmt, ReadWorker);
}

absl::StatusOr<std::vector<Event>> ListEvents(Connection& conn, int64_t campaign_id,
                                              int64_t after_id, int limit) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql::kListEvents));
  stmt.Bind(1, campaign_id).Bind(2, after_id).Bind(3, int64_t{limit});
  return ReadAll<Event>(stmt, [](const Stmt& row) {
    Event e;
    e.id = row.Int64(0);
    e.campaign_id = row.Int64(1);
    e.trial_id = row.Int64(2);
    e.type = row.Text(3);
    e.payload_json = row.Text(4);
    e.time_us = row.Int64(5);
    return e;
  });
}

absl::StatusOr<std::vector<int64_t>> ExpiredIds(Connection& conn, const std::string& sql,
                                                int64_t now_us) {
  ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql));
  stmt.Bind(1, now_us);
  std::vector<int64_t> ids;
  while (true) {
    ASSIGN_OR_RETURN(bool has_row, stmt.Step());
    if (!has_row) break;
    ids.push_back(stmt.Int64(0));
  }
  return ids;
}

}  // namespace convrnn::db::reads
