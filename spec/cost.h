// Parameter count and FLOPs-per-image of a spec, without building the model.
//
// The coordinator can rank and filter candidates by size before any GPU
// time is spent; the worker reports the same numbers with its results. The
// count mirrors ConvRnn exactly (a test holds the two together); FLOPs count
// 2 x multiply-accumulates of every convolution and linear map the unrolled
// network actually runs (layers before their first input and feedback
// before its first source are skipped, as in the model); elementwise work
// is left out.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SPEC_COST_H_
#define CONVRNN_SPEC_COST_H_

#include <cstdint>

#include "spec/arch_spec.h"

namespace convrnn {

struct CostEstimate {
  int64_t params = 0;
  int64_t flops_per_image = 0;  // one full unroll of time.steps steps
};

// REQUIRES: `spec` passed ValidateArchSpec.
CostEstimate EstimateCost(const ArchSpec& spec);

}  // namespace convrnn

#endif  // CONVRNN_SPEC_COST_H_
