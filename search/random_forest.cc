#include "search/random_forest.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "search/rng.h"

namespace convrnn::search {
namespace {

struct Split {
  int feature = -1;
  double threshold = 0.0;
  int choice = -1;
  double score = 0.0;  // sum_l^2/n_l + sum_r^2/n_r: higher is a lower squared error
};

class TreeGrower {
 public:
  TreeGrower(const std::vector<Feature>& features, const std::vector<std::vector<double>>& x,
             const std::vector<double>& y, const ForestOptions& options)
      : features_(features), x_(x), y_(y), options_(options) {}

  Tree Grow(std::vector<int> rows) {
    tree_.nodes.clear();
    Build(std::move(rows), 0);
    return std::move(tree_);
  }

 private:
  int Build(std::vector<int> rows, int depth) {
    const int id = static_cast<int>(tree_.nodes.size());
    tree_.nodes.emplace_back();
    double sum = 0.0, sum_sq = 0.0;
    for (int r : rows) {
      sum += y_[r];
      sum_sq += y_[r] * y_[r];
    }
    const double n = static_cast<double>(rows.size());
    tree_.nodes[id].value = sum / n;
    const bool pure = sum_sq - sum * sum / n <= 1e-12 * std::max(1.0, sum_sq);
    if (pure || depth >= options_.max_depth ||
        static_cast<int>(rows.size()) < options_.min_samples_split) {
      return id;
    }
    Split best;
    best.score = sum * sum / n * (1.0 + 1e-12) + 1e-12;
    for (size_t f = 0; f < features_.size(); ++f) {
      if (features_[f].categorical) {
        BestCategorical(rows, static_cast<int>(f), &best);
      } else {
        BestNumeric(&rows, static_cast<int>(f), &best);
      }
    }
    if (best.feature < 0) return id;
    std::vector<int> left, right;
    for (int r : rows) (GoesLeft(best, x_[r][best.feature]) ? left : right).push_back(r);
    rows.clear();
    rows.shrink_to_fit();
    const int l = Build(std::move(left), depth + 1);
    const int r = Build(std::move(right), depth + 1);
    Tree::Node& node = tree_.nodes[id];
    node.feature = best.feature;
    node.threshold = best.threshold;
    node.choice = best.choice;
    node.left = l;
    node.right = r;
    return id;
  }

  static bool GoesLeft(const Split& s, double v) {
    return s.choice >= 0 ? static_cast<int>(v) == s.choice : v < s.threshold;
  }

  void BestNumeric(std::vector<int>* rows, int f, Split* best) const {
    std::sort(rows->begin(), rows->end(), [&](int a, int b) { return x_[a][f] < x_[b][f]; });
    double total = 0.0;
    for (int r : *rows) total += y_[r];
    const int n = static_cast<int>(rows->size());
    const int min_leaf = options_.min_samples_leaf;
    double left = 0.0;
    for (int i = 1; i < n; ++i) {
      left += y_[(*rows)[i - 1]];
      const double a = x_[(*rows)[i - 1]][f], b = x_[(*rows)[i]][f];
      if (!(a < b) || i < min_leaf || n - i < min_leaf) continue;
      const double score = left * left / i + (total - left) * (total - left) / (n - i);
      if (score > best->score) *best = {f, 0.5 * (a + b), -1, score};
    }
  }

  void BestCategorical(const std::vector<int>& rows, int f, Split* best) const {
    const size_t k = features_[f].weights.size();
    std::vector<double> sums(k, 0.0);
    std::vector<int> counts(k, 0);
    double total = 0.0;
    for (int r : rows) {
      const int c = static_cast<int>(x_[r][f]);
      sums[c] += y_[r];
      ++counts[c];
      total += y_[r];
    }
    const int n = static_cast<int>(rows.size());
    for (size_t c = 0; c < k; ++c) {
      const int nl = counts[c];
      if (nl < options_.min_samples_leaf || n - nl < options_.min_samples_leaf || nl == 0 ||
          nl == n) {
        continue;
      }
      const double score =
          sums[c] * sums[c] / nl + (total - sums[c]) * (total - sums[c]) / (n - nl);
      if (score > best->score) *best = {f, 0.0, static_cast<int>(c), score};
    }
  }

  const std::vector<Feature>& features_;
  const std::vector<std::vector<double>>& x_;
  const std::vector<double>& y_;
  const ForestOptions& options_;
  Tree tree_;
};

// A leaf and the box of the domain it covers.
struct Leaf {
  double value = 0.0;
  std::vector<double> lo, hi;              // numeric features
  std::vector<std::vector<char>> allowed;  // categorical features
  std::vector<double> fraction;            // measure of the box per feature
};

std::vector<Leaf> Leaves(const Tree& tree, const std::vector<Feature>& features) {
  Leaf root;
  for (const Feature& f : features) {
    root.lo.push_back(f.lo);
    root.hi.push_back(f.hi);
    root.allowed.emplace_back(f.weights.size(), 1);
  }
  std::vector<Leaf> leaves;
  std::vector<std::pair<int, Leaf>> stack = {{0, std::move(root)}};
  while (!stack.empty()) {
    auto [id, box] = std::move(stack.back());
    stack.pop_back();
    const Tree::Node& node = tree.nodes[id];
    if (node.feature < 0) {
      box.value = node.value;
      for (size_t f = 0; f < features.size(); ++f) {
        double m = 0.0;
        if (features[f].categorical) {
          for (size_t c = 0; c < box.allowed[f].size(); ++c) {
            if (box.allowed[f][c]) m += features[f].weights[c];
          }
        } else {
          m = (box.hi[f] - box.lo[f]) / (features[f].hi - features[f].lo);
        }
        box.fraction.push_back(m);
      }
      leaves.push_back(std::move(box));
      continue;
    }
    Leaf left = box;
    const int f = node.feature;
    if (node.choice >= 0) {
      std::fill(left.allowed[f].begin(), left.allowed[f].end(), 0);
      left.allowed[f][node.choice] = 1;
      box.allowed[f][node.choice] = 0;
    } else {
      left.hi[f] = std::min(left.hi[f], node.threshold);
      box.lo[f] = std::max(box.lo[f], node.threshold);
    }
    stack.emplace_back(node.left, std::move(left));
    stack.emplace_back(node.right, std::move(box));
  }
  return leaves;
}

// Variance over feature f's measure of a marginal given as (value, weight)
// pieces around `mean`.
double NumericMarginalVariance(const std::vector<Leaf>& leaves, const std::vector<double>& excl,
                               const Feature& feature, int f, double mean) {
  std::vector<std::pair<double, double>> events;  // (position, change of the marginal)
  for (size_t i = 0; i < leaves.size(); ++i) {
    const double c = leaves[i].value * excl[i];
    events.emplace_back(leaves[i].lo[f], c);
    events.emplace_back(leaves[i].hi[f], -c);
  }
  std::sort(events.begin(), events.end());
  double variance = 0.0, current = 0.0;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    current += events[i].second;
    const double width = events[i + 1].first - events[i].first;
    if (width <= 0.0) continue;
    const double d = current - mean;
    variance += width / (feature.hi - feature.lo) * d * d;
  }
  return variance;
}

}  // namespace

std::vector<Tree> FitForest(const std::vector<Feature>& features,
                            const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                            const ForestOptions& options) {
  TreeGrower grower(features, x, y, options);
  Rng rng(options.seed);
  std::vector<Tree> forest;
  const uint64_t n = x.size();
  for (int t = 0; t < options.n_trees; ++t) {
    std::vector<int> rows(n);
    for (int& r : rows) r = static_cast<int>(rng.Below(n));
    forest.push_back(grower.Grow(std::move(rows)));
  }
  return forest;
}

TreeVariance DecomposeVariance(const Tree& tree, const std::vector<Feature>& features) {
  const std::vector<Leaf> leaves = Leaves(tree, features);
  const size_t d = features.size();
  std::vector<double> weight(leaves.size(), 1.0);
  double mean = 0.0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    for (double m : leaves[i].fraction) weight[i] *= m;
    mean += weight[i] * leaves[i].value;
  }
  TreeVariance out;
  for (size_t i = 0; i < leaves.size(); ++i) {
    const double dv = leaves[i].value - mean;
    out.total += weight[i] * dv * dv;
  }
  // excl[f][i]: the measure of leaf i's box over every feature but f.
  std::vector<std::vector<double>> excl(d, std::vector<double>(leaves.size(), 1.0));
  for (size_t i = 0; i < leaves.size(); ++i) {
    double prefix = 1.0;
    for (size_t f = 0; f < d; ++f) {
      excl[f][i] = prefix;
      prefix *= leaves[i].fraction[f];
    }
    double suffix = 1.0;
    for (size_t f = d; f-- > 0;) {
      excl[f][i] *= suffix;
      suffix *= leaves[i].fraction[f];
    }
  }
  out.marginal.assign(d, 0.0);
  for (size_t f = 0; f < d; ++f) {
    if (!features[f].categorical) {
      out.marginal[f] =
          NumericMarginalVariance(leaves, excl[f], features[f], static_cast<int>(f), mean);
      continue;
    }
    const std::vector<double>& w = features[f].weights;
    std::vector<double> marginal(w.size(), 0.0);
    for (size_t i = 0; i < leaves.size(); ++i) {
      for (size_t c = 0; c < w.size(); ++c) {
        if (leaves[i].allowed[f][c]) marginal[c] += leaves[i].value * excl[f][i];
      }
    }
    for (size_t c = 0; c < w.size(); ++c) {
      out.marginal[f] += w[c] * (marginal[c] - mean) * (marginal[c] - mean);
    }
  }
  return out;
}

}  // namespace convrnn::search
