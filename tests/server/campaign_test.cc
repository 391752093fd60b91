#include "server/campaign.h"

#include <catch2/catch.hpp>
#include <string>

#include "tests/server/test_util.h"
#include "util/json_object.h"

namespace convrnn::server::testing {
namespace {

using nlohmann::json;

// The error message of parsing `patch` over the small campaign.
std::string ErrorOf(const json& campaign) {
  absl::StatusOr<CampaignConfig> config = ParseCampaign(campaign);
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

TEST_CASE("a good campaign parses with its defaults filled in", "[server]") {
  CampaignConfig c = Must(ParseCampaign(SmallCampaign()));
  CHECK(c.name == "small");
  CHECK(c.algorithm == "random");
  CHECK(c.seed == 7);
  CHECK(c.max_trials == 4);
  CHECK(c.max_parallel == 2);
  CHECK(c.max_attempts == 2);
  CHECK(c.lease_seconds == 10);
  REQUIRE(c.objectives.size() == 2);
  CHECK(ObjectiveName(c.objectives[1]) == "params:min");
  CHECK_FALSE(c.early_stopping.has_value());
  REQUIRE(c.space != nullptr);
  CHECK(c.space->Find("train.lr") >= 0);
  // data_json is the canonical data spec the worker receives.
  json data = json::parse(c.data_json);
  CHECK(data["dataset"] == "fashion-mnist");
  CHECK(data["train_limit"] == 100);

  json minimal = SmallCampaign();
  minimal.erase("objectives");
  minimal.erase("trial");
  minimal.erase("data");
  minimal["search"] = {{"max_trials", 5}};
  CampaignConfig d = Must(ParseCampaign(minimal));
  CHECK(d.max_parallel == 5);
  CHECK(d.max_attempts == 3);
  CHECK(d.lease_seconds == 60);
  REQUIRE(d.objectives.size() == 1);
  CHECK(ObjectiveName(d.objectives[0]) == "val_top1:max");
  CHECK(d.data.dataset == "fashion-mnist");
}

TEST_CASE("the example campaigns parse", "[server]") {
  // The benchmark's campaigns too (docs/performance.md runs them as they are).
  for (const char* name : {"examples/demo_campaign.json", "bench/campaign/campaign.json",
                           "bench/campaign/campaign_two_objectives.json"}) {
    json j;
    const std::string file = std::string(CONVRNN_SOURCE_DIR) + "/" + name;
    INFO(file);
    REQUIRE(std::filesystem::exists(file));
    MustOk(ReadJsonFile(file, &j));
    CampaignConfig c = Must(ParseCampaign(j));
    CHECK(c.early_stopping.has_value());
  }
}

TEST_CASE("early stopping is read from search.early_stopping", "[server]") {
  CampaignConfig c = Must(ParseCampaign(SmallCampaign(
      {{"search", {{"early_stopping", {{"rule", "asha"}, {"reduction_factor", 2}}}}}})));
  REQUIRE(c.early_stopping.has_value());
  CHECK(c.early_stopping->rule == search::EarlyStoppingOptions::Rule::kAsha);
  CHECK(c.early_stopping->reduction_factor == 2);
  CampaignConfig none =
      Must(ParseCampaign(SmallCampaign({{"search", {{"early_stopping", nullptr}}}})));
  CHECK_FALSE(none.early_stopping.has_value());
}

TEST_CASE("search.tpe sets the TPE sampler's knobs and is refused for other algorithms",
          "[server]") {
  CampaignConfig plain = Must(ParseCampaign(SmallCampaign({{"search", {{"algorithm", "tpe"}}}})));
  const search::SamplerOptions defaults;
  CHECK(plain.tpe.n_startup_trials == defaults.n_startup_trials);
  CHECK(plain.tpe.constant_liar == defaults.constant_liar);
  CHECK(plain.tpe.equal_kernel_heights == defaults.equal_kernel_heights);
  CHECK(plain.tpe.multivariate == defaults.multivariate);
  CHECK(plain.tpe.gamma == defaults.gamma);
  CampaignConfig c = Must(ParseCampaign(SmallCampaign({{"search",
                                                        {{"algorithm", "tpe"},
                                                         {"tpe",
                                                          {{"n_startup_trials", 7},
                                                           {"constant_liar", false},
                                                           {"equal_kernel_heights", false},
                                                           {"multivariate", false},
                                                           {"gamma", 0.2},
                                                           {"max_good", 10},
                                                           {"n_ei_candidates", 64},
                                                           {"prior_weight", 0.5}}}}}})));
  CHECK(c.tpe.n_startup_trials == 7);
  CHECK(c.tpe.constant_liar == false);
  CHECK(c.tpe.equal_kernel_heights == false);
  CHECK(c.tpe.multivariate == false);
  CHECK(c.tpe.gamma == 0.2);
  CHECK(c.tpe.max_good == 10);
  CHECK(c.tpe.n_ei_candidates == 64);
  CHECK(c.tpe.prior_weight == 0.5);
  // The knobs reach the sampler the coordinator builds.
  const search::SamplerOptions built = SamplerOptionsFor(c);
  CHECK(built.multivariate == false);
  CHECK(built.gamma == 0.2);
  CHECK(built.max_good == 10);
  CHECK(built.n_ei_candidates == 64);
  CHECK(built.prior_weight == 0.5);
  CHECK(built.n_startup_trials == 7);
  CHECK_THAT(
      ErrorOf(SmallCampaign({{"search", {{"algorithm", "tpe"}, {"tpe", {{"gamma", 1.5}}}}}})),
      Catch::StartsWith("search.tpe.gamma: must be"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"search", {{"tpe", {{"constant_liar", false}}}}}})),
             Catch::StartsWith("search.tpe: applies to the tpe algorithm only"));
  CHECK_THAT(
      ErrorOf(SmallCampaign({{"search", {{"algorithm", "tpe"}, {"tpe", {{"bandwidth", 0.2}}}}}})),
      Catch::StartsWith("search.tpe.bandwidth: unknown key"));
  CHECK_THAT(ErrorOf(SmallCampaign(
                 {{"search", {{"algorithm", "tpe"}, {"tpe", {{"n_startup_trials", -1}}}}}})),
             Catch::StartsWith("search.tpe.n_startup_trials: must be an integer in [0,"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"search", {{"algorithm", "tpe"}, {"tpe", 3}}}})),
             Catch::StartsWith("search.tpe: must be an object"));
}

TEST_CASE("search.gp sets the GP sampler's knobs; gp takes one objective", "[server]") {
  const json one = json::array({{{"metric", "val_top1"}, {"goal", "max"}}});
  CampaignConfig c = Must(ParseCampaign(SmallCampaign(
      {{"objectives", one},
       {"search",
        {{"algorithm", "gp"},
         {"gp", {{"n_startup_trials", 8}, {"candidates", 300}, {"max_points", 50}}}}}})));
  const search::SamplerOptions built = SamplerOptionsFor(c);
  CHECK(built.n_startup_trials == 8);
  CHECK(built.gp_candidates == 300);
  CHECK(built.gp_max_points == 50);
  REQUIRE(NewCampaignSearch(c).ok());
  CHECK_THAT(
      ErrorOf(SmallCampaign({{"objectives", one}, {"search", {{"gp", {{"candidates", 10}}}}}})),
      Catch::StartsWith("search.gp: applies to the gp algorithm only"));
  CHECK_THAT(
      ErrorOf(SmallCampaign(
          {{"objectives", one}, {"search", {{"algorithm", "gp"}, {"gp", {{"max_points", 1}}}}}})),
      Catch::StartsWith("search.gp.max_points: must be an integer in [2,"));
  CHECK_THAT(
      ErrorOf(SmallCampaign(
          {{"objectives", one}, {"search", {{"algorithm", "gp"}, {"gp", {{"kernel", "rbf"}}}}}})),
      Catch::StartsWith("search.gp.kernel: unknown key"));
  // SmallCampaign's own objectives are two: accuracy and parameters.
  CHECK_THAT(ErrorOf(SmallCampaign({{"search", {{"algorithm", "gp"}}}})),
             Catch::StartsWith("search.algorithm: gp optimises one objective"));
}

TEST_CASE("bad campaigns are refused naming the key path", "[server]") {
  json no_name = SmallCampaign();
  no_name.erase("name");
  CHECK(ErrorOf(no_name) == "name: is required");

  json unknown = SmallCampaign();
  unknown["budgets"] = 3;
  CHECK_THAT(ErrorOf(unknown), Catch::StartsWith("budgets: unknown key"));
  json bad_budget = SmallCampaign();
  bad_budget["budget"] = 3;
  CHECK_THAT(ErrorOf(bad_budget), Catch::StartsWith("budget: must be a JSON object"));

  CHECK_THAT(
      ErrorOf(SmallCampaign({{"search", {{"algorithm", "hyperopt"}}}})),
      Catch::StartsWith("search.algorithm: must be one of random, tpe, gp, evolution, grid"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"search", {{"algorithm", "grid"}}}})),
             Catch::StartsWith("space.train.lr: grid search needs an explicit list"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"search", {{"repeats", 2}}}})),
             Catch::StartsWith("search.repeats: applies to the grid algorithm only"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"search", {{"max_parallel", 0}}}})),
             Catch::StartsWith("search.max_parallel: must be an integer in [1,"));
  json no_budget = SmallCampaign();
  no_budget["search"].erase("max_trials");
  CHECK(ErrorOf(no_budget) == "search.max_trials: is required");
  CHECK_THAT(ErrorOf(SmallCampaign({{"search", {{"early_stopping", {{"rule", "hyperband"}}}}}})),
             Catch::StartsWith("search.early_stopping.rule: must be one of asha, median"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"search", {{"seeds", 1}}}})),
             Catch::StartsWith("search.seeds: unknown key"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"trial", {{"lease_seconds", 0}}}})),
             Catch::StartsWith("trial.lease_seconds: must be an integer in [1,"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"trial", {{"max_attempts", "3"}}}})),
             Catch::StartsWith("trial.max_attempts: must be an integer"));
  CHECK_THAT(ErrorOf(SmallCampaign(
                 {{"objectives", json::array({{{"metric", "val top1"}, {"goal", "max"}}})}})),
             Catch::StartsWith("objectives[0].metric: must be a metric name"));
  CHECK(ErrorOf(SmallCampaign({{"objectives", json::array({{{"metric", "val_top1"}}})}})) ==
        "objectives[0].goal: is required (max or min)");
  CHECK_THAT(ErrorOf(SmallCampaign({{"objectives", json::array()}})),
             Catch::StartsWith("objectives: must be a non-empty array"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"data", {{"dataset", "imagenet"}}}})),
             Catch::StartsWith("data.dataset: must be one of"));
  CHECK_THAT(ErrorOf(SmallCampaign({{"space", {{"num_classes", {{"int", {1, 0}}}}}}})),
             Catch::StartsWith("space.num_classes"));
  json layer_bad = SmallCampaign();
  layer_bad["space"]["layers"][1]["cell"]["choice"][2]["tau_kernel"] = 4;
  CHECK_THAT(ErrorOf(layer_bad), Catch::Contains("tau_kernel"));
  CHECK_THAT(ErrorOf(json::array()), Catch::Contains("must be a JSON object"));

  absl::StatusOr<CampaignConfig> text = ParseCampaignText("{\"name\": ");
  REQUIRE_FALSE(text.ok());
  CHECK(text.status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace convrnn::server::testing
