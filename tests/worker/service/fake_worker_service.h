// An in-process WorkerService on 127.0.0.1 that scripts the coordinator's
// answers and records every call, for the service-loop tests.
//
// Thread-safety: the hooks are set before the worker starts; Snapshot() and
// WaitFor() may be called from any thread while gRPC runs the handlers.
#ifndef CONVRNN_TESTS_WORKER_SERVICE_FAKE_WORKER_SERVICE_H_
#define CONVRNN_TESTS_WORKER_SERVICE_FAKE_WORKER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/convrnn.grpc.pb.h"

namespace convrnn {

struct FakeCalls {
  int registers = 0;
  int leases = 0;  // trials handed out
  int heartbeats = 0;
  std::vector<v1::ReportProgressRequest> reports;  // accepted ones
  std::vector<v1::CompleteTrialRequest> completes;
  std::vector<v1::FailTrialRequest> fails;
  std::vector<std::string> authorization;  // of every RegisterWorker
  std::vector<bool> can_score;             // of every LeaseTrial
  std::vector<v1::CompleteScoreRequest> score_completes;
  std::vector<v1::FailScoreRequest> score_fails;
};

class FakeWorkerService final : public v1::WorkerService::Service {
 public:
  struct Trial {
    int64_t trial_id = 1;
    int attempt = 1;
    std::string spec_json;
    std::string data_json;
    bool score = false;  // hand it out as a scoring job (JOB_KIND_SCORE)
    std::string neural_json;
  };

  // Handed out in order, once each; then LeaseTrial says "nothing, retry in 20 ms".
  void AddTrial(Trial t) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(t));
  }

  // Scripts (optional). A non-OK status is returned as is and the call is
  // not recorded.
  std::function<grpc::Status()> on_register;
  std::function<grpc::Status(const v1::LeaseTrialRequest&)> on_lease;
  std::function<grpc::Status(const v1::HeartbeatRequest&, v1::HeartbeatResponse*)> on_heartbeat;
  std::function<grpc::Status(const v1::ReportProgressRequest&, v1::ReportProgressResponse*)>
      on_report;
  std::function<grpc::Status(const v1::CompleteTrialRequest&)> on_complete;
  int64_t heartbeat_ms = 50;

  FakeCalls Snapshot() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Waits until pred(calls) holds; false on timeout.
  bool WaitFor(const std::function<bool(const FakeCalls&)>& pred,
               absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    auto cond = [&] { return pred(calls_); };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  }

  grpc::Status RegisterWorker(grpc::ServerContext* context, const v1::RegisterWorkerRequest*,
                              v1::RegisterWorkerResponse* response) override {
    if (on_register) {
      grpc::Status s = on_register();
      if (!s.ok()) return s;
    }
    absl::MutexLock lock(&mu_);
    ++calls_.registers;
    auto auth = context->client_metadata().find("authorization");
    calls_.authorization.push_back(auth == context->client_metadata().end()
                                       ? ""
                                       : std::string(auth->second.data(), auth->second.size()));
    response->set_worker_id(100 + calls_.registers);
    response->set_heartbeat_interval_ms(heartbeat_ms);
    return grpc::Status::OK;
  }

  grpc::Status LeaseTrial(grpc::ServerContext*, const v1::LeaseTrialRequest* request,
                          v1::LeaseTrialResponse* response) override {
    if (on_lease) {
      grpc::Status s = on_lease(*request);
      if (!s.ok()) return s;
    }
    absl::MutexLock lock(&mu_);
    calls_.can_score.push_back(request->can_score());
    if (queue_.empty()) {
      response->set_has_trial(false);
      response->set_retry_after_ms(20);
      return grpc::Status::OK;
    }
    Trial t = queue_.front();
    queue_.pop_front();
    ++calls_.leases;
    response->set_has_trial(true);
    response->set_trial_id(t.trial_id);
    response->set_campaign_id(1);
    response->set_attempt(t.attempt);
    response->set_lease_id(1000 + calls_.leases);
    response->set_spec_json(t.spec_json);
    response->set_data_json(t.data_json);
    response->set_neural_json(t.neural_json);
    if (t.score) {
      response->set_kind(v1::JOB_KIND_SCORE);
      response->set_score_id(500 + calls_.leases);
    }
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    if (on_heartbeat) {
      grpc::Status s = on_heartbeat(*request, response);
      if (!s.ok()) return s;
    }
    absl::MutexLock lock(&mu_);
    ++calls_.heartbeats;
    return grpc::Status::OK;
  }

  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest* request,
                              v1::ReportProgressResponse* response) override {
    response->set_decision(v1::ReportProgressResponse::DECISION_CONTINUE);
    if (on_report) {
      grpc::Status s = on_report(*request, response);
      if (!s.ok()) return s;
    }
    absl::MutexLock lock(&mu_);
    calls_.reports.push_back(*request);
    return grpc::Status::OK;
  }

  grpc::Status CompleteTrial(grpc::ServerContext*, const v1::CompleteTrialRequest* request,
                             v1::CompleteTrialResponse*) override {
    if (on_complete) {
      grpc::Status s = on_complete(*request);
      if (!s.ok()) return s;
    }
    absl::MutexLock lock(&mu_);
    calls_.completes.push_back(*request);
    return grpc::Status::OK;
  }

  grpc::Status FailTrial(grpc::ServerContext*, const v1::FailTrialRequest* request,
                         v1::FailTrialResponse* response) override {
    absl::MutexLock lock(&mu_);
    calls_.fails.push_back(*request);
    response->set_requeued(request->retryable());
    return grpc::Status::OK;
  }

  grpc::Status CompleteScore(grpc::ServerContext*, const v1::CompleteScoreRequest* request,
                             v1::CompleteScoreResponse*) override {
    absl::MutexLock lock(&mu_);
    calls_.score_completes.push_back(*request);
    return grpc::Status::OK;
  }

  grpc::Status FailScore(grpc::ServerContext*, const v1::FailScoreRequest* request,
                         v1::FailScoreResponse*) override {
    absl::MutexLock lock(&mu_);
    calls_.score_fails.push_back(*request);
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  std::deque<Trial> queue_ ABSL_GUARDED_BY(mu_);
  FakeCalls calls_ ABSL_GUARDED_BY(mu_);
};

// Serves `service` on 127.0.0.1:port (0: any free port).
class FakeServer {
 public:
  explicit FakeServer(FakeWorkerService* service, int port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() { Stop(); }
  void Stop() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_.reset();
  }
  bool ok() const { return server_ != nullptr && port_ > 0; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace convrnn

#endif  // CONVRNN_TESTS_WORKER_SERVICE_FAKE_WORKER_SERVICE_H_
