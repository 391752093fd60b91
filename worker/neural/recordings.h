// Neural recordings for predictivity scoring (DESIGN.md §5): stimuli, the
// responses of recorded sites over time bins and repetitions, and the brain
// region of each site, read from (and written to) one HDF5 file whose layout
// is documented in docs/neural-data.md.
//
// Thread-safety: functions; HDF5's serial library is not thread-safe, so
// callers must not read or write neural files from two threads at once.
#ifndef CONVRNN_WORKER_NEURAL_RECORDINGS_H_
#define CONVRNN_WORKER_NEURAL_RECORDINGS_H_

#include <torch/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace convrnn {

struct NeuralData {
  // float32 [N, C, H, W] on the [0, 1] scale (uint8 files are divided by 255;
  // float files are taken as already on that scale). N x H x W files get C = 1.
  torch::Tensor stimuli;
  // float32 [R, N, S, B]: repetition r of image n at site s in time bin b;
  // NaN marks a missing repetition.
  torch::Tensor responses;
  std::vector<std::string> regions;  // [S], e.g. "V4", "IT"
  std::vector<double> bin_start_ms;  // [B], increasing
  double bin_width_ms = 10.0;        // root attribute `bin_width_ms`, if present
  // Optional: float32 [S, B] true reliability of the repetition-mean
  // response, written by the synthetic generator (/truth/reliability).
  torch::Tensor true_reliability;

  int64_t images() const { return responses.size(1); }
  int64_t sites() const { return responses.size(2); }
  int64_t bins() const { return responses.size(3); }
  std::string Describe()
      const;  // e.g. "400 images 1x28x28, 48 sites (V4 24, IT 24), 10 bins, 4 reps"
};

// Reads and checks a neural file. Errors are InvalidArgument (NotFound for
// a missing file) naming the file and the dataset and what is wrong with it:
// missing, wrong rank or type, sizes that disagree, non-increasing bins,
// empty region names, or no valid repetition at all.
absl::StatusOr<NeuralData> ReadNeuralData(const std::string& file);

// Writes `data` in the documented layout (stimuli as float32, or uint8 when
// `uint8_stimuli`, then scaled by 255 and rounded). Overwrites `file`.
// REQUIRES: the shapes of `data` agree (as ReadNeuralData checks).
absl::Status WriteNeuralData(const std::string& file, const NeuralData& data,
                             bool uint8_stimuli = true);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_NEURAL_RECORDINGS_H_
