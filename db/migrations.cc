#include "db/migrations.h"

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"

namespace convrnn::db {
namespace {

// Version 1: campaigns, trials with leases, per-epoch metrics, workers, events.
// Every hot query has an index (see SqliteStore::ExplainHotQueries):
//   trials_by_campaign_state  counts per state, listing with a state filter,
//                             leasing within one campaign
//   trials_by_state           leasing the oldest pending trial of any campaign
//   trials_by_deadline        reaping expired leases (live leases only)
//   trials_by_lease           every fenced call finds its trial by token
//   trials_by_worker          a worker's current trial
//   events_by_campaign        watch streams resuming from an id
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE campaigns (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('RUNNING', 'STOPPED', 'COMPLETED', 'FAILED')),
  config_json TEXT NOT NULL,
  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
  created_us INTEGER NOT NULL,
  updated_us INTEGER NOT NULL
);

CREATE TABLE workers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hostname TEXT NOT NULL,
  pid INTEGER NOT NULL,
  device TEXT NOT NULL,
  version TEXT NOT NULL,
  registered_us INTEGER NOT NULL,
  last_seen_us INTEGER NOT NULL
);

CREATE TABLE trials (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL
    CHECK (state IN ('PENDING', 'LEASED', 'RUNNING', 'COMPLETED', 'FAILED', 'PRUNED')),
  attempt INTEGER NOT NULL CHECK (attempt >= 1),
  worker_id INTEGER REFERENCES workers(id),
  lease_token INTEGER,
  lease_deadline_us INTEGER,
  spec_json TEXT NOT NULL,
  params_json TEXT NOT NULL,
  metrics_json TEXT,
  failure_reason TEXT,
  created_us INTEGER NOT NULL,
  updated_us INTEGER NOT NULL,
  UNIQUE (campaign_id, number)
);
CREATE INDEX trials_by_campaign_state ON trials(campaign_id, state, number);
CREATE INDEX trials_by_state ON trials(state, id);
CREATE INDEX trials_by_deadline ON trials(lease_deadline_us)
  WHERE lease_deadline_us IS NOT NULL;
CREATE UNIQUE INDEX trials_by_lease ON trials(lease_token) WHERE lease_token IS NOT NULL;
CREATE INDEX trials_by_worker ON trials(worker_id, state) WHERE worker_id IS NOT NULL;

CREATE TABLE epochs (
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  epoch INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  metrics_json TEXT NOT NULL,
  reported_us INTEGER NOT NULL,
  PRIMARY KEY (trial_id, epoch)
) WITHOUT ROWID;

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
  trial_id INTEGER REFERENCES trials(id),
  type TEXT NOT NULL,
  payload_json TEXT NOT NULL,
  time_us INTEGER NOT NULL
);
CREATE INDEX events_by_campaign ON events(campaign_id, id);

-- Monotonic counters; lease_token is the fencing token, never reused.
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('lease_token', 0);
)sql";

// Version 2: trial counts per (campaign, state) kept by triggers, so
// CountTrials reads at most six rows however many trials a campaign holds
// (with v1 it counted index entries: linear in the campaign's trials, on the
// path of every LeaseTrial and CompleteTrial).
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE trial_counts (
  campaign_id INTEGER NOT NULL,
  state TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (campaign_id, state)
) WITHOUT ROWID;
INSERT INTO trial_counts (campaign_id, state, n)
  SELECT campaign_id, state, count(*) FROM trials WHERE true GROUP BY campaign_id, state;
CREATE TRIGGER trial_counts_insert AFTER INSERT ON trials BEGIN
  INSERT INTO trial_counts (campaign_id, state, n) VALUES (NEW.campaign_id, NEW.state, 1)
    ON CONFLICT (campaign_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER trial_counts_update AFTER UPDATE OF state ON trials
  WHEN OLD.state IS NOT NEW.state BEGIN
  UPDATE trial_counts SET n = n - 1 WHERE campaign_id = OLD.campaign_id AND state = OLD.state;
  INSERT INTO trial_counts (campaign_id, state, n) VALUES (NEW.campaign_id, NEW.state, 1)
    ON CONFLICT (campaign_id, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER trial_counts_delete AFTER DELETE ON trials BEGIN
  UPDATE trial_counts SET n = n - 1 WHERE campaign_id = OLD.campaign_id AND state = OLD.state;
END;
)sql";

// Version 3: neural-predictivity scoring jobs of completed trials (issue 5).
// A job is leased to a worker like a trial, under a token from the same
// counter (so a token names a trial lease or a score lease, never both), and
// its report is kept with the trial it scored.
//   scores_by_state     leasing the oldest pending job
//   scores_by_trial     a trial's scores (convrnn show)
//   scores_by_lease     every fenced call finds its job by token
//   scores_by_deadline  reaping expired leases (live leases only)
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE scores (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
  state TEXT NOT NULL CHECK (state IN ('PENDING', 'LEASED', 'COMPLETED', 'FAILED')),
  attempt INTEGER NOT NULL CHECK (attempt >= 1),
  neural_json TEXT NOT NULL,
  worker_id INTEGER REFERENCES workers(id),
  lease_token INTEGER,
  lease_deadline_us INTEGER,
  result_json TEXT,
  error TEXT,
  error_code INTEGER,
  created_us INTEGER NOT NULL,
  updated_us INTEGER NOT NULL
);
CREATE INDEX scores_by_state ON scores(state, id);
CREATE INDEX scores_by_trial ON scores(trial_id, id);
CREATE UNIQUE INDEX scores_by_lease ON scores(lease_token) WHERE lease_token IS NOT NULL;
CREATE INDEX scores_by_deadline ON scores(lease_deadline_us)
  WHERE lease_deadline_us IS NOT NULL;
)sql";

// A launch's request id, so a client retrying a launch whose reply it lost
// gets the campaign it created instead of a second one; with the digest of
// the document it launched, to tell a retry from a different launch that
// reuses the id. Campaigns stored before v4 have neither (NULL).
constexpr char kSchemaV4[] = R"sql(
ALTER TABLE campaigns ADD COLUMN request_id TEXT;
ALTER TABLE campaigns ADD COLUMN request_digest TEXT;
CREATE UNIQUE INDEX campaigns_by_request ON campaigns(request_id) WHERE request_id IS NOT NULL;
)sql";

}  // namespace

const std::vector<Migration>& SchemaMigrations() {
  static const auto* const kMigrations = new std::vector<Migration>{
      {1, "campaigns, trials with leases, epochs, workers, events", kSchemaV1},
      {2, "trial counts per campaign and state, kept by triggers", kSchemaV2},
      {3, "neural-predictivity scoring jobs of completed trials", kSchemaV3},
      {4, "launch request ids of campaigns (idempotent launch)", kSchemaV4},
  };
  return *kMigrations;
}

int LatestSchemaVersion() { return SchemaMigrations().back().version; }

absl::StatusOr<int> SchemaVersion(Connection& conn) {
  ASSIGN_OR_RETURN(
      Stmt exists,
      conn.Prepare(
          "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'"));
  RETURN_IF_ERROR(exists.Step().status());
  if (exists.Int64(0) == 0) return 0;
  ASSIGN_OR_RETURN(Stmt max, conn.Prepare("SELECT coalesce(max(version), 0) FROM schema_version"));
  RETURN_IF_ERROR(max.Step().status());
  return static_cast<int>(max.Int64(0));
}

absl::Status Migrate(Connection& conn, const std::vector<Migration>& migrations,
                     int target_version) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (target_version < 0) target_version = latest;
  Transaction txn(&conn);
  RETURN_IF_ERROR(txn.Begin());
  ASSIGN_OR_RETURN(int current, SchemaVersion(conn));
  if (current > latest) {
    return absl::FailedPreconditionError(
        absl::StrCat(conn.path(), ": database schema version ", current,
                     " is newer than this build understands (", latest,
                     "); use a newer convrnn-server or a copy of the database"));
  }
  if (current == 0) {
    RETURN_IF_ERROR(
        conn.Exec("CREATE TABLE IF NOT EXISTS schema_version ("
                  " version INTEGER PRIMARY KEY, description TEXT NOT NULL)"));
  }
  for (const Migration& m : migrations) {
    if (m.version <= current || m.version > target_version) continue;
    absl::Status s = conn.Exec(m.sql);
    if (!s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("migrating to schema version ", m.version, ": ", s.message()));
    }
    ASSIGN_OR_RETURN(
        Stmt record,
        conn.Prepare("INSERT INTO schema_version (version, description) VALUES (?1, ?2)"));
    RETURN_IF_ERROR(record.Bind(1, int64_t{m.version}).Bind(2, m.description).Run());
  }
  return txn.Commit();
}

}  // namespace convrnn::db
