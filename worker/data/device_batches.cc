// DeviceBatches: the split on the training device, batches by tensor ops.
//
// Per batch (all on the device): index_select of the uint8 images and the
// labels by the epoch's order; for augmentation, a zero pad of
// crop_padding pixels and one gather whose index is the shifted (and, per
// image, mirrored) source pixel; then a lookup in the per-channel float
// table of batch_plan.h. Integer index arithmetic and a table lookup give
// the host loader's values exactly.
#include <torch/torch.h>

#include <algorithm>

#include "worker/data/batch_plan.h"
#include "worker/data/data.h"

namespace convrnn {

class DeviceBatches::Impl {
 public:
  Impl(const ImageSet& set, const std::vector<float>& mean, const std::vector<float>& stddev,
       LoaderOptions options, torch::Device device)
      : options_(std::move(options)), device_(device) {
    TORCH_CHECK(options_.batch_size > 0, "DeviceBatches: batch_size must be positive");
    n_ = set.size();
    if (n_ > 0) {
      TORCH_CHECK(set.images.dim() == 4 && set.images.scalar_type() == torch::kUInt8,
                  "DeviceBatches: images must be uint8 [N, C, H, W]");
      c_ = set.images.size(1);
      h_ = set.images.size(2);
      w_ = set.images.size(3);
      // On the CPU `to` returns the same tensors: no copy there either.
      images_ = set.images.to(device_).contiguous();
      labels_ = set.labels.to(device_);
    }
    TORCH_CHECK(
        static_cast<int64_t>(mean.size()) >= c_ && static_cast<int64_t>(stddev.size()) >= c_,
        "DeviceBatches: need a mean and stddev per channel");
    batches_ = options_.drop_last ? n_ / options_.batch_size
                                  : (n_ + options_.batch_size - 1) / options_.batch_size;
    const std::vector<std::array<float, 256>> lut = NormalisationTable(mean, stddev, c_);
    torch::Tensor table = torch::empty({c_ * 256}, torch::kFloat32);
    for (int64_t ch = 0; ch < c_; ++ch) {
      std::copy(lut[ch].begin(), lut[ch].end(), table.data_ptr<float>() + ch * 256);
    }
    table_ = table.to(device_);
    const torch::TensorOptions longs = torch::TensorOptions().dtype(torch::kLong).device(device_);
    channel_offset_ = (torch::arange(c_, longs) * 256).view({1, c_, 1, 1});
    const int64_t pad = options_.augment.crop_padding;
    rows_ = torch::arange(h_, longs).view({1, h_, 1}) + pad;
    cols_ = torch::arange(w_, longs).view({1, 1, w_});
    mirrored_cols_ = (w_ - 1) - cols_;
  }

  void StartEpoch(int64_t epoch, int64_t skip_batches) {
    started_ = true;
    epoch_ = epoch;
    next_ = std::clamp<int64_t>(skip_batches, 0, batches_);
    const std::vector<int64_t> order = EpochOrder(n_, options_.shuffle, options_.seed, epoch);
    order_ = torch::tensor(order, torch::kLong).to(device_, /*non_blocking=*/false);
    augment_ = Augments(options_.augment);
    if (!augment_) return;
    // Every batch's draws of this epoch, as the host loader draws them.
    std::vector<int64_t> dy, dx;
    std::vector<uint8_t> flip;
    dy.reserve(n_);
    dx.reserve(n_);
    flip.reserve(n_);
    for (int64_t b = 0; b < batches_; ++b) {
      for (const AugmentDraw& d :
           AugmentDraws(options_.augment, options_.seed, epoch, b, BatchSize(b))) {
        dy.push_back(d.dy);
        dx.push_back(d.dx);
        flip.push_back(d.flip ? 1 : 0);
      }
    }
    const int64_t drawn = static_cast<int64_t>(dy.size());
    dy_ = torch::tensor(dy, torch::kLong).to(device_);
    dx_ = torch::tensor(dx, torch::kLong).to(device_);
    flip_ = torch::from_blob(flip.data(), {drawn}, torch::kUInt8).to(torch::kBool).to(device_);
  }

  std::optional<Batch> Next() {
    if (!started_ || next_ >= batches_) return std::nullopt;
    const int64_t b = next_++;
    const int64_t begin = b * options_.batch_size;
    const int64_t size = BatchSize(b);
    const torch::Tensor index = order_.slice(0, begin, begin + size);
    torch::Tensor bytes = images_.index_select(0, index);
    Batch batch;
    batch.labels = labels_.index_select(0, index);
    if (augment_) bytes = Augment(bytes, begin, size);
    // The float table, looked up at channel * 256 + byte.
    torch::Tensor at = bytes.to(torch::kLong) + channel_offset_;
    batch.images = table_.index_select(0, at.flatten()).view({size, c_, h_, w_});
    return batch;
  }

  int64_t BatchesPerEpoch() const { return batches_; }

 private:
  int64_t BatchSize(int64_t b) const {
    return std::min<int64_t>(options_.batch_size, n_ - b * options_.batch_size);
  }

  // Crop window shifted by (dy, dx) over a black border, then mirrored: the
  // output pixel (y, x) reads padded (y + dy + pad, x' + dx + pad), x' = x
  // or w - 1 - x. |dy|, |dx| <= pad keeps every read inside the padding.
  torch::Tensor Augment(const torch::Tensor& bytes, int64_t begin, int64_t size) const {
    const int64_t pad = options_.augment.crop_padding;
    const int64_t pw = w_ + 2 * pad;
    torch::Tensor padded = pad > 0 ? torch::constant_pad_nd(bytes, {pad, pad, pad, pad}, 0) : bytes;
    const torch::Tensor dy = dy_.slice(0, begin, begin + size).view({size, 1, 1});
    const torch::Tensor dx = dx_.slice(0, begin, begin + size).view({size, 1, 1});
    const torch::Tensor flip = flip_.slice(0, begin, begin + size).view({size, 1, 1});
    const torch::Tensor rows = rows_ + dy;                                            // [B, H, 1]
    const torch::Tensor cols = torch::where(flip, mirrored_cols_, cols_) + dx + pad;  // [B, 1, W]
    const torch::Tensor source = (rows * pw + cols).view({size, 1, h_ * w_});
    return padded.reshape({size, c_, -1})
        .gather(2, source.expand({size, c_, h_ * w_}))
        .view({size, c_, h_, w_});
  }

  const LoaderOptions options_;
  const torch::Device device_;
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  int64_t batches_ = 0;
  torch::Tensor images_, labels_;  // the split, on the device
  torch::Tensor table_;            // float [C * 256]
  torch::Tensor channel_offset_;   // long [1, C, 1, 1]: channel * 256
  torch::Tensor rows_, cols_, mirrored_cols_;

  bool started_ = false;
  bool augment_ = false;
  int64_t epoch_ = 0;
  int64_t next_ = 0;
  torch::Tensor order_;           // long [N]: this epoch's order
  torch::Tensor dy_, dx_, flip_;  // this epoch's draws, one per position in order_
};

DeviceBatches::DeviceBatches(const ImageSet& set, std::vector<float> mean,
                             std::vector<float> stddev, LoaderOptions options, torch::Device device)
    : impl_(std::make_unique<Impl>(set, mean, stddev, std::move(options), device)) {}

DeviceBatches::~DeviceBatches() = default;

void DeviceBatches::StartEpoch(int64_t epoch, int64_t skip_batches) {
  impl_->StartEpoch(epoch, skip_batches);
}

std::optional<Batch> DeviceBatches::Next() { return impl_->Next(); }

int64_t DeviceBatches::BatchesPerEpoch() const { return impl_->BatchesPerEpoch(); }

int64_t DeviceBatches::ResidentBytes(const ImageSet& set) {
  if (set.size() == 0) return 0;
  return set.images.numel() * set.images.element_size() +
         set.labels.numel() * set.labels.element_size();
}

}  // namespace convrnn
