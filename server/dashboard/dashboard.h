// The web dashboard on the coordinator's HTTP listener (server/http/):
// read-only pages and the JSON they draw from.
//
// Pages (one page, routed by the URL fragment; assets embedded in the binary
// at build time, Chart.js from Debian's libjs-chart.js; nothing from the
// network): `/` the campaigns; `/#/campaign/ID` a campaign's live trial
// table (sort, filter by state and by any parameter or metric, paging),
// optimization history, learning curves, Pareto front, parallel
// coordinates, importance, feedback-edge frequency (top-k against all) and
// the objective per cell type; `/#/trial/ID` a trial's wiring diagram,
// params, epochs by attempt and neural scores. The page and its assets are
// public (they hold no data); every /api/ route needs the server's token
// (header, or the convrnn_token cookie the page's login form sets).
//
// JSON API (GET):
//   /api/version                       {"sequence"}: moves when anything happened;
//                                      the page polls it at most once a second
//   /api/campaigns                     campaigns with counts, best, workers
//   /api/campaigns/ID                  one campaign, objectives, params
//   /api/campaigns/ID/trials?offset=&limit=&sort=&desc=&state=&filter=
//                                      a page of the trial table (trial_table.h)
//   /api/campaigns/ID/points           every trial for the charts (snapshot.h)
//   /api/campaigns/ID/pareto?objective=m:goal&objective=...
//                                      Coordinator::Pareto, what `convrnn pareto` prints
//   /api/campaigns/ID/importance       Coordinator::Importance (cached per snapshot)
//   /api/trials/ID                     a trial with spec, epochs and scores
// Campaign data comes from SnapshotCache: one read per change however many
// viewers poll.
//
// Thread-safety: handlers run on the listener's threads concurrently; the
// Dashboard must outlive the listener.
#ifndef CONVRNN_SERVER_DASHBOARD_DASHBOARD_H_
#define CONVRNN_SERVER_DASHBOARD_DASHBOARD_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/coordinator.h"
#include "server/dashboard/snapshot.h"
#include "server/http/http_server.h"
#include "util/clock.h"

namespace convrnn::server::dashboard {

class Dashboard {
 public:
  struct Options {
    SnapshotCache::Options cache;
    // Most rows one trial-table page returns. Default: 500.
    int max_page_size = 500;
    // While a campaign changes, its importance (a random forest over the
    // completed trials) is recomputed at most this often. Default: 30 s.
    absl::Duration importance_refresh = absl::Seconds(30);
    // Likewise a Pareto front (a read of every completed trial). Default: 3 s.
    absl::Duration pareto_refresh = absl::Seconds(3);
  };
  Dashboard(Coordinator& coordinator, Clock& clock, Options options);

  // Adds the pages and the API to `http`. REQUIRES: before http.Start().
  void Register(HttpServer& http);

 private:
  void Campaigns(const httplib::Request& req, httplib::Response& res);
  void Campaign(const httplib::Request& req, httplib::Response& res);
  void Trials(const httplib::Request& req, httplib::Response& res);
  void Points(const httplib::Request& req, httplib::Response& res);
  void Pareto(const httplib::Request& req, httplib::Response& res);
  void Importance(const httplib::Request& req, httplib::Response& res);
  void Trial(const httplib::Request& req, httplib::Response& res);

  Coordinator& coordinator_;
  Clock& clock_;
  const Options options_;
  SnapshotCache cache_;
  // Computed replies by key, each with the snapshot sequence and the time it
  // was computed at: one computation per change (and refresh period),
  // however many viewers ask.
  class ReplyCache {
   public:
    // The body stored under `key` if it was computed at `sequence`, or less
    // than `refresh` before `now_us`.
    std::optional<std::string> Fresh(const std::string& key, int64_t sequence, int64_t now_us,
                                     absl::Duration refresh);
    void Put(const std::string& key, int64_t sequence, int64_t now_us, std::string body);

   private:
    struct Entry {
      int64_t sequence = 0;
      int64_t computed_us = 0;
      std::string body;
    };
    absl::Mutex mu_;
    std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  };
  ReplyCache importance_;  // by campaign id
  ReplyCache pareto_;      // by "campaign objectives..."
};

}  // namespace convrnn::server::dashboard

#endif  // CONVRNN_SERVER_DASHBOARD_DASHBOARD_H_
