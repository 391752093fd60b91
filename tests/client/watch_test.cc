// `watch` in process on a fake clock: a stream the server drops is resumed
// after the last event, and the wait before reconnecting is on the injected
// clock, so the test never sleeps.
#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "client/campaign_client.h"
#include "client/commands.h"
#include "tests/client/fake_campaign_service.h"
#include "util/clock.h"

namespace convrnn::client {
namespace {

using nlohmann::json;
using testing::FakeCampaignService;
using testing::FakeServer;

TEST_CASE("watch: a server gone is waited for on the clock, and the stream resumes when it is back",
          "[client]") {
  auto first = std::make_unique<FakeServer>();
  const int port = first->port();
  ConnectionOptions options;
  options.server = first->address();
  CampaignClient client(options);
  FakeClock clock;
  std::ostringstream out, err;
  CommandEnv env;
  env.client = &client;
  env.out = &out;
  env.err = &err;
  env.json = true;
  env.clock = &clock;
  const int64_t start_us = clock.NowMicros();

  absl::Status result;
  std::thread watch([&] { result = WatchCommand(env, /*campaign_id=*/11); });
  // Campaign 11 replays campaign 9 and drops the stream after event 2: the
  // watch waits on the clock.
  REQUIRE(clock.WaitForBlocked(1));
  first.reset();  // the server goes away while the watch waits
  FakeServer second(port);
  REQUIRE(second.port() == port);
  clock.Advance(absl::Seconds(1));  // the reconnect delay passes
  watch.join();

  INFO(out.str() << err.str());
  REQUIRE(result.ok());
  CHECK(clock.NowMicros() - start_us == 1'000'000);  // one wait, on the clock
  CHECK(err.str().find("stream lost") != std::string::npos);
  std::istringstream lines(out.str());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) CHECK(json::parse(line)["id"] == ++n);  // resumed, no repeats
  CHECK(n == static_cast<int>(FakeCampaignService::Events(9).size()));
}

}  // namespace
}  // namespace convrnn::client
