// Every SQL statement SqliteStore runs, in one place, so the hot ones can be
// checked against the schema's indexes (SqliteStore::ExplainHotQueries).
//
// Internal to db/. Parameters are numbered (?1, ?2, ...) as documented beside
// each statement.
#ifndef CONVRNN_DB_QUERIES_H_
#define CONVRNN_DB_QUERIES_H_

#include <string>

namespace convrnn::db::sql {

// Column list read by ReadTrial(); keep the two in step.
inline const std::string kTrialColumns =
    "id, campaign_id, number, state, attempt, worker_id, lease_token, lease_deadline_us, "
    "spec_json, params_json, metrics_json, failure_reason, created_us, updated_us";
inline const std::string kCampaignColumns =
    "id, name, state, config_json, max_attempts, created_us, updated_us, request_id, "
    "request_digest";
inline const std::string kWorkerColumns =
    "w.id, w.hostname, w.pid, w.device, w.version, w.registered_us, w.last_seen_us, "
    "(SELECT t.id FROM trials t WHERE t.worker_id = w.id AND t.state IN ('LEASED', 'RUNNING') "
    "LIMIT 1)";

// --- Campaigns ---
inline const std::string kInsertCampaign =  // ?1 name ?2 config ?3 max_attempts ?4 now
                                            // ?5 request_id (NULL: none) ?6 request_digest
    "INSERT INTO campaigns (name, state, config_json, max_attempts, created_us, updated_us, "
    "request_id, request_digest) VALUES (?1, 'RUNNING', ?2, ?3, ?4, ?4, ?5, ?6)";
inline const std::string kCampaignByRequest =  // ?1 request_id
    "SELECT " + kCampaignColumns + " FROM campaigns WHERE request_id = ?1";
inline const std::string kGetCampaign =
    "SELECT " + kCampaignColumns + " FROM campaigns WHERE id = ?1";
inline const std::string kListCampaigns =  // ?1 before_id (NULL: newest) ?2 limit
    "SELECT " + kCampaignColumns +
    " FROM campaigns WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2";
inline const std::string kSetCampaignState =  // ?1 id ?2 state ?3 now
    "UPDATE campaigns SET state = ?2, updated_us = ?3 WHERE id = ?1 AND state <> ?2";
inline const std::string kSetCampaignConfig =  // ?1 id ?2 config ?3 now
    "UPDATE campaigns SET config_json = ?2, updated_us = ?3 WHERE id = ?1";
inline const std::string kCampaignMaxAttempts = "SELECT max_attempts FROM campaigns WHERE id = ?1";

// --- Trials ---
inline const std::string kNextTrialNumber =  // ?1 campaign
    "SELECT coalesce(max(number), 0) + 1 FROM trials WHERE campaign_id = ?1";
inline const std::string kInsertTrial =  // ?1 campaign ?2 number ?3 spec ?4 params ?5 now
    "INSERT INTO trials (campaign_id, number, state, attempt, spec_json, params_json, "
    "created_us, updated_us) VALUES (?1, ?2, 'PENDING', 1, ?3, ?4, ?5, ?5)";
inline const std::string kGetTrial = "SELECT " + kTrialColumns + " FROM trials WHERE id = ?1";
inline const std::string kTrialByLease =  // ?1 token
    "SELECT " + kTrialColumns + " FROM trials WHERE lease_token = ?1";
inline const std::string kListTrials =  // ?1 campaign ?2 after_number ?3 limit
    "SELECT " + kTrialColumns +
    " FROM trials WHERE campaign_id = ?1 AND number > ?2 ORDER BY number LIMIT ?3";
inline const std::string kListTrialsInState =  // ?1 campaign ?2 state ?3 after_number ?4 limit
    "SELECT " + kTrialColumns +
    " FROM trials WHERE campaign_id = ?1 AND state = ?2 AND number > ?3 ORDER BY number LIMIT ?4";
inline const std::string kCountTrials =                          // ?1 campaign
    "SELECT state, n FROM trial_counts WHERE campaign_id = ?1";  // kept by triggers (v2)
// ?1 campaign ?2 JSON path of the metric ?3 k
inline const std::string kTopTrialsWhere =
    " FROM trials WHERE campaign_id = ?1 AND state = 'COMPLETED' "
    "AND json_type(metrics_json, ?2) IN ('integer', 'real') ORDER BY json_extract(metrics_json, "
    "?2) ";
inline const std::string kTopTrialsMax =
    "SELECT " + kTrialColumns + kTopTrialsWhere + "DESC, number LIMIT ?3";
inline const std::string kTopTrialsMin =
    "SELECT " + kTrialColumns + kTopTrialsWhere + "ASC, number LIMIT ?3";

// --- Leases ---
inline const std::string kTouchWorker =  // ?1 worker ?2 now
    "UPDATE workers SET last_seen_us = ?2 WHERE id = ?1";
inline const std::string kNextPendingAny =
    "SELECT t.id FROM trials t JOIN campaigns c ON c.id = t.campaign_id "
    "WHERE t.state = 'PENDING' AND c.state = 'RUNNING' ORDER BY t.id LIMIT 1";
inline const std::string kNextPendingInCampaign =  // ?1 campaign
    "SELECT t.id FROM trials t JOIN campaigns c ON c.id = t.campaign_id "
    "WHERE t.campaign_id = ?1 AND t.state = 'PENDING' AND c.state = 'RUNNING' "
    "ORDER BY t.number LIMIT 1";
inline const std::string kNextLeaseToken =
    "UPDATE counters SET value = value + 1 WHERE name = 'lease_token' RETURNING value";
inline const std::string kLeaseTrial =  // ?1 trial ?2 worker ?3 token ?4 deadline ?5 now
    "UPDATE trials SET state = 'LEASED', worker_id = ?2, lease_token = ?3, "
    "lease_deadline_us = ?4, updated_us = ?5 WHERE id = ?1 AND state = 'PENDING'";
inline const std::string kMarkRunning =  // ?1 trial ?2 now
    "UPDATE trials SET state = 'RUNNING', updated_us = ?2 WHERE id = ?1 AND state = 'LEASED'";
inline const std::string kSetDeadline =  // ?1 trial ?2 deadline (only raised) ?3 now
    "UPDATE trials SET lease_deadline_us = MAX(IFNULL(lease_deadline_us, 0), ?2), "
    "updated_us = ?3 WHERE id = ?1";
inline const std::string kUpsertEpoch =  // ?1 trial ?2 epoch ?3 attempt ?4 metrics ?5 now
    "INSERT INTO epochs (trial_id, epoch, attempt, metrics_json, reported_us) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (trial_id, epoch) DO UPDATE SET "
    "attempt = excluded.attempt, metrics_json = excluded.metrics_json, "
    "reported_us = excluded.reported_us";
inline const std::string kListEpochs =
    "SELECT trial_id, epoch, attempt, metrics_json, reported_us FROM epochs "
    "WHERE trial_id = ?1 ORDER BY epoch";
// Ends a live lease. ?1 trial ?2 state ?3 metrics ?4 reason ?5 now ?6 token
inline const std::string kFinishTrial =
    "UPDATE trials SET state = ?2, metrics_json = ?3, failure_reason = ?4, "
    "lease_deadline_us = NULL, updated_us = ?5 "
    "WHERE id = ?1 AND lease_token = ?6 AND state IN ('LEASED', 'RUNNING')";
inline const std::string kRequeueTrial =  // ?1 trial ?2 reason ?3 now
    "UPDATE trials SET state = 'PENDING', attempt = attempt + 1, lease_token = NULL, "
    "lease_deadline_us = NULL, failure_reason = ?2, updated_us = ?3 "
    "WHERE id = ?1 AND state IN ('LEASED', 'RUNNING')";
inline const std::string kReleaseTrial =  // ?1 trial ?2 reason ?3 now
    "UPDATE trials SET state = 'PENDING', lease_token = NULL, lease_deadline_us = NULL, "
    "failure_reason = ?2, updated_us = ?3 WHERE id = ?1 AND state IN ('LEASED', 'RUNNING')";
inline const std::string kExpiredLeases =  // ?1 now
    "SELECT id FROM trials WHERE lease_deadline_us < ?1 ORDER BY lease_deadline_us";
inline const std::string kRaiseDeadlines =  // ?1 min deadline ?2 now
    "UPDATE trials SET lease_deadline_us = ?1, updated_us = ?2 WHERE lease_deadline_us < ?1";

// --- Scores (v3) ---
inline const std::string kScoreColumns =
    "id, trial_id, campaign_id, state, attempt, neural_json, worker_id, lease_token, "
    "lease_deadline_us, result_json, error, error_code, created_us, updated_us";
inline const std::string kInsertScore =  // ?1 trial ?2 campaign ?3 neural ?4 now
    "INSERT INTO scores (trial_id, campaign_id, state, attempt, neural_json, created_us, "
    "updated_us) VALUES (?1, ?2, 'PENDING', 1, ?3, ?4, ?4)";
inline const std::string kGetScore = "SELECT " + kScoreColumns + " FROM scores WHERE id = ?1";
inline const std::string kScoreByLease =  // ?1 token
    "SELECT " + kScoreColumns + " FROM scores WHERE lease_token = ?1";
inline const std::string kListScores =  // ?1 trial
    "SELECT " + kScoreColumns + " FROM scores WHERE trial_id = ?1 ORDER BY id";
inline const std::string kNextPendingScore =
    "SELECT id FROM scores WHERE state = 'PENDING' ORDER BY id LIMIT 1";
inline const std::string kLeaseScore =  // ?1 score ?2 worker ?3 token ?4 deadline ?5 now
    "UPDATE scores SET state = 'LEASED', worker_id = ?2, lease_token = ?3, "
    "lease_deadline_us = ?4, updated_us = ?5 WHERE id = ?1 AND state = 'PENDING'";
inline const std::string kSetScoreDeadline =  // ?1 score ?2 deadline (only raised) ?3 now
    "UPDATE scores SET lease_deadline_us = MAX(IFNULL(lease_deadline_us, 0), ?2), "
    "updated_us = ?3 WHERE id = ?1";
// Ends a live score lease. ?1 score ?2 state ?3 result ?4 error ?5 code ?6 now
inline const std::string kFinishScore =
    "UPDATE scores SET state = ?2, result_json = ?3, error = ?4, error_code = ?5, "
    "lease_deadline_us = NULL, updated_us = ?6 WHERE id = ?1 AND state = 'LEASED'";
inline const std::string kRequeueScore =  // ?1 score ?2 now
    "UPDATE scores SET state = 'PENDING', attempt = attempt + 1, lease_token = NULL, "
    "lease_deadline_us = NULL, updated_us = ?2 WHERE id = ?1 AND state = 'LEASED'";
inline const std::string kExpiredScoreLeases =  // ?1 now
    "SELECT id FROM scores WHERE lease_deadline_us < ?1 ORDER BY lease_deadline_us";

// --- Workers ---
inline const std::string kInsertWorker =  // ?1 host ?2 pid ?3 device ?4 version ?5 now
    "INSERT INTO workers (hostname, pid, device, version, registered_us, last_seen_us) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
inline const std::string kGetWorker =
    "SELECT " + kWorkerColumns + " FROM workers w WHERE w.id = ?1";
inline const std::string kListWorkers =  // ?1 seen_since
    "SELECT " + kWorkerColumns + " FROM workers w WHERE w.last_seen_us >= ?1 ORDER BY w.id";

// --- Events ---
inline const std::string kInsertEvent =  // ?1 campaign ?2 trial ?3 type ?4 payload ?5 time
    "INSERT INTO events (campaign_id, trial_id, type, payload_json, time_us) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
inline const std::string kListEvents =  // ?1 campaign ?2 after_id ?3 limit
    "SELECT id, campaign_id, trial_id, type, payload_json, time_us FROM events "
    "WHERE campaign_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3";

}  // namespace convrnn::db::sql

#endif  // CONVRNN_DB_QUERIES_H_
