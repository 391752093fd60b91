// Grid search: every combination of a space's choices, for controlled
// comparisons (every cell type at matched parameters, with a few seeds).
//
// The grid is the cartesian product of the space's categorical parameters
// and `int` ranges (lo, lo + step, ..., hi); a continuous distribution
// (uniform, loguniform) has no grid and is refused: write the values as a
// {"choice": [...]}. Conditional parameters take part only in the branches
// where they are active. The order is fixed: parameters in tree order
// (Space::params()), the first varying slowest, each over its values in
// the order written (itertools.product's order).
//
// GridSampler proposes rounds: round r runs every combination in grid order
// with train.seed + r. It picks the first combination, in grid order, that
// appears least often among the history's trials (pending and finished,
// whatever their end), so a restarted coordinator, a failed trial or an
// enqueued trial equal to a combination never repeats or skips one. After
// `repeats` rounds (a campaign extended beyond the grid) it goes on with
// further rounds, i.e. further seeds.
//
// Thread-safety: as Sampler.
#ifndef CONVRNN_SEARCH_GRID_SAMPLER_H_
#define CONVRNN_SEARCH_GRID_SAMPLER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "search/sampler.h"

namespace convrnn::search {

// The most combinations a grid may have.
inline constexpr int64_t kMaxGridSize = 1'000'000;

// Every combination in grid order. INVALID_ARGUMENT naming a continuous
// parameter, or when there are more than `limit` combinations (the message
// says how many at least).
absl::StatusOr<std::vector<Assignment>> GridCombinations(const Space& space, int64_t limit);

// The number of combinations, or the error of GridCombinations.
absl::StatusOr<int64_t> GridSize(const Space& space, int64_t limit);

class GridSampler final : public Sampler {
 public:
  GridSampler(std::shared_ptr<const Space> space, std::vector<Assignment> grid,
              const SamplerOptions& options)
      : space_(std::move(space)), grid_(std::move(grid)), options_(options) {}

  // FailedPrecondition when the chosen combination fails validation or the
  // adjust hook (a grid cannot redraw).
  absl::StatusOr<Suggestion> Suggest(const History& history) override;

  // The spec of combination `index` in round `round` (seed + round), adjusted.
  absl::StatusOr<Suggestion> Make(size_t index, int64_t round) const;
  size_t size() const { return grid_.size(); }

 private:
  std::shared_ptr<const Space> space_;
  std::vector<Assignment> grid_;
  SamplerOptions options_;
};

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_GRID_SAMPLER_H_
