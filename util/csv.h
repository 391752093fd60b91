// CSV (RFC 4180, CRLF rows) and the trial table both `convrnn-server`'s
// Export and the client's fallback write, so the two agree on columns,
// quoting and number formatting.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_UTIL_CSV_H_
#define CONVRNN_UTIL_CSV_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace convrnn {

// `value` as a CSV field: quoted (quotes doubled) when it holds a comma, a
// quote, CR or LF, or starts or ends with a space.
std::string CsvField(absl::string_view value);

// A JSON scalar as CSV text: strings as they are, integral numbers without
// ".0", other numbers in the shortest form that reads back exactly, others
// as JSON.
std::string CsvScalar(const nlohmann::json& value);

// One row of the trial table.
struct CsvTrial {
  int64_t id = 0;
  int64_t number = 0;
  std::string state;  // PENDING, LEASED, RUNNING, COMPLETED, FAILED or PRUNED
  int attempt = 0;
  int64_t worker_id = 0;
  std::string failure_reason;
  nlohmann::json params = nlohmann::json::object();   // name -> scalar
  nlohmann::json metrics = nlohmann::json::object();  // final metrics, name -> number
  std::string spec_json;
};

// Header trial_id,number,state,attempt,worker_id,failure_reason, then
// param:NAME and metric:NAME columns (sorted, the union over all trials),
// then spec_json; one row per trial, empty where a trial lacks a column.
std::string TrialsToCsv(const std::vector<CsvTrial>& trials);

}  // namespace convrnn

#endif  // CONVRNN_UTIL_CSV_H_
