// DeviceBatches (the split on the training device, batches by tensor ops)
// against the host loader: on the CPU both must give the same batches, bit
// for bit, with and without augmentation, and augmentation must shift over
// black and mirror as the host path does.
#include "tests/torch_catch.h"

#include <optional>
#include <vector>

#include "tests/worker/data/ramp_set.h"
#include "worker/data/data.h"

namespace convrnn {
namespace {

std::vector<Batch> Drain(BatchSource& source) {
  std::vector<Batch> out;
  while (std::optional<Batch> b = source.Next()) out.push_back(*std::move(b));
  return out;
}

// Bit-identical images (float32 compared as values: the same table entry)
// and labels, batch by batch.
void RequireSameBatches(const std::vector<Batch>& host, const std::vector<Batch>& device) {
  REQUIRE(host.size() == device.size());
  for (size_t i = 0; i < host.size(); ++i) {
    INFO("batch " << i);
    REQUIRE(device[i].images.scalar_type() == torch::kFloat32);
    REQUIRE(device[i].images.sizes() == host[i].images.sizes());
    CHECK(torch::equal(host[i].labels, device[i].labels));
    CHECK(torch::equal(host[i].images, device[i].images));
  }
}

ImageSet RandomSet(int64_t n, int64_t c, int64_t h, int64_t w) {
  torch::manual_seed(5);
  ImageSet set;
  set.images = torch::randint(0, 256, {n, c, h, w}, torch::kUInt8);
  set.labels = torch::randint(0, 10, {n}, torch::kInt64);
  return set;
}

void CompareEpochs(const ImageSet& set, const std::vector<float>& mean,
                   const std::vector<float>& stddev, const LoaderOptions& options) {
  BatchLoader host(set, mean, stddev, options);
  DeviceBatches device(set, mean, stddev, options, torch::kCPU);
  REQUIRE(device.BatchesPerEpoch() == host.BatchesPerEpoch());
  for (int64_t epoch : {0, 1, 5}) {
    INFO("epoch " << epoch);
    host.StartEpoch(epoch);
    device.StartEpoch(epoch);
    RequireSameBatches(Drain(host), Drain(device));
  }
  // A resumed epoch skips the same batches.
  host.StartEpoch(2, /*skip_batches=*/3);
  device.StartEpoch(2, /*skip_batches=*/3);
  RequireSameBatches(Drain(host), Drain(device));
}

TEST_CASE("Device batches equal the host loader's, shuffled, with and without drop_last",
          "[data]") {
  const ImageSet set = RandomSet(103, 3, 5, 7);
  const std::vector<float> mean = {0.2f, 0.5f, 0.7f}, stddev = {0.3f, 0.25f, 0.1f};
  LoaderOptions options;
  options.batch_size = 8;
  options.seed = 21;
  options.shuffle = true;
  for (bool drop_last : {false, true}) {
    INFO("drop_last " << drop_last);
    options.drop_last = drop_last;
    CompareEpochs(set, mean, stddev, options);
  }
  options.shuffle = false;
  CompareEpochs(set, mean, stddev, options);
}

TEST_CASE("Device batches equal the host loader's with crop and flip augmentation", "[data]") {
  const ImageSet set = RandomSet(70, 2, 6, 9);
  LoaderOptions options;
  options.batch_size = 16;
  options.seed = 4;
  for (int pad : {0, 1, 3}) {
    for (bool flip : {false, true}) {
      INFO("crop_padding " << pad << ", flip " << flip);
      options.augment.crop_padding = pad;
      options.augment.flip = flip;
      CompareEpochs(set, {0.4f, 0.6f}, {0.2f, 0.3f}, options);
    }
  }
}

TEST_CASE("Device augmentation shifts over black and mirrors", "[data]") {
  const ImageSet set = data_testing::RampSet(60);
  const torch::Tensor original = set.images[0][0].to(torch::kFloat32);
  LoaderOptions options;
  options.batch_size = 60;
  options.augment.crop_padding = 2;
  options.augment.flip = true;
  // Raw values back, up to float rounding.
  DeviceBatches device(set, {0.f}, {1.f / 255}, options, torch::kCPU);
  device.StartEpoch(0);
  const Batch batch = *device.Next();
  int shifted = 0, mirrored = 0;
  for (int64_t i = 0; i < 60; ++i) {
    const torch::Tensor img = batch.images[i][0];
    bool matched = false;
    for (bool flip : {false, true}) {
      for (int dy = -2; dy <= 2 && !matched; ++dy) {
        for (int dx = -2; dx <= 2 && !matched; ++dx) {
          torch::Tensor expect = torch::zeros({4, 6});
          for (int y = 0; y < 4; ++y) {
            for (int x = 0; x < 6; ++x) {
              // Mirroring happens after the crop: the shift applies to the
              // source column before mirroring, as torchvision does.
              const int sx = (flip ? 5 - x : x) + dx;
              if (y + dy >= 0 && y + dy < 4 && sx >= 0 && sx < 6) {
                expect[y][x] = original[y + dy][sx];
              }
            }
          }
          if (torch::allclose(img, expect, /*rtol=*/0, /*atol=*/1e-3)) {
            matched = true;
            shifted += (dy != 0 || dx != 0);
            mirrored += flip;
          }
        }
      }
    }
    CHECK(matched);
  }
  CHECK(shifted > 30);
  CHECK(mirrored > 10);
  CHECK(mirrored < 50);
}

TEST_CASE("Device batches of an occluded split equal the host loader's", "[data]") {
  // Occlusion is drawn once per image into the split's bytes (LoadDatasets):
  // both paths read the same occluded bytes.
  const ImageSet clean = RandomSet(40, 1, 12, 12);
  OcclusionSpec occlusion;
  occlusion.kind = "blobs";
  occlusion.seed = 3;
  ImageSet set{Occlude(clean.images, occlusion, Split::kTrain), clean.labels};
  REQUIRE_FALSE(torch::equal(set.images, clean.images));
  LoaderOptions options;
  options.batch_size = 7;
  options.augment.flip = true;
  CompareEpochs(set, {0.5f}, {0.25f}, options);
}

TEST_CASE("Device batches: an empty split gives none, the resident size is the split's", "[data]") {
  ImageSet empty;
  empty.images = torch::empty({0, 1, 4, 4}, torch::kUInt8);
  empty.labels = torch::empty({0}, torch::kInt64);
  DeviceBatches device(empty, {0.f}, {1.f}, LoaderOptions{}, torch::kCPU);
  CHECK(device.BatchesPerEpoch() == 0);
  device.StartEpoch(0);
  CHECK_FALSE(device.Next().has_value());
  CHECK(DeviceBatches::ResidentBytes(empty) == 0);
  const ImageSet set = RandomSet(10, 1, 28, 28);
  CHECK(DeviceBatches::ResidentBytes(set) == 10 * 28 * 28 + 10 * 8);
}

}  // namespace
}  // namespace convrnn
