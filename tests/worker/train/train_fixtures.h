// What the trainer's tests share: a small two-layer ConvRNN spec (its
// second layer's cell chosen by the test) and real Fashion-MNIST subsets,
// loaded once per size for the whole test binary.
#ifndef CONVRNN_TESTS_WORKER_TRAIN_TRAIN_FIXTURES_H_
#define CONVRNN_TESTS_WORKER_TRAIN_TRAIN_FIXTURES_H_

#include "tests/torch_catch.h"

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "spec/arch_spec.h"
#include "worker/data/data.h"

namespace convrnn::train_testing {

// 28x28x1 input, 4 time steps, a feedforward layer then one of `cell`;
// SGD at lr 0.1, batch 64, 2 epochs, seed 7, gradients clipped at 5.
inline nlohmann::json SmallSpec(const std::string& cell = "rgc") {
  return {{"input", {{"channels", 1}, {"height", 28}, {"width", 28}}},
          {"num_classes", 10},
          {"time", {{"steps", 4}}},
          {"layers",
           {{{"channels", 12},
             {"kernel", 5},
             {"stride", 2},
             {"pool", true},
             {"cell", {{"type", "feedforward"}}}},
            {{"channels", 24}, {"kernel", 3}, {"pool", true}, {"cell", {{"type", cell}}}}}},
          {"train",
           {{"optimizer", "sgd"},
            {"lr", 0.1},
            {"batch_size", 64},
            {"epochs", 2},
            {"seed", 7},
            {"clip_grad_norm", 5.0}}}};
}

// The spec `j` describes; the test fails where it does not parse.
inline ArchSpec ParseOrFail(const nlohmann::json& j) {
  absl::StatusOr<ArchSpec> spec = ParseArchSpec(j);
  REQUIRE(spec.ok());
  return *spec;
}

// The first `train_limit` training and `val_limit` validation images of
// Fashion-MNIST, loaded on first use and kept.
inline const Datasets& FashionSubset(int train_limit, int val_limit) {
  static std::map<std::pair<int, int>, std::unique_ptr<Datasets>> loaded;
  std::unique_ptr<Datasets>& slot = loaded[{train_limit, val_limit}];
  if (slot == nullptr) {
    DataSpec d;
    d.train_limit = train_limit;
    d.val_limit = val_limit;
    absl::StatusOr<Datasets> data = LoadDatasets(d);
    REQUIRE(data.ok());
    slot = std::make_unique<Datasets>(*std::move(data));
  }
  return *slot;
}

}  // namespace convrnn::train_testing

#endif  // CONVRNN_TESTS_WORKER_TRAIN_TRAIN_FIXTURES_H_
