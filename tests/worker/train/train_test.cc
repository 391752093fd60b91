// The trainer on real Fashion-MNIST subsets: learning, exact resume,
// divergence, corrupt checkpoints, budgets and early stopping.
#include "tests/torch_catch.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/test_support.h"
#include "tests/worker/train/train_fixtures.h"
#include "worker/data/data.h"
#include "worker/train/trainer.h"

namespace convrnn {
namespace {

using nlohmann::json;

using train_testing::SmallSpec;

ArchSpec Parse(const json& j) { return train_testing::ParseOrFail(j); }
const Datasets& Subset() { return train_testing::FashionSubset(4096, 1000); }

using ::convrnn::testing::TempDir;

TEST_CASE("a short run on Fashion-MNIST learns well above chance", "[train]") {
  absl::StatusOr<TrainResult> result = Train(Parse(SmallSpec("rgc")), Subset(), {});
  REQUIRE(result.ok());
  REQUIRE(result->epochs.size() == 2);
  CHECK(result->epochs[1].train_loss < result->epochs[0].train_loss);
  CHECK(result->val_top1 > 0.55);  // chance is 0.10
  CHECK(result->epochs[0].images_per_sec > 0);
  CHECK(result->params > 0);
  CHECK(result->flops_per_image > 0);
}

TEST_CASE("the data spec's augmentation reaches the training batches", "[train]") {
  DataSpec d;
  d.train_limit = 512;
  d.val_limit = 200;
  d.augment.crop_padding = 2;
  d.augment.flip = true;
  absl::StatusOr<Datasets> augmented = LoadDatasets(d);
  REQUIRE(augmented.ok());
  CHECK(augmented->augment.crop_padding == 2);
  CHECK(augmented->augment.flip);
  Datasets plain = *augmented;
  plain.augment = {};
  json j = SmallSpec("feedforward");
  j["train"]["epochs"] = 1;
  const ArchSpec spec = Parse(j);
  absl::StatusOr<TrainResult> with = Train(spec, *augmented, {});
  absl::StatusOr<TrainResult> without = Train(spec, plain, {});
  REQUIRE(with.ok());
  REQUIRE(without.ok());
  // Same seed, same order: only the augmented pixels can change the loss.
  CHECK(with->epochs[0].train_loss != without->epochs[0].train_loss);
  absl::StatusOr<TrainResult> again = Train(spec, plain, {});
  REQUIRE(again.ok());
  CHECK(again->epochs[0].train_loss == without->epochs[0].train_loss);
}

TEST_CASE("an interrupted and resumed run equals an uninterrupted one", "[train][checkpoint]") {
  json j = SmallSpec("lstm");
  j["train"]["epochs"] = 3;
  ArchSpec spec = Parse(j);

  TempDir whole_dir, parts_dir;
  TrainerOptions whole;
  whole.checkpoint_dir = whole_dir.str();
  absl::StatusOr<TrainResult> a = Train(spec, Subset(), whole);
  REQUIRE(a.ok());

  TrainerOptions first;
  first.checkpoint_dir = parts_dir.str();
  first.on_epoch = [](const EpochMetrics& m) { return m.epoch < 1; };  // stop after epoch 1
  absl::StatusOr<TrainResult> part = Train(spec, Subset(), first);
  REQUIRE(part.ok());
  REQUIRE(part->epochs.size() == 1);
  CHECK(part->stopped_early);

  TrainerOptions rest;
  rest.checkpoint_dir = first.checkpoint_dir;
  absl::StatusOr<TrainResult> b = Train(spec, Subset(), rest);
  REQUIRE(b.ok());
  CHECK(b->resumed_epochs == 1);
  REQUIRE(b->epochs.size() == 3);
  for (int e = 0; e < 3; ++e) {
    INFO("epoch " << e + 1);
    CHECK(b->epochs[e].train_loss == a->epochs[e].train_loss);
    CHECK(b->epochs[e].val_top1 == a->epochs[e].val_top1);
    CHECK(b->epochs[e].steps == a->epochs[e].steps);
  }
  CHECK(b->val_top1 == a->val_top1);

  // A finished run resumed again trains nothing more and reports the same.
  absl::StatusOr<TrainResult> again = Train(spec, Subset(), rest);
  REQUIRE(again.ok());
  CHECK(again->resumed_epochs == 3);
  CHECK(again->val_top1 == a->val_top1);
}

TEST_CASE("a corrupt checkpoint is reported and training starts afresh", "[train][checkpoint]") {
  ArchSpec spec = Parse(SmallSpec("gru"));
  TrainerOptions options;
  TempDir dir;
  options.checkpoint_dir = dir.str();
  {
    std::ofstream out(options.checkpoint_dir + "/checkpoint.pt", std::ios::binary);
    out << "PK\x03\x04 this is not a checkpoint";
  }
  std::vector<std::string> warnings;
  options.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  absl::StatusOr<TrainResult> result = Train(spec, Subset(), options);
  REQUIRE(result.ok());
  CHECK(result->resumed_epochs == 0);
  CHECK(result->epochs.size() == 2);
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("checkpoint.pt: unreadable checkpoint"));

  // A checkpoint of another spec is not resumed either.
  json other = SmallSpec("gru");
  other["layers"][1]["channels"] = 16;
  warnings.clear();
  absl::StatusOr<TrainResult> fresh = Train(Parse(other), Subset(), options);
  REQUIRE(fresh.ok());
  CHECK(fresh->resumed_epochs == 0);
  REQUIRE_FALSE(warnings.empty());
  CHECK_THAT(warnings[0], Catch::Contains("different spec"));
}

TEST_CASE("a diverging network fails with a non-finite loss", "[train]") {
  // h = relu(u + 2 h_prev) over 140 steps overflows float32: the loss is NaN.
  json j = {{"input", {{"channels", 1}, {"height", 28}, {"width", 28}}},
            {"num_classes", 10},
            {"time", {{"steps", 140}}},
            {"layers",
             {{{"channels", 4},
               {"kernel", 3},
               {"stride", 4},
               {"pool", true},
               {"cell", {{"type", "time_decay"}, {"decay_init", 2.0}}}}}},
            {"train", {{"batch_size", 32}, {"epochs", 1}}}};
  absl::StatusOr<TrainResult> result = Train(Parse(j), Subset(), {});
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kAborted);
  CHECK_THAT(std::string(result.status().message()), Catch::Contains("non-finite loss"));
  CHECK_THAT(std::string(result.status().message()), Catch::Contains("diverged"));
}

TEST_CASE("budgets in steps, early stopping and mismatched specs", "[train]") {
  json j = SmallSpec("feedforward");
  j["train"].erase("epochs");
  j["train"]["steps"] = 72;  // 64 steps per epoch: one full epoch and 8 steps
  int calls = 0;
  TrainerOptions options;
  options.on_epoch = [&](const EpochMetrics&) { return ++calls > 0; };
  absl::StatusOr<TrainResult> result = Train(Parse(j), Subset(), options);
  REQUIRE(result.ok());
  REQUIRE(result->epochs.size() == 2);
  CHECK(result->epochs[0].steps == 64);
  CHECK(result->epochs[1].steps == 72);
  CHECK(calls == 2);

  json wrong = SmallSpec();
  wrong["input"]["channels"] = 3;
  absl::StatusOr<TrainResult> refused = Train(Parse(wrong), Subset(), {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(refused.status().message()),
             Catch::Contains("input: spec expects 3x28x28"));

  TrainerOptions gpu;
  gpu.device = "cuda:0";
  if (!torch::cuda::is_available()) {
    absl::StatusOr<TrainResult> no_gpu = Train(Parse(SmallSpec()), Subset(), gpu);
    REQUIRE_FALSE(no_gpu.ok());
    CHECK_THAT(std::string(no_gpu.status().message()), Catch::Contains("CUDA is not available"));
  }
}

TEST_CASE("a cancelled run stops with CANCELLED", "[train]") {
  std::atomic<bool> cancel{false};
  TrainerOptions options;
  options.cancel = &cancel;
  options.on_step = [&](int64_t step) {
    if (step >= 20) cancel = true;
  };
  absl::StatusOr<TrainResult> result = Train(Parse(SmallSpec("feedforward")), Subset(), options);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == absl::StatusCode::kCancelled);
  CHECK_THAT(std::string(result.status().message()), Catch::Contains("epoch 1, step 20"));
}

TEST_CASE("bf16 and channels-last train on CUDA", "[train][.gpu]") {
  REQUIRE(torch::cuda::is_available());
  json j = SmallSpec("rgc");
  j["train"]["precision"] = "bf16";
  j["train"]["channels_last"] = true;
  TrainerOptions options;
  options.device = "cuda:0";
  absl::StatusOr<TrainResult> result = Train(Parse(j), Subset(), options);
  REQUIRE(result.ok());
  CHECK(result->val_top1 > 0.5);
}

}  // namespace
}  // namespace convrnn
