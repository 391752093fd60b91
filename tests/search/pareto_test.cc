#include "search/pareto.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace convrnn::search {
namespace {

const std::vector<Goal> kAccParams = {Goal::kMaximize, Goal::kMinimize};

TEST_CASE("Pareto front of (val_top1 max, params min) keeps ties", "[search]") {
  const std::vector<std::vector<double>> points = {
      {0.90, 100},  // 0 front
      {0.80, 50},   // 1 front
      {0.90, 100},  // 2 equal to 0: front too
      {0.85, 120},  // 3 dominated by 0
      {0.70, 50},   // 4 dominated by 1 (same params, lower accuracy)
      {0.95, 200},  // 5 front
      {0.80, 50},   // 6 equal to 1: front
      {0.60, 300},  // 7 dominated by 3 as well: third front
  };
  CHECK(ParetoFront(points, kAccParams) == std::vector<size_t>{0, 1, 2, 5, 6});
  CHECK(NonDominatedSort(points, kAccParams) == std::vector<int>{0, 0, 0, 1, 1, 0, 0, 2});
  CHECK(Dominates(points[0], points[3], kAccParams));
  CHECK_FALSE(Dominates(points[0], points[2], kAccParams));
  CHECK_FALSE(Dominates(points[0], points[1], kAccParams));
  // Limited sorting ranks the best fronts only.
  CHECK(NonDominatedSort(points, kAccParams, 5) == std::vector<int>{0, 0, 0, -1, -1, 0, 0, -1});
}

TEST_CASE("Pareto front with other goals, three objectives and NaN", "[search]") {
  const std::vector<std::vector<double>> two = {{1, 1}, {2, 2}, {0, 3}, {1, 1}};
  CHECK(ParetoFront(two, {Goal::kMinimize, Goal::kMinimize}) == std::vector<size_t>{0, 2, 3});
  CHECK(ParetoFront(two, {Goal::kMaximize, Goal::kMaximize}) == std::vector<size_t>{1, 2});
  const std::vector<std::vector<double>> three = {{1, 2, 3}, {2, 1, 3}, {2, 2, 3}, {1, 1, 4}};
  const std::vector<Goal> mins(3, Goal::kMinimize);
  CHECK(ParetoFront(three, mins) == std::vector<size_t>{0, 1, 3});
  const std::vector<std::vector<double>> nan = {{NAN, 1}, {0.5, 2}};
  CHECK(ParetoFront(nan, kAccParams) == std::vector<size_t>{0, 1});
  CHECK(Dominates({0.5, 1}, {NAN, 1}, kAccParams));
  CHECK(ParetoFront({}, kAccParams).empty());
  CHECK(*ParseGoal("max") == Goal::kMaximize);
  CHECK_FALSE(ParseGoal("maximum").ok());
}

}  // namespace
}  // namespace convrnn::search
