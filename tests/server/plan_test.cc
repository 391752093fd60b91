// Issue 11 in the coordinator over a real store: enqueued trials, extended
// campaigns, warm start, parameter budgets and grid campaigns, each across
// a coordinator restart.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "search/grid_sampler.h"
#include "server/campaign.h"
#include "server/coordinator.h"
#include "spec/cost.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

using nlohmann::json;

const Metrics kFinal = {{"val_top1", 0.8}, {"params", 1000}, {"flops", 5000}};

std::vector<db::Event> Events(Harness& h, int64_t campaign, const std::string& type) {
  std::vector<db::Event> out;
  for (const db::Event& e : Must(h.coordinator->ReadEvents(campaign, 0, 10000)).events) {
    if (e.type == type) out.push_back(e);
  }
  return out;
}

TEST_CASE("enqueue: fixed specs are leased first / count as trials and survive a restart",
          "[server]") {
  Harness h;
  const int64_t c = h.Launch(SmallCampaign({{"search", {{"max_trials", 3}, {"max_parallel", 1}}}}));
  std::vector<db::Trial> queued =
      Must(h.coordinator->Enqueue(c, {GruSpec(0.05).dump(), GruSpec(0.02).dump()}));
  REQUIRE(queued.size() == 2);
  CHECK(queued[0].state == db::TrialState::kPending);
  const int64_t w = h.Worker();
  db::Trial first = h.Lease(w);
  CHECK(first.id == queued[0].id);
  CHECK(json::parse(first.spec_json)["train"]["lr"] == 0.05);
  Must(h.coordinator->Complete(w, first.lease_token, kFinal));

  h.Restart();  // the second enqueued trial is still PENDING, and leased next
  db::Trial second = h.Lease(w);
  CHECK(second.id == queued[1].id);
  CHECK(json::parse(second.spec_json)["layers"][1]["cell"]["type"] == "gru");
  Must(h.coordinator->Complete(w, second.lease_token, kFinal));
  db::Trial third = h.Lease(w);  // the sampler's one proposal left
  CHECK(third.number == 3);
  Must(h.coordinator->Complete(w, third.lease_token, kFinal));
  CHECK(h.State(c) == db::CampaignState::kCompleted);  // 2 enqueued + 1 proposed = max_trials
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(w)).has_trial);
  // An ended campaign takes no more: extend it first.
  CHECK(h.coordinator->Enqueue(c, {GruSpec(0.05).dump()}).status().code() ==
        absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("enqueue: a spec outside the space or not JSON is refused and named", "[server]") {
  Harness h;
  const int64_t c = h.Launch();
  absl::Status s = h.coordinator->Enqueue(c, {GruSpec(0.05).dump(), GruSpec(0.5).dump()}).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message().find("specs[1]") != std::string::npos);
  CHECK(s.message().find("train.lr") != std::string::npos);
  CHECK(h.coordinator->Enqueue(c, {"{"}).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(Must(h.coordinator->GetCampaign(c)).counts.total() == 0);  // nothing half-inserted
  CHECK(h.coordinator->Enqueue(99, {GruSpec(0.05).dump()}).status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("extend: a completed campaign runs again and the budget survives a restart", "[server]") {
  Harness h;
  const int64_t c = h.Launch(SmallCampaign({{"search", {{"max_trials", 1}}}}));
  const int64_t w = h.Worker();
  db::Trial t1 = h.Lease(w);
  Must(h.coordinator->Complete(w, t1.lease_token, kFinal));
  REQUIRE(h.State(c) == db::CampaignState::kCompleted);

  CampaignView v = Must(h.coordinator->Extend(c, 2, 0));
  CHECK(v.campaign.state == db::CampaignState::kRunning);
  h.Restart();
  CHECK(h.State(c) == db::CampaignState::kRunning);
  db::Trial t2 = h.Lease(w);
  CHECK(t2.number == 2);
  Must(h.coordinator->Complete(w, t2.lease_token, kFinal));
  CHECK(h.State(c) == db::CampaignState::kCompleted);

  h.Restart();  // ended: loaded lazily, without a sampler, until extended
  CHECK(h.coordinator->Extend(c, 1, 0).status().code() == absl::StatusCode::kInvalidArgument);
  Must(h.coordinator->Extend(c, 3, 2));
  db::Trial t3 = h.Lease(w);
  CHECK(t3.number == 3);
  CHECK(h.State(c) == db::CampaignState::kRunning);
  CHECK(Events(h, c, "campaign_extended").size() == 2);
}

TEST_CASE("warm start: compatible campaigns feed the history / others are named and skipped",
          "[server]") {
  Harness h;
  const int64_t a = h.Launch(SmallCampaign({{"search", {{"max_trials", 2}}}}));
  const int64_t other =
      h.Launch(SmallCampaign({{"space", {{"train", {{"lr", {{"loguniform", {0.001, 0.1}}}}}}}}}));
  const int64_t w = h.Worker();
  for (int i = 0; i < 2; ++i) {
    db::Trial t = h.Lease(w);
    Must(h.coordinator->Complete(w, t.lease_token, kFinal));
  }
  REQUIRE(h.State(a) == db::CampaignState::kCompleted);
  Must(h.coordinator->Stop(other));

  const json warm = SmallCampaign({{"search", {{"warm_start", {a, other, 999}}}}});
  const int64_t b = h.Launch(warm);
  std::vector<db::Event> notes = Events(h, b, "warm_start");
  REQUIRE(notes.size() == 1);
  json note = json::parse(notes[0].payload_json);
  CHECK(note["used"] == json::array({{{"campaign", a}, {"trials", 2}}}));
  REQUIRE(note["skipped"].size() == 2);
  CHECK(note["skipped"][0]["campaign"] == other);
  CHECK(note["skipped"][0]["reason"].get<std::string>().find("train.lr") != std::string::npos);
  CHECK(note["skipped"][1]["campaign"] == 999);

  // The same campaign without warm start proposes differently: the two
  // earlier results are in b's history (the seed mixes its length in).
  const int64_t cold = h.Launch(SmallCampaign());
  Must(h.coordinator->Stop(b));
  db::Trial from_cold = h.Lease(w);
  REQUIRE(from_cold.campaign_id == cold);
  Must(h.coordinator->Stop(cold));
  Must(h.coordinator->Resume(b));
  db::Trial from_warm = h.Lease(w);
  REQUIRE(from_warm.campaign_id == b);
  CHECK(from_warm.params_json != from_cold.params_json);

  h.Restart();  // rebuilt with the warm start; no second note
  Must(h.coordinator->Complete(w, from_warm.lease_token, kFinal));
  CHECK(h.Lease(w).campaign_id == b);
  CHECK(Events(h, b, "warm_start").size() == 1);
  CHECK(h.coordinator->Launch(SmallCampaign({{"search", {{"warm_start", {0}}}}}).dump())
            .status()
            .code() == absl::StatusCode::kInvalidArgument);
}

json BudgetCampaign() {
  return SmallCampaign({{"space",
                         {{"layers",
                           {{{"channels", 16},
                             {"kernel", {{"choice", {1, 11}}}},
                             {"cell", {{"type", "feedforward"}}}}}},
                          {"feedback", json::array()},
                          {"time", {{"steps", 2}, {"image_off", 2}, {"loss", "last"}}}}},
                        {"budget", {{"params", 1000}, {"tolerance", 0.03}}},
                        {"search", {{"max_trials", 6}, {"max_parallel", 6}}}});
}

TEST_CASE("budget: every trial within tolerance / unreachable candidates noted", "[server]") {
  Harness h;
  const int64_t c = h.Launch(BudgetCampaign());
  const int64_t w = h.Worker();
  auto check = [&](const db::Trial& t) {
    ArchSpec spec = Must(ParseArchSpecText(t.spec_json));
    CHECK(spec.layers[0].kernel == 1);  // kernel 11 cannot reach 1,000 within 3%
    CHECK(std::abs(EstimateCost(spec).params - 1000) <= 30);
  };
  for (int i = 0; i < 3; ++i) check(h.Lease(w));
  h.Restart();  // scaled specs are not points of the space; the params are
  for (int i = 0; i < 3; ++i) check(h.Lease(w));
  std::vector<db::Event> notes = Events(h, c, "budget_resample");
  REQUIRE_FALSE(notes.empty());
  CHECK(json::parse(notes[0].payload_json)["reason"].get<std::string>().find("cannot reach") !=
        std::string::npos);
  // A budget no candidate can reach is refused at launch.
  absl::Status s =
      h.coordinator->Launch(SmallCampaign({{"budget", {{"params", 5}}}}).dump()).status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message().find("budget.params") != std::string::npos);
}

TEST_CASE("budget: all 200 trials of a random campaign over every cell type are within 3%",
          "[server]") {
  Harness h;
  json cells = json::array();
  for (const std::string& type : AllCellTypeNames()) cells.push_back({{"type", type}});
  json campaign = SmallCampaign(
      {{"budget", {{"params", 50000}}}, {"search", {{"max_trials", 200}, {"max_parallel", 200}}}});
  for (json& layer : campaign["space"]["layers"]) {
    layer["channels"] = {{"choice", {8, 16, 32}}};
    layer["cell"] = {{"choice", cells}};
  }
  const int64_t c = h.Launch(campaign);
  const int64_t w = h.Worker();
  std::set<std::string> types;
  for (int i = 0; i < 200; ++i) {
    db::Trial t = h.Lease(w);
    ArchSpec spec = Must(ParseArchSpecText(t.spec_json));
    const int64_t params = EstimateCost(spec).params;
    INFO("trial " << t.number << ": " << params);
    CHECK(std::abs(params - 50000) <= 1500);
    for (const LayerSpec& l : spec.layers) types.insert(std::string(CellTypeName(l.cell.type)));
  }
  CHECK(types.size() == AllCellTypeNames().size());
  CHECK(Must(h.coordinator->GetCampaign(c)).counts.total() == 200);
}

json GridCampaign(const json& search) {
  json c = SmallCampaign(
      {{"space",
        {{"layers",
          {{{"channels", 8}, {"kernel", 3}, {"stride", 2}, {"cell", {{"type", "feedforward"}}}},
           {{"channels", 8},
            {"kernel", 3},
            {"cell", {{"choice", {{{"type", "gru"}}, {{"type", "lstm"}}}}}}}}},
         {"feedback", json::array()}}}});
  c["space"]["train"]["lr"] = {{"choice", {0.01, 0.1}}};
  c["search"] = search;
  return c;
}

TEST_CASE("grid: combinations x repeats in order across a restart / oversized grids refused",
          "[server]") {
  Harness h;
  absl::Status s =
      h.coordinator
          ->Launch(GridCampaign({{"algorithm", "grid"}, {"repeats", 2}, {"max_trials", 7}}).dump())
          .status();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message().find("search.max_trials") != std::string::npos);
  CHECK(h.coordinator->Launch(SmallCampaign({{"search", {{"algorithm", "grid"}}}}).dump())
            .status()
            .message()
            .find("space.train.lr") != std::string::npos);

  const int64_t c = h.Launch(GridCampaign({{"algorithm", "grid"}, {"repeats", 2}}));
  const int64_t w = h.Worker();
  std::vector<std::string> got;
  for (int i = 0; i < 8; ++i) {
    if (i == 3) h.Restart();
    db::Trial t = h.Lease(w);
    json spec = json::parse(t.spec_json);
    got.push_back(absl::StrCat(spec["layers"][1]["cell"]["type"].get<std::string>(), "/",
                               spec["train"]["lr"].get<double>(), "/",
                               spec["train"]["seed"].get<int>()));
    Must(h.coordinator->Complete(w, t.lease_token, kFinal));
  }
  CHECK(got == std::vector<std::string>{"gru/0.01/0", "gru/0.1/0", "lstm/0.01/0", "lstm/0.1/0",
                                        "gru/0.01/1", "gru/0.1/1", "lstm/0.01/1", "lstm/0.1/1"});
  CHECK(h.State(c) == db::CampaignState::kCompleted);  // max_trials defaulted to 4 x 2
}

TEST_CASE("examples: the cell comparison and the paper search launch with budgets", "[server]") {
  auto read = [](const std::string& name) {
    std::ifstream in(std::string(CONVRNN_SOURCE_DIR) + "/examples/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  CampaignConfig cells = Must(ParseCampaignText(read("cell_comparison.json")));
  CHECK(cells.algorithm == "grid");
  CHECK(cells.max_trials == 8 * 3);  // every cell type, 3 seeds
  REQUIRE(cells.budget.has_value());
  search::SamplerOptions options;
  options.adjust = BudgetAdjuster(cells.budget);
  search::GridSampler grid(cells.space, Must(search::GridCombinations(*cells.space, 100)), options);
  for (size_t i = 0; i < grid.size(); ++i) {
    ArchSpec spec = Must(ParseArchSpec(Must(grid.Make(i, 0)).spec));
    CHECK(std::abs(EstimateCost(spec).params - cells.budget->params) <=
          cells.budget->tolerance * cells.budget->params);
  }
  CampaignConfig paper = Must(ParseCampaignText(read("paper_search.json")));
  CHECK(paper.budget.has_value());
}

}  // namespace
}  // namespace convrnn::server::testing
