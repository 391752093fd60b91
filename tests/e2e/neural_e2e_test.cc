// Neural predictivity through the service with real processes (issue 5):
// a campaign with a neural_predictivity objective on synthetic recordings
// completes and ranks by it; `convrnn score` scores a completed trial on a
// worker, stores the report with the trial and prints it; a missing
// checkpoint or a malformed file fails with one line and exit status 2.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/e2e/cluster.h"
#include "tests/e2e/process.h"
#include "util/posix_fs.h"

namespace convrnn::e2e {
namespace {

const std::string kSynth = kBin + "/worker/convrnn-neural-synth";

// The teacher has the campaign's input and time; its recordings are small
// (48 images x 16 sites x 4 bins), so scoring takes about a second.
std::string MakeRecordings(Cluster& cluster) {
  const json teacher = json::parse(R"({
    "input": {"channels": 1, "height": 28, "width": 28}, "num_classes": 10,
    "time": {"steps": 4},
    "layers": [
      {"channels": 8, "kernel": 5, "stride": 2, "pool": true, "cell": {"type": "time_decay"}},
      {"channels": 12, "kernel": 3, "pool": true, "cell": {"type": "time_decay"}}],
    "train": {"seed": 1}})");
  const std::string spec = cluster.dir() + "/teacher.json";
  std::ofstream(spec) << teacher.dump();
  const std::string out = cluster.dir() + "/synth.h5";
  RunResult r = Run({kSynth,     "--spec", spec,        "--out",   out,
                     "--images", "48",     "--regions", "V4,IT",   "--sites-per-region",
                     "8",        "--reps", "4",         "--noise", "0.5",
                     "--bins",   "4",      "--seed",    "1",       "--threads",
                     "1"},
                    120s, cluster.dir() + "/synth");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return out;
}

TEST_CASE("a neural objective campaign completes and convrnn score scores a trial",
          "[e2e][neural]") {
  Cluster cluster("neural");
  const std::string recordings = MakeRecordings(cluster);

  // Naming the objective without the section is refused at launch.
  json campaign = TinyCampaign(/*max_trials=*/2, /*max_parallel=*/2, /*epochs=*/1, 60);
  campaign["objectives"] = json::array({{{"metric", "neural_predictivity"}, {"goal", "max"}},
                                        {{"metric", "neural_predictivity.IT"}, {"goal", "max"}}});
  std::ofstream(cluster.dir() + "/no_section.json") << campaign.dump();
  RunResult refused = cluster.Client({"launch", cluster.dir() + "/no_section.json"});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("objectives[0].metric") != std::string::npos);

  campaign["neural"] = {{"file", recordings}};
  const auto start = std::chrono::steady_clock::now();
  const int64_t id = cluster.Launch(campaign);
  cluster.StartWorker({"--keep-checkpoints"});
  json status = cluster.WaitCompleted(id, 240s);
  const double campaign_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(status["counts"]["completed"] == 2);

  json best = cluster.ClientJson({"best", std::to_string(id), "--metric", "neural_predictivity"});
  json ranked = best.is_object() && best.contains("trials") ? best["trials"] : best;
  REQUIRE(ranked.size() == 2);
  for (const json& t : ranked) {
    INFO(t.dump());
    CHECK(t["final_metrics"].contains("neural_predictivity"));
    CHECK(t["final_metrics"].contains("neural_predictivity.IT"));
    CHECK(t["final_metrics"].contains("neural_r.V4"));
    CHECK(t["final_metrics"].contains("val_top1"));
  }
  CHECK(ranked[0]["final_metrics"]["neural_predictivity"].get<double>() >=
        ranked[1]["final_metrics"]["neural_predictivity"].get<double>());
  RunResult csv = cluster.Client({"export", std::to_string(id), "--format", "csv"});
  CHECK(csv.out.find("metric:neural_predictivity.IT") != std::string::npos);

  // convrnn score: the report is printed and stored with the trial.
  const std::string trial = std::to_string(ranked[0]["id"].get<int64_t>());
  const auto score_start = std::chrono::steady_clock::now();
  RunResult scored = cluster.Client({"score", trial, "--neural", recordings, "--method", "ridge"});
  const double score_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - score_start).count();
  INFO(scored.err);
  REQUIRE(scored.exit_code == 0);
  CHECK(scored.out.find("best layer") != std::string::npos);
  CHECK(scored.out.find("IT") != std::string::npos);
  CHECK(scored.out.find("Per time bin") != std::string::npos);
  WARN("neural e2e: campaign of 2 trials " << campaign_s << " s; convrnn score " << score_s
                                           << " s");

  json as_json = cluster.ClientJson({"score", trial, "--neural", recordings, "--layers", "1"});
  CHECK(as_json["state"] == "completed");
  CHECK(as_json["result"]["regions"].size() == 2);
  CHECK(as_json["result"]["layers"] == json::array({1}));
  json shown = cluster.ClientJson({"show", trial});
  REQUIRE(shown.contains("neural_scores"));
  CHECK(shown["neural_scores"].size() == 2);
  RunResult text = cluster.Client({"show", trial});
  CHECK(text.out.find("Neural score") != std::string::npos);

  // A malformed file: the worker's reason, one line, exit 2.
  const std::string garbage = cluster.dir() + "/garbage.h5";
  std::ofstream(garbage) << "not HDF5";
  RunResult malformed = cluster.Client({"score", trial, "--neural", garbage});
  CHECK(malformed.exit_code == 2);
  CHECK(malformed.err.find("garbage.h5") != std::string::npos);
  CHECK(std::count(malformed.err.begin(), malformed.err.end(), '\n') == 1);

  // The other trial's checkpoint gone: the error names where it looked.
  const std::string other = std::to_string(ranked[1]["id"].get<int64_t>());
  const std::string dir = cluster.dir() + "/checkpoints/trial-" + other;
  REQUIRE(std::filesystem::exists(dir));
  REQUIRE(RemoveTree(dir).ok());
  RunResult missing = cluster.Client({"score", other, "--neural", recordings});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find(dir + "/checkpoint.pt") != std::string::npos);

  // Unknown trial.
  RunResult unknown = cluster.Client({"score", "9999", "--neural", recordings});
  CHECK(unknown.exit_code == 2);
}

}  // namespace
}  // namespace convrnn::e2e
