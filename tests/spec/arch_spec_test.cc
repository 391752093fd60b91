// Spec parsing: good specs round-trip, bad specs are refused before any
// training with a message naming the key path and the rule.
#include "spec/arch_spec.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "spec/cost.h"
#include "spec/data_spec.h"

namespace convrnn {
namespace {

using nlohmann::json;

json Good() {
  return json::parse(R"({
    "input":  {"channels": 1, "height": 28, "width": 28},
    "num_classes": 10,
    "time":   {"steps": 8, "image_off": 6, "loss": "last"},
    "layers": [
      {"channels": 16, "kernel": 3, "stride": 1, "pool": false, "cell": {"type": "feedforward"}},
      {"channels": 32, "kernel": 3, "pool": true, "cell": {"type": "lstm", "forget_bias": 2.0}},
      {"channels": 32, "kernel": 3, "pool": true,
       "cell": {"type": "rgc", "cell_channels": 32, "tau_kernel": 7, "gate_kernel": 7,
                "tau_separable": true, "feedback_entry": "output"}},
      {"channels": 64, "kernel": 3, "pool": true, "cell": {"type": "gru"}}
    ],
    "feedback": [{"from": 3, "to": 1}, {"from": 2, "to": 0, "enabled": false}],
    "train": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": true,
              "weight_decay": 5e-4, "batch_size": 128, "epochs": 2,
              "schedule": "cosine", "clip_grad_norm": 1.0, "seed": 0}
  })");
}

TEST_CASE("a good spec parses with its knobs and defaults", "[spec]") {
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(Good());
  REQUIRE(spec.ok());
  CHECK(spec->layers.size() == 4);
  CHECK(spec->layers[1].cell.type == CellType::kLstm);
  CHECK(spec->layers[1].cell.forget_bias == 2.0);
  CHECK(spec->layers[2].cell.tau_kernel == 7);
  CHECK(spec->layers[2].cell.gate_offset == 1.0);  // default
  CHECK(spec->layers[2].cell.out_residual);        // default
  CHECK(spec->time.image_off == 6);
  REQUIRE(spec->feedback.size() == 1);  // the disabled edge is dropped
  CHECK(spec->feedback[0].from == 3);
  CHECK(spec->train.clip_grad_norm == 1.0);
}

TEST_CASE("the canonical JSON form round-trips", "[spec]") {
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(Good());
  REQUIRE(spec.ok());
  json canonical = ToJson(*spec);
  absl::StatusOr<ArchSpec> again = ParseArchSpec(canonical);
  REQUIRE(again.ok());
  CHECK(ToJson(*again) == canonical);
  // Only the LSTM's own knobs are written for the LSTM layer.
  CHECK(canonical["layers"][1]["cell"].contains("forget_bias"));
  CHECK_FALSE(canonical["layers"][1]["cell"].contains("tau_kernel"));
  CHECK(canonical["time"]["loss"] == "last");
}

TEST_CASE("train.cuda_graphs: auto by default, on and off kept, anything else refused", "[spec]") {
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(Good());
  REQUIRE(spec.ok());
  CHECK(spec->train.cuda_graphs == "auto");
  // The default is not written: specs from before the option keep their
  // canonical JSON (checkpoints compare it).
  CHECK_FALSE(ToJson(*spec)["train"].contains("cuda_graphs"));
  for (const char* mode : {"on", "off", "auto"}) {
    json j = Good();
    j["train"]["cuda_graphs"] = mode;
    absl::StatusOr<ArchSpec> parsed = ParseArchSpec(j);
    REQUIRE(parsed.ok());
    CHECK(parsed->train.cuda_graphs == mode);
    absl::StatusOr<ArchSpec> again = ParseArchSpec(ToJson(*parsed));
    REQUIRE(again.ok());
    CHECK(again->train.cuda_graphs == mode);
  }
  for (const json& bad : {json("yes"), json(true), json(1), json("ON")}) {
    json j = Good();
    j["train"]["cuda_graphs"] = bad;
    absl::StatusOr<ArchSpec> refused = ParseArchSpec(j);
    REQUIRE_FALSE(refused.ok());
    CHECK(std::string(refused.status().message()) ==
          "train.cuda_graphs: must be one of auto, on, off");
  }
}

TEST_CASE("loss from a step, and geometry", "[spec]") {
  json j = Good();
  j["time"]["loss"] = {{"from_step", 5}};
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(j);
  REQUIRE(spec.ok());
  CHECK(spec->time.loss_from_step == 5);
  std::vector<LayerGeometry> g = ComputeGeometry(*spec);
  CHECK(g[0].out_height == 28);
  CHECK(g[1].out_height == 14);
  CHECK(g[3].out_height == 3);
  CHECK(g[3].in_channels == 32);
}

struct BadCase {
  const char* what;
  std::function<void(json&)> mutate;
  const char* expected;  // a substring of the error: the key path and the rule
};

TEST_CASE("bad specs are refused naming the key path", "[spec]") {
  const std::vector<BadCase> cases = {
      {"unknown cell type", [](json& j) { j["layers"][1]["cell"]["type"] = "transformer"; },
       "layers[1].cell.type: must be one of"},
      {"unknown top-level key", [](json& j) { j["lyers"] = 1; }, "lyers: unknown key"},
      {"unknown layer key", [](json& j) { j["layers"][0]["dilation"] = 2; },
       "layers[0].dilation: unknown key"},
      {"knob of another cell type", [](json& j) { j["layers"][1]["cell"]["tau_kernel"] = 3; },
       "layers[1].cell.tau_kernel: is not a knob of cell type lstm"},
      {"even kernel", [](json& j) { j["layers"][2]["cell"]["tau_kernel"] = 4; },
       "layers[2].cell.tau_kernel: must be an odd integer in [1, 11]"},
      {"kernel too large", [](json& j) { j["layers"][0]["kernel"] = 13; },
       "layers[0].kernel: must be an odd integer in [1, 11]"},
      {"zero channels", [](json& j) { j["layers"][3]["channels"] = 0; },
       "layers[3].channels: must be an integer in [1, 4096]"},
      {"negative cell channels", [](json& j) { j["layers"][2]["cell"]["cell_channels"] = -2; },
       "layers[2].cell.cell_channels: must be an integer in [1, 4096]"},
      {"feedback ascending",
       [](json& j) {
         j["feedback"] = {{{"from", 1}, {"to", 2}}};
       },
       "feedback[0]: feedback must descend"},
      {"feedback self-loop",
       [](json& j) {
         j["feedback"] = {{{"from", 2}, {"to", 2}}};
       },
       "feedback[0]: feedback must descend"},
      {"feedback to a missing layer",
       [](json& j) {
         j["feedback"] = {{{"from", 7}, {"to", 1}}};
       },
       "feedback[0].from: names layer 7 but layers are 0..3"},
      {"duplicate feedback",
       [](json& j) {
         j["feedback"] = {{{"from", 3}, {"to", 1}}, {{"from", 3}, {"to", 1}}};
       },
       "feedback[1]: duplicate edge 3 -> 1"},
      {"image_off beyond steps", [](json& j) { j["time"]["image_off"] = 9; },
       "time.image_off: must be in [1, steps]"},
      {"too few steps", [](json& j) { j["time"]["steps"] = 4; },
       "time.steps: must be at least layers + 1 = 5"},
      {"loss from a step the readout cannot see",
       [](json& j) {
         j["time"]["loss"] = {{"from_step", 2}};
       },
       "time.loss.from_step: must be in [4, 7]"},
      {"bad loss", [](json& j) { j["time"]["loss"] = "mean"; }, "time.loss: must be \"last\""},
      {"spatial size collapses",
       [](json& j) {
         for (auto& l : j["layers"]) l["stride"] = 4;
       },
       "spatial size falls below 1x1"},
      {"unknown optimizer", [](json& j) { j["train"]["optimizer"] = "lbfgs"; },
       "train.optimizer: must be one of sgd, adam"},
      {"negative learning rate", [](json& j) { j["train"]["lr"] = -0.1; },
       "train.lr: must be a number in"},
      {"epochs and steps", [](json& j) { j["train"]["steps"] = 100; },
       "train.steps: give the budget as epochs or as steps, not both"},
      {"nesterov without momentum", [](json& j) { j["train"]["momentum"] = 0.0; },
       "train.nesterov: requires momentum > 0"},
      {"zero batch", [](json& j) { j["train"]["batch_size"] = 0; },
       "train.batch_size: must be an integer in [1, 65536]"},
      {"bad activation", [](json& j) { j["layers"][2]["cell"]["out_activation"] = "gelu"; },
       "layers[2].cell.out_activation: must be one of relu, elu, tanh"},
      {"bad feedback entry", [](json& j) { j["layers"][0]["cell"]["feedback_entry"] = "state"; },
       "layers[0].cell.feedback_entry: must be one of input, cell, output"},
      {"missing layers", [](json& j) { j.erase("layers"); }, "layers: is required"},
      {"no layers", [](json& j) { j["layers"] = json::array(); },
       "layers: must list at least one layer"},
      {"missing cell type", [](json& j) { j["layers"][0]["cell"] = json::object(); },
       "layers[0].cell.type: is required"},
      {"non-integer stride", [](json& j) { j["layers"][0]["stride"] = 1.5; },
       "layers[0].stride: must be an integer in [1, 4]"},
      {"one class", [](json& j) { j["num_classes"] = 1; },
       "num_classes: must be an integer in [2, 100000]"},
      {"string for a number", [](json& j) { j["train"]["weight_decay"] = "0.1"; },
       "train.weight_decay: must be a number"},
  };
  for (const BadCase& c : cases) {
    json j = Good();
    c.mutate(j);
    absl::StatusOr<ArchSpec> spec = ParseArchSpec(j);
    INFO(c.what);
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(spec.status().message()), Catch::Contains(c.expected));
  }
}

TEST_CASE("text that is not JSON is refused with the position", "[spec]") {
  absl::StatusOr<ArchSpec> spec = ParseArchSpecText("{\"layers\": [");
  REQUIRE_FALSE(spec.ok());
  CHECK_THAT(std::string(spec.status().message()), Catch::Contains("not valid JSON"));
}

// What `convrnn-worker --spec FILE` reads (ReadArchSpecFile): the issue 9
// inputs that aborted the worker are refused as values naming the key path.
TEST_CASE("a spec file with 1e400, NaN or 6,000-deep nesting is refused, not thrown", "[spec]") {
  char tmpl[] = "/tmp/convrnn_spec_test.XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string file = std::string(tmpl) + "/spec.json";
  std::string deep = "0.1";
  for (int i = 0; i < 6000; ++i) deep = "[" + deep + "]";
  const struct {
    std::string lr;
    const char* expected;
  } cases[] = {
      {"1e400", "number out of range"},
      {"-1e400", "number out of range"},
      {"NaN", "not valid JSON"},
      {"Infinity", "not valid JSON"},
      {"18446744073709551615", "train.lr: integer out of range"},
      {deep, "nested deeper than"},
  };
  for (const auto& c : cases) {
    json good = Good();
    std::string text = good.dump();
    const std::string lr = "\"lr\":" + good["train"]["lr"].dump();
    REQUIRE(text.find(lr) != std::string::npos);
    text.replace(text.find(lr), lr.size(), "\"lr\":" + c.lr);
    std::ofstream(file) << text;
    absl::StatusOr<ArchSpec> spec = ReadArchSpecFile(file);
    INFO(c.lr.substr(0, 40));
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(spec.status().message()), Catch::Contains(c.expected));
  }
  std::remove(file.c_str());
  rmdir(tmpl);
}

TEST_CASE("data specs: defaults and errors", "[spec][data]") {
  absl::StatusOr<DataSpec> d = ParseDataSpec(json::parse(R"({"dataset": "fashion-mnist"})"));
  REQUIRE(d.ok());
  CHECK(ResolvedDataPath(*d) == kFashionMnistDefaultPath);
  CHECK(d->val_fraction == 0.1);
  absl::StatusOr<DataSpec> bad = ParseDataSpec(json::parse(R"({"dataset": "cifar10"})"));
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("path: is required"));
  bad = ParseDataSpec(
      json::parse(R"({"occlusion": {"kind": "debris", "min_size": 0.5, "max_size": 0.2}})"));
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("occlusion.min_size"));
  bad = ParseDataSpec(json::parse(R"({"val_fraction": 2})"));
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("val_fraction"));
}

TEST_CASE("cost estimate without the model", "[spec][cost]") {
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(Good());
  REQUIRE(spec.ok());
  CostEstimate cost = EstimateCost(*spec);
  CHECK(cost.params > 10000);
  CHECK(cost.flops_per_image > cost.params);
}

}  // namespace
}  // namespace convrnn
