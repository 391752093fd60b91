// Hostile campaigns (issue 9 items 1-4): each is refused with
// INVALID_ARGUMENT naming the key path, and cheaply, before anything is
// expanded. The inputs are the reproductions.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "server/campaign.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

using nlohmann::json;

std::string DemoCampaignText() {
  std::ifstream in(std::string(CONVRNN_SOURCE_DIR) + "/examples/demo_campaign.json");
  std::stringstream text;
  text << in.rdbuf();
  REQUIRE_FALSE(text.str().empty());
  return json::parse(text.str()).dump();
}

// The reproduction: the learning rate's loguniform replaced by `with`.
std::string DemoWithLr(const std::string& with) {
  std::string text = DemoCampaignText();
  const std::string lr = "{\"loguniform\":[0.02,0.2]}";
  const size_t at = text.find(lr);
  REQUIRE(at != std::string::npos);
  return text.replace(at, lr.size(), with);
}

absl::Status Refusal(const std::string& text) {
  absl::StatusOr<CampaignConfig> config = ParseCampaignText(text);
  REQUIRE_FALSE(config.ok());
  return config.status();
}

TEST_CASE("a choice nested 6,000 deep is refused with its key path", "[server]") {
  std::string nested = "0.1";
  for (int i = 0; i < 6000; ++i) nested = "{\"choice\":[" + nested + "]}";
  absl::Status s = Refusal(DemoWithLr(nested));
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).rfind("space.train.lr.choice[0].choice[0]", 0) == 0);
  CHECK(std::string(s.message()).find("nested deeper than") != std::string::npos);
  // The demo itself still parses.
  CHECK(ParseCampaignText(DemoCampaignText()).ok());
}

TEST_CASE("1e400, NaN and integers beyond int64 are refused, not thrown", "[server]") {
  for (const char* bad : {"1e400", "-1e400", "NaN", "Infinity"}) {
    INFO(bad);
    CHECK(Refusal(DemoWithLr(bad)).code() == absl::StatusCode::kInvalidArgument);
  }
  absl::Status s = Refusal(DemoWithLr("18446744073709551615"));
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()) == "space.train.lr: integer out of range (beyond 64-bit signed)");
  json seed = SmallCampaign();
  seed["search"]["seed"] = 1e300;
  absl::StatusOr<CampaignConfig> c = ParseCampaign(seed);
  REQUIRE_FALSE(c.ok());
  CHECK(std::string(c.status().message()).rfind("search.seed: must be an integer", 0) == 0);
}

TEST_CASE("a 1,000-layer campaign is refused in milliseconds, before expanding", "[server]") {
  json campaign = SmallCampaign();
  json layers = json::array();
  for (int i = 0; i < 1000; ++i) {
    layers.push_back({{"channels", 8}, {"kernel", 3}, {"cell", {{"type", "feedforward"}}}});
  }
  campaign["space"]["layers"] = layers;
  const std::string text = campaign.dump();
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = Refusal(text);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(std::string(s.message()) == "space.layers: at most 64 layers");
  CHECK(took < std::chrono::milliseconds(200));  // was 8 s and 900 MB
}

TEST_CASE("spaces too large to sample are refused at their key path", "[server]") {
  json campaign = SmallCampaign();
  campaign["space"]["train"]["batch_size"] = {{"int", {1, 1e15}}};
  absl::StatusOr<CampaignConfig> c = ParseCampaign(campaign);
  REQUIRE_FALSE(c.ok());
  CHECK(std::string(c.status().message()).rfind("space.train.batch_size.int: spans more", 0) == 0);

  // 20,000 explicit feedback candidates: refused when the parameter count
  // passes its limit, not after building them all.
  json edges = json::array();
  for (int i = 0; i < 20000; ++i) {
    edges.push_back({{"from", 2 + i}, {"to", 0}, {"enabled", {{"choice", {false, true}}}}});
  }
  campaign = SmallCampaign();
  campaign["space"]["feedback"] = edges;
  c = ParseCampaign(campaign);
  REQUIRE_FALSE(c.ok());
  CHECK(std::string(c.status().message()).find("more than 10000 parameters") != std::string::npos);
}

TEST_CASE("names longer than 200 bytes and files over 1 MiB are refused", "[server]") {
  json campaign = SmallCampaign();
  campaign["name"] = std::string(201, 'n');
  absl::StatusOr<CampaignConfig> c = ParseCampaign(campaign);
  REQUIRE_FALSE(c.ok());
  CHECK(std::string(c.status().message()) == "name: at most 200 bytes (201 given)");
  campaign["name"] = std::string(200, 'n');
  CHECK(ParseCampaign(campaign).ok());

  campaign["padding"] = std::string(2 << 20, ' ');  // the 2.2 MB campaign of the issue
  absl::Status s = Refusal(campaign.dump());
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("at most 1048576") != std::string::npos);
}

}  // namespace
}  // namespace convrnn::server::testing
