#include "util/stage_stats.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>

#include "absl/synchronization/mutex.h"

namespace convrnn {
namespace {

struct Registry {
  absl::Mutex mu;
  std::map<std::string, std::unique_ptr<StageHistogram>> stages ABSL_GUARDED_BY(mu);
};

Registry& TheRegistry() {
  static Registry* const registry = new Registry();
  return *registry;
}

}  // namespace

int StageHistogram::BucketOf(int64_t micros) {
  if (micros < 1) return 0;
  // log2 with kSubBuckets linear steps inside each power of two.
  const int power = 63 - __builtin_clzll(static_cast<uint64_t>(micros));
  const int64_t base = int64_t{1} << power;
  const int sub = power == 0 ? 0 : static_cast<int>((micros - base) * kSubBuckets / base);
  const int bucket = 1 + power * kSubBuckets + sub;
  return bucket < kBuckets ? bucket : kBuckets - 1;
}

double StageHistogram::UpperEdge(int bucket) {
  if (bucket == 0) return 1;
  const int power = (bucket - 1) / kSubBuckets;
  const int sub = (bucket - 1) % kSubBuckets;
  const double base = std::ldexp(1.0, power);
  return base + base * (sub + 1) / kSubBuckets;
}

void StageHistogram::Record(int64_t micros) {
  if (micros < 0) micros = 0;
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(micros, std::memory_order_relaxed);
  buckets_[BucketOf(micros)].fetch_add(1, std::memory_order_relaxed);
  int64_t seen = max_.load(std::memory_order_relaxed);
  while (micros > seen && !max_.compare_exchange_weak(seen, micros, std::memory_order_relaxed)) {
  }
}

double StageHistogram::MeanMicros() const {
  const int64_t n = count();
  return n == 0 ? 0 : static_cast<double>(sum_.load(std::memory_order_relaxed)) / n;
}

double StageHistogram::QuantileMicros(double q) const {
  int64_t total = 0;
  for (const auto& b : buckets_) total += b.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  const int64_t rank = static_cast<int64_t>(std::ceil(q * total));
  int64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= rank && seen > 0) {
      return std::min<double>(UpperEdge(i), static_cast<double>(MaxMicros()));
    }
  }
  return static_cast<double>(MaxMicros());
}

void StageHistogram::Reset() {
  count_ = 0;
  sum_ = 0;
  max_ = 0;
  for (auto& b : buckets_) b = 0;
}

StageHistogram& Stage(const std::string& name) {
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  std::unique_ptr<StageHistogram>& h = r.stages[name];
  if (h == nullptr) h = std::make_unique<StageHistogram>();
  return *h;
}

std::string StageTable() {
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  std::string out;
  char line[160];
  std::snprintf(line, sizeof(line), "%-28s %10s %9s %9s %9s %9s\n", "stage", "count", "mean ms",
                "p50 ms", "p99 ms", "max ms");
  out += line;
  for (const auto& [name, h] : r.stages) {
    if (h->count() == 0) continue;
    std::snprintf(line, sizeof(line), "%-28s %10lld %9.3f %9.3f %9.3f %9.1f\n", name.c_str(),
                  static_cast<long long>(h->count()), h->MeanMicros() / 1000,
                  h->QuantileMicros(0.5) / 1000, h->QuantileMicros(0.99) / 1000,
                  h->MaxMicros() / 1000.0);
    out += line;
  }
  return out;
}

void ResetStages() {
  Registry& r = TheRegistry();
  absl::MutexLock lock(&r.mu);
  for (auto& [name, h] : r.stages) h->Reset();
}

}  // namespace convrnn
