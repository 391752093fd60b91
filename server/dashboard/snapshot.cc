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

// obj[key] when `obj` is an object that has it, else nullptr: read in place
// (json::value() would copy it).
const json* Member(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// Cell types and feedback edges of a spec (empty when it does not parse).
// Runs once per trial of a snapshot.
void Wiring(const std::string& spec_json, TrialRow* row) {
  const json spec = json::parse(spec_json, nullptr, false);
  if (const json* layers = Member(spec, "layers"); layers != nullptr && layers->is_array()) {
    for (const json& layer : *layers) {
      const json* cell = Member(layer, "cell");
      const json* type = cell == nullptr ? nullptr : Member(*cell, "type");
      row->cells.push_back(type != nullptr && type->is_string() ? type->get<std::string>()
                                                                : "feedforward");
    }
  }
  if (const json* feedback = Member(spec, "feedback");
      feedback != nullptr && feedback->is_array()) {
    for (const json& edge : *feedback) {
      if (edge.is_object()) row->edges.emplace_back(edge.value("from", -1), edge.value("to", -1));
    }
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
  // Built by moving each piece into place: 10,000 trials' arrays copied
  // once more (initializer lists copy) were a third of a cold snapshot.
  json objectives = json::array();
  for (const Objective& o : s.config->objectives) objectives.push_back(ObjectiveName(o));
  std::vector<std::string> names;
  for (const search::Param& p : s.config->space->params()) names.push_back(p.name);
  auto metric = [](const Metrics& m, const std::string& name) {
    auto v = m.find(name);
    return v == m.end() ? json(nullptr) : Number(v->second);
  };
  json trials = json::array();
  for (const TrialRow& r : s.trials) {
    json values = json::array();
    for (const Objective& o : s.config->objectives) values.push_back(metric(r.final, o.metric));
    json params = json::array();
    for (const std::string& name : names) {
      auto v = r.params.find(name);
      params.push_back(v == r.params.end() ? json(nullptr) : *v);
    }
    json curve = json::array();
    for (const auto& [epoch, v] : r.curve) {
      json point = json::array();
      point.push_back(epoch);
      point.push_back(Number(v));
      curve.push_back(std::move(point));
    }
    json cost = json::array();
    cost.push_back(metric(r.final, "params"));
    cost.push_back(metric(r.final, "flops"));
    json t = json::object();
    t["n"] = r.trial.number;
    t["id"] = r.trial.id;
    t["s"] = std::string(db::TrialStateName(r.trial.state));
    t["v"] = std::move(values);
    t["a"] = metric(r.final, "val_top1");
    t["p"] = std::move(params);
    t["q"] = std::move(cost);
    t["c"] = r.cells;
    t["e"] = r.edges;
    t["k"] = std::move(curve);
    t["t"] = r.trial.updated_us;
    trials.push_back(std::move(t));
  }
  json doc = json::object();
  doc["campaign_id"] = s.view.campaign.id;
  doc["sequence"] = s.sequence;
  doc["objectives"] = std::move(objectives);
  doc["params"] = names;
  doc["trials"] = std::move(trials);
  return doc.dump();
}

}  // namespace convrnn::server::dashboard
