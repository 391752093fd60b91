// /metrics of an in-process server driven through the gRPC stubs on a fake
// clock: leases granted, expired by the reaper and refused afterwards, RPC
// latency histograms, store commits, trials by state, workers and the age of
// their last call; and the token rule on /metrics.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "proto/convrnn.grpc.pb.h"
#include "server/server.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

// The value of the sample of `name` whose labels include every `labels`
// pair (`key="value"`); fails the test when there is none.
double Sample(const std::string& text, const std::string& name,
              const std::vector<std::string>& labels = {}) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name) || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    bool all = true;
    for (const std::string& label : labels) all = all && absl::StrContains(line, label);
    if (!all) continue;
    double value = 0;
    REQUIRE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value));
    return value;
  }
  FAIL("no sample " << name << " with " << absl::StrJoin(labels, ",") << " in:\n" << text);
  return 0;
}

struct MetricsServer {
  explicit MetricsServer(const std::string& token = "", bool open_metrics = false) {
    ServerConfig config;
    config.db_path = dir / "server.db";
    config.listen = "127.0.0.1:0";
    config.token = token;
    config.shutdown_deadline = absl::Seconds(2);
    config.coordinator.start_reaper = false;
    config.http.listen = "127.0.0.1:0";
    config.http.token = token;
    config.http.open_metrics = open_metrics;
    server = Must(Server::Start(config, clock));
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                       grpc::InsecureChannelCredentials());
    campaigns = v1::CampaignService::NewStub(channel);
    workers = v1::WorkerService::NewStub(channel);
  }

  std::string Scrape() {
    httplib::Client client("127.0.0.1", server->http_port());
    httplib::Result result = client.Get("/metrics");
    REQUIRE(result);
    REQUIRE(result->status == 200);
    REQUIRE(
        absl::StartsWith(result->get_header_value("Content-Type"), "text/plain; version=0.0.4"));
    return result->body;
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<Server> server;
  std::unique_ptr<v1::CampaignService::Stub> campaigns;
  std::unique_ptr<v1::WorkerService::Stub> workers;
};

TEST_CASE("/metrics counts leases granted, expired and refused", "[server][http]") {
  MetricsServer s;
  grpc::ClientContext launch_context;
  v1::LaunchCampaignRequest launch;
  launch.set_campaign_json(SmallCampaign({{"search", {{"max_trials", 2}}}}).dump());
  v1::LaunchCampaignResponse launched;
  REQUIRE(s.campaigns->LaunchCampaign(&launch_context, launch, &launched).ok());
  const std::string campaign_label = absl::StrCat("campaign_id=\"", launched.campaign().id(), "\"");

  grpc::ClientContext register_context;
  v1::RegisterWorkerRequest reg;
  reg.set_hostname("node-7");
  reg.set_device("cpu");
  v1::RegisterWorkerResponse worker;
  REQUIRE(s.workers->RegisterWorker(&register_context, reg, &worker).ok());
  grpc::ClientContext lease_context;
  v1::LeaseTrialRequest lease_request;
  lease_request.set_worker_id(worker.worker_id());
  v1::LeaseTrialResponse lease;
  REQUIRE(s.workers->LeaseTrial(&lease_context, lease_request, &lease).ok());
  REQUIRE(lease.has_trial());

  std::string text = s.Scrape();
  CHECK(Sample(text, "convrnn_leases_total", {"outcome=\"granted\""}) == 1);
  CHECK(Sample(text, "convrnn_leases_total", {"outcome=\"expired\""}) == 0);
  CHECK(Sample(text, "convrnn_trials", {campaign_label, "state=\"leased\""}) == 1);
  CHECK(Sample(text, "convrnn_trials", {campaign_label, "campaign=\"small\""}) >= 0);
  CHECK(Sample(text, "convrnn_campaigns", {"state=\"running\""}) == 1);
  CHECK(Sample(text, "convrnn_workers", {"status=\"alive\""}) == 1);
  CHECK(Sample(text, "convrnn_rpc_duration_seconds_count", {"method=\"LeaseTrial\""}) == 1);
  CHECK(Sample(text, "convrnn_rpc_total", {"method=\"RegisterWorker\"", "code=\"OK\""}) == 1);
  CHECK(Sample(text, "convrnn_store_commit_seconds_count") >= 3);
  CHECK(Sample(text, "convrnn_store_commit_batch_calls_sum") >= 3);

  // 30 s of silence: the heartbeat age shows it, and the reaper expires the lease.
  s.clock.Advance(absl::Seconds(30));
  text = s.Scrape();
  CHECK(Sample(text, "convrnn_worker_heartbeat_age_seconds", {"host=\"node-7\""}) == 30);
  REQUIRE(Must(s.server->coordinator().ReapOnce()) == 1);
  // The worker, unaware, heartbeats and completes on the lost lease: refused twice.
  grpc::ClientContext beat_context;
  v1::HeartbeatRequest beat;
  beat.set_worker_id(worker.worker_id());
  beat.set_lease_id(lease.lease_id());
  v1::HeartbeatResponse beat_response;
  REQUIRE(s.workers->Heartbeat(&beat_context, beat, &beat_response).ok());
  REQUIRE(beat_response.lease_lost());
  grpc::ClientContext complete_context;
  v1::CompleteTrialRequest complete;
  complete.set_worker_id(worker.worker_id());
  complete.set_lease_id(lease.lease_id());
  v1::CompleteTrialResponse done;
  REQUIRE(s.workers->CompleteTrial(&complete_context, complete, &done).error_code() ==
          grpc::StatusCode::FAILED_PRECONDITION);

  text = s.Scrape();
  CHECK(Sample(text, "convrnn_leases_total", {"outcome=\"expired\""}) == 1);
  CHECK(Sample(text, "convrnn_leases_total", {"outcome=\"refused\""}) == 2);
  CHECK(Sample(text, "convrnn_trials", {campaign_label, "state=\"pending\""}) == 1);
  CHECK(Sample(text, "convrnn_trials", {campaign_label, "state=\"leased\""}) == 0);
  CHECK(Sample(text, "convrnn_rpc_total",
               {"method=\"CompleteTrial\"", "code=\"FAILED_PRECONDITION\""}) == 1);

  // Every series the Grafana dashboard (deploy/grafana) plots is served.
  std::ifstream dashboard(std::string(CONVRNN_SOURCE_DIR) +
                          "/deploy/grafana/convrnn-dashboard.json");
  const std::string json((std::istreambuf_iterator<char>(dashboard)),
                         std::istreambuf_iterator<char>());
  const std::regex series("convrnn_[a-z_]+");
  int checked = 0;
  for (auto it = std::sregex_iterator(json.begin(), json.end(), series);
       it != std::sregex_iterator(); ++it, ++checked) {
    INFO(it->str());
    CHECK(text.find("\n" + it->str()) != std::string::npos);
  }
  CHECK(checked >= 10);
}

TEST_CASE("/metrics needs the token unless opened", "[server][http]") {
  MetricsServer closed("tok");
  httplib::Client client("127.0.0.1", closed.server->http_port());
  REQUIRE(client.Get("/metrics")->status == 401);
  REQUIRE(client.Get("/metrics", {{"Authorization", "Bearer tok"}})->status == 200);

  MetricsServer open("tok", /*open_metrics=*/true);
  REQUIRE(open.Scrape().find("convrnn_leases_total") != std::string::npos);
}

}  // namespace
}  // namespace convrnn::server::testing
