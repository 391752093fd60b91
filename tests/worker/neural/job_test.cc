// Neural scoring as the service runs it (worker/neural/job.h): a trained
// checkpoint records its input statistics and is scored from them; an old
// checkpoint without them falls back (with a warning) to the data spec; a
// missing checkpoint, a malformed file or a missing region fail clearly.
#include "worker/neural/job.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

// LibTorch and Catch2 in this order (tests/torch_catch.h), then the helpers.
#include "tests/torch_catch.h"

#include "spec/neural_spec.h"
#include "tests/test_support.h"
#include "worker/data/data.h"
#include "worker/model/model.h"
#include "worker/neural/recordings.h"
#include "worker/neural/synthetic.h"
#include "worker/train/checkpoint.h"
#include "worker/train/trainer.h"

namespace convrnn {
namespace {

using ::convrnn::testing::Must;
using ::convrnn::testing::MustOk;
using ::convrnn::testing::TempDir;
using nlohmann::json;

ArchSpec TinySpec() {
  json j = {
      {"input", {{"channels", 1}, {"height", 28}, {"width", 28}}},
      {"num_classes", 10},
      {"time", {{"steps", 5}, {"image_off", 3}}},
      {"layers",
       {{{"channels", 8},
         {"kernel", 5},
         {"stride", 2},
         {"pool", true},
         {"cell", {{"type", "time_decay"}}}},
        {{"channels", 8}, {"kernel", 3}, {"pool", true}, {"cell", {{"type", "time_decay"}}}}}},
      {"train", {{"lr", 0.05}, {"batch_size", 64}, {"epochs", 1}, {"seed", 3}}}};
  return Must(ParseArchSpec(j));
}

DataSpec TinyData() {
  DataSpec d;
  d.train_limit = 512;
  d.val_limit = 128;
  return d;
}

// Synthetic recordings of 48 images from a seeded teacher of the same spec.
std::string WriteRecordings(const TempDir& dir, const Datasets& data) {
  torch::manual_seed(11);
  ConvRnn teacher(TinySpec());
  SyntheticOptions options;
  options.sites_per_region = 6;
  options.repetitions = 4;
  options.noise_sd = 0.5;
  options.bins = 4;
  options.seed = 5;
  options.features.mean = data.mean;
  options.features.stddev = data.stddev;
  torch::Tensor stimuli = data.val.images.slice(0, 0, 48).to(torch::kFloat32).div(255.0);
  NeuralData recordings = Must(MakeSyntheticNeuralData(*teacher, stimuli, options));
  const std::string file = dir / "recordings.h5";
  MustOk(WriteNeuralData(file, recordings));
  return file;
}

TEST_CASE("a trained checkpoint is scored with the statistics it recorded", "[neural][service]") {
  TempDir dir;
  const Datasets data = Must(LoadDatasets(TinyData()));
  const std::string recordings = WriteRecordings(dir, data);
  const std::string trial_dir = dir / "trial-1";
  TrainerOptions trainer;
  trainer.checkpoint_dir = trial_dir;
  TrainResult trained = Must(Train(TinySpec(), data, trainer));
  REQUIRE(trained.model != nullptr);

  // The checkpoint holds the training-set mean and deviation.
  json meta;
  torch::manual_seed(0);
  ConvRnn loaded(TinySpec());
  MustOk(LoadCheckpointWeights(trial_dir, *loaded, &meta));
  REQUIRE(meta.contains(kNormalizationKey));
  CHECK(meta[kNormalizationKey]["mean"].get<std::vector<float>>() == data.mean);
  CHECK(meta[kNormalizationKey]["stddev"].get<std::vector<float>>() == data.stddev);

  std::vector<std::string> warnings;
  NeuralJobRunner runner([&](const std::string& w) { warnings.push_back(w); });
  NeuralSpec neural;
  neural.file = recordings;
  neural.regions = {"IT"};
  json from_checkpoint = Must(runner.ScoreCheckpoint(TinySpec(), trial_dir, TinyData(), neural));
  CHECK(warnings.empty());  // no reload of the training set
  REQUIRE(from_checkpoint["regions"].size() == 2);
  CHECK(from_checkpoint["method"] == "pls");

  // Scoring the model in memory after training gives the same report.
  json in_memory = Must(runner.ScoreWeights(TinySpec(), *trained.model, neural,
                                            Normalization{data.mean, data.stddev}));
  CHECK(in_memory["median_r"].get<double>() ==
        Approx(from_checkpoint["median_r"].get<double>()).margin(1e-9));

  std::map<std::string, double> metrics = NeuralMetrics(from_checkpoint, neural);
  CHECK(metrics.count("neural_predictivity") == 1);
  CHECK(metrics.count("neural_predictivity.IT") == 1);
  CHECK(metrics.count("neural_r.V4") == 1);
  CHECK(metrics.at("neural_r") == Approx(from_checkpoint["median_r"].get<double>()));

  SECTION("a checkpoint without recorded statistics recomputes them, with a warning") {
    json old_meta = meta;
    old_meta.erase(kNormalizationKey);
    torch::optim::SGD optimizer(loaded->parameters(), torch::optim::SGDOptions(0.1));
    MustOk(SaveCheckpoint(trial_dir + "/checkpoint.pt", *loaded, optimizer, old_meta));
    json recomputed = Must(runner.ScoreCheckpoint(TinySpec(), trial_dir, TinyData(), neural));
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("recomputing") != std::string::npos);
    CHECK(recomputed["median_r"].get<double>() ==
          Approx(from_checkpoint["median_r"].get<double>()).margin(1e-9));
  }
}

TEST_CASE("scoring fails clearly on a missing checkpoint, a malformed file or region",
          "[neural][service]") {
  TempDir dir;
  NeuralJobRunner runner;
  NeuralSpec neural;
  neural.file = dir / "recordings.h5";

  absl::Status missing =
      runner.ScoreCheckpoint(TinySpec(), dir / "trial-9", TinyData(), neural).status();
  CHECK(missing.code() == absl::StatusCode::kNotFound);
  CHECK(std::string(missing.message()).find(dir / "trial-9/checkpoint.pt") != std::string::npos);

  // A real checkpoint, then recordings that are not HDF5.
  const Datasets data = Must(LoadDatasets(TinyData()));
  TrainerOptions trainer;
  trainer.checkpoint_dir = dir / "trial-1";
  Must(Train(TinySpec(), data, trainer));
  std::ofstream(neural.file) << "not an HDF5 file";
  absl::Status malformed =
      runner.ScoreCheckpoint(TinySpec(), dir / "trial-1", TinyData(), neural).status();
  CHECK(malformed.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(malformed.message()).find(neural.file) != std::string::npos);

  neural.file = WriteRecordings(dir, data);
  neural.regions = {"V1"};
  absl::Status region =
      runner.ScoreCheckpoint(TinySpec(), dir / "trial-1", TinyData(), neural).status();
  CHECK(region.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(region.message()).find("region V1") != std::string::npos);
}

}  // namespace
}  // namespace convrnn
