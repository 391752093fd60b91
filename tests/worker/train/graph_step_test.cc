// CUDA graphs in the trainer: the choice and its reason (CPU), the
// graph-safe optimizer step against LibTorch's optimizers (CPU), and on a
// GPU ([.gpu]) graph replay against eager training of the same network.
#include "tests/torch_catch.h"

#include "worker/train/graph_step.h"

#include <ATen/Context.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/worker/train/train_fixtures.h"
#include "worker/data/data.h"
#include "worker/model/model.h"
#include "worker/model/torch_compat.h"
#include "worker/train/graph_safe_step.h"
#include "worker/train/trainer.h"

namespace convrnn {
namespace {

using nlohmann::json;

TrainSpec Train(const std::string& cuda_graphs) {
  TrainSpec t;
  t.cuda_graphs = cuda_graphs;
  return t;
}

TEST_CASE("CUDA graphs: auto falls back with a reason, on refuses, off never captures",
          "[train][graphs]") {
  const torch::Device cpu(torch::kCPU), gpu("cuda:0");
  for (bool has_graphs : {false, true}) {
    INFO("LibTorch with graphs: " << has_graphs);
    absl::StatusOr<CudaGraphsChoice> c = ChooseCudaGraphs(Train("auto"), cpu, has_graphs);
    REQUIRE(c.ok());
    CHECK_FALSE(c->use);
    CHECK(c->reason == "device cpu is not a CUDA device");

    c = ChooseCudaGraphs(Train("off"), gpu, has_graphs);
    REQUIRE(c.ok());
    CHECK_FALSE(c->use);
    CHECK(c->reason == "train.cuda_graphs is off");

    absl::StatusOr<CudaGraphsChoice> on = ChooseCudaGraphs(Train("on"), cpu, has_graphs);
    REQUIRE_FALSE(on.ok());
    CHECK(on.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(on.status().message() == "train.cuda_graphs is on, but device cpu is not a CUDA device");
  }
  absl::StatusOr<CudaGraphsChoice> old = ChooseCudaGraphs(Train("auto"), gpu, false);
  REQUIRE(old.ok());
  CHECK_FALSE(old->use);
  CHECK_THAT(old->reason,
             Catch::Contains("cannot capture CUDA graphs (needs 2.x built with CUDA)"));
  CHECK_THAT(old->reason, Catch::Contains(TorchVersionString()));
  absl::StatusOr<CudaGraphsChoice> refused = ChooseCudaGraphs(Train("on"), gpu, false);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(std::string(refused.status().message()),
             Catch::StartsWith("train.cuda_graphs is on, but this worker's LibTorch"));
  for (const char* mode : {"auto", "on"}) {
    absl::StatusOr<CudaGraphsChoice> yes = ChooseCudaGraphs(Train(mode), gpu, true);
    REQUIRE(yes.ok());
    CHECK(yes->use);
    CHECK(yes->reason.empty());
  }
}

// A small regression problem whose parameters get every kind of gradient.
struct Problem {
  torch::nn::Sequential net{nullptr};
  torch::Tensor x, y;
  Problem() {
    torch::manual_seed(3);
    net = torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 4, 3).padding(1)),
                                torch::nn::ReLU(), torch::nn::Flatten(),
                                torch::nn::Linear(4 * 5 * 5, 3));
    x = torch::randn({8, 2, 5, 5});
    y = torch::randn({8, 3});
  }
  void Backward() {
    torch::Tensor loss = torch::mse_loss(net->forward(x), y);
    loss.backward();
  }
};

std::unique_ptr<torch::optim::Optimizer> Optimizer(const TrainSpec& t,
                                                   std::vector<torch::Tensor> p) {
  if (t.optimizer == "adam") {
    return std::make_unique<torch::optim::Adam>(
        p, torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
  }
  return std::make_unique<torch::optim::SGD>(p, torch::optim::SGDOptions(t.lr)
                                                    .momentum(t.momentum)
                                                    .nesterov(t.nesterov)
                                                    .weight_decay(t.weight_decay));
}

TEST_CASE("The graph-safe step updates as LibTorch's SGD and Adam do, in their state",
          "[train][graphs]") {
  struct Case {
    const char* name;
    std::string optimizer;
    double momentum;
    bool nesterov;
    double weight_decay;
  };
  for (const Case& c :
       {Case{"sgd nesterov", "sgd", 0.9, true, 5e-4}, Case{"sgd momentum", "sgd", 0.8, false, 0.0},
        Case{"sgd plain", "sgd", 0.0, false, 1e-3}, Case{"adam", "adam", 0.9, false, 0.0},
        Case{"adam weight decay", "adam", 0.9, false, 1e-2}}) {
    INFO(c.name);
    TrainSpec t;
    t.optimizer = c.optimizer;
    t.momentum = c.momentum;
    t.nesterov = c.nesterov;
    t.weight_decay = c.weight_decay;
    t.lr = c.optimizer == "adam" ? 1e-2 : 0.05;
    Problem torch_side, ours;
    auto reference = Optimizer(t, torch_side.net->parameters());
    auto optimizer = Optimizer(t, ours.net->parameters());
    GraphSafeStep step(*optimizer, t, ours.net->parameters());
    for (int64_t s = 1; s <= 12; ++s) {
      const double lr = t.lr * (1.0 - 0.05 * static_cast<double>(s));  // changes every step
      for (auto& g : reference->param_groups()) g.options().set_lr(lr);
      reference->zero_grad();
      torch_side.Backward();
      reference->step();
      optimizer->zero_grad();
      ours.Backward();
      step.Prepare(lr, s);
      step.Step();
    }
    const std::vector<torch::Tensor> a = torch_side.net->parameters(), b = ours.net->parameters();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      INFO("parameter " << i);
      CHECK(torch::allclose(a[i], b[i], /*rtol=*/1e-5, /*atol=*/1e-6));
    }
    // The state lives in the optimizer (checkpoints save it).
    for (const torch::Tensor& p : b) {
      auto it = optimizer->state().find(OptimizerStateKey(p));
      if (c.optimizer == "adam") {
        REQUIRE(it != optimizer->state().end());
        auto& s = static_cast<torch::optim::AdamParamState&>(*it->second);
        CHECK(s.step() == 12);
        CHECK(s.exp_avg().abs().sum().item<double>() > 0);
      } else if (c.momentum > 0) {
        REQUIRE(it != optimizer->state().end());
        auto& s = static_cast<torch::optim::SGDParamState&>(*it->second);
        CHECK(s.momentum_buffer().abs().sum().item<double>() > 0);
      }
    }
  }
}

// The trainer tests' small network, trained for 40 steps.
json SmallSpec(const std::string& cell) {
  json j = train_testing::SmallSpec(cell);
  j["train"].erase("epochs");
  j["train"]["steps"] = 40;
  return j;
}

ArchSpec Parse(const json& j) { return train_testing::ParseOrFail(j); }
const Datasets& Subset() { return train_testing::FashionSubset(1024, 256); }

TEST_CASE("On the CPU: graphs auto trains eagerly with its reason, on is refused",
          "[train][graphs]") {
  std::vector<std::string> warnings;
  TrainerOptions options;
  options.on_warning = [&](const std::string& w) { warnings.push_back(w); };
  absl::StatusOr<TrainResult> eager = convrnn::Train(Parse(SmallSpec("lstm")), Subset(), options);
  REQUIRE(eager.ok());
  CHECK_FALSE(eager->cuda_graphs);
  CHECK(eager->graph_replays == 0);
  CHECK(eager->eager_reason == "device cpu is not a CUDA device");
  CHECK(ToJson(*eager)["eager_reason"] == "device cpu is not a CUDA device");
  CHECK(warnings.empty());  // expected on a CPU: not worth a warning

  json j = SmallSpec("lstm");
  j["train"]["cuda_graphs"] = "on";
  absl::StatusOr<TrainResult> on = convrnn::Train(Parse(j), Subset(), options);
  REQUIRE_FALSE(on.ok());
  CHECK(on.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK(on.status().message() == "train.cuda_graphs is on, but device cpu is not a CUDA device");

  // Off and auto are the same eager training on the CPU.
  j["train"]["cuda_graphs"] = "off";
  absl::StatusOr<TrainResult> off = convrnn::Train(Parse(j), Subset(), options);
  REQUIRE(off.ok());
  CHECK(off->eager_reason == "train.cuda_graphs is off");
  REQUIRE(off->epochs.size() == eager->epochs.size());
  for (size_t e = 0; e < off->epochs.size(); ++e) {
    CHECK(off->epochs[e].train_loss == eager->epochs[e].train_loss);
    CHECK(off->epochs[e].val_top1 == eager->epochs[e].val_top1);
  }
}

TEST_CASE("Batches on the device train exactly as the host loader's", "[train][graphs]") {
  // Same batches (data.h), same eager steps: the same run, bit for bit.
  json j = SmallSpec("rgc");
  j["train"]["steps"] = 36;  // two epochs of 16 and a partial third
  TrainerOptions host, device;
  host.device_data = "off";
  device.device_data = "on";
  absl::StatusOr<TrainResult> a = convrnn::Train(Parse(j), Subset(), host);
  absl::StatusOr<TrainResult> b = convrnn::Train(Parse(j), Subset(), device);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK_FALSE(a->device_data);
  CHECK(b->device_data);
  REQUIRE(a->epochs.size() == 3);
  REQUIRE(b->epochs.size() == 3);
  for (size_t e = 0; e < a->epochs.size(); ++e) {
    CHECK(a->epochs[e].train_loss == b->epochs[e].train_loss);
    CHECK(a->epochs[e].val_top1 == b->epochs[e].val_top1);
  }
  const auto pa = a->model->parameters(), pb = b->model->parameters();
  for (size_t i = 0; i < pa.size(); ++i) CHECK(torch::equal(pa[i], pb[i]));

  TrainerOptions bad;
  bad.device_data = "yes";
  absl::StatusOr<TrainResult> refused = convrnn::Train(Parse(j), Subset(), bad);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == absl::StatusCode::kInvalidArgument);
}

// ----------------------------------------------------------------- on a GPU

// The same seeded run eagerly and replayed as CUDA graphs: losses and final
// parameters agree within float tolerance, and replay did the steps.
void CompareOnGpu(json j, const std::string& device_data) {
  REQUIRE(torch::cuda::is_available());
  at::globalContext().setDeterministicCuDNN(true);
  at::globalContext().setBenchmarkCuDNN(false);
  TrainerOptions options;
  options.device = "cuda:0";
  options.device_data = device_data;
  j["train"]["cuda_graphs"] = "off";
  absl::StatusOr<TrainResult> eager = convrnn::Train(Parse(j), Subset(), options);
  j["train"]["cuda_graphs"] = "on";
  absl::StatusOr<TrainResult> graphs = convrnn::Train(Parse(j), Subset(), options);
  REQUIRE(eager.ok());
  INFO(graphs.status().ToString());
  REQUIRE(graphs.ok());
  CHECK_FALSE(eager->cuda_graphs);
  CHECK(graphs->cuda_graphs);
  const int64_t steps = j["train"]["steps"].get<int64_t>();
  CHECK(graphs->graph_replays == steps - 3);  // all but the eager warm-up steps
  CHECK(graphs->device_data == (device_data != "off"));
  REQUIRE(eager->epochs.size() == graphs->epochs.size());
  for (size_t e = 0; e < eager->epochs.size(); ++e) {
    INFO("epoch " << e);
    CHECK(graphs->epochs[e].train_loss ==
          Approx(eager->epochs[e].train_loss).epsilon(1e-3).margin(1e-4));
    CHECK(graphs->epochs[e].val_top1 == Approx(eager->epochs[e].val_top1).margin(0.02));
  }
  const auto pe = eager->model->parameters(), pg = graphs->model->parameters();
  REQUIRE(pe.size() == pg.size());
  for (size_t i = 0; i < pe.size(); ++i) {
    INFO("parameter " << i << ": max |diff| " << (pe[i] - pg[i]).abs().max().item<double>());
    CHECK(torch::allclose(pe[i], pg[i], /*rtol=*/1e-3, /*atol=*/1e-4));
  }
  at::globalContext().setDeterministicCuDNN(false);
}

TEST_CASE("CUDA graphs train as eager does: SGD, clipping, device data", "[train][.gpu][graphs]") {
  CompareOnGpu(SmallSpec("rgc"), "on");
}

TEST_CASE("CUDA graphs train as eager does: Adam, LSTM, host loader", "[train][.gpu][graphs]") {
  json j = SmallSpec("lstm");
  j["train"]["optimizer"] = "adam";
  j["train"]["lr"] = 2e-3;
  j["train"]["nesterov"] = false;
  CompareOnGpu(j, "off");
}

}  // namespace
}  // namespace convrnn
