// Idempotent launch end to end (issue 9, item 2): the client's first
// LaunchCampaign really loses its reply (its deadline passes while the
// server, behind a store made slow on purpose, is still answering, after the
// campaign was committed), the client retries with the same request id, and
// gets that campaign: exactly one is stored.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "db/store_wrapper.h"
#include "server/coordinator.h"
#include "server/service.h"
#include "server/watch.h"
#include "tests/server/test_util.h"

namespace convrnn::client {
namespace {

using nlohmann::json;
using server::testing::Must;
using server::testing::SmallCampaign;
using server::testing::TempDir;

// The first CreateCampaign commits, then takes `delay` to answer: a reply
// that comes too late for the client. Counts the lookups (one per attempt).
class SlowStore : public db::StoreWrapper {
 public:
  SlowStore(db::Store* target, absl::Duration delay) : StoreWrapper(target), delay_(delay) {}
  absl::StatusOr<db::Campaign> CreateCampaign(const db::NewCampaign& campaign,
                                              int64_t now_us) override {
    absl::StatusOr<db::Campaign> made = StoreWrapper::CreateCampaign(campaign, now_us);
    bool first;
    {
      absl::MutexLock lock(&mu_);
      first = creates_++ == 0;
    }
    if (first) absl::SleepFor(delay_);
    return made;
  }
  absl::StatusOr<std::optional<db::Campaign>> FindCampaignByRequest(
      absl::string_view request_id) override {
    {
      absl::MutexLock lock(&mu_);
      ++lookups_;
    }
    return StoreWrapper::FindCampaignByRequest(request_id);
  }
  int lookups() {
    absl::MutexLock lock(&mu_);
    return lookups_;
  }

 private:
  const absl::Duration delay_;
  absl::Mutex mu_;
  int creates_ ABSL_GUARDED_BY(mu_) = 0;
  int lookups_ ABSL_GUARDED_BY(mu_) = 0;
};

// The coordinator's CampaignService over SlowStore on a loopback port (what
// Server::Start wires, with the store wrapped).
struct SlowServer {
  explicit SlowServer(absl::Duration delay)
      : real(Must(db::Store::Open(dir.File("server.db")))), store(real.get(), delay) {
    server::CoordinatorOptions options;
    options.start_reaper = false;
    coordinator = Must(server::Coordinator::Create(store, *Clock::Real(), options));
    hub = std::make_unique<server::WatchHub>(*coordinator);
    service = std::make_unique<server::CampaignServiceImpl>(*coordinator, *hub, auth);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service.get());
    grpc = builder.BuildAndStart();
    REQUIRE(grpc != nullptr);
  }
  ~SlowServer() {
    hub->Stop();
    // Lets the slow first handler finish (it answers a client long gone).
    grpc->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc->Wait();
  }

  TempDir dir;
  std::unique_ptr<db::Store> real;
  SlowStore store;
  server::TokenAuth auth{""};
  std::unique_ptr<server::Coordinator> coordinator;
  std::unique_ptr<server::WatchHub> hub;
  std::unique_ptr<server::CampaignServiceImpl> service;
  int port = 0;
  std::unique_ptr<grpc::Server> grpc;
};

TEST_CASE("a launch whose reply is lost is retried into the same, single campaign",
          "[client][server]") {
  // The reply comes 4 s after the commit; the client waits 1 s per attempt.
  SlowServer s(absl::Seconds(4));
  const std::string file = s.dir.File("campaign.json");
  std::ofstream(file) << SmallCampaign().dump();
  ClientConfig config;
  config.command = "launch";
  config.file = file;
  config.json = true;
  config.timeout_s = 1;
  config.server = absl::StrCat("127.0.0.1:", s.port);
  std::ostringstream out, err;
  const int rc = Run(config, out, err);
  INFO("stdout: " << out.str() << "\nstderr: " << err.str());
  REQUIRE(rc == 0);
  // The first attempt's reply really was lost and the launch was sent again.
  CHECK(err.str().find("retrying in 500ms with request id") != std::string::npos);
  CHECK(s.store.lookups() >= 2);
  const json launched = json::parse(out.str());
  const std::vector<db::Campaign> stored = Must(s.real->ListCampaigns(0, 10));
  REQUIRE(stored.size() == 1);
  CHECK(launched["id"] == stored[0].id);
  CHECK(stored[0].request_id.size() == 32);
  CHECK(err.str().find(stored[0].request_id) != std::string::npos);

  // The user runs it again by hand with the id the message named: the same
  // campaign, nothing new.
  config.request_id = stored[0].request_id;
  config.timeout_s = 10;
  std::ostringstream again_out, again_err;
  REQUIRE(Run(config, again_out, again_err) == 0);
  CHECK(json::parse(again_out.str())["id"] == stored[0].id);
  CHECK(Must(s.real->ListCampaigns(0, 10)).size() == 1);

  // Another file under that id is refused, exit 2, naming the id.
  std::ofstream(file) << SmallCampaign({{"name", "other"}}).dump();
  std::ostringstream refused_out, refused_err;
  CHECK(Run(config, refused_out, refused_err) == 2);
  CHECK(refused_err.str().find("request id '" + stored[0].request_id + "'") != std::string::npos);
  CHECK(Must(s.real->ListCampaigns(0, 10)).size() == 1);
}

}  // namespace
}  // namespace convrnn::client
