// The worker's service loop against a scripted in-process coordinator, with
// the simulated executor (no LibTorch): leasing, heartbeats, reports, STOP,
// lost leases, outages, re-registration, shutdown, and backoff.
#include "worker/service/service_loop.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "tests/clock_driver.h"
#include "tests/test_support.h"
#include "tests/worker/service/fake_worker_service.h"
#include "util/clock.h"
#include "worker/service/device_memory.h"
#include "worker/service/rpc_retry.h"
#include "worker/service/simulate.h"
#include "worker/service/supervisor.h"

namespace convrnn {
namespace {

const char* kSpec = R"({"time": {"steps": 4}, "layers": [{"channels": 8, "cell": {"type": "gru"}}],
                        "train": {"epochs": 3}})";

using testing::ClockDriver;

// A worker running its loop on a thread, with fast test timings, on a fake
// clock (its waits and the simulated epochs): its own, which a ClockDriver
// moves 10 ms a wait from Start() to Join(), or `clock`, which the test moves.
class TestWorker {
 public:
  TestWorker(const std::string& server, absl::Duration epoch_time, int max_trials = 1,
             FakeClock* clock = nullptr)
      : clock_(clock != nullptr ? clock : &own_clock_), drive_(clock == nullptr) {
    options_.clock = clock_;
    // Simulated time runs ahead while an RPC takes real time: an outage
    // would look long, so it never ends the run (tests may set their own).
    options_.server_down_grace = absl::Hours(24 * 365);
    options_.server = server;
    options_.token = "secret-token";
    options_.max_trials = max_trials;
    options_.backoff.initial = absl::Milliseconds(20);
    options_.backoff.max = absl::Milliseconds(100);
    options_.rpc_timeout = absl::Seconds(2);
    // Catch2 is not thread-safe: the loop's lines are kept and shown by Join().
    options_.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(line);
    };
    SimulateOptions simulate;
    simulate.epoch_time = epoch_time;
    simulate.clock = clock_;
    executor_ = NewSimulatedExecutor(simulate);
  }
  // A test that failed before Join() leaves the loop running (leasing
  // forever when max_trials is 0): stop it, or the join would hang.
  ~TestWorker() {
    if (loop_ != nullptr && thread_.joinable()) loop_->Shutdown(/*cancel=*/true);
    (void)Join();
  }
  ServiceOptions& options() { return options_; }
  FakeClock& clock() { return *clock_; }
  // Replaces the simulated executor (before Start()).
  void UseExecutor(std::unique_ptr<TrialExecutor> executor) { executor_ = std::move(executor); }

  void Start() {
    auto loop = ServiceLoop::Create(options_, executor_.get());
    REQUIRE(loop.ok());
    loop_ = *std::move(loop);
    if (drive_) driver_ = std::make_unique<ClockDriver>(clock_, absl::Milliseconds(10));
    thread_ = std::thread([this] { result_ = loop_->Run(); });
  }
  absl::Status Join() {
    if (thread_.joinable()) thread_.join();
    driver_.reset();
    std::lock_guard<std::mutex> lock(log_mu_);
    for (const std::string& line : log_) {
      if (std::getenv("CONVRNN_TEST_LOG") != nullptr) std::cerr << line << "\n";
    }
    log_.clear();
    return result_;
  }
  ServiceLoop& loop() { return *loop_; }

 private:
  FakeClock own_clock_;
  FakeClock* clock_;
  const bool drive_;
  std::unique_ptr<ClockDriver> driver_;
  ServiceOptions options_;
  std::unique_ptr<TrialExecutor> executor_;
  std::unique_ptr<ServiceLoop> loop_;
  std::thread thread_;
  absl::Status result_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

// A loopback port no server listens on (one a server just gave back).
int FreePort() {
  FakeWorkerService probe;
  FakeServer free_port(&probe);
  return free_port.port();
}

// The trial ended on the worker's side: neither completed nor failed.
void CheckAbandoned(FakeWorkerService& service, TestWorker& worker) {
  FakeCalls calls = service.Snapshot();
  CHECK(calls.completes.empty());
  CHECK(calls.fails.empty());
  CHECK(worker.loop().stats().trials_abandoned == 1);
}

TEST_CASE("a simulated trial is leased, heartbeated, reported and completed", "[worker]") {
  FakeWorkerService service;
  service.heartbeat_ms = 20;
  service.AddTrial({/*trial_id=*/7, /*attempt=*/1, kSpec, ""});
  service.AddTrial({/*trial_id=*/8, /*attempt=*/1, kSpec, ""});
  FakeServer server(&service);
  REQUIRE(server.ok());
  TestWorker worker(server.address(), absl::Milliseconds(60), /*max_trials=*/2);
  worker.Start();
  REQUIRE(worker.Join().ok());

  FakeCalls calls = service.Snapshot();
  CHECK(calls.registers == 1);
  CHECK(calls.authorization.at(0) == "Bearer secret-token");
  CHECK(calls.leases == 2);
  CHECK(calls.heartbeats >= 2);
  REQUIRE(calls.reports.size() == 6);
  for (int i = 0; i < 3; ++i) CHECK(calls.reports[i].epoch() == i + 1);
  CHECK(calls.reports[0].lease_id() == 1001);
  CHECK(calls.reports[3].lease_id() == 1002);
  REQUIRE(calls.completes.size() == 2);
  const auto& final_metrics = calls.completes[0].final_metrics();
  double expected = SimulatedEpochMetrics(SpecHash(kSpec), 3).at("val_top1");
  CHECK(final_metrics.at("val_top1") == Approx(expected));
  CHECK(final_metrics.at("params") > 0);
  CHECK(final_metrics.at("flops") > 0);
  CHECK(final_metrics.at("epochs") == 3);
  CHECK(calls.fails.empty());
  CHECK(worker.loop().stats().trials_completed == 2);
}

TEST_CASE("STOP on a report ends the trial without CompleteTrial", "[worker]") {
  FakeWorkerService service;
  service.AddTrial({7, 1, kSpec, ""});
  service.on_report = [](const v1::ReportProgressRequest& r, v1::ReportProgressResponse* out) {
    if (r.epoch() == 2) {
      out->set_decision(v1::ReportProgressResponse::DECISION_STOP);
      out->set_reason("pruned by asha at epoch 2");
    }
    return grpc::Status::OK;
  };
  FakeServer server(&service);
  TestWorker worker(server.address(), absl::Milliseconds(30));
  worker.Start();
  REQUIRE(worker.Join().ok());
  FakeCalls calls = service.Snapshot();
  CHECK(calls.reports.size() == 2);
  CHECK(calls.completes.empty());
  CHECK(calls.fails.empty());
  CHECK(worker.loop().stats().trials_stopped == 1);
}

TEST_CASE("a lost lease cancels training at once", "[worker]") {
  FakeWorkerService service;
  service.heartbeat_ms = 20;
  service.AddTrial({7, 1, kSpec, ""});
  std::atomic<int> beats{0};
  service.on_heartbeat = [&](const v1::HeartbeatRequest&, v1::HeartbeatResponse* out) {
    if (++beats == 3) out->set_lease_lost(true);
    return grpc::Status::OK;
  };
  FakeServer server(&service);
  TestWorker worker(server.address(), absl::Hours(1));  // would take 3 h
  const int64_t start_us = worker.clock().NowMicros();
  worker.Start();
  REQUIRE(worker.Join().ok());
  // Cancelled at the third heartbeat, long before the first epoch's end.
  CHECK(worker.clock().NowMicros() - start_us < absl::ToInt64Microseconds(absl::Hours(1)));
  CheckAbandoned(service, worker);
}

TEST_CASE("a stale lease refused on report abandons the trial", "[worker]") {
  FakeWorkerService service;
  service.AddTrial({7, 1, kSpec, ""});
  service.on_report = [](const v1::ReportProgressRequest&, v1::ReportProgressResponse*) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "lease 1001 is stale");
  };
  FakeServer server(&service);
  TestWorker worker(server.address(), absl::Milliseconds(20));
  worker.Start();
  REQUIRE(worker.Join().ok());
  CheckAbandoned(service, worker);
}

TEST_CASE("the worker waits for a server that starts late, then registers", "[worker]") {
  const int port = FreePort();
  FakeClock clock;
  TestWorker worker("127.0.0.1:" + std::to_string(port), absl::Milliseconds(10), 1, &clock);
  worker.Start();
  // Backing off on the clock: an attempt failed. One more, then the server.
  REQUIRE(clock.WaitForBlocked(1));
  clock.Advance(absl::Seconds(1));
  REQUIRE(clock.WaitForBlocked(1));

  FakeWorkerService service;
  service.AddTrial({7, 1, kSpec, ""});
  FakeServer server(&service, port);
  REQUIRE(server.ok());
  ClockDriver driver(&clock, absl::Milliseconds(10));
  REQUIRE(worker.Join().ok());
  FakeCalls calls = service.Snapshot();
  CHECK(calls.registers == 1);
  CHECK(calls.completes.size() == 1);
}

TEST_CASE("training goes on while the server is away, and the reports follow in order",
          "[worker]") {
  FakeWorkerService service;
  service.AddTrial({7, 1, kSpec, ""});
  std::atomic<bool> down{true};
  std::atomic<int> refused{0};
  absl::Notification trained;
  service.on_report = [&](const v1::ReportProgressRequest& r, v1::ReportProgressResponse*) {
    if (!down) return grpc::Status::OK;
    // One try at each epoch's end, then Finish retries: training is over.
    if (++refused == 5) trained.Notify();
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting");
  };
  bool refuse_complete = GENERATE(false, true);
  service.on_complete = [&](const v1::CompleteTrialRequest&) {
    return refuse_complete
               ? grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "lease expired meanwhile")
               : grpc::Status::OK;
  };
  FakeServer server(&service);
  FakeClock clock;
  TestWorker worker(server.address(), absl::Milliseconds(100), 1, &clock);
  worker.Start();
  {
    ClockDriver driver(&clock, absl::Milliseconds(10));
    // All three epochs are trained while reports fail, then the server is back.
    REQUIRE(trained.WaitForNotificationWithTimeout(absl::Seconds(60)));
    down = false;
    REQUIRE(worker.Join().ok());
  }
  FakeCalls calls = service.Snapshot();
  REQUIRE(calls.reports.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(calls.reports[i].epoch() == i + 1);
  if (refuse_complete) {
    CHECK(calls.completes.empty());
    CHECK(worker.loop().stats().trials_abandoned == 1);
  } else {
    CHECK(calls.completes.size() == 1);
  }
}

TEST_CASE("an unknown worker id makes the worker register again", "[worker]") {
  FakeWorkerService service;
  service.AddTrial({7, 1, kSpec, ""});
  std::atomic<int> leases{0};
  service.on_lease = [&](const v1::LeaseTrialRequest& r) {
    if (++leases == 1) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown worker 101");
    return grpc::Status::OK;
  };
  FakeServer server(&service);
  TestWorker worker(server.address(), absl::Milliseconds(10));
  worker.Start();
  REQUIRE(worker.Join().ok());
  FakeCalls calls = service.Snapshot();
  CHECK(calls.registers == 2);
  CHECK(calls.completes.size() == 1);
}

TEST_CASE("the worker gives up after the server-down grace, timed by the clock", "[worker]") {
  const int port = FreePort();
  FakeClock clock;
  TestWorker worker("127.0.0.1:" + std::to_string(port), absl::Milliseconds(10), 1, &clock);
  worker.options().server_down_grace = absl::Minutes(10);
  worker.options().backoff.max = absl::Seconds(30);
  worker.Start();
  absl::Status result;
  {
    ClockDriver driver(&clock, absl::Seconds(5));
    result = worker.Join();
  }
  CHECK(result.code() == absl::StatusCode::kUnavailable);
  CHECK_THAT(std::string(result.message()), Catch::Contains("giving up"));
}

TEST_CASE("shutdown cancels and hands back the trial, or lets it finish", "[worker]") {
  FakeWorkerService service;
  service.AddTrial({7, 1, kSpec, ""});
  FakeServer server(&service);
  bool cancel = GENERATE(true, false);
  // Cancelled: an epoch of an hour, which simulated time cannot reach before
  // Shutdown; finishing: a short one.
  TestWorker worker(server.address(), cancel ? absl::Hours(1) : absl::Milliseconds(100),
                    /*max_trials=*/0);
  worker.Start();
  // Training has begun once the trial is heartbeated or has reported (a lease
  // answered while shutting down is handed back untouched). On a loaded
  // machine the short trial can finish before its first heartbeat.
  REQUIRE(service.WaitFor([](const FakeCalls& c) {
    return c.heartbeats >= 1 || !c.reports.empty() || !c.completes.empty();
  }));
  worker.loop().Shutdown(cancel);
  REQUIRE(worker.Join().ok());
  FakeCalls calls = service.Snapshot();
  if (cancel) {
    REQUIRE(calls.fails.size() == 1);
    CHECK(calls.fails[0].retryable());
    CHECK(calls.completes.empty());
  } else {
    CHECK(calls.fails.empty());
    CHECK(calls.completes.size() == 1);
  }
}

TEST_CASE("backoff grows to its cap with jitter below the nominal delay", "[worker]") {
  BackoffOptions options;
  options.initial = absl::Milliseconds(100);
  options.max = absl::Seconds(1);
  options.jitter = 0.5;
  Backoff backoff(options, /*seed=*/3);
  absl::Duration nominal = options.initial;
  for (int i = 0; i < 10; ++i) {
    absl::Duration d = backoff.Next();
    CHECK(d <= nominal);
    CHECK(d >= nominal * 0.5);
    nominal = std::min(options.max, nominal * 2);
  }
  backoff.Reset();
  CHECK(backoff.Next() <= options.initial);
}

TEST_CASE("device lists and child arguments of the supervisor", "[worker]") {
  CHECK(*ParseDevices("all", 0) == std::vector<std::string>{"cpu"});
  CHECK(*ParseDevices("all", 2) == std::vector<std::string>{"cuda:0", "cuda:1"});
  CHECK(*ParseDevices("cpu,cpu", 0) == std::vector<std::string>{"cpu", "cpu"});
  CHECK(ParseDevices("cuda:1", 1).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseDevices("cuda:0,cuda:0", 1).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(ParseDevices("gpu0", 1).status().code() == absl::StatusCode::kInvalidArgument);
  std::vector<std::string> args = {"--server", "h:1",         "--devices",
                                   "all",      "--threads=4", "--simulate"};
  CHECK(ChildArgs(args, "cuda:1", 2) == std::vector<std::string>{"--server", "h:1", "--simulate",
                                                                 "--device", "cuda:1", "--threads",
                                                                 "2"});
}

TEST_CASE("trial slots: DEVxN and --slots give one process per slot", "[worker]") {
  using V = std::vector<std::string>;
  CHECK(*ParseDevices("cuda:0x4", 1) == V{"cuda:0", "cuda:0", "cuda:0", "cuda:0"});
  CHECK(*ParseDevices("cpux2", 0) == V{"cpu", "cpu"});
  CHECK(*ParseDevices("cuda:0x2,cuda:1", 2) == V{"cuda:0", "cuda:0", "cuda:1"});
  CHECK(*ParseDevices("all", 2, /*slots=*/2) == V{"cuda:0", "cuda:0", "cuda:1", "cuda:1"});
  CHECK(*ParseDevices("allx3", 0) == V{"cpu", "cpu", "cpu"});
  // An explicit xN wins over --slots.
  CHECK(*ParseDevices("cuda:0x1,cuda:1", 2, /*slots=*/2) == V{"cuda:0", "cuda:1", "cuda:1"});
  for (const char* bad : {"cuda:0x0", "cuda:0x65", "cpux", "cuda:0xtwo", "cudax2"}) {
    absl::Status s = ParseDevices(bad, 1).status();
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()).find("--devices") != std::string::npos);
  }
  absl::Status twice = ParseDevices("cuda:0,cuda:0", 1).status();
  CHECK(std::string(twice.message()).find("cuda:0xN") != std::string::npos);
  CHECK(ParseDevices("cpu", 0, /*slots=*/0).status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("MPS is used only for a GPU with several slots and no daemon of the operator's",
          "[worker]") {
  testing::TempDir dir;
  const std::string control = dir / "nvidia-cuda-mps-control";
  {
    std::ofstream script(control);
    script << "#!/bin/sh\nexit 0\n";
  }
  chmod(control.c_str(), 0755);
  const std::string path = "/nonexistent:" + dir.str();
  CHECK(FindMpsControl({"cuda:0", "cuda:0"}, path.c_str(), nullptr) == control);
  CHECK(FindMpsControl({"cuda:0", "cuda:1"}, path.c_str(), nullptr).empty());
  CHECK(FindMpsControl({"cpu", "cpu"}, path.c_str(), nullptr).empty());
  CHECK(FindMpsControl({"cuda:0", "cuda:0"}, path.c_str(), "/run/mps").empty());
  CHECK(FindMpsControl({"cuda:0", "cuda:0"}, "/nonexistent", nullptr).empty());
}

TEST_CASE("the supervisor runs the MPS daemon around its children and stops it", "[worker]") {
  testing::TempDir dir;
  const std::string record = dir / "record";
  const std::string control = dir / "mps-control";
  {
    // Records how it was called: "-d" to start, stdin "quit" to stop.
    std::ofstream script(control);
    script << "#!/bin/sh\nif [ \"$1\" = -d ]; then echo \"start $CUDA_MPS_PIPE_DIRECTORY\" >> "
           << record << "; else echo \"$(cat)\" >> " << record << "; fi\n";
  }
  chmod(control.c_str(), 0755);
  SupervisorOptions options;
  options.executable = "/bin/sh";
  options.devices = {"cuda:0", "cuda:0"};
  options.mps_control = control;
  options.args_for = [&](const std::string&) {
    return std::vector<std::string>{"-c", "echo \"child $CUDA_MPS_PIPE_DIRECTORY\" >> " + record};
  };
  options.log = [](const std::string&) {};
  CHECK(RunSupervisor(options) == 0);
  std::ifstream in(record);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 4);
  REQUIRE(lines[0].rfind("start /tmp/convrnn-mps-", 0) == 0);
  const std::string pipes = lines[0].substr(6);
  // Both slots saw the daemon's pipe folder; it was told to quit at the end
  // and its folders are gone.
  CHECK(lines[1] == "child " + pipes);
  CHECK(lines[2] == "child " + pipes);
  CHECK(lines[3] == "quit");
  CHECK(access(pipes.c_str(), F_OK) != 0);
  CHECK(getenv("CUDA_MPS_PIPE_DIRECTORY") == nullptr);
}

TEST_CASE("a slot leases only while its device has the memory a trial needs", "[worker]") {
  FakeWorkerService service;
  service.AddTrial({/*trial_id=*/7, /*attempt=*/1, kSpec, ""});
  FakeServer server(&service);
  REQUIRE(server.ok());
  FakeClock clock;
  TestWorker worker(server.address(), absl::Milliseconds(10), /*max_trials=*/1, &clock);
  // Another slot holds the device: 100 MiB free until the clock passes 30 s.
  std::atomic<int> short_reads{0}, leases_while_short{0};
  const int64_t start_us = clock.NowMicros();
  worker.options().min_free_memory = int64_t{512} << 20;
  worker.options().free_memory = [&]() -> absl::StatusOr<int64_t> {
    if (clock.NowMicros() - start_us >= 30'000'000) return int64_t{2} << 30;
    ++short_reads;
    leases_while_short += service.Snapshot().leases;
    return int64_t{100} << 20;
  };
  worker.options().default_retry_after = absl::Seconds(5);
  {
    ClockDriver driver(&clock, absl::Seconds(5));
    worker.Start();
    REQUIRE(worker.Join().ok());
  }
  FakeCalls calls = service.Snapshot();
  CHECK(calls.leases == 1);
  CHECK(calls.completes.size() == 1);
  // It polled while the device was short and leased nothing until 30 s of
  // fake time had passed and the memory was there.
  CHECK(short_reads >= 1);
  CHECK(leases_while_short == 0);
  CHECK(clock.NowMicros() - start_us >= 30'000'000);
}

TEST_CASE("free memory is read from /proc/meminfo's MemAvailable", "[worker]") {
  CHECK(*ParseMemAvailable("MemTotal: 100 kB\nMemAvailable:   2048 kB\n") == 2048 * 1024);
  CHECK(ParseMemAvailable("MemTotal: 100 kB\n").status().code() ==
        absl::StatusCode::kInvalidArgument);
  absl::StatusOr<int64_t> cpu = FreeMemoryBytes("cpu");
  REQUIRE(cpu.ok());
  CHECK(*cpu > 0);
  // This test binary loads no CUDA runtime: the reason is said, not a number made up.
  CHECK(FreeMemoryBytes("cuda:0").status().code() == absl::StatusCode::kUnavailable);
  CHECK(FreeMemoryBytes("tpu").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("the supervisor restarts a failing child until it exits 0", "[worker]") {
  std::string counter = "/tmp/convrnn_supervisor_test_" + std::to_string(getpid());
  std::remove(counter.c_str());
  SupervisorOptions options;
  options.executable = "/bin/sh";
  options.devices = {"cpu"};
  // Fails twice, then succeeds.
  options.args_for = [&](const std::string&) {
    return std::vector<std::string>{
        "-c", "echo x >> " + counter + "; [ $(wc -l < " + counter + ") -ge 3 ]"};
  };
  // The backoff runs on a fake clock: hours that pass the moment the
  // supervisor says it is waiting (its log runs on its own thread).
  FakeClock clock;
  options.clock = &clock;
  options.restart_initial = absl::Hours(1);
  options.restart_max = absl::Hours(3);
  std::vector<std::string> log;
  std::vector<std::string> waits;
  options.log = [&](const std::string& line) {
    log.push_back(line);
    const size_t at = line.find("restarting in ");
    if (at == std::string::npos) return;
    waits.push_back(line.substr(at + 14));
    clock.Advance(absl::Hours(3));
  };
  const absl::Time start = absl::Now();
  CHECK(RunSupervisor(options) == 0);
  CHECK(waits == std::vector<std::string>{"1h", "2h"});  // doubling, on the fake clock
  CHECK(absl::Now() - start < absl::Seconds(30));
  std::ifstream in(counter);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  CHECK(lines == 3);
  std::remove(counter.c_str());
}

// Scores by rule (trial 7 has a checkpoint, others not); trains by simulation.
class ScoringExecutor final : public TrialExecutor {
 public:
  explicit ScoringExecutor(Clock* clock)
      : simulated_(NewSimulatedExecutor({absl::Milliseconds(10), /*epochs=*/0, clock})) {}
  bool CanScore() const override { return true; }
  absl::StatusOr<std::string> Score(const ScoreTask& task, const TrialHooks&) override {
    tasks.push_back(task);
    if (task.trial_id != 7) {
      return absl::NotFoundError("no checkpoint at " + task.checkpoint_dir + "/checkpoint.pt");
    }
    return std::string(R"({"median_r":0.5})");
  }
  absl::StatusOr<TrialOutcome> Run(const TrialTask& task, const TrialHooks& hooks) override {
    return simulated_->Run(task, hooks);
  }
  std::vector<ScoreTask> tasks;  // Run()'s thread only; read after Join()

 private:
  std::unique_ptr<TrialExecutor> simulated_;
};

TEST_CASE("scoring jobs are scored and reported, failures with their code", "[worker]") {
  FakeWorkerService service;
  service.heartbeat_ms = 20;
  FakeWorkerService::Trial job{/*trial_id=*/7, /*attempt=*/1, kSpec, R"({"train_limit":10})"};
  job.score = true;
  job.neural_json = R"({"file":"/data/rec.h5"})";
  service.AddTrial(job);
  job.trial_id = 9;
  service.AddTrial(job);
  service.AddTrial({/*trial_id=*/8, /*attempt=*/1, kSpec, ""});  // then one training trial
  FakeServer server(&service);
  REQUIRE(server.ok());
  TestWorker worker(server.address(), absl::Milliseconds(10), /*max_trials=*/1);
  auto executor = std::make_unique<ScoringExecutor>(&worker.clock());
  ScoringExecutor* scorer = executor.get();
  worker.UseExecutor(std::move(executor));
  worker.options().checkpoint_root = "/ckpt";
  worker.Start();
  REQUIRE(worker.Join().ok());

  FakeCalls calls = service.Snapshot();
  CHECK(calls.can_score.at(0));
  REQUIRE(scorer->tasks.size() == 2);
  CHECK(scorer->tasks[0].score_id == 501);
  CHECK(scorer->tasks[0].checkpoint_dir == "/ckpt/trial-7");
  CHECK(scorer->tasks[0].neural_json == R"({"file":"/data/rec.h5"})");
  CHECK(scorer->tasks[0].data_json == R"({"train_limit":10})");
  REQUIRE(calls.score_completes.size() == 1);
  CHECK(calls.score_completes[0].lease_id() == 1001);
  CHECK(calls.score_completes[0].result_json() == R"({"median_r":0.5})");
  REQUIRE(calls.score_fails.size() == 1);
  CHECK(calls.score_fails[0].code() == static_cast<int>(absl::StatusCode::kNotFound));
  CHECK(calls.score_fails[0].reason().find("/ckpt/trial-9/checkpoint.pt") != std::string::npos);
  // Scoring jobs do not count towards max_trials: the training trial ran too.
  CHECK(calls.completes.size() == 1);
  CHECK(worker.loop().stats().scores_completed == 1);
  CHECK(worker.loop().stats().scores_failed == 1);
}

TEST_CASE(
    "a worker without a checkpoint root fails scoring jobs clearly, the simulated "
    "executor does not ask for them",
    "[worker]") {
  FakeWorkerService service;
  FakeWorkerService::Trial job{/*trial_id=*/7, /*attempt=*/1, kSpec, ""};
  job.score = true;
  service.AddTrial(job);
  service.AddTrial({/*trial_id=*/8, /*attempt=*/1, kSpec, ""});
  FakeServer server(&service);
  REQUIRE(server.ok());
  {
    TestWorker worker(server.address(), absl::Milliseconds(10), /*max_trials=*/1);
    worker.UseExecutor(std::make_unique<ScoringExecutor>(&worker.clock()));
    worker.Start();
    REQUIRE(worker.Join().ok());
  }
  FakeCalls calls = service.Snapshot();
  REQUIRE(calls.score_fails.size() == 1);
  CHECK(calls.score_fails[0].code() == static_cast<int>(absl::StatusCode::kNotFound));
  CHECK(calls.score_fails[0].reason().find("--checkpoint-root") != std::string::npos);

  service.AddTrial({/*trial_id=*/10, /*attempt=*/1, kSpec, ""});
  TestWorker simulated(server.address(), absl::Milliseconds(10), /*max_trials=*/1);
  simulated.Start();
  REQUIRE(simulated.Join().ok());
  CHECK_FALSE(service.Snapshot().can_score.back());
}

}  // namespace
}  // namespace convrnn
