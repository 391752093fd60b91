#include "server/dashboard/snapshot.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/dashboard/gzip.h"
#include "server/metrics.h"
#include "util/status_macros.h"

namespace convrnn::server::dashboard {
namespace {

using nlohmann::json;

json ObjectOf(const std::string& text) {
  json j = json::parse(text.empty() ? "{}" : text, nullptr, false);
  return j.is_object() ? j : json::object();
}

bool IsFinal(db::TrialState s) {
  return s == db::TrialState::kCompleted || s == db::TrialState::kFailed ||
         s == db::TrialState::kPruned;
}

// Cell types and feedback edges of a spec (empty when it does not parse).
void Wiring(const std::string& spec_json, TrialRow* row) {
  const json spec = json::parse(spec_json, nullptr, false);
  if (!spec.is_object()) return;
  for (const json& layer : spec.value("layers", json::array())) {
    const json cell = layer.value("cell", json::object());
    row->cells.push_back(cell.is_object() ? cell.value("type", "feedforward") : "feedforward");
  }
  for (const json& edge : spec.value("feedback", json::array())) {
    if (edge.is_object()) row->edges.emplace_back(edge.value("from", -1), edge.value("to", -1));
  }
}

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

SnapshotCache::SnapshotCache(Coordinator& coordinator, Clock& clock, Options options)
    : coordinator_(coordinator), clock_(clock), options_(options) {}

absl::StatusOr<std::shared_ptr<const CampaignSnapshot>> SnapshotCache::Get(int64_t campaign_id) {
  Entry* entry;
  {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Entry>& e = entries_[campaign_id];
    if (e == nullptr) e = std::make_unique<Entry>();
    entry = e.get();
  }
  const int64_t sequence = coordinator_.event_sequence();
  absl::MutexLock lock(&entry->build_mu);
  const int64_t now = clock_.NowMicros();
  if (entry->snapshot != nullptr) {
    if (entry->checked_sequence == sequence ||
        now - entry->built_us < absl::ToInt64Microseconds(options_.min_age)) {
      return entry->snapshot;
    }
    // Events happened somewhere; this campaign may have none.
    ASSIGN_OR_RETURN(EventBatch newer,
                     coordinator_.ReadEvents(campaign_id, entry->snapshot->last_event_id, 1));
    if (newer.events.empty()) {
      entry->checked_sequence = sequence;
      return entry->snapshot;
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const CampaignSnapshot> built,
                   Build(campaign_id, entry->snapshot.get()));
  entry->snapshot = std::move(built);
  entry->built_us = now;
  entry->checked_sequence = entry->snapshot->sequence;
  return entry->snapshot;
}

absl::StatusOr<int64_t> SnapshotCache::LastEventId(int64_t campaign_id, int64_t after) {
  while (true) {
    ASSIGN_OR_RETURN(EventBatch batch, coordinator_.ReadEvents(campaign_id, after, 1000));
    if (batch.events.empty()) return after;
    after = batch.events.back().id;
  }
}

absl::StatusOr<std::shared_ptr<const CampaignSnapshot>> SnapshotCache::Build(
    int64_t campaign_id, const CampaignSnapshot* previous) {
  auto s = std::make_shared<CampaignSnapshot>();
  // The sequence and the newest event first: what happens during the build
  // makes the next Get look again.
  s->sequence = coordinator_.event_sequence();
  ASSIGN_OR_RETURN(int64_t last,
                   LastEventId(campaign_id, previous == nullptr ? 0 : previous->last_event_id));
  s->last_event_id = last;
  ASSIGN_OR_RETURN(CampaignView view, coordinator_.GetCampaign(campaign_id));
  s->view = std::move(view);
  ASSIGN_OR_RETURN(std::shared_ptr<const CampaignConfig> config, coordinator_.Config(campaign_id));
  s->config = std::move(config);
  std::map<int64_t, const TrialRow*> before;
  if (previous != nullptr) {
    for (const TrialRow& r : previous->trials) before[r.trial.id] = &r;
  }
  int64_t after = 0;
  do {
    ASSIGN_OR_RETURN(TrialPage page,
                     coordinator_.ListTrials(campaign_id, std::nullopt, after, 1000));
    for (db::Trial& t : page.trials) {
      auto old = before.find(t.id);
      if (old != before.end() && IsFinal(t.state) && old->second->trial.state == t.state &&
          old->second->trial.updated_us == t.updated_us) {
        s->trials.push_back(*old->second);  // a finished trial does not change
        continue;
      }
      TrialRow row;
      // Only completed trials have final metrics to complete with the cost
      // (estimating it parses the spec: most of a rebuild's time otherwise).
      row.final = ParseMetricsJson(t.metrics_json);
      if (t.state == db::TrialState::kCompleted) row.final = WithCost(row.final, t.spec_json);
      row.params = ObjectOf(t.params_json);
      Wiring(t.spec_json, &row);
      ASSIGN_OR_RETURN(std::vector<db::EpochReport> epochs, coordinator_.TrialEpochs(t.id));
      std::map<int, double> curve;
      for (const db::EpochReport& e : epochs) {
        const Metrics m = ParseMetricsJson(e.metrics_json);
        if (auto v = m.find("val_top1"); v != m.end()) curve[e.epoch] = v->second;
      }
      row.curve.assign(curve.begin(), curve.end());
      t.spec_json.clear();
      row.trial = std::move(t);
      s->trials.push_back(std::move(row));
    }
    after = page.next_after_number;
  } while (after != 0);
  s->points_json = PointsJson(*s);
  s->points_gzip = Gzip(s->points_json, 1);
  return s;
}

std::string PointsJson(const CampaignSnapshot& s) {
  json objectives = json::array();
  for (const Objective& o : s.config->objectives) objectives.push_back(ObjectiveName(o));
  json names = json::array();
  for (const search::Param& p : s.config->space->params()) names.push_back(p.name);
  json trials = json::array();
  for (const TrialRow& r : s.trials) {
    json values = json::array();
    for (const Objective& o : s.config->objectives) {
      auto v = r.final.find(o.metric);
      values.push_back(v == r.final.end() ? json(nullptr) : Number(v->second));
    }
    json params = json::array();
    for (const json& name : names) {
      auto v = r.params.find(name.get<std::string>());
      params.push_back(v == r.params.end() ? json(nullptr) : *v);
    }
    json curve = json::array();
    for (const auto& [epoch, v] : r.curve) curve.push_back({epoch, Number(v)});
    auto top1 = r.final.find("val_top1");
    auto size = r.final.find("params");
    auto flops = r.final.find("flops");
    trials.push_back({{"n", r.trial.number},
                      {"id", r.trial.id},
                      {"s", std::string(db::TrialStateName(r.trial.state))},
                      {"v", values},
                      {"a", top1 == r.final.end() ? json(nullptr) : Number(top1->second)},
                      {"p", params},
                      {"q",
                       {size == r.final.end() ? json(nullptr) : Number(size->second),
                        flops == r.final.end() ? json(nullptr) : Number(flops->second)}},
                      {"c", r.cells},
                      {"e", r.edges},
                      {"k", curve},
                      {"t", r.trial.updated_us}});
  }
  return json{{"campaign_id", s.view.campaign.id},
              {"sequence", s.sequence},
              {"objectives", objectives},
              {"params", names},
              {"trials", trials}}
      .dump();
}

}  // namespace convrnn::server::dashboard
