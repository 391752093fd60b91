// The coordinator's life cycle: loading and rebuilding after a restart,
// campaigns (launch, list, stop, resume, completion) and event notification.
// The worker path (leases, progress, completion, failure, the reaper) is in
// coordinator_worker.cc; the read-only queries in coordinator_queries.cc.
#include "server/coordinator.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "search/early_stopping.h"
#include "search/sampler.h"
#include "server/coordinator_runtime.h"
#include "server/metrics.h"
#include "util/log.h"
#include "util/status_macros.h"

namespace convrnn::server {

using nlohmann::json;

namespace {

bool IsLive(db::TrialState state) {
  return state == db::TrialState::kLeased || state == db::TrialState::kRunning;
}

bool IsFinal(db::TrialState state) {
  return state == db::TrialState::kCompleted || state == db::TrialState::kFailed ||
         state == db::TrialState::kPruned;
}

// A request id is what a script or the client made up: printable, short,
// no spaces (it is echoed in messages and kept in the store).
absl::Status CheckRequestId(const std::string& request_id) {
  const bool ok = request_id.size() <= kMaxRequestIdBytes &&
                  std::all_of(request_id.begin(), request_id.end(), [](char c) {
                    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
                  });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("request_id: at most ", kMaxRequestIdBytes,
                                                 " characters of A-Z a-z 0-9 - _ . :"));
}

// SHA-256 of the launched document, hex: a retry is the same launch only
// when it carries the same bytes.
std::string DocumentDigest(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    return "";  // Never in practice; an empty digest matches no stored one (Relaunch).
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(size)));
}

}  // namespace

Coordinator::Coordinator(db::Store& store, Clock& clock, const CoordinatorOptions& options)
    : store_(store), clock_(clock), options_(options) {}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Create(
    db::Store& store, Clock& clock, const CoordinatorOptions& options) {
  std::unique_ptr<Coordinator> coordinator(new Coordinator(store, clock, options));
  RETURN_IF_ERROR(coordinator->Load());
  if (options.start_reaper) {
    coordinator->reaper_ = std::thread([c = coordinator.get()] { c->ReaperLoop(); });
    if (options.proposals_ahead > 0) {
      coordinator->proposer_ = std::thread([c = coordinator.get()] { c->ProposerLoop(); });
    }
  }
  return coordinator;
}

Coordinator::~Coordinator() { Shutdown(); }

void Coordinator::Shutdown() {
  if (!stop_reaper_.HasBeenNotified()) stop_reaper_.Notify();
  WakeProposer();
  if (proposer_.joinable()) proposer_.join();
  if (reaper_.joinable()) reaper_.join();
  {
    absl::MutexLock lock(&events_mu_);
    shut_down_ = true;
  }
}

// --- Loading -----------------------------------------------------------------

absl::Status Coordinator::Load() {
  // Workers kept training while we were down: RestartDeadline lets them
  // reach us before any of their leases can expire. Nothing is written here
  // (a full disk must not keep the server down); the reaper writes a grace
  // deadline when the stored one passes.
  restart_us_ = clock_.NowMicros();
  ASSIGN_OR_RETURN(std::vector<db::Worker> workers, store_.ListWorkers(0));
  for (const db::Worker& w : workers) restart_seen_us_[w.id] = w.last_seen_us;

  int64_t before_id = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<db::Campaign> page, store_.ListCampaigns(before_id, 100));
    for (const db::Campaign& campaign : page) {
      ASSIGN_OR_RETURN(db::TrialCounts counts, store_.CountTrials(campaign.id));
      const bool active = campaign.state == db::CampaignState::kRunning ||
                          campaign.state == db::CampaignState::kStopped;
      if (!active && counts.leased + counts.running == 0) continue;  // loaded on demand
      absl::StatusOr<std::shared_ptr<CampaignRuntime>> rt = LoadRuntime(campaign);
      if (rt.status().code() == absl::StatusCode::kDataLoss) {
        // One campaign this build cannot read must not keep the others down;
        // its leases lapse and its queries report the error.
        Log("coordinator")->error("skipping {}", std::string(rt.status().message()));
        continue;
      }
      RETURN_IF_ERROR(rt.status());
    }
    if (page.size() < 100) break;
    before_id = page.back().id;
  }
  return absl::OkStatus();
}

int64_t Coordinator::RestartDeadline(const db::Trial& trial, int lease_seconds) const {
  const int64_t lease_us = int64_t{lease_seconds} * 1'000'000;
  const auto grace_us = static_cast<int64_t>(options_.restart_grace_leases * lease_us);
  auto seen = restart_seen_us_.find(trial.worker_id);
  const int64_t last_seen = seen == restart_seen_us_.end() ? 0 : seen->second;
  // Anchored to the worker's last sign of life, not only to the restart: a
  // dead worker's last_seen stays put, so restarts cannot renew its lease.
  const int64_t graced = std::min(restart_us_ + grace_us, last_seen + lease_us + grace_us);
  return std::max(trial.lease_deadline_us, graced);
}

absl::StatusOr<std::shared_ptr<Coordinator::CampaignRuntime>> Coordinator::Runtime(
    int64_t campaign_id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = campaigns_.find(campaign_id);
    if (it != campaigns_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(db::Campaign campaign, store_.GetCampaign(campaign_id));
  return LoadRuntime(campaign);
}

absl::StatusOr<std::shared_ptr<Coordinator::CampaignRuntime>> Coordinator::LoadRuntime(
    const db::Campaign& campaign) {
  absl::StatusOr<CampaignConfig> config = ParseCampaignText(campaign.config_json);
  if (!config.ok()) {
    return absl::DataLossError(absl::StrCat(
        "campaign ", campaign.id, ": stored config no longer parses: ", config.status().message()));
  }
  auto rt = std::make_shared<CampaignRuntime>(campaign.id, *std::move(config), campaign.state);
  {
    absl::MutexLock lock(&rt->mu);
    RETURN_IF_ERROR(RebuildHistory(*rt));
  }
  absl::MutexLock lock(&mu_);
  // Another thread may have loaded it meanwhile; keep the first.
  auto [it, inserted] = campaigns_.emplace(campaign.id, rt);
  return it->second;
}

absl::Status Coordinator::RebuildHistory(CampaignRuntime& rt) {
  rt.mu.AssertHeld();
  const bool active =
      rt.state == db::CampaignState::kRunning || rt.state == db::CampaignState::kStopped;
  std::vector<db::Trial> trials;
  if (active) {
    ASSIGN_OR_RETURN(std::vector<db::Trial> all, AllTrials(rt.id, std::nullopt));
    trials = std::move(all);
  } else {
    // Ended campaign: only its leases in flight matter.
    for (db::TrialState state : {db::TrialState::kLeased, db::TrialState::kRunning}) {
      ASSIGN_OR_RETURN(std::vector<db::Trial> live, AllTrials(rt.id, state));
      trials.insert(trials.end(), live.begin(), live.end());
    }
  }
  for (const db::Trial& t : trials) {
    if (IsLive(t.state)) {
      AddLease(t.lease_token,
               {rt.id, t.id, t.worker_id, RestartDeadline(t, rt.config.lease_seconds),
                t.lease_deadline_us, int64_t{rt.config.lease_seconds} * 1'000'000});
    }
  }
  if (!active) return absl::OkStatus();
  RETURN_IF_ERROR(rt.InitSearch());
  RETURN_IF_ERROR(WarmStart(rt, /*note=*/false));
  {
    absl::MutexLock admit(&rt.admit_mu);
    rt.total_trials = static_cast<int64_t>(trials.size());
    rt.unfinished_trials = std::count_if(trials.begin(), trials.end(),
                                         [](const db::Trial& t) { return !IsFinal(t.state); });
  }

  // Replay the stopper over the stored epochs, trial by trial, so its rungs
  // hold what they held before the restart. The last report of a pruned
  // trial is also its value for the sampler.
  std::map<int64_t, Metrics> last_report;
  if (rt.stopper != nullptr) {
    const std::string& metric = rt.config.objectives.front().metric;
    for (const db::Trial& t : trials) {
      if (t.state == db::TrialState::kPending) continue;
      ASSIGN_OR_RETURN(std::vector<db::EpochReport> epochs, store_.ListEpochs(t.id));
      for (const db::EpochReport& e : epochs) {
        Metrics m = ParseMetricsJson(e.metrics_json);
        auto v = m.find(metric);
        if (v != m.end()) rt.stopper->Decide(t.id, e.epoch, v->second);
        last_report[t.id] = std::move(m);
      }
    }
  }

  // Finished trials in the order they finished, then the pending ones.
  std::vector<const db::Trial*> finished;
  for (const db::Trial& t : trials) {
    if (IsFinal(t.state)) finished.push_back(&t);
  }
  std::stable_sort(finished.begin(), finished.end(), [](const db::Trial* a, const db::Trial* b) {
    return std::tie(a->updated_us, a->id) < std::tie(b->updated_us, b->id);
  });
  for (const db::Trial* t : finished) {
    Metrics values_from;
    if (t->state == db::TrialState::kCompleted) values_from = ParseMetricsJson(t->metrics_json);
    if (t->state == db::TrialState::kPruned) values_from = last_report[t->id];
    rt.RecordFinished(*t, values_from);
  }
  for (const db::Trial& t : trials) {
    if (!IsFinal(t.state)) rt.RecordPending(t);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<db::Trial>> Coordinator::AllTrials(int64_t campaign_id,
                                                              std::optional<db::TrialState> state) {
  std::vector<db::Trial> all;
  db::TrialQuery query;
  query.campaign_id = campaign_id;
  query.state = state;
  query.limit = 1000;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<db::Trial> page, store_.ListTrials(query));
    for (db::Trial& t : page) all.push_back(std::move(t));
    if (static_cast<int>(page.size()) < query.limit) break;
    query.after_number = all.back().number;
  }
  return all;
}

// --- Campaigns ---------------------------------------------------------------

absl::StatusOr<CampaignView> Coordinator::View(const db::Campaign& campaign) {
  ASSIGN_OR_RETURN(db::TrialCounts counts, store_.CountTrials(campaign.id));
  return CampaignView{campaign, counts};
}

absl::StatusOr<CampaignView> Coordinator::Relaunch(const db::Campaign& prior,
                                                   const std::string& digest) {
  if (digest.empty() || prior.request_digest != digest) {
    return absl::AlreadyExistsError(
        absl::StrCat("request id '", prior.request_id, "' already launched campaign ", prior.id,
                     " with a different document; launch with a new request id"));
  }
  // The first attempt may have stored it and then failed before the
  // campaign was in memory (a store error after the commit): load it, so
  // the campaign this answer reports does run.
  RETURN_IF_ERROR(Runtime(prior.id).status());
  return View(prior);
}

absl::StatusOr<CampaignView> Coordinator::Launch(const std::string& campaign_json,
                                                 const std::string& request_id) {
  RETURN_IF_ERROR(CheckRequestId(request_id));
  const std::string digest = request_id.empty() ? "" : DocumentDigest(campaign_json);
  // A retry of a launch whose reply was lost: the campaign it made.
  if (!request_id.empty()) {
    ASSIGN_OR_RETURN(std::optional<db::Campaign> prior, store_.FindCampaignByRequest(request_id));
    if (prior.has_value()) return Relaunch(*prior, digest);
  }
  ASSIGN_OR_RETURN(CampaignConfig config, ParseCampaignText(campaign_json));
  // The search is built before the campaign is stored: a campaign in the
  // store can always propose trials.
  ASSIGN_OR_RETURN(CampaignSearch search, NewCampaignSearch(config));
  db::NewCampaign fresh;
  fresh.name = config.name;
  fresh.config_json = campaign_json;
  fresh.max_attempts = config.max_attempts;
  fresh.request_id = request_id;
  fresh.request_digest = digest;
  absl::StatusOr<db::Campaign> created = store_.CreateCampaign(fresh, clock_.NowMicros());
  if (created.status().code() == absl::StatusCode::kAlreadyExists && !request_id.empty()) {
    // A concurrent attempt with the same id stored it first.
    ASSIGN_OR_RETURN(std::optional<db::Campaign> prior, store_.FindCampaignByRequest(request_id));
    if (prior.has_value()) return Relaunch(*prior, digest);
  }
  if (!created.ok()) return created.status();
  db::Campaign campaign = *std::move(created);
  NotifyEvents();
  auto rt = std::make_shared<CampaignRuntime>(campaign.id, std::move(config), campaign.state);
  {
    absl::MutexLock lock(&rt->mu);
    rt->AdoptSearch(std::move(search));
    RETURN_IF_ERROR(WarmStart(*rt, /*note=*/true));
  }
  {
    absl::MutexLock lock(&mu_);
    campaigns_.emplace(campaign.id, rt);
  }
  // No second read: a new campaign has no trials, and a read failing after
  // the write would tell the client that a stored campaign was not launched.
  return CampaignView{std::move(campaign), db::TrialCounts{}};
}

absl::StatusOr<CampaignView> Coordinator::GetCampaign(int64_t campaign_id) {
  ASSIGN_OR_RETURN(db::Campaign campaign, store_.GetCampaign(campaign_id));
  return View(campaign);
}

int Coordinator::PageSize(int requested) const {
  if (requested <= 0) return options_.default_page_size;
  return std::min(requested, options_.max_page_size);
}

absl::StatusOr<CampaignPage> Coordinator::ListCampaigns(int64_t before_id, int page_size) {
  const int limit = PageSize(page_size);
  ASSIGN_OR_RETURN(std::vector<db::Campaign> campaigns, store_.ListCampaigns(before_id, limit + 1));
  CampaignPage page;
  for (const db::Campaign& c : campaigns) {
    if (static_cast<int>(page.campaigns.size()) == limit) {
      page.next_before_id = page.campaigns.back().campaign.id;
      break;
    }
    ASSIGN_OR_RETURN(CampaignView view, View(c));
    page.campaigns.push_back(std::move(view));
  }
  return page;
}

absl::StatusOr<TrialPage> Coordinator::ListTrials(int64_t campaign_id,
                                                  std::optional<db::TrialState> state,
                                                  int64_t after_number, int page_size) {
  RETURN_IF_ERROR(store_.GetCampaign(campaign_id).status());
  db::TrialQuery query;
  query.campaign_id = campaign_id;
  query.state = state;
  query.after_number = after_number;
  query.limit = PageSize(page_size) + 1;
  ASSIGN_OR_RETURN(std::vector<db::Trial> trials, store_.ListTrials(query));
  TrialPage page;
  page.trials = std::move(trials);
  if (static_cast<int>(page.trials.size()) == query.limit) {
    page.trials.pop_back();
    page.next_after_number = page.trials.back().number;
  }
  return page;
}

absl::StatusOr<TrialDetail> Coordinator::GetTrial(int64_t trial_id) {
  ASSIGN_OR_RETURN(db::Trial trial, store_.GetTrial(trial_id));
  ASSIGN_OR_RETURN(std::vector<db::EpochReport> epochs, store_.ListEpochs(trial_id));
  ASSIGN_OR_RETURN(std::vector<db::Score> scores, store_.ListScores(trial_id));
  return TrialDetail{std::move(trial), std::move(epochs), std::move(scores)};
}

absl::StatusOr<CampaignView> Coordinator::Stop(int64_t campaign_id) {
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> rt, Runtime(campaign_id));
  {
    absl::MutexLock lock(&rt->mu);
    RETURN_IF_ERROR(MoveCampaignState(*rt, db::CampaignState::kRunning, db::CampaignState::kStopped,
                                      "nothing to stop")
                        .status());
  }
  return GetCampaign(campaign_id);
}

absl::StatusOr<CampaignView> Coordinator::Resume(int64_t campaign_id) {
  ASSIGN_OR_RETURN(std::shared_ptr<CampaignRuntime> rt, Runtime(campaign_id));
  {
    absl::MutexLock lock(&rt->mu);
    ASSIGN_OR_RETURN(const bool resumed,
                     MoveCampaignState(*rt, db::CampaignState::kStopped,
                                       db::CampaignState::kRunning, "it cannot resume"));
    // Everything may have finished while it was stopped.
    if (resumed) RETURN_IF_ERROR(MaybeCompleteCampaign(*rt));
  }
  return GetCampaign(campaign_id);
}

absl::StatusOr<bool> Coordinator::MoveCampaignState(CampaignRuntime& rt, db::CampaignState from,
                                                    db::CampaignState to,
                                                    absl::string_view refusal) {
  rt.mu.AssertHeld();
  const db::CampaignState state = rt.state;
  if (state == to) return false;
  if (state != from) {
    return absl::FailedPreconditionError(absl::StrCat(
        "campaign ", rt.id, " has ended (", db::CampaignStateName(state), "); ", refusal));
  }
  RETURN_IF_ERROR(store_.SetCampaignState(rt.id, to, clock_.NowMicros()));
  rt.state = to;
  NotifyEvents();
  return true;
}

absl::Status Coordinator::MaybeCompleteCampaign(CampaignRuntime& rt) {
  rt.mu.AssertHeld();
  if (rt.state != db::CampaignState::kRunning || rt.sampler == nullptr) return absl::OkStatus();
  {
    absl::MutexLock admit(&rt.admit_mu);
    if (rt.total_trials < rt.max_trials || rt.unfinished_trials > 0) {
      return absl::OkStatus();
    }
  }
  RETURN_IF_ERROR(
      store_.SetCampaignState(rt.id, db::CampaignState::kCompleted, clock_.NowMicros()));
  rt.state = db::CampaignState::kCompleted;
  NotifyEvents();
  return absl::OkStatus();
}

void Coordinator::OnTrialFinished(CampaignRuntime& rt, const db::Trial& trial,
                                  const Metrics& values_from) {
  EraseLeaseOfTrial(trial.id);
  bool maybe_done = false;
  {
    absl::MutexLock admit(&rt.admit_mu);
    if (rt.unfinished_trials > 0) --rt.unfinished_trials;
    rt.finished_inbox.emplace_back(trial, values_from);
    maybe_done = rt.total_trials >= rt.max_trials && rt.unfinished_trials == 0;
  }
  WakeProposer();  // it records the trial in the history (DrainFinished)
  if (!maybe_done) return;
  absl::MutexLock lock(&rt.mu);
  rt.DrainFinished();
  // A failure here leaves the campaign RUNNING with nothing in flight; the
  // next lease request (TryLease) checks again.
  (void)MaybeCompleteCampaign(rt);
}

// --- Event notification ------------------------------------------------------

void Coordinator::NotifyEvents() {
  // Waiters in AwaitEvents see the change when events_mu_ is released.
  absl::MutexLock lock(&events_mu_);
  ++event_seq_;
}

void Coordinator::WakeWatchers() { NotifyEvents(); }

int64_t Coordinator::event_sequence() const {
  absl::MutexLock lock(&events_mu_);
  return event_seq_;
}

int64_t Coordinator::AwaitEvents(int64_t seen, absl::Duration max_wait) {
  absl::MutexLock lock(&events_mu_);
  auto news = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(events_mu_) {
    return event_seq_ > seen || shut_down_;
  };
  clock_.AwaitWithTimeout(events_mu_, absl::Condition(&news), max_wait);
  return event_seq_;
}

}  // namespace convrnn::server
