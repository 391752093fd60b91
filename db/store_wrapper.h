// A Store that forwards every call to another (leveldb's EnvWrapper): a
// test derives from it and overrides the one call it wants to fail or slow,
// or overrides Around, which every call passes through, to fail, delay or
// count any call by its method name.
//
// Thread-safety: as the target store.
#ifndef CONVRNN_DB_STORE_WRAPPER_H_
#define CONVRNN_DB_STORE_WRAPPER_H_

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/store.h"

namespace convrnn::db {

class StoreWrapper : public Store {
 public:
  // REQUIRES: `target` outlives the wrapper.
  explicit StoreWrapper(Store* target) : target_(target) {}
  Store* target() const { return target_; }

  absl::StatusOr<Campaign> CreateCampaign(const NewCampaign& campaign, int64_t now_us) override {
    return Forward("CreateCampaign", [&] { return target_->CreateCampaign(campaign, now_us); });
  }
  absl::StatusOr<std::optional<Campaign>> FindCampaignByRequest(
      absl::string_view request_id) override {
    return Forward("FindCampaignByRequest",
                   [&] { return target_->FindCampaignByRequest(request_id); });
  }
  absl::StatusOr<Campaign> GetCampaign(int64_t campaign_id) override {
    return Forward("GetCampaign", [&] { return target_->GetCampaign(campaign_id); });
  }
  absl::StatusOr<std::vector<Campaign>> ListCampaigns(int64_t before_id, int limit) override {
    return Forward("ListCampaigns", [&] { return target_->ListCampaigns(before_id, limit); });
  }
  absl::Status SetCampaignState(int64_t campaign_id, CampaignState state, int64_t now_us) override {
    return Forward("SetCampaignState",
                   [&] { return target_->SetCampaignState(campaign_id, state, now_us); });
  }
  absl::Status UpdateCampaignConfig(int64_t campaign_id, const std::string& config_json,
                                    std::optional<CampaignState> state,
                                    absl::string_view event_type, const std::string& payload_json,
                                    int64_t now_us) override {
    return Forward("UpdateCampaignConfig", [&] {
      return target_->UpdateCampaignConfig(campaign_id, config_json, state, event_type,
                                           payload_json, now_us);
    });
  }
  absl::StatusOr<Trial> InsertTrial(int64_t campaign_id, const std::string& spec_json,
                                    const std::string& params_json, int64_t now_us) override {
    return Forward("InsertTrial", [&] {
      return target_->InsertTrial(campaign_id, spec_json, params_json, now_us);
    });
  }
  absl::StatusOr<Trial> GetTrial(int64_t trial_id) override {
    return Forward("GetTrial", [&] { return target_->GetTrial(trial_id); });
  }
  absl::StatusOr<std::vector<Trial>> ListTrials(const TrialQuery& query) override {
    return Forward("ListTrials", [&] { return target_->ListTrials(query); });
  }
  absl::StatusOr<TrialCounts> CountTrials(int64_t campaign_id) override {
    return Forward("CountTrials", [&] { return target_->CountTrials(campaign_id); });
  }
  absl::StatusOr<std::vector<Trial>> TopTrials(int64_t campaign_id, absl::string_view metric,
                                               bool maximize, int k) override {
    return Forward("TopTrials",
                   [&] { return target_->TopTrials(campaign_id, metric, maximize, k); });
  }
  absl::StatusOr<std::vector<EpochReport>> ListEpochs(int64_t trial_id) override {
    return Forward("ListEpochs", [&] { return target_->ListEpochs(trial_id); });
  }
  absl::StatusOr<std::optional<Trial>> LeaseTrial(const LeaseRequest& request) override {
    return Forward("LeaseTrial", [&] { return target_->LeaseTrial(request); });
  }
  absl::Status MarkRunning(int64_t lease_token, int64_t now_us) override {
    return Forward("MarkRunning", [&] { return target_->MarkRunning(lease_token, now_us); });
  }
  absl::StatusOr<Trial> ExtendLease(int64_t lease_token, int64_t deadline_us,
                                    int64_t now_us) override {
    return Forward("ExtendLease",
                   [&] { return target_->ExtendLease(lease_token, deadline_us, now_us); });
  }
  absl::StatusOr<Trial> RecordEpoch(int64_t lease_token, int epoch, const std::string& metrics_json,
                                    int64_t deadline_us, int64_t now_us) override {
    return Forward("RecordEpoch", [&] {
      return target_->RecordEpoch(lease_token, epoch, metrics_json, deadline_us, now_us);
    });
  }
  absl::StatusOr<Trial> CompleteTrial(int64_t lease_token, const std::string& metrics_json,
                                      int64_t now_us) override {
    return Forward("CompleteTrial",
                   [&] { return target_->CompleteTrial(lease_token, metrics_json, now_us); });
  }
  absl::StatusOr<Trial> FailTrial(int64_t lease_token, absl::string_view reason, bool retryable,
                                  int64_t now_us) override {
    return Forward("FailTrial",
                   [&] { return target_->FailTrial(lease_token, reason, retryable, now_us); });
  }
  absl::StatusOr<Trial> PruneTrial(int64_t lease_token, absl::string_view reason,
                                   int64_t now_us) override {
    return Forward("PruneTrial", [&] { return target_->PruneTrial(lease_token, reason, now_us); });
  }
  absl::StatusOr<Trial> ReleaseLease(int64_t lease_token, absl::string_view reason,
                                     int64_t now_us) override {
    return Forward("ReleaseLease",
                   [&] { return target_->ReleaseLease(lease_token, reason, now_us); });
  }
  absl::StatusOr<std::vector<Trial>> ExpireLeases(int64_t now_us) override {
    return Forward("ExpireLeases", [&] { return target_->ExpireLeases(now_us); });
  }
  absl::StatusOr<int64_t> ExtendAllLeases(int64_t min_deadline_us, int64_t now_us) override {
    return Forward("ExtendAllLeases",
                   [&] { return target_->ExtendAllLeases(min_deadline_us, now_us); });
  }
  absl::StatusOr<Score> CreateScore(int64_t trial_id, const std::string& neural_json,
                                    int64_t now_us) override {
    return Forward("CreateScore",
                   [&] { return target_->CreateScore(trial_id, neural_json, now_us); });
  }
  absl::StatusOr<Score> GetScore(int64_t score_id) override {
    return Forward("GetScore", [&] { return target_->GetScore(score_id); });
  }
  absl::StatusOr<std::vector<Score>> ListScores(int64_t trial_id) override {
    return Forward("ListScores", [&] { return target_->ListScores(trial_id); });
  }
  absl::StatusOr<std::optional<Score>> LeaseScore(int64_t worker_id, int64_t now_us,
                                                  int64_t deadline_us) override {
    return Forward("LeaseScore",
                   [&] { return target_->LeaseScore(worker_id, now_us, deadline_us); });
  }
  absl::StatusOr<Score> ExtendScoreLease(int64_t lease_token, int64_t deadline_us,
                                         int64_t now_us) override {
    return Forward("ExtendScoreLease",
                   [&] { return target_->ExtendScoreLease(lease_token, deadline_us, now_us); });
  }
  absl::StatusOr<Score> CompleteScore(int64_t lease_token, const std::string& result_json,
                                      int64_t now_us) override {
    return Forward("CompleteScore",
                   [&] { return target_->CompleteScore(lease_token, result_json, now_us); });
  }
  absl::StatusOr<Score> FailScore(int64_t lease_token, absl::string_view reason, int error_code,
                                  int64_t now_us) override {
    return Forward("FailScore",
                   [&] { return target_->FailScore(lease_token, reason, error_code, now_us); });
  }
  absl::StatusOr<std::vector<Score>> ExpireScoreLeases(int64_t now_us) override {
    return Forward("ExpireScoreLeases", [&] { return target_->ExpireScoreLeases(now_us); });
  }
  absl::StatusOr<Worker> RegisterWorker(const Worker& worker, int64_t now_us) override {
    return Forward("RegisterWorker", [&] { return target_->RegisterWorker(worker, now_us); });
  }
  absl::Status TouchWorker(int64_t worker_id, int64_t now_us) override {
    return Forward("TouchWorker", [&] { return target_->TouchWorker(worker_id, now_us); });
  }
  absl::StatusOr<std::vector<Worker>> ListWorkers(int64_t seen_since_us) override {
    return Forward("ListWorkers", [&] { return target_->ListWorkers(seen_since_us); });
  }
  absl::StatusOr<int64_t> AppendEvent(const Event& event) override {
    return Forward("AppendEvent", [&] { return target_->AppendEvent(event); });
  }
  absl::StatusOr<std::vector<Event>> ListEvents(int64_t campaign_id, int64_t after_id,
                                                int limit) override {
    return Forward("ListEvents", [&] { return target_->ListEvents(campaign_id, after_id, limit); });
  }

 protected:
  // Every call passes through here by its method name ("CompleteTrial"):
  // `call` makes it on the target and returns its status. What this returns
  // is the call's status: an override may return another without calling
  // (a failure before the store), or after calling (a write that committed
  // but whose answer was lost). The default makes the call.
  virtual absl::Status Around(const char* method, const std::function<absl::Status()>& call) {
    (void)method;
    return call();
  }

 private:
  template <typename Call>
  auto Forward(const char* method, Call call) -> decltype(call()) {
    std::optional<decltype(call())> result;
    absl::Status status = Around(method, [&] {
      result.emplace(call());
      if constexpr (std::is_same_v<decltype(call()), absl::Status>) {
        return *result;
      } else {
        return result->status();
      }
    });
    if (!status.ok() || !result.has_value()) {
      return status.ok() ? absl::InternalError(absl::StrCat(method, ": Around made no call"))
                         : status;
    }
    return *std::move(result);
  }

  Store* const target_;
};

}  // namespace convrnn::db

#endif  // CONVRNN_DB_STORE_WRAPPER_H_
