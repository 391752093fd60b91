// The gRPC face of the coordinator (proto/convrnn.proto): two `final`
// services that translate requests into Coordinator calls and results into
// responses, and nothing else. Errors leave through ToGrpcStatus.
//
// Authentication: when a token is configured, every CampaignService and
// WorkerService call must carry `authorization: Bearer <token>` metadata,
// else UNAUTHENTICATED. The health service stays open so probes (Kubernetes,
// load balancers) need no secret; reflection lists only the public schema.
//
// Thread-safety: handlers run concurrently on gRPC's threads; the
// Coordinator is thread-safe.
#ifndef CONVRNN_SERVER_SERVICE_H_
#define CONVRNN_SERVER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "proto/convrnn.grpc.pb.h"
#include "server/call_pool.h"
#include "server/coordinator.h"
#include "server/watch.h"

namespace convrnn::server {

// Checks the bearer token of a call; an empty token admits everyone.
class TokenAuth {
 public:
  explicit TokenAuth(std::string token) : token_(std::move(token)) {}
  grpc::Status Check(const grpc::ServerContextBase& context) const;

 private:
  const std::string token_;
};

class CampaignServiceImpl final
    : public v1::CampaignService::WithCallbackMethod_WatchCampaign<
          v1::CampaignService::WithCallbackMethod_ExportTrials<v1::CampaignService::Service>> {
 public:
  CampaignServiceImpl(Coordinator& coordinator, WatchHub& watch_hub, const TokenAuth& auth)
      : coordinator_(coordinator), watch_hub_(watch_hub), auth_(auth) {}

  grpc::Status LaunchCampaign(grpc::ServerContext* context,
                              const v1::LaunchCampaignRequest* request,
                              v1::LaunchCampaignResponse* response) override;
  grpc::Status ListCampaigns(grpc::ServerContext* context, const v1::ListCampaignsRequest* request,
                             v1::ListCampaignsResponse* response) override;
  grpc::Status GetCampaign(grpc::ServerContext* context, const v1::GetCampaignRequest* request,
                           v1::Campaign* response) override;
  grpc::Status ListTrials(grpc::ServerContext* context, const v1::ListTrialsRequest* request,
                          v1::ListTrialsResponse* response) override;
  grpc::Status GetTrial(grpc::ServerContext* context, const v1::GetTrialRequest* request,
                        v1::Trial* response) override;
  grpc::ServerWriteReactor<v1::CampaignEvent>* WatchCampaign(
      grpc::CallbackServerContext* context, const v1::WatchCampaignRequest* request) override;
  grpc::Status EnqueueTrials(grpc::ServerContext* context, const v1::EnqueueTrialsRequest* request,
                             v1::EnqueueTrialsResponse* response) override;
  grpc::Status ExtendCampaign(grpc::ServerContext* context,
                              const v1::ExtendCampaignRequest* request,
                              v1::Campaign* response) override;
  grpc::Status StopCampaign(grpc::ServerContext* context, const v1::StopCampaignRequest* request,
                            v1::Campaign* response) override;
  grpc::Status ResumeCampaign(grpc::ServerContext* context,
                              const v1::ResumeCampaignRequest* request,
                              v1::Campaign* response) override;
  grpc::Status Best(grpc::ServerContext* context, const v1::BestRequest* request,
                    v1::BestResponse* response) override;
  grpc::Status Pareto(grpc::ServerContext* context, const v1::ParetoRequest* request,
                      v1::ParetoResponse* response) override;
  grpc::Status Export(grpc::ServerContext* context, const v1::ExportRequest* request,
                      v1::ExportResponse* response) override;
  grpc::ServerWriteReactor<v1::ExportChunk>* ExportTrials(
      grpc::CallbackServerContext* context, const v1::ExportRequest* request) override;
  grpc::Status ParamImportances(grpc::ServerContext* context, const v1::ImportanceRequest* request,
                                v1::ImportanceResponse* response) override;
  grpc::Status ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest* request,
                           v1::ListWorkersResponse* response) override;
  grpc::Status ScoreTrial(grpc::ServerContext* context, const v1::ScoreTrialRequest* request,
                          v1::NeuralScore* response) override;
  grpc::Status GetScore(grpc::ServerContext* context, const v1::GetScoreRequest* request,
                        v1::NeuralScore* response) override;

 private:
  Coordinator& coordinator_;
  WatchHub& watch_hub_;
  const TokenAuth& auth_;
};

// Every method is on the callback API, so no call holds a gRPC thread while
// it waits. Heartbeat touches memory only (but for a lease already overdue
// or of a stopped campaign) and is answered on the thread that read it. The
// others wait for a durable write: their bodies run on a CallPool of
// `call_threads` threads (server/call_pool.h), so a wave of a thousand
// completions queues a thousand entries, not a thousand threads.
class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  // REQUIRES: call_threads >= 1.
  WorkerServiceImpl(Coordinator& coordinator, const TokenAuth& auth, int call_threads)
      : coordinator_(coordinator), auth_(auth), pool_(call_threads) {}

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* context,
                                           const v1::RegisterWorkerRequest* request,
                                           v1::RegisterWorkerResponse* response) override;
  grpc::ServerUnaryReactor* LeaseTrial(grpc::CallbackServerContext* context,
                                       const v1::LeaseTrialRequest* request,
                                       v1::LeaseTrialResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* ReportProgress(grpc::CallbackServerContext* context,
                                           const v1::ReportProgressRequest* request,
                                           v1::ReportProgressResponse* response) override;
  grpc::ServerUnaryReactor* CompleteTrial(grpc::CallbackServerContext* context,
                                          const v1::CompleteTrialRequest* request,
                                          v1::CompleteTrialResponse* response) override;
  grpc::ServerUnaryReactor* FailTrial(grpc::CallbackServerContext* context,
                                      const v1::FailTrialRequest* request,
                                      v1::FailTrialResponse* response) override;
  grpc::ServerUnaryReactor* CompleteScore(grpc::CallbackServerContext* context,
                                          const v1::CompleteScoreRequest* request,
                                          v1::CompleteScoreResponse* response) override;
  grpc::ServerUnaryReactor* FailScore(grpc::CallbackServerContext* context,
                                      const v1::FailScoreRequest* request,
                                      v1::FailScoreResponse* response) override;

 private:
  // Checks the token, then runs `body()` (a grpc::Status) on the pool and
  // finishes the call with it, unless the call was cancelled (or its
  // deadline passed) while it waited. `body` may use the request and
  // response: gRPC keeps them until the call is finished.
  template <typename Body>
  grpc::ServerUnaryReactor* OnPool(grpc::CallbackServerContext* context, Body body);

  Coordinator& coordinator_;
  const TokenAuth& auth_;
  // Last: destroyed first, after it has answered every queued call.
  CallPool pool_;
};

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_SERVICE_H_
