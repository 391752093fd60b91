// The readable description and the Graphviz diagram of one spec.
#include "client/spec_render.h"

#include <catch2/catch.hpp>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "spec/arch_spec.h"
#include "tests/client/test_specs.h"

namespace convrnn::client {
namespace {

ArchSpec Parse(const char* text) {
  auto spec = ParseArchSpecText(text);
  REQUIRE(spec.ok());
  return *spec;
}

// Just enough of the DOT grammar to check structure: a `digraph NAME {`
// header, balanced braces, node statements `ID [attrs];` and edge statements
// `A -> B [attrs];` or `A -> B;`.
struct Dot {
  std::string name;
  std::set<std::string> nodes;
  struct Edge {
    std::string from, to, attrs;
  };
  std::vector<Edge> edges;
};

Dot ParseDot(const std::string& text) {
  Dot dot;
  std::istringstream in(text);
  std::string line;
  REQUIRE(std::getline(in, line));
  std::smatch m;
  REQUIRE(std::regex_match(line, m, std::regex(R"(digraph (\w+) \{)")));
  dot.name = m[1];
  int depth = 1;
  const std::regex edge(R"(\s*(\w+) -> (\w+)(?: \[(.*)\])?;)");
  const std::regex node(R"(\s*(\w+) \[(.*)\];)");
  while (std::getline(in, line)) {
    if (line == "}") {
      --depth;
      continue;
    }
    REQUIRE(depth == 1);  // nothing after the closing brace
    if (std::regex_match(line, m, edge)) {
      dot.edges.push_back({m[1], m[2], m[3]});
    } else if (std::regex_match(line, m, node)) {
      if (m[1] != "node" && m[1] != "edge") dot.nodes.insert(m[1]);
    } else {
      REQUIRE(std::regex_match(line, std::regex(R"(\s*\w+=\w+;)")));  // graph attribute
    }
  }
  CHECK(depth == 0);
  return dot;
}

TEST_CASE("dot: a digraph with a node per layer and dashed feedback edges", "[client]") {
  const ArchSpec spec = Parse(testing::kFeedbackSpec);
  const std::string text = SpecToDot(spec, "trial_5");
  const Dot dot = ParseDot(text);
  CHECK(dot.name == "trial_5");
  CHECK(dot.nodes == std::set<std::string>{"image", "L0", "L1", "L2", "L3", "readout"});
  for (const auto& e : dot.edges) {
    INFO(e.from << " -> " << e.to);
    CHECK(dot.nodes.count(e.from) == 1);
    CHECK(dot.nodes.count(e.to) == 1);
  }

  std::set<std::pair<std::string, std::string>> solid, dashed;
  std::map<std::pair<std::string, std::string>, std::string> labels;
  for (const auto& e : dot.edges) {
    const bool is_dashed = e.attrs.find("style=dashed") != std::string::npos;
    (is_dashed ? dashed : solid).insert({e.from, e.to});
    std::smatch m;
    if (std::regex_search(e.attrs, m, std::regex(R"re(label="(\w+)")re")))
      labels[{e.from, e.to}] = m[1];
  }
  CHECK(solid == std::set<std::pair<std::string, std::string>>{
                     {"image", "L0"}, {"L0", "L1"}, {"L1", "L2"}, {"L2", "L3"}, {"L3", "readout"}});
  CHECK(dashed == std::set<std::pair<std::string, std::string>>{{"L3", "L1"}, {"L2", "L0"}});
  // Labelled by where the feedback enters its target.
  CHECK(labels[{"L3", "L1"}] == "input");
  CHECK(labels[{"L2", "L0"}] == "output");
}

TEST_CASE("dot: layer labels carry channels, kernel, pool and the cell with its knobs",
          "[client]") {
  const std::string text = SpecToDot(Parse(testing::kFeedbackSpec), "g");
  CHECK(text.find("L0: conv 16ch 5x5 + pool 2x2\\nfeedforward(relu)") != std::string::npos);
  CHECK(text.find("L1: conv 32ch 3x3\\ngru(k=3)") != std::string::npos);
  CHECK(text.find("rgc(c=16 tau=7s gate=5 res)") != std::string::npos);
  CHECK(text.find("lstm(k=3 fbias=1)") != std::string::npos);
}

TEST_CASE("dot: a network without feedback has no dashed edge", "[client]") {
  const Dot dot = ParseDot(SpecToDot(Parse(testing::kSmallSpec), "small"));
  CHECK(dot.edges.size() == 3);  // image -> L0 -> L1 -> readout
  for (const auto& e : dot.edges) CHECK(e.attrs.find("dashed") == std::string::npos);
}

TEST_CASE("text: every layer with its cell and knobs, feedback, training", "[client]") {
  std::ostringstream out;
  DescribeSpec(Parse(testing::kFeedbackSpec), out);
  const std::string text = out.str();
  INFO(text);
  CHECK(text.find("Layers (4):") != std::string::npos);
  CHECK(text.find("L0: conv 16ch 5x5 + pool 2x2 -> 16x14x14") != std::string::npos);
  CHECK(text.find("cell feedforward") != std::string::npos);
  CHECK(text.find("L1: conv 32ch 3x3 -> 32x14x14") != std::string::npos);
  CHECK(text.find("cell gru: ") != std::string::npos);
  CHECK(text.find("L2: ") != std::string::npos);
  CHECK(text.find("cell rgc: ") != std::string::npos);
  CHECK(text.find("tau_kernel=7") != std::string::npos);
  CHECK(text.find("tau_separable=on") != std::string::npos);
  CHECK(text.find("L3: ") != std::string::npos);
  CHECK(text.find("cell lstm: ") != std::string::npos);
  CHECK(text.find("L3 -> L1 (enters at the input)") != std::string::npos);
  CHECK(text.find("L2 -> L0 (enters at the output)") != std::string::npos);
  CHECK(text.find("Training: sgd lr=0.05 momentum=0.9 nesterov") != std::string::npos);
  CHECK(text.find("8 steps, image on steps 0-5") != std::string::npos);
}

TEST_CASE("one-line summaries name each layer's cell and the feedback", "[client]") {
  CHECK(ArchSummary(Parse(testing::kFeedbackSpec)) == "feedforward>gru>rgc>lstm fb 2->0,3->1");
  CHECK(ArchSummary(Parse(testing::kSmallSpec)) == "feedforward>time_decay");
}

}  // namespace
}  // namespace convrnn::client
