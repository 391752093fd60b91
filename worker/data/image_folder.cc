// An image folder: root/{train,test}/<class>/<image>, decoded with stb_image.
#include <stb/stb_image.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "util/posix_fs.h"
#include "util/status_macros.h"
#include "worker/data/data.h"

namespace convrnn {
namespace {

namespace fs = std::filesystem;

bool IsImageFile(const fs::path& p) {
  if (p.filename().string().rfind('.', 0) == 0) return false;  // hidden files
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".pgm", ".ppm", ".pnm"}) {
    if (ext == e) return true;
  }
  return false;
}

// Sorted sub-folder names of `dir`.
absl::StatusOr<std::vector<std::string>> SubFolders(const fs::path& dir) {
  ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ListDirectory(dir.string()));
  std::vector<std::string> names;  // sorted, as the entries are
  for (const DirEntry& e : entries) {
    if (e.is_directory) names.push_back(e.name);
  }
  return names;
}

struct Decoded {
  std::string file;
  int64_t label;
};

// Decodes each file to [C, H, W] uint8 and stacks them. `*channels`,
// `*height`, `*width` of 0 are taken from the first image; a fixed size
// (height/width given by the caller) means each image is resized to it.
class FolderDecoder {
 public:
  FolderDecoder(int height, int width) : resize_(height > 0), height_(height), width_(width) {}

  absl::StatusOr<ImageSet> Decode(const std::vector<Decoded>& items) {
    ImageSet set;
    std::vector<torch::Tensor> images;
    images.reserve(items.size());
    set.labels = torch::empty({static_cast<int64_t>(items.size())}, torch::kInt64);
    int64_t* labels = set.labels.data_ptr<int64_t>();
    for (size_t i = 0; i < items.size(); ++i) {
      ASSIGN_OR_RETURN(torch::Tensor image, DecodeOne(items[i].file));
      images.push_back(std::move(image));
      labels[i] = items[i].label;
    }
    set.images = images.empty() ? torch::empty({0, channels_, height_, width_}, torch::kUInt8)
                                : torch::stack(images).contiguous();
    return set;
  }

 private:
  absl::StatusOr<torch::Tensor> DecodeOne(const std::string& file) {
    int w = 0, h = 0, n = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(file.c_str(), &w, &h, &n, channels_),
                                                     stbi_image_free);
    if (pixels == nullptr) {
      return absl::DataLossError(
          absl::StrCat(file, ": cannot decode image: ", stbi_failure_reason()));
    }
    if (channels_ == 0) {
      // Gray (+alpha) -> 1 channel, colour (+alpha) -> 3. Redecode so stb drops alpha.
      channels_ = n <= 2 ? 1 : 3;
      if (n != channels_) {
        pixels.reset(stbi_load(file.c_str(), &w, &h, &n, channels_));
        if (pixels == nullptr) {
          return absl::DataLossError(
              absl::StrCat(file, ": cannot decode image: ", stbi_failure_reason()));
        }
      }
    }
    if (height_ == 0) {
      height_ = h;
      width_ = w;
      first_file_ = file;
    }
    torch::Tensor hwc = torch::from_blob(pixels.get(), {h, w, channels_}, torch::kUInt8);
    torch::Tensor chw = hwc.permute({2, 0, 1}).contiguous();  // copies out of stb's buffer
    if (h == height_ && w == width_) return chw;
    if (!resize_) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": image is ", h, "x", w, " but ",
                                                     first_file_, " is ", height_, "x", width_,
                                                     "; set image_size to resize every image"));
    }
    return ResizeImages(chw.unsqueeze(0), height_, width_).squeeze(0);
  }

  bool resize_;
  int channels_ = 0, height_, width_;
  std::string first_file_;
};

absl::StatusOr<std::vector<Decoded>> ListSplit(const fs::path& split_dir,
                                               const std::vector<std::string>& classes) {
  ASSIGN_OR_RETURN(std::vector<std::string> present, SubFolders(split_dir));
  std::vector<Decoded> items;
  for (const std::string& name : present) {
    const auto it = std::lower_bound(classes.begin(), classes.end(), name);
    if (it == classes.end() || *it != name) {
      return absl::InvalidArgumentError(
          absl::StrCat((split_dir / name).string(), ": class folder not present under train/"));
    }
    const int64_t label = it - classes.begin();
    const fs::path class_dir = split_dir / name;
    ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ListDirectory(class_dir.string()));
    for (const DirEntry& e : entries) {  // sorted by name
      const fs::path file = class_dir / e.name;
      if (e.is_regular_file && IsImageFile(file)) items.push_back({file.string(), label});
    }
  }
  return items;
}

}  // namespace

absl::StatusOr<ImageFolder> ReadImageFolder(const std::string& root, int height, int width) {
  const fs::path train_dir = fs::path(root) / "train";
  const fs::path test_dir = fs::path(root) / "test";
  std::error_code ec;
  if (!fs::is_directory(train_dir, ec)) {
    return absl::NotFoundError(absl::StrCat(
        train_dir.string(), ": no such folder (an image folder holds train/<class>/<image>)"));
  }
  ImageFolder folder;
  ASSIGN_OR_RETURN(std::vector<std::string> classes, SubFolders(train_dir));
  if (classes.empty())
    return absl::InvalidArgumentError(absl::StrCat(train_dir.string(), ": no class folders"));
  folder.classes = std::move(classes);

  FolderDecoder decoder(height, width);
  ASSIGN_OR_RETURN(std::vector<Decoded> train_items, ListSplit(train_dir, folder.classes));
  if (train_items.empty())
    return absl::InvalidArgumentError(absl::StrCat(train_dir.string(), ": no images"));
  ASSIGN_OR_RETURN(ImageSet train, decoder.Decode(train_items));
  folder.train = std::move(train);

  std::vector<Decoded> test_items;
  if (fs::is_directory(test_dir, ec)) {
    ASSIGN_OR_RETURN(std::vector<Decoded> listed, ListSplit(test_dir, folder.classes));
    test_items = std::move(listed);
  }
  ASSIGN_OR_RETURN(ImageSet test, decoder.Decode(test_items));
  folder.test = std::move(test);
  return folder;
}

torch::Tensor ResizeImages(const torch::Tensor& images, int height, int width) {
  if (images.size(2) == height && images.size(3) == width) return images;
  torch::Tensor out = torch::empty({images.size(0), images.size(1), height, width}, torch::kUInt8);
  // In chunks, so a large split never holds a full float copy.
  constexpr int64_t kChunk = 1024;
  for (int64_t begin = 0; begin < images.size(0); begin += kChunk) {
    const int64_t end = std::min(images.size(0), begin + kChunk);
    torch::Tensor f = images.slice(0, begin, end).to(torch::kFloat32);
    torch::Tensor r = at::upsample_bilinear2d(f, {height, width}, /*align_corners=*/false);
    out.slice(0, begin, end).copy_(r.round_().clamp_(0, 255).to(torch::kUInt8));
  }
  return out;
}

}  // namespace convrnn
