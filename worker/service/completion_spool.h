// Finished results kept on local disk until the coordinator has decided on
// them, so a worker that dies (or is killed) between finishing a trial and
// hearing the server's answer re-sends the completion when it starts again.
//
// The server's fencing decides what a re-sent completion is worth: while the
// lease is live it completes the trial (or answers "already completed"), a
// stale lease is refused; either way the file is removed. One file per lease,
// <dir>/complete-<lease_id>.pb (a serialized CompleteTrialRequest), written
// to a temporary name, fsynced and renamed, so a crash leaves either the
// whole request or nothing. Workers of one machine may share a folder: a
// completion sent twice is acknowledged twice.
//
// Thread-safety: calls on distinct leases may run concurrently; Load() may
// race with Save() and miss the file being written (it is sent by its owner).
#ifndef CONVRNN_WORKER_SERVICE_COMPLETION_SPOOL_H_
#define CONVRNN_WORKER_SERVICE_COMPLETION_SPOOL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/convrnn.pb.h"

namespace convrnn {

class CompletionSpool {
 public:
  // `dir` is created on first Save; empty: spooling is off (Save and Remove
  // do nothing, Load returns nothing).
  explicit CompletionSpool(std::string dir) : dir_(std::move(dir)) {}

  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  // Durably stores `request` before it is sent. An error (disk full) is
  // returned for the log; the caller still sends the request.
  absl::Status Save(const v1::CompleteTrialRequest& request) const;
  // After the server's final answer for this lease. A missing file is fine.
  void Remove(int64_t lease_id) const;
  // Every stored request, in lease order; unreadable files are removed.
  std::vector<v1::CompleteTrialRequest> Load() const;

 private:
  std::string PathOf(int64_t lease_id) const;

  std::string dir_;
};

// The default spool folder for a server address: under $XDG_STATE_HOME (or
// ~/.local/state) convrnn-worker/spool/<server with ':' and '/' as '_'>;
// empty when neither variable is set.
std::string DefaultSpoolDir(const std::string& server);

}  // namespace convrnn

#endif  // CONVRNN_WORKER_SERVICE_COMPLETION_SPOOL_H_
