// Neural predictivity in the coordinator (issue 5): the campaign's neural
// section and objectives, scoring jobs through the lease path on a fake
// clock (only to workers that can score, before training, heartbeats,
// expiry, completion stored with the trial), and the errors users see.
#include <catch2/catch.hpp>
#include <string>

#include "server/campaign.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

using nlohmann::json;

json NeuralCampaign(const json& objectives) {
  return SmallCampaign(
      {{"objectives", objectives}, {"neural", {{"file", "/data/rec.h5"}, {"method", "ridge"}}}});
}

std::string ErrorOf(const json& campaign) {
  absl::StatusOr<CampaignConfig> config = ParseCampaign(campaign);
  REQUIRE_FALSE(config.ok());
  CHECK(config.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

// Completes the next trial leased to `worker`; returns it.
db::Trial CompleteOne(Harness& h, int64_t worker, bool can_score = false) {
  LeaseGrant grant = Must(h.coordinator->LeaseTrial(worker, can_score));
  REQUIRE(grant.has_trial);
  REQUIRE_FALSE(grant.score.has_value());
  Must(h.coordinator->Complete(worker, grant.trial.lease_token, {{"val_top1", 0.5}}));
  return h.Get(grant.trial.id);
}

TEST_CASE("a neural objective needs the campaign's neural section", "[server][neural]") {
  std::string e = ErrorOf(
      SmallCampaign({{"objectives", {{{"metric", "neural_predictivity"}, {"goal", "max"}}}}}));
  CHECK(e.find("objectives[0].metric") == 0);
  CHECK(e.find("\"neural\" section") != std::string::npos);

  e = ErrorOf(NeuralCampaign({{{"metric", "val_top1"}, {"goal", "max"}},
                              {{"metric", "neural_predictivity.I-T"}, {"goal", "max"}}}));
  CHECK(e.find("objectives[1].metric") == 0);
  e = ErrorOf(SmallCampaign({{"neural", {{"method", "pls"}}}}));
  CHECK(e.find("neural.file: is required") == 0);
  e = ErrorOf(SmallCampaign({{"neural", {{"file", "a.h5"}, {"method", "svm"}}}}));
  CHECK(e.find("neural.method") == 0);
  e = ErrorOf(SmallCampaign({{"neural", {{"file", "a.h5"}, {"layers", {0, -1}}}}}));
  CHECK(e.find("neural.layers[1]") == 0);
  e = ErrorOf(SmallCampaign({{"neural", {{"file", "a.h5"}, {"folds", 1}}}}));
  CHECK(e.find("neural.folds") == 0);
  e = ErrorOf(SmallCampaign({{"neural", {{"file", "a.h5"}, {"colour", true}}}}));
  CHECK(e.find("neural.colour") == 0);

  // Early stopping ranks by the first objective's epoch reports.
  json stopped = NeuralCampaign({{{"metric", "neural_predictivity"}, {"goal", "max"}}});
  stopped["search"]["early_stopping"] = {{"rule", "median"}};
  e = ErrorOf(stopped);
  CHECK(e.find("search.early_stopping: cannot rank trials by neural_predictivity") == 0);
  stopped["objectives"] = {{{"metric", "val_top1"}, {"goal", "max"}},
                           {{"metric", "neural_predictivity"}, {"goal", "max"}}};
  CHECK(ParseCampaign(stopped).ok());

  CampaignConfig c = Must(
      ParseCampaign(NeuralCampaign({{{"metric", "neural_predictivity"}, {"goal", "max"}},
                                    {{"metric", "neural_predictivity.IT"}, {"goal", "max"}}})));
  REQUIRE(c.neural.has_value());
  CHECK(c.neural->method == "ridge");
  CHECK(c.neural->regions == std::vector<std::string>{"IT"});  // what the objectives need
  json canonical = json::parse(c.neural_json);
  CHECK(canonical["file"] == "/data/rec.h5");
  CHECK(canonical["regions"] == json::array({"IT"}));
}

TEST_CASE("neural campaigns go only to workers that can score", "[server][neural]") {
  Harness h;
  const int64_t plain = h.Worker("old");
  const int64_t scorer = h.Worker("new");
  const int64_t id = h.Launch(NeuralCampaign({{{"metric", "neural_predictivity"}, {"goal", "max"}},
                                              {{"metric", "params"}, {"goal", "min"}}}));
  CHECK_FALSE(Must(h.coordinator->LeaseTrial(plain)).has_trial);
  LeaseGrant grant = Must(h.coordinator->LeaseTrial(scorer, /*can_score=*/true));
  REQUIRE(grant.has_trial);
  CHECK(json::parse(grant.neural_json)["file"] == "/data/rec.h5");
  // The worker's neural metrics are final metrics: Best ranks by them.
  Must(h.coordinator->Complete(
      scorer, grant.trial.lease_token,
      {{"val_top1", 0.4}, {"neural_predictivity", 0.61}, {"neural_predictivity.IT", 0.7}}));
  RankedTrials best = Must(h.coordinator->Best(id, 5, "", ""));
  CHECK(best.metric == "neural_predictivity");
  REQUIRE(best.trials.size() == 1);
  best = Must(h.coordinator->Best(id, 5, "neural_predictivity.IT", ""));
  REQUIRE(best.trials.size() == 1);
  ParetoFrontResult front =
      Must(h.coordinator->Pareto(id, {"neural_predictivity:max", "params:min"}));
  CHECK(front.trials.size() == 1);

  // A campaign without a neural section still goes to old workers, and its
  // leases carry no neural section.
  h.Launch(SmallCampaign());
  LeaseGrant old = Must(h.coordinator->LeaseTrial(plain));
  REQUIRE(old.has_trial);
  CHECK(old.neural_json.empty());
}

TEST_CASE("a scoring job is leased first, heartbeated, completed and shown", "[server][neural]") {
  Harness h;
  const int64_t trainer = h.Worker("trainer");
  const int64_t scorer = h.Worker("scorer");
  h.Launch();
  db::Trial done = CompleteOne(h, trainer);

  CHECK(h.coordinator->ScoreTrial(999, R"({"file":"a.h5"})").status().code() ==
        absl::StatusCode::kNotFound);
  absl::Status bad =
      h.coordinator->ScoreTrial(done.id, R"({"file":"a.h5","method":"svm"})").status();
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(bad.message()).find("neural.method") == 0);
  db::Trial pending = h.Lease(trainer);
  CHECK(h.coordinator->ScoreTrial(pending.id, R"({"file":"a.h5"})").status().code() ==
        absl::StatusCode::kFailedPrecondition);

  db::Score queued = Must(h.coordinator->ScoreTrial(done.id, R"({"file":"/data/rec.h5"})"));
  CHECK(queued.state == db::ScoreState::kPending);
  // A worker that cannot score trains instead; one that can scores first.
  LeaseGrant train = Must(h.coordinator->LeaseTrial(trainer));
  CHECK_FALSE(train.score.has_value());
  LeaseGrant job = Must(h.coordinator->LeaseTrial(scorer, /*can_score=*/true));
  REQUIRE(job.has_trial);
  REQUIRE(job.score.has_value());
  CHECK(job.score->id == queued.id);
  CHECK(job.trial.id == done.id);
  CHECK(job.trial.spec_json == done.spec_json);
  CHECK(json::parse(job.data_json)["train_limit"] == 100);
  CHECK(json::parse(job.neural_json)["method"] == "pls");  // canonical, defaults filled
  CHECK(job.heartbeat_interval_ms > 0);

  // Heartbeats keep it past its first deadline; another worker's do not.
  const int64_t token = job.score->lease_token;
  CHECK(Must(h.coordinator->Heartbeat(trainer, token)).lease_lost);
  h.clock.Advance(absl::Seconds(100));
  HeartbeatResult beat = Must(h.coordinator->Heartbeat(scorer, token));
  CHECK_FALSE(beat.lease_lost);
  h.clock.Advance(absl::Seconds(100));  // 200 s after the lease: alive by the heartbeat
  Must(h.coordinator->ReapOnce());
  CHECK(Must(h.coordinator->GetScore(queued.id)).state == db::ScoreState::kLeased);

  CHECK_FALSE(Must(h.coordinator->CompleteScore(scorer, token, R"({"median_r":0.3})")));
  CHECK(Must(h.coordinator->CompleteScore(scorer, token, R"({"median_r":0.3})")));  // retried
  TrialDetail detail = Must(h.coordinator->GetTrial(done.id));
  REQUIRE(detail.scores.size() == 1);
  CHECK(detail.scores[0].state == db::ScoreState::kCompleted);
  CHECK(json::parse(detail.scores[0].result_json)["median_r"] == 0.3);
  CHECK(Must(h.coordinator->Heartbeat(scorer, token)).lease_lost);
}

TEST_CASE("a scoring job whose worker vanished is re-leased, failures are kept",
          "[server][neural]") {
  Harness h;
  const int64_t w1 = h.Worker("a");
  const int64_t w2 = h.Worker("b");
  h.Launch();
  db::Trial done = CompleteOne(h, w1);
  db::Score queued = Must(h.coordinator->ScoreTrial(done.id, R"({"file":"/data/rec.h5"})"));
  LeaseGrant first = Must(h.coordinator->LeaseTrial(w1, true));
  REQUIRE(first.score.has_value());
  h.clock.Advance(absl::Seconds(121));  // past the default 120 s score lease
  CHECK(Must(h.coordinator->ReapOnce()) >= 1);
  CHECK(Must(h.coordinator->GetScore(queued.id)).state == db::ScoreState::kPending);
  CHECK(h.coordinator->CompleteScore(w1, first.score->lease_token, "{}").status().code() ==
        absl::StatusCode::kFailedPrecondition);

  LeaseGrant second = Must(h.coordinator->LeaseTrial(w2, true));
  REQUIRE(second.score.has_value());
  CHECK(second.score->attempt == 2);
  MustOk(h.coordinator->FailScore(w2, second.score->lease_token,
                                  "/ckpt/trial-1/checkpoint.pt: no checkpoint",
                                  static_cast<int>(absl::StatusCode::kNotFound)));
  db::Score failed = Must(h.coordinator->GetScore(queued.id));
  CHECK(failed.state == db::ScoreState::kFailed);
  CHECK(failed.error_code == static_cast<int>(absl::StatusCode::kNotFound));
  CHECK(failed.error.find("no checkpoint") != std::string::npos);

  // Jobs survive a coordinator restart.
  db::Score again = Must(h.coordinator->ScoreTrial(done.id, R"({"file":"/data/rec.h5"})"));
  h.Restart();
  LeaseGrant after = Must(h.coordinator->LeaseTrial(w1, true));
  REQUIRE(after.score.has_value());
  CHECK(after.score->id == again.id);
  CHECK(Must(h.coordinator->GetTrial(done.id)).scores.size() == 2);
}

}  // namespace
}  // namespace convrnn::server::testing
