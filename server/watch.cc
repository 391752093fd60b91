#include "server/watch.h"

#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "server/proto_convert.h"

namespace convrnn::server {
namespace {
// Events read per batch.
constexpr int kBatch = 256;
// How long the hub sleeps at most without a signal (a backstop only).
constexpr absl::Duration kHubBackstop = absl::Milliseconds(500);
}  // namespace

// Locking: gRPC may delete a reactor (OnDone) as soon as Finish() was called
// and no reaction is running. The hub thread's Pump is not a reaction, so
// every path calls Finish() or goes idle as its very last touch of `this`,
// after releasing mu_.
class WatchReactor final : public grpc::ServerWriteReactor<v1::CampaignEvent> {
 public:
  WatchReactor(WatchHub& hub, Coordinator& coordinator, const v1::WatchCampaignRequest& request)
      : hub_(hub),
        coordinator_(coordinator),
        campaign_id_(request.campaign_id()),
        after_id_(request.after_event_id()) {}

  // Starts streaming (from the RPC handler, before gRPC can call OnDone).
  void Begin() {
    {
      absl::MutexLock lock(&mu_);
      busy_ = true;
    }
    Pump();
  }

  // Hub: when idle and events may have arrived since it last read, mark it
  // busy (so it cannot finish under the hub) and return true; the hub then
  // calls Pump().
  bool ClaimIfStale(int64_t seq) {
    absl::MutexLock lock(&mu_);
    if (!idle_ || finished_ || idle_seq_ >= seq) return false;
    idle_ = false;
    busy_ = true;
    return true;
  }

  // Hub stopping (called under the hub's mutex, so OnDone waits): finish
  // now, or when the write in flight completes.
  void Shutdown() {
    mu_.Lock();
    shutting_down_ = true;
    if (busy_ || finished_) {
      mu_.Unlock();
      return;
    }
    finished_ = true;
    mu_.Unlock();
    Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }

  // Writes the next queued event, reading a batch when the queue is empty;
  // finishes; or goes idle. REQUIRES: busy_ (set by the caller).
  void Pump() {
    while (true) {
      mu_.Lock();
      if (std::optional<grpc::Status> stop = TakeStopLocked()) {
        mu_.Unlock();
        Finish(*stop);
        return;
      }
      if (!queue_.empty()) {
        WriteNextLocked();
        mu_.Unlock();
        return;
      }
      const int64_t after = after_id_;
      mu_.Unlock();

      const int64_t seq = coordinator_.event_sequence();
      absl::StatusOr<EventBatch> batch = coordinator_.ReadEvents(campaign_id_, after, kBatch);
      if (!batch.ok() || batch->finished) {
        End(batch.ok() ? grpc::Status::OK : ToGrpcStatus(batch.status()));
        return;
      }
      if (!batch->events.empty()) {
        absl::MutexLock lock(&mu_);
        for (db::Event& e : batch->events) queue_.push_back(std::move(e));
        continue;
      }
      // Nothing new: idle until the hub sees the sequence move past `seq`.
      Coordinator& coordinator = coordinator_;
      WatchHub& hub = hub_;
      mu_.Lock();
      if (std::optional<grpc::Status> stop = TakeStopLocked()) {
        mu_.Unlock();
        Finish(*stop);
        return;
      }
      busy_ = false;
      idle_ = true;
      idle_seq_ = seq;
      mu_.Unlock();
      // `this` may be gone from here on. An append that landed after the
      // read may have been missed by the hub's last scan: make it scan again.
      if (coordinator.event_sequence() != seq) hub.Kick();
      return;
    }
  }

  void OnWriteDone(bool ok) override {
    mu_.Lock();
    if (!ok) {  // the client went away
      finished_ = true;
      mu_.Unlock();
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
      return;
    }
    after_id_ = current_.id();
    mu_.Unlock();
    Pump();
  }

  void OnCancel() override {
    mu_.Lock();
    cancelled_ = true;
    if (busy_ || finished_) {  // the pump or write in flight finishes it
      mu_.Unlock();
      return;
    }
    finished_ = true;
    mu_.Unlock();
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
  }

  void OnDone() override {
    hub_.Unregister(this);
    delete this;
  }

 private:
  void End(const grpc::Status& status) {
    mu_.Lock();
    finished_ = true;
    mu_.Unlock();
    Finish(status);
  }

  // The status to finish with when the call was cancelled or the server is
  // shutting down, the call then marked finished; nullopt otherwise.
  std::optional<grpc::Status> TakeStopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::optional<grpc::Status> stop;
    if (cancelled_) {
      stop = grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
    } else if (shutting_down_) {
      stop = grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down");
    }
    if (stop.has_value()) finished_ = true;
    return stop;
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_.Clear();
    ToProto(queue_.front(), &current_);
    queue_.pop_front();
    StartWrite(&current_);
  }

  WatchHub& hub_;
  Coordinator& coordinator_;
  const int64_t campaign_id_;

  absl::Mutex mu_;
  int64_t after_id_ ABSL_GUARDED_BY(mu_);
  std::deque<db::Event> queue_ ABSL_GUARDED_BY(mu_);
  v1::CampaignEvent current_ ABSL_GUARDED_BY(mu_);  // the write in flight
  bool busy_ ABSL_GUARDED_BY(mu_) = false;          // a pump or a write in progress
  bool idle_ ABSL_GUARDED_BY(mu_) = false;          // waiting for the hub
  int64_t idle_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

namespace {

// A reactor that finishes at once (hub stopped).
class RefusedWatch final : public grpc::ServerWriteReactor<v1::CampaignEvent> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

WatchHub::WatchHub(Coordinator& coordinator)
    : coordinator_(coordinator), thread_([this] { Loop(); }) {}

WatchHub::~WatchHub() { Stop(); }

grpc::ServerWriteReactor<v1::CampaignEvent>* WatchHub::Start(
    const v1::WatchCampaignRequest& request) {
  auto* reactor = new WatchReactor(*this, coordinator_, request);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      delete reactor;
      return new RefusedWatch(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
    }
    reactors_.insert(reactor);
  }
  reactor->Begin();
  return reactor;
}

void WatchHub::Unregister(WatchReactor* reactor) {
  absl::MutexLock lock(&mu_);
  reactors_.erase(reactor);
}

int WatchHub::open_streams() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(reactors_.size());
}

void WatchHub::Kick() { coordinator_.WakeWatchers(); }

void WatchHub::Loop() {
  struct NotifyOnExit {
    absl::Notification* done;
    ~NotifyOnExit() { done->Notify(); }
  } notify_on_exit{&loop_exited_};
  int64_t seen = coordinator_.event_sequence();
  while (true) {
    const int64_t seq = coordinator_.AwaitEvents(seen, kHubBackstop);
    if (seq == seen) {
      // A backstop timeout, or the coordinator already shut down (then
      // AwaitEvents no longer waits): pause rather than spin.
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      coordinator_.clock().AwaitWithTimeout(mu_, absl::Condition(&stopping_),
                                            absl::Milliseconds(50));
    }
    seen = seq;
    std::vector<WatchReactor*> claimed;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      for (WatchReactor* r : reactors_) {
        if (r->ClaimIfStale(seq)) claimed.push_back(r);
      }
    }
    // A claimed reactor is busy, so it cannot finish (and be deleted) until
    // its Pump returns.
    for (WatchReactor* r : claimed) r->Pump();
  }
}

void WatchHub::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) {
    do {
      coordinator_.WakeWatchers();
    } while (!loop_exited_.WaitForNotificationWithTimeout(absl::Milliseconds(20)));
    thread_.join();
  }
  absl::MutexLock lock(&mu_);
  for (WatchReactor* r : reactors_) r->Shutdown();
}

}  // namespace convrnn::server
