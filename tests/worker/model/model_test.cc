// Unrolling in time, feedback timing, gradients and cost of the ConvRNN.
#include "tests/torch_catch.h"

#include "worker/model/model.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "spec/cost.h"

namespace convrnn {
namespace {

using nlohmann::json;

// A small 3-layer spec on 12x12 single-channel images.
json BaseSpec(const std::string& cell = "feedforward", int steps = 8) {
  json layer = {{"channels", 4}, {"kernel", 3}, {"cell", {{"type", cell}}}};
  json pooled = layer;
  pooled["pool"] = true;
  return {{"input", {{"channels", 1}, {"height", 12}, {"width", 12}}},
          {"num_classes", 5},
          {"time", {{"steps", steps}}},
          {"layers", {layer, pooled, pooled}}};
}

ConvRnn Build(const json& j, int64_t seed = 1) {
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(j);
  REQUIRE(spec.ok());
  torch::manual_seed(seed);
  return ConvRnn(*spec);
}

bool Same(const torch::Tensor& a, const torch::Tensor& b) { return torch::equal(a, b); }

// Copies every parameter `to` shares by name with `from`.
void CopyShared(ConvRnn& from, ConvRnn& to) {
  torch::NoGradGuard no_grad;
  auto source = from->named_parameters();
  for (auto& p : to->named_parameters()) {
    if (const torch::Tensor* s = source.find(p.key())) p.value().copy_(*s);
  }
}

const std::vector<std::string> kCells = {"feedforward", "time_decay", "simple_rnn",   "gru",
                                         "lstm",        "ugrnn",      "intersection", "rgc"};

TEST_CASE("readout is blind to the image before step L", "[model][timing]") {
  for (const std::string& cell : kCells) {
    ConvRnn model = Build(BaseSpec(cell));
    torch::NoGradGuard no_grad;
    torch::manual_seed(9);
    torch::Tensor a = torch::randn({2, 1, 12, 12}), b = torch::randn({2, 1, 12, 12});
    torch::Tensor la = model->forward(a), lb = model->forward(b);
    const int L = 3;
    for (int t = 0; t < 8; ++t) {
      INFO(cell << " step " << t);
      if (t < L) {
        CHECK(Same(la[t], lb[t]));
      } else {
        CHECK_FALSE(Same(la[t], lb[t]));
      }
    }
  }
}

TEST_CASE("layer l depends on the image only from step l on", "[model][timing]") {
  for (const std::string& cell : kCells) {
    ConvRnn model = Build(BaseSpec(cell));
    torch::NoGradGuard no_grad;
    torch::manual_seed(11);
    torch::Tensor a = torch::randn({2, 1, 12, 12}), b = torch::randn({2, 1, 12, 12});
    UnrollResult ra = model->Unroll(a, {/*record_layers=*/true});
    UnrollResult rb = model->Unroll(b, {/*record_layers=*/true});
    for (int t = 0; t < 8; ++t) {
      for (int l = 0; l < 3; ++l) {
        INFO(cell << " step " << t << " layer " << l);
        if (t < l) {
          CHECK(ra.outputs[t][l].abs().max().item<double>() == 0.0);
          CHECK(Same(ra.outputs[t][l], rb.outputs[t][l]));
        } else {
          CHECK_FALSE(Same(ra.outputs[t][l], rb.outputs[t][l]));
        }
      }
    }
  }
}

TEST_CASE("image_off blanks the input of layer 0", "[model][timing]") {
  json j = BaseSpec("feedforward");
  j["time"]["image_off"] = 2;
  ConvRnn model = Build(j);
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::randn({2, 1, 12, 12}), b = torch::randn({2, 1, 12, 12});
  UnrollResult ra = model->Unroll(a, {true}), rb = model->Unroll(b, {true});
  // A feedforward layer 0 forgets the image once it is replaced by the blank.
  CHECK_FALSE(Same(ra.outputs[1][0], rb.outputs[1][0]));
  CHECK(Same(ra.outputs[2][0], rb.outputs[2][0]));
  // Layer 2 still carries it two steps later, then forgets too.
  CHECK_FALSE(Same(ra.outputs[3][2], rb.outputs[3][2]));
  CHECK(Same(ra.outputs[4][2], rb.outputs[4][2]));
  // A blank image equals an all-zero image.
  json on = BaseSpec("feedforward");
  ConvRnn full = Build(on);
  UnrollResult blank = full->Unroll(torch::zeros({2, 1, 12, 12}), {true});
  CHECK(torch::allclose(blank.outputs[0][0], ra.outputs[2][0].narrow(0, 0, 2)));
}

TEST_CASE("feedback j->i changes layer i from step j+1 on, for every entry", "[model][feedback]") {
  for (const std::string& cell : {"feedforward", "lstm", "rgc"}) {
    for (const std::string& entry : {"input", "cell", "output"}) {
      for (auto [from, to] : {std::pair{2, 0}, std::pair{2, 1}, std::pair{1, 0}}) {
        json plain = BaseSpec(cell);
        for (auto& layer : plain["layers"]) {
          layer["cell"]["feedback_entry"] = entry;
          // The RGC's memory reaches its output in the same step only through
          // cell_to_out (otherwise through the next step's gate; see below).
          if (cell == std::string("rgc") && entry == std::string("cell")) {
            layer["cell"]["cell_to_out"] = true;
          }
        }
        json with = plain;
        with["feedback"] = {{{"from", from}, {"to", to}}};
        ConvRnn a = Build(plain), b = Build(with, /*seed=*/2);
        CopyShared(a, b);
        torch::NoGradGuard no_grad;
        torch::Tensor x = torch::randn({2, 1, 12, 12});
        UnrollResult ra = a->Unroll(x, {true}), rb = b->Unroll(x, {true});
        for (int t = 0; t < 8; ++t) {
          INFO(cell << " entry " << entry << " edge " << from << "->" << to << " step " << t);
          if (t <= from) {
            CHECK(Same(ra.outputs[t][to], rb.outputs[t][to]));
          } else {
            CHECK_FALSE(Same(ra.outputs[t][to], rb.outputs[t][to]));
          }
        }
      }
    }
  }
}

TEST_CASE("feedback into an RGC's memory reaches its output one step later", "[model][feedback]") {
  json plain = BaseSpec("rgc");
  for (auto& layer : plain["layers"]) layer["cell"]["feedback_entry"] = "cell";
  json with = plain;
  with["feedback"] = {{{"from", 2}, {"to", 0}}};
  ConvRnn a = Build(plain), b = Build(with, /*seed=*/2);
  CopyShared(a, b);
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({2, 1, 12, 12});
  UnrollResult ra = a->Unroll(x, {true}), rb = b->Unroll(x, {true});
  // c_3 changes at step 3; h reads c only through the gate of step 4.
  CHECK(Same(ra.outputs[3][0], rb.outputs[3][0]));
  CHECK_FALSE(Same(ra.outputs[4][0], rb.outputs[4][0]));
}

TEST_CASE("gradients reach every parameter that influences the loss", "[model][grad]") {
  for (const std::string& cell : kCells) {
    for (const std::string& entry : {"input", "cell", "output"}) {
      json j = BaseSpec(cell, /*steps=*/8);
      for (auto& layer : j["layers"]) layer["cell"]["feedback_entry"] = entry;
      j["feedback"] = {
          {{"from", 2}, {"to", 0}}, {{"from", 1}, {"to", 0}}, {{"from", 2}, {"to", 1}}};
      if (cell == "rgc") {
        j["layers"][1]["cell"]["cell_to_out"] = true;
        j["layers"][1]["cell"]["layer_norm"] = true;
        j["layers"][2]["cell"]["tau_separable"] = true;
        j["layers"][2]["cell"]["cell_channels"] = 6;
      }
      if (cell == "time_decay") {
        for (auto& layer : j["layers"]) layer["cell"]["decay_init"] = 0.3;
      }
      ConvRnn model = Build(j);
      torch::Tensor x = torch::randn({4, 1, 12, 12});
      torch::Tensor labels = torch::tensor({0, 1, 2, 3}, torch::kLong);
      UnrolledLoss(model->forward(x), labels, model->spec().time).backward();
      for (const auto& p : model->named_parameters()) {
        INFO(cell << " entry " << entry << " parameter " << p.key());
        REQUIRE(p.value().grad().defined());
        CHECK(p.value().grad().abs().sum().item<double>() > 0.0);
      }
    }
  }
}

TEST_CASE("loss on the last step or averaged from a step on", "[model]") {
  torch::manual_seed(0);
  torch::Tensor logits = torch::randn({6, 3, 4});
  torch::Tensor labels = torch::tensor({0, 3, 1}, torch::kLong);
  TimeSpec last;
  last.steps = 6;
  namespace F = torch::nn::functional;
  CHECK(UnrolledLoss(logits, labels, last).item<double>() ==
        Approx(F::cross_entropy(logits[5], labels).item<double>()));
  TimeSpec from = last;
  from.loss_from_step = 3;
  double mean = 0;
  for (int t = 3; t < 6; ++t) mean += F::cross_entropy(logits[t], labels).item<double>() / 3;
  CHECK(UnrolledLoss(logits, labels, from).item<double>() == Approx(mean));
}

TEST_CASE("the cost estimate counts exactly the model's parameters", "[model][cost]") {
  for (const std::string& cell : kCells) {
    for (const std::string& entry : {"input", "cell", "output"}) {
      json j = BaseSpec(cell);
      for (auto& layer : j["layers"]) layer["cell"]["feedback_entry"] = entry;
      j["feedback"] = {{{"from", 2}, {"to", 0}}, {{"from", 2}, {"to", 1}}};
      if (cell == "rgc") {
        j["layers"][0]["cell"]["cell_channels"] = 7;
        j["layers"][0]["cell"]["gate_separable"] = true;
        j["layers"][0]["cell"]["gate_kernel"] = 5;
        j["layers"][1]["cell"]["cell_to_out"] = true;
        j["layers"][2]["cell"]["layer_norm"] = true;
        j["layers"][2]["cell"]["ic_separable"] = true;
      }
      ConvRnn model = Build(j);
      CostEstimate cost = EstimateCost(model->spec());
      INFO(cell << " entry " << entry);
      CHECK(cost.params == model->ParameterCount());
      CHECK(cost.flops_per_image > 0);
    }
  }
  // Recurrence costs FLOPs: an LSTM network costs more than the feedforward one.
  CHECK(EstimateCost(*ParseArchSpec(BaseSpec("lstm"))).flops_per_image >
        EstimateCost(*ParseArchSpec(BaseSpec("feedforward"))).flops_per_image);
}

}  // namespace
}  // namespace convrnn
