#include "server/dashboard/trial_table.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "util/status_macros.h"

namespace convrnn::server::dashboard {
namespace {

using nlohmann::json;

// A cell of the table: a number, a text, or nothing.
struct Value {
  std::optional<double> number;
  std::optional<std::string> text;
  bool missing() const { return !number && !text; }
};

Value FromJson(const json& v) {
  if (v.is_number()) return {v.get<double>(), std::nullopt};
  if (v.is_boolean()) return {std::nullopt, v.get<bool>() ? "true" : "false"};
  if (v.is_string()) {
    double d;
    if (absl::SimpleAtod(v.get<std::string>(), &d)) return {d, std::nullopt};
    return {std::nullopt, v.get<std::string>()};
  }
  return {};
}

Value Lookup(const TrialRow& r, const std::string& key) {
  if (key == "number") return {static_cast<double>(r.trial.number), std::nullopt};
  if (key == "attempt") return {static_cast<double>(r.trial.attempt), std::nullopt};
  if (key == "worker") return {static_cast<double>(r.trial.worker_id), std::nullopt};
  if (key == "state") return {std::nullopt, std::string(db::TrialStateName(r.trial.state))};
  if (auto m = r.final.find(key); m != r.final.end() && std::isfinite(m->second)) {
    return {m->second, std::nullopt};
  }
  if (auto p = r.params.find(key); p != r.params.end()) return FromJson(*p);
  return {};
}

struct Condition {
  std::string key, op;
  Value value;
};

absl::StatusOr<std::vector<Condition>> ParseFilter(const std::string& filter) {
  std::vector<Condition> out;
  const std::string text = absl::StrReplaceAll(filter, {{" and ", ","}, {" AND ", ","}});
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const std::string c(absl::StripAsciiWhitespace(part));
    size_t at = c.find_first_of("=!<>");
    if (at == std::string::npos || at == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter: \"", c, "\" is not KEY OP VALUE (OP: = != < <= > >=)"));
    }
    size_t end = at + 1;
    if (end < c.size() && c[end] == '=') ++end;
    Condition cond{std::string(absl::StripAsciiWhitespace(c.substr(0, at))), c.substr(at, end - at),
                   FromJson(json(std::string(absl::StripAsciiWhitespace(c.substr(end)))))};
    if (cond.op == "!" || cond.op == "==") cond.op = cond.op == "==" ? "=" : "!";
    if (cond.op == "!") return absl::InvalidArgumentError("filter: use != for \"not equal\"");
    out.push_back(std::move(cond));
  }
  return out;
}

bool Holds(const Condition& c, const Value& v) {
  if (v.missing()) return c.op == "!=";
  int cmp;
  if (c.value.number && v.number) {
    cmp = *v.number < *c.value.number ? -1 : (*v.number > *c.value.number ? 1 : 0);
  } else {
    const std::string a = v.text ? *v.text : absl::StrCat(*v.number);
    const std::string b = c.value.text ? *c.value.text : absl::StrCat(*c.value.number);
    cmp = a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
  }
  if (c.op == "=") return cmp == 0;
  if (c.op == "!=") return cmp != 0;
  if (c.op == "<") return cmp < 0;
  if (c.op == "<=") return cmp <= 0;
  if (c.op == ">") return cmp > 0;
  return cmp >= 0;
}

// Missing values last whatever the direction; numbers before texts.
bool Before(const Value& a, const Value& b, bool descending) {
  if (a.missing() != b.missing()) return b.missing();
  if (a.missing()) return false;
  if (a.number && b.number) return descending ? *a.number > *b.number : *a.number < *b.number;
  if (a.number != b.number) return a.number.has_value();
  return descending ? *a.text > *b.text : *a.text < *b.text;
}

json RowJson(const TrialRow& r) {
  json metrics = json::object();
  for (const auto& [k, v] : r.final) {
    if (std::isfinite(v)) metrics[k] = v;
  }
  return {{"id", r.trial.id},
          {"number", r.trial.number},
          {"state", std::string(db::TrialStateName(r.trial.state))},
          {"attempt", r.trial.attempt},
          {"worker_id", r.trial.worker_id},
          {"metrics", metrics},
          {"params", r.params},
          {"cells", r.cells},
          {"edges", r.edges},
          {"failure_reason", r.trial.failure_reason},
          {"updated_unix_us", r.trial.updated_us}};
}

}  // namespace

absl::StatusOr<json> QueryTrials(const CampaignSnapshot& s, const TableQuery& q) {
  ASSIGN_OR_RETURN(std::vector<Condition> conditions, ParseFilter(q.filter));
  const std::string state = absl::AsciiStrToUpper(q.state);
  if (!state.empty() && state != "PENDING" && state != "LEASED" && state != "RUNNING" &&
      state != "COMPLETED" && state != "FAILED" && state != "PRUNED") {
    return absl::InvalidArgumentError(absl::StrCat("state: unknown state \"", q.state, "\""));
  }
  std::vector<const TrialRow*> rows;
  for (const TrialRow& r : s.trials) {
    if (!state.empty() && db::TrialStateName(r.trial.state) != state) continue;
    bool keep = true;
    for (const Condition& c : conditions) keep = keep && Holds(c, Lookup(r, c.key));
    if (keep) rows.push_back(&r);
  }
  if (q.sort != "number" || q.descending) {
    std::vector<std::pair<Value, const TrialRow*>> keyed;
    keyed.reserve(rows.size());
    for (const TrialRow* r : rows) keyed.emplace_back(Lookup(*r, q.sort), r);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      return Before(a.first, b.first, q.descending);
    });
    for (size_t i = 0; i < keyed.size(); ++i) rows[i] = keyed[i].second;
  }
  json page = json::array();
  const int64_t total = static_cast<int64_t>(rows.size());
  for (int64_t i = std::max<int64_t>(0, q.offset); i < total && i < q.offset + q.limit; ++i) {
    page.push_back(RowJson(*rows[i]));
  }
  return json{{"total", total}, {"offset", q.offset}, {"rows", page}};
}

}  // namespace convrnn::server::dashboard
