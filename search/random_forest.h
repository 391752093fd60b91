// A regression random forest over mixed numeric and categorical features,
// built for fANOVA (importance.h): the trees keep the boxes their leaves
// cover, so the variance of the forest's prediction can be decomposed over
// each feature's domain.
//
// Trees are CART regression trees grown as scikit-learn's
// RandomForestRegressor grows them with Optuna's fANOVA settings: a bootstrap
// sample per tree, every feature considered at every split, the split that
// most reduces the squared error; numeric splits at the midpoint between two
// neighbouring observed values, categorical splits "== choice" against the
// rest (what one-hot encoding gives).
//
// Each feature carries a measure over its domain (what "uniform over the
// space" means): numeric features the uniform measure on [lo, hi];
// categorical features one weight per choice (summing to 1).
//
// Thread-safety: a built Forest is immutable; share it const freely.
#ifndef CONVRNN_SEARCH_RANDOM_FOREST_H_
#define CONVRNN_SEARCH_RANDOM_FOREST_H_

#include <cstdint>
#include <vector>

namespace convrnn::search {

struct Feature {
  bool categorical = false;
  double lo = 0.0, hi = 1.0;    // numeric: the domain; REQUIRES lo < hi
  std::vector<double> weights;  // categorical: one per choice, summing to 1
};

struct ForestOptions {
  int n_trees = 64;           // Optuna's FanovaImportanceEvaluator default
  int max_depth = 64;         // idem
  int min_samples_split = 2;  // idem
  int min_samples_leaf = 1;   // idem
  uint64_t seed = 0;          // bootstrap draws; same seed, same forest
};

// One tree: nodes[0] is the root.
struct Tree {
  struct Node {
    int feature = -1;        // -1: a leaf
    double threshold = 0.0;  // numeric: x < threshold goes left
    int choice = -1;         // categorical: x == choice goes left
    int left = -1, right = -1;
    double value = 0.0;  // mean target of the samples that reached it
  };
  std::vector<Node> nodes;
};

// Builds the forest on rows `x` (one value per feature: a number in
// [lo, hi], or a choice index) and targets `y`.
// REQUIRES: x.size() == y.size() > 0; every row has features.size() values.
std::vector<Tree> FitForest(const std::vector<Feature>& features,
                            const std::vector<std::vector<double>>& x, const std::vector<double>& y,
                            const ForestOptions& options);

// fANOVA on one tree (Hutter et al. 2014): the variance of the tree's
// prediction over the product measure of `features`, and the variance of the
// marginal prediction of feature `f` alone (the other features averaged out).
struct TreeVariance {
  double total = 0.0;
  std::vector<double> marginal;  // one per feature
};
TreeVariance DecomposeVariance(const Tree& tree, const std::vector<Feature>& features);

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_RANDOM_FOREST_H_
