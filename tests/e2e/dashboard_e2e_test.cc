// The dashboard in a real browser (tests/e2e/dashboard_browser.py under
// headless Chromium): a server with --http and a token, a campaign run by
// simulated workers (convrnn_load_driver), and what a user sees. Screenshots
// go to <build>/dashboard-screenshots/. The 10,000-trial page load is
// measured by bench/dashboard/run_dashboard_bench.sh (docs/performance.md).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/cluster.h"
#include "tests/e2e/process.h"

namespace convrnn::e2e {
namespace {

const std::string kLoadDriver = kBin + "/bench/load/convrnn_load_driver";

TEST_CASE("dashboard: a user sees the campaign live, its charts and a trial's wiring",
          "[e2e][browser]") {
  const std::string dir = TempDir("dashboard-token");
  const std::string token_file = dir + "/token";
  std::ofstream(token_file) << "dash-s3cret\n";
  const int http_port = FreePort();
  Cluster cluster("dashboard",
                  {"--http", "127.0.0.1:" + std::to_string(http_port), "--token-file", token_file},
                  {"--token-file", token_file});
  REQUIRE(WaitForPort(http_port, 30s));
  json campaign = TinyCampaign(/*max_trials=*/24, /*max_parallel=*/3, /*epochs=*/3, 60);
  campaign["name"] = "dashboard-e2e";
  campaign["objectives"] = {{{"metric", "val_top1"}, {"goal", "max"}},
                            {{"metric", "params"}, {"goal", "min"}}};
  campaign["search"]["early_stopping"] = {
      {"rule", "asha"}, {"reduction_factor", 2}, {"min_resource", 1}, {"max_resource", 3}};
  const int64_t id = cluster.Launch(campaign);
  // Three simulated workers, ~1 s per epoch: the campaign runs for a while
  // with the page open.
  Process workers({kLoadDriver, "--server", cluster.Address(), "--token-file", token_file,
                   "--workers", "3", "--think-ms", "1000", "--epochs", "3",
                   "--heartbeats-per-epoch", "0", "--warmup-s", "0", "--duration-s", "300"},
                  cluster.dir() + "/load-driver");
  RunResult r =
      Run({"/usr/bin/python3", CONVRNN_SOURCE_DIR "/tests/e2e/dashboard_browser.py", "live",
           "--url", "http://127.0.0.1:" + std::to_string(http_port), "--token", "dash-s3cret",
           "--token-file", token_file, "--client", kClient, "--server", cluster.Address(),
           "--campaign", std::to_string(id), "--screenshots", kBin + "/dashboard-screenshots"},
          300s, cluster.dir() + "/browser");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json seen = json::parse(r.out);
  CHECK(seen["live_update"] == true);
  CHECK(seen["counts"]["total"] == 24);
  CHECK(!seen["pareto"].empty());
  CHECK(seen["diagram_layers"] == 2);
}

}  // namespace
}  // namespace convrnn::e2e
