// The coordinator's Prometheus metrics (served as text on the HTTP
// listener's /metrics, server/http/http_server.h):
//
//   convrnn_rpc_duration_seconds{method}    histogram, every gRPC call, from
//                                           its start to its status (a
//                                           WatchCampaign stream lasts long)
//   convrnn_rpc_total{method,code}          calls by gRPC status code
//   convrnn_leases_total{outcome}           granted (a trial or scoring job
//                                           leased), expired (by the reaper),
//                                           refused (a worker's heartbeat,
//                                           report, completion or failure on
//                                           a lease no longer held)
//   convrnn_lease_requests_empty_total      LeaseTrial with nothing to give
//   convrnn_scoring_jobs_total{event}       queued, leased, completed,
//                                           failed, expired
//   convrnn_store_commit_seconds            histogram of each SQLite COMMIT
//   convrnn_store_commit_batch_calls        histogram of calls per commit
//   and, read from the coordinator at each scrape:
//   convrnn_campaigns{state}, convrnn_trials{campaign_id,campaign,state},
//   convrnn_workers{status="alive"|"presumed_dead"},
//   convrnn_worker_heartbeat_age_seconds{worker_id,host,device} (alive
//   workers; the coordinator records a worker's last call at most every
//   CoordinatorOptions::worker_touch_interval, so it is that coarse).
//
// Counting happens in a gRPC server interceptor (no service code changes),
// the store's Options::on_commit and the coordinator's on_leases_expired.
//
// Thread-safety: every method may be called from many threads at once.
#ifndef CONVRNN_SERVER_TELEMETRY_H_
#define CONVRNN_SERVER_TELEMETRY_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "server/coordinator.h"
#include "util/clock.h"

namespace convrnn::server {

class Telemetry {
 public:
  Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // Builds the interceptor factory to hand to grpc::ServerBuilder; the
  // interceptors it makes call OnRpcEnd. REQUIRES: *this outlives the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // One finished call: `method` as "/convrnn.v1.WorkerService/LeaseTrial",
  // `response` the message sent (nullptr when none) for lease accounting.
  void OnRpcEnd(const std::string& method, grpc::StatusCode code, absl::Duration duration,
                const void* response);
  // db::Options::on_commit.
  void OnCommit(absl::Duration commit, int calls);
  // CoordinatorOptions::on_leases_expired.
  void OnLeasesExpired(int trials, int scores);

  // The Prometheus text exposition (version 0.0.4): the counters above and
  // a snapshot of `coordinator` (its campaigns, trials, workers) at `now_us`.
  std::string Scrape(Coordinator& coordinator, int64_t now_us);

 private:
  void AddSnapshot(Coordinator& coordinator, int64_t now_us, prometheus::Registry& registry);

  prometheus::Registry registry_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Counter>& rpc_total_;
  prometheus::Family<prometheus::Counter>& leases_;
  prometheus::Counter& lease_requests_empty_;
  prometheus::Family<prometheus::Counter>& scoring_jobs_;
  prometheus::Histogram& commit_seconds_;
  prometheus::Histogram& commit_batch_calls_;
};

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_TELEMETRY_H_
