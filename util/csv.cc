#include "util/csv.h"

#include <cmath>
#include <set>

namespace convrnn {

std::string CsvField(absl::string_view value) {
  bool quote = !value.empty() && (value.front() == ' ' || value.back() == ' ');
  quote = quote || value.find_first_of(",\"\r\n") != absl::string_view::npos;
  if (!quote) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CsvScalar(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  }
  return value.dump();
}

namespace {

std::set<std::string> KeysOf(const std::vector<CsvTrial>& trials,
                             const nlohmann::json CsvTrial::*field) {
  std::set<std::string> keys;
  for (const CsvTrial& t : trials) {
    for (auto it = (t.*field).begin(); it != (t.*field).end(); ++it) keys.insert(it.key());
  }
  return keys;
}

void AppendRow(const std::vector<std::string>& row, std::string* out) {
  for (size_t i = 0; i < row.size(); ++i) {
    if (i > 0) *out += ',';
    *out += CsvField(row[i]);
  }
  *out += "\r\n";
}

}  // namespace

std::string TrialsToCsv(const std::vector<CsvTrial>& trials) {
  const std::set<std::string> params = KeysOf(trials, &CsvTrial::params);
  const std::set<std::string> metrics = KeysOf(trials, &CsvTrial::metrics);
  std::vector<std::string> header = {"trial_id", "number",    "state",
                                     "attempt",  "worker_id", "failure_reason"};
  for (const std::string& p : params) header.push_back("param:" + p);
  for (const std::string& m : metrics) header.push_back("metric:" + m);
  header.push_back("spec_json");
  std::string out;
  AppendRow(header, &out);
  for (const CsvTrial& t : trials) {
    std::vector<std::string> row = {
        std::to_string(t.id),      std::to_string(t.number),    t.state,
        std::to_string(t.attempt), std::to_string(t.worker_id), t.failure_reason};
    for (const std::string& p : params) {
      row.push_back(t.params.contains(p) ? CsvScalar(t.params[p]) : "");
    }
    for (const std::string& m : metrics) {
      row.push_back(t.metrics.contains(m) ? CsvScalar(t.metrics[m]) : "");
    }
    row.push_back(t.spec_json);
    AppendRow(row, &out);
  }
  return out;
}

}  // namespace convrnn
