#include "search/space.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "search/space_node.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn::search {

using nlohmann::json;

namespace {

using Node = Space::Node;
constexpr const char* kDistributionKeys[] = {"choice", "int", "uniform", "loguniform"};
constexpr int kProbeSamples = 64;
// Parameters a space may define: 64 layers of rgc knobs (~30 each) and all
// 2,016 descending feedback edges fit well inside. Checked while building,
// so a hostile space costs at most this many nodes before it is refused.
constexpr size_t kMaxParams = 10000;
// Values an int distribution may take (its cardinality is an int).
constexpr double kMaxIntValues = 1e9;

bool IsDistribution(const json& j) {
  if (!j.is_object()) return false;
  for (const char* k : kDistributionKeys) {
    if (j.contains(k)) return true;
  }
  return false;
}

std::string Label(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Builds the template tree, registering parameters in tree order.
class Parser {
 public:
  explicit Parser(std::vector<Param>* params) : params_(params) {}

  // `path`: the JSON key path for errors; `name`: the parameter name prefix.
  absl::Status Build(const json& j, const std::string& path, const std::string& name, int parent,
                     int parent_choice, Node* out) {
    if (IsDistribution(j)) return BuildDistribution(j, path, name, parent, parent_choice, out);
    if (j.is_object()) {
      out->kind = Node::Kind::kObject;
      for (auto it = j.begin(); it != j.end(); ++it) {
        Node child;
        absl::Status s;
        if (name.empty() && it.key() == "feedback") {
          s = BuildFeedback(j, *it, JoinPath(path, "feedback"), parent, parent_choice, &child);
        } else {
          s = Build(*it, JoinPath(path, it.key()), JoinPath(name, it.key()), parent, parent_choice,
                    &child);
        }
        RETURN_IF_ERROR(s);
        out->keys.push_back(it.key());
        out->children.push_back(std::move(child));
      }
      return absl::OkStatus();
    }
    if (j.is_array()) {
      out->kind = Node::Kind::kArray;
      for (size_t i = 0; i < j.size(); ++i) {
        Node child;
        RETURN_IF_ERROR(
            Build(j[i], IndexPath(path, i), IndexPath(name, i), parent, parent_choice, &child));
        out->children.push_back(std::move(child));
      }
      return absl::OkStatus();
    }
    out->kind = Node::Kind::kLiteral;
    out->literal = j;
    return absl::OkStatus();
  }

 private:
  absl::Status AddParam(Param p, int parent, int parent_choice, const std::string& path, int* id) {
    if (params_->size() >= kMaxParams) {
      return PathError(path,
                       absl::StrCat("the space defines more than ", kMaxParams, " parameters"));
    }
    p.parent = parent;
    p.parent_choice = parent_choice;
    params_->push_back(std::move(p));
    *id = static_cast<int>(params_->size()) - 1;
    return absl::OkStatus();
  }

  static absl::Status ReadRange(const json& range, const std::string& path, bool integer,
                                double* lo, double* hi) {
    if (!range.is_array() || range.size() != 2 || !range[0].is_number() || !range[1].is_number()) {
      return PathError(path, integer ? "must be [lo, hi] with integers lo <= hi"
                                     : "must be [lo, hi] with numbers lo <= hi");
    }
    *lo = range[0].get<double>();
    *hi = range[1].get<double>();
    if (!std::isfinite(*lo) || !std::isfinite(*hi) || *lo > *hi) {
      return PathError(path, "must be [lo, hi] with lo <= hi");
    }
    if (integer && (std::floor(*lo) != *lo || std::floor(*hi) != *hi)) {
      return PathError(path, "must be [lo, hi] with integers lo <= hi");
    }
    if (integer && *hi - *lo >= kMaxIntValues) {
      return PathError(path, absl::StrCat("spans more than ", kMaxIntValues, " values"));
    }
    return absl::OkStatus();
  }

  absl::Status BuildDistribution(const json& j, const std::string& path, const std::string& name,
                                 int parent, int parent_choice, Node* out) {
    std::string kind;
    for (auto it = j.begin(); it != j.end(); ++it) {
      bool known = false;
      for (const char* k : kDistributionKeys) known = known || it.key() == k;
      if (known && !kind.empty()) {
        return PathError(path, absl::StrCat("a distribution has one of choice, int, uniform, "
                                            "loguniform; found both ",
                                            kind, " and ", it.key()));
      }
      if (known) kind = it.key();
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() != kind && !(kind == "int" && it.key() == "step")) {
        return PathError(JoinPath(path, it.key()),
                         absl::StrCat("unknown key in a ", kind, " distribution"));
      }
    }
    out->kind = Node::Kind::kParam;
    Param p;
    p.name = name;
    const std::string dpath = JoinPath(path, kind);
    if (kind == "choice") return BuildChoice(j["choice"], dpath, name, parent, parent_choice, out);
    if (kind == "int") {
      p.kind = Param::Kind::kInt;
      RETURN_IF_ERROR(ReadRange(j["int"], dpath, true, &p.lo, &p.hi));
      if (j.contains("step")) {
        const json& step = j["step"];
        if (!step.is_number_integer() || step.get<double>() < 1 ||
            step.get<double>() > kMaxIntValues) {
          return PathError(JoinPath(path, "step"), "must be a positive integer");
        }
        p.step = step.get<double>();
      }
    } else {
      p.kind = kind == "uniform" ? Param::Kind::kUniform : Param::Kind::kLogUniform;
      RETURN_IF_ERROR(ReadRange(j[kind], dpath, false, &p.lo, &p.hi));
      if (p.kind == Param::Kind::kLogUniform && p.lo <= 0.0) {
        return PathError(dpath, "loguniform needs 0 < lo <= hi");
      }
    }
    return AddParam(std::move(p), parent, parent_choice, path, &out->param);
  }

  absl::Status BuildChoice(const json& choices, const std::string& path, const std::string& name,
                           int parent, int parent_choice, Node* out) {
    if (!choices.is_array() || choices.empty()) {
      return PathError(path, "must be a non-empty list of values");
    }
    // Objects that all carry a distinct literal "type" name their branches by it.
    bool typed = true;
    for (const json& c : choices) {
      typed = typed && c.is_object() && !IsDistribution(c) && c.contains("type") &&
              c["type"].is_string();
    }
    std::set<std::string> labels;
    Param p;
    p.kind = Param::Kind::kCategorical;
    p.name = typed ? JoinPath(name, "type") : name;
    for (size_t i = 0; i < choices.size(); ++i) {
      const json& c = choices[i];
      p.labels.push_back(typed ? c["type"].get<std::string>()
                               : (c.is_structured() ? std::to_string(i) : Label(c)));
      if (!labels.insert(p.labels.back()).second) {
        return PathError(IndexPath(path, i), absl::StrCat("duplicate choice ", c.dump()));
      }
    }
    const std::vector<std::string> branch_labels = p.labels;
    int id = -1;
    if (absl::Status s = AddParam(std::move(p), parent, parent_choice, path, &id); !s.ok()) {
      return s;
    }
    out->param = id;
    out->typed_branches = typed;
    for (size_t i = 0; i < choices.size(); ++i) {
      Node branch;
      const std::string branch_name = absl::StrCat(name, "[", branch_labels[i], "]");
      RETURN_IF_ERROR(
          Build(choices[i], IndexPath(path, i), branch_name, id, static_cast<int>(i), &branch));
      out->children.push_back(std::move(branch));
    }
    return absl::OkStatus();
  }

  absl::Status BuildFeedback(const json& root, const json& fb, const std::string& path, int parent,
                             int parent_choice, Node* out) {
    out->kind = Node::Kind::kFeedback;
    std::vector<json> edges;
    if (fb.is_object() && !IsDistribution(fb)) {
      JsonObject o(fb, path);
      std::string candidates;
      o.Enum("candidates", &candidates, {"all_descending"});
      if (o.ok() && candidates.empty()) o.Fail("candidates", "is required");
      RETURN_IF_ERROR(o.Finish());
      auto layers = root.find("layers");
      if (layers == root.end() || !layers->is_array()) {
        return PathError(JoinPath(path, "candidates"),
                         "all_descending needs a fixed list of layers");
      }
      const int n = static_cast<int>(layers->size());
      if (n > kMaxLayers) {  // before expanding n^2 / 2 edges
        return PathError(JoinPath(path, "candidates"),
                         absl::StrCat("at most ", kMaxLayers, " layers"));
      }
      for (int to = 0; to < n; ++to) {
        for (int from = to + 1; from < n; ++from) {
          edges.push_back({{"from", from}, {"to", to}, {"enabled", {{"choice", {false, true}}}}});
        }
      }
    } else if (fb.is_array()) {
      edges.assign(fb.begin(), fb.end());
    } else {
      return PathError(path, "must be a list of edges or {\"candidates\": \"all_descending\"}");
    }
    std::set<std::pair<int64_t, int64_t>> seen;
    for (size_t e = 0; e < edges.size(); ++e) {
      const json& edge = edges[e];
      const std::string epath = IndexPath(path, e);
      if (!edge.is_object()) return PathError(epath, "must be {\"from\": j, \"to\": i}");
      for (const char* key : {"from", "to"}) {
        if (!edge.contains(key) || !edge[key].is_number_integer()) {
          return PathError(JoinPath(epath, key), "must be a fixed integer layer index");
        }
      }
      const int64_t from = edge["from"].get<int64_t>(), to = edge["to"].get<int64_t>();
      if (!seen.insert({from, to}).second) {
        return PathError(epath, absl::StrCat("duplicate edge ", from, " -> ", to));
      }
      Node item;
      RETURN_IF_ERROR(Build(edge, epath, absl::StrCat("feedback[", from, "->", to, "]"), parent,
                            parent_choice, &item));
      out->children.push_back(std::move(item));
    }
    return absl::OkStatus();
  }

  std::vector<Param>* params_;
};

}  // namespace

int Param::Cardinality() const {
  if (kind == Kind::kCategorical) return static_cast<int>(labels.size());
  if (kind == Kind::kInt) return static_cast<int>(std::floor((hi - lo) / step)) + 1;
  return 0;
}

absl::StatusOr<Space> Space::Parse(const json& space, const std::string& path) {
  if (!space.is_object() || IsDistribution(space)) {
    return PathError(path, "must be an architecture spec object");
  }
  // Every limit before anything is expanded: a refused space costs microseconds.
  if (auto layers = space.find("layers"); layers != space.end() && layers->is_array() &&
                                          layers->size() > static_cast<size_t>(kMaxLayers)) {
    return PathError(JoinPath(path, "layers"), absl::StrCat("at most ", kMaxLayers, " layers"));
  }
  Space result;
  auto root = std::make_shared<Node>();
  Parser parser(&result.params_);
  RETURN_IF_ERROR(parser.Build(space, path, "", -1, -1, root.get()));
  result.root_ = std::move(root);
  // Probe: a space whose samples fail validation is refused now, at launch.
  Rng rng(0x5eedULL);
  for (int i = 0; i < kProbeSamples; ++i) {
    absl::StatusOr<ArchSpec> spec = result.ToSpec(result.Sample(rng));
    if (!spec.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".", spec.status().message(),
                                                     " (a sample of the space fails validation)"));
    }
  }
  return result;
}

int Space::Find(const std::string& name) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

bool Space::IsActive(const Assignment& a, int id) const {
  const Param& p = params_[id];
  if (p.parent < 0) return true;
  const double v = a[p.parent];
  return !IsAbsent(v) && static_cast<int>(v) == p.parent_choice;
}

double Space::SampleParam(int id, Rng& rng) const {
  const Param& p = params_[id];
  switch (p.kind) {
    case Param::Kind::kCategorical:
    case Param::Kind::kInt: {
      const double k = static_cast<double>(rng.Below(p.Cardinality()));
      return p.categorical() ? k : p.lo + k * p.step;
    }
    case Param::Kind::kUniform:
      return rng.Uniform(p.lo, p.hi);
    case Param::Kind::kLogUniform:
      return std::exp(rng.Uniform(std::log(p.lo), std::log(p.hi)));
  }
  return kAbsent;
}

Assignment Space::Sample(Rng& rng) const {
  Assignment a(params_.size(), kAbsent);
  for (size_t i = 0; i < params_.size(); ++i) {
    if (IsActive(a, static_cast<int>(i))) a[i] = SampleParam(static_cast<int>(i), rng);
  }
  return a;
}

void Space::Repair(Assignment* a, Rng& rng) const {
  a->resize(params_.size(), kAbsent);
  for (size_t i = 0; i < params_.size(); ++i) {
    const bool active = IsActive(*a, static_cast<int>(i));
    if (!active) {
      (*a)[i] = kAbsent;
    } else if (IsAbsent((*a)[i])) {
      (*a)[i] = SampleParam(static_cast<int>(i), rng);
    }
  }
}

absl::Status Space::Check(const Assignment& a) const {
  if (a.size() != params_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("assignment has ", a.size(), " values; the space has ", params_.size()));
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const Param& p = params_[i];
    const bool active = IsActive(a, static_cast<int>(i));
    if (active == IsAbsent(a[i])) {
      return PathError(p.name, active ? "is active but absent" : "is inactive but present");
    }
    if (!active) continue;
    const double v = a[i];
    bool ok = v >= p.lo - 1e-12 * std::abs(p.lo) && v <= p.hi + 1e-12 * std::abs(p.hi);
    if (p.categorical()) ok = v >= 0 && v < p.Cardinality() && std::floor(v) == v;
    if (p.kind == Param::Kind::kInt)
      ok = ok && std::floor((v - p.lo) / p.step) == (v - p.lo) / p.step;
    if (!ok) return PathError(p.name, absl::StrCat("value ", v, " is out of range"));
  }
  return absl::OkStatus();
}

}  // namespace convrnn::search
