// Assignments to concrete specs and back: Space::ToSpecJson, ToSpec, FromSpec, ToJson.
#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "search/space.h"
#include "search/space_node.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn::search {

using nlohmann::json;

namespace {

using Node = Space::Node;

// Scalars compare numerically so that 3 matches 3.0.
bool ScalarEqual(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

absl::Status Emit(const Node& node, const std::vector<Param>& params, const Assignment& a,
                  json* out) {
  switch (node.kind) {
    case Node::Kind::kLiteral:
      *out = node.literal;
      return absl::OkStatus();
    case Node::Kind::kObject:
      *out = json::object();
      for (size_t i = 0; i < node.keys.size(); ++i) {
        RETURN_IF_ERROR(Emit(node.children[i], params, a, &(*out)[node.keys[i]]));
      }
      return absl::OkStatus();
    case Node::Kind::kArray:
    case Node::Kind::kFeedback:
      *out = json::array();
      for (const Node& child : node.children) {
        json item;
        RETURN_IF_ERROR(Emit(child, params, a, &item));
        if (node.kind == Node::Kind::kFeedback) {
          auto enabled = item.find("enabled");
          if (enabled != item.end()) {
            if (enabled->is_boolean() && !enabled->get<bool>()) continue;
            if (enabled->is_boolean()) item.erase(enabled);
          }
        }
        out->push_back(std::move(item));
      }
      return absl::OkStatus();
    case Node::Kind::kParam: {
      const Param& p = params[node.param];
      const double v = a[node.param];
      if (IsAbsent(v)) return PathError(p.name, "is active but absent from the assignment");
      if (p.categorical()) {
        const int k = static_cast<int>(v);
        if (k < 0 || k >= static_cast<int>(node.children.size())) {
          return PathError(p.name, absl::StrCat("choice index ", v, " is out of range"));
        }
        return Emit(node.children[k], params, a, out);
      }
      *out = p.kind == Param::Kind::kInt ? json(static_cast<int64_t>(std::llround(v))) : json(v);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status Match(const Node& node, const std::vector<Param>& params, const json& v,
                   const std::string& path, Assignment* a);

// A feedback list: every edge the value turns on must be one the space
// offers, and each offered edge's "enabled" is matched against its presence.
absl::Status MatchFeedback(const Node& node, const std::vector<Param>& params, const json& v,
                           const std::string& path, Assignment* a) {
  if (!v.is_array()) return PathError(path, "must be a list of edges");
  std::set<std::pair<int64_t, int64_t>> on;
  for (const json& e : v) {
    if (!e.is_object() || !e.contains("from") || !e.contains("to")) continue;
    if (e.contains("enabled") && e["enabled"] == false) continue;
    on.insert({e["from"].get<int64_t>(), e["to"].get<int64_t>()});
  }
  size_t matched = 0;
  for (size_t i = 0; i < node.children.size(); ++i) {
    const Node& item = node.children[i];
    json edge = json::object();
    for (size_t k = 0; k < item.keys.size(); ++k) {
      if (item.keys[k] != "enabled") edge[item.keys[k]] = item.children[k].literal;
    }
    const bool present = on.count({edge["from"].get<int64_t>(), edge["to"].get<int64_t>()}) > 0;
    matched += present;
    auto en = std::find(item.keys.begin(), item.keys.end(), "enabled");
    const std::string epath = IndexPath(path, i);
    if (en == item.keys.end()) {
      if (!present) return PathError(epath, "the space fixes this edge on");
      continue;
    }
    edge["enabled"] = present;
    RETURN_IF_ERROR(Match(item, params, edge, epath, a));
  }
  if (matched != on.size()) return PathError(path, "has an edge the space does not offer");
  return absl::OkStatus();
}

// Matches a concrete value against the template, filling `a`.
absl::Status Match(const Node& node, const std::vector<Param>& params, const json& v,
                   const std::string& path, Assignment* a) {
  switch (node.kind) {
    case Node::Kind::kLiteral:
      if (node.literal.is_structured() ? node.literal != v : !ScalarEqual(node.literal, v)) {
        return PathError(path,
                         absl::StrCat("is ", v.dump(), "; the space fixes ", node.literal.dump()));
      }
      return absl::OkStatus();
    case Node::Kind::kObject:
      if (!v.is_object()) return PathError(path, "must be an object");
      for (size_t i = 0; i < node.keys.size(); ++i) {
        auto it = v.find(node.keys[i]);
        if (it == v.end()) return PathError(JoinPath(path, node.keys[i]), "is missing");
        RETURN_IF_ERROR(Match(node.children[i], params, *it, JoinPath(path, node.keys[i]), a));
      }
      return absl::OkStatus();
    case Node::Kind::kArray:
      if (!v.is_array() || v.size() != node.children.size()) {
        return PathError(path, absl::StrCat("must be a list of ", node.children.size()));
      }
      for (size_t i = 0; i < v.size(); ++i) {
        RETURN_IF_ERROR(Match(node.children[i], params, v[i], IndexPath(path, i), a));
      }
      return absl::OkStatus();
    case Node::Kind::kFeedback:
      return MatchFeedback(node, params, v, path, a);
    case Node::Kind::kParam: {
      const Param& p = params[node.param];
      if (p.categorical()) {
        for (size_t k = 0; k < node.children.size(); ++k) {
          const Node& branch = node.children[k];
          if (node.typed_branches && v.is_object()) {
            auto type = v.find("type");
            if (type == v.end() || !type->is_string() || *type != p.labels[k]) continue;
          }
          Assignment trial = *a;
          trial[node.param] = static_cast<double>(k);
          if (Match(branch, params, v, path, &trial).ok()) {
            *a = std::move(trial);
            return absl::OkStatus();
          }
        }
        return PathError(path, absl::StrCat(v.dump(), " matches no choice of ", p.name));
      }
      if (!v.is_number()) return PathError(path, "must be a number");
      const double x = v.get<double>();
      (*a)[node.param] = x;
      if (x < p.lo - 1e-9 * std::abs(p.lo) || x > p.hi + 1e-9 * std::abs(p.hi) ||
          (p.kind == Param::Kind::kInt && std::floor((x - p.lo) / p.step) != (x - p.lo) / p.step)) {
        return PathError(path, absl::StrCat(x, " is outside the space of ", p.name));
      }
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<json> Space::ToSpecJson(const Assignment& a) const {
  if (a.size() != params_.size()) return Check(a);
  json out;
  RETURN_IF_ERROR(Emit(*root_, params_, a, &out));
  return out;
}

absl::StatusOr<ArchSpec> Space::ToSpec(const Assignment& a) const {
  ASSIGN_OR_RETURN(json j, ToSpecJson(a));
  return ParseArchSpec(j);
}

absl::StatusOr<Assignment> Space::FromSpec(const json& spec) const {
  Assignment a(params_.size(), kAbsent);
  RETURN_IF_ERROR(Match(*root_, params_, spec, "", &a));
  RETURN_IF_ERROR(Check(a));
  return a;
}

json Space::ToJson(const Assignment& a) const {
  json out = json::object();
  for (size_t i = 0; i < params_.size() && i < a.size(); ++i) {
    if (IsAbsent(a[i])) continue;
    const Param& p = params_[i];
    if (p.categorical()) {
      out[p.name] = p.labels[static_cast<int>(a[i])];
    } else if (p.kind == Param::Kind::kInt) {
      out[p.name] = static_cast<int64_t>(std::llround(a[i]));
    } else {
      out[p.name] = a[i];
    }
  }
  return out;
}

absl::StatusOr<Assignment> Space::FromJson(const json& values) const {
  if (!values.is_object()) return absl::InvalidArgumentError("parameter values must be an object");
  Assignment a(params_.size(), kAbsent);
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!IsActive(a, static_cast<int>(i))) continue;
    const Param& p = params_[i];
    auto it = values.find(p.name);
    if (it == values.end()) return PathError(p.name, "is missing");
    if (p.categorical()) {
      const std::string label = it->is_string() ? it->get<std::string>() : it->dump();
      auto found = std::find(p.labels.begin(), p.labels.end(), label);
      if (found == p.labels.end()) return PathError(p.name, absl::StrCat(label, " is no choice"));
      a[i] = static_cast<double>(found - p.labels.begin());
    } else {
      if (!it->is_number()) return PathError(p.name, "must be a number");
      a[i] = it->get<double>();
    }
  }
  if (absl::Status s = Check(a); !s.ok()) return s;
  return a;
}

}  // namespace convrnn::search
