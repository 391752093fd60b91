#include "server/metrics.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "spec/arch_spec.h"
#include "spec/cost.h"

namespace convrnn::server {

std::string MetricsToJson(const Metrics& metrics) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : metrics) {
    if (std::isfinite(value)) j[name] = value;
  }
  return j.dump();
}

Metrics ParseMetricsJson(const std::string& json) {
  Metrics metrics;
  if (json.empty()) return metrics;
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return metrics;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_number()) metrics[it.key()] = it->get<double>();
  }
  return metrics;
}

Metrics WithCost(const Metrics& metrics, const std::string& spec_json) {
  if (metrics.count("params") && metrics.count("flops")) return metrics;
  absl::StatusOr<ArchSpec> spec =
      ParseArchSpecText(absl::string_view(spec_json.data(), spec_json.size()));
  if (!spec.ok()) return metrics;
  const CostEstimate cost = EstimateCost(*spec);
  Metrics filled = metrics;
  filled.emplace("params", static_cast<double>(cost.params));
  filled.emplace("flops", static_cast<double>(cost.flops_per_image));
  return filled;
}

std::vector<double> ObjectiveValues(const std::vector<Objective>& objectives,
                                    const Metrics& metrics) {
  std::vector<double> values;
  for (const Objective& o : objectives) {
    auto it = metrics.find(o.metric);
    values.push_back(it == metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
  }
  return values;
}

}  // namespace convrnn::server
