// LoadDatasets: read a dataset, split, limit, occlude, measure.
#include "worker/data/data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "util/status_macros.h"
#include "worker/data/data_rng.h"

namespace convrnn {
namespace {

namespace fs = std::filesystem;

struct RawDataset {
  ImageSet train, test;  // train still holds the validation images
  int num_classes = 0;
};

// `dir/name.gz` if present, else `dir/name` (the error then names the .gz,
// the form Debian and the original sites ship).
std::string IdxFile(const std::string& dir, const std::string& name) {
  const fs::path gz = fs::path(dir) / (name + ".gz");
  const fs::path raw = fs::path(dir) / name;
  std::error_code ec;
  if (!fs::exists(gz, ec) && fs::exists(raw, ec)) return raw.string();
  return gz.string();
}

absl::StatusOr<RawDataset> ReadIdxDataset(const std::string& dir, int num_classes) {
  RawDataset raw;
  ASSIGN_OR_RETURN(ImageSet train,
                   ReadIdxPair(IdxFile(dir, "train-images-idx3-ubyte"),
                               IdxFile(dir, "train-labels-idx1-ubyte"), num_classes));
  if (num_classes == 0) {
    num_classes = train.size() == 0 ? 1 : static_cast<int>(train.labels.max().item<int64_t>()) + 1;
  }
  const std::string test_labels = IdxFile(dir, "t10k-labels-idx1-ubyte");
  ASSIGN_OR_RETURN(ImageSet test,
                   ReadIdxPair(IdxFile(dir, "t10k-images-idx3-ubyte"), test_labels, num_classes));
  if (test.images.sizes().slice(1) != train.images.sizes().slice(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(IdxFile(dir, "t10k-images-idx3-ubyte"), ": image size ", test.images.size(2),
                     "x", test.images.size(3), " differs from the training images' ",
                     train.images.size(2), "x", train.images.size(3)));
  }
  raw.train = std::move(train);
  raw.test = std::move(test);
  raw.num_classes = num_classes;
  return raw;
}

// Accepts the folder holding the batches or its parent (where the archive
// was unpacked: cifar-10-batches-bin/, cifar-100-binary/).
std::string CifarDir(const std::string& path, const char* probe, const char* archive_dir) {
  std::error_code ec;
  if (!fs::exists(fs::path(path) / probe, ec) &&
      fs::exists(fs::path(path) / archive_dir / probe, ec)) {
    return (fs::path(path) / archive_dir).string();
  }
  return path;
}

absl::StatusOr<RawDataset> ReadCifarDataset(const std::string& path, int num_classes) {
  std::vector<std::string> train_files, test_files;
  if (num_classes == 10) {
    const std::string dir = CifarDir(path, "data_batch_1.bin", "cifar-10-batches-bin");
    for (int i = 1; i <= 5; ++i)
      train_files.push_back((fs::path(dir) / absl::StrCat("data_batch_", i, ".bin")).string());
    test_files.push_back((fs::path(dir) / "test_batch.bin").string());
  } else {
    const std::string dir = CifarDir(path, "train.bin", "cifar-100-binary");
    train_files.push_back((fs::path(dir) / "train.bin").string());
    test_files.push_back((fs::path(dir) / "test.bin").string());
  }
  RawDataset raw;
  ASSIGN_OR_RETURN(ImageSet train, ReadCifarFiles(train_files, num_classes));
  ASSIGN_OR_RETURN(ImageSet test, ReadCifarFiles(test_files, num_classes));
  raw.train = std::move(train);
  raw.test = std::move(test);
  raw.num_classes = num_classes;
  return raw;
}

absl::StatusOr<RawDataset> ReadRaw(const DataSpec& spec, const std::string& path) {
  if (spec.dataset == "fashion-mnist") return ReadIdxDataset(path, 10);
  if (spec.dataset == "mnist-idx") return ReadIdxDataset(path, spec.num_classes);
  if (spec.dataset == "cifar10") return ReadCifarDataset(path, 10);
  if (spec.dataset == "cifar100") return ReadCifarDataset(path, 100);
  if (spec.dataset == "image-folder") {
    ASSIGN_OR_RETURN(ImageFolder folder,
                     ReadImageFolder(path, spec.image_height, spec.image_width));
    RawDataset raw;
    raw.train = std::move(folder.train);
    raw.test = std::move(folder.test);
    raw.num_classes = static_cast<int>(folder.classes.size());
    return raw;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown dataset \"", spec.dataset, "\""));
}

ImageSet Select(const ImageSet& set, std::vector<int64_t> indices) {
  std::sort(indices.begin(), indices.end());  // keep the file's order within a split
  torch::Tensor idx = torch::tensor(indices, torch::kInt64);
  return ImageSet{set.images.index_select(0, idx).contiguous(),
                  set.labels.index_select(0, idx).contiguous()};
}

void MeasureChannels(const torch::Tensor& images, std::vector<float>* mean,
                     std::vector<float>* stddev) {
  const int64_t n = images.size(0), c = images.size(1), plane = images.size(2) * images.size(3);
  const uint8_t* p = images.data_ptr<uint8_t>();
  mean->assign(c, 0.0f);
  stddev->assign(c, 1.0f);
  if (n == 0) return;
  for (int64_t ch = 0; ch < c; ++ch) {
    // Exact integer sums: no rounding drift over tens of millions of pixels.
    uint64_t sum = 0, sum_sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* q = p + (i * c + ch) * plane;
      uint64_t s = 0, s2 = 0;
      for (int64_t k = 0; k < plane; ++k) {
        s += q[k];
        s2 += uint64_t{q[k]} * q[k];
      }
      sum += s;
      sum_sq += s2;
    }
    const double count = static_cast<double>(n * plane);
    const double m = static_cast<double>(sum) / count;
    const double var = std::max(0.0, static_cast<double>(sum_sq) / count - m * m);
    (*mean)[ch] = static_cast<float>(m / 255.0);
    // A constant channel keeps std 1 rather than dividing by zero.
    (*stddev)[ch] = var > 0.0 ? static_cast<float>(std::sqrt(var) / 255.0) : 1.0f;
  }
}

}  // namespace

absl::StatusOr<Datasets> LoadDatasets(const DataSpec& spec) {
  const std::string path = ResolvedDataPath(spec);
  ASSIGN_OR_RETURN(RawDataset raw, ReadRaw(spec, path));

  if (spec.image_height > 0 && spec.dataset != "image-folder") {
    raw.train.images = ResizeImages(raw.train.images, spec.image_height, spec.image_width);
    raw.test.images = ResizeImages(raw.test.images, spec.image_height, spec.image_width);
  }

  // The validation split: a seeded permutation of the training images; the
  // limits take a prefix of each part, so a smaller limit is a subset.
  const int64_t n = raw.train.size();
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  DataRng rng(MixSeed({static_cast<uint64_t>(spec.split_seed), 0x5eed5b1175ULL}));
  rng.Shuffle(&order);
  const auto n_val = static_cast<int64_t>(std::llround(spec.val_fraction * static_cast<double>(n)));
  std::vector<int64_t> val_idx(order.begin(), order.begin() + n_val);
  std::vector<int64_t> train_idx(order.begin() + n_val, order.end());
  if (spec.val_limit > 0 && static_cast<int64_t>(val_idx.size()) > spec.val_limit)
    val_idx.resize(spec.val_limit);
  if (spec.train_limit > 0 && static_cast<int64_t>(train_idx.size()) > spec.train_limit) {
    train_idx.resize(spec.train_limit);
  }
  if (train_idx.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no training images left after a validation split of ",
                     spec.val_fraction, " from ", n));
  }

  Datasets d;
  d.train = Select(raw.train, std::move(train_idx));
  d.val = Select(raw.train, std::move(val_idx));
  d.test = std::move(raw.test);
  if (spec.occlusion) {
    d.train.images = Occlude(d.train.images, *spec.occlusion, Split::kTrain);
    d.val.images = Occlude(d.val.images, *spec.occlusion, Split::kVal);
    d.test.images = Occlude(d.test.images, *spec.occlusion, Split::kTest);
  }
  d.num_classes = raw.num_classes;
  d.channels = static_cast<int>(d.train.images.size(1));
  d.height = static_cast<int>(d.train.images.size(2));
  d.width = static_cast<int>(d.train.images.size(3));
  MeasureChannels(d.train.images, &d.mean, &d.stddev);
  d.augment = spec.augment;
  d.description = absl::StrFormat(
      "%s: %d train / %d val / %d test, %d classes, %dx%dx%d%s", spec.dataset, d.train.size(),
      d.val.size(), d.test.size(), d.num_classes, d.channels, d.height, d.width,
      spec.occlusion ? absl::StrCat(", occlusion ", spec.occlusion->kind) : "");
  return d;
}

}  // namespace convrnn
