// Issue 11's search pieces: parameter budgets, grid search, the median
// architecture, enrichment p-values and group comparisons.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "search/analysis.h"
#include "search/grid_sampler.h"
#include "search/sampler.h"
#include "spec/cost.h"
#include "spec/param_budget.h"
#include "tests/search/test_spaces.h"
#include "util/status_macros.h"

namespace convrnn::search {
namespace {

using nlohmann::json;
using testing::ParsedSpace;

// Every cell type in every layer, widths and kernels searched.
json AllCellsSpace() {
  json cells = json::array();
  for (const std::string& type : AllCellTypeNames()) cells.push_back({{"type", type}});
  cells[7]["cell_channels"] = {{"choice", {8, 24}}};  // rgc: an explicit memory width too
  json space = testing::ConvRnnSpace(3);
  for (json& layer : space["layers"]) {
    layer["channels"] = {{"choice", {8, 16, 48}}};
    layer["kernel"] = {{"choice", {3, 5}}};
    layer["cell"] = {{"choice", cells}};
  }
  return space;
}

absl::StatusOr<json> Budgeted(const ArchSpec& spec, ParamBudget budget) {
  ASSIGN_OR_RETURN(BudgetMatch m, MatchParams(spec, budget));
  return ToJson(m.spec);
}

TEST_CASE("budget: every candidate of a 200-trial random campaign is within tolerance",
          "[search]") {
  auto space = ParsedSpace(AllCellsSpace());
  const ParamBudget budget{60'000, 0.03};
  SamplerOptions options;
  options.seed = 11;
  options.adjust = [&](const ArchSpec& s) { return Budgeted(s, budget); };
  auto sampler = *CreateSampler("random", space, options);
  History history;
  std::set<std::string> types_seen;
  for (int i = 0; i < 200; ++i) {
    absl::StatusOr<Suggestion> s = sampler->Suggest(history);
    REQUIRE(s.ok());
    ArchSpec spec = *ParseArchSpec(s->spec);
    const int64_t params = EstimateCost(spec).params;
    INFO("trial " << i << ": " << params << " parameters");
    CHECK(std::abs(params - budget.params) <= budget.tolerance * budget.params);
    for (const LayerSpec& l : spec.layers)
      types_seen.insert(std::string(CellTypeName(l.cell.type)));
    // One multiplier: the scaled widths keep the sampled widths' ratios.
    ArchSpec sampled = *space->ToSpec(s->assignment);
    absl::StatusOr<BudgetMatch> m = MatchParams(sampled, budget);
    REQUIRE(m.ok());
    for (size_t l = 0; l < spec.layers.size(); ++l) {
      CHECK(spec.layers[l].channels ==
            std::max<long>(1, std::lround(m->multiplier * sampled.layers[l].channels)));
    }
    history.AddPending(i + 1, s->assignment);
    history.Finish(i + 1, TrialState::kCompleted, {0.5});
  }
  CHECK(types_seen.size() == AllCellTypeNames().size());
}

TEST_CASE("budget: per cell type / a matched count and an unreachable one", "[search]") {
  for (const std::string& type : AllCellTypeNames()) {
    json j = {
        {"layers",
         {{{"channels", 16}, {"kernel", 3}, {"pool", true}, {"cell", {{"type", "feedforward"}}}},
          {{"channels", 32}, {"kernel", 3}, {"cell", {{"type", type}}}}}},
        {"time", {{"steps", 4}, {"image_off", 4}}}};
    ArchSpec spec = *ParseArchSpec(j);
    // Large enough that one channel more moves the count by less than 3%
    // (at 50,000 an lstm's steps are ~7%: OUT_OF_RANGE, as documented).
    for (int64_t target : {200'000, 800'000}) {
      absl::StatusOr<BudgetMatch> m = MatchParams(spec, {target, 0.03});
      INFO(type << " at " << target << ": " << m.status().ToString());
      REQUIRE(m.ok());
      CHECK(std::abs(EstimateCost(m->spec).params - target) <= 0.03 * target);
      CHECK(m->params == EstimateCost(m->spec).params);
    }
    // The readout's 10 biases alone exceed 5 parameters.
    CHECK(MatchParams(spec, {5, 0.03}).status().code() == absl::StatusCode::kOutOfRange);
  }
}

TEST_CASE("budget: candidates that cannot reach it are redrawn and reported", "[search]") {
  // Kernel 11 moves the count in steps of ~13% near 1,000 parameters: unreachable.
  json j = {{"layers",
             {{{"channels", 16},
               {"kernel", {{"choice", {1, 11}}}},
               {"cell", {{"type", "feedforward"}}}}}},
            {"time", {{"steps", 2}, {"image_off", 2}}}};
  auto space = ParsedSpace(j);
  SamplerOptions options;
  options.adjust = [](const ArchSpec& s) { return Budgeted(s, {1000, 0.03}); };
  auto sampler = *CreateSampler("random", space, options);
  History history;
  int rejected = 0;
  for (int i = 0; i < 20; ++i) {
    Suggestion s = *sampler->Suggest(history);
    CHECK(s.spec["layers"][0]["kernel"] == 1);
    rejected += static_cast<int>(s.rejected.size());
    for (const std::string& why : s.rejected)
      CHECK(why.find("cannot reach 1000") != std::string::npos);
    history.AddPending(i + 1, s.assignment);
  }
  CHECK(rejected > 0);
}

json GridSpace() {
  return {{"layers",
           {{{"channels", 8},
             {"kernel", 3},
             {"cell",
              {{"choice",
                {{{"type", "gru"}, {"recurrent_kernel", {{"choice", {1, 3}}}}},
                 {{"type", "lstm"}}}}}}}}},
          {"time", {{"steps", 2}, {"image_off", 2}}},
          {"train", {{"batch_size", {{"choice", {64, 128}}}}, {"seed", 10}}}};
}

TEST_CASE("grid: the exact set and order of combinations / round by round", "[search]") {
  auto space = ParsedSpace(GridSpace());
  SamplerOptions options;
  options.repeats = 2;
  auto sampler = *CreateSampler("grid", space, options);
  History history;
  std::vector<std::string> got;
  for (int i = 0; i < 12; ++i) {
    Suggestion s = *sampler->Suggest(history);
    const json& cell = s.spec["layers"][0]["cell"];
    got.push_back(absl::StrCat(cell["type"].get<std::string>(),
                               cell.contains("recurrent_kernel") && cell["type"] == "gru"
                                   ? absl::StrCat("/k", cell["recurrent_kernel"].get<int>())
                                   : "",
                               "/b", s.spec["train"]["batch_size"].get<int>(), "/s",
                               s.spec["train"]["seed"].get<int>()));
    history.AddPending(i + 1, s.assignment);
    if (i % 3 == 0) history.Finish(i + 1, TrialState::kFailed, {});  // failures still count
  }
  const std::vector<std::string> want = {"gru/k1/b64/s10",  "gru/k1/b128/s10", "gru/k3/b64/s10",
                                         "gru/k3/b128/s10", "lstm/b64/s10",    "lstm/b128/s10",
                                         "gru/k1/b64/s11",  "gru/k1/b128/s11", "gru/k3/b64/s11",
                                         "gru/k3/b128/s11", "lstm/b64/s11",    "lstm/b128/s11"};
  CHECK(got == want);
  CHECK(*GridSize(*space, 100) == 6);
}

TEST_CASE("grid: continuous distributions and oversized grids are refused", "[search]") {
  json j = GridSpace();
  j["train"]["lr"] = {{"loguniform", {0.01, 0.1}}};
  absl::Status s = GridCombinations(*ParsedSpace(j), 100).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message().find("space.train.lr") != std::string::npos);
  CHECK(GridSize(*ParsedSpace(GridSpace()), 5).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

json MedianSpace() {
  return {
      {"layers",
       {{{"channels", 8}, {"kernel", 3}, {"cell", {{"type", "feedforward"}}}},
        {{"channels", 8},
         {"kernel", 3},
         {"cell",
          {{"choice",
            {{{"type", "gru"}},
             {{"type", "rgc"}, {"tau_kernel", {{"int", {1, 7}}, {"step", 2}}}},
             {{"type", "lstm"}}}}}}},
        {{"channels", 8}, {"kernel", 3}, {"cell", {{"type", "feedforward"}}}}}},
      {"time", {{"steps", 6}, {"image_off", 6}}},
      {"feedback", {{"candidates", "all_descending"}}},
      {"train", {{"lr", {{"loguniform", {0.001, 1.0}}}}, {"momentum", {{"uniform", {0.0, 1.0}}}}}}};
}

TEST_CASE("median: numeric by median / categorical by mode / edges by majority", "[search]") {
  auto space = ParsedSpace(MedianSpace());
  auto a = [&](const char* cell, int tau, bool e10, bool e21, double lr, double m, double v) {
    json values = {{"layers[1].cell.type", cell},
                   {"feedback[1->0].enabled", e10 ? "true" : "false"},
                   {"feedback[2->0].enabled", "false"},
                   {"feedback[2->1].enabled", e21 ? "true" : "false"},
                   {"train.lr", lr},
                   {"train.momentum", m}};
    if (std::string(cell) == "rgc") values["layers[1].cell[rgc].tau_kernel"] = tau;
    absl::StatusOr<Assignment> x = space->FromJson(values);
    INFO(x.status().ToString());
    REQUIRE(x.ok());
    return RankedAssignment{*x, v};
  };
  // rgc x2 and lstm x2 tie on count; rgc has the better mean (0.85 vs 0.8).
  std::vector<RankedAssignment> top = {
      a("rgc", 7, true, false, 0.01, 0.9, 0.9), a("lstm", 0, true, true, 0.1, 0.5, 0.85),
      a("rgc", 3, false, false, 0.001, 0.8, 0.8), a("lstm", 0, false, true, 1.0, 0.7, 0.75)};
  Assignment median = *MedianAssignment(*space, top, Goal::kMaximize);
  json got = space->ToJson(median);
  CHECK(got["layers[1].cell.type"] == "rgc");
  CHECK(got["layers[1].cell[rgc].tau_kernel"] == 5);  // (3 + 7) / 2
  CHECK(got["feedback[1->0].enabled"] == "true");     // 2 of 4: half keeps it
  CHECK(got["feedback[2->1].enabled"] == "true");
  CHECK(got["feedback[2->0].enabled"] == "false");                        // 0 of 4
  CHECK(got["train.lr"].get<double>() == Approx(std::sqrt(0.01 * 0.1)));  // log scale
  CHECK(got["train.momentum"].get<double>() == Approx(0.75));
  CHECK(space->ToSpec(median).ok());  // a valid spec
  // Minimising flips the tie-break: lstm's mean is then the better one.
  CHECK(space->ToJson(*MedianAssignment(*space, top, Goal::kMinimize))["layers[1].cell.type"] ==
        "lstm");
  CHECK(MedianAssignment(*space, {}, Goal::kMaximize).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("enrichment: hypergeometric p-values match a hand computation", "[search]") {
  // By hand: N = 10 trials, K = 4 carry the edge, the top 3 all do:
  // P(X >= 3) = C(4,3) C(6,0) / C(10,3) = 4 / 120.
  CHECK(HypergeometricUpperTail(3, 10, 4, 3) == Approx(4.0 / 120));
  // P(X >= 1) = 1 - C(6,3)/C(10,3) = 1 - 20/120.
  CHECK(HypergeometricUpperTail(1, 10, 4, 3) == Approx(100.0 / 120));
  CHECK(HypergeometricUpperTail(0, 10, 4, 3) == 1.0);
  CHECK(HypergeometricUpperTail(4, 10, 4, 3) == 0.0);

  json base = {{"layers",
                {{{"channels", 8}, {"kernel", 3}, {"cell", {{"type", "feedforward"}}}},
                 {{"channels", 8}, {"kernel", 3}, {"cell", {{"type", "gru"}}}}}},
               {"time", {{"steps", 4}, {"image_off", 4}}}};
  std::vector<ArchSpec> ranked;
  for (int i = 0; i < 10; ++i) {
    json j = base;
    if (i < 3 || i == 7) j["feedback"] = {{{"from", 1}, {"to", 0}}};
    ranked.push_back(*ParseArchSpec(j));
  }
  std::vector<EnrichmentRow> rows = Enrichment(ranked, 3);
  REQUIRE(rows.front().feature == "feedback 1->0");
  CHECK(rows.front().top_count == 3);
  CHECK(rows.front().all_count == 4);
  CHECK(rows.front().all_total == 10);
  CHECK(rows.front().p_value == Approx(4.0 / 120));
  for (const EnrichmentRow& r : rows) {
    if (r.feature == "layers[1].cell.type=gru") CHECK(r.p_value == 1.0);  // every trial has it
  }
}

TEST_CASE("compare: groups sorted by median with best / spread and sizes", "[search]") {
  std::vector<GroupedTrial> t = {{"rgc", 0.9, 100},  {"rgc", 0.8, 120},  {"rgc", 0.7, 110},
                                 {"lstm", 0.85, 90}, {"lstm", 0.87, 95}, {"gru", 0.5, 80}};
  std::vector<GroupRow> rows = CompareGroups(t, Goal::kMaximize);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].group == "lstm");
  CHECK(rows[0].median == Approx(0.86));
  CHECK(rows[1].group == "rgc");
  CHECK(rows[1].best == Approx(0.9));
  CHECK(rows[1].spread == Approx(0.1));
  CHECK(rows[1].params_median == 110);
  CHECK(rows[1].params_min == 100);
  CHECK(rows[1].params_max == 120);
  CHECK(rows[2].count == 1);
  CHECK(rows[2].spread == 0);
}

TEST_CASE("space: FromJson inverts ToJson", "[search]") {
  auto space = ParsedSpace(testing::ConvRnnSpace(3));
  Rng rng(3);
  for (int i = 0; i < 50; ++i) {
    Assignment a = space->Sample(rng);
    absl::StatusOr<Assignment> back = space->FromJson(json::parse(space->ToJson(a).dump()));
    REQUIRE(back.ok());
    CHECK(space->ToJson(*back) == space->ToJson(a));
  }
  CHECK_FALSE(space->FromJson(json::object()).ok());
}

}  // namespace
}  // namespace convrnn::search
