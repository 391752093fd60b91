// WatchCampaign streams: one small ServerWriteReactor per call, fed by one
// hub thread.
//
// A reactor writes the campaign's events one at a time (a write completes
// before the next starts, as the callback API requires), reading the next
// batch from the coordinator when its queue runs dry. When there is nothing
// new it goes idle; the hub thread sleeps in Coordinator::AwaitEvents (a
// wait on the coordinator's Clock, woken by every append) and pumps the idle reactors
// when the event sequence moves. No thread blocks per watcher.
//
// A stream ends with OK once its campaign has ended (COMPLETED/FAILED) and
// every event was delivered, with the coordinator's error (NOT_FOUND, ...),
// with CANCELLED when the client goes away, or with UNAVAILABLE when the hub
// stops (server shutdown).
//
// Thread-safety: Start and Stop may be called from any thread.
#ifndef CONVRNN_SERVER_WATCH_H_
#define CONVRNN_SERVER_WATCH_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "proto/convrnn.pb.h"
#include "server/coordinator.h"

namespace convrnn::server {

class WatchReactor;

class WatchHub {
 public:
  explicit WatchHub(Coordinator& coordinator);
  // Calls Stop().
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // A reactor streaming `request`'s campaign; owned by gRPC (deletes itself
  // in OnDone). After Stop() it finishes at once with UNAVAILABLE.
  grpc::ServerWriteReactor<v1::CampaignEvent>* Start(const v1::WatchCampaignRequest& request);

  // Ends every stream with UNAVAILABLE and refuses new ones; idempotent.
  void Stop();

  // Streams currently open (for tests).
  int open_streams();

 private:
  friend class WatchReactor;
  void Unregister(WatchReactor* reactor);
  void Kick();
  void Loop();

  Coordinator& coordinator_;
  absl::Mutex mu_;
  std::set<WatchReactor*> reactors_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  // Notified when Loop() returns: Stop() wakes it until then (a wake that
  // lands before the loop reads the event sequence would be lost, and on a
  // fake clock its backstop never ends).
  absl::Notification loop_exited_;
};

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_WATCH_H_
