#include "search/pareto.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace convrnn::search {
namespace {

// Loss with NaN mapped to +inf, so a NaN is worse than any number.
double Loss(double v, Goal g) {
  if (std::isnan(v)) return std::numeric_limits<double>::infinity();
  return AsLoss(v, g);
}

}  // namespace

absl::StatusOr<Goal> ParseGoal(absl::string_view text) {
  if (text == "max") return Goal::kMaximize;
  if (text == "min") return Goal::kMinimize;
  return absl::InvalidArgumentError(
      absl::StrCat("goal must be \"max\" or \"min\", not \"", std::string(text), "\""));
}

bool Dominates(const std::vector<double>& a, const std::vector<double>& b,
               const std::vector<Goal>& goals) {
  bool strictly = false;
  for (size_t i = 0; i < goals.size(); ++i) {
    const double la = Loss(a[i], goals[i]), lb = Loss(b[i], goals[i]);
    if (la > lb) return false;
    if (la < lb) strictly = true;
  }
  return strictly;
}

std::vector<int> NonDominatedSort(const std::vector<std::vector<double>>& points,
                                  const std::vector<Goal>& goals, size_t min_ranked) {
  const size_t n = points.size();
  std::vector<int> rank(n, -1);
  // In lexicographic loss order a point can only be dominated by points
  // before it, so each front is found in one pass against the front so far.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto lex_less = [&](size_t x, size_t y) {
    for (size_t i = 0; i < goals.size(); ++i) {
      const double lx = Loss(points[x][i], goals[i]), ly = Loss(points[y][i], goals[i]);
      if (lx != ly) return lx < ly;
    }
    return x < y;
  };
  std::sort(order.begin(), order.end(), lex_less);
  size_t ranked = 0;
  for (int front = 0; ranked < n && (min_ranked == 0 || ranked < min_ranked); ++front) {
    std::vector<size_t> members;
    std::vector<size_t> rest;
    for (size_t idx : order) {
      bool dominated = false;
      for (size_t m : members) {
        if (Dominates(points[m], points[idx], goals)) {
          dominated = true;
          break;
        }
      }
      if (dominated) {
        rest.push_back(idx);
      } else {
        members.push_back(idx);
        rank[idx] = front;
      }
    }
    ranked += members.size();
    order.swap(rest);
  }
  return rank;
}

std::vector<size_t> ParetoFront(const std::vector<std::vector<double>>& points,
                                const std::vector<Goal>& goals) {
  std::vector<int> rank = NonDominatedSort(points, goals, 1);
  std::vector<size_t> front;
  for (size_t i = 0; i < rank.size(); ++i) {
    if (rank[i] == 0) front.push_back(i);
  }
  return front;
}

}  // namespace convrnn::search
