// The gRPC services in process on loopback, through the generated stubs:
// a full lease -> progress -> complete cycle, token authentication and a
// WatchCampaign stream.
#include "server/service.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "proto/convrnn.grpc.pb.h"
#include "server/server.h"
#include "tests/server/in_process_server.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

int64_t LaunchOne(InProcessServer& s, const std::string& token = "") {
  v1::LaunchCampaignRequest request;
  request.set_campaign_json(SmallCampaign({{"search", {{"max_trials", 1}}}}).dump());
  v1::LaunchCampaignResponse response;
  grpc::Status status = s.campaigns->LaunchCampaign(s.Context(token).get(), request, &response);
  INFO(status.error_message());
  REQUIRE(status.ok());
  CHECK(response.campaign().state() == v1::CAMPAIGN_STATE_RUNNING);
  return response.campaign().id();
}

TEST_CASE("a worker leases, reports and completes a trial through the stubs", "[server]") {
  InProcessServer s;
  const int64_t campaign = LaunchOne(s);

  v1::RegisterWorkerRequest reg;
  reg.set_hostname("gpu-box");
  reg.set_pid(42);
  reg.set_device("cpu");
  v1::RegisterWorkerResponse worker;
  REQUIRE(s.workers->RegisterWorker(s.Context().get(), reg, &worker).ok());
  CHECK(worker.worker_id() > 0);
  CHECK(worker.heartbeat_interval_ms() > 0);

  v1::LeaseTrialRequest lease_request;
  lease_request.set_worker_id(worker.worker_id());
  v1::LeaseTrialResponse lease;
  REQUIRE(s.workers->LeaseTrial(s.Context().get(), lease_request, &lease).ok());
  REQUIRE(lease.has_trial());
  CHECK(lease.campaign_id() == campaign);
  CHECK(lease.attempt() == 1);
  CHECK(lease.lease_id() > 0);
  CHECK(lease.heartbeat_interval_ms() <= 10'000 / 3);
  CHECK(nlohmann::json::parse(lease.spec_json()).contains("layers"));
  CHECK(nlohmann::json::parse(lease.data_json())["dataset"] == "fashion-mnist");
  CHECK(lease.lease_deadline_unix_us() == s.clock.NowMicros() + 10 * kSecond);

  v1::HeartbeatRequest beat;
  beat.set_worker_id(worker.worker_id());
  beat.set_lease_id(lease.lease_id());
  v1::HeartbeatResponse beat_response;
  REQUIRE(s.workers->Heartbeat(s.Context().get(), beat, &beat_response).ok());
  CHECK_FALSE(beat_response.lease_lost());

  v1::ReportProgressRequest progress;
  progress.set_worker_id(worker.worker_id());
  progress.set_lease_id(lease.lease_id());
  progress.set_epoch(1);
  (*progress.mutable_metrics())["val_top1"] = 0.42;
  (*progress.mutable_metrics())["train_loss"] = 1.5;
  v1::ReportProgressResponse decision;
  REQUIRE(s.workers->ReportProgress(s.Context().get(), progress, &decision).ok());
  CHECK(decision.decision() == v1::ReportProgressResponse::DECISION_CONTINUE);

  v1::CompleteTrialRequest complete;
  complete.set_worker_id(worker.worker_id());
  complete.set_lease_id(lease.lease_id());
  (*complete.mutable_final_metrics())["val_top1"] = 0.5;
  v1::CompleteTrialResponse done;
  REQUIRE(s.workers->CompleteTrial(s.Context().get(), complete, &done).ok());
  CHECK_FALSE(done.already_completed());
  // A retried completion is acknowledged as such.
  REQUIRE(s.workers->CompleteTrial(s.Context().get(), complete, &done).ok());
  CHECK(done.already_completed());
  // A report on the finished lease is refused.
  grpc::Status stale = s.workers->ReportProgress(s.Context().get(), progress, &decision);
  CHECK(stale.error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  v1::GetTrialRequest get_trial;
  get_trial.set_trial_id(lease.trial_id());
  v1::Trial trial;
  REQUIRE(s.campaigns->GetTrial(s.Context().get(), get_trial, &trial).ok());
  CHECK(trial.state() == v1::TRIAL_STATE_COMPLETED);
  CHECK(trial.final_metrics().at("val_top1") == 0.5);
  CHECK(trial.final_metrics().at("params") > 0);  // estimated by the server
  REQUIRE(trial.epochs_size() == 1);
  CHECK(trial.epochs(0).metrics().at("train_loss") == 1.5);

  v1::GetCampaignRequest get_campaign;
  get_campaign.set_campaign_id(campaign);
  v1::Campaign c;
  REQUIRE(s.campaigns->GetCampaign(s.Context().get(), get_campaign, &c).ok());
  CHECK(c.state() == v1::CAMPAIGN_STATE_COMPLETED);
  CHECK(c.counts().completed() == 1);
  CHECK(c.counts().total() == 1);

  v1::BestRequest best;
  best.set_campaign_id(campaign);
  v1::BestResponse ranked;
  REQUIRE(s.campaigns->Best(s.Context().get(), best, &ranked).ok());
  CHECK(ranked.metric() == "val_top1");
  CHECK(ranked.goal() == "max");
  CHECK(ranked.trials_size() == 1);

  v1::ListWorkersRequest list_workers;
  v1::ListWorkersResponse listed;
  REQUIRE(s.campaigns->ListWorkers(s.Context().get(), list_workers, &listed).ok());
  REQUIRE(listed.workers_size() == 1);
  CHECK(listed.workers(0).hostname() == "gpu-box");
}

// grpc.health.v1.Health/Check for the whole server (an empty request),
// through the generic stub so the test needs no health proto. Returns the
// status and the raw response (08 01 is SERVING).
std::pair<grpc::Status, std::string> HealthCheck(InProcessServer& s) {
  grpc::GenericStub stub(s.channel);
  grpc::Slice empty("", 0);
  grpc::ByteBuffer request(&empty, 1);  // an empty HealthCheckRequest
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  auto context = s.Context();
  stub.UnaryCall(context.get(), "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (status.ok() && response.Dump(&slices).ok()) {
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return {status, bytes};
}

TEST_CASE("the health service answers SERVING, without a token", "[server]") {
  InProcessServer s("s3cret");
  auto [status, bytes] = HealthCheck(s);
  INFO(status.error_message());
  REQUIRE(status.ok());
  CHECK(bytes == std::string("\x08\x01", 2));
}

TEST_CASE("errors keep their codes across the wire", "[server]") {
  InProcessServer s;
  v1::LaunchCampaignRequest bad;
  bad.set_campaign_json(R"({"name": "x"})");
  v1::LaunchCampaignResponse response;
  grpc::Status status = s.campaigns->LaunchCampaign(s.Context().get(), bad, &response);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(status.error_message(), Catch::StartsWith("search: is required"));

  v1::GetCampaignRequest missing;
  missing.set_campaign_id(77);
  v1::Campaign c;
  CHECK(s.campaigns->GetCampaign(s.Context().get(), missing, &c).error_code() ==
        grpc::StatusCode::NOT_FOUND);

  v1::ListCampaignsRequest page;
  page.set_page_token("garbage");
  v1::ListCampaignsResponse campaigns;
  CHECK(s.campaigns->ListCampaigns(s.Context().get(), page, &campaigns).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("with a token, calls without it are UNAUTHENTICATED", "[server]") {
  InProcessServer s("s3cret");
  v1::ListCampaignsRequest request;
  v1::ListCampaignsResponse response;
  grpc::Status none = s.campaigns->ListCampaigns(s.Context().get(), request, &response);
  CHECK(none.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status wrong = s.campaigns->ListCampaigns(s.Context("guess").get(), request, &response);
  CHECK(wrong.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  v1::RegisterWorkerRequest reg;
  v1::RegisterWorkerResponse worker;
  CHECK(s.workers->RegisterWorker(s.Context().get(), reg, &worker).error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  auto [context, reader] = s.OpenWatch(/*campaign_id=*/1);
  v1::CampaignEvent event;
  CHECK_FALSE(reader->Read(&event));
  CHECK(reader->Finish().error_code() == grpc::StatusCode::UNAUTHENTICATED);

  CHECK(s.campaigns->ListCampaigns(s.Context("s3cret").get(), request, &response).ok());
  LaunchOne(s, "s3cret");
}

TEST_CASE("WatchCampaign streams events live and ends with the campaign", "[server]") {
  InProcessServer s;
  const int64_t campaign = LaunchOne(s);
  Coordinator& coordinator = s.server->coordinator();

  auto [context, reader] = s.OpenWatch(campaign);
  v1::CampaignEvent event;
  // The history first: the launch.
  REQUIRE(reader->Read(&event));
  CHECK(event.type() == v1::EVENT_TYPE_CAMPAIGN_STATE);
  CHECK(event.campaign_state() == v1::CAMPAIGN_STATE_RUNNING);
  const int64_t launch_event = event.id();

  // Then what happens while the stream is open.
  db::Worker w;
  w.hostname = "h";
  const int64_t worker = Must(coordinator.RegisterWorker(w)).worker_id;
  LeaseGrant grant = Must(coordinator.LeaseTrial(worker));
  REQUIRE(grant.has_trial);
  Must(coordinator.ReportProgress(worker, grant.trial.lease_token, 1, {{"val_top1", 0.3}}));
  Must(coordinator.Complete(worker, grant.trial.lease_token, {{"val_top1", 0.4}}));

  std::vector<v1::EventType> types;
  int64_t last_id = launch_event;
  while (reader->Read(&event)) {
    CHECK(event.id() > last_id);
    last_id = event.id();
    types.push_back(event.type());
    if (event.type() == v1::EVENT_TYPE_TRIAL_PROGRESS) {
      CHECK(event.epoch() == 1);
      CHECK(event.metrics().at("val_top1") == 0.3);
      CHECK(event.trial_id() == grant.trial.id);
    }
  }
  CHECK(reader->Finish().ok());  // ended by the campaign completing
  CHECK(types ==
        std::vector<v1::EventType>{v1::EVENT_TYPE_TRIAL_CREATED, v1::EVENT_TYPE_TRIAL_LEASED,
                                   v1::EVENT_TYPE_TRIAL_RUNNING, v1::EVENT_TYPE_TRIAL_PROGRESS,
                                   v1::EVENT_TYPE_TRIAL_COMPLETED, v1::EVENT_TYPE_CAMPAIGN_STATE});

  // Resuming after an id replays only what came later.
  auto [again_context, again] = s.OpenWatch(campaign, launch_event);
  int replayed = 0;
  while (again->Read(&event)) ++replayed;
  CHECK(again->Finish().ok());
  CHECK(replayed == 6);
}

TEST_CASE("shutdown ends open watch streams", "[server]") {
  InProcessServer s;
  const int64_t campaign = LaunchOne(s);
  auto [context, reader] = s.OpenWatch(campaign);
  v1::CampaignEvent event;
  REQUIRE(reader->Read(&event));
  std::thread stopper([&] { s.server->Shutdown(); });
  while (reader->Read(&event)) {
  }
  grpc::Status status = reader->Finish();
  stopper.join();
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
}

// Threads of this process now (/proc/self/task).
int ThreadCount() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++n;
  }
  return n;
}

// `n` RegisterWorker calls at once through the callback client API (no
// client thread per call); `done` counts down as they end.
struct RegisterBurst {
  RegisterBurst(InProcessServer& s, int n) : calls(n), done(n) {
    for (Call& call : calls) {
      call.context = InProcessServer::Context();
      call.request.set_hostname("burst");
      s.workers->async()->RegisterWorker(call.context.get(), &call.request, &call.response,
                                         [this, &call](grpc::Status status) {
                                           call.status = std::move(status);
                                           absl::MutexLock lock(&mu);
                                           --done;
                                         });
    }
  }
  // Waits up to `timeout` for every call to end; true when they have.
  bool WaitFor(absl::Duration timeout) {
    absl::MutexLock lock(&mu);
    return mu.AwaitWithTimeout(absl::Condition(
                                   +[](int* left) { return *left == 0; }, &done),
                               timeout);
  }
  void Wait() { WaitFor(absl::InfiniteDuration()); }

  struct Call {
    std::unique_ptr<grpc::ClientContext> context;
    v1::RegisterWorkerRequest request;
    v1::RegisterWorkerResponse response;
    grpc::Status status;
  };
  std::vector<Call> calls;
  absl::Mutex mu;
  int done ABSL_GUARDED_BY(mu);
};

TEST_CASE("a burst of writing calls queues for the call pool instead of a thread per call",
          "[server]") {
  // Every commit takes 50 ms, so calls pile up waiting for the store.
  constexpr int kCallThreads = 4;
  constexpr int kCalls = 96;
  InProcessServer s("", [](ServerConfig& config) {
    config.call_threads = kCallThreads;
    config.store.on_commit = [](absl::Duration, int) { absl::SleepFor(absl::Milliseconds(50)); };
  });
  {
    RegisterBurst warm(s, 1);  // gRPC's own threads started
    warm.Wait();
  }
  const int before = ThreadCount();
  RegisterBurst burst(s, kCalls);
  int peak = before;
  do {
    peak = std::max(peak, ThreadCount());
  } while (!burst.WaitFor(absl::Milliseconds(5)));
  std::set<int64_t> ids;
  for (const RegisterBurst::Call& call : burst.calls) {
    INFO(call.status.error_message());
    CHECK(call.status.ok());
    ids.insert(call.response.worker_id());
  }
  CHECK(ids.size() == kCalls);
  // A synchronous service would have held a thread for each waiting call
  // (about kCalls more); the pool's threads were started with the server.
  INFO("threads before " << before << ", peak " << peak);
  CHECK(peak - before < kCalls / 4);
}

TEST_CASE("shutdown answers the writing calls still queued for the call pool", "[server]") {
  InProcessServer s("", [](ServerConfig& config) {
    config.call_threads = 2;
    config.store.on_commit = [](absl::Duration, int) { absl::SleepFor(absl::Milliseconds(20)); };
  });
  RegisterBurst burst(s, 40);
  absl::SleepFor(absl::Milliseconds(30));
  s.server->Shutdown();  // returns: nothing hangs on a queued call
  burst.Wait();
  int ok = 0;
  for (const RegisterBurst::Call& call : burst.calls) {
    INFO(call.status.error_code() << " " << call.status.error_message());
    // Finished before the drain's deadline, or cancelled by it; never lost.
    CHECK((call.status.ok() || call.status.error_code() == grpc::StatusCode::CANCELLED ||
           call.status.error_code() == grpc::StatusCode::UNAVAILABLE));
    ok += call.status.ok();
  }
  CHECK(ok > 0);
}

TEST_CASE("a writing call whose deadline passes while it is queued is not run", "[server]") {
  // One pool thread, every commit 300 ms: the second call waits in the
  // queue past its 50 ms deadline.
  InProcessServer s("", [](ServerConfig& config) {
    config.call_threads = 1;
    config.store.on_commit = [](absl::Duration, int) { absl::SleepFor(absl::Milliseconds(300)); };
  });
  RegisterBurst first(s, 1);
  absl::SleepFor(absl::Milliseconds(20));  // the first holds the pool's thread
  v1::RegisterWorkerRequest request;
  request.set_hostname("late");
  v1::RegisterWorkerResponse response;
  grpc::ClientContext late;
  late.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(50));
  CHECK(s.workers->RegisterWorker(&late, request, &response).error_code() ==
        grpc::StatusCode::DEADLINE_EXCEEDED);
  first.Wait();
  REQUIRE(first.calls[0].status.ok());
  absl::SleepFor(absl::Milliseconds(400));  // the late call left the queue by now
  v1::ListWorkersRequest list;
  list.set_include_dead(true);
  v1::ListWorkersResponse workers;
  REQUIRE(s.campaigns->ListWorkers(s.Context().get(), list, &workers).ok());
  std::vector<std::string> hosts;
  for (const v1::Worker& w : workers.workers()) hosts.push_back(w.hostname());
  CHECK(hosts == std::vector<std::string>{"burst"});  // "late" never registered
}

}  // namespace
}  // namespace convrnn::server::testing
