// Datasets and batches for training and evaluation.
//
// LoadDatasets reads a dataset named by a DataSpec into memory as uint8
// tensors, carves a seeded validation split from the training set, and
// overlays occluders when asked. BatchLoader turns one split into normalised
// float batches on a background thread, so the trainer never waits on data.
// Everything is deterministic for a seed: batch order and augmentation of
// epoch e depend only on (seed, e), which makes resumed training exact.
//
// Thread-safety: Datasets is immutable after loading and may be shared.
// A BatchLoader is used by one consumer thread; it owns its producer thread.
#ifndef CONVRNN_WORKER_DATA_H_
#define CONVRNN_WORKER_DATA_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "worker/data_spec.h"

namespace convrnn {

// One split of a dataset, in memory on the CPU.
struct ImageSet {
  torch::Tensor images;  // uint8 [N, C, H, W], contiguous
  torch::Tensor labels;  // int64 [N], values in [0, num_classes)
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct Datasets {
  ImageSet train;  // after the validation split, train_limit and occlusion
  ImageSet val;
  ImageSet test;  // used only for final reports of selected architectures
  int num_classes = 0;
  int channels = 0, height = 0, width = 0;
  // Per-channel mean and standard deviation of the training split, on the
  // [0, 1] scale; batches are normalised with them (so blank = zeros).
  std::vector<float> mean, stddev;
  std::string description;  // e.g. "fashion-mnist: 54000 train / 6000 val / 10000 test"
};

// Loads every split named by `spec`. Errors name the file and what is wrong
// (missing, truncated, bad magic number, label out of range, sizes disagree).
absl::StatusOr<Datasets> LoadDatasets(const DataSpec& spec);

// Readers, exposed for tools and tests.
// An IDX file (gzip or raw) of unsigned bytes: a uint8 tensor with its dims.
absl::StatusOr<torch::Tensor> ReadIdxFile(const std::string& file);
// Images (N x H x W) and labels (N) IDX files as one set with C = 1.
absl::StatusOr<ImageSet> ReadIdxPair(const std::string& images_file,
                                     const std::string& labels_file);

// Batches.
struct Batch {
  torch::Tensor images;  // float32 [B, C, H, W], normalised
  torch::Tensor labels;  // int64 [B]
};

struct LoaderOptions {
  int batch_size = 128;
  bool shuffle = true;     // a new seeded permutation each epoch
  bool drop_last = false;  // drop the final short batch (static shapes)
  AugmentSpec augment;     // random crop / flip; leave default for evaluation
  uint64_t seed = 0;
  int prefetch = 4;  // batches prepared ahead by the producer thread
};

class BatchLoader {
 public:
  // REQUIRES: `set` and the tensors in it outlive the loader.
  BatchLoader(const ImageSet& set, std::vector<float> mean, std::vector<float> stddev,
              LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Begins epoch `epoch` (batch order and augmentation depend only on seed
  // and epoch), skipping its first `skip_batches` batches. Stops any epoch
  // in progress.
  void StartEpoch(int64_t epoch, int64_t skip_batches = 0);
  // The next batch of the current epoch, or nullopt when it is exhausted.
  std::optional<Batch> Next();
  int64_t BatchesPerEpoch() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convrnn

#endif  // CONVRNN_WORKER_DATA_H_
