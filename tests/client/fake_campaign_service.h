// An in-process CampaignService with canned data, for driving the real
// `convrnn` binary without a coordinator. It serves campaign 7 ("demo",
// five trials 101..105 whose list is paged two at a time), campaign 9 whose
// event stream reports COMPLETED and then stays open, campaign 11 whose
// stream drops after two events and resumes by event id, and records what the
// client sent (page tokens, authorization, launches).
//
// Thread-safety: handlers run on gRPC threads; recorded state is under mu_.
#ifndef CONVRNN_TESTS_CLIENT_FAKE_CAMPAIGN_SERVICE_H_
#define CONVRNN_TESTS_CLIENT_FAKE_CAMPAIGN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "proto/convrnn.grpc.pb.h"
#include "tests/client/test_specs.h"

namespace convrnn::client::testing {

namespace v1 = ::convrnn::v1;

class FakeCampaignService final : public v1::CampaignService::Service {
 public:
  static constexpr int kPageSize = 2;

  FakeCampaignService() {
    for (int i = 0; i < 5; ++i) {
      v1::Trial t;
      t.set_id(101 + i);
      t.set_campaign_id(7);
      t.set_number(i + 1);
      t.set_attempt(1);
      t.set_spec_json(i % 2 == 0 ? kFeedbackSpec : kSmallSpec);
      t.set_params_json(R"({"train.lr": 0.05})");
      if (i < 3) {
        t.set_state(v1::TRIAL_STATE_COMPLETED);
        (*t.mutable_final_metrics())["val_top1"] = 0.8 + 0.05 * i;
        (*t.mutable_final_metrics())["params"] = 10000 * (i + 1);
      } else if (i == 3) {
        t.set_state(v1::TRIAL_STATE_FAILED);
        t.set_failure_reason("loss became NaN, at epoch 1");
      } else {
        t.set_state(v1::TRIAL_STATE_RUNNING);
      }
      trials_.push_back(t);
    }
  }

  grpc::Status LaunchCampaign(grpc::ServerContext* ctx, const v1::LaunchCampaignRequest* req,
                              v1::LaunchCampaignResponse* resp) override {
    Record(ctx);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++launches_;
      launch_request_ids_.push_back(req->request_id());
      if (unavailable_launches_ > 0) {
        --unavailable_launches_;
        return {grpc::StatusCode::UNAVAILABLE, "injected: launch reply lost"};
      }
    }
    nlohmann::json doc = nlohmann::json::parse(req->campaign_json(), nullptr, false);
    if (doc.is_discarded() || !doc.contains("name")) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "name: required"};
    }
    *resp->mutable_campaign() = MakeCampaign(8, doc["name"].get<std::string>());
    resp->mutable_campaign()->set_campaign_json(req->campaign_json());
    return grpc::Status::OK;
  }

  grpc::Status ListCampaigns(grpc::ServerContext* ctx, const v1::ListCampaignsRequest*,
                             v1::ListCampaignsResponse* resp) override {
    Record(ctx);
    *resp->add_campaigns() = MakeCampaign(7, "demo");
    *resp->add_campaigns() = MakeCampaign(9, "finished");
    return grpc::Status::OK;
  }

  grpc::Status GetCampaign(grpc::ServerContext* ctx, const v1::GetCampaignRequest* req,
                           v1::Campaign* resp) override {
    Record(ctx);
    const int64_t id = req->campaign_id();
    if (id != 7 && id != 9 && id != 11) return NotFound("campaign", id);
    *resp = MakeCampaign(id, id == 7 ? "demo" : "finished");
    return grpc::Status::OK;
  }

  grpc::Status ListTrials(grpc::ServerContext* ctx, const v1::ListTrialsRequest* req,
                          v1::ListTrialsResponse* resp) override {
    Record(ctx);
    if (req->campaign_id() != 7) return NotFound("campaign", req->campaign_id());
    {
      std::lock_guard<std::mutex> lock(mu_);
      page_tokens_.push_back(req->page_token());
    }
    std::vector<v1::Trial> matching;
    for (const auto& t : trials_) {
      if (req->state() == v1::TRIAL_STATE_UNSPECIFIED || t.state() == req->state()) {
        matching.push_back(t);
      }
    }
    size_t start = req->page_token().empty() ? 0 : std::stoul(req->page_token());
    size_t end = std::min(matching.size(), start + kPageSize);
    for (size_t i = start; i < end; ++i) {
      v1::Trial* t = resp->add_trials();
      *t = matching[i];
      t->clear_epochs();
    }
    if (end < matching.size()) resp->set_next_page_token(std::to_string(end));
    return grpc::Status::OK;
  }

  grpc::Status GetTrial(grpc::ServerContext* ctx, const v1::GetTrialRequest* req,
                        v1::Trial* resp) override {
    Record(ctx);
    for (const auto& t : trials_) {
      if (t.id() == req->trial_id()) {
        *resp = t;
        v1::EpochMetrics* e = resp->add_epochs();
        e->set_epoch(1);
        e->set_attempt(1);
        (*e->mutable_metrics())["val_top1"] = 0.75;
        return grpc::Status::OK;
      }
    }
    return NotFound("trial", req->trial_id());
  }

  grpc::Status WatchCampaign(grpc::ServerContext* ctx, const v1::WatchCampaignRequest* req,
                             grpc::ServerWriter<v1::CampaignEvent>* writer) override {
    Record(ctx);
    if (req->campaign_id() == 11) {
      // Drops the stream after two events, as a restarting server would.
      for (const auto& e : Events(9)) {
        if (e.id() <= req->after_event_id()) continue;
        writer->Write(e);
        if (e.id() == 2) return {grpc::StatusCode::UNAVAILABLE, "server shutting down"};
      }
      return grpc::Status::OK;
    }
    if (req->campaign_id() != 7 && req->campaign_id() != 9) {
      return NotFound("campaign", req->campaign_id());
    }
    for (const auto& e : Events(req->campaign_id())) writer->Write(e);
    if (req->campaign_id() == 9) {
      // Says COMPLETED, then keeps the stream open: the client must leave on its own.
      for (int i = 0; i < 200 && !ctx->IsCancelled(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status StopCampaign(grpc::ServerContext* ctx, const v1::StopCampaignRequest* req,
                            v1::Campaign* resp) override {
    Record(ctx);
    if (req->campaign_id() != 7) return NotFound("campaign", req->campaign_id());
    *resp = MakeCampaign(7, "demo");
    resp->set_state(v1::CAMPAIGN_STATE_STOPPED);
    return grpc::Status::OK;
  }

  grpc::Status ResumeCampaign(grpc::ServerContext* ctx, const v1::ResumeCampaignRequest* req,
                              v1::Campaign* resp) override {
    Record(ctx);
    if (req->campaign_id() != 7) return NotFound("campaign", req->campaign_id());
    *resp = MakeCampaign(7, "demo");
    return grpc::Status::OK;
  }

  grpc::Status Best(grpc::ServerContext* ctx, const v1::BestRequest* req,
                    v1::BestResponse* resp) override {
    Record(ctx);
    if (req->campaign_id() != 7) return NotFound("campaign", req->campaign_id());
    resp->set_metric(req->metric().empty() ? "val_top1" : req->metric());
    resp->set_goal("max");
    const int k = req->top_k() == 0 ? 10 : req->top_k();
    for (int i = 2; i >= 0 && resp->trials_size() < k; --i) *resp->add_trials() = trials_[i];
    return grpc::Status::OK;
  }

  grpc::Status Pareto(grpc::ServerContext* ctx, const v1::ParetoRequest* req,
                      v1::ParetoResponse* resp) override {
    Record(ctx);
    if (req->campaign_id() != 7) return NotFound("campaign", req->campaign_id());
    resp->add_objectives("val_top1:max");
    resp->add_objectives("params:min");
    *resp->add_trials() = trials_[2];
    *resp->add_trials() = trials_[0];
    return grpc::Status::OK;
  }

  // JSON from the server; CSV left to the client's fallback.
  grpc::Status Export(grpc::ServerContext* ctx, const v1::ExportRequest* req,
                      v1::ExportResponse* resp) override {
    Record(ctx);
    if (req->format() == "csv") return {grpc::StatusCode::UNIMPLEMENTED, "no csv here"};
    resp->set_content_type("application/json");
    resp->set_content("[{\"from\": \"server\"}]\n");
    return grpc::Status::OK;
  }

  grpc::Status ListWorkers(grpc::ServerContext* ctx, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse* resp) override {
    Record(ctx);
    v1::Worker* w = resp->add_workers();
    w->set_id(1);
    w->set_hostname("gpu-box");
    w->set_pid(4242);
    w->set_device("cuda:0");
    w->set_current_trial_id(105);
    return grpc::Status::OK;
  }

  // The events of `campaign_id` as the stream sends them.
  static std::vector<v1::CampaignEvent> Events(int64_t campaign_id) {
    std::vector<v1::CampaignEvent> events;
    auto add = [&](v1::EventType type, int64_t trial, v1::TrialState state) -> v1::CampaignEvent& {
      v1::CampaignEvent e;
      e.set_id(events.size() + 1);
      e.set_campaign_id(campaign_id);
      e.set_type(type);
      e.set_trial_id(trial);
      e.set_trial_state(state);
      e.set_attempt(1);
      e.set_time_unix_us(1700000000000000LL + 1000000LL * events.size());
      events.push_back(e);
      return events.back();
    };
    add(v1::EVENT_TYPE_TRIAL_CREATED, 101, v1::TRIAL_STATE_PENDING);
    add(v1::EVENT_TYPE_TRIAL_LEASED, 101, v1::TRIAL_STATE_LEASED);
    auto& p = add(v1::EVENT_TYPE_TRIAL_PROGRESS, 101, v1::TRIAL_STATE_RUNNING);
    p.set_epoch(1);
    (*p.mutable_metrics())["val_top1"] = 0.6;
    auto& c = add(v1::EVENT_TYPE_TRIAL_COMPLETED, 101, v1::TRIAL_STATE_COMPLETED);
    (*c.mutable_metrics())["val_top1"] = 0.8;
    if (campaign_id == 9) {
      auto& end = add(v1::EVENT_TYPE_CAMPAIGN_STATE, 0, v1::TRIAL_STATE_UNSPECIFIED);
      end.set_campaign_state(v1::CAMPAIGN_STATE_COMPLETED);
    }
    return events;
  }

  // Scoring: trial 101 is scored (LEASED at the first poll, then COMPLETED),
  // trial 102's job fails on the worker (a malformed file); any other trial
  // that exists is not COMPLETED.
  grpc::Status ScoreTrial(grpc::ServerContext* ctx, const v1::ScoreTrialRequest* req,
                          v1::NeuralScore* resp) override {
    Record(ctx);
    if (req->trial_id() != 101 && req->trial_id() != 102) {
      for (const auto& t : trials_) {
        if (t.id() == req->trial_id()) {
          return {grpc::StatusCode::FAILED_PRECONDITION,
                  "trial " + std::to_string(t.id()) +
                      " is RUNNING; only a COMPLETED trial can be scored"};
        }
      }
      return NotFound("trial", req->trial_id());
    }
    std::lock_guard<std::mutex> lock(mu_);
    neural_json_ = req->neural_json();
    resp->set_id(req->trial_id() - 100);
    resp->set_trial_id(req->trial_id());
    resp->set_state(v1::SCORE_STATE_PENDING);
    resp->set_neural_json(req->neural_json());
    return grpc::Status::OK;
  }

  grpc::Status GetScore(grpc::ServerContext* ctx, const v1::GetScoreRequest* req,
                        v1::NeuralScore* resp) override {
    Record(ctx);
    std::lock_guard<std::mutex> lock(mu_);
    resp->set_id(req->score_id());
    resp->set_trial_id(100 + req->score_id());
    resp->set_neural_json(neural_json_);
    resp->set_worker_id(3);
    if (req->score_id() == 2) {
      resp->set_state(v1::SCORE_STATE_FAILED);
      resp->set_error("/data/garbage.h5: not an HDF5 file (see docs/neural-data.md)");
      resp->set_error_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
    } else if (++score_polls_ == 1) {
      resp->set_state(v1::SCORE_STATE_LEASED);
    } else {
      resp->set_state(v1::SCORE_STATE_COMPLETED);
      resp->set_result_json(
          R"({"method":"ridge","data":"8 images","layers":[0,1],"bin_steps":[0],)"
          R"("bin_start_ms":[70],"median_r":0.4,"median_normalized":0.5,"seconds":0.2,)"
          R"("regions":[{"region":"IT","sites":4,"best_layer":1,"median_r":0.4,)"
          R"("median_normalized":0.5,"median_ceiling":0.6,"bin_median_r":[0.4],)"
          R"("bin_median_normalized":[0.5],"bin_median_ceiling":[0.6],"layer_median_r":[0.1,0.4]}]})");
    }
    return grpc::Status::OK;
  }

  std::string neural_json() {
    std::lock_guard<std::mutex> lock(mu_);
    return neural_json_;
  }

  std::vector<std::string> page_tokens() {
    std::lock_guard<std::mutex> lock(mu_);
    return page_tokens_;
  }
  std::string last_authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return authorization_;
  }
  int launches() {
    std::lock_guard<std::mutex> lock(mu_);
    return launches_;
  }
  // The request id of every LaunchCampaign, in order.
  std::vector<std::string> launch_request_ids() {
    std::lock_guard<std::mutex> lock(mu_);
    return launch_request_ids_;
  }
  // The next `n` LaunchCampaign calls answer UNAVAILABLE (a reply lost).
  void FailLaunches(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    unavailable_launches_ = n;
  }

 private:
  static grpc::Status NotFound(const char* what, int64_t id) {
    return {grpc::StatusCode::NOT_FOUND,
            std::string(what) + " " + std::to_string(id) + " not found"};
  }

  static v1::Campaign MakeCampaign(int64_t id, const std::string& name) {
    v1::Campaign c;
    c.set_id(id);
    c.set_name(name);
    c.set_state(id == 9 ? v1::CAMPAIGN_STATE_COMPLETED : v1::CAMPAIGN_STATE_RUNNING);
    c.set_campaign_json(R"({"name": ")" + name +
                        R"(", "search": {"algorithm": "random", "max_trials": 5}})");
    v1::TrialCounts* n = c.mutable_counts();
    n->set_completed(3);
    n->set_failed(1);
    n->set_running(1);
    n->set_total(5);
    c.set_created_unix_us(1700000000000000LL);
    return c;
  }

  void Record(grpc::ServerContext* ctx) {
    auto it = ctx->client_metadata().find("authorization");
    std::lock_guard<std::mutex> lock(mu_);
    authorization_ =
        it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
  }

  std::vector<v1::Trial> trials_;  // immutable after construction
  std::mutex mu_;
  std::vector<std::string> page_tokens_;         // guarded by mu_
  std::string authorization_;                    // guarded by mu_
  int launches_ = 0;                             // guarded by mu_
  std::vector<std::string> launch_request_ids_;  // guarded by mu_
  int unavailable_launches_ = 0;                 // guarded by mu_
  std::string neural_json_;                      // guarded by mu_: the last ScoreTrial's
  int score_polls_ = 0;                          // guarded by mu_
};

// Runs a FakeCampaignService on 127.0.0.1, on `port` (0: one the kernel picks).
class FakeServer {
 public:
  explicit FakeServer(int port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2)); }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  FakeCampaignService& service() { return service_; }

 private:
  FakeCampaignService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace convrnn::client::testing

#endif  // CONVRNN_TESTS_CLIENT_FAKE_CAMPAIGN_SERVICE_H_
