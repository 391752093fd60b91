// The real `convrnn` binary against an in-process fake CampaignService:
// exit statuses, one-line reasons, --json output, paging and watch.
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/client/fake_campaign_service.h"

namespace convrnn::client {
namespace {

using nlohmann::json;
using testing::FakeCampaignService;
using testing::FakeServer;

struct Result {
  int rc = -1;
  std::string out;
  std::string err;
  double seconds = 0;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/convrnn_client_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string File(const std::string& name, const std::string& content = "") const {
    std::string p = path_ + "/" + name;
    if (!content.empty()) std::ofstream(p) << content;
    return p;
  }

 private:
  std::string path_;
};

// Runs `convrnn <args>` (args are shell words the test controls), stdout and
// stderr captured, stdin closed.
// `env` prefixes the command with VAR=value words.
Result RunCli(const std::string& args, const std::string& env = "") {
  TempDir dir;
  const std::string out = dir.File("stdout"), err = dir.File("stderr");
  const std::string cmd = env + " " + std::string(CONVRNN_BINARY_DIR) + "/client/convrnn " + args +
                          " </dev/null >" + out + " 2>" + err;
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(cmd.c_str());
  Result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

// One line on stderr, naming what went wrong.
void CheckOneLineReason(const Result& r, const std::string& words) {
  INFO("stderr: " << r.err);
  CHECK(r.err.find(words) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

json ParseOut(const Result& r) {
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.rc == 0);
  json j = json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

TEST_CASE("cli: unknown ids are bad input (exit 2) with the server's reason", "[client]") {
  FakeServer server;
  const std::string s = "--server " + server.address() + " ";
  for (const char* args :
       {"status 99", "trials 99", "best 99", "pareto 99", "watch 99", "stop 99", "resume 99"}) {
    INFO(args);
    Result r = RunCli(s + args);
    CHECK(r.rc == 2);
    CheckOneLineReason(r, "campaign 99 not found");
  }
  Result r = RunCli(s + "show 999");
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "trial 999 not found");
}

TEST_CASE("cli: launch refuses a file that is not JSON before calling the server", "[client]") {
  FakeServer server;
  TempDir dir;
  Result r = RunCli("--server " + server.address() + " launch " +
                    dir.File("bad.json", "{\"name\": \"x\",, }"));
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "not valid JSON");
  CHECK(server.service().launches() == 0);

  r = RunCli("--server " + server.address() + " launch " + dir.File("missing.json"));
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "cannot open");
}

TEST_CASE("cli: launch reports the server's INVALID_ARGUMENT with exit 2", "[client]") {
  FakeServer server;
  TempDir dir;
  Result r =
      RunCli("--server " + server.address() + " launch " + dir.File("c.json", "{\"data\": {}}"));
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "name: required");
  CHECK(server.service().launches() == 1);

  r = RunCli("--server " + server.address() + " --json launch " +
             dir.File("ok.json", "{\"name\": \"fresh\"}"));
  json j = ParseOut(r);
  CHECK(j["id"] == 8);
  CHECK(j["name"] == "fresh");
  CHECK(j["state"] == "running");
  CHECK(j["campaign"]["name"] == "fresh");
}

TEST_CASE("cli: a launch whose reply is lost is sent again with the same request id", "[client]") {
  FakeServer server;
  TempDir dir;
  const std::string file = dir.File("ok.json", "{\"name\": \"fresh\"}");
  server.service().FailLaunches(2);
  Result r = RunCli("--server " + server.address() + " --json launch " + file);
  CHECK(ParseOut(r)["id"] == 8);
  const std::vector<std::string> ids = server.service().launch_request_ids();
  REQUIRE(ids.size() == 3);
  CHECK(ids[0].size() == 32);
  CHECK(ids[0].find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(ids[1] == ids[0]);
  CHECK(ids[2] == ids[0]);
  // One note per retry, with the backoff doubling.
  CHECK(r.err.find("retrying in 500ms with request id " + ids[0] + " (attempt 2 of 5)") !=
        std::string::npos);
  CHECK(r.err.find("retrying in 1s with request id " + ids[0] + " (attempt 3 of 5)") !=
        std::string::npos);

  // Each invocation is a new launch: a new id.
  r = RunCli("--server " + server.address() + " launch " + file);
  CHECK(r.rc == 0);
  CHECK(server.service().launch_request_ids().back() != ids[0]);
  // A script's own id is sent as given.
  r = RunCli("--server " + server.address() + " launch --request-id nightly-2026-11-30 " + file);
  CHECK(r.rc == 0);
  CHECK(server.service().launch_request_ids().back() == "nightly-2026-11-30");
  // An id the server will refuse is still printed escaped while retrying.
  server.service().FailLaunches(1);
  r = RunCli("--server " + server.address() + " launch --request-id \"$(printf 'a\\033[2Jb')\" " +
             file);
  CHECK(r.err.find("with request id a\\x1b[2Jb (attempt 2 of 5)") != std::string::npos);
  CHECK(r.err.find('\x1b') == std::string::npos);
  // --help says so.
  r = RunCli("launch --help");
  CHECK(r.rc == 0);
  CHECK(r.out.find("--request-id") != std::string::npos);
  CHECK(r.out.find("sent again with the same request id") != std::string::npos);
}

TEST_CASE("cli: a launch that never gets a reply gives up after 5 attempts, naming its id",
          "[client]") {
  FakeServer server;
  TempDir dir;
  const std::string file = dir.File("ok.json", "{\"name\": \"fresh\"}");
  server.service().FailLaunches(100);
  Result r = RunCli("--server " + server.address() + " launch --request-id abc123 " + file);
  CHECK(r.rc == 1);
  CHECK(server.service().launches() == 5);
  INFO("stderr: " << r.err);
  CHECK(r.err.find("5 attempts; the campaign may have been created: `convrnn launch "
                   "--request-id abc123 " +
                   file + "` retries without a duplicate") != std::string::npos);
  // Bounded: 0.5 + 1 + 2 + 4 s of backoff.
  CHECK(r.seconds < 30);
  // Other errors are not retried.
  server.service().FailLaunches(0);
  r = RunCli("--server " + server.address() + " launch " + dir.File("c.json", "{\"data\": {}}"));
  CHECK(r.rc == 2);
  CHECK(server.service().launches() == 6);
}

TEST_CASE("cli: an unreachable server fails fast with exit 1", "[client]") {
  std::string address;
  {
    FakeServer gone;  // a port that was just free and is now closed
    address = gone.address();
  }
  Result r = RunCli("--server " + address + " --timeout 2 campaigns");
  CHECK(r.rc == 1);
  CheckOneLineReason(r, "cannot reach convrnn-server at " + address);
  CHECK(r.seconds < 10);

  // CONVRNN_SERVER is the default when --server is absent.
  r = RunCli("--timeout 2 status 7", "CONVRNN_SERVER=" + address);
  CHECK(r.rc == 1);
  CHECK(r.err.find("cannot reach convrnn-server at " + address) != std::string::npos);
}

TEST_CASE("cli: bad flags are bad input", "[client]") {
  FakeServer server;
  const std::string s = "--server " + server.address() + " ";
  for (const char* args :
       {"status abc", "status 0", "frobnicate", "trials 7 --state sleeping",
        "show 101 --format svg", "export 7", "best 7 --top -3", "pareto 7 --objective params"}) {
    INFO(args);
    Result r = RunCli(s + args);
    CHECK(r.rc == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

TEST_CASE("cli: trials follows page tokens to the last page", "[client]") {
  FakeServer server;
  json j = ParseOut(RunCli("--server " + server.address() + " --json trials 7"));
  REQUIRE(j["trials"].size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(j["trials"][i]["id"] == 101 + i);
  CHECK(server.service().page_tokens() == std::vector<std::string>{"", "2", "4"});

  j = ParseOut(RunCli("--server " + server.address() + " --json trials 7 --state completed"));
  CHECK(j["trials"].size() == 3);
  for (const auto& t : j["trials"]) CHECK(t["state"] == "completed");

  Result r = RunCli("--server " + server.address() + " trials 7");
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("TRIAL") == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 6);  // header + 5
  CHECK(r.out.find("85.00%") != std::string::npos);
  CHECK(r.out.find("20,000") != std::string::npos);
}

TEST_CASE("cli: --json output of every query command parses", "[client]") {
  FakeServer server;
  const std::string s = "--server " + server.address() + " --json ";
  json j = ParseOut(RunCli(s + "campaigns"));
  CHECK(j["campaigns"].size() == 2);
  CHECK(j["campaigns"][0]["counts"]["completed"] == 3);

  j = ParseOut(RunCli(s + "status 7"));
  CHECK(j["id"] == 7);
  CHECK(j["campaign"]["search"]["max_trials"] == 5);

  j = ParseOut(RunCli(s + "best 7 --top 2"));
  CHECK(j["metric"] == "val_top1");
  REQUIRE(j["trials"].size() == 2);
  CHECK(j["trials"][0]["id"] == 103);
  CHECK(j["trials"][0]["spec"]["layers"].size() == 4);

  j = ParseOut(RunCli(s + "pareto 7"));
  CHECK(j["objectives"] == json{"val_top1:max", "params:min"});
  CHECK(j["trials"].size() == 2);

  j = ParseOut(RunCli(s + "show 101"));
  CHECK(j["id"] == 101);
  CHECK(j["spec"]["feedback"].size() == 2);
  CHECK(j["epochs"][0]["metrics"]["val_top1"] == 0.75);

  j = ParseOut(RunCli(s + "workers"));
  CHECK(j["workers"][0]["device"] == "cuda:0");

  j = ParseOut(RunCli(s + "stop 7"));
  CHECK(j["state"] == "stopped");
  j = ParseOut(RunCli(s + "resume 7"));
  CHECK(j["state"] == "running");
}

TEST_CASE("cli: human views of the query commands", "[client]") {
  FakeServer server;
  const std::string s = "--server " + server.address() + " ";
  Result r = RunCli(s + "best 7");
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("Best 3 trials of campaign 7 by val_top1 (max):") == 0);
  CHECK(r.out.find("90.00%") < r.out.find("80.00%"));  // best first

  r = RunCli(s + "show 101 --format dot");
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("digraph trial_101 {") == 0);
  CHECK(r.out.find("L3 -> L1 [style=dashed") != std::string::npos);

  r = RunCli(s + "show 101");
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("Trial 101 (campaign 7, #1): completed") == 0);
  CHECK(r.out.find("cell rgc") != std::string::npos);

  r = RunCli(s + "status 7");
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("Trials:   5 of 5 proposed: 3 done, 1 running") != std::string::npos);
}

TEST_CASE("cli: watch prints each event and ends when the stream ends", "[client]") {
  FakeServer server;
  Result r = RunCli("--server " + server.address() + " watch 7");
  INFO(r.out << r.err);
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("trial 101 epoch 1 val_top1 60.00%") != std::string::npos);
  CHECK(r.out.find("trial 101 completed val_top1 80.00%") != std::string::npos);
  CHECK(r.out.find("campaign 7 demo: running | 1/5 done, 0 running") != std::string::npos);

  r = RunCli("--server " + server.address() + " --json watch 7");
  REQUIRE(r.rc == 0);
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    json e = json::parse(line, nullptr, false);
    REQUIRE_FALSE(e.is_discarded());
    CHECK(e["id"] == ++n);
  }
  CHECK(n == static_cast<int>(FakeCampaignService::Events(7).size()));
}

TEST_CASE("cli: watch leaves once the campaign completes, even if the stream stays open",
          "[client]") {
  FakeServer server;
  Result r = RunCli("--server " + server.address() + " watch 9");
  INFO(r.out << r.err);
  CHECK(r.rc == 0);
  CHECK(r.out.find("campaign completed") != std::string::npos);
  CHECK(r.seconds < 5);  // the fake holds the stream open for 10 s
}

TEST_CASE("cli: watch resumes after the last event when the server drops the stream", "[client]") {
  FakeServer server;
  Result r = RunCli("--server " + server.address() + " --json watch 11");
  INFO(r.out << r.err);
  REQUIRE(r.rc == 0);
  CHECK(r.err.find("reconnecting") != std::string::npos);
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) CHECK(json::parse(line)["id"] == ++n);  // no repeats
  CHECK(n == static_cast<int>(FakeCampaignService::Events(9).size()));
}

TEST_CASE("cli: export writes CSV (client-built when the server cannot) or JSON", "[client]") {
  FakeServer server;
  TempDir dir;
  const std::string s = "--server " + server.address() + " ";
  Result r = RunCli(s + "export 7 --format csv");
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("trial_id,number,state,attempt,worker_id,failure_reason") == 0);
  CHECK(r.out.find("\"loss became NaN, at epoch 1\"") != std::string::npos);

  const std::string file = dir.File("export.json");
  json j = ParseOut(RunCli(s + "--json export 7 --format json --output " + file));
  CHECK(j["output"] == file);
  CHECK(Slurp(file) == "[{\"from\": \"server\"}]\n");
}

TEST_CASE("cli: --token-file sends a bearer token", "[client]") {
  FakeServer server;
  TempDir dir;
  Result r = RunCli("--server " + server.address() + " --token-file " +
                    dir.File("token", "s3cret\n") + " campaigns");
  REQUIRE(r.rc == 0);
  CHECK(server.service().last_authorization() == "Bearer s3cret");

  r = RunCli("--server " + server.address() + " --token-file " + dir.File("none") + " campaigns");
  CHECK(r.rc == 2);
}

TEST_CASE("cli: score waits for the worker's report and prints it", "[client]") {
  FakeServer server;
  const std::string s = "--server " + server.address() + " ";
  Result r = RunCli(s + "score 101 --neural /data/rec.h5 --method ridge --layers 0,1 --offset 2");
  INFO(r.err);
  REQUIRE(r.rc == 0);
  CHECK(r.err.empty());  // no progress notes when not on a terminal
  CHECK(r.out.find("Trial 101, score 1 (worker 3)") == 0);
  CHECK(r.out.find("best layer") != std::string::npos);
  CHECK(r.out.find("IT") != std::string::npos);
  json sent = json::parse(server.service().neural_json());
  CHECK(sent["file"] == "/data/rec.h5");
  CHECK(sent["method"] == "ridge");
  CHECK(sent["layers"] == json::array({0, 1}));
  CHECK(sent["offset"] == 2);

  json j = ParseOut(RunCli(s + "--json score 101 --neural /data/rec.h5"));
  CHECK(j["state"] == "completed");
  CHECK(j["result"]["regions"][0]["best_layer"] == 1);
  CHECK_FALSE(json::parse(server.service().neural_json()).contains("layers"));
}

TEST_CASE("cli: score failures are one line, bad input exits 2", "[client]") {
  FakeServer server;
  const std::string s = "--server " + server.address() + " ";
  Result r = RunCli(s + "score 102 --neural /data/garbage.h5");
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "trial 102: /data/garbage.h5: not an HDF5 file");
  r = RunCli(s + "score 105 --neural /data/rec.h5");
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "only a COMPLETED trial can be scored");
  r = RunCli(s + "score 999 --neural /data/rec.h5");
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "trial 999 not found");
  r = RunCli(s + "score 101");
  CHECK(r.rc == 2);
  r = RunCli(s + "score 101 --neural /data/rec.h5 --method svm");
  CHECK(r.rc == 2);
}

}  // namespace
}  // namespace convrnn::client

namespace convrnn::client {
namespace {

TEST_CASE("cli: hostile campaign files exit 2 with the key path, the server untouched",
          "[client]") {
  FakeServer server;
  TempDir dir;
  std::string deep = "0.1";
  for (int i = 0; i < 6000; ++i) deep = "{\"choice\":[" + deep + "]}";
  const std::string s = "--server " + server.address() + " launch ";
  Result r =
      RunCli(s + dir.File("deep.json", "{\"name\": \"d\", \"space\": {\"lr\": " + deep + "}}"));
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "space.lr.choice[0].choice[0]");
  r = RunCli(s + dir.File("huge.json", "{\"name\": \"h\", \"space\": {\"lr\": 1e400}}"));
  CHECK(r.rc == 2);  // was SIGABRT
  CheckOneLineReason(r, "number out of range");
  r = RunCli(s + dir.File("nan.json", "{\"name\": \"n\", \"space\": {\"lr\": NaN}}"));
  CHECK(r.rc == 2);
  r = RunCli(s + dir.File("big.json",
                          "{\"name\": \"b\", \"pad\": \"" + std::string(1100000, ' ') + "\"}"));
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "at most 1048576");
  CHECK(server.service().launches() == 0);
}

TEST_CASE("cli: control characters in a campaign name print escaped", "[client]") {
  FakeServer server;
  TempDir dir;
  Result r = RunCli("--server " + server.address() + " launch " +
                    dir.File("c.json", R"({"name": "x\u001b[2J\u0007\r\n8  fake  running"})"));
  REQUIRE(r.rc == 0);
  CHECK(r.out.find('\x1b') == std::string::npos);
  CHECK(r.out.find('\a') == std::string::npos);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  CHECK(r.out.find("x\\x1b[2J\\x07\\x0d\\x0a8  fake  running") != std::string::npos);
}

TEST_CASE("cli: an empty token file is bad input, not an anonymous call", "[client]") {
  FakeServer server;
  TempDir dir;
  const std::string empty = dir.File("empty");
  std::ofstream(empty) << " \n";
  Result r = RunCli("--server " + server.address() + " --token-file " + empty + " campaigns");
  CHECK(r.rc == 2);
  CheckOneLineReason(r, "is empty");
  CHECK(server.service().last_authorization().empty());
}

}  // namespace
}  // namespace convrnn::client
