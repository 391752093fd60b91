// CampaignClient: the `convrnn` command line's one door to convrnn-server.
//
// A thin, final wrapper over the generated CampaignService stub. It adds
// what every call needs and nothing else: a deadline on each unary RPC (so
// the client never hangs on a server that does not answer), the bearer
// token, paging through every page of list calls, and gRPC statuses turned
// into absl::Status. A server that cannot be reached becomes UNAVAILABLE
// "cannot reach convrnn-server at HOST:PORT: ..."; the server's own errors
// (INVALID_ARGUMENT, NOT_FOUND, ...) keep their code and message.
//
// Thread-safety: calls may be made from several threads (the stub is
// thread-safe); the object itself is immutable after Connect.
#ifndef CONVRNN_CLIENT_CAMPAIGN_CLIENT_H_
#define CONVRNN_CLIENT_CAMPAIGN_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/convrnn.grpc.pb.h"

namespace convrnn::client {

namespace v1 = ::convrnn::v1;

struct ConnectionOptions {
  // HOST:PORT of convrnn-server.
  std::string server = "127.0.0.1:50051";
  // Sent as "authorization: Bearer <token>" on every call; empty: none.
  std::string token;
  // PEM of the CA that signed the server's certificate; empty: plaintext.
  std::string tls_ca_pem;
  // Deadline of each unary call. Streams (Watch) have none, but fail fast
  // when the server cannot be reached.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // Page size asked of list calls; 0: the server default.
  int32_t page_size = 0;
};

class CampaignClient final {
 public:
  explicit CampaignClient(ConnectionOptions options);

  // One attempt; `request_id` makes it idempotent (LaunchCampaignRequest).
  absl::StatusOr<v1::Campaign> Launch(const std::string& campaign_json,
                                      const std::string& request_id = "");
  // Every campaign, following page tokens.
  absl::StatusOr<std::vector<v1::Campaign>> ListCampaigns();
  absl::StatusOr<v1::Campaign> GetCampaign(int64_t campaign_id);
  // Every trial (of `state`, or all when UNSPECIFIED), following page tokens.
  absl::StatusOr<std::vector<v1::Trial>> ListTrials(int64_t campaign_id, v1::TrialState state);
  absl::StatusOr<v1::Trial> GetTrial(int64_t trial_id);
  absl::StatusOr<v1::Campaign> StopCampaign(int64_t campaign_id);
  absl::StatusOr<v1::Campaign> ResumeCampaign(int64_t campaign_id);
  absl::StatusOr<std::vector<v1::Trial>> Enqueue(int64_t campaign_id,
                                                 const std::vector<std::string>& specs);
  absl::StatusOr<v1::Campaign> Extend(int64_t campaign_id, int max_trials, int max_parallel);
  absl::StatusOr<v1::BestResponse> Best(const v1::BestRequest& request);
  absl::StatusOr<v1::ParetoResponse> Pareto(const v1::ParetoRequest& request);
  absl::StatusOr<v1::ExportResponse> Export(int64_t campaign_id, const std::string& format);
  // Streams ExportTrials into `on_chunk`, in order; an error `on_chunk`
  // returns cancels the stream and is returned. No deadline (an export of
  // a large campaign takes as long as it takes), but fails fast when the
  // server cannot be reached.
  absl::Status ExportTrials(int64_t campaign_id, const std::string& format,
                            const std::function<absl::Status(const v1::ExportChunk&)>& on_chunk);
  // Deadline: the larger of rpc_timeout and 2 minutes (a forest per call).
  absl::StatusOr<v1::ImportanceResponse> Importance(int64_t campaign_id, const std::string& metric);
  absl::StatusOr<std::vector<v1::Worker>> ListWorkers(bool include_dead);
  absl::StatusOr<v1::NeuralScore> ScoreTrial(int64_t trial_id, const std::string& neural_json);
  absl::StatusOr<v1::NeuralScore> GetScore(int64_t score_id);

  // Streams the campaign's events after event `after_event_id` (0: its
  // whole history) into `on_event` until the server ends the stream or
  // `on_event` returns false. OK when the stream ended cleanly or was ended
  // by `on_event`.
  absl::Status Watch(int64_t campaign_id, int64_t after_event_id,
                     const std::function<bool(const v1::CampaignEvent&)>& on_event);

  const ConnectionOptions& options() const { return options_; }

 private:
  // A context with the token and, when `with_deadline`, the call deadline.
  void Prepare(grpc::ClientContext* context, bool with_deadline) const;
  absl::Status Convert(const grpc::Status& status) const;

  const ConnectionOptions options_;
  std::unique_ptr<v1::CampaignService::Stub> stub_;
};

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_CAMPAIGN_CLIENT_H_
