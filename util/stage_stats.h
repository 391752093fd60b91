// Stage timings: where a call's wall time goes (waiting for the writer, the
// statement bodies, COMMIT, fsync, sampling, ...), as named log-scale
// histograms that cost a few atomic adds per sample, so they stay on in
// production and under the load bench.
//
//   static StageHistogram& lease = Stage("coord.lease");
//   { StageTimer t(lease); ... }        // or lease.Record(micros)
//   std::cerr << StageTable();           // count, mean, p50, p99, max per stage
//
// `convrnn-server` prints the table on shutdown when the environment has
// CONVRNN_STAGE_STATS=1, and on SIGUSR1 (then starts every stage afresh) at
// any time (docs/performance.md, "Coordinator latency").
// Times are real elapsed time (steady clock), not the injected Clock: they
// measure the machine, not the protocol.
//
// Thread-safety: every function and method may be called from any thread.
#ifndef CONVRNN_UTIL_STAGE_STATS_H_
#define CONVRNN_UTIL_STAGE_STATS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace convrnn {

class StageHistogram {
 public:
  // Buckets: 4 per power of two of microseconds, up to ~2^30 us (18 min).
  static constexpr int kSubBuckets = 4;
  static constexpr int kBuckets = 31 * kSubBuckets;

  void Record(int64_t micros);
  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  double MeanMicros() const;
  // Upper edge of the bucket holding quantile q (so within ~19% above).
  double QuantileMicros(double q) const;
  int64_t MaxMicros() const { return max_.load(std::memory_order_relaxed); }
  void Reset();

 private:
  static int BucketOf(int64_t micros);
  static double UpperEdge(int bucket);

  std::atomic<int64_t> count_{0}, sum_{0}, max_{0};
  std::array<std::atomic<int64_t>, kBuckets> buckets_{};
};

// The histogram named `name`, created on first use; lives forever.
StageHistogram& Stage(const std::string& name);
// Every stage with samples, by name: "stage count mean p50 p99 max" in ms.
std::string StageTable();
// Zeroes every stage (benchmarks: measure a window only).
void ResetStages();

// Records the time from construction to destruction (or Stop()).
class StageTimer {
 public:
  explicit StageTimer(StageHistogram& h) : h_(&h), start_(std::chrono::steady_clock::now()) {}
  ~StageTimer() { Stop(); }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;
  void Stop() {
    if (h_ == nullptr) return;
    h_->Record(std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now() - start_)
                   .count());
    h_ = nullptr;
  }

 private:
  StageHistogram* h_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace convrnn

#endif  // CONVRNN_UTIL_STAGE_STATS_H_
