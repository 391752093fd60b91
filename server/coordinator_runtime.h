// Internal to the coordinator: what it keeps in memory per campaign.
//
// Thread-safety: `mu` guards the search state (sampler, history, early
// stopper); `admit_mu` (taken after `mu` when both are) guards what a lease
// needs: the trial counts and the proposals sampled ahead, so a lease never
// waits for a campaign that is sampling. `state` is written under `mu` but
// read without it (an atomic), so the hot paths (heartbeats, reports) never
// wait for a campaign that is sampling or writing; `id` and `config` are
// immutable after construction.
#ifndef CONVRNN_SERVER_COORDINATOR_RUNTIME_H_
#define CONVRNN_SERVER_COORDINATOR_RUNTIME_H_

#include <atomic>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/store.h"
#include "search/early_stopping.h"
#include "search/sampler.h"
#include "server/campaign.h"
#include "server/coordinator.h"
#include "server/metrics.h"
#include "util/status_macros.h"

namespace convrnn::server {

struct Coordinator::CampaignRuntime {
  CampaignRuntime(int64_t id, CampaignConfig config, db::CampaignState state)
      : id(id), config(std::move(config)), state(state) {
    absl::MutexLock lock(&admit_mu);
    max_trials = this->config.max_trials;
    max_parallel = this->config.max_parallel;
  }

  const int64_t id;
  const CampaignConfig config;

  absl::Mutex mu;
  // Mirror of the stored state; changed (under mu) only after the store
  // accepted it. Read without mu where a momentarily old value is harmless.
  std::atomic<db::CampaignState> state;
  // Built for campaigns that may still propose trials (RUNNING, STOPPED);
  // null for ended ones loaded only to answer queries.
  std::unique_ptr<search::Sampler> sampler ABSL_GUARDED_BY(mu);
  search::History history ABSL_GUARDED_BY(mu);
  std::unique_ptr<search::EarlyStopper> stopper ABSL_GUARDED_BY(mu);
  // Next provisional (negative) id of a proposal sampled ahead.
  int64_t next_provisional_id ABSL_GUARDED_BY(mu) = -1;

  absl::Mutex admit_mu ABSL_ACQUIRED_AFTER(mu);
  // Trials that ended and are not yet in `history`: a completion only
  // queues them here (under admit_mu), so it never waits for a sampler;
  // whoever next holds `mu` to sample records them first (DrainFinished).
  std::vector<std::pair<db::Trial, Metrics>> finished_inbox ABSL_GUARDED_BY(admit_mu);
  // Proposals sampled ahead (Coordinator::ProposerLoop), oldest first.
  std::deque<Proposal> ready ABSL_GUARDED_BY(admit_mu);
  // The campaign's trials, and those not in a final state (PENDING, LEASED,
  // RUNNING), kept here so that leasing and completion need no count from
  // the store (whose readers do not see writes still being group-committed).
  // Maintained for campaigns with a sampler: set when the history is built,
  // raised when a lease reserves a new trial, lowered by OnTrialFinished.
  int64_t total_trials ABSL_GUARDED_BY(admit_mu) = 0;
  int64_t unfinished_trials ABSL_GUARDED_BY(admit_mu) = 0;
  // config's budget, raised by Extend (which also rewrites the stored config).
  int max_trials ABSL_GUARDED_BY(admit_mu) = 0;
  int max_parallel ABSL_GUARDED_BY(admit_mu) = 0;
  // Trials that ended while not pending in the history: one proposed by a
  // lease that had not yet recorded it (see TryLease), or whose stored spec
  // no longer maps into the space.
  std::set<int64_t> finished_unrecorded ABSL_GUARDED_BY(mu);

  // Lock-free: a call that races a Stop sees the stop at its next call.
  bool Stopped() const { return state.load() == db::CampaignState::kStopped; }

  // Takes `search` over an empty history.
  void AdoptSearch(CampaignSearch search) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    sampler = std::move(search.sampler);
    history = search::History();
    if (search.stopper != nullptr) stopper = std::move(search.stopper);
  }

  // A fresh sampler (and early stopper) over an empty history.
  absl::Status InitSearch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    ASSIGN_OR_RETURN(CampaignSearch search, NewCampaignSearch(config));
    AdoptSearch(std::move(search));
    return absl::OkStatus();
  }

  // Records the trials queued in finished_inbox.
  void DrainFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<std::pair<db::Trial, Metrics>> finished;
    {
      absl::MutexLock admit(&admit_mu);
      finished.swap(finished_inbox);
    }
    for (const auto& [trial, values_from] : finished) {
      if (sampler != nullptr && history.pending().count(trial.id) == 0) {
        finished_unrecorded.insert(trial.id);
      }
      RecordFinished(trial, values_from);
    }
  }

  // A trial that is still to run (after a restart).
  void RecordPending(const db::Trial& trial) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (sampler == nullptr) return;
    absl::StatusOr<search::Assignment> a = AssignmentOf(trial);
    if (a.ok()) history.AddPending(trial.id, *std::move(a));
  }

  // A trial that ended; `values_from` holds its final metrics (completed) or
  // last report (pruned).
  void RecordFinished(const db::Trial& trial, const Metrics& values_from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (sampler == nullptr) return;
    search::TrialState state = search::TrialState::kFailed;
    if (trial.state == db::TrialState::kCompleted) state = search::TrialState::kCompleted;
    if (trial.state == db::TrialState::kPruned) state = search::TrialState::kPruned;
    std::vector<double> values = ObjectiveValues(config.objectives, values_from);
    auto pending = history.pending().find(trial.id);
    if (pending != history.pending().end()) {
      history.Finish(trial.id, state, std::move(values));
      return;
    }
    // Rebuilding: the assignment comes back from the stored spec. A spec
    // that no longer maps into the space is kept as failed, which samplers
    // read only as "not pending".
    absl::StatusOr<search::Assignment> a = AssignmentOf(trial);
    if (!a.ok()) {
      history.Finish(trial.id, search::TrialState::kFailed, {}, {});
      return;
    }
    history.Finish(trial.id, state, std::move(values), *std::move(a));
  }

 private:
  absl::StatusOr<search::Assignment> AssignmentOf(const db::Trial& trial) const {
    // The sampled values first: a spec scaled to a budget, or a grid trial
    // with its repeat's seed, is not itself a point of the space.
    nlohmann::json values = nlohmann::json::parse(trial.params_json, nullptr, false);
    if (!values.is_discarded() && !values.empty()) {
      absl::StatusOr<search::Assignment> a = config.space->FromJson(values);
      if (a.ok()) return a;
    }
    nlohmann::json spec = nlohmann::json::parse(trial.spec_json, nullptr, false);
    if (spec.is_discarded()) return absl::DataLossError("stored spec is not JSON");
    return config.space->FromSpec(spec);
  }
};

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_COORDINATOR_RUNTIME_H_
