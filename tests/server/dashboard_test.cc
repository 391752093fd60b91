// The dashboard's server side without a browser: the shared snapshots
// (one rebuild per change, however many viewers) and the trial table's
// filter, sort and paging.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "server/dashboard/snapshot.h"
#include "server/dashboard/trial_table.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

using dashboard::CampaignSnapshot;
using dashboard::QueryTrials;
using dashboard::SnapshotCache;
using dashboard::TableQuery;
using nlohmann::json;

// A campaign of `n` trials: the first `completed` complete with val_top1
// 0.1 * number, the rest stay leased.
int64_t Campaign(Harness& h, int n, int completed) {
  const int64_t id =
      h.Launch(SmallCampaign({{"search", {{"max_trials", n}, {"max_parallel", n}}}}));
  const int64_t w = h.Worker();
  for (int i = 0; i < n; ++i) {
    db::Trial t = h.Lease(w);
    if (i < completed) {
      MustOk(h.coordinator->Complete(w, t.lease_token, {{"val_top1", 0.1 * t.number}}).status());
    }
  }
  return id;
}

TEST_CASE("dashboard snapshots are shared until the campaign changes", "[server]") {
  Harness h;
  const int64_t a = Campaign(h, 6, 3);
  const int64_t b = Campaign(h, 2, 0);
  SnapshotCache cache(*h.coordinator, h.clock, {absl::Seconds(1)});
  auto first = Must(cache.Get(a));
  REQUIRE(first->trials.size() == 6);
  // Many viewers, nothing new: the same snapshot, no rebuild.
  for (int i = 0; i < 20; ++i) CHECK(Must(cache.Get(a)).get() == first.get());
  // Another campaign changes: after min_age, a's snapshot is still current.
  h.clock.Advance(absl::Seconds(2));
  db::Trial t =
      h.Get(Must(h.coordinator->ListTrials(b, db::TrialState::kLeased, 0, 10)).trials[0].id);
  MustOk(h.coordinator->Complete(t.worker_id, t.lease_token, {{"val_top1", 0.5}}).status());
  CHECK(Must(cache.Get(a)).get() == first.get());
  // a changes: rebuilt at once (the snapshot is older than min_age) ...
  auto complete_one = [&] {
    db::Trial live = Must(h.coordinator->ListTrials(a, db::TrialState::kLeased, 0, 10)).trials[0];
    MustOk(h.coordinator->Complete(live.worker_id, live.lease_token, {{"val_top1", 0.9}}).status());
  };
  complete_one();
  auto second = Must(cache.Get(a));
  CHECK(second.get() != first.get());
  CHECK(second->view.counts.completed == 4);
  const json points = json::parse(second->points_json);
  CHECK(points["trials"].size() == 6);
  CHECK(points["objectives"][0] == "val_top1:max");
  // ... but a snapshot younger than min_age is served through new events.
  complete_one();
  CHECK(Must(cache.Get(a)).get() == second.get());
  h.clock.Advance(absl::Seconds(2));
  CHECK(Must(cache.Get(a))->view.counts.completed == 5);
  CHECK(cache.Get(999).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("the dashboard's trial table filters, sorts and pages on the server", "[server]") {
  Harness h;
  const int64_t id = Campaign(h, 12, 8);
  SnapshotCache cache(*h.coordinator, h.clock, {});
  auto s = Must(cache.Get(id));
  TableQuery q;
  q.limit = 5;
  json page = Must(QueryTrials(*s, q));
  CHECK(page["total"] == 12);
  REQUIRE(page["rows"].size() == 5);
  CHECK(page["rows"][0]["number"] == 1);

  q.sort = "val_top1";
  q.descending = true;
  page = Must(QueryTrials(*s, q));
  CHECK(page["rows"][0]["number"] == 8);  // the best completed trial first
  CHECK(page["rows"][0]["metrics"]["val_top1"].get<double>() == Approx(0.8));
  q.offset = 10;
  page = Must(QueryTrials(*s, q));
  CHECK(page["rows"].size() == 2);  // the last page; trials without a value sort last
  CHECK(page["rows"][1]["metrics"].count("val_top1") == 0);

  q = TableQuery();
  q.state = "completed";
  q.filter = "val_top1>=0.3, val_top1 < 0.6";
  page = Must(QueryTrials(*s, q));
  CHECK(page["total"] == 3);
  q = TableQuery();
  q.filter = "layers[1].cell.type=rgc";
  page = Must(QueryTrials(*s, q));
  for (const json& r : page["rows"]) CHECK(r["params"]["layers[1].cell.type"] == "rgc");
  q.filter = "train.lr<0";
  CHECK(Must(QueryTrials(*s, q))["total"] == 0);

  q.filter = "val_top1";
  CHECK(QueryTrials(*s, q).status().code() == absl::StatusCode::kInvalidArgument);
  q.filter = "";
  q.state = "sleeping";
  CHECK(QueryTrials(*s, q).status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace convrnn::server::testing
