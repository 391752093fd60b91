// Search spaces and helpers shared by the search/ tests.
#ifndef CONVRNN_TESTS_SEARCH_TEST_SPACES_H_
#define CONVRNN_TESTS_SEARCH_TEST_SPACES_H_

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "search/sampler.h"
#include "search/space.h"

namespace convrnn::search::testing {

// The parsed space, or the test fails with the parser's message.
inline std::shared_ptr<const Space> ParsedSpace(const nlohmann::json& j) {
  absl::StatusOr<Space> space = Space::Parse(j);
  INFO(space.status().ToString());
  REQUIRE(space.ok());
  return std::make_shared<const Space>(*std::move(space));
}

// The sampler, or the test fails with CreateSampler's message.
inline std::unique_ptr<Sampler> MakeSampler(const std::string& algorithm,
                                            std::shared_ptr<const Space> space,
                                            const SamplerOptions& options) {
  absl::StatusOr<std::unique_ptr<Sampler>> sampler = CreateSampler(algorithm, space, options);
  INFO(sampler.status().ToString());
  REQUIRE(sampler.ok());
  return *std::move(sampler);
}

// A ConvRNN-shaped conditional space: `layers` layers, each a choice of cell
// type (the rgc with several knobs), all descending feedback candidates, and
// searched training hyperparameters.
inline nlohmann::json ConvRnnSpace(int layers = 4) {
  nlohmann::json cell = {{"choice",
                          {{{"type", "feedforward"}},
                           {{"type", "time_decay"}, {"decay_init", {{"uniform", {-1.0, 1.0}}}}},
                           {{"type", "gru"}, {"recurrent_kernel", {{"choice", {1, 3, 5}}}}},
                           {{"type", "lstm"}, {"forget_bias", {{"uniform", {0.0, 2.0}}}}},
                           {{"type", "rgc"},
                            {"tau_offset", {{"uniform", {-2.0, 2.0}}}},
                            {"gate_kernel", {{"choice", {1, 3, 5, 7}}}},
                            {"tau_kernel", {{"int", {1, 7}}, {"step", 2}}},
                            {"cell_channels", {{"int", {8, 64}}, {"step", 8}}},
                            {"out_residual", {{"choice", {false, true}}}}}}}};
  nlohmann::json space = {
      {"input", {{"channels", 1}, {"height", 28}, {"width", 28}}},
      {"num_classes", 10},
      {"time", {{"steps", layers + 4}, {"image_off", layers + 2}, {"loss", "last"}}},
      {"layers", nlohmann::json::array()},
      {"feedback", {{"candidates", "all_descending"}}},
      {"train",
       {{"lr", {{"loguniform", {1e-4, 1.0}}}},
        {"momentum", {{"uniform", {0.0, 0.99}}}},
        {"batch_size", {{"choice", {64, 128, 256}}}},
        {"epochs", 2}}}};
  for (int l = 0; l < layers; ++l) {
    space["layers"].push_back(
        {{"channels", 16}, {"kernel", 3}, {"pool", l % 2 == 1}, {"cell", cell}});
  }
  return space;
}

}  // namespace convrnn::search::testing

#endif  // CONVRNN_TESTS_SEARCH_TEST_SPACES_H_
