// The shipped example campaigns have spaces that parse and sample valid specs.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "search/sampler.h"
#include "search/space.h"

namespace convrnn::search {
namespace {

nlohmann::json ReadExample(const std::string& name) {
  std::ifstream in(std::string(CONVRNN_SOURCE_DIR) + "/examples/" + name);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

TEST_CASE("example campaign spaces parse and sample valid specs", "[search][examples]") {
  for (const char* name : {"demo_campaign.json", "paper_search.json"}) {
    INFO(name);
    nlohmann::json campaign = ReadExample(name);
    absl::StatusOr<Space> space = Space::Parse(campaign.at("space"));
    REQUIRE(space.ok());
    auto shared = std::make_shared<const Space>(*std::move(space));
    SamplerOptions options;
    options.seed = 3;
    absl::StatusOr<std::unique_ptr<Sampler>> sampler = CreateSampler("random", shared, options);
    REQUIRE(sampler.ok());
    History history;
    for (int i = 0; i < 50; ++i) {
      absl::StatusOr<Suggestion> s = (*sampler)->Suggest(history);
      REQUIRE(s.ok());
      CHECK(ParseArchSpec(s->spec).ok());
      history.AddPending(i, s->assignment);
    }
  }
  // The paper-style space searches every cell type in every layer and every
  // descending feedback edge.
  absl::StatusOr<Space> paper = Space::Parse(ReadExample("paper_search.json").at("space"));
  REQUIRE(paper.ok());
  int feedback_edges = 0;
  for (const Param& p : paper->params()) {
    if (p.name.rfind("feedback[", 0) == 0) ++feedback_edges;
    if (p.name == "layers[4].cell.type") CHECK(p.labels.size() == 8);
  }
  CHECK(feedback_edges == 10);  // 5 layers: 4+3+2+1 descending edges
  CHECK(paper->Find("layers[2].cell[rgc].gate_multiplier") >= 0);
}

}  // namespace
}  // namespace convrnn::search
