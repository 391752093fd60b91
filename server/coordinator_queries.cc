// The coordinator's read-only queries: best, Pareto front, export, workers
// and the event feed of watchers.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "search/pareto.h"
#include "server/coordinator.h"
#include "server/coordinator_runtime.h"
#include "server/export.h"
#include "util/status_macros.h"

namespace convrnn::server {
namespace {

absl::StatusOr<Objective> ParseObjective(const std::string& text, const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  Objective objective;
  if (parts.size() != 2 || !IsMetricName(parts[0]) || (parts[1] != "max" && parts[1] != "min")) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": must be \"metric:max\" or \"metric:min\", got \"", text, "\""));
  }
  objective.metric = parts[0];
  objective.goal = parts[1] == "max" ? search::Goal::kMaximize : search::Goal::kMinimize;
  return objective;
}

bool IsEnded(db::CampaignState state) {
  return state == db::CampaignState::kCompleted || state == db::CampaignState::kFailed;
}

}  // namespace

absl::StatusOr<RankedTrials> Coordinator::Best(int64_t campaign_id, int top_k,
                                               const std::string& metric, const std::string& goal) {
  if (top_k < 0) return absl::InvalidArgumentError("top_k: must not be negative");
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> rt, Runtime(campaign_id));
  const std::vector<Objective>& objectives = rt->config.objectives;
  RankedTrials ranked;
  ranked.metric = metric.empty() ? objectives.front().metric : metric;
  if (!IsMetricName(ranked.metric)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric: must be letters, digits, '_' and '.', got \"", ranked.metric, "\""));
  }
  if (goal.empty()) {
    ranked.maximize = true;
    for (const Objective& o : objectives) {
      if (o.metric == ranked.metric) ranked.maximize = o.goal == search::Goal::kMaximize;
    }
  } else if (goal == "max" || goal == "min") {
    ranked.maximize = goal == "max";
  } else {
    return absl::InvalidArgumentError(absl::StrCat("goal: must be max or min, got \"", goal, "\""));
  }
  ASSIGN_OR_RETURN(std::vector<db::Trial> trials,
                   store_.TopTrials(campaign_id, ranked.metric, ranked.maximize,
                                    top_k == 0 ? 10 : std::min(top_k, options_.max_page_size)));
  ranked.trials = std::move(trials);
  return ranked;
}

absl::StatusOr<ParetoFrontResult> Coordinator::Pareto(int64_t campaign_id,
                                                      const std::vector<std::string>& objectives) {
  ParetoFrontResult result;
  if (objectives.empty()) {
    result.objectives = {{"val_top1", search::Goal::kMaximize},
                         {"params", search::Goal::kMinimize}};
  }
  for (size_t i = 0; i < objectives.size(); ++i) {
    ASSIGN_OR_RETURN(Objective o,
                     ParseObjective(objectives[i], absl::StrCat("objectives[", i, "]")));
    result.objectives.push_back(std::move(o));
  }
  if (absl::Status s = store_.GetCampaign(campaign_id).status(); !s.ok()) return s;
  ASSIGN_OR_RETURN(std::vector<db::Trial> completed,
                   AllTrials(campaign_id, db::TrialState::kCompleted));

  std::vector<search::Goal> goals;
  for (const Objective& o : result.objectives) goals.push_back(o.goal);
  std::vector<const db::Trial*> candidates;
  std::vector<std::vector<double>> points;
  for (const db::Trial& t : completed) {
    std::vector<double> values =
        ObjectiveValues(result.objectives, WithCost(ParseMetricsJson(t.metrics_json), t.spec_json));
    if (std::any_of(values.begin(), values.end(), [](double v) { return std::isnan(v); })) continue;
    candidates.push_back(&t);
    points.push_back(std::move(values));
  }
  std::vector<size_t> front = search::ParetoFront(points, goals);
  const search::Goal first = goals.front();
  std::sort(front.begin(), front.end(), [&](size_t a, size_t b) {
    const double la = search::AsLoss(points[a][0], first);
    const double lb = search::AsLoss(points[b][0], first);
    if (la != lb) return la < lb;
    return candidates[a]->number < candidates[b]->number;
  });
  for (size_t i : front) result.trials.push_back(*candidates[i]);
  return result;
}

absl::StatusOr<ExportedDocument> Coordinator::Export(int64_t campaign_id,
                                                     const std::string& format) {
  return ExportDocument(*this, campaign_id, format);
}

absl::StatusOr<std::vector<WorkerView>> Coordinator::ListWorkers(bool include_dead) {
  const int64_t cutoff = clock_.NowMicros() - absl::ToInt64Microseconds(options_.worker_dead_after);
  ASSIGN_OR_RETURN(std::vector<db::Worker> workers, store_.ListWorkers(include_dead ? 0 : cutoff));
  std::vector<WorkerView> views;
  for (db::Worker& w : workers) {
    const bool dead = w.last_seen_us < cutoff;
    views.push_back({std::move(w), dead});
  }
  return views;
}

absl::StatusOr<EventBatch> Coordinator::ReadEvents(int64_t campaign_id, int64_t after_id,
                                                   int limit) {
  // The state first: when it has ended, every event up to the end is already
  // committed, so an empty read after it means the watch is over.
  ASSIGN_OR_RETURN(db::Campaign campaign, store_.GetCampaign(campaign_id));
  ASSIGN_OR_RETURN(std::vector<db::Event> events,
                   store_.ListEvents(campaign_id, after_id, std::max(1, limit)));
  EventBatch batch;
  batch.events = std::move(events);
  batch.finished = IsEnded(campaign.state) && batch.events.empty();
  return batch;
}

}  // namespace convrnn::server
