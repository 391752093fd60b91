#include "search/gp_sampler.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include "search/gaussian_process.h"
#include "search/sampler.h"
#include "tests/search/test_spaces.h"

namespace convrnn::search {
namespace {

using nlohmann::json;
using testing::MakeSampler;
using testing::ParsedSpace;

TEST_CASE(
    "the Gaussian process interpolates a smooth function and its uncertainty grows away "
    "from the data",
    "[search]") {
  GaussianProcess gp({false});
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i <= 10; ++i) {
    const double u = 0.05 * i;  // data on [0, 0.5] only
    x.push_back({u});
    y.push_back(std::sin(6 * u));
  }
  gp.Fit(x, y, std::vector<bool>(x.size(), false));
  double mean = 0, var_inside = 0, var_outside = 0;
  for (double u : {0.125, 0.275, 0.425}) {
    gp.Predict({u}, &mean, &var_inside);
    CHECK(mean == Approx(std::sin(6 * u)).margin(0.03));
  }
  gp.Predict({0.275}, &mean, &var_inside);
  gp.Predict({0.95}, &mean, &var_outside);
  CHECK(var_outside > 20 * var_inside);
}

TEST_CASE("the Gaussian process switches off a parameter the targets ignore", "[search]") {
  // y depends on feature 0 only; feature 1 is noise; feature 2 a choice that matters.
  GaussianProcess gp({false, false, true});
  Rng rng(3);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 40; ++i) {
    const double a = rng.Uniform(), b = rng.Uniform();
    const double c = static_cast<double>(rng.Below(3));
    x.push_back({a, b, c});
    y.push_back(2 * a * a + (c == 1 ? 1.0 : 0.0));
  }
  gp.Fit(x, y, std::vector<bool>(x.size(), false));
  const std::vector<double>& rho = gp.inverse_squared_lengths();
  INFO("rho " << rho[0] << " " << rho[1] << " " << rho[2]);
  CHECK(rho[1] < 0.1 * rho[0]);
  CHECK(rho[1] < 0.1 * rho[2]);
}

TEST_CASE("trials stopped early inform the model of full runs through one offset", "[search]") {
  // Full runs of f(u) = u on [0, 1] only on the left half; stopped runs
  // everywhere, 0.3 lower. The model predicts full runs on the right half
  // from the stopped ones.
  GaussianProcess gp({false});
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  std::vector<bool> low;
  for (int i = 0; i <= 5; ++i) {
    x.push_back({0.1 * i});
    y.push_back(0.1 * i);
    low.push_back(false);
  }
  for (int i = 0; i <= 10; ++i) {
    x.push_back({0.1 * i + 0.05});
    y.push_back(0.1 * i + 0.05 - 0.3);
    low.push_back(true);
  }
  gp.Fit(x, y, low);
  CHECK(gp.low_fidelity_offset() == Approx(-0.3).margin(0.05));
  double mean = 0, variance = 0;
  gp.Predict({0.9}, &mean, &variance);
  CHECK(mean == Approx(0.9).margin(0.08));
}

// A space like the campaign benchmark's: a cell per layer, a width, a
// conditional knob, feedback edges and a learning rate. Its objective rises
// with the learning rate to the top of the range and pays for an RGC on top
// and a GRU below it.
json RidgeSpace() {
  return json::parse(R"({
    "time": {"steps": 3},
    "layers": [
      {"channels": {"choice": [8, 16]}, "cell": {"choice": [
        {"type": "feedforward"}, {"type": "gru"}, {"type": "lstm"},
        {"type": "time_decay", "decay_init": {"uniform": [0.0, 0.5]}}]}},
      {"channels": 16, "cell": {"choice": [
        {"type": "feedforward"}, {"type": "lstm"}, {"type": "rgc"}]}}],
    "feedback": {"candidates": "all_descending"},
    "train": {"lr": {"loguniform": [0.01, 0.2]}}})");
}

double Ridge(const ArchSpec& spec) {
  double f = 0.4 * std::log(spec.train.lr / 0.01) / std::log(20.0);  // up to 0.4 at the top
  if (spec.layers[1].cell.type == CellType::kRgc) f += 0.3;
  if (spec.layers[0].cell.type == CellType::kGru) f += 0.1;
  if (!spec.feedback.empty()) f -= 0.05;
  return f;  // optimum 0.8
}

// Best value after `trials` sequential trials, each stopped early (a value
// 0.2 lower, pruned) when its value is below 0.45, as a stopper would.
double RunRidge(const std::string& algorithm, uint64_t seed, int trials) {
  auto space = ParsedSpace(RidgeSpace());
  SamplerOptions options;
  options.seed = seed;
  auto sampler = MakeSampler(algorithm, space, options);
  History history;
  double best = -1;
  for (int t = 0; t < trials; ++t) {
    absl::StatusOr<Suggestion> s = sampler->Suggest(history);
    REQUIRE(s.ok());
    const double value = Ridge(*ParseArchSpec(s->spec));
    best = std::max(best, value);
    history.AddPending(t, s->assignment);
    if (value < 0.45) {
      history.Finish(t, TrialState::kPruned, {value - 0.2});
    } else {
      history.Finish(t, TrialState::kCompleted, {value});
    }
  }
  return best;
}

TEST_CASE("gp finds a learning rate at the top of its range and the cell that pays, ahead of TPE",
          "[search]") {
  constexpr int kSeeds = 8, kTrials = 20;
  std::vector<double> gp, tpe, random;
  for (uint64_t seed = 0; seed < kSeeds; ++seed) {
    gp.push_back(RunRidge("gp", seed, kTrials));
    tpe.push_back(RunRidge("tpe", seed, kTrials));
    random.push_back(RunRidge("random", seed, kTrials));
  }
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  WARN("mean best after " << kTrials << " trials (optimum 0.8): gp " << mean(gp) << ", tpe "
                          << mean(tpe) << ", random " << mean(random));
  CHECK(mean(gp) > mean(random) + 0.05);
  CHECK(mean(gp) > mean(tpe));
  CHECK(*std::min_element(gp.begin(), gp.end()) >= 0.7 - 1e-9);  // the top lr in every seed
}

TEST_CASE("gp never proposes an assignment already run or running while others remain",
          "[search]") {
  // 2 x 3 = 6 combinations; the trainer is deterministic, so a repeat is waste.
  auto space = ParsedSpace(json::parse(R"({"time": {"steps": 3}, "layers": [
      {"channels": {"choice": [8, 16]}, "cell": {"choice": [
        {"type": "feedforward"}, {"type": "gru"}, {"type": "lstm"}]}}]})"));
  SamplerOptions options;
  options.n_startup_trials = 1;
  auto sampler = MakeSampler("gp", space, options);
  History history;
  std::set<std::string> seen;
  for (int t = 0; t < 6; ++t) {
    absl::StatusOr<Suggestion> s = sampler->Suggest(history);
    REQUIRE(s.ok());
    const std::string spec = s->spec.dump();
    INFO("trial " << t << ": " << spec);
    CHECK(seen.count(spec) == 0);
    seen.insert(spec);
    history.AddPending(t, s->assignment);
    if (t % 2 == 0) history.Finish(t, TrialState::kCompleted, {0.1 * t});  // odd ones run on
  }
  CHECK(seen.size() == 6);
  REQUIRE(sampler->Suggest(history).ok());  // all run: it still proposes
}

TEST_CASE("gp proposes valid specs when the model's optimum is a spec the trainer refuses",
          "[search]") {
  // A few values with no structure send the acquisition to the corners of
  // the space, momentum 0 among them, which nesterov (the default) refuses:
  // without care every top candidate is invalid, more of them than a
  // sampler may redraw (it failed at trial 8). The local search must keep
  // to valid specs.
  auto space = ParsedSpace(testing::ConvRnnSpace(4));
  SamplerOptions options;
  options.seed = 5;
  auto sampler = MakeSampler("gp", space, options);
  History history;
  Rng rng(99);
  for (int t = 0; t < 40; ++t) {
    absl::StatusOr<Suggestion> s = sampler->Suggest(history);
    INFO("trial " << t << ": " << s.status().ToString());
    REQUIRE(s.ok());
    CHECK(ParseArchSpec(s->spec)->train.momentum > 0);
    history.AddPending(t, s->assignment);
    history.Finish(t, TrialState::kCompleted, {rng.Uniform()});
  }
}

TEST_CASE("gp survives NaN values, diverged runs and failed trials", "[search]") {
  auto space = ParsedSpace(RidgeSpace());
  SamplerOptions options;
  options.seed = 4;
  auto sampler = MakeSampler("gp", space, options);
  History history;
  Rng rng(8);
  for (int t = 0; t < 12; ++t) {
    const Assignment a = space->Sample(rng);
    const double value = Ridge(*space->ToSpec(a));
    history.AddPending(t, a);
    if (t == 2) {
      history.Finish(t, TrialState::kCompleted, {std::nan("")});
    } else if (t == 5) {
      history.Finish(t, TrialState::kFailed, {});
    } else if (t == 7) {
      history.Finish(t, TrialState::kCompleted, {-1e6});  // diverged
    } else {
      history.Finish(t, TrialState::kCompleted, {value});
    }
  }
  for (int t = 12; t < 20; ++t) {
    absl::StatusOr<Suggestion> s = sampler->Suggest(history);
    REQUIRE(s.ok());
    const double value = Ridge(*ParseArchSpec(s->spec));
    history.AddPending(t, s->assignment);
    history.Finish(t, TrialState::kCompleted, {value});
  }
  double best = -1;
  for (const FinishedTrial& t : history.finished()) {
    if (t.id >= 12) best = std::max(best, t.values[0]);
  }
  CHECK(best > 0.65);  // the model still learned where the ridge is
}

TEST_CASE("gp refuses several objectives and bad knobs, naming them", "[search]") {
  auto space = ParsedSpace(RidgeSpace());
  SamplerOptions options;
  options.goals = {Goal::kMaximize, Goal::kMinimize};
  absl::StatusOr<std::unique_ptr<Sampler>> two = CreateSampler("gp", space, options);
  REQUIRE_FALSE(two.ok());
  CHECK(std::string(two.status().message()).find("one objective") != std::string::npos);
  SamplerOptions bad;
  bad.gp_candidates = 0;
  absl::StatusOr<std::unique_ptr<Sampler>> zero = CreateSampler("gp", space, bad);
  REQUIRE_FALSE(zero.ok());
  CHECK(std::string(zero.status().message()).find("gp_candidates") != std::string::npos);
}

}  // namespace
}  // namespace convrnn::search
