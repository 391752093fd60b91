#include "spec/neural_spec.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn {

using nlohmann::json;

bool IsRegionName(absl::string_view region) {
  if (region.empty() || region.size() > 32) return false;
  for (char c : region) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> NeuralMetricRegion(absl::string_view metric) {
  const absl::string_view base = kNeuralMetric;
  if (metric == base) return std::string();
  if (!absl::StartsWith(metric, base) || metric.size() <= base.size() + 1 ||
      metric[base.size()] != '.') {
    return std::nullopt;
  }
  absl::string_view region = metric.substr(base.size() + 1);
  if (!IsRegionName(region)) return std::nullopt;
  return std::string(region);
}

absl::StatusOr<NeuralSpec> ParseNeuralSpec(const json& j, absl::string_view path) {
  NeuralSpec spec;
  JsonObject o(j, std::string(path));
  if (!o.ok()) return o.Finish();
  if (!o.Has("file")) o.Fail("file", "is required (the HDF5 recordings, a path on the workers)");
  o.String("file", &spec.file);
  if (o.ok() && spec.file.empty()) o.Fail("file", "must not be empty");
  o.Enum("method", &spec.method, {"pls", "ridge"});
  if (const json* layers = o.Get("layers"); layers != nullptr && o.ok()) {
    const std::string lpath = o.PathOf("layers");
    if (!layers->is_array()) {
      o.Fail(PathError(lpath, "must be an array of layer indices"));
    } else {
      std::set<int> seen;
      for (size_t i = 0; i < layers->size() && o.ok(); ++i) {
        const json& v = (*layers)[i];
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 1000) {
          o.Fail(PathError(IndexPath(lpath, i), "must be a layer index (an integer >= 0)"));
        } else if (!seen.insert(v.get<int>()).second) {
          o.Fail(PathError(IndexPath(lpath, i), "is listed twice"));
        } else {
          spec.layers.push_back(v.get<int>());
        }
      }
    }
  }
  o.Int("offset", &spec.offset, -1000, 1000);
  o.Int("folds", &spec.folds, 2, 100);
  o.Int("components", &spec.components, 1, 1000);
  o.Enum("score", &spec.score, {"normalized", "raw"});
  if (const json* regions = o.Get("regions"); regions != nullptr && o.ok()) {
    const std::string rpath = o.PathOf("regions");
    if (!regions->is_array()) {
      o.Fail(PathError(rpath, "must be an array of region names"));
    } else {
      for (size_t i = 0; i < regions->size() && o.ok(); ++i) {
        const json& v = (*regions)[i];
        if (!v.is_string() || !IsRegionName(v.get<std::string>())) {
          o.Fail(PathError(IndexPath(rpath, i),
                           "must be a region name of letters, digits and '_' (e.g. IT)"));
        } else {
          spec.regions.push_back(v.get<std::string>());
        }
      }
    }
  }
  RETURN_IF_ERROR(o.Finish());
  return spec;
}

absl::StatusOr<NeuralSpec> ParseNeuralSpecText(absl::string_view text, absl::string_view path) {
  json j;
  RETURN_IF_ERROR(ParseJsonText(text, path, &j));
  return ParseNeuralSpec(j, path);
}

json ToJson(const NeuralSpec& spec) {
  return {{"file", spec.file},     {"method", spec.method},  {"layers", spec.layers},
          {"offset", spec.offset}, {"folds", spec.folds},    {"components", spec.components},
          {"score", spec.score},   {"regions", spec.regions}};
}

namespace {

// A finite number at `key`, or NaN.
double NumberAt(const json& j, const char* key) {
  if (!j.is_object()) return NAN;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return NAN;
  return it->get<double>();
}

void Put(std::map<std::string, double>& out, const std::string& name, double value) {
  if (std::isfinite(value)) out[name] = value;
}

}  // namespace

std::map<std::string, double> NeuralMetrics(const json& report, const NeuralSpec& spec) {
  std::map<std::string, double> out;
  const bool raw = spec.score == "raw";
  auto add = [&](const json& j, const std::string& suffix) {
    const double r = NumberAt(j, "median_r");
    const double normalized = NumberAt(j, "median_normalized");
    Put(out, kNeuralMetric + suffix, raw ? r : normalized);
    Put(out, "neural_r" + suffix, r);
    Put(out, "neural_normalized" + suffix, normalized);
  };
  add(report, "");
  if (report.is_object() && report.contains("regions") && report["regions"].is_array()) {
    for (const json& region : report["regions"]) {
      if (!region.is_object() || !region.contains("region") || !region["region"].is_string()) {
        continue;
      }
      const std::string name = region["region"].get<std::string>();
      if (IsRegionName(name)) add(region, "." + name);
    }
  }
  Put(out, "neural_seconds", NumberAt(report, "seconds"));
  return out;
}

}  // namespace convrnn
