// worker/data/: datasets for training. This header is the folder's face;
// idx_reader.cc, cifar_reader.cc and image_folder.cc read each format,
// occlusion.cc overlays occluders, batch_loader.cc prefetches batches on the
// host, device_batches.cc gathers them on the training device, batch_plan.h
// holds what the two share, and data_rng.h the seeded generator.
//
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
// A BatchLoader is used by one consumer thread; it owns its producer thread,
// which draws no numbers from LibTorch's generator and runs no parallel
// LibTorch ops (it fills batches in plain loops).
#ifndef CONVRNN_WORKER_DATA_DATA_H_
#define CONVRNN_WORKER_DATA_DATA_H_

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/data_spec.h"

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
  // The data spec's training-time augmentation, applied to training batches.
  AugmentSpec augment;
  std::string description;  // e.g. "fashion-mnist: 54000 train / 6000 val / 10000 test"
};

// Loads every split named by `spec`. Errors name the file and what is wrong
// (missing, truncated, bad magic number, label out of range, sizes disagree).
absl::StatusOr<Datasets> LoadDatasets(const DataSpec& spec);

// Readers, exposed for tools and tests.
// An IDX file (gzip or raw) of unsigned bytes: a uint8 tensor with its dims.
absl::StatusOr<torch::Tensor> ReadIdxFile(const std::string& file);
// Images (N x H x W) and labels (N) IDX files as one set with C = 1.
// num_classes > 0 also refuses labels >= num_classes.
absl::StatusOr<ImageSet> ReadIdxPair(const std::string& images_file, const std::string& labels_file,
                                     int num_classes = 0);

// CIFAR binary batches, concatenated in order: images [N, 3, 32, 32].
// num_classes 10: CIFAR-10 records (1 label byte + 3072 pixel bytes);
// num_classes 100: CIFAR-100 records (coarse and fine label bytes, the fine
// label is used + 3072 pixel bytes).
absl::StatusOr<ImageSet> ReadCifarFiles(const std::vector<std::string>& files, int num_classes);

// An image folder: root/train/<class>/<image> and, when present,
// root/test/<class>/<image> (PNG, JPEG, BMP, GIF, TGA, PNM; other files are
// ignored). Classes are the train sub-folders, sorted by name; label = rank.
// Channels follow the first training image (gray -> 1, colour -> 3; alpha
// dropped). height, width > 0 resize every image (bilinear); otherwise all
// images must share one size.
struct ImageFolder {
  ImageSet train, test;  // test is empty without root/test
  std::vector<std::string> classes;
};
absl::StatusOr<ImageFolder> ReadImageFolder(const std::string& root, int height = 0, int width = 0);

// Bilinear resize of uint8 images [N, C, H, W] to [N, C, height, width].
torch::Tensor ResizeImages(const torch::Tensor& images, int height, int width);

// Split ids for Occlude: the occluders of image i of a split depend only on
// (spec.seed, split, i) and, for debris, on the images of that split.
enum class Split { kTrain = 0, kVal = 1, kTest = 2 };
// A copy of uint8 `images` [N, C, H, W] with spec.count occluders on each:
// "debris" pastes rectangles cut from other images of `images` (taken before
// occlusion), "blobs" draws filled ellipses of a random gray level. Occluder
// sides are uniform in [min_size, max_size] times the image side.
torch::Tensor Occlude(const torch::Tensor& images, const OcclusionSpec& spec, Split split);

// Batches.
struct Batch {
  torch::Tensor images;  // float32 [B, C, H, W], normalised
  torch::Tensor labels;  // int64 [B]
};

struct LoaderOptions {
  int batch_size = 128;
  bool shuffle = true;     // a new seeded permutation each epoch
  bool drop_last = false;  // drop the final short batch (static shapes)
  // Random crop / flip; leave default for evaluation. Crop padding is black
  // (raw 0) before normalisation, as torchvision pads.
  AugmentSpec augment;
  uint64_t seed = 0;
  int prefetch = 4;  // batches prepared ahead by the producer thread (>= 1)
};

// Where training batches come from: BatchLoader (host thread) or
// DeviceBatches (resident on the training device). For the same split and
// options both yield the same batches.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Begins epoch `epoch` (batch order and augmentation depend only on seed
  // and epoch), skipping its first `skip_batches` batches. Stops any epoch
  // in progress; batches of it not yet taken are dropped. Next() before the
  // first StartEpoch returns nullopt.
  virtual void StartEpoch(int64_t epoch, int64_t skip_batches = 0) = 0;
  // The next batch of the current epoch, or nullopt when it is exhausted.
  virtual std::optional<Batch> Next() = 0;
  virtual int64_t BatchesPerEpoch() const = 0;
};

// Batches made on the CPU by a producer thread, ahead of the consumer.
class BatchLoader final : public BatchSource {
 public:
  // REQUIRES: `set` and the tensors in it outlive the loader.
  BatchLoader(const ImageSet& set, std::vector<float> mean, std::vector<float> stddev,
              LoaderOptions options);
  ~BatchLoader() override;
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  void StartEpoch(int64_t epoch, int64_t skip_batches = 0) override;
  std::optional<Batch> Next() override;
  int64_t BatchesPerEpoch() const override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The split resident on `device` as uint8, one copy (Fashion-MNIST's
// training split is 42 MB), and batches gathered by index there: the
// normalisation table lookup, crop and flip are tensor ops on that device,
// so a step needs no host thread and no host-to-device copy. Per epoch the
// host computes the order and the augmentation draws (the functions the
// host loader uses) and uploads them once. Batches equal BatchLoader's for
// the same options, bit for bit, on the CPU as on a GPU (the same float
// table is looked up). Occlusion is already in the split's bytes
// (LoadDatasets draws it once per image), so it costs nothing per step.
//
// Next() queues device work and returns without waiting for it; on a CUDA
// device the batch is ready in stream order.
class DeviceBatches final : public BatchSource {
 public:
  DeviceBatches(const ImageSet& set, std::vector<float> mean, std::vector<float> stddev,
                LoaderOptions options, torch::Device device);
  ~DeviceBatches() override;
  DeviceBatches(const DeviceBatches&) = delete;
  DeviceBatches& operator=(const DeviceBatches&) = delete;

  void StartEpoch(int64_t epoch, int64_t skip_batches = 0) override;
  std::optional<Batch> Next() override;
  int64_t BatchesPerEpoch() const override;

  // Bytes `set` takes on a device (images and labels).
  static int64_t ResidentBytes(const ImageSet& set);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convrnn

#endif  // CONVRNN_WORKER_DATA_DATA_H_
