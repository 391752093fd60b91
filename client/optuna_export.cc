#include "client/optuna_export.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "util/status_macros.h"

namespace convrnn::client {
namespace {

using nlohmann::json;

// A choice's label as the JSON value it stands for ("3" -> 3, "true" -> true).
json ChoiceValue(const std::string& label) {
  json v = json::parse(label, nullptr, false);
  if (v.is_discarded() || v.is_structured()) return label;
  return v;
}

double Number(const json& object, const std::string& key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return std::nan("");
  return it->get<double>();
}

const char* OptunaState(const std::string& state) {
  if (state == "COMPLETED") return "COMPLETE";
  if (state == "PRUNED") return "PRUNED";
  if (state == "FAILED") return "FAIL";
  if (state == "PENDING") return "WAITING";
  return "RUNNING";
}

}  // namespace

std::string OptunaDistributionJson(const search::Param& p) {
  using Kind = search::Param::Kind;
  json d;
  if (p.kind == Kind::kCategorical) {
    json choices = json::array();
    for (const std::string& label : p.labels) choices.push_back(ChoiceValue(label));
    d = {{"name", "CategoricalDistribution"}, {"attributes", {{"choices", choices}}}};
  } else if (p.kind == Kind::kInt) {
    const int64_t lo = static_cast<int64_t>(p.lo), step = static_cast<int64_t>(p.step);
    const int64_t hi = lo + (static_cast<int64_t>(p.hi) - lo) / step * step;
    d = {{"name", "IntDistribution"},
         {"attributes", {{"log", false}, {"step", step}, {"low", lo}, {"high", hi}}}};
  } else {
    d = {
        {"name", "FloatDistribution"},
        {"attributes",
         {{"step", nullptr}, {"low", p.lo}, {"high", p.hi}, {"log", p.kind == Kind::kLogUniform}}}};
  }
  return d.dump();
}

std::vector<OptunaObjective> CampaignObjectives(const json& campaign) {
  std::vector<OptunaObjective> out;
  auto it = campaign.find("objectives");
  if (it != campaign.end() && it->is_array()) {
    for (const json& o : *it) {
      out.push_back({o.value("metric", "val_top1"), o.value("goal", "max") == "max"});
    }
  }
  if (out.empty()) out.push_back({"val_top1", true});
  return out;
}

db::OptunaTrial ToOptunaTrial(const search::Space& space,
                              const std::vector<OptunaObjective>& objectives, const json& t) {
  db::OptunaTrial out;
  const std::string state = t.value("state", "");
  out.number = t.value("number", int64_t{1}) - 1;
  out.state = OptunaState(state);
  out.start_unix_us = t.value("created_unix_us", int64_t{0});
  if (out.state != "RUNNING" && out.state != "WAITING") {
    out.complete_unix_us = t.value("updated_unix_us", int64_t{0});
  }
  absl::StatusOr<search::Assignment> a = space.FromSpec(t.value("spec", json::object()));
  if (a.ok()) {
    for (size_t id = 0; id < a->size(); ++id) {
      if (search::IsAbsent((*a)[id])) continue;
      const search::Param& p = space.params()[id];
      out.params.push_back({p.name, (*a)[id], OptunaDistributionJson(p)});
    }
  }
  const json empty = json::object();
  const json& finals = t.contains("final_metrics") ? t["final_metrics"] : empty;
  const std::string curve_metric = objectives.front().metric;
  for (const json& e : t.value("epochs", json::array())) {
    const json& m = e.contains("metrics") ? e["metrics"] : empty;
    double v = Number(m, curve_metric);
    if (std::isnan(v)) v = Number(m, "val_top1");
    if (!std::isnan(v)) out.intermediate_values[e.value("epoch", 0)] = v;
  }
  if (out.state == "COMPLETE") {
    for (const OptunaObjective& o : objectives) out.values.push_back(Number(finals, o.metric));
    for (double v : out.values) {
      if (!std::isfinite(v)) out.state = "FAIL";
    }
    if (out.state == "FAIL") out.values.clear();
  } else if (out.state == "PRUNED" && objectives.size() == 1 && !out.intermediate_values.empty()) {
    out.values.push_back(out.intermediate_values.rbegin()->second);
  }
  out.user_attrs["convrnn_trial_id"] = json(t.value("trial_id", int64_t{0})).dump();
  out.user_attrs["convrnn_state"] = json(state).dump();
  out.user_attrs["convrnn_attempt"] = json(t.value("attempt", 1)).dump();
  out.user_attrs["convrnn_spec"] = t.value("spec", json::object()).dump();
  if (!t.value("failure_reason", "").empty()) {
    out.user_attrs["failure_reason"] = json(t.value("failure_reason", "")).dump();
  }
  return out;
}

absl::StatusOr<std::string> SqlitePathOf(const std::string& storage) {
  constexpr absl::string_view kPrefix = "sqlite:///";
  if (!absl::StartsWith(storage, kPrefix) || storage.size() == kPrefix.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--storage: must be sqlite:///FILE (sqlite:////abs/path for an absolute path), got '",
        storage, "'"));
  }
  return storage.substr(kPrefix.size());
}

absl::Status OptunaExportCommand(const CommandEnv& env, int64_t campaign_id,
                                 const std::string& storage) {
  ASSIGN_OR_RETURN(std::string path, SqlitePathOf(storage));
  ASSIGN_OR_RETURN(v1::Campaign campaign, env.client->GetCampaign(campaign_id));
  const json doc = json::parse(campaign.campaign_json(), nullptr, false);
  if (doc.is_discarded() || !doc.contains("space")) {
    return absl::InternalError(absl::StrCat("campaign ", campaign_id, ": its JSON has no space"));
  }
  ASSIGN_OR_RETURN(search::Space space, search::Space::Parse(doc["space"]));
  const std::vector<OptunaObjective> objectives = CampaignObjectives(doc);
  std::vector<std::string> directions;
  for (const OptunaObjective& o : objectives) {
    directions.push_back(o.maximize ? "MAXIMIZE" : "MINIMIZE");
  }
  absl::StatusOr<std::unique_ptr<db::OptunaStudyWriter>> writer = db::OptunaStudyWriter::Create(
      path, campaign.name(), directions,
      {{"convrnn_campaign_id", json(campaign_id).dump()}, {"convrnn_campaign", doc.dump()}});
  if (!writer.ok()) {
    if (writer.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::InvalidArgumentError(absl::StrCat("--storage: ", writer.status().message()));
    }
    return writer.status();
  }
  int64_t trials = 0;
  absl::Status s = env.client->ExportTrials(
      campaign_id, "jsonl", [&](const v1::ExportChunk& chunk) -> absl::Status {
        size_t start = 0;
        const std::string& text = chunk.content();
        for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
          const json t = json::parse(text.substr(start, end - start), nullptr, false);
          if (t.is_discarded()) return absl::DataLossError("export stream: a line is not JSON");
          if (absl::Status added = (*writer)->Add(ToOptunaTrial(space, objectives, t));
              !added.ok()) {
            return added;
          }
          ++trials;
        }
        return absl::OkStatus();
      });
  RETURN_IF_ERROR(s);
  RETURN_IF_ERROR((*writer)->Finish());
  if (env.json) {
    *env.out << json{{"storage", storage}, {"study", campaign.name()}, {"trials", trials}}.dump(2)
             << "\n";
  } else {
    *env.out << "wrote campaign " << campaign_id << " (" << trials << " trials) as Optuna study '"
             << campaign.name() << "' to " << storage << "\n";
  }
  return absl::OkStatus();
}

}  // namespace convrnn::client
