// Random occluders (Spoerer & Kriegeskorte 2017): debris and blobs.
//
// Each image draws from its own generator seeded by (seed, split, index), so
// its occluders do not depend on how many images precede it or on threads.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "worker/data/data.h"
#include "worker/data/data_rng.h"

namespace convrnn {
namespace {

// An occluder side: uniform in [min_size, max_size] of `side`, at least 1.
int64_t DrawSide(DataRng& rng, const OcclusionSpec& spec, int64_t side) {
  const double f = spec.min_size + (spec.max_size - spec.min_size) * rng.Unit();
  return std::clamp<int64_t>(std::llround(f * static_cast<double>(side)), 1, side);
}

}  // namespace

torch::Tensor Occlude(const torch::Tensor& images, const OcclusionSpec& spec, Split split) {
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8,
              "Occlude: need uint8 [N, C, H, W]");
  const torch::Tensor source = images.contiguous();
  torch::Tensor out = source.clone();
  const int64_t n = source.size(0), c = source.size(1), h = source.size(2), w = source.size(3);
  const int64_t plane = h * w, image_size = c * plane;
  const uint8_t* src = source.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  const bool debris = spec.kind == "debris";

  for (int64_t i = 0; i < n; ++i) {
    DataRng rng(MixSeed({static_cast<uint64_t>(spec.seed), static_cast<uint64_t>(split),
                         static_cast<uint64_t>(i)}));
    uint8_t* image = dst + i * image_size;
    for (int k = 0; k < spec.count; ++k) {
      const int64_t oh = DrawSide(rng, spec, h), ow = DrawSide(rng, spec, w);
      if (debris) {
        // A fragment of another image (itself only when alone), pasted at a
        // random place; taken from the images before occlusion.
        int64_t j = i;
        if (n > 1) {
          j = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(n - 1)));
          if (j >= i) ++j;
        }
        const int64_t sy = rng.Between(0, h - oh), sx = rng.Between(0, w - ow);
        const int64_t dy = rng.Between(0, h - oh), dx = rng.Between(0, w - ow);
        const uint8_t* from = src + j * image_size;
        for (int64_t ch = 0; ch < c; ++ch) {
          for (int64_t y = 0; y < oh; ++y) {
            std::memcpy(image + ch * plane + (dy + y) * w + dx,
                        from + ch * plane + (sy + y) * w + sx, static_cast<size_t>(ow));
          }
        }
      } else {
        // A filled ellipse of one gray level, centred inside the image; it
        // may run over the border.
        const auto gray = static_cast<uint8_t>(rng.Below(256));
        const double cy = static_cast<double>(rng.Below(static_cast<uint64_t>(h))) + 0.5;
        const double cx = static_cast<double>(rng.Below(static_cast<uint64_t>(w))) + 0.5;
        const double ry = 0.5 * static_cast<double>(oh), rx = 0.5 * static_cast<double>(ow);
        const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(cy - ry)));
        const int64_t y1 = std::min<int64_t>(h, static_cast<int64_t>(std::ceil(cy + ry)));
        const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(cx - rx)));
        const int64_t x1 = std::min<int64_t>(w, static_cast<int64_t>(std::ceil(cx + rx)));
        for (int64_t y = y0; y < y1; ++y) {
          const double u = (static_cast<double>(y) + 0.5 - cy) / ry;
          for (int64_t x = x0; x < x1; ++x) {
            const double v = (static_cast<double>(x) + 0.5 - cx) / rx;
            if (u * u + v * v > 1.0) continue;
            for (int64_t ch = 0; ch < c; ++ch) image[ch * plane + y * w + x] = gray;
          }
        }
      }
    }
  }
  return out;
}

}  // namespace convrnn
