// Idempotent launch (issue 9, item 2): a launch carrying a request id that
// is already stored returns the campaign it made when the document is the
// same, and is refused naming the id when it differs; exactly one campaign
// is stored whatever the order in which retries reach the store.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "db/store_wrapper.h"
#include "server/coordinator.h"
#include "tests/server/faulty_store.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

using db::testing::FaultyStore;

int64_t StoredCampaigns(db::Store& store) { return Must(store.ListCampaigns(0, 100)).size(); }

// A coordinator (no reaper) over `Wrapper`, which wraps the real store so a
// test can fail or hold the calls that reach it.
template <typename Wrapper>
struct WrappedHarness {
  TempDir dir;
  FakeClock clock;
  std::unique_ptr<db::Store> real = Must(db::Store::Open(dir.File("server.db")));
  Wrapper store{real.get()};
  std::unique_ptr<Coordinator> coordinator = [this] {
    CoordinatorOptions options;
    options.start_reaper = false;
    return Must(Coordinator::Create(store, clock, options));
  }();
};

TEST_CASE("two launches with one request id make one campaign", "[server]") {
  Harness h;
  const std::string doc = SmallCampaign().dump();
  CampaignView first = Must(h.coordinator->Launch(doc, "0123abcd"));
  CampaignView second = Must(h.coordinator->Launch(doc, "0123abcd"));
  CHECK(second.campaign.id == first.campaign.id);
  CHECK(second.campaign.name == "small");
  CHECK(StoredCampaigns(*h.store) == 1);
  // Without an id (an old client) every launch is a new campaign.
  CHECK(Must(h.coordinator->Launch(doc)).campaign.id != first.campaign.id);
  CHECK(Must(h.coordinator->Launch(doc)).campaign.id != first.campaign.id);
  CHECK(StoredCampaigns(*h.store) == 3);
  // Another id is another campaign.
  CHECK(Must(h.coordinator->Launch(doc, "other")).campaign.id != first.campaign.id);
  CHECK(StoredCampaigns(*h.store) == 4);
}

TEST_CASE("a different document under a used request id is refused naming the id", "[server]") {
  Harness h;
  const int64_t id = Must(h.coordinator->Launch(SmallCampaign().dump(), "req-7")).campaign.id;
  absl::StatusOr<CampaignView> other =
      h.coordinator->Launch(SmallCampaign({{"name", "another"}}).dump(), "req-7");
  REQUIRE(other.status().code() == absl::StatusCode::kAlreadyExists);
  const std::string message(other.status().message());
  CHECK(message.find("request id 'req-7'") != std::string::npos);
  CHECK(message.find("campaign " + std::to_string(id)) != std::string::npos);
  CHECK(message.find("different document") != std::string::npos);
  // Even a change of whitespace is another document: a retry sends the same bytes.
  CHECK(h.coordinator->Launch(SmallCampaign().dump(2), "req-7").status().code() ==
        absl::StatusCode::kAlreadyExists);
  CHECK(StoredCampaigns(*h.store) == 1);
}

TEST_CASE("a request id survives a restart and a later extend", "[server]") {
  Harness h;
  const std::string doc = SmallCampaign({{"search", {{"max_trials", 2}}}}).dump();
  const int64_t id = Must(h.coordinator->Launch(doc, "abc")).campaign.id;
  // extend rewrites the stored document; the launch it came from is unchanged.
  Must(h.coordinator->Extend(id, 5, 0));
  h.Restart();
  CampaignView again = Must(h.coordinator->Launch(doc, "abc"));
  CHECK(again.campaign.id == id);
  CHECK(StoredCampaigns(*h.store) == 1);
}

TEST_CASE("a malformed request id is INVALID_ARGUMENT", "[server]") {
  Harness h;
  const std::string doc = SmallCampaign().dump();
  for (const std::string& bad : {std::string("has space"), std::string("tab\t"),
                                 std::string("\x1b[2J"), std::string(129, 'a')}) {
    absl::Status s = h.coordinator->Launch(doc, bad).status();
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(s.message()).rfind("request_id:", 0) == 0);
  }
  CHECK(Must(h.coordinator->Launch(doc, std::string(128, 'a'))).campaign.id > 0);
  CHECK(Must(h.coordinator->Launch(doc, "A-z_0.9:x")).campaign.id > 0);
  CHECK(StoredCampaigns(*h.store) == 2);
}

TEST_CASE("a launch stored but answered with an error runs once retried", "[server]") {
  WrappedHarness<FaultyStore> h;
  FaultyStore& store = h.store;
  db::Store& real = *h.real;
  Coordinator* coordinator = h.coordinator.get();
  // The write commits, its answer is lost: the launch fails after storing.
  store.FailAfter("CreateCampaign", absl::UnavailableError("disk I/O error (injected)"));
  const std::string doc = SmallCampaign().dump();
  CHECK(coordinator->Launch(doc, "lost").status().code() == absl::StatusCode::kUnavailable);
  REQUIRE(StoredCampaigns(real) == 1);
  // The client's retry gets that campaign, and it runs: a worker leases from it.
  CampaignView retried = Must(coordinator->Launch(doc, "lost"));
  CHECK(retried.campaign.state == db::CampaignState::kRunning);
  CHECK(StoredCampaigns(real) == 1);
  db::Worker w;
  w.hostname = "host";
  w.device = "cpu";
  const int64_t worker = Must(coordinator->RegisterWorker(w)).worker_id;
  LeaseGrant grant = Must(coordinator->LeaseTrial(worker));
  REQUIRE(grant.has_trial);
  CHECK(grant.trial.campaign_id == retried.campaign.id);
}

// Holds the first CreateCampaign before it reaches the store until told.
class HeldStore : public db::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  absl::StatusOr<db::Campaign> CreateCampaign(const db::NewCampaign& campaign,
                                              int64_t now_us) override {
    if (!first_.HasBeenNotified()) {
      first_.Notify();
      release_.WaitForNotification();
    }
    return StoreWrapper::CreateCampaign(campaign, now_us);
  }
  absl::Notification first_;    // The first call arrived.
  absl::Notification release_;  // Let it go on.
};

TEST_CASE("two attempts with one request id racing to the store make one campaign", "[server]") {
  WrappedHarness<HeldStore> h;
  HeldStore& store = h.store;
  db::Store& real = *h.real;
  Coordinator* coordinator = h.coordinator.get();
  const std::string doc = SmallCampaign().dump();
  // Attempt 1 passed the lookup and waits at the store; attempt 2 (the
  // client's retry) looks up, finds nothing and stores first.
  absl::StatusOr<CampaignView> first;
  std::thread slow([&] { first = coordinator->Launch(doc, "race"); });
  store.first_.WaitForNotification();
  CampaignView second = Must(coordinator->Launch(doc, "race"));
  store.release_.Notify();
  slow.join();
  // Attempt 1 meets the stored id and answers with attempt 2's campaign.
  REQUIRE(first.ok());
  CHECK(first->campaign.id == second.campaign.id);
  CHECK(StoredCampaigns(real) == 1);
}

}  // namespace
}  // namespace convrnn::server::testing
