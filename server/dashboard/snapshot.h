// What the dashboard shows of one campaign, read once and shared by every
// viewer: the campaign, its config, and one compact row per trial (final
// metrics, sampled params, validation curve, cell types, feedback edges).
//
// SnapshotCache rebuilds a campaign's snapshot only when the campaign has
// events newer than the snapshot (one indexed read, made only when the
// coordinator's event sequence moved at all), and at most once per
// Options::min_age; viewers asking meanwhile share the current one, so the
// server's cost is flat in the number of viewers. A rebuild reads trials a
// page at a time and the epochs only of trials that changed since the last
// build (a finished trial's curve is read once). Reads go to the store's
// reader connections and take no campaign lock: the lease path never waits
// on a dashboard.
//
// Thread-safety: Get may be called from many threads; snapshots are
// immutable and shared.
#ifndef CONVRNN_SERVER_DASHBOARD_SNAPSHOT_H_
#define CONVRNN_SERVER_DASHBOARD_SNAPSHOT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/coordinator.h"
#include "util/clock.h"

namespace convrnn::server::dashboard {

struct TrialRow {
  db::Trial trial;                            // spec_json cleared (the trial page reads it)
  Metrics final;                              // with params/flops estimated from the spec
  nlohmann::json params;                      // {"train.lr": 0.01, ...} as sampled
  std::vector<std::pair<int, double>> curve;  // (epoch, val_top1), last report per epoch
  std::vector<std::string> cells;             // cell type per layer
  std::vector<std::pair<int, int>> edges;     // feedback (from, to)
};

struct CampaignSnapshot {
  int64_t sequence = 0;       // the coordinator's event sequence when built
  int64_t last_event_id = 0;  // the campaign's newest event then
  CampaignView view;
  std::shared_ptr<const CampaignConfig> config;
  std::vector<TrialRow> trials;  // by number
  // The chart data (points JSON), serialised and gzipped once per snapshot.
  std::string points_json, points_gzip;
};

class SnapshotCache {
 public:
  struct Options {
    // A snapshot younger than this is served even when events happened
    // since. Default: 1 s (the page polls at most once a second).
    absl::Duration min_age = absl::Seconds(1);
  };
  SnapshotCache(Coordinator& coordinator, Clock& clock, Options options);

  absl::StatusOr<std::shared_ptr<const CampaignSnapshot>> Get(int64_t campaign_id);

 private:
  struct Entry {
    absl::Mutex build_mu;  // one rebuild at a time per campaign
    std::shared_ptr<const CampaignSnapshot> snapshot ABSL_GUARDED_BY(build_mu);
    int64_t built_us ABSL_GUARDED_BY(build_mu) = 0;
    // The event sequence at which the snapshot was last found current.
    int64_t checked_sequence ABSL_GUARDED_BY(build_mu) = 0;
  };
  absl::StatusOr<std::shared_ptr<const CampaignSnapshot>> Build(int64_t campaign_id,
                                                                const CampaignSnapshot* previous);
  // The campaign's newest event id after `after` (`after` when none).
  absl::StatusOr<int64_t> LastEventId(int64_t campaign_id, int64_t after);

  Coordinator& coordinator_;
  Clock& clock_;
  const Options options_;
  absl::Mutex mu_;
  std::map<int64_t, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

// The chart data of a snapshot: objectives, parameter names, and per trial
// [number, id, state, values..., val_top1, params..., cells, edges, curve].
std::string PointsJson(const CampaignSnapshot& s);

}  // namespace convrnn::server::dashboard

#endif  // CONVRNN_SERVER_DASHBOARD_SNAPSHOT_H_
