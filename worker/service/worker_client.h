// The worker's end of the WorkerService: one channel (TLS or plaintext), the
// bearer token on every call, a deadline per attempt, and retries of
// transient failures (UNAVAILABLE, DEADLINE_EXCEEDED) with backoff until
// the server has been unreachable for longer than a grace period, and of
// RESOURCE_EXHAUSTED (the server's disk is full) until it stores again.
//
// The outage clock is shared by every call: heartbeats that fail during
// training count toward the grace of the completion that follows.
//
// Thread-safety: every method may be called from several threads at once.
#ifndef CONVRNN_WORKER_SERVICE_WORKER_CLIENT_H_
#define CONVRNN_WORKER_SERVICE_WORKER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "proto/convrnn.grpc.pb.h"
#include "util/clock.h"
#include "worker/service/rpc_retry.h"

namespace convrnn {

// UNAVAILABLE and DEADLINE_EXCEEDED: the server is down, restarting or slow.
bool IsUnreachable(const grpc::Status& status);
// IsUnreachable, or RESOURCE_EXHAUSTED: the server is up but cannot store
// (its disk is full). Retried with backoff; only unreachability counts
// toward the grace, so a full disk is waited out however long it lasts.
bool IsTransient(const grpc::Status& status);

// grpc::Status -> absl::Status (the codes are the same numbers).
absl::Status FromGrpc(const grpc::Status& status, absl::string_view what);

// A channel to `server`: TLS with `tls_ca_pem` as root certificates when
// non-empty, plaintext otherwise.
std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& server,
                                                 const std::string& tls_ca_pem);

class WorkerClient {
 public:
  struct Options {
    std::string server;
    std::string token;       // empty: no authorization metadata
    std::string tls_ca_pem;  // empty: plaintext
    absl::Duration rpc_timeout = absl::Seconds(10);
    absl::Duration server_down_grace = absl::Minutes(10);
    BackoffOptions backoff;
    Clock* clock = Clock::Real();
    uint64_t seed = 0;  // backoff jitter
    // Called once when an outage starts and once when it ends.
    std::function<void(const std::string&)> log;
  };

  explicit WorkerClient(Options options);

  v1::WorkerService::Stub& stub() { return *stub_; }

  // A context with the token and a deadline of min(timeout, rpc_timeout)
  // (timeout <= 0: rpc_timeout).
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout = absl::ZeroDuration());

  // One attempt; records whether the server answered (for the outage clock).
  grpc::Status Once(const std::function<grpc::Status(grpc::ClientContext*)>& attempt,
                    absl::Duration timeout = absl::ZeroDuration());

  // Calls `attempt` until it returns a non-transient status, the server has
  // been unreachable for longer than the grace (the last transient status is
  // returned), or `interrupt` (may be null) is notified (CANCELLED).
  grpc::Status Retry(absl::string_view what,
                     const std::function<grpc::Status(grpc::ClientContext*)>& attempt,
                     absl::Notification* interrupt);

  // Whether the server has been unreachable for longer than the grace.
  bool GraceExceeded();

 private:
  void NoteResult(const grpc::Status& status);

  Options options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  absl::Mutex mu_;
  // When the current outage began (clock micros); 0 while the server answers.
  int64_t unreachable_since_us_ ABSL_GUARDED_BY(mu_) = 0;
  // The last answer was RESOURCE_EXHAUSTED (logged once per episode).
  bool storage_full_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t retry_seed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_WORKER_CLIENT_H_
