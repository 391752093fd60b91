// A convrnn-server in this process on a free loopback port (real store,
// fake clock, reaper off) with stubs of both services.
#ifndef CONVRNN_TESTS_SERVER_IN_PROCESS_SERVER_H_
#define CONVRNN_TESTS_SERVER_IN_PROCESS_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "proto/convrnn.grpc.pb.h"
#include "server/server.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {

struct InProcessServer {
  explicit InProcessServer(const std::string& token = "",
                           const std::function<void(ServerConfig&)>& configure = nullptr) {
    ServerConfig config;
    config.db_path = dir.File("server.db");
    config.listen = "127.0.0.1:0";
    config.token = token;
    config.shutdown_deadline = absl::Seconds(2);
    config.coordinator.start_reaper = false;
    config.store.sync_full = false;
    if (configure) configure(config);
    server = Must(Server::Start(config, clock));
    REQUIRE(server->port() > 0);
    channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                  grpc::InsecureChannelCredentials());
    campaigns = v1::CampaignService::NewStub(channel);
    workers = v1::WorkerService::NewStub(channel);
  }

  // A context carrying `token` (none when empty) and a deadline.
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token = "") {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return context;
  }

  // A WatchCampaign stream from after `after_event_id`, with the context it
  // runs in (no token).
  struct Watch {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReader<v1::CampaignEvent>> reader;
  };
  Watch OpenWatch(int64_t campaign_id, int64_t after_event_id = 0) {
    v1::WatchCampaignRequest request;
    request.set_campaign_id(campaign_id);
    request.set_after_event_id(after_event_id);
    Watch watch{Context(), nullptr};
    watch.reader = campaigns->WatchCampaign(watch.context.get(), request);
    return watch;
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<Server> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::CampaignService::Stub> campaigns;
  std::unique_ptr<v1::WorkerService::Stub> workers;
};

}  // namespace convrnn::server::testing

#endif  // CONVRNN_TESTS_SERVER_IN_PROCESS_SERVER_H_
