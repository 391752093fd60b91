// Coordinator load driver: N simulated workers as lightweight gRPC clients
// (callback API, one channel per --workers-per-channel workers) against a
// running convrnn-server. Each worker does what convrnn-worker --simulate
// does — register, lease, per epoch H heartbeats and one progress report,
// complete, lease again — with --think-ms between calls instead of
// training, and records the latency of every call.
//
// Prints, for the measured window (after --warmup-s): RPCs per second and
// p50 / p99 / max latency per method and over all of them; --json FILE also
// writes them as JSON. --campaign FILE launches that campaign first (and
// stops it at the end unless --no-stop), so the server has trials to lease;
// --campaign-id ID uses one already running instead. --readers N adds N
// dashboard-style readers, each listing the campaigns and one page of the
// campaign's trials (by state, newest state first) once a second, timed as
// ListCampaigns and ListTrials. --until-completed N ends the run early once
// N trials completed (to fill a campaign's history before a measurement).
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proto/convrnn.grpc.pb.h"
#include "util/file.h"
#include "util/stage_stats.h"
#include "worker/service/simulate.h"

namespace convrnn {
namespace {

using Clock = std::chrono::steady_clock;
using v1::WorkerService;

enum Method {
  kRegister,
  kLease,
  kHeartbeat,
  kReport,
  kComplete,
  kListCampaigns,
  kListTrials,
  kMethods
};
const char* kMethodNames[kMethods] = {"RegisterWorker", "LeaseTrial",    "Heartbeat",
                                      "ReportProgress", "CompleteTrial", "ListCampaigns",
                                      "ListTrials"};

struct Config {
  std::string server = "127.0.0.1:50051";
  int workers = 100;
  int workers_per_channel = 50;
  double duration_s = 30;
  double warmup_s = 5;
  int think_ms = 0;
  // Each pause drawn uniformly from think_ms * [1 - jitter, 1 + jitter]: real
  // workers' epochs differ, so their calls drift apart instead of arriving
  // in the same phase (jitter 0: every worker keeps its start's phase).
  double think_jitter = 0;
  int epochs = 3;
  int heartbeats_per_epoch = 1;
  std::string campaign_file;
  int64_t campaign_id = 0;
  bool no_stop = false;
  int readers = 0;
  int64_t until_completed = 0;
  double report_every_s = 0;
  std::string token_file;
  std::string json_file;
};

// Per-interval latency of every call (--report-every-s), lock-free.
void RecordInterval(int m, Clock::duration d, bool ok) {
  static StageHistogram* const all = &Stage("all");
  static StageHistogram* const errors = &Stage("errors");
  static StageHistogram* per_method[kMethods] = {};
  static std::once_flag once;
  std::call_once(once, [] {
    for (int i = 0; i < kMethods; ++i) per_method[i] = &Stage(kMethodNames[i]);
  });
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  per_method[m]->Record(us);
  if (m < kListCampaigns) all->Record(us);
  if (!ok) errors->Record(us);
}

// Runs callbacks at given times on one thread.
class Timer {
 public:
  Timer() : thread_([this] { Loop(); }) {}
  ~Timer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void At(Clock::time_point when, std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push(Entry{when, seq_++, std::move(fn)});
    }
    cv_.notify_one();
  }

 private:
  struct Entry {
    Clock::time_point when;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Entry& o) const { return when != o.when ? when > o.when : seq > o.seq; }
  };
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      if (queue_.top().when > Clock::now()) {
        cv_.wait_until(lock, queue_.top().when);
        continue;
      }
      std::function<void()> fn = queue_.top().fn;
      queue_.pop();
      lock.unlock();
      fn();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue_;
  uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

struct Shared {
  Config config;
  std::string token;
  Timer timer;
  Clock::time_point measure_from, measure_to;
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  std::mutex error_mu;
  std::map<std::string, int64_t> errors;  // "Method: CODE" -> count
  std::atomic<int64_t> trials_completed{0}, trials_stopped{0}, no_trial{0};
};

// What every simulated client does around a call: a context with the token
// and a deadline; then the call's latency, its interval count and any error
// recorded.
class Caller {
 public:
  const std::vector<float>& latencies(int m) const { return latencies_us_[m]; }

 protected:
  explicit Caller(Shared* shared) : shared_(shared) {}
  std::unique_ptr<grpc::ClientContext> NewContext() {
    auto c = std::make_unique<grpc::ClientContext>();
    if (!shared_->token.empty()) c->AddMetadata("authorization", "Bearer " + shared_->token);
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  }
  // Records a finished call; false when the driver is stopping.
  bool Done(Method m, Clock::time_point start, const grpc::Status& s) {
    Clock::time_point end = Clock::now();
    if (start >= shared_->measure_from && end <= shared_->measure_to) {
      latencies_us_[m].push_back(std::chrono::duration<float, std::micro>(end - start).count());
    }
    RecordInterval(m, end - start, s.ok());
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(shared_->error_mu);
      ++shared_->errors[std::string(kMethodNames[m]) + ": " + std::to_string(s.error_code()) + " " +
                        s.error_message().substr(0, 60)];
    }
    if (shared_->stopping || end > shared_->measure_to) {
      --shared_->active;
      return false;
    }
    return true;
  }

  Shared* shared_;
  std::vector<float> latencies_us_[kMethods];
};

// One simulated worker: a chain of callbacks, one call in flight at a time.
class SimWorker : public Caller {
 public:
  SimWorker(Shared* shared, WorkerService::Stub* stub, int index)
      : Caller(shared), stub_(stub), index_(index), rng_(0x5eed0000u + index) {
    for (auto& v : latencies_us_) v.reserve(4096);
  }

  void Start() {
    ++shared_->active;
    Register();
  }

 private:
  void Later(int ms, void (SimWorker::*next)()) {
    if (ms <= 0) {
      (this->*next)();
      return;
    }
    shared_->timer.At(Clock::now() + std::chrono::milliseconds(ms),
                      [this, next] { (this->*next)(); });
  }
  void Think(void (SimWorker::*next)()) {
    const Config& c = shared_->config;
    int ms = c.think_ms;
    if (c.think_jitter > 0 && ms > 0) {
      std::uniform_real_distribution<double> spread(1 - c.think_jitter, 1 + c.think_jitter);
      ms = static_cast<int>(ms * spread(rng_));
    }
    Later(ms, next);
  }

  void Register() {
    register_ = {};
    register_.set_hostname("load-driver");
    register_.set_pid(100000 + index_);
    register_.set_device("sim");
    register_.set_version("load");
    context_ = NewContext();
    auto start = Clock::now();
    stub_->async()->RegisterWorker(context_.get(), &register_, &registered_,
                                   [this, start](grpc::Status s) {
                                     if (!Done(kRegister, start, s)) return;
                                     if (!s.ok()) return Later(200, &SimWorker::Register);
                                     worker_id_ = registered_.worker_id();
                                     Think(&SimWorker::Lease);
                                   });
  }

  void Lease() {
    lease_request_.set_worker_id(worker_id_);
    lease_ = {};
    context_ = NewContext();
    auto start = Clock::now();
    stub_->async()->LeaseTrial(
        context_.get(), &lease_request_, &lease_, [this, start](grpc::Status s) {
          if (!Done(kLease, start, s)) return;
          if (s.error_code() == grpc::StatusCode::NOT_FOUND)
            return Later(100, &SimWorker::Register);
          if (!s.ok()) return Later(200, &SimWorker::Lease);
          if (!lease_.has_trial()) {
            ++shared_->no_trial;
            return Later(std::max<int>(10, lease_.retry_after_ms()), &SimWorker::Lease);
          }
          epoch_ = 0;
          beats_ = 0;
          hash_ = SpecHash(lease_.spec_json());
          Think(&SimWorker::Step);
        });
  }

  // The next call of the trial: heartbeats, then the epoch's report.
  void Step() {
    if (beats_ < shared_->config.heartbeats_per_epoch) {
      ++beats_;
      return Heartbeat();
    }
    beats_ = 0;
    ++epoch_;
    Report();
  }

  void Heartbeat() {
    heartbeat_.set_worker_id(worker_id_);
    heartbeat_.set_lease_id(lease_.lease_id());
    context_ = NewContext();
    auto start = Clock::now();
    stub_->async()->Heartbeat(context_.get(), &heartbeat_, &heartbeat_response_,
                              [this, start](grpc::Status s) {
                                if (!Done(kHeartbeat, start, s)) return;
                                if (!s.ok() || heartbeat_response_.lease_lost()) {
                                  return Think(&SimWorker::Lease);
                                }
                                Think(&SimWorker::Step);
                              });
  }

  void Report() {
    report_ = {};
    report_.set_worker_id(worker_id_);
    report_.set_lease_id(lease_.lease_id());
    report_.set_epoch(epoch_);
    for (const auto& [k, v] : SimulatedEpochMetrics(hash_, epoch_))
      (*report_.mutable_metrics())[k] = v;
    context_ = NewContext();
    auto start = Clock::now();
    stub_->async()->ReportProgress(
        context_.get(), &report_, &report_response_, [this, start](grpc::Status s) {
          if (!Done(kReport, start, s)) return;
          if (!s.ok()) return Think(&SimWorker::Lease);
          if (report_response_.decision() == v1::ReportProgressResponse::DECISION_STOP) {
            ++shared_->trials_stopped;
            return Think(&SimWorker::Lease);
          }
          if (epoch_ >= shared_->config.epochs) return Think(&SimWorker::Complete);
          Think(&SimWorker::Step);
        });
  }

  void Complete() {
    complete_ = {};
    complete_.set_worker_id(worker_id_);
    complete_.set_lease_id(lease_.lease_id());
    for (const auto& [k, v] : SimulatedEpochMetrics(hash_, epoch_)) {
      (*complete_.mutable_final_metrics())[k] = v;
    }
    (*complete_.mutable_final_metrics())["params"] = 1000 + hash_ % 100000;
    context_ = NewContext();
    auto start = Clock::now();
    stub_->async()->CompleteTrial(context_.get(), &complete_, &complete_response_,
                                  [this, start](grpc::Status s) {
                                    if (!Done(kComplete, start, s)) return;
                                    if (s.ok()) ++shared_->trials_completed;
                                    Think(&SimWorker::Lease);
                                  });
  }

  WorkerService::Stub* stub_;
  const int index_;
  std::mt19937 rng_;
  std::unique_ptr<grpc::ClientContext> context_;
  int64_t worker_id_ = 0;
  int epoch_ = 0, beats_ = 0;
  uint64_t hash_ = 0;
  v1::RegisterWorkerRequest register_;
  v1::RegisterWorkerResponse registered_;
  v1::LeaseTrialRequest lease_request_;
  v1::LeaseTrialResponse lease_;
  v1::HeartbeatRequest heartbeat_;
  v1::HeartbeatResponse heartbeat_response_;
  v1::ReportProgressRequest report_;
  v1::ReportProgressResponse report_response_;
  v1::CompleteTrialRequest complete_;
  v1::CompleteTrialResponse complete_response_;
};

// A dashboard: once a second, the campaign list and a page of trials.
class Reader : public Caller {
 public:
  Reader(Shared* shared, v1::CampaignService::Stub* stub, int64_t campaign_id, int index)
      : Caller(shared), stub_(stub), campaign_id_(campaign_id), index_(index) {}
  void Start() {
    ++shared_->active;
    Later(1000 * index_ / std::max(1, shared_->config.readers));
  }

 private:
  void Later(int ms) {
    shared_->timer.At(Clock::now() + std::chrono::milliseconds(ms), [this] { Poll(); });
  }
  void Poll() {
    poll_start_ = Clock::now();
    campaigns_request_.set_page_size(20);
    campaigns_ = {};
    context_ = NewContext();
    auto start = Clock::now();
    stub_->async()->ListCampaigns(context_.get(), &campaigns_request_, &campaigns_,
                                  [this, start](grpc::Status s) {
                                    if (!Done(kListCampaigns, start, s)) return;
                                    Trials();
                                  });
  }
  void Trials() {
    // Alternate the states a dashboard's trial table shows.
    static const v1::TrialState kStates[] = {v1::TRIAL_STATE_UNSPECIFIED, v1::TRIAL_STATE_RUNNING,
                                             v1::TRIAL_STATE_COMPLETED};
    trials_request_.set_campaign_id(campaign_id_);
    trials_request_.set_state(kStates[polls_++ % 3]);
    trials_request_.set_page_size(100);
    trials_ = {};
    context_ = NewContext();
    auto start = Clock::now();
    stub_->async()->ListTrials(
        context_.get(), &trials_request_, &trials_, [this, start](grpc::Status s) {
          if (!Done(kListTrials, start, s)) return;
          auto spent =
              std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - poll_start_);
          Later(std::max<int>(1, 1000 - static_cast<int>(spent.count())));
        });
  }

  v1::CampaignService::Stub* stub_;
  const int64_t campaign_id_;
  const int index_;
  int polls_ = 0;
  Clock::time_point poll_start_;
  std::unique_ptr<grpc::ClientContext> context_;
  v1::ListCampaignsRequest campaigns_request_;
  v1::ListCampaignsResponse campaigns_;
  v1::ListTrialsRequest trials_request_;
  v1::ListTrialsResponse trials_;
};

double Percentile(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

// The file's text, or "" when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path) {
  return convrnn::ReadFile(path).value_or("");
}

int Run(const Config& config) {
  auto shared = std::make_unique<Shared>();
  shared->config = config;
  if (!config.token_file.empty()) {
    shared->token = ReadFileOrEmpty(config.token_file);
    while (!shared->token.empty() && isspace(shared->token.back())) shared->token.pop_back();
  }

  int64_t campaign_id = config.campaign_id;
  std::shared_ptr<grpc::Channel> control =
      grpc::CreateChannel(config.server, grpc::InsecureChannelCredentials());
  auto campaigns = v1::CampaignService::NewStub(control);
  auto control_context = [&] {
    auto c = std::make_unique<grpc::ClientContext>();
    if (!shared->token.empty()) c->AddMetadata("authorization", "Bearer " + shared->token);
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    c->set_wait_for_ready(true);
    return c;
  };
  if (campaign_id == 0 && !config.campaign_file.empty()) {
    v1::LaunchCampaignRequest request;
    request.set_campaign_json(ReadFileOrEmpty(config.campaign_file));
    v1::LaunchCampaignResponse response;
    grpc::Status s = campaigns->LaunchCampaign(control_context().get(), request, &response);
    if (!s.ok()) {
      std::cerr << "load_driver: LaunchCampaign: " << s.error_message() << std::endl;
      return 1;
    }
    campaign_id = response.campaign().id();
    std::cerr << "load_driver: launched campaign " << campaign_id << std::endl;
  }

  int channels = (config.workers + config.workers_per_channel - 1) / config.workers_per_channel;
  std::vector<std::shared_ptr<grpc::Channel>> channel_list;
  std::vector<std::unique_ptr<WorkerService::Stub>> stubs;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
    args.SetInt("convrnn.load_channel", i);
    channel_list.push_back(
        grpc::CreateCustomChannel(config.server, grpc::InsecureChannelCredentials(), args));
    stubs.push_back(WorkerService::NewStub(channel_list.back()));
  }

  Clock::time_point start = Clock::now();
  shared->measure_from =
      start + std::chrono::milliseconds(static_cast<int64_t>(config.warmup_s * 1000));
  shared->measure_to = shared->measure_from +
                       std::chrono::milliseconds(static_cast<int64_t>(config.duration_s * 1000));
  std::vector<std::unique_ptr<SimWorker>> workers;
  for (int i = 0; i < config.workers; ++i) {
    workers.push_back(std::make_unique<SimWorker>(shared.get(), stubs[i % channels].get(), i));
  }
  // Stagger the starts over a second so registration is not one burst.
  for (int i = 0; i < config.workers; ++i) {
    SimWorker* w = workers[i].get();
    shared->timer.At(start + std::chrono::microseconds(1000000LL * i / config.workers),
                     [w] { w->Start(); });
  }
  std::vector<std::unique_ptr<Reader>> readers;
  for (int i = 0; i < config.readers; ++i) {
    readers.push_back(std::make_unique<Reader>(shared.get(), campaigns.get(), campaign_id, i));
    readers.back()->Start();
  }
  Clock::time_point next_report =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(config.report_every_s * 1000));
  while (Clock::now() < shared->measure_to) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (config.until_completed > 0 && shared->trials_completed >= config.until_completed) break;
    if (config.report_every_s > 0 && Clock::now() >= next_report) {
      // Latency of the calls that ended since the last report (histogram
      // quantiles: within ~19%).
      const double t = std::chrono::duration<double>(Clock::now() - start).count();
      std::printf("interval t=%.0fs %s", t, StageTable().c_str());
      std::fflush(stdout);
      ResetStages();
      next_report += std::chrono::milliseconds(static_cast<int64_t>(config.report_every_s * 1000));
    }
  }
  shared->stopping = true;
  for (int i = 0; i < 200 && shared->active > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  const double window = config.duration_s;
  nlohmann::json out = {{"workers", config.workers},
                        {"channels", channels},
                        {"think_ms", config.think_ms},
                        {"think_jitter", config.think_jitter},
                        {"epochs", config.epochs},
                        {"heartbeats_per_epoch", config.heartbeats_per_epoch},
                        {"seconds", window}};
  std::vector<float> all;
  std::printf("%-15s %10s %10s %9s %9s %9s\n", "method", "calls", "per s", "p50 ms", "p99 ms",
              "max ms");
  for (int m = 0; m < kMethods; ++m) {
    std::vector<float> v;
    for (const auto& w : workers) v.insert(v.end(), w->latencies(m).begin(), w->latencies(m).end());
    for (const auto& r : readers) v.insert(v.end(), r->latencies(m).begin(), r->latencies(m).end());
    if (v.empty() && m >= kListCampaigns) continue;
    if (m < kListCampaigns) all.insert(all.end(), v.begin(), v.end());  // worker calls only
    double p50 = Percentile(v, 0.5) / 1000, p99 = Percentile(v, 0.99) / 1000;
    double max = v.empty() ? 0 : *std::max_element(v.begin(), v.end()) / 1000;
    std::printf("%-15s %10zu %10.0f %9.2f %9.2f %9.1f\n", kMethodNames[m], v.size(),
                v.size() / window, p50, p99, max);
    out["methods"][kMethodNames[m]] = {{"calls", v.size()},
                                       {"per_s", v.size() / window},
                                       {"p50_ms", p50},
                                       {"p99_ms", p99},
                                       {"max_ms", max}};
  }
  double p50 = Percentile(all, 0.5) / 1000, p99 = Percentile(all, 0.99) / 1000;
  std::printf("%-15s %10zu %10.0f %9.2f %9.2f\n", "all", all.size(), all.size() / window, p50, p99);
  std::printf("trials completed %lld, stopped %lld; empty leases %lld\n",
              static_cast<long long>(shared->trials_completed.load()),
              static_cast<long long>(shared->trials_stopped.load()),
              static_cast<long long>(shared->no_trial.load()));
  out["all"] = {
      {"calls", all.size()}, {"per_s", all.size() / window}, {"p50_ms", p50}, {"p99_ms", p99}};
  out["trials_completed"] = shared->trials_completed.load();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
               (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf("driver CPU: %.1f s over the run (%.2f cores on average)\n", cpu,
              cpu / (config.warmup_s + config.duration_s));
  out["driver_cpu_s"] = cpu;
  {
    std::lock_guard<std::mutex> lock(shared->error_mu);
    for (const auto& [what, n] : shared->errors) {
      std::printf("error %s: %lld\n", what.c_str(), static_cast<long long>(n));
      out["errors"][what] = n;
    }
  }
  if (!config.json_file.empty()) std::ofstream(config.json_file) << out.dump(2) << "\n";

  if (campaign_id != 0 && config.campaign_id == 0 && !config.no_stop) {
    v1::StopCampaignRequest request;
    request.set_campaign_id(campaign_id);
    v1::Campaign stopped;
    campaigns->StopCampaign(control_context().get(), request, &stopped);
  }
  // Workers with calls still in flight after the drain are leaked on
  // purpose: their callbacks may yet run.
  if (shared->active > 0) {
    for (auto& w : workers) w.release();
    for (auto& r : readers) r.release();
    shared.release();
  }
  return 0;
}

}  // namespace
}  // namespace convrnn

int main(int argc, char** argv) {
  CLI::App app{"Coordinator load driver: simulated workers against a convrnn-server"};
  convrnn::Config c;
  app.add_option("--server", c.server, "convrnn-server HOST:PORT")->capture_default_str();
  app.add_option("--workers", c.workers, "Simulated workers")->capture_default_str();
  app.add_option("--workers-per-channel", c.workers_per_channel, "Workers sharing a connection")
      ->capture_default_str();
  app.add_option("--duration-s", c.duration_s, "Measured seconds")->capture_default_str();
  app.add_option("--warmup-s", c.warmup_s, "Unmeasured seconds first")->capture_default_str();
  app.add_option("--think-ms", c.think_ms, "Pause of each worker between its calls")
      ->capture_default_str();
  app.add_option("--think-jitter", c.think_jitter,
                 "Each pause uniform in think-ms * [1 - J, 1 + J] (calls drift out of phase)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--epochs", c.epochs, "Epochs reported per trial")->capture_default_str();
  app.add_option("--heartbeats-per-epoch", c.heartbeats_per_epoch, "Heartbeats before each report")
      ->capture_default_str();
  app.add_option("--campaign", c.campaign_file, "Launch this campaign JSON first");
  app.add_option("--campaign-id", c.campaign_id, "Use this running campaign (no launch, no stop)");
  app.add_flag("--no-stop", c.no_stop, "Leave the launched campaign running at the end");
  app.add_option("--report-every-s", c.report_every_s,
                 "Also print the latency of each such interval (0: only the summary)");
  app.add_option("--readers", c.readers, "Dashboard-style readers polling once a second")
      ->capture_default_str();
  app.add_option("--until-completed", c.until_completed,
                 "End once this many trials completed (0: run the full duration)");
  app.add_option("--token-file", c.token_file, "Bearer token file");
  app.add_option("--json", c.json_file, "Also write the results here as JSON");
  CLI11_PARSE(app, argc, argv);
  return convrnn::Run(c);
}
