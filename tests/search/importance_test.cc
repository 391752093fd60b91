// fANOVA parameter importance (search/importance.h): synthetic objectives
// whose important parameters are known, checked against themselves and
// against Optuna 3.1's get_param_importances run on the same trials.
#include "search/importance.h"

#include <stdio.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "search/rng.h"
#include "search/space.h"
#include "tests/search/test_spaces.h"
#include "tests/test_support.h"

namespace convrnn::search {
namespace {

using convrnn::testing::Must;
using convrnn::testing::TempDir;
using nlohmann::json;

// Looks parameters up by name in one assignment.
struct View {
  const Space& space;
  const Assignment& a;
  double operator[](const std::string& name) const { return a[space.Find(name)]; }
  const std::string& Label(const std::string& name) const {
    return space.params()[space.Find(name)].labels[static_cast<int>((*this)[name])];
  }
};

using Objective = std::function<double(const View&)>;

struct Trials {
  std::vector<Assignment> x;
  std::vector<double> y;
};

Trials RandomTrials(const Space& space, int n, const Objective& f, uint64_t seed = 7) {
  Rng rng(seed);
  Trials t;
  for (int i = 0; i < n; ++i) {
    t.x.push_back(space.Sample(rng));
    t.y.push_back(f(View{space, t.x.back()}) + 0.05 * rng.Normal());
  }
  return t;
}

std::vector<std::string> TopNames(const std::vector<ParamImportance>& ranked, size_t k) {
  std::vector<std::string> names;
  for (size_t i = 0; i < k && i < ranked.size(); ++i) names.push_back(ranked[i].name);
  return names;
}

// Optuna's ranking of the always-active parameters on the same trials.
std::vector<std::string> OptunaTop(const Space& space, const Trials& t, size_t k) {
  json params = json::object();
  for (size_t id = 0; id < space.params().size(); ++id) {
    const Param& p = space.params()[id];
    if (p.parent >= 0) continue;  // Optuna keeps only parameters present in every trial
    if (p.categorical()) {
      params[p.name] = {{"kind", "categorical"}, {"labels", p.labels}};
    } else {
      params[p.name] = {
          {"kind", p.kind == Param::Kind::kInt ? "int" : "float"}, {"lo", p.lo}, {"hi", p.hi}};
    }
  }
  json trials = json::array();
  for (size_t i = 0; i < t.x.size(); ++i) {
    json values = json::object();
    for (auto it = params.begin(); it != params.end(); ++it) {
      const Param& p = space.params()[space.Find(it.key())];
      const double v = t.x[i][space.Find(it.key())];
      if (p.categorical()) {
        values[it.key()] = p.labels[static_cast<int>(v)];
      } else if (p.kind == Param::Kind::kInt) {
        values[it.key()] = static_cast<int64_t>(v);
      } else {
        values[it.key()] = v;
      }
    }
    trials.push_back({{"params", values}, {"value", t.y[i]}});
  }
  TempDir dir;
  std::ofstream(dir / "trials.json") << json{{"params", params}, {"trials", trials}}.dump();
  const std::string command = "/usr/bin/python3 " CONVRNN_SOURCE_DIR
                              "/tests/search/optuna_importance.py " +
                              (dir / "trials.json");
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  for (size_t got; (got = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, got);
  REQUIRE(pclose(pipe) == 0);
  INFO("optuna: " << out);
  // nlohmann's json sorts keys; Optuna's order is by importance, so re-rank.
  std::vector<std::pair<double, std::string>> ranked;
  const json importances = json::parse(out);
  for (auto& [name, importance] : importances.items()) {
    ranked.emplace_back(-importance.get<double>(), name);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> names;
  for (size_t i = 0; i < k && i < ranked.size(); ++i) names.push_back(ranked[i].second);
  return names;
}

Space ConvRnn() { return Must(Space::Parse(testing::ConvRnnSpace(2))); }

// Objectives over the always-active parameters of ConvRnnSpace(2), each with
// a clear order of its three important parameters.
const std::vector<std::pair<std::vector<std::string>, Objective>>& KnownObjectives() {
  static const auto* objectives = new std::vector<std::pair<std::vector<std::string>, Objective>>{
      {{"train.momentum", "layers[0].cell.type", "train.lr"},
       [](const View& v) {
         return 8.0 * v["train.momentum"] + 4.0 * (v.Label("layers[0].cell.type") == "rgc") +
                3.0 * v["train.lr"] + 0.5 * v["feedback[1->0].enabled"];
       }},
      {{"train.batch_size", "train.momentum", "layers[1].cell.type"},
       [](const View& v) {
         const std::string cell = v.Label("layers[1].cell.type");
         return 4.0 * (v.Label("train.batch_size") == "64") +
                2.0 * std::cos(6.2831853 * v["train.momentum"] / 0.99) +
                1.5 * (cell == "gru" || cell == "lstm") + 0.3 * v["train.lr"];
       }},
      {{"feedback[1->0].enabled", "train.lr", "train.batch_size"},
       [](const View& v) {
         const double fb = v["feedback[1->0].enabled"];
         return 6.0 * fb + 4.0 * std::sqrt(v["train.lr"]) +
                1.0 * (v.Label("train.batch_size") == "256");
       }},
  };
  return *objectives;
}

TEST_CASE("importance ranks the parameters an objective depends on first", "[search]") {
  const Space space = ConvRnn();
  for (const auto& [expected, f] : KnownObjectives()) {
    const Trials t = RandomTrials(space, 300, f);
    const std::vector<ParamImportance> ranked = Must(ParamImportances(space, t.x, t.y));
    CHECK(TopNames(ranked, 3) == expected);
    double sum = 0.0;
    for (const ParamImportance& p : ranked) sum += p.importance;
    CHECK(sum == Approx(1.0));
    CHECK(ranked.size() == space.params().size());
  }
}

TEST_CASE("importance gives the same top 3 as Optuna 3.1's fANOVA", "[search][optuna]") {
  const Space space = ConvRnn();
  for (const auto& [expected, f] : KnownObjectives()) {
    const Trials t = RandomTrials(space, 300, f);
    const std::vector<ParamImportance> ranked = Must(ParamImportances(space, t.x, t.y));
    const std::vector<std::string> optuna = OptunaTop(space, t, 3);
    INFO("expected order: " << json(expected).dump());
    CHECK(TopNames(ranked, 3) == optuna);
    CHECK(optuna == expected);
  }
}

TEST_CASE("importance credits a knob that matters only in its branch", "[search]") {
  const Space space = ConvRnn();
  // Only rgc layers respond to tau_offset; every other conditional knob is noise.
  const Trials t = RandomTrials(space, 400, [](const View& v) {
    if (v.Label("layers[0].cell.type") != "rgc") return 0.0;
    return 3.0 + 2.0 * v["layers[0].cell[rgc].tau_offset"];
  });
  const std::vector<ParamImportance> ranked = Must(ParamImportances(space, t.x, t.y));
  const std::vector<std::string> top = TopNames(ranked, 2);
  CHECK(std::find(top.begin(), top.end(), "layers[0].cell.type") != top.end());
  CHECK(std::find(top.begin(), top.end(), "layers[0].cell[rgc].tau_offset") != top.end());
  std::map<std::string, ParamImportance> by_name;
  for (const ParamImportance& p : ranked) by_name[p.name] = p;
  // A knob of another branch is active in about a fifth of the trials and
  // explains next to nothing.
  CHECK(by_name["layers[0].cell[lstm].forget_bias"].importance < 0.05);
  CHECK(by_name["layers[0].cell[lstm].forget_bias"].active_trials > 40);
  CHECK(by_name["layers[0].cell[lstm].forget_bias"].active_trials < 120);
  for (const ParamImportance& p : ranked) {
    if (p.name == "layers[0].cell.type" || p.name == "layers[0].cell[rgc].tau_offset") continue;
    CHECK(p.importance < by_name["layers[0].cell[rgc].tau_offset"].importance / 2);
  }
}

TEST_CASE("importance needs two trials with a finite value", "[search]") {
  const Space space = ConvRnn();
  Rng rng(1);
  const std::vector<Assignment> x = {space.Sample(rng), space.Sample(rng)};
  CHECK(ParamImportances(space, x, {1.0, std::nan("")}).status().code() ==
        absl::StatusCode::kFailedPrecondition);
  CHECK(ParamImportances(space, x, {1.0}).status().code() == absl::StatusCode::kInvalidArgument);
  Assignment broken = x[0];
  broken[0] = 99;  // a choice index out of range
  CHECK(ParamImportances(space, {broken, x[1]}, {1.0, 2.0}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  // A constant objective explains nothing: every importance is 0.
  const std::vector<ParamImportance> flat = Must(ParamImportances(space, x, {3.0, 3.0}));
  for (const ParamImportance& p : flat) CHECK(p.importance == 0.0);
}

}  // namespace
}  // namespace convrnn::search
