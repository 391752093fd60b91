// Finished results are never thrown away while their lease could be valid
// (issue 9 item 5): a server whose disk is full (RESOURCE_EXHAUSTED) is
// waited out on every call, and a completion the server never acknowledged
// is spooled to disk and re-sent by the next worker process, whose fate the
// server's fencing decides.
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <thread>

#include "tests/clock_driver.h"
#include "tests/test_support.h"
#include "tests/worker/service/fake_worker_service.h"
#include "util/posix_fs.h"
#include "worker/service/completion_spool.h"
#include "worker/service/service_loop.h"
#include "worker/service/simulate.h"

namespace convrnn {
namespace {

using testing::ClockDriver;
using testing::MustOk;
using testing::TempDir;

const char* kSpec = R"({"time": {"steps": 4}, "layers": [{"channels": 8, "cell": {"type": "gru"}}],
                        "train": {"epochs": 2}})";

grpc::Status DiskFull() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "database or disk is full");
}

ServiceOptions Options(const std::string& server, const std::string& spool_dir) {
  ServiceOptions options;
  options.server = server;
  options.spool_dir = spool_dir;
  options.max_trials = 1;
  options.backoff.initial = absl::Milliseconds(10);
  options.backoff.max = absl::Milliseconds(50);
  options.rpc_timeout = absl::Seconds(2);
  options.log = [](const std::string&) {};
  return options;
}

// Runs one loop to its end (max_trials or give-up) on simulated time and
// returns Run()'s status.
absl::Status RunLoop(ServiceOptions options, ServiceStats* stats = nullptr) {
  FakeClock clock;
  options.clock = &clock;
  SimulateOptions simulate;
  simulate.epoch_time = absl::Milliseconds(20);
  simulate.clock = &clock;
  std::unique_ptr<TrialExecutor> executor = NewSimulatedExecutor(simulate);
  auto loop = ServiceLoop::Create(options, executor.get());
  REQUIRE(loop.ok());
  ClockDriver driver(&clock, absl::Milliseconds(10));
  absl::Status result = (*loop)->Run();
  if (stats != nullptr) *stats = (*loop)->stats();
  return result;
}

size_t SpooledFiles(const std::string& dir) {
  absl::StatusOr<std::vector<DirEntry>> entries = ListDirectory(dir);
  return entries.ok() ? entries->size() : 0;
}

TEST_CASE("a full server disk is waited out on register, lease and complete", "[worker]") {
  FakeWorkerService service;
  service.heartbeat_ms = 20;
  service.AddTrial({/*trial_id=*/7, /*attempt=*/1, kSpec, ""});
  std::atomic<int> registers{0}, leases{0}, completes{0};
  service.on_register = [&] { return ++registers <= 3 ? DiskFull() : grpc::Status::OK; };
  service.on_lease = [&](const v1::LeaseTrialRequest&) {
    return ++leases <= 3 ? DiskFull() : grpc::Status::OK;
  };
  service.on_complete = [&](const v1::CompleteTrialRequest&) {
    return ++completes <= 5 ? DiskFull() : grpc::Status::OK;
  };
  FakeServer server(&service);
  REQUIRE(server.ok());
  TempDir spool;
  ServiceOptions options = Options(server.address(), spool.str());
  options.server_down_grace = absl::Milliseconds(1);  // a full disk is not an outage
  ServiceStats stats;
  REQUIRE(RunLoop(options, &stats).ok());
  FakeCalls calls = service.Snapshot();
  REQUIRE(calls.completes.size() == 1);
  CHECK(calls.completes[0].lease_id() == 1001);
  CHECK(stats.trials_completed == 1);
  CHECK(stats.trials_abandoned == 0);
  CHECK(completes == 6);
  CHECK(SpooledFiles(spool.str()) == 0);  // acknowledged: removed
}

TEST_CASE("a completion never acknowledged is re-sent by the next process", "[worker]") {
  FakeWorkerService service;
  service.heartbeat_ms = 20;
  service.AddTrial({/*trial_id=*/7, /*attempt=*/1, kSpec, ""});
  // Down once training is over: heartbeats and the completion go unanswered.
  std::atomic<bool> down{true};
  service.on_heartbeat = [&](const v1::HeartbeatRequest&, v1::HeartbeatResponse*) {
    return down ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone") : grpc::Status::OK;
  };
  service.on_complete = [&](const v1::CompleteTrialRequest&) {
    return down ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone") : grpc::Status::OK;
  };
  FakeServer server(&service);
  REQUIRE(server.ok());
  TempDir spool;
  ServiceOptions options = Options(server.address(), spool.str());
  // Simulated time runs ahead during each RPC: a grace of an hour, and retries
  // a minute apart at most, so the outage outlasts training, then the retries.
  options.server_down_grace = absl::Hours(1);
  options.backoff.max = absl::Minutes(1);
  // The first process trains, cannot deliver, gives up: the result stays on disk.
  CHECK(RunLoop(options).code() == absl::StatusCode::kUnavailable);
  REQUIRE(SpooledFiles(spool.str()) == 1);
  const std::vector<v1::CompleteTrialRequest> kept = CompletionSpool(spool.str()).Load();
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].lease_id() == 1001);
  const int64_t first_worker = kept[0].worker_id();

  // The next process (nothing left to lease) sends it after registering, as
  // the worker that held the lease; the server decides.
  bool refused = GENERATE(false, true);
  down = false;
  if (refused) {
    service.on_complete = [](const v1::CompleteTrialRequest&) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "lease 1001 is stale");
    };
  }
  options.max_trials = 0;
  FakeClock clock;
  options.clock = &clock;
  SimulateOptions simulate;
  simulate.clock = &clock;
  std::unique_ptr<TrialExecutor> executor = NewSimulatedExecutor(simulate);
  auto loop = ServiceLoop::Create(options, executor.get());
  REQUIRE(loop.ok());
  std::thread run([&] { (void)(*loop)->Run(); });
  // The spool is sent after registering, before the first lease; with nothing
  // to lease the loop then waits on the clock. Each wait, a second passes.
  bool removed = false;
  for (int i = 0; i < 200 && !removed; ++i) {
    REQUIRE(clock.WaitForBlocked(1));
    removed = SpooledFiles(spool.str()) == 0;
    if (!removed) clock.Advance(absl::Seconds(1));
  }
  (*loop)->Shutdown(/*cancel_current_trial=*/true);
  run.join();
  CHECK(removed);
  FakeCalls calls = service.Snapshot();
  if (refused) {
    CHECK(calls.completes.empty());
  } else {
    REQUIRE(calls.completes.size() == 1);
    CHECK(calls.completes[0].lease_id() == 1001);
    CHECK(calls.completes[0].worker_id() == first_worker);
    CHECK((*loop)->stats().spooled_completed == 1);
  }
  CHECK(SpooledFiles(spool.str()) == 0);
}

TEST_CASE("a damaged spool file is dropped, a good one kept", "[worker]") {
  TempDir dir;
  CompletionSpool spool(dir / "spool");
  v1::CompleteTrialRequest request;
  request.set_worker_id(3);
  request.set_lease_id(42);
  (*request.mutable_final_metrics())["val_top1"] = 0.5;
  MustOk(spool.Save(request));
  std::ofstream(dir / "spool/complete-43.pb") << "\xff\xff not a proto";
  std::vector<v1::CompleteTrialRequest> loaded = spool.Load();
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0].final_metrics().at("val_top1") == 0.5);
  CHECK(SpooledFiles(dir / "spool") == 1);
  spool.Remove(42);
  CHECK(spool.Load().empty());
  CHECK(CompletionSpool("").Load().empty());
}

}  // namespace
}  // namespace convrnn
