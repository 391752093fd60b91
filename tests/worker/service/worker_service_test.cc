// The worker's service mode with real training: the LibTorch executor behind
// the service loop against a scripted coordinator on loopback, on a tiny
// Fashion-MNIST subset; and the convrnn-worker binary's service flags and
// per-device supervisor.
#include "tests/torch_catch.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/clock_driver.h"
#include "tests/worker/service/fake_worker_service.h"
#include "util/posix_fs.h"
#include "worker/service/service_loop.h"
#include "worker/service/torch_executor.h"

namespace convrnn {
namespace {

using nlohmann::json;
using testing::ClockDriver;

const std::string kData = R"({"dataset": "fashion-mnist", "train_limit": 512, "val_limit": 256})";

std::string TinySpec(int epochs) {
  json j = {
      {"input", {{"channels", 1}, {"height", 28}, {"width", 28}}},
      {"num_classes", 10},
      {"time", {{"steps", 3}}},
      {"layers",
       {{{"channels", 12},
         {"kernel", 5},
         {"stride", 2},
         {"pool", true},
         {"cell", {{"type", "gru"}}}}}},
      {"train",
       {{"optimizer", "adam"}, {"lr", 0.03}, {"batch_size", 32}, {"epochs", epochs}, {"seed", 3}}}};
  return j.dump();
}

// h = relu(u + 2 h_prev) over 140 steps overflows: the loss becomes NaN.
std::string DivergingSpec() {
  json j = {{"time", {{"steps", 140}}},
            {"layers",
             {{{"channels", 4},
               {"kernel", 3},
               {"stride", 4},
               {"pool", true},
               {"cell", {{"type", "time_decay"}, {"decay_init", 2.0}}}}}},
            {"train", {{"batch_size", 32}, {"epochs", 1}}}};
  return j.dump();
}

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("convrnn_worker_service_test_" + name + "_" + std::to_string(getpid()));
  REQUIRE(RemoveTree(dir.string()).ok());
  return dir.string();
}

struct Outcome {
  absl::Status status;
  ServiceStats stats;
  FakeCalls calls;
  absl::Duration elapsed;
};

// Runs a worker with the LibTorch executor until it has ended `max_trials`;
// its waits (heartbeats, retries) on `clock`, moved by a ClockDriver, when
// given.
Outcome RunWorker(FakeWorkerService* service, int max_trials,
                  const std::string& checkpoint_root = "", FakeClock* clock = nullptr) {
  torch::manual_seed(0);
  FakeServer server(service);
  REQUIRE(server.ok());
  ServiceOptions options;
  options.server = server.address();
  options.max_trials = max_trials;
  options.checkpoint_root = checkpoint_root;
  std::unique_ptr<ClockDriver> driver;
  if (clock != nullptr) {
    options.clock = clock;
    // Simulated time runs ahead while training takes real time.
    options.server_down_grace = absl::Hours(24 * 365);
    driver = std::make_unique<ClockDriver>(clock, absl::Milliseconds(10));
  }
  // Catch2 is not thread-safe: lines from the heartbeat thread wait here.
  auto log_mu = std::make_shared<std::mutex>();
  auto log = std::make_shared<std::vector<std::string>>();
  options.log = [log_mu, log](const std::string& line) {
    std::lock_guard<std::mutex> lock(*log_mu);
    log->push_back(line);
  };
  std::unique_ptr<TrialExecutor> executor = NewTorchExecutor({"cpu", /*threads=*/2});
  auto loop = ServiceLoop::Create(options, executor.get());
  REQUIRE(loop.ok());
  absl::Time start = absl::Now();
  Outcome out;
  out.status = (*loop)->Run();
  out.elapsed = absl::Now() - start;
  driver.reset();
  out.stats = (*loop)->stats();
  out.calls = service->Snapshot();
  std::lock_guard<std::mutex> lock(*log_mu);
  for (const std::string& line : *log) UNSCOPED_INFO(line);
  return out;
}

TEST_CASE("a leased trial trains on Fashion-MNIST and completes with metrics", "[worker]") {
  FakeWorkerService service;
  service.AddTrial({7, 1, TinySpec(2), kData});
  Outcome out = RunWorker(&service, 1);
  REQUIRE(out.status.ok());
  REQUIRE(out.calls.reports.size() == 2);
  CHECK(out.calls.reports[1].epoch() == 2);
  CHECK(out.calls.reports[1].metrics().at("train_loss") > 0);
  REQUIRE(out.calls.completes.size() == 1);
  const auto& f = out.calls.completes[0].final_metrics();
  CHECK(f.at("val_top1") > 0.3);  // chance is 0.1
  CHECK(f.at("params") > 0);
  CHECK(f.at("flops") > 0);
  CHECK(f.at("epochs") == 2);
  CHECK(f.at("wall_s") > 0);
  CHECK(f.at("train_loss") == Approx(out.calls.reports[1].metrics().at("train_loss")));
  CHECK(out.calls.fails.empty());
}

TEST_CASE("STOP from the server ends real training without completing", "[worker]") {
  FakeWorkerService service;
  service.AddTrial({7, 1, TinySpec(4), kData});
  service.on_report = [](const v1::ReportProgressRequest&, v1::ReportProgressResponse* r) {
    r->set_decision(v1::ReportProgressResponse::DECISION_STOP);
    return grpc::Status::OK;
  };
  Outcome out = RunWorker(&service, 1);
  REQUIRE(out.status.ok());
  CHECK(out.calls.reports.size() == 1);
  CHECK(out.calls.completes.empty());
  CHECK(out.stats.trials_stopped == 1);
}

TEST_CASE("a lease lost on heartbeat cancels training mid-epoch", "[worker]") {
  FakeWorkerService service;
  service.heartbeat_ms = 50;
  service.AddTrial({7, 1, TinySpec(200), kData});  // minutes of training
  std::atomic<int> beats{0};
  service.on_heartbeat = [&](const v1::HeartbeatRequest&, v1::HeartbeatResponse* r) {
    if (++beats >= 20) r->set_lease_lost(true);  // a second in, on the fake clock
    return grpc::Status::OK;
  };
  FakeClock clock;
  Outcome out = RunWorker(&service, 1, /*checkpoint_root=*/"", &clock);
  REQUIRE(out.status.ok());
  CHECK(out.elapsed < absl::Seconds(20));
  CHECK(out.calls.completes.empty());
  CHECK(out.calls.fails.empty());
  CHECK(out.stats.trials_abandoned == 1);
}

TEST_CASE("a diverging trial is failed as not retryable", "[worker]") {
  FakeWorkerService service;
  service.AddTrial({7, 1, DivergingSpec(),
                    R"({"dataset": "fashion-mnist", "train_limit": 64, "val_limit": 64})"});
  Outcome out = RunWorker(&service, 1);
  REQUIRE(out.status.ok());
  REQUIRE(out.calls.fails.size() == 1);
  CHECK_FALSE(out.calls.fails[0].retryable());
  CHECK_THAT(out.calls.fails[0].reason(), Catch::Contains("non-finite loss"));
  CHECK(out.calls.completes.empty());
}

TEST_CASE("a spec that does not fit the data is failed as not retryable", "[worker]") {
  FakeWorkerService service;
  json spec = json::parse(TinySpec(1));
  spec["input"]["channels"] = 3;
  service.AddTrial({7, 1, spec.dump(), kData});
  Outcome out = RunWorker(&service, 1);
  REQUIRE(out.calls.fails.size() == 1);
  CHECK_FALSE(out.calls.fails[0].retryable());
}

TEST_CASE("a retried attempt resumes from its checkpoint when reachable", "[worker]") {
  std::string root = TempDir("resume");
  FakeWorkerService service;
  // Attempt 1 loses its lease when reporting epoch 2 (its checkpoint is
  // written); attempt 2 picks up from there. Trial 9's attempt 2 has no
  // checkpoint anywhere and starts afresh.
  service.AddTrial({7, 1, TinySpec(3), kData});
  service.AddTrial({7, 2, TinySpec(3), kData});
  service.AddTrial({9, 2, TinySpec(1), kData});
  service.on_report = [](const v1::ReportProgressRequest& r, v1::ReportProgressResponse*) {
    if (r.lease_id() == 1001 && r.epoch() == 2) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "lease expired");
    }
    return grpc::Status::OK;
  };
  Outcome out = RunWorker(&service, 3, root);
  REQUIRE(out.status.ok());
  CHECK(out.stats.trials_abandoned == 1);
  REQUIRE(out.calls.completes.size() == 2);
  const auto& resumed = out.calls.completes[0].final_metrics();
  CHECK(resumed.at("resumed_epochs") == 2);
  CHECK(resumed.at("epochs") == 3);
  // Accepted reports: attempt 1's epoch 1, attempt 2's epoch 3 only, trial 9's epoch 1.
  REQUIRE(out.calls.reports.size() == 3);
  CHECK(out.calls.reports[1].lease_id() == 1002);
  CHECK(out.calls.reports[1].epoch() == 3);
  CHECK(out.calls.completes[1].final_metrics().at("resumed_epochs") == 0);
  // Completed trials leave no checkpoint behind.
  CHECK_FALSE(std::filesystem::exists(std::filesystem::path(root) / "trial-7"));
  REQUIRE(RemoveTree(root).ok());
}

// --- the binary ---

std::string WorkerBinary() { return std::string(CONVRNN_BINARY_DIR) + "/worker/convrnn-worker"; }

// The worker binary run with `args` (a shell fragment: redirections too):
// its exit status (-1 when it did not exit) and what it wrote to stdout.
struct BinaryRun {
  int exit_code;
  std::string out;
};
BinaryRun RunWorkerBinary(const std::string& args) {
  FILE* pipe = popen((WorkerBinary() + " " + args).c_str(), "r");
  REQUIRE(pipe != nullptr);
  BinaryRun run;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) run.out.append(buf, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

int RunBinary(const std::string& args) { return RunWorkerBinary(args + " 2>/dev/null").exit_code; }

TEST_CASE("The worker refuses --devices cuda:0 without a GPU at once and says why", "[worker]") {
  if (CudaDeviceCount() > 0) {
    CHECK(CudaUnavailableReason().empty());
    return;  // a GPU here: nothing to refuse
  }
  // A CPU-only LibTorch (Debian's), no NVIDIA driver (a container not given
  // the GPU) or no GPU visible: each names its cause.
  const std::string reason = CudaUnavailableReason();
  CHECK_THAT(reason, Catch::Matches(".*(CPU-only|libcuda\\.so\\.1|CUDA_VISIBLE_DEVICES).*"));
  const BinaryRun run = RunWorkerBinary("--server 127.0.0.1:1 --devices cuda:0 2>&1");
  CHECK(run.exit_code == 2);
  CHECK_THAT(run.out, Catch::Contains("cuda:0 not present") && Catch::Contains(reason));
}

TEST_CASE("convrnn-worker needs exactly one of --spec and --server", "[worker]") {
  CHECK(RunBinary("") == 2);
  CHECK(RunBinary("--spec /dev/null --server 127.0.0.1:1") == 2);
  CHECK(RunBinary("--server 127.0.0.1:1 --dry-run") == 2);
  CHECK(RunBinary("--server 127.0.0.1:1 --token-file /nonexistent --server-down-grace 1s") == 2);
}

// Starts `convrnn-worker --devices DEVICES --simulate` against `server`;
// returns its pid.
pid_t StartSupervisedWorker(const FakeServer& server, const char* devices, const char* epoch_ms) {
  pid_t pid = fork();
  if (pid == 0) {
    execl(WorkerBinary().c_str(), "convrnn-worker", "--server", server.address().c_str(),
          "--devices", devices, "--simulate", "--simulate-epoch-ms", epoch_ms, nullptr);
    _exit(127);
  }
  return pid;
}

// A fake coordinator with 100 two-epoch trials, and a supervised
// `convrnn-worker --devices DEVICES --simulate` against it.
struct SupervisedRun {
  SupervisedRun(const char* devices, const char* epoch_ms) : server(&service) {
    for (int i = 0; i < 100; ++i) service.AddTrial({i + 1, 1, TinySpec(2), kData});
    REQUIRE(server.ok());
    pid = StartSupervisedWorker(server, devices, epoch_ms);
    REQUIRE(pid > 0);
  }
  ~SupervisedRun() { (void)Stop(); }
  // Sends SIGTERM and returns the worker's wait status (once).
  int Stop() {
    int status = 0;
    if (pid <= 0) return status;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }

  FakeWorkerService service;
  FakeServer server;
  pid_t pid = -1;
};

TEST_CASE("one supervised worker runs per --devices entry and SIGTERM stops them all", "[worker]") {
  SupervisedRun run("cpu,cpu", "50");
  FakeWorkerService& service = run.service;
  bool both = service.WaitFor(
      [](const FakeCalls& c) { return c.registers >= 2 && c.completes.size() >= 2; });
  const int status = run.Stop();
  REQUIRE(both);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  FakeCalls calls = service.Snapshot();
  CHECK(calls.registers == 2);
  // The trials in flight at SIGTERM were handed back, not left to expire.
  CHECK(calls.fails.size() <= 2);
  for (const auto& f : calls.fails) CHECK(f.retryable());
}

TEST_CASE("convrnn-worker --match-params scales a spec to N parameters", "[worker]") {
  const std::string spec = std::string(CONVRNN_SOURCE_DIR) + "/examples/lstm.json";
  const BinaryRun run =
      RunWorkerBinary("--spec " + spec + " --match-params 100000 --dry-run 2>/dev/null");
  CHECK(run.exit_code == 0);
  nlohmann::json line = nlohmann::json::parse(run.out);
  CHECK(std::abs(line["params"].get<int64_t>() - 100000) <= 3000);
  CHECK(line["width_multiplier"].get<double>() > 0);
  CHECK(line["spec"]["layers"][0]["channels"] !=
        nlohmann::json::parse(std::ifstream(spec))["layers"][0]["channels"]);
  // Unreachable: the readout's biases alone exceed 5 parameters.
  CHECK(RunBinary("--spec " + spec + " --match-params 5 --dry-run") == 2);
}

TEST_CASE("trial slots: --devices cpux2 runs two slots that train at the same time", "[worker]") {
  SupervisedRun run("cpux2", "5000");
  FakeWorkerService& service = run.service;
  // Two leases before any completion: each 2-epoch trial takes 10 s, so
  // the second lease came from the other slot while the first trained.
  bool overlapped =
      service.WaitFor([](const FakeCalls& c) { return c.leases >= 2; }, absl::Seconds(120));
  FakeCalls at_second_lease = service.Snapshot();
  bool finished = service.WaitFor([](const FakeCalls& c) { return c.completes.size() >= 2; },
                                  absl::Seconds(120));
  const int status = run.Stop();
  REQUIRE(overlapped);
  REQUIRE(finished);
  CHECK(at_second_lease.completes.empty());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(service.Snapshot().registers == 2);
  CHECK(RunBinary("--server 127.0.0.1:1 --devices cpux0") == 2);
  CHECK(RunBinary("--server 127.0.0.1:1 --slots 2") == 2);
}

}  // namespace
}  // namespace convrnn
