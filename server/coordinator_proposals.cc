// The coordinator's proposals: trials sampled ahead of the leases that store
// them, so a lease is one write and never waits for a sampler (see
// CoordinatorOptions::proposals_ahead).
#include <algorithm>
#include <utility>

#include "server/coordinator.h"
#include "server/coordinator_runtime.h"
#include "util/stage_stats.h"
#include "util/status_macros.h"

namespace convrnn::server {

absl::StatusOr<std::optional<Coordinator::Proposal>> Coordinator::Propose(CampaignRuntime& rt,
                                                                          int64_t now_us) {
  static StageHistogram& lock_stage = Stage("coord.propose.campaign_lock");
  static StageHistogram& sample_stage = Stage("coord.propose.sample");
  StageTimer lock_time(lock_stage);
  absl::MutexLock lock(&rt.mu);
  lock_time.Stop();
  rt.DrainFinished();
  if (rt.state != db::CampaignState::kRunning || rt.sampler == nullptr) return std::nullopt;
  StageTimer sample_time(sample_stage);
  absl::StatusOr<search::Suggestion> suggested = rt.sampler->Suggest(rt.history);
  if (!suggested.ok()) {
    if (suggested.status().code() != absl::StatusCode::kFailedPrecondition) {
      return suggested.status();
    }
    // The space cannot produce a valid trial: the campaign cannot go on.
    RETURN_IF_ERROR(store_.SetCampaignState(rt.id, db::CampaignState::kFailed, now_us));
    rt.state = db::CampaignState::kFailed;
    NotifyEvents();
    return std::nullopt;
  }
  Proposal proposal;
  proposal.provisional_id = rt.next_provisional_id--;
  proposal.spec_json = suggested->spec.dump();
  proposal.params_json = rt.config.space->ToJson(suggested->assignment).dump();
  rt.history.AddPending(proposal.provisional_id, std::move(suggested->assignment));
  return std::optional<Proposal>(std::move(proposal));
}

absl::StatusOr<std::optional<Coordinator::Proposal>> Coordinator::TakeProposal(CampaignRuntime& rt,
                                                                               int64_t now_us) {
  {
    absl::MutexLock admit(&rt.admit_mu);
    if (rt.total_trials >= rt.config.max_trials || rt.unfinished_trials >= rt.config.max_parallel) {
      return std::nullopt;
    }
    // Reserved until the insert is written; ReturnProposal gives it back.
    ++rt.total_trials;
    ++rt.unfinished_trials;
    if (!rt.ready.empty()) {
      Proposal proposal = std::move(rt.ready.front());
      rt.ready.pop_front();
      WakeProposer();
      return std::optional<Proposal>(std::move(proposal));
    }
  }
  absl::StatusOr<std::optional<Proposal>> made = Propose(rt, now_us);
  if (!made.ok() || !made->has_value()) {
    absl::MutexLock admit(&rt.admit_mu);
    --rt.total_trials;
    --rt.unfinished_trials;
  }
  WakeProposer();
  return made;
}

void Coordinator::ReturnProposal(CampaignRuntime& rt, Proposal proposal) {
  absl::MutexLock admit(&rt.admit_mu);
  --rt.total_trials;
  --rt.unfinished_trials;
  rt.ready.push_front(std::move(proposal));
}

void Coordinator::TopUpProposals(CampaignRuntime& rt) {
  {
    absl::MutexLock lock(&rt.mu);
    rt.DrainFinished();  // keeps the history current while the queue is full
  }
  while (rt.state.load() == db::CampaignState::kRunning) {
    {
      absl::MutexLock admit(&rt.admit_mu);
      const int64_t room = std::min<int64_t>({int64_t{options_.proposals_ahead},
                                              rt.config.max_parallel - rt.unfinished_trials,
                                              rt.config.max_trials - rt.total_trials});
      if (static_cast<int64_t>(rt.ready.size()) >= room) return;
    }
    absl::StatusOr<std::optional<Proposal>> made = Propose(rt, clock_.NowMicros());
    if (!made.ok() || !made->has_value()) return;  // a lease meets the error itself
    absl::MutexLock admit(&rt.admit_mu);
    rt.ready.push_back(**std::move(made));
  }
}

void Coordinator::WakeProposer() {
  absl::MutexLock lock(&proposer_mu_);
  proposer_wake_ = true;
}

void Coordinator::ProposerLoop() {
  while (!stop_reaper_.HasBeenNotified()) {
    {
      // Woken by every lease that takes a proposal; the timeout is a
      // backstop (a campaign launched or resumed fills on its first lease).
      absl::MutexLock lock(&proposer_mu_);
      proposer_mu_.AwaitWithTimeout(absl::Condition(&proposer_wake_), absl::Milliseconds(200));
      proposer_wake_ = false;
    }
    std::vector<std::shared_ptr<CampaignRuntime>> running;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, rt] : campaigns_) {
        if (rt->state.load() == db::CampaignState::kRunning) running.push_back(rt);
      }
    }
    for (const std::shared_ptr<CampaignRuntime>& rt : running) TopUpProposals(*rt);
  }
}

}  // namespace convrnn::server
