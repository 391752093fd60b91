// The typed search space of a campaign: an architecture spec in which any
// value may be a distribution (DESIGN.md §7).
//
//   {"choice": [v0, v1, ...]}       categorical; choosing among objects nests
//                                   further distributions (a conditional space)
//   {"int": [lo, hi], "step": s}    integers lo, lo+s, ... <= hi (step defaults to 1)
//   {"uniform": [lo, hi]}           real
//   {"loguniform": [lo, hi]}        real, uniform in log; REQUIRES 0 < lo
//   "feedback": {"candidates": "all_descending"}
//                                   every edge j -> i (j > i) on or off
//   "feedback": [{"from": 3, "to": 1, "enabled": {"choice": [false, true]}}, ...]
//
// Parse turns the JSON into a flat list of parameters in tree order (a
// parameter's parent always comes first) with stable names:
//   "train.lr", "layers[2].cell.type" (a choice among objects that all carry a
//   literal "type"), "layers[2].cell[rgc].tau_kernel" (a knob that exists only
//   in the rgc branch), "feedback[3->1].enabled". A choice among objects
//   without a "type" is named by its path and its branches by index:
//   "x" and "x[0].y".
//
// An Assignment holds one value per parameter; a parameter whose branch is
// inactive holds kAbsent. Samplers work on assignments; ToSpec turns one into
// a concrete spec validated by ParseArchSpec, FromSpec maps a concrete spec
// back. Parse refuses a space whose probe samples fail validation, naming the
// key path, so a bad space is caught at launch and not on a worker.
//
// Thread-safety: a Space is immutable after Parse; share it const freely.
#ifndef CONVRNN_SEARCH_SPACE_H_
#define CONVRNN_SEARCH_SPACE_H_

#include <cmath>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "search/rng.h"
#include "spec/arch_spec.h"

namespace convrnn::search {

inline constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();
inline bool IsAbsent(double v) { return std::isnan(v); }

// One value per Space::params() entry. Categorical values are choice
// indices; numeric values are the values themselves; kAbsent when inactive.
using Assignment = std::vector<double>;

struct Param {
  enum class Kind { kCategorical, kInt, kUniform, kLogUniform };
  std::string name;
  Kind kind = Kind::kUniform;
  double lo = 0.0;    // kInt, kUniform, kLogUniform: inclusive lower bound
  double hi = 0.0;    // inclusive upper bound
  double step = 1.0;  // kInt: grid step from lo
  // kCategorical: one label per choice ("rgc", "3", "true", or the index for
  // objects without a "type").
  std::vector<std::string> labels;
  // The categorical parameter this one hangs under, or -1 (always active);
  // active only when that parameter is active and holds `parent_choice`.
  int parent = -1;
  int parent_choice = -1;

  bool categorical() const { return kind == Kind::kCategorical; }
  // Number of choices (kCategorical) or grid points (kInt).
  int Cardinality() const;
};

class Space {
 public:
  // `path` prefixes every error ("space.layers[0].kernel: ...").
  static absl::StatusOr<Space> Parse(const nlohmann::json& space,
                                     const std::string& path = "space");

  const std::vector<Param>& params() const { return params_; }
  // Index of the parameter named `name`, or -1.
  int Find(const std::string& name) const;

  // Whether parameter `id` is active under `a` (its ancestors' values).
  // REQUIRES: the values of every ancestor of `id` are already set in `a`.
  bool IsActive(const Assignment& a, int id) const;
  // Draws one value of parameter `id` uniformly (log-uniformly) from its range.
  double SampleParam(int id, Rng& rng) const;
  // A random assignment, parameters drawn in tree order.
  Assignment Sample(Rng& rng) const;
  // Makes `a` consistent: clears inactive parameters, draws active absent ones.
  void Repair(Assignment* a, Rng& rng) const;
  // OK iff every active parameter holds a value in range and every inactive
  // one is absent.
  absl::Status Check(const Assignment& a) const;

  // The concrete spec JSON an assignment stands for (not yet validated).
  absl::StatusOr<nlohmann::json> ToSpecJson(const Assignment& a) const;
  // ToSpecJson, then ParseArchSpec: the typed, validated spec.
  absl::StatusOr<ArchSpec> ToSpec(const Assignment& a) const;
  // The assignment a concrete spec (as sampled, or ToJson's canonical form
  // with defaults filled in) corresponds to; an error names the first key
  // path where the spec leaves the space.
  absl::StatusOr<Assignment> FromSpec(const nlohmann::json& spec) const;
  // {"layers[2].cell.type": "rgc", "train.lr": 0.01, ...} of active parameters.
  nlohmann::json ToJson(const Assignment& a) const;
  // Inverse of ToJson (a trial's stored params_json back to its assignment);
  // an error names the first parameter missing or out of the space.
  absl::StatusOr<Assignment> FromJson(const nlohmann::json& values) const;

  struct Node;  // the template tree; defined in space.cc

 private:
  std::vector<Param> params_;
  std::shared_ptr<const Node> root_;
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_SPACE_H_
