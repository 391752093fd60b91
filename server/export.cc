#include "server/export.h"

#include <nlohmann/json.hpp>

#include "server/metrics.h"
#include "util/csv.h"

namespace convrnn::server {
namespace {

using nlohmann::json;

json ObjectOrEmpty(const std::string& text) {
  json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  return j.is_object() ? j : json::object();
}

}  // namespace

std::string TrialsToCsv(const std::vector<db::Trial>& trials) {
  std::vector<CsvTrial> rows;
  for (const db::Trial& t : trials) {
    rows.push_back({t.id, t.number, std::string(db::TrialStateName(t.state)), t.attempt,
                    t.worker_id, t.failure_reason, ObjectOrEmpty(t.params_json),
                    ObjectOrEmpty(t.metrics_json), t.spec_json});
  }
  return convrnn::TrialsToCsv(rows);
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
