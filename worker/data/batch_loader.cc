// BatchLoader: a producer thread fills a bounded queue of normalised batches.
//
// Batch b of epoch e is a pure function of (seed, e, b): the epoch's order is
// a permutation seeded by (seed, e), and the batch's crops and flips by
// (seed, e, b). So a resumed epoch (StartEpoch(e, k)) yields exactly the
// batches an uninterrupted one would, and the producer can work ahead
// without any state the consumer sees.
//
// StartEpoch bumps a generation counter and empties the queue; a batch the
// producer was building for an older generation is dropped when it lands.
#include <algorithm>
#include <array>
#include <deque>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "worker/data/batch_plan.h"
#include "worker/data/data.h"

namespace convrnn {

class BatchLoader::Impl {
 public:
  Impl(const ImageSet& set, const std::vector<float>& mean, const std::vector<float>& stddev,
       LoaderOptions options)
      : set_(set), options_(std::move(options)) {
    TORCH_CHECK(options_.batch_size > 0, "BatchLoader: batch_size must be positive");
    options_.prefetch = std::max(1, options_.prefetch);
    n_ = set_.size();
    if (n_ > 0) {
      TORCH_CHECK(set_.images.dim() == 4 && set_.images.scalar_type() == torch::kUInt8 &&
                      set_.images.is_contiguous(),
                  "BatchLoader: images must be contiguous uint8 [N, C, H, W]");
      c_ = set_.images.size(1);
      h_ = set_.images.size(2);
      w_ = set_.images.size(3);
    }
    TORCH_CHECK(
        static_cast<int64_t>(mean.size()) >= c_ && static_cast<int64_t>(stddev.size()) >= c_,
        "BatchLoader: need a mean and stddev per channel");
    batches_ = options_.drop_last ? n_ / options_.batch_size
                                  : (n_ + options_.batch_size - 1) / options_.batch_size;
    lut_ = NormalisationTable(mean, stddev, c_);
    producer_ = std::thread([this] { Produce(); });
  }

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    producer_.join();
  }

  void StartEpoch(int64_t epoch, int64_t skip_batches) {
    absl::MutexLock lock(&mu_);
    ++generation_;
    started_ = true;
    epoch_ = epoch;
    next_to_build_ = std::clamp<int64_t>(skip_batches, 0, batches_);
    next_to_take_ = next_to_build_;
    queue_.clear();
    error_.clear();
  }

  std::optional<Batch> Next() {
    absl::MutexLock lock(&mu_);
    if (!started_ || next_to_take_ >= batches_) return std::nullopt;
    mu_.Await(absl::Condition(
        +[](Impl* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return !self->queue_.empty() || !self->error_.empty();
        },
        this));
    if (!error_.empty()) throw std::runtime_error(error_);
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    ++next_to_take_;
    return batch;
  }

  int64_t BatchesPerEpoch() const { return batches_; }

 private:
  void Produce() {
    std::vector<int64_t> order;
    int64_t order_epoch = -1;
    bool have_order = false;
    for (;;) {
      int64_t epoch = 0, b = 0;
      uint64_t generation = 0;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Impl* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
              return self->stop_ ||
                     (self->started_ && self->error_.empty() &&
                      self->next_to_build_ < self->batches_ &&
                      static_cast<int>(self->queue_.size()) < self->options_.prefetch);
            },
            this));
        if (stop_) return;
        epoch = epoch_;
        b = next_to_build_++;
        generation = generation_;
      }
      try {
        if (!have_order || order_epoch != epoch) {
          order = EpochOrder(epoch);
          order_epoch = epoch;
          have_order = true;
        }
        Batch batch = MakeBatch(order, epoch, b);
        absl::MutexLock lock(&mu_);
        if (generation == generation_) queue_.push_back(std::move(batch));
      } catch (const std::exception& e) {
        absl::MutexLock lock(&mu_);
        error_ = std::string("BatchLoader: ") + e.what();
      }
    }
  }

  std::vector<int64_t> EpochOrder(int64_t epoch) const {
    return ::convrnn::EpochOrder(n_, options_.shuffle, options_.seed, epoch);
  }

  // Plain loops over bytes: no LibTorch RNG and no intra-op threads here.
  Batch MakeBatch(const std::vector<int64_t>& order, int64_t epoch, int64_t b) const {
    const int64_t begin = b * options_.batch_size;
    const int64_t size = std::min<int64_t>(options_.batch_size, n_ - begin);
    Batch batch;
    batch.images = torch::empty({size, c_, h_, w_}, torch::kFloat32);
    batch.labels = torch::empty({size}, torch::kInt64);
    float* out = batch.images.data_ptr<float>();
    int64_t* labels = batch.labels.data_ptr<int64_t>();
    const uint8_t* images = set_.images.data_ptr<uint8_t>();
    const int64_t* all_labels = set_.labels.data_ptr<int64_t>();
    const int64_t plane = h_ * w_;
    const bool augment = Augments(options_.augment);
    const std::vector<AugmentDraw> draws =
        AugmentDraws(options_.augment, options_.seed, epoch, b, size);

    for (int64_t s = 0; s < size; ++s) {
      const int64_t index = order[begin + s];
      labels[s] = all_labels[index];
      const uint8_t* src = images + index * c_ * plane;
      float* dst = out + s * c_ * plane;
      if (!augment) {
        for (int64_t ch = 0; ch < c_; ++ch) {
          const float* lut = lut_[ch].data();
          for (int64_t k = 0; k < plane; ++k) dst[ch * plane + k] = lut[src[ch * plane + k]];
        }
        continue;
      }
      // Crop (shift by dy, dx; outside is black), then flip, as torchvision's
      // RandomCrop(padding) followed by RandomHorizontalFlip.
      const int64_t dy = draws[s].dy, dx = draws[s].dx;
      const bool flip = draws[s].flip;
      for (int64_t ch = 0; ch < c_; ++ch) {
        const float* lut = lut_[ch].data();
        const uint8_t* sp = src + ch * plane;
        float* dp = dst + ch * plane;
        for (int64_t y = 0; y < h_; ++y) {
          const int64_t sy = y + dy;
          for (int64_t x = 0; x < w_; ++x) {
            const int64_t sx = (flip ? w_ - 1 - x : x) + dx;
            const bool inside = sy >= 0 && sy < h_ && sx >= 0 && sx < w_;
            dp[y * w_ + x] = lut[inside ? sp[sy * w_ + sx] : 0];
          }
        }
      }
    }
    return batch;
  }

  const ImageSet& set_;
  LoaderOptions options_;
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  int64_t batches_ = 0;
  std::vector<std::array<float, 256>> lut_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_to_build_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_to_take_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Batch> queue_ ABSL_GUARDED_BY(mu_);
  std::string error_ ABSL_GUARDED_BY(mu_);
  std::thread producer_;  // last: starts after every field above exists
};

BatchLoader::BatchLoader(const ImageSet& set, std::vector<float> mean, std::vector<float> stddev,
                         LoaderOptions options)
    : impl_(std::make_unique<Impl>(set, mean, stddev, std::move(options))) {}

BatchLoader::~BatchLoader() = default;

void BatchLoader::StartEpoch(int64_t epoch, int64_t skip_batches) {
  impl_->StartEpoch(epoch, skip_batches);
}

std::optional<Batch> BatchLoader::Next() { return impl_->Next(); }

int64_t BatchLoader::BatchesPerEpoch() const { return impl_->BatchesPerEpoch(); }

}  // namespace convrnn
