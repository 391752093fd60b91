// enqueue, extend, median, enrichment and compare through the real server
// (in process, on a loopback port) and the client's Run(), including after
// a server restart; every command's bad input exits 2.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "client/client.h"
#include "server/server.h"
#include "spec/arch_spec.h"
#include "tests/server/test_util.h"

namespace convrnn::client {
namespace {

using nlohmann::json;
using server::testing::GruSpec;
using server::testing::Must;
using server::testing::SmallCampaign;
using server::testing::TempDir;

struct Cluster {
  Cluster() { Start(); }
  void Start() {
    server::ServerConfig config;
    config.db_path = dir.File("server.db");
    config.listen = "127.0.0.1:0";
    config.shutdown_deadline = absl::Seconds(2);
    config.coordinator.start_reaper = false;
    server = Must(server::Server::Start(config, clock));
  }
  void Restart() {
    server.reset();
    Start();
  }
  // Runs `convrnn --json ARGS...` as Run() would after flag parsing.
  int Cli(ClientConfig config, json* out = nullptr) {
    config.server = absl::StrCat("127.0.0.1:", server->port());
    config.json = true;
    std::ostringstream o, e;
    const int rc = Run(config, o, e);
    last_err = e.str();
    if (out != nullptr && rc == 0) *out = json::parse(o.str());
    return rc;
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir.File(name)) << text;
    return dir.File(name);
  }

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<server::Server> server;
  std::string last_err;
};

ClientConfig Command(const std::string& name, int64_t id) {
  ClientConfig c;
  c.command = name;
  c.id = id;
  return c;
}

TEST_CASE("plan commands through the real server / across a restart", "[client]") {
  Cluster k;
  ClientConfig launch = Command("launch", 0);
  launch.file =
      k.Write("campaign.json",
              SmallCampaign({{"search", {{"max_trials", 8}, {"max_parallel", 8}}}}).dump());
  json launched;
  REQUIRE(k.Cli(launch, &launched) == 0);
  const int64_t c = launched["id"];
  server::Coordinator& coordinator = k.server->coordinator();
  db::Worker worker;
  worker.hostname = "w";
  const int64_t w = Must(coordinator.RegisterWorker(worker)).worker_id;
  for (int i = 0; i < 6; ++i) {
    server::LeaseGrant g = Must(coordinator.LeaseTrial(w));
    REQUIRE(g.has_trial);
    Must(coordinator.Complete(w, g.trial.lease_token,
                              {{"val_top1", 0.5 + 0.05 * i}, {"params", 1000.0 + i}}));
  }

  ClientConfig median = Command("median", c);
  median.top = 3;
  median.enqueue = true;
  json m;
  REQUIRE(k.Cli(median, &m) == 0);
  CHECK(ParseArchSpec(m["spec"]).ok());
  CHECK(m["trials"].size() == 3);
  CHECK(Must(coordinator.GetTrial(m["enqueued_trial"].get<int64_t>())).trial.state ==
        db::TrialState::kPending);

  ClientConfig enrichment = Command("enrichment", c);
  enrichment.top = 2;
  json e;
  REQUIRE(k.Cli(enrichment, &e) == 0);
  REQUIRE_FALSE(e["features"].empty());
  for (const json& row : e["features"]) {
    CHECK(row["top_total"] == 2);
    CHECK(row["all_total"] == 6);
    CHECK(row["p_value"].get<double>() >= 0);
    CHECK(row["p_value"].get<double>() <= 1);
  }

  ClientConfig compare = Command("compare", c);
  compare.by = "cell_type";
  json cmp;
  REQUIRE(k.Cli(compare, &cmp) == 0);
  int64_t counted = 0;
  for (const json& g : cmp["groups"]) counted += g["count"].get<int64_t>();
  CHECK(counted == 6);
  compare.by = "layers[1].cell.type";
  REQUIRE(k.Cli(compare, &cmp) == 0);

  k.Restart();
  ClientConfig extend = Command("extend", c);
  extend.max_trials = 12;
  json x;
  REQUIRE(k.Cli(extend, &x) == 0);
  CHECK(x["state"] == "running");
  ClientConfig enqueue = Command("enqueue", c);
  enqueue.spec_files = {k.Write("gru.json", GruSpec(0.05).dump())};
  json q;
  REQUIRE(k.Cli(enqueue, &q) == 0);
  CHECK(q["trials"].size() == 1);
  CHECK(Must(k.server->coordinator().GetCampaign(c)).counts.pending == 2);  // median + this

  SECTION("bad input exits 2 with one line naming it") {
    ClientConfig bad = enqueue;
    bad.spec_files = {k.dir.File("missing.json")};
    CHECK(k.Cli(bad) == 2);
    bad.spec_files = {k.Write("far.json", GruSpec(0.5).dump())};
    CHECK(k.Cli(bad) == 2);
    CHECK(k.last_err.find("train.lr") != std::string::npos);
    bad.spec_files = {k.Write("broken.json", "{\"layers\": [")};
    CHECK(k.Cli(bad) == 2);
    bad.spec_files = {};
    CHECK(k.Cli(bad) == 2);
    ClientConfig small = extend;
    small.max_trials = 3;  // below the current 12
    CHECK(k.Cli(small) == 2);
    small.max_trials = 0;
    CHECK(k.Cli(small) == 2);
    for (const char* name : {"median", "enrichment"}) {
      ClientConfig top0 = Command(name, c);
      top0.top = 0;
      CHECK(k.Cli(top0) == 2);
      ClientConfig unknown = Command(name, 999);
      unknown.top = 3;
      CHECK(k.Cli(unknown) == 2);
    }
    ClientConfig by = Command("compare", c);
    by.by = "layers[7].cell.type";
    CHECK(k.Cli(by) == 2);
    CHECK(k.last_err.find("neither cell_type nor a parameter") != std::string::npos);
    // A campaign with no completed trial has no top-K yet.
    json other;
    REQUIRE(k.Cli(launch, &other) == 0);
    ClientConfig empty = Command("enrichment", other["id"]);
    empty.top = 3;
    CHECK(k.Cli(empty) == 2);
  }
}

TEST_CASE("plan commands: missing required flags exit 2 from the binary", "[client]") {
  const std::string convrnn = std::string(CONVRNN_BINARY_DIR) + "/client/convrnn";
  for (const char* args : {"median 1", "enrichment 1", "compare 1", "extend 1", "enqueue 1",
                           "median 1 --top 0", "extend x --max-trials 3"}) {
    const int rc =
        std::system((convrnn + " --server 127.0.0.1:1 " + args + " 2>/dev/null").c_str());
    INFO(args);
    CHECK(WEXITSTATUS(rc) == 2);
  }
}

}  // namespace
}  // namespace convrnn::client
