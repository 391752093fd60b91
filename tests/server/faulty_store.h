// A store that fails chosen calls on purpose (leveldb's SpecialEnv): wraps a
// real store and, per method name, fails the next N calls before they reach
// it, or lets them reach it and then reports a failure (a write that
// committed but whose answer was lost).
//
// Thread-safety: safe to share between threads, like the store it wraps.
#ifndef CONVRNN_TESTS_SERVER_FAULTY_STORE_H_
#define CONVRNN_TESTS_SERVER_FAULTY_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/store_wrapper.h"

namespace convrnn::db::testing {

class FaultyStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;

  // The next `times` calls of `method` (e.g. "SetCampaignState") return
  // `status` without reaching the store.
  void FailBefore(const std::string& method, absl::Status status, int times = 1) {
    absl::MutexLock lock(&mu_);
    faults_[method] = Fault{std::move(status), times, /*after=*/false};
  }
  // The next `times` calls of `method` reach the store, then return `status`.
  void FailAfter(const std::string& method, absl::Status status, int times = 1) {
    absl::MutexLock lock(&mu_);
    faults_[method] = Fault{std::move(status), times, /*after=*/true};
  }
  // Drops every fault not yet applied.
  void Clear() {
    absl::MutexLock lock(&mu_);
    faults_.clear();
  }
  // Calls of `method` so far, failed ones included.
  int calls(const std::string& method) {
    absl::MutexLock lock(&mu_);
    return calls_[method];
  }

  absl::StatusOr<Campaign> CreateCampaign(const NewCampaign& campaign, int64_t now_us) override {
    return Call("CreateCampaign", [&] { return StoreWrapper::CreateCampaign(campaign, now_us); });
  }
  absl::StatusOr<Campaign> GetCampaign(int64_t campaign_id) override {
    return Call("GetCampaign", [&] { return StoreWrapper::GetCampaign(campaign_id); });
  }
  absl::StatusOr<std::vector<Campaign>> ListCampaigns(int64_t before_id, int limit) override {
    return Call("ListCampaigns", [&] { return StoreWrapper::ListCampaigns(before_id, limit); });
  }
  absl::Status SetCampaignState(int64_t campaign_id, CampaignState state, int64_t now_us) override {
    return Call("SetCampaignState",
                [&] { return StoreWrapper::SetCampaignState(campaign_id, state, now_us); });
  }
  absl::StatusOr<Trial> InsertTrial(int64_t campaign_id, const std::string& spec_json,
                                    const std::string& params_json, int64_t now_us) override {
    return Call("InsertTrial", [&] {
      return StoreWrapper::InsertTrial(campaign_id, spec_json, params_json, now_us);
    });
  }
  absl::StatusOr<Trial> GetTrial(int64_t trial_id) override {
    return Call("GetTrial", [&] { return StoreWrapper::GetTrial(trial_id); });
  }
  absl::StatusOr<std::vector<Trial>> ListTrials(const TrialQuery& query) override {
    return Call("ListTrials", [&] { return StoreWrapper::ListTrials(query); });
  }
  absl::StatusOr<TrialCounts> CountTrials(int64_t campaign_id) override {
    return Call("CountTrials", [&] { return StoreWrapper::CountTrials(campaign_id); });
  }
  absl::StatusOr<std::vector<Trial>> TopTrials(int64_t campaign_id, absl::string_view metric,
                                               bool maximize, int k) override {
    return Call("TopTrials",
                [&] { return StoreWrapper::TopTrials(campaign_id, metric, maximize, k); });
  }
  absl::StatusOr<std::vector<EpochReport>> ListEpochs(int64_t trial_id) override {
    return Call("ListEpochs", [&] { return StoreWrapper::ListEpochs(trial_id); });
  }
  absl::StatusOr<std::optional<Trial>> LeaseTrial(const LeaseRequest& request) override {
    return Call("LeaseTrial", [&] { return StoreWrapper::LeaseTrial(request); });
  }
  absl::Status MarkRunning(int64_t lease_token, int64_t now_us) override {
    return Call("MarkRunning", [&] { return StoreWrapper::MarkRunning(lease_token, now_us); });
  }
  absl::StatusOr<Trial> ExtendLease(int64_t lease_token, int64_t deadline_us,
                                    int64_t now_us) override {
    return Call("ExtendLease",
                [&] { return StoreWrapper::ExtendLease(lease_token, deadline_us, now_us); });
  }
  absl::StatusOr<Trial> RecordEpoch(int64_t lease_token, int epoch, const std::string& metrics_json,
                                    int64_t deadline_us, int64_t now_us) override {
    return Call("RecordEpoch", [&] {
      return StoreWrapper::RecordEpoch(lease_token, epoch, metrics_json, deadline_us, now_us);
    });
  }
  absl::StatusOr<Trial> CompleteTrial(int64_t lease_token, const std::string& metrics_json,
                                      int64_t now_us) override {
    return Call("CompleteTrial",
                [&] { return StoreWrapper::CompleteTrial(lease_token, metrics_json, now_us); });
  }
  absl::StatusOr<Trial> FailTrial(int64_t lease_token, absl::string_view reason, bool retryable,
                                  int64_t now_us) override {
    return Call("FailTrial",
                [&] { return StoreWrapper::FailTrial(lease_token, reason, retryable, now_us); });
  }
  absl::StatusOr<Trial> PruneTrial(int64_t lease_token, absl::string_view reason,
                                   int64_t now_us) override {
    return Call("PruneTrial",
                [&] { return StoreWrapper::PruneTrial(lease_token, reason, now_us); });
  }
  absl::StatusOr<Trial> ReleaseLease(int64_t lease_token, absl::string_view reason,
                                     int64_t now_us) override {
    return Call("ReleaseLease",
                [&] { return StoreWrapper::ReleaseLease(lease_token, reason, now_us); });
  }
  absl::StatusOr<std::vector<Trial>> ExpireLeases(int64_t now_us) override {
    return Call("ExpireLeases", [&] { return StoreWrapper::ExpireLeases(now_us); });
  }
  absl::StatusOr<int64_t> ExtendAllLeases(int64_t min_deadline_us, int64_t now_us) override {
    return Call("ExtendAllLeases",
                [&] { return StoreWrapper::ExtendAllLeases(min_deadline_us, now_us); });
  }
  absl::StatusOr<Score> CreateScore(int64_t trial_id, const std::string& neural_json,
                                    int64_t now_us) override {
    return Call("CreateScore",
                [&] { return StoreWrapper::CreateScore(trial_id, neural_json, now_us); });
  }
  absl::StatusOr<Score> GetScore(int64_t score_id) override {
    return Call("GetScore", [&] { return StoreWrapper::GetScore(score_id); });
  }
  absl::StatusOr<std::vector<Score>> ListScores(int64_t trial_id) override {
    return Call("ListScores", [&] { return StoreWrapper::ListScores(trial_id); });
  }
  absl::StatusOr<std::optional<Score>> LeaseScore(int64_t worker_id, int64_t now_us,
                                                  int64_t deadline_us) override {
    return Call("LeaseScore",
                [&] { return StoreWrapper::LeaseScore(worker_id, now_us, deadline_us); });
  }
  absl::StatusOr<Score> ExtendScoreLease(int64_t lease_token, int64_t deadline_us,
                                         int64_t now_us) override {
    return Call("ExtendScoreLease",
                [&] { return StoreWrapper::ExtendScoreLease(lease_token, deadline_us, now_us); });
  }
  absl::StatusOr<Score> CompleteScore(int64_t lease_token, const std::string& result_json,
                                      int64_t now_us) override {
    return Call("CompleteScore",
                [&] { return StoreWrapper::CompleteScore(lease_token, result_json, now_us); });
  }
  absl::StatusOr<Score> FailScore(int64_t lease_token, absl::string_view reason, int error_code,
                                  int64_t now_us) override {
    return Call("FailScore",
                [&] { return StoreWrapper::FailScore(lease_token, reason, error_code, now_us); });
  }
  absl::StatusOr<std::vector<Score>> ExpireScoreLeases(int64_t now_us) override {
    return Call("ExpireScoreLeases", [&] { return StoreWrapper::ExpireScoreLeases(now_us); });
  }
  absl::StatusOr<Worker> RegisterWorker(const Worker& worker, int64_t now_us) override {
    return Call("RegisterWorker", [&] { return StoreWrapper::RegisterWorker(worker, now_us); });
  }
  absl::Status TouchWorker(int64_t worker_id, int64_t now_us) override {
    return Call("TouchWorker", [&] { return StoreWrapper::TouchWorker(worker_id, now_us); });
  }
  absl::StatusOr<std::vector<Worker>> ListWorkers(int64_t seen_since_us) override {
    return Call("ListWorkers", [&] { return StoreWrapper::ListWorkers(seen_since_us); });
  }
  absl::StatusOr<int64_t> AppendEvent(const Event& event) override {
    return Call("AppendEvent", [&] { return StoreWrapper::AppendEvent(event); });
  }
  absl::StatusOr<std::vector<Event>> ListEvents(int64_t campaign_id, int64_t after_id,
                                                int limit) override {
    return Call("ListEvents",
                [&] { return StoreWrapper::ListEvents(campaign_id, after_id, limit); });
  }

 private:
  struct Fault {
    absl::Status status;
    int times = 0;
    bool after = false;
  };

  // The fault to apply to this call of `method`, if any.
  std::optional<Fault> Take(const std::string& method) {
    absl::MutexLock lock(&mu_);
    ++calls_[method];
    auto it = faults_.find(method);
    if (it == faults_.end() || it->second.times == 0) return std::nullopt;
    --it->second.times;
    return it->second;
  }

  template <typename Forward>
  auto Call(const std::string& method, Forward forward) -> decltype(forward()) {
    std::optional<Fault> fault = Take(method);
    if (!fault.has_value()) return forward();
    if (fault->after) (void)forward();
    return fault->status;
  }

  absl::Mutex mu_;
  std::map<std::string, Fault> faults_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace convrnn::db::testing

#endif  // CONVRNN_TESTS_SERVER_FAULTY_STORE_H_
