#include "server/telemetry.h"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "proto/convrnn.pb.h"

namespace convrnn::server {
namespace {

using prometheus::Histogram;

const Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const kBuckets =
      new Histogram::BucketBoundaries{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *kBuckets;
}

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
}

// The method's short name: "/convrnn.v1.WorkerService/LeaseTrial" -> "LeaseTrial".
std::string ShortName(const std::string& method) {
  const size_t slash = method.rfind('/');
  return slash == std::string::npos ? method : method.substr(slash + 1);
}

// Times one call and reports it when its status goes out.
class RpcInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcInterceptor(Telemetry& telemetry, std::string method)
      : telemetry_(telemetry),
        method_(std::move(method)),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using Hook = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_MESSAGE)) {
      response_ = methods->GetSendMessage();
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS)) {
      telemetry_.OnRpcEnd(method_, methods->GetSendStatus().error_code(),
                          absl::FromChrono(std::chrono::steady_clock::now() - start_), response_);
    }
    methods->Proceed();
  }

 private:
  Telemetry& telemetry_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  const void* response_ = nullptr;  // owned by the handler until the call ends
};

class RpcInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcInterceptorFactory(Telemetry& telemetry) : telemetry_(telemetry) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcInterceptor(telemetry_, info->method());
  }

 private:
  Telemetry& telemetry_;
};

}  // namespace

Telemetry::Telemetry()
    : rpc_duration_(prometheus::BuildHistogram()
                        .Name("convrnn_rpc_duration_seconds")
                        .Help("gRPC calls from start to status, by method")
                        .Register(registry_)),
      rpc_total_(prometheus::BuildCounter()
                     .Name("convrnn_rpc_total")
                     .Help("gRPC calls by method and status code")
                     .Register(registry_)),
      leases_(prometheus::BuildCounter()
                  .Name("convrnn_leases_total")
                  .Help("Leases granted, expired by the reaper, or refused (a call on a lease "
                        "no longer held)")
                  .Register(registry_)),
      lease_requests_empty_(prometheus::BuildCounter()
                                .Name("convrnn_lease_requests_empty_total")
                                .Help("LeaseTrial calls answered with nothing to do")
                                .Register(registry_)
                                .Add({})),
      scoring_jobs_(prometheus::BuildCounter()
                        .Name("convrnn_scoring_jobs_total")
                        .Help("Neural scoring jobs queued, leased, completed, failed, expired")
                        .Register(registry_)),
      commit_seconds_(prometheus::BuildHistogram()
                          .Name("convrnn_store_commit_seconds")
                          .Help("SQLite COMMIT of one group-commit batch (the fsync with "
                                "--sync full)")
                          .Register(registry_)
                          .Add({}, LatencyBuckets())),
      commit_batch_calls_(prometheus::BuildHistogram()
                              .Name("convrnn_store_commit_batch_calls")
                              .Help("Calls sharing one SQLite commit")
                              .Register(registry_)
                              .Add({}, Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64})) {
  for (const char* outcome : {"granted", "expired", "refused"}) leases_.Add({{"outcome", outcome}});
  for (const char* event : {"queued", "leased", "completed", "failed", "expired"}) {
    scoring_jobs_.Add({{"event", event}});
  }
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Telemetry::InterceptorFactory() {
  return std::make_unique<RpcInterceptorFactory>(*this);
}

void Telemetry::OnRpcEnd(const std::string& method, grpc::StatusCode code, absl::Duration duration,
                         const void* response) {
  const std::string name = ShortName(method);
  rpc_duration_.Add({{"method", name}}, LatencyBuckets()).Observe(absl::ToDoubleSeconds(duration));
  rpc_total_.Add({{"method", name}, {"code", CodeName(code)}}).Increment();
  const bool ok = code == grpc::StatusCode::OK;
  const bool worker_service = absl::StrContains(method, ".WorkerService/");
  if (worker_service && name == "LeaseTrial" && ok && response != nullptr) {
    const auto& grant = *static_cast<const v1::LeaseTrialResponse*>(response);
    if (!grant.has_trial()) {
      lease_requests_empty_.Increment();
    } else {
      leases_.Add({{"outcome", "granted"}}).Increment();
      if (grant.kind() == v1::JOB_KIND_SCORE) scoring_jobs_.Add({{"event", "leased"}}).Increment();
    }
  } else if (worker_service && name == "Heartbeat" && ok && response != nullptr) {
    if (static_cast<const v1::HeartbeatResponse*>(response)->lease_lost()) {
      leases_.Add({{"outcome", "refused"}}).Increment();
    }
  } else if (worker_service && code == grpc::StatusCode::FAILED_PRECONDITION &&
             name != "RegisterWorker" && name != "LeaseTrial") {
    leases_.Add({{"outcome", "refused"}}).Increment();
  }
  if (ok && name == "ScoreTrial") scoring_jobs_.Add({{"event", "queued"}}).Increment();
  if (ok && worker_service && name == "CompleteScore") {
    scoring_jobs_.Add({{"event", "completed"}}).Increment();
  }
  if (ok && worker_service && name == "FailScore") {
    scoring_jobs_.Add({{"event", "failed"}}).Increment();
  }
}

void Telemetry::OnCommit(absl::Duration commit, int calls) {
  commit_seconds_.Observe(absl::ToDoubleSeconds(commit));
  commit_batch_calls_.Observe(calls);
}

void Telemetry::OnLeasesExpired(int trials, int scores) {
  leases_.Add({{"outcome", "expired"}}).Increment(trials + scores);
  scoring_jobs_.Add({{"event", "expired"}}).Increment(scores);
}

void Telemetry::AddSnapshot(Coordinator& coordinator, int64_t now_us,
                            prometheus::Registry& registry) {
  auto& campaigns = prometheus::BuildGauge()
                        .Name("convrnn_campaigns")
                        .Help("Campaigns by state")
                        .Register(registry);
  auto& trials = prometheus::BuildGauge()
                     .Name("convrnn_trials")
                     .Help("Trials by campaign and state")
                     .Register(registry);
  for (const char* state : {"running", "stopped", "completed", "failed"}) {
    campaigns.Add({{"state", state}});
  }
  int64_t before_id = 0;
  do {
    absl::StatusOr<CampaignPage> page = coordinator.ListCampaigns(before_id, 0);
    if (!page.ok()) break;
    for (const CampaignView& view : page->campaigns) {
      campaigns
          .Add({{"state",
                 absl::AsciiStrToLower(std::string(db::CampaignStateName(view.campaign.state)))}})
          .Increment();
      const std::pair<const char*, int64_t> counts[] = {
          {"pending", view.counts.pending}, {"leased", view.counts.leased},
          {"running", view.counts.running}, {"completed", view.counts.completed},
          {"failed", view.counts.failed},   {"pruned", view.counts.pruned}};
      for (const auto& [state, count] : counts) {
        trials
            .Add({{"campaign_id", std::to_string(view.campaign.id)},
                  {"campaign", view.campaign.name},
                  {"state", state}})
            .Set(static_cast<double>(count));
      }
    }
    before_id = page->next_before_id;
  } while (before_id != 0);

  auto& workers = prometheus::BuildGauge()
                      .Name("convrnn_workers")
                      .Help("Registered workers, alive or presumed dead")
                      .Register(registry);
  auto& age = prometheus::BuildGauge()
                  .Name("convrnn_worker_heartbeat_age_seconds")
                  .Help("Seconds since each alive worker's last recorded call")
                  .Register(registry);
  prometheus::Gauge& alive = workers.Add({{"status", "alive"}});
  prometheus::Gauge& dead = workers.Add({{"status", "presumed_dead"}});
  absl::StatusOr<std::vector<WorkerView>> listed = coordinator.ListWorkers(/*include_dead=*/true);
  if (!listed.ok()) return;
  for (const WorkerView& view : *listed) {
    if (view.presumed_dead) {
      dead.Increment();
      continue;
    }
    alive.Increment();
    age.Add({{"worker_id", std::to_string(view.worker.id)},
             {"host", view.worker.hostname},
             {"device", view.worker.device}})
        .Set(static_cast<double>(now_us - view.worker.last_seen_us) / 1e6);
  }
}

std::string Telemetry::Scrape(Coordinator& coordinator, int64_t now_us) {
  prometheus::Registry snapshot;
  AddSnapshot(coordinator, now_us, snapshot);
  std::vector<prometheus::MetricFamily> families = registry_.Collect();
  std::vector<prometheus::MetricFamily> current = snapshot.Collect();
  families.insert(families.end(), std::make_move_iterator(current.begin()),
                  std::make_move_iterator(current.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace convrnn::server
