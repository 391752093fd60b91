#include "db/optuna_study.h"

#include <sys/stat.h>
#include <time.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "db/sqlite_connection.h"
#include "util/status_macros.h"

namespace convrnn::db {
namespace {

// What Optuna 3.1's RDBStorage creates (SQLAlchemy's DDL for SQLite).
constexpr char kSchema[] = R"sql(
CREATE TABLE studies (study_id INTEGER NOT NULL, study_name VARCHAR(512) NOT NULL,
  PRIMARY KEY (study_id));
CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name);
CREATE TABLE version_info (version_info_id INTEGER NOT NULL, schema_version INTEGER,
  library_version VARCHAR(256), PRIMARY KEY (version_info_id), CHECK (version_info_id=1));
CREATE TABLE study_directions (study_direction_id INTEGER NOT NULL, direction VARCHAR(8) NOT NULL,
  study_id INTEGER NOT NULL, objective INTEGER NOT NULL, PRIMARY KEY (study_direction_id),
  UNIQUE (study_id, objective), FOREIGN KEY(study_id) REFERENCES studies (study_id));
CREATE TABLE study_user_attributes (study_user_attribute_id INTEGER NOT NULL, study_id INTEGER,
  "key" VARCHAR(512), value_json TEXT, PRIMARY KEY (study_user_attribute_id),
  UNIQUE (study_id, "key"), FOREIGN KEY(study_id) REFERENCES studies (study_id));
CREATE TABLE study_system_attributes (study_system_attribute_id INTEGER NOT NULL,
  study_id INTEGER, "key" VARCHAR(512), value_json TEXT,
  PRIMARY KEY (study_system_attribute_id), UNIQUE (study_id, "key"),
  FOREIGN KEY(study_id) REFERENCES studies (study_id));
CREATE TABLE trials (trial_id INTEGER NOT NULL, number INTEGER, study_id INTEGER,
  state VARCHAR(8) NOT NULL, datetime_start DATETIME, datetime_complete DATETIME,
  PRIMARY KEY (trial_id), FOREIGN KEY(study_id) REFERENCES studies (study_id));
CREATE TABLE trial_user_attributes (trial_user_attribute_id INTEGER NOT NULL, trial_id INTEGER,
  "key" VARCHAR(512), value_json TEXT, PRIMARY KEY (trial_user_attribute_id),
  UNIQUE (trial_id, "key"), FOREIGN KEY(trial_id) REFERENCES trials (trial_id));
CREATE TABLE trial_system_attributes (trial_system_attribute_id INTEGER NOT NULL,
  trial_id INTEGER, "key" VARCHAR(512), value_json TEXT,
  PRIMARY KEY (trial_system_attribute_id), UNIQUE (trial_id, "key"),
  FOREIGN KEY(trial_id) REFERENCES trials (trial_id));
CREATE TABLE trial_params (param_id INTEGER NOT NULL, trial_id INTEGER,
  param_name VARCHAR(512), param_value FLOAT, distribution_json TEXT, PRIMARY KEY (param_id),
  UNIQUE (trial_id, param_name), FOREIGN KEY(trial_id) REFERENCES trials (trial_id));
CREATE TABLE trial_values (trial_value_id INTEGER NOT NULL, trial_id INTEGER NOT NULL,
  objective INTEGER NOT NULL, value FLOAT, value_type VARCHAR(7) NOT NULL,
  PRIMARY KEY (trial_value_id), UNIQUE (trial_id, objective),
  FOREIGN KEY(trial_id) REFERENCES trials (trial_id));
CREATE TABLE trial_intermediate_values (trial_intermediate_value_id INTEGER NOT NULL,
  trial_id INTEGER NOT NULL, step INTEGER NOT NULL, intermediate_value FLOAT,
  intermediate_value_type VARCHAR(7) NOT NULL, PRIMARY KEY (trial_intermediate_value_id),
  UNIQUE (trial_id, step), FOREIGN KEY(trial_id) REFERENCES trials (trial_id));
CREATE TABLE trial_heartbeats (trial_heartbeat_id INTEGER NOT NULL, trial_id INTEGER NOT NULL,
  heartbeat DATETIME NOT NULL, PRIMARY KEY (trial_heartbeat_id), UNIQUE (trial_id),
  FOREIGN KEY(trial_id) REFERENCES trials (trial_id));
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,
  CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
INSERT INTO alembic_version (version_num) VALUES ('v3.0.0.d');
INSERT INTO version_info (version_info_id, schema_version, library_version)
  VALUES (1, 12, '3.1.0');
)sql";

// SQLAlchemy's DateTime text in SQLite: "2026-11-30 15:42:25.312093" (UTC here).
std::string DateTime(int64_t unix_us) {
  const time_t seconds = static_cast<time_t>(unix_us / 1000000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  return absl::StrFormat("%04d-%02d-%02d %02d:%02d:%02d.%06d", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                         static_cast<int>(unix_us % 1000000));
}

// Optuna's TrialValueType / TrialIntermediateValueType names.
const char* ValueType(double v) {
  if (std::isnan(v)) return "NAN";
  if (std::isinf(v)) return v > 0 ? "INF_POS" : "INF_NEG";
  return "FINITE";
}

absl::Status AddAttrs(Connection& conn, const std::string& sql, int64_t owner,
                      const std::map<std::string, std::string>& attrs) {
  for (const auto& [key, value_json] : attrs) {
    ASSIGN_OR_RETURN(Stmt stmt, conn.Prepare(sql));
    if (absl::Status s = stmt.Bind(1, owner).Bind(2, key).Bind(3, value_json).Run(); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

OptunaStudyWriter::OptunaStudyWriter(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}
OptunaStudyWriter::~OptunaStudyWriter() = default;

absl::StatusOr<std::unique_ptr<OptunaStudyWriter>> OptunaStudyWriter::Create(
    const std::string& path, const std::string& study_name,
    const std::vector<std::string>& directions,
    const std::map<std::string, std::string>& user_attrs) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(absl::StrCat(path, ": exists; give a new file"));
  }
  Connection::Options options;
  options.sync_full = false;
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(path, options));
  std::unique_ptr<OptunaStudyWriter> writer(new OptunaStudyWriter(std::move(conn)));
  Connection& c = *writer->conn_;
  // Optuna opens the file itself; a rollback journal keeps it one file.
  if (absl::Status s = c.Exec("PRAGMA journal_mode=DELETE;"); !s.ok()) return s;
  if (absl::Status s = c.Exec(kSchema); !s.ok()) return s;
  if (absl::Status s = c.Exec("BEGIN;"); !s.ok()) return s;
  ASSIGN_OR_RETURN(Stmt study,
                   c.Prepare("INSERT INTO studies (study_id, study_name) VALUES (?, ?)"));
  if (absl::Status s = study.Bind(1, writer->study_id_).Bind(2, study_name).Run(); !s.ok()) {
    return s;
  }
  for (size_t i = 0; i < directions.size(); ++i) {
    ASSIGN_OR_RETURN(
        Stmt d,
        c.Prepare(
            "INSERT INTO study_directions (direction, study_id, objective) VALUES (?, ?, ?)"));
    RETURN_IF_ERROR(
        d.Bind(1, directions[i]).Bind(2, writer->study_id_).Bind(3, static_cast<int64_t>(i)).Run());
  }
  if (absl::Status s = AddAttrs(c,
                                "INSERT INTO study_user_attributes (study_id, \"key\", value_json) "
                                "VALUES (?, ?, ?)",
                                writer->study_id_, user_attrs);
      !s.ok()) {
    return s;
  }
  return writer;
}

absl::Status OptunaStudyWriter::AddTrialRow(const OptunaTrial& trial, int64_t* trial_id) {
  ASSIGN_OR_RETURN(
      Stmt stmt,
      conn_->Prepare(
          "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete) "
          "VALUES (?, ?, ?, ?, ?)"));
  stmt.Bind(1, trial.number).Bind(2, study_id_).Bind(3, trial.state);
  if (trial.start_unix_us > 0) {
    stmt.Bind(4, DateTime(trial.start_unix_us));
  } else {
    stmt.BindNull(4);
  }
  if (trial.complete_unix_us > 0) {
    stmt.Bind(5, DateTime(trial.complete_unix_us));
  } else {
    stmt.BindNull(5);
  }
  if (absl::Status s = stmt.Run(); !s.ok()) return s;
  *trial_id = conn_->last_insert_rowid();
  return absl::OkStatus();
}

absl::Status OptunaStudyWriter::Add(const OptunaTrial& trial) {
  int64_t id = 0;
  if (absl::Status s = AddTrialRow(trial, &id); !s.ok()) return s;
  for (const OptunaParam& p : trial.params) {
    ASSIGN_OR_RETURN(
        Stmt stmt,
        conn_->Prepare(
            "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
            "VALUES (?, ?, ?, ?)"));
    RETURN_IF_ERROR(stmt.Bind(1, id)
                        .Bind(2, p.name)
                        .BindDouble(3, p.internal_value)
                        .Bind(4, p.distribution_json)
                        .Run());
  }
  for (size_t i = 0; i < trial.values.size(); ++i) {
    ASSIGN_OR_RETURN(Stmt stmt, conn_->Prepare("INSERT INTO trial_values (trial_id, objective, "
                                               "value, value_type) VALUES (?, ?, ?, ?)"));
    const double v = trial.values[i];
    stmt.Bind(1, id).Bind(2, static_cast<int64_t>(i)).Bind(4, ValueType(v));
    if (std::isfinite(v)) {
      stmt.BindDouble(3, v);
    } else {
      stmt.BindNull(3);
    }
    if (absl::Status s = stmt.Run(); !s.ok()) return s;
  }
  for (const auto& [step, v] : trial.intermediate_values) {
    ASSIGN_OR_RETURN(
        Stmt stmt,
        conn_->Prepare("INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, "
                       "intermediate_value_type) VALUES (?, ?, ?, ?)"));
    stmt.Bind(1, id).Bind(2, step).Bind(4, ValueType(v));
    if (std::isfinite(v)) {
      stmt.BindDouble(3, v);
    } else {
      stmt.BindNull(3);
    }
    if (absl::Status s = stmt.Run(); !s.ok()) return s;
  }
  return AddAttrs(*conn_,
                  "INSERT INTO trial_user_attributes (trial_id, \"key\", value_json) "
                  "VALUES (?, ?, ?)",
                  id, trial.user_attrs);
}

absl::Status OptunaStudyWriter::Finish() { return conn_->Exec("COMMIT;"); }

}  // namespace convrnn::db
