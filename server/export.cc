#include "server/export.h"

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "server/metrics.h"

namespace convrnn::server {
namespace {

using nlohmann::json;

std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

json ObjectOrEmpty(const std::string& text) {
  json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::string ScalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

std::string TrialsToCsv(const std::vector<db::Trial>& trials) {
  std::set<std::string> param_names, metric_names;
  std::vector<json> params, metrics;
  for (const db::Trial& t : trials) {
    params.push_back(ObjectOrEmpty(t.params_json));
    metrics.push_back(ObjectOrEmpty(t.metrics_json));
    for (auto it = params.back().begin(); it != params.back().end(); ++it) {
      param_names.insert(it.key());
    }
    for (auto it = metrics.back().begin(); it != metrics.back().end(); ++it) {
      metric_names.insert(it.key());
    }
  }
  std::ostringstream out;
  out << "trial_id,number,state,attempt,worker_id,failure_reason";
  for (const std::string& p : param_names) out << "," << CsvField("param:" + p);
  for (const std::string& m : metric_names) out << "," << CsvField("metric:" + m);
  out << ",spec_json\r\n";
  for (size_t i = 0; i < trials.size(); ++i) {
    const db::Trial& t = trials[i];
    out << t.id << "," << t.number << "," << db::TrialStateName(t.state) << "," << t.attempt << ","
        << t.worker_id << "," << CsvField(t.failure_reason);
    for (const std::string& p : param_names) {
      out << ",";
      if (params[i].contains(p)) out << CsvField(ScalarText(params[i][p]));
    }
    for (const std::string& m : metric_names) {
      out << ",";
      if (metrics[i].contains(m)) out << ScalarText(metrics[i][m]);
    }
    out << "," << CsvField(t.spec_json) << "\r\n";
  }
  return out.str();
}

std::string TrialsToJson(const std::vector<db::Trial>& trials) {
  json all = json::array();
  for (const db::Trial& t : trials) {
    json spec = json::parse(t.spec_json, nullptr, false);
    all.push_back({{"trial_id", t.id},
                   {"campaign_id", t.campaign_id},
                   {"number", t.number},
                   {"state", std::string(db::TrialStateName(t.state))},
                   {"attempt", t.attempt},
                   {"worker_id", t.worker_id},
                   {"params", ObjectOrEmpty(t.params_json)},
                   {"final_metrics", ObjectOrEmpty(t.metrics_json)},
                   {"failure_reason", t.failure_reason},
                   {"spec", spec.is_discarded() ? json(t.spec_json) : spec},
                   {"created_unix_us", t.created_us},
                   {"updated_unix_us", t.updated_us}});
  }
  return all.dump(2) + "\n";
}

}  // namespace convrnn::server
