// Cross-validated linear maps from model features to neural responses
// (DESIGN.md §5): PLS2 (SIMPLS) or ridge with a per-site penalty chosen by
// exact leave-one-out error, every site of a bin fitted at once, and the
// Pearson correlations that score them.
//
// All fitting runs in float64 on the CPU and is deterministic for its
// inputs (no random numbers), except that ridge ranks its penalties by
// leave-one-out errors computed in float32 (oneDNN) and re-ranks in float64
// every site whose two best penalties are within 1e-4 of each other.
// Thread-safety: functions.
#ifndef CONVRNN_WORKER_NEURAL_FIT_H_
#define CONVRNN_WORKER_NEURAL_FIT_H_

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace convrnn {

enum class NeuralMethod { kPls, kRidge };

struct FitOptions {
  NeuralMethod method = NeuralMethod::kPls;
  // PLS: latent components (capped by the training images - 1 and the
  // feature width).
  int pls_components = 25;
  // Ridge: candidate penalties on z-scored features; each site takes the one
  // with the lowest leave-one-out error on the training images.
  std::vector<double> ridge_alphas = {1e-2, 1e-1, 1, 10, 1e2, 1e3, 1e4, 1e5, 1e6};
};

// PLS2 regression coefficients [F, M] for centred x [n, F] and centred
// y [n, M] by SIMPLS (de Jong 1993), `components` latent components; stops
// early when x has no variance left. float64.
torch::Tensor PlsCoefficients(const torch::Tensor& x, const torch::Tensor& y, int components);

// Fits on (x_train [n, F], y_train [n, M]) and predicts [m, M] for x_test
// [m, F]. Features are z-scored with the training mean and deviation
// (constant features drop out), targets centred. float64 result.
// REQUIRES: y_train is finite.
torch::Tensor FitPredict(const torch::Tensor& x_train, const torch::Tensor& y_train,
                         const torch::Tensor& x_test, const FitOptions& options);

// Predictions [N, M] for every image from the model fitted on the other
// folds. fold[i] in [0, folds) names image i's fold. Non-finite targets
// (images with no valid repetition) are filled with the training mean of
// their site for fitting.
torch::Tensor CrossValidatedPredictions(const torch::Tensor& x, const torch::Tensor& y,
                                        const std::vector<int>& fold, int folds,
                                        const FitOptions& options);

// Per site [M]: the mean over folds of the Pearson r between the held-out
// predictions of a fold and its targets. Scoring fold by fold keeps a model
// without information at r = 0: correlating predictions pooled over folds
// would score it below zero, because each fold's prediction is the mean of
// the other folds, which anti-correlates with the fold's own mean.
torch::Tensor CrossValidatedCorrelation(const torch::Tensor& x, const torch::Tensor& y,
                                        const std::vector<int>& fold, int folds,
                                        const FitOptions& options);

// Pearson r of each column of `a` and `b` [N, M] over the rows where both
// are finite. A column whose prediction `a` is constant scores 0 (it
// predicts nothing); one whose target `b` is constant or has < 3 finite
// rows is NaN. float64 [M].
torch::Tensor PearsonColumns(const torch::Tensor& a, const torch::Tensor& b);

// Seeded balanced assignment of n items to `folds` folds.
std::vector<int> AssignFolds(int64_t n, int folds, uint64_t seed);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_NEURAL_FIT_H_
