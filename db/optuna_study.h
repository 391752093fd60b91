// Writes an Optuna study into a new SQLite file in the schema of Optuna's
// RDBStorage as Optuna 3.1 creates it (alembic revision v3.0.0.d), so that
// `optuna.load_study(storage="sqlite:///FILE")`, its plots and
// optuna-dashboard read it. Newer Optuna releases refuse an older schema
// until `optuna storage upgrade --storage sqlite:///FILE` migrates it.
//
// Only the tables' contents are ours: trials, their params (Optuna's
// internal representation: the number, or a choice's index, with the
// distribution's JSON), values per objective, intermediate values per step
// and user attributes (JSON values).
//
// Thread-safety: a writer is used by one thread at a time.
#ifndef CONVRNN_DB_OPTUNA_STUDY_H_
#define CONVRNN_DB_OPTUNA_STUDY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace convrnn::db {

class Connection;

struct OptunaParam {
  std::string name;
  double internal_value = 0.0;    // the number, or the index of the choice
  std::string distribution_json;  // {"name": "FloatDistribution", "attributes": {...}}
};

struct OptunaTrial {
  int64_t number = 0;  // from 0, in order
  // "COMPLETE", "PRUNED", "FAIL", "RUNNING" or "WAITING".
  std::string state;
  int64_t start_unix_us = 0;     // 0: NULL
  int64_t complete_unix_us = 0;  // 0: NULL
  std::vector<OptunaParam> params;
  std::vector<double> values;                     // one per direction, or none
  std::map<int64_t, double> intermediate_values;  // step -> value
  std::map<std::string, std::string> user_attrs;  // key -> JSON text
};

class OptunaStudyWriter {
 public:
  // Creates `path` with the schema and one study. `directions`: "MINIMIZE"
  // or "MAXIMIZE" per objective. An existing file is refused
  // (ALREADY_EXISTS), so a study is never mixed into another file.
  static absl::StatusOr<std::unique_ptr<OptunaStudyWriter>> Create(
      const std::string& path, const std::string& study_name,
      const std::vector<std::string>& directions,
      const std::map<std::string, std::string>& user_attrs);
  ~OptunaStudyWriter();
  OptunaStudyWriter(const OptunaStudyWriter&) = delete;
  OptunaStudyWriter& operator=(const OptunaStudyWriter&) = delete;

  absl::Status Add(const OptunaTrial& trial);
  // Commits everything added (one transaction); without it the file stays
  // empty of trials.
  absl::Status Finish();

 private:
  explicit OptunaStudyWriter(std::unique_ptr<Connection> conn);
  absl::Status AddTrialRow(const OptunaTrial& trial, int64_t* trial_id);

  std::unique_ptr<Connection> conn_;
  int64_t study_id_ = 1;
};

}  // namespace convrnn::db

#endif  // CONVRNN_DB_OPTUNA_STUDY_H_
