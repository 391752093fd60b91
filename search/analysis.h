// The analyses of Nayebi et al. over a finished (or running) campaign, as
// pure functions over its trials (the client fetches them; no I/O here):
//
//   MedianAssignment  the "median model" of the top-K trials (how the median
//                     RGC was built): numeric knobs by median, categorical by
//                     mode (ties broken by the better mean objective, then by
//                     choice order), a feedback edge kept when at least half
//                     of the top-K have it;
//   Enrichment        which features the best models share: every feedback
//                     edge and every cell type per layer, its count in the
//                     top-K and in all trials, with the exact one-sided
//                     hypergeometric p-value P(X >= top count);
//   CompareGroups     per group (a cell type, a parameter value): count,
//                     best, median and spread of the objective and of the
//                     parameter count: the table of Nayebi et al. 2022.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SEARCH_ANALYSIS_H_
#define CONVRNN_SEARCH_ANALYSIS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "search/pareto.h"
#include "search/space.h"
#include "spec/arch_spec.h"

namespace convrnn::search {

struct RankedAssignment {
  Assignment assignment;
  double value = 0;  // the objective
};

// The median assignment of `top` (the top-K trials, any order), valid for
// `space` (every active parameter set, in range). INVALID_ARGUMENT when
// `top` is empty or an assignment does not fit the space.
absl::StatusOr<Assignment> MedianAssignment(const Space& space,
                                            const std::vector<RankedAssignment>& top, Goal goal);

struct EnrichmentRow {
  std::string feature;                   // "feedback 3->1" or "layers[1].cell.type=rgc"
  int64_t top_count = 0, top_total = 0;  // in the top-K
  int64_t all_count = 0, all_total = 0;  // in every trial ranked
  double p_value = 1;                    // P(X >= top_count), X ~ hypergeometric
};

// `ranked`: every finished trial's spec, best first; the first `top_k` are
// the top. Features seen in at least one trial; sorted by p-value, then name.
// REQUIRES: 0 < top_k <= ranked.size().
std::vector<EnrichmentRow> Enrichment(const std::vector<ArchSpec>& ranked, int64_t top_k);

// P(X >= k) for X ~ Hypergeometric(population N, K successes, n draws).
double HypergeometricUpperTail(int64_t k, int64_t N, int64_t K, int64_t n);

struct GroupedTrial {
  std::string group;
  double value = 0;   // the objective
  double params = 0;  // parameter count
};

struct GroupRow {
  std::string group;
  int64_t count = 0;
  double best = 0, median = 0, spread = 0;  // objective; spread: sample std (0 for one)
  double params_median = 0, params_min = 0, params_max = 0;
};

// One row per group, best median first.
std::vector<GroupRow> CompareGroups(const std::vector<GroupedTrial>& trials, Goal goal);

// The cell types of a spec's layers, "feedforward/rgc/rgc".
std::string CellTypesKey(const ArchSpec& spec);

// The median of `values` (mean of the middle two for an even count).
// REQUIRES: non-empty.
double Median(std::vector<double> values);

}  // namespace convrnn::search

#endif  // CONVRNN_SEARCH_ANALYSIS_H_
