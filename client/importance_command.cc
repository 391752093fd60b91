// `convrnn importance ID [--metric M]`: which searched parameters explain a
// final metric (fANOVA on the server, search/importance.h).
#include <iomanip>
#include <nlohmann/json.hpp>
#include <string>

#include "client/commands.h"
#include "util/status_macros.h"

namespace convrnn::client {

absl::Status ImportanceCommand(const CommandEnv& env, int64_t campaign_id,
                               const std::string& metric) {
  ASSIGN_OR_RETURN(v1::ImportanceResponse r, env.client->Importance(campaign_id, metric));
  if (env.json) {
    nlohmann::json params = nlohmann::json::array();
    for (const v1::ParamImportance& p : r.params()) {
      params.push_back({{"name", p.name()},
                        {"importance", p.importance()},
                        {"stddev", p.stddev()},
                        {"active_trials", p.active_trials()}});
    }
    *env.out << nlohmann::json{{"metric", r.metric()}, {"trials", r.trials()}, {"params", params}}
                    .dump(2)
             << "\n";
    return absl::OkStatus();
  }
  *env.out << "importance of the searched parameters for " << r.metric() << " (fANOVA, "
           << r.trials() << " completed trials)\n";
  size_t width = 9;
  for (const v1::ParamImportance& p : r.params()) width = std::max(width, p.name().size());
  *env.out << std::left << std::setw(width + 2) << "PARAMETER" << std::right << std::setw(10)
           << "IMPORTANCE" << std::setw(8) << "ACTIVE"
           << "\n";
  for (const v1::ParamImportance& p : r.params()) {
    *env.out << std::left << std::setw(width + 2) << p.name() << std::right << std::setw(10)
             << std::fixed << std::setprecision(3) << p.importance() << std::setw(8)
             << p.active_trials() << "  "
             << std::string(static_cast<int>(p.importance() * 40 + 0.5), '#') << "\n";
  }
  return absl::OkStatus();
}

}  // namespace convrnn::client
