// Metric maps as the coordinator handles them: to and from the store's JSON,
// params/flops estimated from a spec, and objective values for the samplers.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SERVER_METRICS_H_
#define CONVRNN_SERVER_METRICS_H_

#include <map>
#include <string>
#include <vector>

#include "server/campaign.h"

namespace convrnn::server {

using Metrics = std::map<std::string, double>;

// The store's JSON object; non-finite values are left out (JSON has none).
std::string MetricsToJson(const Metrics& metrics);
// Numbers of a stored JSON object; anything else is skipped. "" -> {}.
Metrics ParseMetricsJson(const std::string& json);
// `metrics` with "params" and "flops" filled from EstimateCost of the spec
// when missing (and the spec parses).
Metrics WithCost(const Metrics& metrics, const std::string& spec_json);
// One value per objective, NaN where the metric is missing.
std::vector<double> ObjectiveValues(const std::vector<Objective>& objectives,
                                    const Metrics& metrics);

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_METRICS_H_
