// Where training checkpoints live, a contract between the trainer, the
// scorer and every worker sharing a --checkpoint-root: `dir`/checkpoint.pt
// for one training run, `root`/trial-ID/ for a trial. The only place these
// names are spelled.
//
// Thread-safety: pure functions.
#ifndef CONVRNN_SPEC_CHECKPOINT_PATH_H_
#define CONVRNN_SPEC_CHECKPOINT_PATH_H_

#include <cstdint>
#include <string>

namespace convrnn {

// `dir`/checkpoint.pt.
std::string CheckpointFile(const std::string& dir);
// `root`/trial-`trial_id`: the checkpoint directory of a trial.
std::string TrialCheckpointDir(const std::string& root, int64_t trial_id);

}  // namespace convrnn

#endif  // CONVRNN_SPEC_CHECKPOINT_PATH_H_
