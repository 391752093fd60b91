// Datasets, readers, occlusion and the batch loader.
#include <stb/stb_image_write.h>
#include <stdlib.h>
#include <torch/types.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <string>
#include <vector>

// LibTorch pulls in glog, whose CHECK(cond) would shadow Catch2's.
#undef CHECK
#include <catch2/catch.hpp>

#include "spec/data_spec.h"
#include "tests/test_support.h"
#include "tests/worker/data/ramp_set.h"
#include "worker/data/data.h"

namespace convrnn {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

using ::convrnn::testing::TempDir;

void WriteFile(const std::string& file, const Bytes& bytes) {
  fs::create_directories(fs::path(file).parent_path());
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void WriteGz(const std::string& file, const Bytes& bytes) {
  gzFile gz = gzopen(file.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

// An IDX file: magic 00 00 08 ndims (or `magic` when given), sizes, then `data`.
Bytes Idx(const std::vector<uint32_t>& dims, const Bytes& data, uint32_t magic = 0) {
  if (magic == 0) magic = 0x00000800u | static_cast<uint32_t>(dims.size());
  Bytes out;
  auto put32 = [&out](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
  };
  put32(magic);
  for (uint32_t d : dims) put32(d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// n images of h x w whose first two pixels spell the image's index, and
// labels index % classes: a split can be traced back to the file.
void WriteIdxDataset(const TempDir& dir, int n_train, int n_test, int h, int w, int classes,
                     bool gz) {
  for (auto [prefix, n] : {std::pair<std::string, int>{"train", n_train}, {"t10k", n_test}}) {
    Bytes images(static_cast<size_t>(n * h * w)), labels(n);
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < h * w; ++k)
        images[i * h * w + k] = static_cast<uint8_t>((i * 7 + k * 13) % 256);
      images[i * h * w] = static_cast<uint8_t>(i / 256);
      images[i * h * w + 1] = static_cast<uint8_t>(i % 256);
      labels[i] = static_cast<uint8_t>(i % classes);
    }
    const std::string image_name = prefix + "-images-idx3-ubyte",
                      label_name = prefix + "-labels-idx1-ubyte";
    const Bytes image_file = Idx({uint32_t(n), uint32_t(h), uint32_t(w)}, images);
    const Bytes label_file = Idx({uint32_t(n)}, labels);
    if (gz) {
      WriteGz(dir / (image_name + ".gz"), image_file);
      WriteGz(dir / (label_name + ".gz"), label_file);
    } else {
      WriteFile(dir / image_name, image_file);
      WriteFile(dir / label_name, label_file);
    }
  }
}

std::vector<int64_t> TracedIndices(const ImageSet& set) {
  std::vector<int64_t> out;
  const torch::Tensor flat = set.images.reshape({set.size(), -1});
  for (int64_t i = 0; i < set.size(); ++i) {
    out.push_back(flat[i][0].item<int64_t>() * 256 + flat[i][1].item<int64_t>());
  }
  return out;
}

DataSpec IdxSpec(const TempDir& dir) {
  DataSpec spec;
  spec.dataset = "mnist-idx";
  spec.path = dir.str();
  return spec;
}

// Fashion-MNIST is read once for the whole suite (about a second).
const Datasets& FashionMnist() {
  static const Datasets* const d = [] {
    absl::StatusOr<Datasets> loaded = LoadDatasets(DataSpec{});
    INFO(loaded.status().ToString());
    REQUIRE(loaded.ok());
    return new Datasets(*std::move(loaded));
  }();
  return *d;
}

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

#define REQUIRE_ERROR_MENTIONS(status, ...)                                       \
  do {                                                                            \
    const absl::Status s_ = (status);                                             \
    INFO(s_.ToString());                                                          \
    REQUIRE_FALSE(s_.ok());                                                       \
    for (const std::string& t_ : std::initializer_list<std::string>{__VA_ARGS__}) \
      CHECK(Contains(s_, t_));                                                    \
  } while (0)

}  // namespace

// ---------------------------------------------------------------- Fashion-MNIST

TEST_CASE("Fashion-MNIST loads from Debian's files with a 10% validation split", "[data]") {
  const Datasets& d = FashionMnist();
  CHECK(d.train.size() + d.val.size() == 60000);
  CHECK(d.val.size() == 6000);
  CHECK(d.test.size() == 10000);
  CHECK(d.num_classes == 10);
  CHECK((d.channels == 1 && d.height == 28 && d.width == 28));
  CHECK(d.train.images.scalar_type() == torch::kUInt8);
  CHECK(d.train.images.sizes() == torch::IntArrayRef({54000, 1, 28, 28}));
  CHECK(d.train.labels.scalar_type() == torch::kInt64);
  CHECK(d.test.labels.min().item<int64_t>() == 0);
  CHECK(d.test.labels.max().item<int64_t>() == 9);
  // Fashion-MNIST's published statistics: mean 0.286, std 0.353.
  REQUIRE(d.mean.size() == 1);
  CHECK(d.mean[0] == Approx(0.286).margin(0.003));
  CHECK(d.stddev[0] == Approx(0.353).margin(0.003));
  // Each class is about a tenth of the training split.
  const torch::Tensor counts = torch::bincount(d.train.labels, {}, 10);
  CHECK(counts.min().item<int64_t>() > 5000);
  CHECK(d.description.find("54000 train / 6000 val / 10000 test") != std::string::npos);
}

TEST_CASE("Fashion-MNIST split depends only on split_seed, limits take subsets", "[data]") {
  DataSpec spec;
  spec.train_limit = 1000;
  spec.val_limit = 500;
  absl::StatusOr<Datasets> a = LoadDatasets(spec);
  absl::StatusOr<Datasets> b = LoadDatasets(spec);
  spec.split_seed = 1;
  absl::StatusOr<Datasets> c = LoadDatasets(spec);
  REQUIRE((a.ok() && b.ok() && c.ok()));
  CHECK(a->train.size() == 1000);
  CHECK(a->val.size() == 500);
  CHECK(a->test.size() == 10000);
  CHECK(torch::equal(a->train.images, b->train.images));
  CHECK(torch::equal(a->val.labels, b->val.labels));
  CHECK_FALSE(torch::equal(a->train.images, c->train.images));
}

// ---------------------------------------------------------------- split on traced data

TEST_CASE("Validation split is a seeded partition of train, limits are prefixes", "[data]") {
  TempDir dir;
  WriteIdxDataset(dir, /*n_train=*/1000, /*n_test=*/50, 4, 5, /*classes=*/10, /*gz=*/true);
  DataSpec spec = IdxSpec(dir);
  spec.val_fraction = 0.2;
  absl::StatusOr<Datasets> d = LoadDatasets(spec);
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  CHECK(d->num_classes == 10);  // 1 + the largest label
  REQUIRE(d->train.size() == 800);
  REQUIRE(d->val.size() == 200);
  CHECK(d->test.size() == 50);
  const std::vector<int64_t> train = TracedIndices(d->train), val = TracedIndices(d->val);
  std::set<int64_t> all(train.begin(), train.end());
  all.insert(val.begin(), val.end());
  CHECK(all.size() == 1000);  // disjoint and complete
  CHECK(*all.rbegin() == 999);
  // Labels travel with their images.
  for (size_t i = 0; i < train.size(); ++i)
    REQUIRE(d->train.labels[i].item<int64_t>() == train[i] % 10);

  spec.train_limit = 100;
  spec.val_limit = 30;
  absl::StatusOr<Datasets> limited = LoadDatasets(spec);
  REQUIRE(limited.ok());
  CHECK(limited->train.size() == 100);
  CHECK(limited->val.size() == 30);
  for (int64_t i : TracedIndices(limited->train))
    CHECK(std::count(train.begin(), train.end(), i) == 1);
  for (int64_t i : TracedIndices(limited->val)) CHECK(std::count(val.begin(), val.end(), i) == 1);

  spec.train_limit = spec.val_limit = 0;
  spec.split_seed = 7;
  absl::StatusOr<Datasets> other = LoadDatasets(spec);
  REQUIRE(other.ok());
  CHECK(TracedIndices(other->val) != val);
}

TEST_CASE("Raw (uncompressed) IDX files read like gzip ones", "[data]") {
  TempDir gz_dir, raw_dir;
  WriteIdxDataset(gz_dir, 30, 10, 3, 3, 4, /*gz=*/true);
  WriteIdxDataset(raw_dir, 30, 10, 3, 3, 4, /*gz=*/false);
  absl::StatusOr<Datasets> a = LoadDatasets(IdxSpec(gz_dir));
  absl::StatusOr<Datasets> b = LoadDatasets(IdxSpec(raw_dir));
  REQUIRE((a.ok() && b.ok()));
  CHECK(torch::equal(a->train.images, b->train.images));
  CHECK(torch::equal(a->test.labels, b->test.labels));
  CHECK(a->num_classes == 4);
}

// ---------------------------------------------------------------- corrupt IDX files

TEST_CASE("A truncated IDX file is refused, naming the file and the sizes", "[data]") {
  TempDir dir;
  const std::string file = dir / "train-images-idx3-ubyte.gz";
  WriteGz(file, Idx({100, 28, 28}, Bytes(1000, 7)));
  absl::StatusOr<torch::Tensor> t = ReadIdxFile(file);
  REQUIRE_ERROR_MENTIONS(t.status(), file, "truncated", "100x28x28 = 78400 bytes, file has 1000");
}

TEST_CASE("A gzip stream cut short is refused as truncated", "[data]") {
  TempDir dir;
  const std::string whole = dir / "whole.gz", cut = dir / "train-images-idx3-ubyte.gz";
  Bytes pixels(20 * 28 * 28);
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  WriteGz(whole, Idx({20, 28, 28}, pixels));
  std::ifstream in(whole, std::ios::binary);
  Bytes compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  compressed.resize(compressed.size() / 2);
  WriteFile(cut, compressed);
  REQUIRE_ERROR_MENTIONS(ReadIdxFile(cut).status(), cut, "truncated");
}

TEST_CASE("IDX files with a bad magic number or a non-byte type are refused", "[data]") {
  TempDir dir;
  const std::string bad_magic = dir / "bad-magic.gz", floats = dir / "floats";
  WriteGz(bad_magic, Idx({4}, Bytes(4), /*magic=*/0x12340801u));
  REQUIRE_ERROR_MENTIONS(ReadIdxFile(bad_magic).status(), bad_magic, "bad magic number 0x12340801");
  WriteFile(floats, Idx({4}, Bytes(16), /*magic=*/0x00000D01u));
  REQUIRE_ERROR_MENTIONS(ReadIdxFile(floats).status(), floats, "wrong data type 0x0D (float)");
  const std::string missing = dir / "absent.gz";
  absl::StatusOr<torch::Tensor> t = ReadIdxFile(missing);
  REQUIRE_ERROR_MENTIONS(t.status(), missing, "no such file");
  CHECK(t.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("IDX images and labels of different counts are refused", "[data]") {
  TempDir dir;
  const std::string images = dir / "i.gz", labels = dir / "l.gz";
  WriteGz(images, Idx({5, 2, 2}, Bytes(20)));
  WriteGz(labels, Idx({4}, Bytes(4)));
  REQUIRE_ERROR_MENTIONS(ReadIdxPair(images, labels).status(), labels, "4 labels", images,
                         "5 images");
  // Swapped files: images where labels belong.
  REQUIRE_ERROR_MENTIONS(ReadIdxPair(labels, images).status(), labels, "expected images");
}

TEST_CASE("A Fashion-MNIST label outside 10 classes is refused, naming the file", "[data]") {
  TempDir dir;
  WriteIdxDataset(dir, 20, 5, 2, 2, 10, true);
  Bytes labels(20, 3);
  labels[13] = 12;
  const std::string file = dir / "train-labels-idx1-ubyte.gz";
  WriteGz(file, Idx({20}, labels));
  DataSpec spec;
  spec.path = dir.str();  // dataset stays fashion-mnist: 10 classes
  REQUIRE_ERROR_MENTIONS(LoadDatasets(spec).status(), file, "label 12 at index 13", "10 classes");
  // mnist-idx with an explicit class count applies the same rule.
  spec.dataset = "mnist-idx";
  spec.num_classes = 5;
  REQUIRE_ERROR_MENTIONS(LoadDatasets(spec).status(), file, "out of range for 5 classes");
}

TEST_CASE("A missing dataset folder is refused, naming the file looked for", "[data]") {
  DataSpec spec;
  spec.path = "/nonexistent/fashion";
  REQUIRE_ERROR_MENTIONS(LoadDatasets(spec).status(),
                         "/nonexistent/fashion/train-images-idx3-ubyte.gz");
}

// ---------------------------------------------------------------- CIFAR

namespace {
// One record: label byte(s), then planes R, G, B with R = seed, G = seed+1, B = seed+2.
void AppendCifarRecord(Bytes* out, std::vector<uint8_t> label_bytes, uint8_t seed) {
  out->insert(out->end(), label_bytes.begin(), label_bytes.end());
  for (int ch = 0; ch < 3; ++ch) {
    for (int k = 0; k < 1024; ++k)
      out->push_back(static_cast<uint8_t>(seed + ch + (k == 0 ? 100 : 0)));
  }
}
}  // namespace

TEST_CASE("CIFAR-10 binary batches load as 3x32x32 with their labels", "[data]") {
  TempDir dir;
  for (int b = 1; b <= 5; ++b) {
    Bytes file;
    AppendCifarRecord(&file, {static_cast<uint8_t>(b)}, static_cast<uint8_t>(10 * b));
    AppendCifarRecord(&file, {9}, static_cast<uint8_t>(10 * b + 5));
    WriteFile(dir / ("cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin"), file);
  }
  Bytes test;
  AppendCifarRecord(&test, {0}, 200);
  WriteFile(dir / "cifar-10-batches-bin/test_batch.bin", test);

  DataSpec spec;
  spec.dataset = "cifar10";
  spec.path = dir.str();  // the archive's parent folder works too
  spec.val_fraction = 0.0;
  absl::StatusOr<Datasets> d = LoadDatasets(spec);
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  CHECK(d->num_classes == 10);
  CHECK((d->channels == 3 && d->height == 32 && d->width == 32));
  REQUIRE(d->train.size() == 10);
  CHECK(d->test.size() == 1);
  CHECK(d->train.labels[0].item<int64_t>() == 1);
  CHECK(d->train.labels[1].item<int64_t>() == 9);
  CHECK(d->train.labels[8].item<int64_t>() == 5);
  // Planes stay R, G, B; pixel (0, 0) and (0, 1) of image 2 (batch 2, record 0).
  CHECK(d->train.images[2][0][0][0].item<int>() == 120);
  CHECK(d->train.images[2][1][0][1].item<int>() == 21);
  CHECK(d->train.images[2][2][31][31].item<int>() == 22);
  CHECK(d->test.images[0][0][5][5].item<int>() == 200);
}

TEST_CASE("CIFAR-100 uses the fine label of its two label bytes", "[data]") {
  TempDir dir;
  Bytes train, test;
  AppendCifarRecord(&train, {3, 77}, 1);
  AppendCifarRecord(&train, {19, 99}, 2);
  AppendCifarRecord(&test, {0, 42}, 3);
  WriteFile(dir / "train.bin", train);
  WriteFile(dir / "test.bin", test);
  DataSpec spec;
  spec.dataset = "cifar100";
  spec.path = dir.str();
  spec.val_fraction = 0.0;
  absl::StatusOr<Datasets> d = LoadDatasets(spec);
  REQUIRE(d.ok());
  CHECK(d->num_classes == 100);
  CHECK(d->train.labels[0].item<int64_t>() == 77);
  CHECK(d->train.labels[1].item<int64_t>() == 99);
  CHECK(d->test.labels[0].item<int64_t>() == 42);
  CHECK(d->train.images[1][0][0][1].item<int>() == 2);
}

TEST_CASE("A CIFAR file that is not a whole number of records is refused", "[data]") {
  TempDir dir;
  Bytes file;
  AppendCifarRecord(&file, {1}, 0);
  file.resize(file.size() + 100);
  const std::string name = dir / "data_batch_1.bin";
  WriteFile(name, file);
  REQUIRE_ERROR_MENTIONS(ReadCifarFiles({name}, 10).status(), name, "3173 bytes",
                         "3073-byte CIFAR-10 records");
  // A CIFAR-10 label byte read as CIFAR-100: 3073 is not a multiple of 3074.
  Bytes one;
  AppendCifarRecord(&one, {1}, 0);
  WriteFile(name, one);
  REQUIRE_ERROR_MENTIONS(ReadCifarFiles({name}, 100).status(), name, "3074-byte CIFAR-100");
  // A label beyond the classes.
  Bytes bad;
  AppendCifarRecord(&bad, {1}, 0);
  AppendCifarRecord(&bad, {10}, 0);
  WriteFile(name, bad);
  REQUIRE_ERROR_MENTIONS(ReadCifarFiles({name}, 10).status(), name, "label 10 in record 1");
}

// ---------------------------------------------------------------- image folder

namespace {
// A w x h PNG with `channels` channels, every byte `value` except pixel (0,0)
// channel 0 = 255 (to check orientation).
void WritePng(const std::string& file, int w, int h, int channels, uint8_t value) {
  fs::create_directories(fs::path(file).parent_path());
  Bytes pixels(static_cast<size_t>(w * h * channels), value);
  pixels[0] = 255;
  REQUIRE(stbi_write_png(file.c_str(), w, h, channels, pixels.data(), w * channels) != 0);
}
}  // namespace

TEST_CASE("An image folder loads classes in sorted order with their pixels", "[data]") {
  TempDir dir;
  WritePng(dir / "train/dog/a.png", 6, 4, 3, 10);
  WritePng(dir / "train/dog/b.png", 6, 4, 3, 11);
  WritePng(dir / "train/cat/a.png", 6, 4, 3, 20);
  WritePng(dir / "train/ant/x.png", 6, 4, 3, 30);
  WriteFile(dir / "train/cat/notes.txt", Bytes{'h', 'i'});  // not an image: ignored
  WritePng(dir / "test/dog/c.png", 6, 4, 3, 40);

  absl::StatusOr<ImageFolder> folder = ReadImageFolder(dir.str());
  INFO(folder.status().ToString());
  REQUIRE(folder.ok());
  CHECK((folder->classes == std::vector<std::string>{"ant", "cat", "dog"}));
  REQUIRE(folder->train.size() == 4);
  CHECK(folder->train.images.sizes() == torch::IntArrayRef({4, 3, 4, 6}));
  CHECK(torch::equal(folder->train.labels, torch::tensor({0, 1, 2, 2}, torch::kInt64)));
  CHECK(folder->train.images[0][0][0][0].item<int>() == 255);
  CHECK(folder->train.images[0][0][0][1].item<int>() == 30);
  CHECK(folder->train.images[3][2][3][5].item<int>() == 11);
  REQUIRE(folder->test.size() == 1);
  CHECK(folder->test.labels[0].item<int64_t>() == 2);

  // Through LoadDatasets, resized.
  DataSpec spec;
  spec.dataset = "image-folder";
  spec.path = dir.str();
  spec.val_fraction = 0.25;
  spec.image_height = 8;
  spec.image_width = 8;
  absl::StatusOr<Datasets> d = LoadDatasets(spec);
  REQUIRE(d.ok());
  CHECK(d->num_classes == 3);
  CHECK((d->channels == 3 && d->height == 8 && d->width == 8));
  CHECK(d->train.size() == 3);
  CHECK(d->val.size() == 1);
}

TEST_CASE("An image folder keeps the first image's channels and refuses an odd size", "[data]") {
  TempDir dir;
  WritePng(dir / "train/a/1.png", 5, 5, 1, 50);
  WritePng(dir / "train/b/1.png", 5, 5, 4, 60);  // RGBA becomes gray
  absl::StatusOr<ImageFolder> folder = ReadImageFolder(dir.str());
  REQUIRE(folder.ok());
  CHECK(folder->train.images.size(1) == 1);
  CHECK(folder->test.size() == 0);  // no test/ folder

  const std::string odd = dir / "train/b/2.png";
  WritePng(odd, 7, 5, 1, 70);
  REQUIRE_ERROR_MENTIONS(ReadImageFolder(dir.str()).status(), odd, "5x7", "image_size");
  absl::StatusOr<ImageFolder> resized = ReadImageFolder(dir.str(), 5, 5);
  REQUIRE(resized.ok());
  CHECK(resized->train.images.sizes() == torch::IntArrayRef({3, 1, 5, 5}));
  CHECK(resized->train.images[2][0][2][2].item<int>() == 70);
}

TEST_CASE("An undecodable image in an image folder is refused, naming it", "[data]") {
  TempDir dir;
  WritePng(dir / "train/a/1.png", 4, 4, 3, 1);
  const std::string bad = dir / "train/a/2.png";
  WriteFile(bad, Bytes{0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5});
  DataSpec spec;
  spec.dataset = "image-folder";
  spec.path = dir.str();
  REQUIRE_ERROR_MENTIONS(LoadDatasets(spec).status(), bad, "cannot decode");
  REQUIRE_ERROR_MENTIONS(ReadImageFolder(dir / "absent").status(), "absent/train");
}

// ---------------------------------------------------------------- occlusion

namespace {
// 40 images, 2 channels, 20 x 20; image i is the constant i * 5.
torch::Tensor ConstantImages() {
  return (torch::arange(40, torch::kInt64) * 5)
      .to(torch::kUInt8)
      .view({40, 1, 1, 1})
      .expand({40, 2, 20, 20})
      .contiguous();
}
}  // namespace

TEST_CASE("Occlusion is deterministic per seed, changes pixels, and differs across seeds",
          "[data]") {
  const torch::Tensor images = ConstantImages();
  for (const char* kind : {"debris", "blobs"}) {
    INFO(kind);
    OcclusionSpec spec;
    spec.kind = kind;
    spec.seed = 3;
    const torch::Tensor a = Occlude(images, spec, Split::kTrain);
    const torch::Tensor b = Occlude(images, spec, Split::kTrain);
    CHECK(torch::equal(a, b));
    CHECK(a.sizes() == images.sizes());
    // Each image changed somewhere, but most of each image is untouched.
    const torch::Tensor changed = a.ne(images).reshape({40, -1}).to(torch::kFloat32).mean(1);
    CHECK(changed.gt(0).sum().item<int64_t>() >= 36);  // a blob may match the image's own gray
    CHECK(changed.max().item<float>() < 0.9);
    CHECK(torch::equal(images, ConstantImages()));  // the input is left alone

    spec.seed = 4;
    CHECK_FALSE(torch::equal(a, Occlude(images, spec, Split::kTrain)));
    spec.seed = 3;
    CHECK_FALSE(torch::equal(a, Occlude(images, spec, Split::kVal)));
  }
}

TEST_CASE("Debris are fragments of other images, blobs of one image do not depend on others",
          "[data]") {
  const torch::Tensor images = ConstantImages();
  OcclusionSpec spec;
  spec.kind = "debris";
  spec.count = 1;
  const torch::Tensor a = Occlude(images, spec, Split::kTest);
  for (int64_t i = 0; i < 40; ++i) {
    // One occluder: besides the image's own value, one other image's value,
    // and the same in both channels.
    const torch::Tensor values = std::get<0>(at::_unique(a[i]));
    CHECK(values.size(0) == 2);
    CHECK(torch::equal(a[i][0], a[i][1]));
  }
  spec.kind = "blobs";
  spec.count = 6;
  const torch::Tensor all = Occlude(images, spec, Split::kTrain);
  const torch::Tensor head = Occlude(images.slice(0, 0, 10), spec, Split::kTrain);
  CHECK(torch::equal(all.slice(0, 0, 10), head));
}

TEST_CASE("LoadDatasets occludes train, val and test", "[data]") {
  TempDir dir;
  WriteIdxDataset(dir, 100, 20, 12, 12, 10, true);
  DataSpec spec = IdxSpec(dir);
  absl::StatusOr<Datasets> plain = LoadDatasets(spec);
  spec.occlusion = OcclusionSpec{};
  spec.occlusion->kind = "blobs";
  absl::StatusOr<Datasets> occluded = LoadDatasets(spec);
  REQUIRE((plain.ok() && occluded.ok()));
  CHECK_FALSE(torch::equal(plain->train.images, occluded->train.images));
  CHECK_FALSE(torch::equal(plain->val.images, occluded->val.images));
  CHECK_FALSE(torch::equal(plain->test.images, occluded->test.images));
  CHECK(torch::equal(plain->train.labels, occluded->train.labels));
  absl::StatusOr<Datasets> again = LoadDatasets(spec);
  REQUIRE(again.ok());
  CHECK(torch::equal(again->test.images, occluded->test.images));
}

// ---------------------------------------------------------------- batch loader

namespace {
// n images 1 x 4 x 6 of distinct content; label = index.
ImageSet IndexedSet(int64_t n) {
  ImageSet set;
  set.images = torch::randint(0, 256, {n, 1, 4, 6}, torch::kUInt8);
  set.labels = torch::arange(n, torch::kInt64);
  return set;
}

std::vector<Batch> Drain(BatchLoader& loader) {
  std::vector<Batch> out;
  while (std::optional<Batch> b = loader.Next()) out.push_back(*std::move(b));
  return out;
}

bool SameBatches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i].images, b[i].images) || !torch::equal(a[i].labels, b[i].labels))
      return false;
  }
  return true;
}
}  // namespace

TEST_CASE("The loader yields every image exactly once per epoch, in a new order each epoch",
          "[data]") {
  torch::manual_seed(0);
  const ImageSet set = IndexedSet(103);
  LoaderOptions options;
  options.batch_size = 10;
  options.seed = 5;
  BatchLoader loader(set, {0.5f}, {0.25f}, options);
  CHECK(loader.BatchesPerEpoch() == 11);
  CHECK_FALSE(loader.Next().has_value());  // no epoch started
  std::vector<int64_t> first_order;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    loader.StartEpoch(epoch);
    std::vector<Batch> batches = Drain(loader);
    REQUIRE(batches.size() == 11);
    CHECK(batches.back().labels.size(0) == 3);
    std::vector<int64_t> seen;
    for (const Batch& b : batches) {
      CHECK(b.images.scalar_type() == torch::kFloat32);
      CHECK(b.images.is_contiguous());
      CHECK(b.labels.scalar_type() == torch::kInt64);
      for (int64_t i = 0; i < b.labels.size(0); ++i) {
        const int64_t index = b.labels[i].item<int64_t>();
        seen.push_back(index);
        // The image is the stored one, normalised.
        CHECK(torch::allclose(
            b.images[i], (set.images[index].to(torch::kFloat32) / 255 - 0.5) / 0.25, 1e-5, 1e-5));
      }
    }
    std::vector<int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(103);
    std::iota(all.begin(), all.end(), 0);
    CHECK(sorted == all);
    CHECK(seen != sorted);  // shuffled
    if (epoch == 0)
      first_order = seen;
    else
      CHECK(seen != first_order);
  }
  CHECK_FALSE(loader.Next().has_value());  // exhausted stays exhausted
}

TEST_CASE("drop_last keeps only full batches, shuffle off keeps file order", "[data]") {
  const ImageSet set = IndexedSet(25);
  LoaderOptions options;
  options.batch_size = 8;
  options.drop_last = true;
  options.shuffle = false;
  BatchLoader loader(set, {0.f}, {1.f}, options);
  CHECK(loader.BatchesPerEpoch() == 3);
  loader.StartEpoch(0);
  std::vector<Batch> batches = Drain(loader);
  REQUIRE(batches.size() == 3);
  for (const Batch& b : batches) CHECK(b.labels.size(0) == 8);
  CHECK(torch::equal(batches[1].labels, torch::arange(8, 16, torch::kInt64)));
}

TEST_CASE("Batches depend only on seed and epoch: resumed epochs are identical", "[data]") {
  const ImageSet set = IndexedSet(64);
  LoaderOptions options;
  options.batch_size = 6;
  options.seed = 11;
  options.augment.crop_padding = 2;
  options.augment.flip = true;
  options.prefetch = 2;
  BatchLoader a(set, {0.3f}, {0.2f}, options);
  BatchLoader b(set, {0.3f}, {0.2f}, options);
  a.StartEpoch(3);
  b.StartEpoch(3);
  const std::vector<Batch> full = Drain(a);
  CHECK(SameBatches(full, Drain(b)));

  b.StartEpoch(3, /*skip_batches=*/4);
  const std::vector<Batch> rest = Drain(b);
  CHECK(SameBatches(std::vector<Batch>(full.begin() + 4, full.end()), rest));

  // Restarting mid-epoch drops what was prefetched for the old one.
  b.StartEpoch(1);
  REQUIRE(b.Next().has_value());
  REQUIRE(b.Next().has_value());
  b.StartEpoch(3);
  CHECK(SameBatches(full, Drain(b)));

  options.seed = 12;
  BatchLoader c(set, {0.3f}, {0.2f}, options);
  c.StartEpoch(3);
  CHECK_FALSE(SameBatches(full, Drain(c)));
}

TEST_CASE("Augmentation shifts with black padding and mirrors", "[data]") {
  const ImageSet set = data_testing::RampSet(50);
  const torch::Tensor original = set.images[0][0].to(torch::kFloat32);
  LoaderOptions options;
  options.batch_size = 50;
  options.augment.flip = true;
  {
    BatchLoader loader(set, {0.f}, {1.f / 255}, options);  // raw values back
    loader.StartEpoch(0);
    const Batch batch = *loader.Next();
    int flipped = 0;
    for (int64_t i = 0; i < 50; ++i) {
      const torch::Tensor img = batch.images[i][0];
      const bool same = torch::allclose(img, original),
                 mirrored = torch::allclose(img, original.flip({1}));
      CHECK((same || mirrored));
      flipped += mirrored;
    }
    CHECK(flipped > 10);
    CHECK(flipped < 40);
  }
  options.augment.flip = false;
  options.augment.crop_padding = 1;
  BatchLoader loader(set, {0.f}, {1.f / 255}, options);
  loader.StartEpoch(0);
  const Batch batch = *loader.Next();
  int shifted = 0;
  for (int64_t i = 0; i < 50; ++i) {
    const torch::Tensor img = batch.images[i][0];
    bool matched = false;
    for (int dy = -1; dy <= 1 && !matched; ++dy) {
      for (int dx = -1; dx <= 1 && !matched; ++dx) {
        torch::Tensor expect = torch::zeros({4, 6});
        for (int y = 0; y < 4; ++y) {
          for (int x = 0; x < 6; ++x) {
            if (y + dy >= 0 && y + dy < 4 && x + dx >= 0 && x + dx < 6)
              expect[y][x] = original[y + dy][x + dx];
          }
        }
        if (torch::allclose(img, expect)) {
          matched = true;
          shifted += (dy != 0 || dx != 0);
        }
      }
    }
    CHECK(matched);
  }
  CHECK(shifted > 25);
}

TEST_CASE("Destroying a loader mid-epoch or before any epoch does not hang", "[data]") {
  const ImageSet set = IndexedSet(500);
  LoaderOptions options;
  options.batch_size = 4;
  options.prefetch = 1;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    BatchLoader loader(set, {0.f}, {1.f}, options);
    if (i % 3 == 0) continue;  // never started
    loader.StartEpoch(i);
    for (int k = 0; k < i % 4; ++k) REQUIRE(loader.Next().has_value());
    if (i % 2 == 0) loader.StartEpoch(i + 1, 10);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("An empty split gives no batches", "[data]") {
  ImageSet empty;
  empty.images = torch::empty({0, 1, 4, 4}, torch::kUInt8);
  empty.labels = torch::empty({0}, torch::kInt64);
  BatchLoader loader(empty, {0.f}, {1.f}, LoaderOptions{});
  CHECK(loader.BatchesPerEpoch() == 0);
  loader.StartEpoch(0);
  CHECK_FALSE(loader.Next().has_value());
}

TEST_CASE("Fashion-MNIST batches are normalised: mean 0 and std 1 over the training split",
          "[data]") {
  const Datasets& d = FashionMnist();
  LoaderOptions options;
  options.batch_size = 512;
  BatchLoader loader(d.train, d.mean, d.stddev, options);
  loader.StartEpoch(0);
  double sum = 0, sum_sq = 0, count = 0;
  int64_t images = 0;
  while (std::optional<Batch> b = loader.Next()) {
    CHECK(b->images.sizes().slice(1) == torch::IntArrayRef({1, 28, 28}));
    sum += b->images.sum().item<double>();
    sum_sq += b->images.square().sum().item<double>();
    count += static_cast<double>(b->images.numel());
    images += b->images.size(0);
  }
  CHECK(images == 54000);
  const double mean = sum / count;
  CHECK(mean == Approx(0.0).margin(1e-3));
  CHECK(std::sqrt(sum_sq / count - mean * mean) == Approx(1.0).margin(1e-3));
}

// ---------------------------------------------------------------- data spec

TEST_CASE("Data spec: image_size and num_classes parse, round-trip and are checked", "[data]") {
  using nlohmann::json;
  absl::StatusOr<DataSpec> spec = ParseDataSpec(json::parse(
      R"({"dataset": "mnist-idx", "path": "/d", "image_size": [32, 40], "num_classes": 26})"));
  INFO(spec.status().ToString());
  REQUIRE(spec.ok());
  CHECK(spec->image_height == 32);
  CHECK(spec->image_width == 40);
  CHECK(spec->num_classes == 26);
  absl::StatusOr<DataSpec> again = ParseDataSpec(ToJson(*spec));
  REQUIRE(again.ok());
  CHECK(ToJson(*again) == ToJson(*spec));
  CHECK(ParseDataSpec(ToJson(DataSpec{})).ok());

  REQUIRE_ERROR_MENTIONS(ParseDataSpec(json::parse(R"({"image_size": [28]})")).status(),
                         "image_size: must be");
  REQUIRE_ERROR_MENTIONS(ParseDataSpec(json::parse(R"({"image_size": [0, 28]})")).status(),
                         "image_size");
  REQUIRE_ERROR_MENTIONS(ParseDataSpec(json::parse(R"({"num_classes": 12})")).status(),
                         "num_classes: is fixed by dataset fashion-mnist");
}

}  // namespace convrnn
