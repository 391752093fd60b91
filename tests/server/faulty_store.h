// A store that fails chosen calls on purpose (leveldb's SpecialEnv): wraps a
// real store and, per method name, fails the next N calls before they reach
// it, or lets them reach it and then reports a failure (a write that
// committed but whose answer was lost).
//
// Thread-safety: safe to share between threads, like the store it wraps.
#ifndef CONVRNN_TESTS_SERVER_FAULTY_STORE_H_
#define CONVRNN_TESTS_SERVER_FAULTY_STORE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "db/store_wrapper.h"

namespace convrnn::db::testing {

class FaultyStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;

  // The next `times` calls of `method` (e.g. "SetCampaignState") return
  // `status` without reaching the store.
  void FailBefore(const std::string& method, absl::Status status, int times = 1) {
    absl::MutexLock lock(&mu_);
    faults_[method] = Fault{std::move(status), times, /*after=*/false};
  }
  // The next `times` calls of `method` reach the store, then return `status`.
  void FailAfter(const std::string& method, absl::Status status, int times = 1) {
    absl::MutexLock lock(&mu_);
    faults_[method] = Fault{std::move(status), times, /*after=*/true};
  }
  // Drops every fault not yet applied.
  void Clear() {
    absl::MutexLock lock(&mu_);
    faults_.clear();
  }
  // Calls of `method` so far, failed ones included.
  int calls(const std::string& method) {
    absl::MutexLock lock(&mu_);
    return calls_[method];
  }

 protected:
  absl::Status Around(const char* method, const std::function<absl::Status()>& call) override {
    std::optional<Fault> fault = Take(method);
    if (!fault.has_value()) return call();
    if (fault->after) (void)call();
    return fault->status;
  }

 private:
  struct Fault {
    absl::Status status;
    int times = 0;
    bool after = false;
  };

  // The fault to apply to this call of `method`, if any.
  std::optional<Fault> Take(const std::string& method) {
    absl::MutexLock lock(&mu_);
    ++calls_[method];
    auto it = faults_.find(method);
    if (it == faults_.end() || it->second.times == 0) return std::nullopt;
    --it->second.times;
    return it->second;
  }

  absl::Mutex mu_;
  std::map<std::string, Fault> faults_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace convrnn::db::testing

#endif  // CONVRNN_TESTS_SERVER_FAULTY_STORE_H_
