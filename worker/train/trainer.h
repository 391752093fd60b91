// worker/train/: training one architecture. This header is the folder's
// face; checkpoint.h saves and restores exact training state, and
// openmp_policy.h sets the thread policy before LibTorch starts.
//
// Trains one architecture on one dataset: the worker's unit of work.
//
// Train() builds the ConvRNN of a spec, trains it with the spec's optimizer,
// schedule and budget, evaluates validation top-1 after every epoch, writes
// a checkpoint at every epoch end and resumes from it exactly (on CPU with a
// fixed seed an interrupted and resumed run reports the same metrics as an
// uninterrupted one). LibTorch exceptions never escape: every failure comes
// back as a Status with its reason — a non-finite loss is ABORTED ("the
// trial diverged"), running out of memory is RESOURCE_EXHAUSTED, a spec that
// does not fit the data is INVALID_ARGUMENT, a cancelled run is CANCELLED.
//
// Thread-safety: Train() may run in several threads at once on separate
// devices; callbacks run on the calling thread.
#ifndef CONVRNN_WORKER_TRAIN_TRAINER_H_
#define CONVRNN_WORKER_TRAIN_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/arch_spec.h"
#include "util/clock.h"

namespace convrnn {

struct Datasets;
class ConvRnnImpl;

struct EpochMetrics {
  int epoch = 0;              // 1-based
  int64_t steps = 0;          // optimizer steps so far
  double train_loss = 0;      // mean over the epoch's batches
  double val_top1 = 0;        // fraction in [0, 1]
  double images_per_sec = 0;  // training images per second of training time
  double wall_seconds = 0;    // of this epoch, training and evaluation
  double lr = 0;              // learning rate at the epoch's end
};
nlohmann::json ToJson(const EpochMetrics& m);

struct TrainResult {
  std::vector<EpochMetrics> epochs;  // every epoch, resumed ones included
  double val_top1 = 0;               // after the last epoch
  double test_top1 = -1;             // only with TrainerOptions::evaluate_test
  int64_t params = 0;
  int64_t flops_per_image = 0;
  double wall_seconds = 0;     // this run's, resumed epochs excluded
  int resumed_epochs = 0;      // epochs restored from a checkpoint
  bool stopped_early = false;  // on_epoch asked to stop
  // How the training steps ran: replayed as one CUDA graph each (from the
  // first capture on; the warm-up steps before it ran eagerly), or eagerly,
  // with the reason graphs were not used (graph_step.h).
  bool cuda_graphs = false;
  int64_t graph_replays = 0;
  std::string eager_reason;
  // Whether the training batches came from the split resident on the
  // training device (DeviceBatches) rather than the host loader thread.
  bool device_data = false;
  // The trained model, on TrainerOptions::device (e.g. to score it).
  std::shared_ptr<ConvRnnImpl> model;
};
nlohmann::json ToJson(const TrainResult& r);

struct TrainerOptions {
  // "cpu" or "cuda:N". Default: CPU.
  std::string device = "cpu";
  // Intra-op threads for this training; 0 leaves LibTorch's setting alone.
  int threads = 0;
  // Directory for checkpoint.pt; empty: no checkpoints. Created if missing.
  std::string checkpoint_dir;
  // Resume from checkpoint_dir when it holds a checkpoint of the same spec.
  // An unreadable checkpoint is reported through on_warning and training
  // starts afresh.
  bool resume = true;
  // Also report top-1 on the test split (for final reports only).
  bool evaluate_test = false;
  // Batches prepared ahead by the loader thread.
  int prefetch = 4;
  // Where training batches are made (data.h): "auto" keeps the training
  // split on a CUDA device when it takes at most device_data_budget_bytes
  // there and uses the host loader thread otherwise (and on the CPU, where
  // the thread overlaps batch making with training); "on" always gathers
  // batches on the training device, the CPU included; "off" always uses the
  // host loader. Either way the batches are the same.
  std::string device_data = "auto";
  int64_t device_data_budget_bytes = int64_t{2} << 30;
  // Called after every epoch; return false to stop training (early stopping).
  std::function<bool(const EpochMetrics&)> on_epoch;
  // Called for conditions worth telling the user that do not stop training.
  std::function<void(const std::string&)> on_warning;
  // Called every few optimizer steps (a heartbeat for long epochs).
  std::function<void(int64_t step)> on_step;
  // When set and true, training stops before the next step and Train()
  // returns CANCELLED (a lost lease, a shutdown). Checked every step.
  const std::atomic<bool>* cancel = nullptr;
  // Times epochs and the run (EpochMetrics::wall_seconds, images_per_sec);
  // never null.
  Clock* clock = Clock::Real();
};

absl::StatusOr<TrainResult> Train(const ArchSpec& spec, const Datasets& data,
                                  const TrainerOptions& options);

// Default intra-op threads for `processes` training processes: the CPUs
// allocated to this process (util/cpu_allocation.h: affinity mask, cgroup
// quota, SLURM_CPUS_PER_TASK; not the host's core count) split evenly, at
// least one each.
int DefaultThreads(int processes);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_TRAIN_TRAINER_H_
