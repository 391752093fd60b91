// The coordinator's analysis queries: epochs for export, the parsed config
// for readers, and parameter importance. Reads only; never on the worker path.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "search/importance.h"
#include "server/coordinator.h"
#include "server/coordinator_runtime.h"
#include "util/status_macros.h"

namespace convrnn::server {

absl::StatusOr<std::vector<db::EpochReport>> Coordinator::TrialEpochs(int64_t trial_id) {
  return store_.ListEpochs(trial_id);
}

absl::StatusOr<std::shared_ptr<const CampaignConfig>> Coordinator::Config(int64_t campaign_id) {
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> rt, Runtime(campaign_id));
  // Shares ownership with the runtime; the config is immutable.
  return std::shared_ptr<const CampaignConfig>(rt, &rt->config);
}

absl::StatusOr<ImportanceResult> Coordinator::Importance(int64_t campaign_id,
                                                         const std::string& metric) {
  ASSIGN_OR_RETURN(std::shared_ptr<const CampaignConfig> config, Config(campaign_id));
  ImportanceResult result;
  result.metric = metric.empty() ? config->objectives.front().metric : metric;
  if (!IsMetricName(result.metric)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric: must be letters, digits, '_' and '.', got \"", result.metric, "\""));
  }
  ASSIGN_OR_RETURN(std::vector<db::Trial> completed,
                   AllTrials(campaign_id, db::TrialState::kCompleted));
  std::vector<search::Assignment> assignments;
  std::vector<double> values;
  for (const db::Trial& t : completed) {
    const Metrics metrics = WithCost(ParseMetricsJson(t.metrics_json), t.spec_json);
    auto value = metrics.find(result.metric);
    if (value == metrics.end() || !std::isfinite(value->second)) continue;
    // A trial whose spec no longer maps into the space (enqueued by hand
    // outside it) cannot be placed in it; it is left out.
    nlohmann::json spec = nlohmann::json::parse(t.spec_json, nullptr, false);
    if (spec.is_discarded()) continue;
    absl::StatusOr<search::Assignment> a = config->space->FromSpec(spec);
    if (!a.ok()) continue;
    assignments.push_back(*std::move(a));
    values.push_back(value->second);
  }
  result.trials = static_cast<int64_t>(values.size());
  absl::StatusOr<std::vector<search::ParamImportance>> params =
      search::ParamImportances(*config->space, assignments, values);
  if (!params.ok()) {
    return absl::Status(params.status().code(),
                        absl::StrCat("campaign ", campaign_id, ": ", params.status().message(),
                                     " (metric ", result.metric, ")"));
  }
  result.params = *std::move(params);
  return result;
}

}  // namespace convrnn::server
