// Slurm, live: a one-node cluster (slurm_cluster.sh: munged, slurmctld,
// slurmd on free loopback ports), the coordinator submitted with
// deploy/slurm/server.sbatch, a CPU worker array of two tasks with
// deploy/slurm/workers-cpu.sbatch, and a real campaign run to completion with
// trials on both tasks. Mid-trial, one task is scancel'ed (its trial goes
// back and is completed exactly once, resumed from its checkpoint), and the
// other is requeued (it restarts as a new worker, which resumes its trial
// from the checkpoint). Where Slurm cannot start, the test fails saying why.
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "tests/e2e/cluster.h"

namespace convrnn::e2e {
namespace {

const std::string kSource = CONVRNN_SOURCE_DIR;
constexpr int kTrials = 8;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Worker ids a task's output shows it registered as, in order.
std::vector<int64_t> RegisteredAs(const std::string& log) {
  std::vector<int64_t> ids;
  const std::regex registered("as worker ([0-9]+)");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), registered);
       it != std::sregex_iterator(); ++it) {
    ids.push_back(std::stoll((*it)[1]));
  }
  return ids;
}

class SlurmCluster {
 public:
  explicit SlurmCluster(const std::string& dir) : dir_(dir + "/slurm") {
    RunResult r = Run({"/bin/bash", kSource + "/tests/e2e/slurm_cluster.sh", "start", dir_,
                       std::to_string(FreePort()), std::to_string(FreePort())},
                      120s, dir + "/cluster-start");
    INFO("Slurm cannot start here: " << r.err);
    REQUIRE(r.exit_code == 0);
    setenv("SLURM_CONF", (dir_ + "/slurm.conf").c_str(), 1);
  }
  ~SlurmCluster() {
    Run({"/bin/bash", "-c", "scancel --full --signal=KILL -u root; true"}, 30s, dir_ + "/scancel");
    Run({"/bin/bash", kSource + "/tests/e2e/slurm_cluster.sh", "stop", dir_}, 30s, dir_ + "/stop");
  }
  // Runs a Slurm command; its stdout.
  std::string Command(std::vector<std::string> argv) {
    RunResult r = Run(argv, 60s, dir_ + "/cmd" + std::to_string(++calls_));
    INFO(argv[0] << ": " << r.err
                 << "\nslurmctld: " << ReadAll(dir_ + "/log/slurmctld.log").substr(0, 2000));
    REQUIRE(r.exit_code == 0);
    return Trim(r.out);
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int calls_ = 0;
};

// The client against the server job, whose address the job published.
struct Client {
  std::string dir, address;
  int calls = 0;
  json Json(std::vector<std::string> args) {
    std::vector<std::string> argv = {kClient, "--server", address, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = Run(argv, 60s, dir + "/client" + std::to_string(++calls));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
  }
  json Trials(int64_t campaign) {
    json trials = Json({"trials", std::to_string(campaign)});
    return trials.is_object() && trials.contains("trials") ? trials["trials"] : trials;
  }
};

// The RUNNING trial `worker` holds once it has reported an epoch (so its
// checkpoint exists), or 0.
int64_t RunningWithCheckpoint(Client& client, int64_t campaign, int64_t worker) {
  for (const json& t : client.Trials(campaign)) {
    if (t["state"] != "running" || t["worker_id"] != worker) continue;
    const json detail = client.Json({"show", std::to_string(t["id"].get<int64_t>())});
    if (detail.contains("epochs") && !detail["epochs"].empty()) return t["id"];
  }
  return 0;
}

TEST_CASE("Slurm: server job, worker array, scancel and requeue mid-trial", "[e2e][slurm]") {
  const std::string dir = TempDir("slurm");
  SlurmCluster slurm(dir);
  std::filesystem::create_directories(dir + "/bin");
  for (const std::string& binary : {kServer, kWorker, kClient}) {
    std::filesystem::create_symlink(
        binary, dir + "/bin/" + std::filesystem::path(binary).filename().string());
  }
  const int port = FreePort();
  setenv("CONVRNN_BIN", (dir + "/bin").c_str(), 1);
  setenv("CONVRNN_ADDRESS_FILE", (dir + "/server-address").c_str(), 1);
  setenv("CONVRNN_DB", (dir + "/node-local/campaigns.db").c_str(), 1);
  setenv("CONVRNN_PORT", std::to_string(port).c_str(), 1);
  setenv("CONVRNN_HOST", "127.0.0.1", 1);
  setenv("CONVRNN_CHECKPOINTS", (dir + "/checkpoints").c_str(), 1);
  setenv("CONVRNN_DEPLOY", (kSource + "/deploy/slurm").c_str(), 1);

  const std::string server_job =
      slurm.Command({"/usr/bin/sbatch", "--parsable", "--cpus-per-task=1", "--mem=1G", "-o",
                     dir + "/server-%j.out", kSource + "/deploy/slurm/server.sbatch"});
  REQUIRE(WaitFor([&] { return std::filesystem::exists(dir + "/server-address"); }, 60s));
  Client client{dir, Trim(ReadAll(dir + "/server-address"))};
  REQUIRE(client.address == "127.0.0.1:" + std::to_string(port));

  json campaign = TinyCampaign(kTrials, /*max_parallel=*/2, /*epochs=*/3,
                               /*lease_seconds=*/30);
  campaign["data"]["train_limit"] = 8192;  // epochs of seconds: time to act mid-trial
  campaign["trial"]["max_attempts"] = 5;
  std::ofstream(dir + "/campaign.json") << campaign.dump();
  const int64_t id = client.Json({"launch", dir + "/campaign.json"})["id"];

  const std::string array = slurm.Command(
      {"/usr/bin/sbatch", "--parsable", "--array=0-1", "--cpus-per-task=1", "--mem=2G", "-o",
       dir + "/worker-%A_%a.out", kSource + "/deploy/slurm/workers-cpu.sbatch"});
  const std::string log0 = dir + "/worker-" + array + "_0.out";
  const std::string log1 = dir + "/worker-" + array + "_1.out";
  auto diagnostics = [&] {
    return "task 0:\n" + ReadAll(log0) + "\ntask 1:\n" + ReadAll(log1) + "\nserver:\n" +
           ReadAll(dir + "/server-" + server_job + ".out").substr(0, 4000);
  };
  REQUIRE(WaitFor(
      [&] { return !RegisteredAs(ReadAll(log0)).empty() && !RegisteredAs(ReadAll(log1)).empty(); },
      120s));
  const int64_t worker0 = RegisteredAs(ReadAll(log0)).front();
  const int64_t worker1 = RegisteredAs(ReadAll(log1)).front();

  // Both tasks complete trials; then task 1 is cancelled in the middle of one.
  int64_t cancelled_trial = 0;
  bool both_completed = false;
  REQUIRE(WaitFor(
      [&] {
        std::set<int64_t> finishers;
        for (const json& t : client.Trials(id)) {
          if (t["state"] == "completed") finishers.insert(t["worker_id"].get<int64_t>());
        }
        both_completed = finishers.count(worker0) > 0 && finishers.count(worker1) > 0;
        if (both_completed) cancelled_trial = RunningWithCheckpoint(client, id, worker1);
        return cancelled_trial != 0;
      },
      600s));
  INFO(diagnostics());
  slurm.Command({"/usr/bin/scancel", array + "_1"});
  REQUIRE(WaitFor([&] { return ReadAll(log1).find("handed back") != std::string::npos; }, 60s));

  // Task 0 is requeued in the middle of a trial: it comes back as a new worker.
  int64_t requeued_trial = 0;
  REQUIRE(
      WaitFor([&] { return (requeued_trial = RunningWithCheckpoint(client, id, worker0)); }, 600s));
  slurm.Command({"/usr/bin/scontrol", "requeue", array + "_0"});
  REQUIRE(WaitFor([&] { return RegisteredAs(ReadAll(log0)).size() >= 2; }, 300s));

  const json status = client.Json({"status", std::to_string(id)});
  REQUIRE(WaitFor(
      [&] {
        return client.Json({"status", std::to_string(id)})["state"] == "completed";
      },
      900s));
  const json trials = client.Trials(id);
  REQUIRE(trials.size() == kTrials);
  std::set<int64_t> ids;
  for (const json& t : trials) {
    CHECK(t["state"] == "completed");
    ids.insert(t["id"].get<int64_t>());
  }
  CHECK(ids.size() == kTrials);
  for (const int64_t resumed : {cancelled_trial, requeued_trial}) {
    const json t = client.Json({"show", std::to_string(resumed)});
    INFO("trial " << resumed << ": " << t.dump());
    CHECK(t["state"] == "completed");
    CHECK(t["attempt"].get<int>() >= 2);
    CHECK(t["final_metrics"]["resumed_epochs"].get<double>() >= 1);
  }
  CHECK(ReadAll(log0).find("resuming from") != std::string::npos);
  (void)status;
}

}  // namespace
}  // namespace convrnn::e2e
