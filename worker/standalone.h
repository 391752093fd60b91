// `convrnn-worker --spec FILE`: train one architecture without a server and
// print one JSON line per epoch and a final JSON line on stdout.
//
// Thread-safety: runs on the calling thread.
#ifndef CONVRNN_WORKER_STANDALONE_H_
#define CONVRNN_WORKER_STANDALONE_H_

#include <string>
#include <vector>

namespace convrnn {

struct StandaloneConfig {
  std::string spec_file;             // architecture spec (required)
  std::string data_file;             // data spec; empty: Fashion-MNIST defaults
  std::string device = "cpu";        // cpu | cuda:N
  int threads = 0;                   // intra-op threads; 0: DefaultThreads(1)
  std::string checkpoint_dir;        // empty: no checkpoints
  bool resume = true;                // resume from checkpoint_dir
  bool evaluate_test = false;        // also report test top-1
  bool dry_run = false;              // validate, print the canonical spec and its cost, no training
  std::string device_data = "auto";  // TrainerOptions::device_data: auto | on | off
  // > 0: scale the widths to this many parameters first (spec/param_budget.h,
  // within match_tolerance); a spec that cannot reach it is bad input.
  int64_t match_params = 0;
  double match_tolerance = 0.03;
  // Neural scoring instead of training (neural_standalone.h) when neural_file is set.
  std::string neural_file;            // recordings (docs/neural-data.md)
  std::string checkpoint;             // trained weights: checkpoint.pt or its directory
  std::vector<int> neural_layers;     // empty: every layer
  std::string neural_method = "pls";  // pls | ridge
  int neural_offset = 0;              // bin b is predicted from model step b + offset
};

// Returns the process exit status (0, 1, or 2 for bad input).
int RunStandalone(const StandaloneConfig& config);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_STANDALONE_H_
