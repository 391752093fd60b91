#include "client/plan_commands.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/proto_json.h"
#include "search/analysis.h"
#include "search/space.h"
#include "spec/arch_spec.h"
#include "util/file.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn::client {
namespace {

using nlohmann::json;

// A campaign's space and first objective, and its completed trials ranked.
struct Ranked {
  std::shared_ptr<search::Space> space;
  std::string metric = "val_top1";
  search::Goal goal = search::Goal::kMaximize;
  std::vector<v1::Trial> trials;  // completed with the metric, best first
};

absl::StatusOr<Ranked> LoadRanked(const CommandEnv& env, int64_t campaign_id) {
  ASSIGN_OR_RETURN(auto campaign, env.client->GetCampaign(campaign_id));
  json doc = json::parse(campaign.campaign_json(), nullptr, false);
  if (doc.is_discarded() || !doc.contains("space")) {
    return absl::InternalError(absl::StrCat("campaign ", campaign_id, ": no campaign document"));
  }
  Ranked r;
  absl::StatusOr<search::Space> space = search::Space::Parse(doc["space"], "space");
  if (!space.ok()) return absl::InternalError(std::string(space.status().message()));
  r.space = std::make_shared<search::Space>(*std::move(space));
  if (doc.contains("objectives") && doc["objectives"].is_array() && !doc["objectives"].empty()) {
    const json& o = doc["objectives"][0];
    r.metric = o.value("metric", r.metric);
    if (o.value("goal", "max") == "min") r.goal = search::Goal::kMinimize;
  }
  ASSIGN_OR_RETURN(auto trials, env.client->ListTrials(campaign_id, v1::TRIAL_STATE_COMPLETED));
  for (v1::Trial& t : trials) {
    if (t.final_metrics().count(r.metric) > 0) r.trials.push_back(std::move(t));
  }
  std::stable_sort(r.trials.begin(), r.trials.end(), [&](const v1::Trial& a, const v1::Trial& b) {
    return search::AsLoss(a.final_metrics().at(r.metric), r.goal) <
           search::AsLoss(b.final_metrics().at(r.metric), r.goal);
  });
  return r;
}

absl::Status CheckTop(int top, const Ranked& r, int64_t campaign_id) {
  if (top < 1) return absl::InvalidArgumentError("--top: must be a positive integer");
  if (r.trials.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("campaign ", campaign_id, " has no completed ",
                                                   "trial with ", r.metric, " yet"));
  }
  return absl::OkStatus();
}

absl::StatusOr<search::Assignment> AssignmentOf(const Ranked& r, const v1::Trial& t) {
  json values = json::parse(t.params_json(), nullptr, false);
  if (!values.is_discarded()) {
    absl::StatusOr<search::Assignment> a = r.space->FromJson(values);
    if (a.ok()) return a;
  }
  return r.space->FromSpec(json::parse(t.spec_json(), nullptr, false));
}

void Print(const CommandEnv& env, const json& j) { *env.out << j.dump(2) << '\n'; }

}  // namespace

absl::Status EnqueueCommand(const CommandEnv& env, int64_t campaign_id,
                            const std::vector<std::string>& files) {
  if (files.empty()) return absl::InvalidArgumentError("SPEC: at least one spec file is needed");
  std::vector<std::string> specs;
  for (const std::string& f : files) {
    ASSIGN_OR_RETURN(const std::string text, ReadFile(f));
    json parsed;
    if (absl::Status s = ParseJsonText(text, f, &parsed); !s.ok()) return s;
    specs.push_back(parsed.dump());
  }
  ASSIGN_OR_RETURN(auto trials, env.client->Enqueue(campaign_id, specs));
  if (env.json) {
    json list = json::array();
    for (const v1::Trial& t : trials) list.push_back(ToJson(t));
    Print(env, {{"trials", list}});
    return absl::OkStatus();
  }
  for (const v1::Trial& t : trials) {
    *env.out << "enqueued trial " << t.id() << " (#" << t.number() << ") in campaign "
             << campaign_id << '\n';
  }
  return absl::OkStatus();
}

absl::Status ExtendCommand(const CommandEnv& env, int64_t campaign_id, int max_trials,
                           int max_parallel) {
  if (max_trials < 1) return absl::InvalidArgumentError("--max-trials: must be positive");
  if (max_parallel < 0) return absl::InvalidArgumentError("--max-parallel: must be positive");
  ASSIGN_OR_RETURN(auto c, env.client->Extend(campaign_id, max_trials, max_parallel));
  if (env.json) {
    Print(env, ToJson(c, /*with_document=*/false));
  } else {
    *env.out << "campaign " << c.id() << " (" << c.name() << ") extended to " << max_trials
             << " trials, now " << CampaignStateName(c.state()) << '\n';
  }
  return absl::OkStatus();
}

absl::Status MedianCommand(const CommandEnv& env, int64_t campaign_id, int top, bool enqueue) {
  ASSIGN_OR_RETURN(Ranked r, LoadRanked(env, campaign_id));
  if (absl::Status s = CheckTop(top, r, campaign_id); !s.ok()) return s;
  std::vector<search::RankedAssignment> best;
  json ids = json::array();
  for (const v1::Trial& t : r.trials) {
    if (static_cast<int>(best.size()) == top) break;
    absl::StatusOr<search::Assignment> a = AssignmentOf(r, t);
    if (!a.ok()) continue;  // a trial outside the space (should not happen)
    best.push_back({*std::move(a), t.final_metrics().at(r.metric)});
    ids.push_back(t.id());
  }
  ASSIGN_OR_RETURN(search::Assignment median, search::MedianAssignment(*r.space, best, r.goal));
  absl::StatusOr<ArchSpec> spec = r.space->ToSpec(median);
  if (!spec.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the median architecture fails validation: ", spec.status().message()));
  }
  const json spec_json = convrnn::ToJson(*spec);
  json out = {{"top", best.size()},
              {"metric", r.metric},
              {"trials", ids},
              {"params", r.space->ToJson(median)},
              {"spec", spec_json}};
  if (enqueue) {
    ASSIGN_OR_RETURN(auto trials, env.client->Enqueue(campaign_id, {spec_json.dump()}));
    out["enqueued_trial"] = trials.front().id();
  }
  if (env.json) {
    Print(env, out);
  } else {
    *env.out << spec_json.dump(2) << '\n';
    if (enqueue && env.err != nullptr) {
      *env.err << "enqueued as trial " << out["enqueued_trial"] << '\n';
    }
  }
  return absl::OkStatus();
}

absl::Status EnrichmentCommand(const CommandEnv& env, int64_t campaign_id, int top) {
  ASSIGN_OR_RETURN(Ranked r, LoadRanked(env, campaign_id));
  if (absl::Status s = CheckTop(top, r, campaign_id); !s.ok()) return s;
  std::vector<ArchSpec> specs;
  for (const v1::Trial& t : r.trials) {
    absl::StatusOr<ArchSpec> s = ParseArchSpecText(t.spec_json());
    if (s.ok()) specs.push_back(*std::move(s));
  }
  const int64_t k = std::min<int64_t>(top, static_cast<int64_t>(specs.size()));
  std::vector<search::EnrichmentRow> rows = search::Enrichment(specs, k);
  if (env.json) {
    json list = json::array();
    for (const auto& row : rows) {
      list.push_back({{"feature", row.feature},
                      {"top_count", row.top_count},
                      {"top_total", row.top_total},
                      {"all_count", row.all_count},
                      {"all_total", row.all_total},
                      {"p_value", row.p_value}});
    }
    Print(env, {{"metric", r.metric}, {"top", k}, {"features", list}});
    return absl::OkStatus();
  }
  *env.out << absl::StrFormat("%-32s %10s %10s %10s\n", "feature", "top", "all", "p");
  for (const auto& row : rows) {
    *env.out << absl::StrFormat("%-32s %4d/%-5d %4d/%-5d %10.3g\n", row.feature, row.top_count,
                                row.top_total, row.all_count, row.all_total, row.p_value);
  }
  return absl::OkStatus();
}

absl::Status CompareCommand(const CommandEnv& env, int64_t campaign_id, const std::string& by) {
  ASSIGN_OR_RETURN(Ranked r, LoadRanked(env, campaign_id));
  if (by.empty()) return absl::InvalidArgumentError("--by: cell_type or a parameter name");
  if (by != "cell_type" && r.space->Find(by) < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--by: '", by, "' is neither cell_type nor a parameter of the campaign's space"));
  }
  std::vector<search::GroupedTrial> grouped;
  for (const v1::Trial& t : r.trials) {
    search::GroupedTrial g;
    g.value = t.final_metrics().at(r.metric);
    auto params = t.final_metrics().find("params");
    g.params = params == t.final_metrics().end() ? 0 : params->second;
    if (by == "cell_type") {
      absl::StatusOr<ArchSpec> s = ParseArchSpecText(t.spec_json());
      if (!s.ok()) continue;
      g.group = search::CellTypesKey(*s);
    } else {
      json values = json::parse(t.params_json(), nullptr, false);
      const bool has = !values.is_discarded() && values.contains(by);
      g.group = !has ? "(inactive)"
                     : (values[by].is_string() ? values[by].get<std::string>() : values[by].dump());
    }
    grouped.push_back(std::move(g));
  }
  std::vector<search::GroupRow> rows = search::CompareGroups(grouped, r.goal);
  if (env.json) {
    json list = json::array();
    for (const auto& row : rows) {
      list.push_back({{"group", row.group},
                      {"count", row.count},
                      {"best", row.best},
                      {"median", row.median},
                      {"spread", row.spread},
                      {"params_median", row.params_median},
                      {"params_min", row.params_min},
                      {"params_max", row.params_max}});
    }
    Print(env, {{"by", by}, {"metric", r.metric}, {"groups", list}});
    return absl::OkStatus();
  }
  *env.out << absl::StrFormat("%-36s %5s %8s %8s %8s %10s %10s\n", by, "n", "best", "median", "std",
                              "params", "range");
  for (const auto& row : rows) {
    *env.out << absl::StrFormat("%-36s %5d %8.4f %8.4f %8.4f %10.0f %4.0f-%-6.0f\n", row.group,
                                row.count, row.best, row.median, row.spread, row.params_median,
                                row.params_min / 1000, row.params_max / 1000)
             << "";
  }
  *env.out << "(range in thousands of parameters; " << r.metric << ", "
           << (r.goal == search::Goal::kMaximize ? "higher" : "lower") << " is better)\n";
  return absl::OkStatus();
}

}  // namespace convrnn::client
