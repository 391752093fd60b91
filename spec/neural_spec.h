// The neural section: what to score a trained architecture against and how
// (DESIGN.md §5, docs/neural-data.md). The same JSON is a campaign's
// "neural" section (score every trial after training, for a
// neural_predictivity objective) and the body of `convrnn score`.
//
//   {"file": "recordings.h5",        required: HDF5 path, read on the worker
//    "method": "pls" | "ridge",      default "pls"
//    "layers": [0, 2],               default [] (every layer)
//    "offset": 0,                    bin b is predicted from step b + offset
//    "folds": 5,                     cross-validation folds over images
//    "components": 25,               PLS components
//    "score": "normalized" | "raw",  which median is neural_predictivity
//    "regions": ["IT"]}              regions the file must have; a campaign
//                                    adds those its objectives name
//
// No LibTorch here: the server validates campaigns with it and turns
// reports into metrics; the worker builds its scorer options from it.
//
// Thread-safety: plain values and pure functions.
#ifndef CONVRNN_SPEC_NEURAL_SPEC_H_
#define CONVRNN_SPEC_NEURAL_SPEC_H_

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convrnn {

struct NeuralSpec {
  std::string file;                  // path on the worker that scores
  std::string method = "pls";        // "pls" or "ridge"
  std::vector<int> layers;           // empty: every layer
  int offset = 0;                    // in [-1000, 1000]
  int folds = 5;                     // in [2, 100]
  int components = 25;               // in [1, 1000]
  std::string score = "normalized";  // "normalized" (r / sqrt(ceiling)) or "raw" (r)
  std::vector<std::string> regions;  // must be in the file (names of [A-Za-z0-9_])
};

// Every error is INVALID_ARGUMENT naming the key path under `path`
// ("neural.method: must be one of pls, ridge"); unknown keys are refused.
absl::StatusOr<NeuralSpec> ParseNeuralSpec(const nlohmann::json& json, absl::string_view path);
// Parses the text first (malformed JSON is INVALID_ARGUMENT naming `path`).
absl::StatusOr<NeuralSpec> ParseNeuralSpecText(absl::string_view text, absl::string_view path);
// Canonical JSON with every field.
nlohmann::json ToJson(const NeuralSpec& spec);

// The objective metric: the overall median (best layer per region).
inline constexpr char kNeuralMetric[] = "neural_predictivity";

// For "neural_predictivity" an empty region, for "neural_predictivity.IT"
// "IT"; nullopt for any other metric (or a malformed region).
std::optional<std::string> NeuralMetricRegion(absl::string_view metric);

// A region name usable in a metric name: 1-32 of [A-Za-z0-9_].
bool IsRegionName(absl::string_view region);

// Final metrics from a scorer report (score.h's ToJson):
//   neural_predictivity, neural_predictivity.<REGION>  (per spec.score)
//   neural_r, neural_r.<REGION>                        (median raw r)
//   neural_normalized, neural_normalized.<REGION>      (median r / sqrt(ceiling))
//   neural_seconds                                     (scoring wall time)
// Medians that are null (nothing scored) are left out, as are regions whose
// name is not a metric name.
std::map<std::string, double> NeuralMetrics(const nlohmann::json& report, const NeuralSpec& spec);

}  // namespace convrnn

#endif  // CONVRNN_SPEC_NEURAL_SPEC_H_
