// worker/neural/: neural predictivity. This header is the folder's face;
// recordings.h reads the HDF5 file, features.h runs a model on stimuli,
// fit.h holds PLS and ridge, synthetic.h makes recordings from a teacher,
// and job.h is the scoring job the service runs on a checkpoint.
//
// Neural predictivity (DESIGN.md §5): how well a model's dynamics predict
// recorded responses, per brain region and per time bin, against an honest
// noise ceiling.
//
//   1. Features of the chosen layers at every step (features.h).
//   2. Bin b is predicted from model step b + step_offset (one step = one
//      bin); bins whose step falls outside [0, T) are not scored.
//   3. For each layer and bin, one linear map from that step's features to
//      every site's repetition-mean response (PLS2 or ridge, fit.h),
//      k-fold cross-validated over images with the same seeded folds for all
//      layers and bins; r = Pearson correlation, per site, between held-out
//      predictions and responses within each fold, averaged over folds.
//   4. Ceiling: split-half reliability of the repetition mean. Repetitions
//      of each image are split at random into two halves (missing ones
//      skipped; an odd one out is dropped), the half means correlated over
//      images, Spearman-Brown corrected (2r / (1 + r)) and averaged over
//      random splits. It estimates the reliability rho of the full
//      repetition mean; a perfect noiseless model reaches r = sqrt(rho), so
//      the normalised score is r / sqrt(rho), for site-bins whose rho is at
//      least min_ceiling.
//   5. Per region: the best layer (highest median raw r over the region's
//      sites and scored bins), then medians over sites of raw and normalised
//      r per bin, and over all site-bins.
//
// Deterministic for a seed. Thread-safety: functions; as the model.
#ifndef CONVRNN_WORKER_NEURAL_SCORE_H_
#define CONVRNN_WORKER_NEURAL_SCORE_H_

#include <torch/types.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/arch_spec.h"
#include "util/clock.h"
#include "worker/model/model.h"
#include "worker/neural/features.h"
#include "worker/neural/fit.h"
#include "worker/neural/recordings.h"

namespace convrnn {

struct NeuralScoreOptions {
  FeatureOptions features;       // layers, pooling / projection, normalisation
  FitOptions fit;                // PLS (25 components) by default, or ridge
  int folds = 5;                 // cross-validation folds over images (>= 2)
  int step_offset = 0;           // bin b is predicted from model step b + step_offset
  int ceiling_splits = 10;       // random split-halves averaged for the ceiling
  double min_ceiling = 0.1;      // site-bins less reliable than this get no normalised score
  uint64_t seed = 0;             // folds, split-halves, projections
  Clock* clock = Clock::Real();  // times the scoring (NeuralScore::seconds); never null
};

struct RegionScore {
  std::string region;
  int sites = 0;
  int best_layer = 0;
  double median_r = NAN;           // over sites x scored bins, best layer
  double median_normalized = NAN;  // same, r / sqrt(ceiling)
  double median_ceiling = NAN;
  std::vector<double> bin_median_r;           // [B]; NaN for unscored bins
  std::vector<double> bin_median_normalized;  // [B]
  std::vector<double> bin_median_ceiling;     // [B]
  std::vector<double> layer_median_r;         // per scored layer (NeuralScore::layers order)
};

struct NeuralScore {
  std::vector<int> layers;           // scored layer indices
  std::vector<int> bin_steps;        // [B]: model step of each bin, -1 when unscored
  std::vector<double> bin_start_ms;  // [B]
  std::vector<RegionScore> regions;  // in order of first appearance in the file
  double median_r = NAN;             // all sites x scored bins, each region's best layer
  double median_normalized = NAN;
  torch::Tensor r;        // float64 [layers, S, B]; NaN for unscored bins
  torch::Tensor ceiling;  // float64 [S, B]
  double seconds = 0;     // wall time
};

// Scores `model` on `data`. InvalidArgument for bad options or when no bin
// maps to a model step.
absl::StatusOr<NeuralScore> ScoreModel(ConvRnnImpl& model, const NeuralData& data,
                                       const NeuralScoreOptions& options);

// Spearman-Brown corrected split-half reliability [S, B] (float64) of the
// repetition mean of `responses` [R, N, S, B], averaged over `splits` seeded
// random splits. NaN where fewer than 3 images have two valid repetitions.
torch::Tensor SplitHalfReliability(const torch::Tensor& responses, int splits, uint64_t seed);

// The mean over valid repetitions [N, S, B] (NaN where none).
torch::Tensor RepetitionMean(const torch::Tensor& responses);

// `spec` with enough steps to reach every one of `bins` bins at `step_offset`
// (never fewer than its own). Weights do not depend on the step count, so a
// checkpoint of `spec` loads into a model of the result.
ArchSpec SpecForBins(const ArchSpec& spec, int bins, int step_offset);

// The JSON report: per region (best layer, medians, per-bin medians,
// per-layer medians), per bin steps and start times, overall medians.
nlohmann::json ToJson(const NeuralScore& score);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_NEURAL_SCORE_H_
