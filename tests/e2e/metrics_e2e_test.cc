// Operators' view of a real campaign: convrnn-server --http --log-format json
// with two real workers; /metrics scraped while trials run and after the
// campaign completed, and every log line the server wrote parses as JSON.
#include <httplib.h>

#include <sstream>

#include "tests/e2e/cluster.h"

namespace convrnn::e2e {
namespace {

// The value of the first sample of `name` carrying every label in `labels`; -1 if none.
double Sample(const std::string& text, const std::string& name,
              const std::vector<std::string>& labels = {}) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != '{' && line[name.size()] != ' ') continue;
    bool all = true;
    for (const std::string& label : labels) all = all && line.find(label) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

TEST_CASE("/metrics during a real campaign, and JSON server logs", "[e2e]") {
  const std::string dir = TempDir("metrics");
  const int port = FreePort(), http_port = FreePort();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Process server({kServer, "--db", dir + "/campaigns.db", "--listen", address, "--http",
                  "127.0.0.1:" + std::to_string(http_port), "--log-format", "json"},
                 dir + "/server");
  REQUIRE(WaitForPort(port, 30s));
  REQUIRE(WaitForPort(http_port, 30s));
  std::vector<std::unique_ptr<Process>> workers;
  for (int i = 0; i < 2; ++i) {
    workers.push_back(std::make_unique<Process>(
        std::vector<std::string>{kWorker, "--server", address, "--threads", "1", "--log-format",
                                 "json"},
        dir + "/worker" + std::to_string(i)));
  }
  httplib::Client http("127.0.0.1", http_port);
  std::string text;
  auto scrape = [&] {
    httplib::Result r = http.Get("/metrics");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    text = r->body;
  };
  // Workers load LibTorch for seconds: launch once both are registered.
  REQUIRE(WaitFor(
      [&] {
        scrape();
        return Sample(text, "convrnn_workers", {"status=\"alive\""}) == 2;
      },
      120s));
  const std::string file = dir + "/campaign.json";
  std::ofstream(file) << TinyCampaign(4, 2, 2, 60).dump();
  RunResult launched =
      Run({kClient, "--server", address, "--json", "launch", file}, 60s, dir + "/launch");
  REQUIRE(launched.exit_code == 0);
  const std::string id = std::to_string(json::parse(launched.out)["id"].get<int64_t>());
  const std::string campaign = "campaign_id=\"" + id + "\"";

  // While trials run: leases granted, two live workers, trials in flight.
  REQUIRE(WaitFor(
      [&] {
        scrape();
        return Sample(text, "convrnn_trials", {campaign, "state=\"running\""}) >= 1;
      },
      300s));
  INFO(text);
  CHECK(Sample(text, "convrnn_leases_total", {"outcome=\"granted\""}) >= 1);
  CHECK(Sample(text, "convrnn_workers", {"status=\"alive\""}) == 2);
  CHECK(Sample(text, "convrnn_worker_heartbeat_age_seconds") >= 0);
  CHECK(Sample(text, "convrnn_rpc_duration_seconds_bucket",
               {"method=\"LeaseTrial\"", "le=\"+Inf\""}) >= 2);

  REQUIRE(WaitFor(
      [&] {
        scrape();
        return Sample(text, "convrnn_campaigns", {"state=\"completed\""}) == 1;
      },
      600s));
  CHECK(Sample(text, "convrnn_trials", {campaign, "state=\"completed\""}) == 4);
  CHECK(Sample(text, "convrnn_leases_total", {"outcome=\"granted\""}) == 4);
  CHECK(Sample(text, "convrnn_rpc_total", {"method=\"CompleteTrial\"", "code=\"OK\""}) == 4);
  CHECK(Sample(text, "convrnn_rpc_duration_seconds_count", {"method=\"ReportProgress\""}) >= 8);
  CHECK(Sample(text, "convrnn_store_commit_seconds_count") >= 10);

  server.Signal(SIGTERM);
  REQUIRE(server.Wait(30s).has_value());
  std::istringstream lines(server.Stderr());
  int parsed = 0;
  for (std::string line; std::getline(lines, line); ++parsed) {
    INFO(line);
    const json entry = json::parse(line);
    CHECK(entry.at("component") == "server");
    CHECK(entry.contains("time"));
    CHECK(entry.contains("level"));
  }
  CHECK(parsed >= 3);  // listening, HTTP, SIGTERM, stopped
}

// Operators (and the load bench) read where the time goes without stopping
// the server: SIGUSR1 prints the stage timings so far and starts them afresh.
TEST_CASE("SIGUSR1 prints the stage timings and resets them while the server keeps serving",
          "[e2e]") {
  const std::string dir = TempDir("stages");
  const int port = FreePort();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Process server({kServer, "--db", dir + "/campaigns.db", "--listen", address}, dir + "/server");
  REQUIRE(WaitForPort(port, 30s));
  const std::string file = dir + "/campaign.json";
  std::ofstream(file) << TinyCampaign(2, 1, 1, 60).dump();
  auto launch = [&] {
    return Run({kClient, "--server", address, "launch", file}, 60s, dir + "/launch").exit_code;
  };
  REQUIRE(launch() == 0);  // a store write: the "store.write" stage has a sample

  auto tables = [&] {
    std::vector<std::string> found;
    const std::string err = server.Stderr();
    const std::string marker = "stage timings (SIGUSR1), reset";
    for (size_t at = err.find(marker); at != std::string::npos;) {
      const size_t next = err.find(marker, at + marker.size());
      found.push_back(err.substr(at, next == std::string::npos ? std::string::npos : next - at));
      at = next;
    }
    return found;
  };
  server.Signal(SIGUSR1);
  REQUIRE(WaitFor([&] { return tables().size() == 1; }, 30s));
  CHECK(tables()[0].find("store.write ") != std::string::npos);
  // Reset: with no call in between, the next table has no write in it.
  server.Signal(SIGUSR1);
  REQUIRE(WaitFor([&] { return tables().size() == 2; }, 30s));
  CHECK(tables()[1].find("store.write ") == std::string::npos);
  // Still serving; SIGTERM still stops it cleanly.
  CHECK(launch() == 0);
  server.Signal(SIGTERM);
  const std::optional<int> code = server.Wait(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

}  // namespace
}  // namespace convrnn::e2e
