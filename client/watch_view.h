// WatchView: the live picture `convrnn watch` draws from a campaign's event
// stream: trials done / running / failed / pruned / pending, and per running
// trial its attempt, epoch and latest val_top1.
//
// It only folds events into state and renders text; the caller decides
// whether to redraw in place (a terminal) or print one line per event.
//
// Thread-safety: none; one watcher thread.
#ifndef CONVRNN_CLIENT_WATCH_VIEW_H_
#define CONVRNN_CLIENT_WATCH_VIEW_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/convrnn.pb.h"

namespace convrnn::client {

namespace v1 = ::convrnn::v1;

class WatchView {
 public:
  // `campaign` seeds the name, state and budget (from its JSON's
  // search.max_trials); counts come from the events, which replay history.
  explicit WatchView(const v1::Campaign& campaign);

  void Apply(const v1::CampaignEvent& event);

  // True once an event said the campaign reached COMPLETED or FAILED. The
  // seed campaign's state does not count: a finished campaign's history
  // replays in full before its final state event.
  bool ended() const;
  v1::CampaignState state() const { return state_; }
  int64_t Count(v1::TrialState state) const;

  // The summary line: "campaign 3 demo: running | 4/20 done, 2 running, ...".
  std::string Summary() const;
  // Just the counts: "4/20 done, 2 running, 0 failed, 0 pruned, 14 pending".
  std::string Counts() const;
  // Summary, then a table of running trials; for redrawing in place.
  std::vector<std::string> Render() const;
  // One line for a plain (non-terminal) log: what `event` changed, then the
  // summary counts. REQUIRES: `event` was just applied.
  std::string Line(const v1::CampaignEvent& event) const;

 private:
  struct Running {
    int32_t attempt = 0;
    int32_t epoch = 0;
    std::optional<double> val_top1;
  };

  int64_t id_;
  std::string name_;
  v1::CampaignState state_;
  bool ended_ = false;
  int64_t max_trials_ = 0;  // 0: unknown
  std::map<int64_t, v1::TrialState> trials_;
  std::map<int64_t, Running> running_;
};

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_WATCH_VIEW_H_
