// The data spec: which dataset a trial trains on and how it is prepared.
//
// JSON contract of DESIGN.md §7 ("Data spec"), typed; no LibTorch here so
// the server can validate campaigns without linking the model.
//
// Thread-safety: plain values.
#ifndef CONVRNN_SPEC_DATA_SPEC_H_
#define CONVRNN_SPEC_DATA_SPEC_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convrnn {

// Default location of Debian's dataset-fashion-mnist package.
inline constexpr const char* kFashionMnistDefaultPath = "/usr/share/datasets/fashion-mnist";

// Random occluders overlaid on every image (Spoerer & Kriegeskorte 2017).
// Deterministic: image i of a split gets the same occluders for the same seed.
struct OcclusionSpec {
  std::string kind = "debris";  // debris: fragments of other images; blobs: filled ellipses
  int count = 4;                // occluders per image
  double min_size = 0.15;       // occluder side as a fraction of the image side
  double max_size = 0.35;
  int64_t seed = 0;
};

// Training-time augmentation (never applied to validation or test).
struct AugmentSpec {
  int crop_padding = 0;  // pad by this many pixels, then crop back at random
  bool flip = false;     // random horizontal flip
};

struct DataSpec {
  std::string dataset =
      "fashion-mnist";        // fashion-mnist | mnist-idx | cifar10 | cifar100 | image-folder
  std::string path;           // empty: the dataset's default location
  double val_fraction = 0.1;  // carved from train by `split_seed`
  int64_t split_seed = 0;
  int64_t train_limit = 0;  // 0: use every training image left after the split
  int64_t val_limit = 0;    // 0: every validation image
  // JSON `image_size: [h, w]`: resize every image to h x w (bilinear).
  // 0: keep the native size (an image folder then needs one size throughout).
  int image_height = 0;
  int image_width = 0;
  // Only for mnist-idx: the number of classes; labels must lie below it.
  // 0: 1 + the largest training label. Other datasets know their own
  // (fashion-mnist and cifar10: 10, cifar100: 100, image-folder: its folders).
  int num_classes = 0;
  std::optional<OcclusionSpec> occlusion;
  AugmentSpec augment;
};

absl::StatusOr<DataSpec> ParseDataSpec(const nlohmann::json& json, absl::string_view path = "");
absl::StatusOr<DataSpec> ReadDataSpecFile(const std::string& file);
nlohmann::json ToJson(const DataSpec& spec);

// The path to read: spec.path, or the dataset's default.
std::string ResolvedDataPath(const DataSpec& spec);

}  // namespace convrnn

#endif  // CONVRNN_SPEC_DATA_SPEC_H_
