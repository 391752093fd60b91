// The coordinator's planning calls: trials enqueued with fixed specs, a
// campaign's budget extended, warm start from earlier campaigns, and the
// event-log notes of candidates redrawn for a parameter budget.
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "search/sampler.h"
#include "server/coordinator.h"
#include "server/coordinator_runtime.h"
#include "server/metrics.h"
#include "util/json_object.h"
#include "util/status_macros.h"

namespace convrnn::server {

using nlohmann::json;

namespace {

constexpr absl::string_view kEventWarmStart = "warm_start";
constexpr absl::string_view kEventBudgetResample = "budget_resample";
constexpr absl::string_view kEventExtended = "campaign_extended";

// The first parameter where two spaces differ, or "" when they are the same.
std::string SpaceDifference(const search::Space& a, const search::Space& b) {
  const auto& pa = a.params();
  const auto& pb = b.params();
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    if (i >= pa.size()) return absl::StrCat("it has ", pb[i].name, " which this space lacks");
    if (i >= pb.size()) return absl::StrCat("it lacks ", pa[i].name);
    const search::Param& x = pa[i];
    const search::Param& y = pb[i];
    if (x.name != y.name || x.kind != y.kind || x.lo != y.lo || x.hi != y.hi || x.step != y.step ||
        x.labels != y.labels || x.parent != y.parent || x.parent_choice != y.parent_choice) {
      return absl::StrCat("its space differs at ", x.name);
    }
  }
  return "";
}

}  // namespace

absl::Status Coordinator::WarmStart(CampaignRuntime& rt, bool note) {
  rt.mu.AssertHeld();
  if (rt.config.warm_start.empty() || rt.sampler == nullptr) return absl::OkStatus();
  json used = json::array(), skipped = json::array();
  for (int64_t id : rt.config.warm_start) {
    absl::StatusOr<db::Campaign> campaign = store_.GetCampaign(id);
    std::string why;
    std::optional<CampaignConfig> config;
    if (!campaign.ok()) {
      why = std::string(campaign.status().message());
    } else if (absl::StatusOr<CampaignConfig> c = ParseCampaignText(campaign->config_json);
               !c.ok()) {
      why = absl::StrCat("its config does not parse: ", c.status().message());
    } else {
      why = SpaceDifference(*rt.config.space, *c->space);
      config = *std::move(c);
    }
    if (!why.empty()) {
      skipped.push_back({{"campaign", id}, {"reason", why}});
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<db::Trial> trials, AllTrials(id, db::TrialState::kCompleted));
    int64_t fed = 0;
    for (const db::Trial& t : trials) {
      json values = json::parse(t.params_json, nullptr, false);
      absl::StatusOr<search::Assignment> a = values.is_discarded()
                                                 ? absl::InvalidArgumentError("params")
                                                 : rt.config.space->FromJson(values);
      if (!a.ok()) a = rt.config.space->FromSpec(json::parse(t.spec_json, nullptr, false));
      if (!a.ok()) continue;
      rt.history.Finish(t.id, search::TrialState::kCompleted,
                        ObjectiveValues(rt.config.objectives, ParseMetricsJson(t.metrics_json)),
                        *std::move(a));
      ++fed;
    }
    used.push_back({{"campaign", id}, {"trials", fed}});
  }
  if (!note) return absl::OkStatus();
  for (const json& s : skipped) {
    std::cerr << "convrnn-server: campaign " << rt.id << ": warm start skips campaign "
              << s["campaign"] << ": " << s["reason"].get<std::string>() << std::endl;
  }
  db::Event event;
  event.campaign_id = rt.id;
  event.type = std::string(kEventWarmStart);
  std::string reason = "warm start:";
  for (const json& u : used) {
    absl::StrAppend(&reason, " used campaign ", u["campaign"].get<int64_t>(), " (",
                    u["trials"].get<int64_t>(), " trials);");
  }
  for (const json& s : skipped) {
    absl::StrAppend(&reason, " skipped campaign ", s["campaign"].get<int64_t>(), ": ",
                    s["reason"].get<std::string>(), ";");
  }
  reason.pop_back();
  event.payload_json = json{{"used", used}, {"skipped", skipped}, {"reason", reason}}.dump();
  event.time_us = clock_.NowMicros();
  if (absl::StatusOr<int64_t> appended = store_.AppendEvent(event); !appended.ok()) {
    return appended.status();
  }
  NotifyEvents();
  return absl::OkStatus();
}

void Coordinator::NoteRejected(int64_t campaign_id, const std::vector<std::string>& rejected,
                               int64_t now_us) {
  if (rejected.empty()) return;
  db::Event event;
  event.campaign_id = campaign_id;
  event.type = std::string(kEventBudgetResample);
  event.payload_json = json{{"redrawn", rejected.size()}, {"reason", rejected.back()}}.dump();
  event.time_us = now_us;
  (void)store_.AppendEvent(event);  // a note; the trial itself is what matters
}

absl::StatusOr<std::vector<db::Trial>> Coordinator::Enqueue(
    int64_t campaign_id, const std::vector<std::string>& spec_jsons) {
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> found, Runtime(campaign_id));
  CampaignRuntime& rt = *found;
  if (spec_jsons.empty()) return absl::InvalidArgumentError("specs: at least one spec is needed");
  // Every spec is checked before any is inserted.
  struct Ready {
    search::Assignment assignment;
    json spec;
  };
  std::vector<Ready> ready;
  const auto adjust = BudgetAdjuster(rt.config.budget);
  for (size_t i = 0; i < spec_jsons.size(); ++i) {
    const std::string what = absl::StrCat("specs[", i, "]");
    json spec;
    if (absl::Status s = ParseJsonText(spec_jsons[i], what, &spec); !s.ok()) return s;
    absl::StatusOr<search::Assignment> a = rt.config.space->FromSpec(spec);
    if (!a.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": not in the campaign's space: ", a.status().message()));
    }
    absl::StatusOr<ArchSpec> typed = rt.config.space->ToSpec(*a);
    if (!typed.ok())
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", typed.status().message()));
    // The spec as given (its seed too), scaled to the budget when there is one.
    absl::StatusOr<ArchSpec> given = ParseArchSpec(spec);
    if (!given.ok())
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", given.status().message()));
    absl::StatusOr<json> final_spec =
        adjust ? adjust(*given) : absl::StatusOr<json>(ToJson(*given));
    if (!final_spec.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": budget: ", final_spec.status().message()));
    }
    ready.push_back({*std::move(a), *std::move(final_spec)});
  }
  std::vector<db::Trial> inserted;
  for (Ready& r : ready) {
    {
      const db::CampaignState state = rt.state.load();
      if (state != db::CampaignState::kRunning && state != db::CampaignState::kStopped) {
        return absl::FailedPreconditionError(absl::StrCat(
            "campaign ", campaign_id, " has ended (", db::CampaignStateName(state).data(),
            "); extend it first (convrnn extend ", campaign_id, " --max-trials N)"));
      }
      absl::MutexLock admit(&rt.admit_mu);
      ++rt.total_trials;  // reserved until the insert is written
      ++rt.unfinished_trials;
    }
    const int64_t now = clock_.NowMicros();
    absl::StatusOr<db::Trial> trial = store_.InsertTrial(
        campaign_id, r.spec.dump(), rt.config.space->ToJson(r.assignment).dump(), now);
    if (!trial.ok()) {
      absl::MutexLock admit(&rt.admit_mu);
      --rt.total_trials;
      --rt.unfinished_trials;
      return trial.status();
    }
    absl::MutexLock lock(&rt.mu);
    rt.DrainFinished();
    if (rt.sampler != nullptr && rt.finished_unrecorded.erase(trial->id) == 0) {
      rt.history.AddPending(trial->id, std::move(r.assignment));
    }
    inserted.push_back(*std::move(trial));
  }
  NotifyEvents();
  return inserted;
}

absl::StatusOr<CampaignView> Coordinator::Extend(int64_t campaign_id, int max_trials,
                                                 int max_parallel) {
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> found, Runtime(campaign_id));
  CampaignRuntime& rt = *found;
  ASSIGN_OR_RETURN(db::Campaign campaign, store_.GetCampaign(campaign_id));
  {
    absl::MutexLock lock(&rt.mu);
    int current = 0;
    {
      absl::MutexLock admit(&rt.admit_mu);
      current = rt.max_trials;
    }
    if (max_trials < current || max_trials > kMaxTrialsLimit) {
      return absl::InvalidArgumentError(absl::StrCat("max_trials: must be in [", current, ", ",
                                                     kMaxTrialsLimit, "] (now ", current, ")"));
    }
    if (max_parallel < 0 || max_parallel > kMaxTrialsLimit) {
      return absl::InvalidArgumentError(
          absl::StrCat("max_parallel: must be in [1, ", kMaxTrialsLimit, "]"));
    }
    const db::CampaignState state = rt.state;
    if (state == db::CampaignState::kFailed) {
      return absl::FailedPreconditionError(
          absl::StrCat("campaign ", campaign_id, " has FAILED; it cannot be extended"));
    }
    json config = json::parse(campaign.config_json, nullptr, false);
    if (config.is_discarded() || !config.is_object()) {
      return absl::DataLossError(absl::StrCat("campaign ", campaign_id, ": stored config"));
    }
    config["search"]["max_trials"] = max_trials;
    if (max_parallel > 0) config["search"]["max_parallel"] = max_parallel;
    const bool reopen = state == db::CampaignState::kCompleted;
    json payload = {{"max_trials", max_trials},
                    {"previous_max_trials", current},
                    {"reason", absl::StrCat("extended: max_trials ", current, " -> ", max_trials)}};
    if (max_parallel > 0) payload["max_parallel"] = max_parallel;
    RETURN_IF_ERROR(store_.UpdateCampaignConfig(
        campaign_id, config.dump(),
        reopen ? std::optional<db::CampaignState>(db::CampaignState::kRunning) : std::nullopt,
        kEventExtended, payload.dump(), clock_.NowMicros()));
    // Without its own max_parallel a campaign runs max_trials at once (as
    // ParseCampaign reads the rewritten config after a restart).
    const bool default_parallel = !config["search"].contains("max_parallel");
    {
      absl::MutexLock admit(&rt.admit_mu);
      rt.max_trials = max_trials;
      if (max_parallel > 0 || default_parallel) {
        rt.max_parallel = max_parallel > 0 ? max_parallel : max_trials;
      }
    }
    if (reopen) {
      rt.state = db::CampaignState::kRunning;
      // An ended campaign loaded for queries has no sampler yet.
      if (rt.sampler == nullptr) {
        if (absl::Status r = RebuildHistory(rt); !r.ok()) return r;
      }
      if (absl::Status done = MaybeCompleteCampaign(rt); !done.ok()) return done;
    }
  }
  NotifyEvents();
  return GetCampaign(campaign_id);
}

}  // namespace convrnn::server
