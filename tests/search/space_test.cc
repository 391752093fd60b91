#include "search/space.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "tests/search/test_spaces.h"

namespace convrnn::search {
namespace {

using nlohmann::json;

Space MustParse(const json& j) {
  absl::StatusOr<Space> space = Space::Parse(j);
  INFO(space.status().ToString());
  REQUIRE(space.ok());
  return *std::move(space);
}

TEST_CASE("space names parameters by key path and branch", "[search]") {
  Space space = MustParse(testing::ConvRnnSpace(4));
  for (const char* name : {"layers[2].cell.type", "layers[2].cell[rgc].tau_kernel",
                           "layers[0].cell[gru].recurrent_kernel", "feedback[3->1].enabled",
                           "feedback[1->0].enabled", "train.lr", "train.batch_size"}) {
    INFO(name);
    CHECK(space.Find(name) >= 0);
  }
  CHECK(space.Find("feedback[0->1].enabled") == -1);  // only descending edges
  const Param& type = space.params()[space.Find("layers[2].cell.type")];
  CHECK(type.labels == std::vector<std::string>{"feedforward", "time_decay", "gru", "lstm", "rgc"});
  const Param& tau = space.params()[space.Find("layers[2].cell[rgc].tau_kernel")];
  CHECK(tau.parent == space.Find("layers[2].cell.type"));
  CHECK(type.labels[tau.parent_choice] == "rgc");
  // Parents always precede their children.
  for (size_t i = 0; i < space.params().size(); ++i) CHECK(space.params()[i].parent < int(i));
}

TEST_CASE("samples follow the conditional structure and always validate", "[search]") {
  Space space = MustParse(testing::ConvRnnSpace(4));
  Rng rng(7);
  std::set<std::string> types_seen;
  int edges_on = 0;
  for (int s = 0; s < 3000; ++s) {
    Assignment a = space.Sample(rng);
    REQUIRE(space.Check(a).ok());
    absl::StatusOr<json> raw = space.ToSpecJson(a);
    REQUIRE(raw.ok());
    absl::StatusOr<ArchSpec> spec = ParseArchSpec(*raw);
    INFO(raw->dump());
    REQUIRE(spec.ok());
    const json names = space.ToJson(a);
    for (int l = 0; l < 4; ++l) {
      const std::string type = (*raw)["layers"][l]["cell"]["type"];
      types_seen.insert(type);
      const std::string prefix = "layers[" + std::to_string(l) + "].cell[";
      for (auto it = names.begin(); it != names.end(); ++it) {
        // A knob of layer l's cell is present only under the chosen type.
        if (it.key().rfind(prefix, 0) == 0) {
          CHECK(it.key().rfind(prefix + type + "]", 0) == 0);
        }
      }
      if (type != "rgc") CHECK_FALSE((*raw)["layers"][l]["cell"].contains("tau_offset"));
      if (type == "rgc") {
        CHECK((*raw)["layers"][l]["cell"].contains("tau_offset"));
        CHECK((*raw)["layers"][l]["cell"]["tau_kernel"].get<int>() % 2 == 1);
      }
    }
    for (const json& e : (*raw)["feedback"]) {
      CHECK_FALSE(e.contains("enabled"));
      CHECK(e["from"].get<int>() > e["to"].get<int>());
    }
    edges_on += static_cast<int>((*raw)["feedback"].size());
    // Round trip from both the raw and the canonical spec.
    absl::StatusOr<Assignment> back = space.FromSpec(*raw);
    REQUIRE(back.ok());
    absl::StatusOr<Assignment> back2 = space.FromSpec(ToJson(*spec));
    INFO(back2.status().ToString());
    REQUIRE(back2.ok());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(IsAbsent(a[i]) == IsAbsent((*back)[i]));
      CHECK(IsAbsent(a[i]) == IsAbsent((*back2)[i]));
      if (!IsAbsent(a[i])) {
        CHECK(a[i] == (*back)[i]);
        CHECK(a[i] == (*back2)[i]);
      }
    }
  }
  CHECK(types_seen.size() == 5);
  CHECK(edges_on > 3000 * 6 * 0.4);  // 6 candidate edges, each on about half the time
  CHECK(edges_on < 3000 * 6 * 0.6);
}

TEST_CASE("sampling is deterministic for a seed", "[search]") {
  Space space = MustParse(testing::ConvRnnSpace(3));
  Rng a(42), b(42), c(43);
  const Assignment x = space.Sample(a), y = space.Sample(b), z = space.Sample(c);
  CHECK(space.ToSpecJson(x)->dump() == space.ToSpecJson(y)->dump());
  CHECK(space.ToSpecJson(x)->dump() != space.ToSpecJson(z)->dump());
}

TEST_CASE("specs outside the space are refused with a key path", "[search]") {
  Space space = MustParse(testing::ConvRnnSpace(3));
  Rng rng(1);
  json spec = *space.ToSpecJson(space.Sample(rng));
  spec["layers"][1]["channels"] = 99;
  absl::StatusOr<Assignment> a = space.FromSpec(spec);
  REQUIRE_FALSE(a.ok());
  CHECK_THAT(std::string(a.status().message()), Catch::Contains("layers[1].channels"));
  spec = *space.ToSpecJson(space.Sample(rng));
  spec["train"]["lr"] = 5.0;
  a = space.FromSpec(spec);
  REQUIRE_FALSE(a.ok());
  CHECK_THAT(std::string(a.status().message()), Catch::Contains("train.lr"));
}

TEST_CASE("feedback candidates listed with enabled choices", "[search]") {
  json j = testing::ConvRnnSpace(3);
  j["feedback"] = json::parse(R"([{"from": 2, "to": 0, "enabled": {"choice": [false, true]}},
                                  {"from": 1, "to": 0}])");
  Space space = MustParse(j);
  CHECK(space.Find("feedback[2->0].enabled") >= 0);
  Rng rng(3);
  std::set<size_t> sizes;
  for (int s = 0; s < 200; ++s) {
    json spec = *space.ToSpecJson(space.Sample(rng));
    sizes.insert(spec["feedback"].size());
    REQUIRE(ParseArchSpec(spec).ok());
  }
  CHECK(sizes == std::set<size_t>{1, 2});  // 1 -> 0 always on
}

TEST_CASE("bad spaces are refused naming the key path", "[search]") {
  struct Case {
    const char* pointer;  // where to put the bad value
    json value;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"/layers/0/channels", {{"int", {64, 8}}}, "space.layers[0].channels.int"},
      {"/train/lr", {{"loguniform", {0.0, 1.0}}}, "space.train.lr.loguniform"},
      {"/layers/0/cell", {{"choice", json::array()}}, "space.layers[0].cell.choice"},
      {"/layers/1/kernel", {{"choice", {3}}, {"int", {1, 3}}}, "found both"},
      {"/layers/1/kernel", {{"int", {1, 3}}, {"stride", 2}}, "space.layers[1].kernel.stride"},
      {"/layers/0/kernel", {{"int", {1, 7}}}, "space.layers[0].kernel: must be an odd integer"},
      {"/feedback", {{"candidates", "all_ascending"}}, "space.feedback.candidates"},
      {"/feedback", json::parse(R"([{"from": 2, "to": 0}, {"from": 2, "to": 0}])"),
       "space.feedback[1]: duplicate edge"},
      {"/feedback", json::parse(R"([{"from": {"int": [1, 2]}, "to": 0}])"),
       "space.feedback[0].from"},
      {"/layers/0/cell",
       {{"choice", {{{"type", "gru"}, {"tau_kernel", 3}}}}},
       "space.layers[0].cell.tau_kernel: is not a knob of cell type gru"},
      {"/layers/2/cell",
       {{"choice", {{{"type", "lstm"}}, {{"type", "lstm"}}}}},
       "duplicate choice"},
      {"/train/momentum", {{"uniform", {0.5, 2.0}}}, "space.train.momentum"},
  };
  for (const Case& c : cases) {
    json j = testing::ConvRnnSpace(3);
    j[json::json_pointer(c.pointer)] = c.value;
    absl::StatusOr<Space> space = Space::Parse(j);
    INFO(c.pointer << " = " << c.value.dump());
    REQUIRE_FALSE(space.ok());
    CHECK(space.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(space.status().message()), Catch::Contains(c.expected));
  }
}

}  // namespace
}  // namespace convrnn::search
