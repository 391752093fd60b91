// Durability and damage: an acknowledged change survives SIGKILL of the
// process that made it; a corrupt file is refused with a clear error.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tests/db/test_store.h"

namespace convrnn::db::testing {
namespace {

TEST_CASE("an acknowledged completion survives kill -9 of the writer", "[db]") {
  TempDir dir;
  const std::string path = dir.File("kill.db");
  int ack[2];
  REQUIRE(pipe(ack) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child plays the coordinator: it completes a trial, acknowledges it
    // (the write on the pipe stands for the RPC reply), and keeps writing
    // until it is killed mid-stream.
    close(ack[0]);
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path);
    if (!store.ok()) _exit(10);
    absl::StatusOr<Campaign> c = (*store)->CreateCampaign({"k", "{}", 3}, kT0);
    Worker w;
    w.hostname = "child";
    absl::StatusOr<Worker> worker = (*store)->RegisterWorker(w, kT0);
    if (!c.ok() || !worker.ok()) _exit(11);
    if (!(*store)->InsertTrial(c->id, "{}", "{}", kT0).ok()) _exit(12);
    absl::StatusOr<std::optional<Trial>> t =
        (*store)->LeaseTrial({worker->id, c->id, kT0, kT0 + kSecond});
    if (!t.ok() || !t->has_value()) _exit(13);
    if (!(*store)->CompleteTrial((*t)->lease_token, R"({"val_top1":0.875})", kT0).ok()) _exit(14);
    const int64_t acknowledged = (*t)->id;
    if (write(ack[1], &acknowledged, sizeof(acknowledged)) != sizeof(acknowledged)) _exit(15);
    for (int64_t i = 1;; ++i) {
      (*store)->InsertTrial(c->id, "{}", "{}", kT0 + i).IgnoreError();
    }
  }
  close(ack[1]);
  int64_t trial_id = 0;
  REQUIRE(read(ack[0], &trial_id, sizeof(trial_id)) == sizeof(trial_id));
  close(ack[0]);
  usleep(50 * 1000);  // Let it get some writes in flight.
  REQUIRE(kill(child, SIGKILL) == 0);
  int wstatus = 0;
  REQUIRE(waitpid(child, &wstatus, 0) == child);
  REQUIRE(WIFSIGNALED(wstatus));
  CHECK(WTERMSIG(wstatus) == SIGKILL);

  auto store = Must(Store::Open(path));
  Trial t = Must(store->GetTrial(trial_id));
  CHECK(t.state == TrialState::kCompleted);
  CHECK(t.metrics_json == R"({"val_top1":0.875})");
  // Every trial the killed process got in is whole: numbered without gaps.
  TrialCounts counts = Must(store->CountTrials(t.campaign_id));
  std::vector<Trial> all = Must(store->ListTrials({t.campaign_id, std::nullopt, 0, 1000000}));
  CHECK(static_cast<int64_t>(all.size()) == counts.total());
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].number == static_cast<int64_t>(i) + 1);
}

TEST_CASE("a file that is not a database is refused, naming the file", "[db]") {
  TempDir dir;
  const std::string path = dir.File("notes.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 100; ++i) out << "these are my notes, not a database\n";
  }
  absl::Status status = Store::Open(path).status();
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(status.message()).find(path) != std::string::npos);
  CHECK(std::string(status.message()).find("not a database") != std::string::npos);
}

TEST_CASE("a database with damaged pages is refused, naming the file", "[db]") {
  TempDir dir;
  const std::string path = dir.File("damaged.db");
  {
    Options options;
    options.sync_full = false;
    auto store = Must(Store::Open(path, options));
    Campaign c = Must(store->CreateCampaign({"c", "{}", 3}, kT0));
    const std::string spec(500, 'x');
    for (int i = 0; i < 200; ++i) Must(store->InsertTrial(c.id, spec, "{}", kT0));
  }  // Closing checkpoints the WAL into the main file.
  {
    // Scribble over the middle of the file, past the header and schema pages.
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(0, std::ios::end);
    const std::streamoff size = file.tellp();
    REQUIRE(size > 16 * 4096);
    file.seekp(size / 2);
    const std::string junk(3 * 4096, '\xA5');
    file.write(junk.data(), junk.size());
  }
  absl::Status status = Store::Open(path).status();
  INFO(status.ToString());
  CHECK(status.code() == absl::StatusCode::kDataLoss);
  CHECK(std::string(status.message()).find(path) != std::string::npos);
}

}  // namespace
}  // namespace convrnn::db::testing
