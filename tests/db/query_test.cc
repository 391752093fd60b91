// Reads the coordinator and client rely on: counts, listing with a state
// filter and paging, top-k, events resumed by id, workers, and errors for
// unknown ids and bad input.
#include "tests/db/test_store.h"

namespace convrnn::db::testing {
namespace {

TEST_CASE("counts, filtered listing and paging", "[db]") {
  TempDir dir;
  Fixture f(dir);
  for (int i = 0; i < 7; ++i) f.AddTrial();
  Trial a = f.Lease(f.worker.id, kT0);
  Trial b = f.Lease(f.worker.id, kT0);
  Must(f.store->RecordEpoch(b.lease_token, 1, R"({"val_top1":0.3})", 0, kT0 + 1));
  Trial c = f.Lease(f.worker.id, kT0);
  Must(f.store->CompleteTrial(c.lease_token, R"({"val_top1":0.9})", kT0 + 2));

  TrialCounts counts = Must(f.store->CountTrials(f.campaign.id));
  CHECK(counts.pending == 4);
  CHECK(counts.leased == 1);
  CHECK(counts.running == 1);
  CHECK(counts.completed == 1);
  CHECK(counts.total() == 7);

  std::vector<Trial> pending =
      Must(f.store->ListTrials({f.campaign.id, TrialState::kPending, 0, 3}));
  REQUIRE(pending.size() == 3);
  CHECK(pending[0].number == 4);
  CHECK(pending[2].number == 6);
  std::vector<Trial> rest =
      Must(f.store->ListTrials({f.campaign.id, TrialState::kPending, pending.back().number, 3}));
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].number == 7);
  CHECK(Must(f.store->ListTrials({f.campaign.id, std::nullopt, 0, 100})).size() == 7);
  CHECK(Must(f.store->ListTrials({f.campaign.id, TrialState::kLeased, 0, 100}))[0].id == a.id);
  CHECK(Must(f.store->CountTrials(f.campaign.id + 1)).total() == 0);
}

TEST_CASE("top-k ranks completed trials by a final metric", "[db]") {
  TempDir dir;
  Fixture f(dir);
  const char* metrics[] = {R"({"val_top1":0.5,"params":300})", R"({"val_top1":0.9,"params":900})",
                           R"({"val_top1":0.7,"params":100})", R"({"params":50})"};
  std::vector<int64_t> ids;
  for (const char* m : metrics) {
    f.AddTrial();
    Trial t = f.Lease(f.worker.id, kT0);
    ids.push_back(t.id);
    Must(f.store->CompleteTrial(t.lease_token, m, kT0 + 1));
  }
  f.AddTrial();  // Pending trials never rank.
  std::vector<Trial> best = Must(f.store->TopTrials(f.campaign.id, "val_top1", true, 2));
  REQUIRE(best.size() == 2);
  CHECK(best[0].id == ids[1]);
  CHECK(best[1].id == ids[2]);
  std::vector<Trial> smallest = Must(f.store->TopTrials(f.campaign.id, "params", false, 10));
  REQUIRE(smallest.size() == 4);
  CHECK(smallest[0].id == ids[3]);
  CHECK(Must(f.store->TopTrials(f.campaign.id, "flops", true, 5)).empty());
  absl::Status bad = f.store->TopTrials(f.campaign.id, "val\"]; DROP", true, 5).status();
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
  // The message quotes the name and then says what is wrong with it.
  CHECK(std::string(bad.message()) ==
        "metric \"val\"]; DROP\": must be 1-64 characters of [A-Za-z0-9_.]");
}

TEST_CASE("events record every change and resume after an id", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  Trial t = f.Lease(f.worker.id, kT0 + 1);
  std::vector<Event> first = Must(f.store->ListEvents(f.campaign.id, 0, 100));
  REQUIRE(first.size() == 3);
  CHECK(first[0].type == kEventCampaignState);
  CHECK(first[1].type == kEventTrialCreated);
  CHECK(first[2].type == kEventTrialLeased);
  CHECK(first[2].trial_id == t.id);
  Must(f.store->RecordEpoch(t.lease_token, 1, R"({"val_top1":0.25})", 0, kT0 + 2));
  Must(f.store->CompleteTrial(t.lease_token, R"({"val_top1":0.5})", kT0 + 3));
  std::vector<Event> next = Must(f.store->ListEvents(f.campaign.id, first.back().id, 100));
  REQUIRE(next.size() == 3);
  CHECK(next[0].type == kEventTrialRunning);
  CHECK(next[1].type == kEventTrialProgress);
  CHECK(next[1].payload_json.find("\"epoch\":1") != std::string::npos);
  CHECK(next[1].payload_json.find("0.25") != std::string::npos);
  CHECK(next[2].type == kEventTrialCompleted);
  int64_t custom = Must(f.store->AppendEvent({0, f.campaign.id, 0, "note", R"({"x":1})", kT0 + 4}));
  CHECK(custom > next.back().id);
  CHECK(Must(f.store->ListEvents(f.campaign.id, next.back().id, 100)).size() == 1);
}

TEST_CASE("epochs are kept per trial and a retried attempt replaces them", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  Trial a = f.Lease(f.worker.id, kT0, 10);
  Must(f.store->RecordEpoch(a.lease_token, 1, R"({"val_top1":0.1})", 0, kT0 + 1));
  Must(f.store->RecordEpoch(a.lease_token, 2, R"({"val_top1":0.2})", 0, kT0 + 2));
  Must(f.store->ExpireLeases(kT0 + 11 * kSecond));
  Trial b = f.Lease(f.worker.id, kT0 + 12 * kSecond);
  Must(f.store->RecordEpoch(b.lease_token, 2, R"({"val_top1":0.3})", 0, kT0 + 13 * kSecond));
  std::vector<EpochReport> epochs = Must(f.store->ListEpochs(a.id));
  REQUIRE(epochs.size() == 2);
  CHECK(epochs[0].attempt == 1);
  CHECK(epochs[1].attempt == 2);
  CHECK(epochs[1].metrics_json == R"({"val_top1":0.3})");
}

TEST_CASE("workers show their current trial and last contact", "[db]") {
  TempDir dir;
  Fixture f(dir);
  f.AddTrial();
  Trial t = f.Lease(f.worker.id, kT0 + 5);
  MustOk(f.store->TouchWorker(f.other_worker.id, kT0 + 7));
  std::vector<Worker> workers = Must(f.store->ListWorkers(0));
  REQUIRE(workers.size() == 2);
  CHECK(workers[0].current_trial_id == t.id);
  CHECK(workers[0].last_seen_us == kT0 + 5);
  CHECK(workers[1].current_trial_id == 0);
  CHECK(workers[1].last_seen_us == kT0 + 7);
  CHECK(Must(f.store->ListWorkers(kT0 + 6)).size() == 1);
}

TEST_CASE("campaigns list newest first and change state", "[db]") {
  TempDir dir;
  Fixture f(dir);
  Campaign second = Must(f.store->CreateCampaign({"second", "{}", 2}, kT0 + 1));
  std::vector<Campaign> all = Must(f.store->ListCampaigns(0, 10));
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == second.id);
  CHECK(Must(f.store->ListCampaigns(second.id, 10)).size() == 1);
  MustOk(f.store->SetCampaignState(second.id, CampaignState::kCompleted, kT0 + 2));
  Campaign got = Must(f.store->GetCampaign(second.id));
  CHECK(got.state == CampaignState::kCompleted);
  CHECK(got.updated_us == kT0 + 2);
  CHECK(got.max_attempts == 2);
}

TEST_CASE("unknown ids are NOT_FOUND and bad input INVALID_ARGUMENT", "[db]") {
  TempDir dir;
  Fixture f(dir);
  using absl::StatusCode;
  CHECK(f.store->GetCampaign(999).status().code() == StatusCode::kNotFound);
  CHECK(f.store->GetTrial(999).status().code() == StatusCode::kNotFound);
  CHECK(f.store->InsertTrial(999, "{}", "{}", kT0).status().code() == StatusCode::kNotFound);
  CHECK(f.store->SetCampaignState(999, CampaignState::kStopped, kT0).code() ==
        StatusCode::kNotFound);
  CHECK(f.store->TouchWorker(999, kT0).code() == StatusCode::kNotFound);
  CHECK(f.store->LeaseTrial({999, 0, kT0, kT0 + 1}).status().code() == StatusCode::kNotFound);
  CHECK(f.store->AppendEvent({0, 999, 0, "x", "{}", kT0}).status().code() == StatusCode::kNotFound);
  CHECK(f.store->CreateCampaign({"x", "{}", 0}, kT0).status().code() ==
        StatusCode::kInvalidArgument);
  f.AddTrial();
  Trial t = f.Lease(f.worker.id, kT0);
  absl::Status bad = f.store->CompleteTrial(t.lease_token, R"({"val_top1":"high"})", kT0).status();
  CHECK(bad.code() == StatusCode::kInvalidArgument);
  CHECK(std::string(bad.message()).find("metrics.val_top1") != std::string::npos);
  CHECK(f.store->RecordEpoch(t.lease_token, 1, "not json", 0, kT0).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(Must(f.store->GetTrial(t.id)).state == TrialState::kLeased);
}

}  // namespace
}  // namespace convrnn::db::testing
