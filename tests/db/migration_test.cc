// Schema migrations: from an empty file, from every earlier version, refusal
// of a newer file, and all-or-nothing application.
#include <sqlite3.h>

#include "db/migrations.h"
#include "db/sqlite_connection.h"
#include "tests/db/test_store.h"

namespace convrnn::db::testing {
namespace {

// Runs one statement through the raw SQLite API (fixtures only).
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO((error != nullptr ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

int VersionOf(const std::string& path) {
  auto conn = Must(Connection::Open(path, Connection::Options()));
  return Must(SchemaVersion(*conn));
}

TEST_CASE("an empty file gets the latest schema", "[db]") {
  TempDir dir;
  const std::string path = dir.File("new.db");
  {
    auto store = Must(Store::Open(path));
    Must(store->CreateCampaign({"c", "{}", 3}, kT0));
  }
  CHECK(VersionOf(path) == LatestSchemaVersion());
  // Reopening a current file migrates nothing and keeps the data.
  auto store = Must(Store::Open(path));
  CHECK(Must(store->ListCampaigns(0, 10)).size() == 1);
  CHECK(VersionOf(path) == LatestSchemaVersion());
}

TEST_CASE("a file of every earlier schema version migrates with its data", "[db]") {
  const std::vector<Migration>& history = SchemaMigrations();
  REQUIRE(history.front().version == 1);
  for (const Migration& step : history) {
    DYNAMIC_SECTION("from version " << step.version) {
      TempDir dir;
      const std::string path = dir.File("old.db");
      {
        auto conn = Must(Connection::Open(path, Connection::Options()));
        MustOk(Migrate(*conn, history, step.version));
        REQUIRE(Must(SchemaVersion(*conn)) == step.version);
      }
      // Rows written the way that version's schema allows (v1's columns,
      // which later versions must keep readable).
      RawExec(path,
              "INSERT INTO campaigns (name, state, config_json, max_attempts, created_us, "
              "updated_us) VALUES ('old', 'RUNNING', '{}', 2, 1, 1);"
              "INSERT INTO trials (campaign_id, number, state, attempt, spec_json, params_json, "
              "created_us, updated_us) VALUES (1, 1, 'PENDING', 1, '{}', '{}', 1, 1);");
      auto store = Must(Store::Open(path));
      CHECK(VersionOf(path) == LatestSchemaVersion());
      Campaign old = Must(store->GetCampaign(1));
      CHECK(old.name == "old");
      CHECK(old.max_attempts == 2);
      CHECK(Must(store->CountTrials(1)).pending == 1);
      // And the migrated file works for new writes.
      Worker w;
      w.hostname = "h";
      Worker worker = Must(store->RegisterWorker(w, kT0));
      std::optional<Trial> leased = Must(store->LeaseTrial({worker.id, 0, kT0, kT0 + kSecond}));
      REQUIRE(leased.has_value());
      // v3: the old trial, completed, can be scored.
      Must(store->CompleteTrial(leased->lease_token, R"({"val_top1":0.5})", kT0));
      Score score = Must(store->CreateScore(leased->id, R"({"file":"x.h5"})", kT0));
      CHECK(Must(store->LeaseScore(worker.id, kT0, kT0 + kSecond)).has_value());
      CHECK(Must(store->ListScores(leased->id)).at(0).id == score.id);
    }
  }
}

TEST_CASE("a version 3 file gains launch request ids and keeps every campaign", "[db]") {
  TempDir dir;
  const std::string path = dir.File("v3.db");
  {
    auto conn = Must(Connection::Open(path, Connection::Options()));
    MustOk(Migrate(*conn, SchemaMigrations(), /*target_version=*/3));
  }
  // Two campaigns and a trial written the way a version 3 build wrote them.
  RawExec(path,
          "INSERT INTO campaigns (name, state, config_json, max_attempts, created_us, "
          "updated_us) VALUES ('first', 'RUNNING', '{\"name\":\"first\"}', 2, 1, 1), "
          "('second', 'STOPPED', '{\"name\":\"second\"}', 3, 2, 5);"
          "INSERT INTO trials (campaign_id, number, state, attempt, spec_json, params_json, "
          "created_us, updated_us) VALUES (2, 1, 'PENDING', 1, '{}', '{}', 2, 2);");
  auto store = Must(Store::Open(path));
  CHECK(VersionOf(path) == LatestSchemaVersion());
  std::vector<Campaign> all = Must(store->ListCampaigns(0, 10));
  REQUIRE(all.size() == 2);
  CHECK(all[0].name == "second");
  CHECK(all[0].state == CampaignState::kStopped);
  CHECK(all[0].config_json == R"({"name":"second"})");
  CHECK(all[0].max_attempts == 3);
  CHECK(all[0].updated_us == 5);
  CHECK(all[1].name == "first");
  for (const Campaign& c : all) {
    CHECK(c.request_id.empty());  // Launched before request ids existed.
    CHECK(c.request_digest.empty());
  }
  CHECK(Must(store->CountTrials(2)).pending == 1);
  // Old campaigns (no id) do not collide with each other or with new ones.
  Campaign fresh = Must(store->CreateCampaign({"third", "{}", 3, "req-1", "d1"}, kT0));
  CHECK(fresh.id == 3);
  CHECK(fresh.request_id == "req-1");
  CHECK(Must(store->CreateCampaign({"fourth", "{}", 3}, kT0)).request_id.empty());
  CHECK(Must(store->FindCampaignByRequest("req-1"))->id == 3);
}

TEST_CASE("a request id names one campaign: a second CreateCampaign is ALREADY_EXISTS", "[db]") {
  TempDir dir;
  auto store = Must(Store::Open(dir.File("r.db")));
  CHECK_FALSE(Must(store->FindCampaignByRequest("abc")).has_value());
  Campaign made = Must(store->CreateCampaign({"a", R"({"name":"a"})", 3, "abc", "digest-a"}, kT0));
  absl::StatusOr<Campaign> again =
      store->CreateCampaign({"a", R"({"name":"a"})", 3, "abc", "digest-a"}, kT0 + 1);
  CHECK(again.status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(std::string(again.status().message()).find("'abc'") != std::string::npos);
  CHECK(Must(store->ListCampaigns(0, 10)).size() == 1);
  std::optional<Campaign> found = Must(store->FindCampaignByRequest("abc"));
  REQUIRE(found.has_value());
  CHECK(found->id == made.id);
  CHECK(found->request_digest == "digest-a");
  // The unique index holds even for a writer that skips the store's check.
  auto conn = Must(Connection::Open(dir.File("r.db"), Connection::Options()));
  CHECK_FALSE(conn->Exec("INSERT INTO campaigns (name, state, config_json, max_attempts, "
                         "created_us, updated_us, request_id) VALUES ('b', 'RUNNING', '{}', 1, "
                         "1, 1, 'abc')")
                  .ok());
  // Many campaigns without an id are fine.
  Must(store->CreateCampaign({"b", "{}", 3}, kT0));
  Must(store->CreateCampaign({"c", "{}", 3}, kT0));
  CHECK(Must(store->ListCampaigns(0, 10)).size() == 3);
}

TEST_CASE("a file from a newer schema version is refused, naming the file", "[db]") {
  TempDir dir;
  const std::string path = dir.File("future.db");
  { Must(Store::Open(path)); }
  RawExec(path, "INSERT INTO schema_version (version, description) VALUES (99, 'from the future')");
  absl::Status status = Store::Open(path).status();
  CHECK(status.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(status.message()).find(path) != std::string::npos);
  CHECK(std::string(status.message()).find("99") != std::string::npos);
}

TEST_CASE("a failing migration leaves the file at its previous version", "[db]") {
  TempDir dir;
  const std::string path = dir.File("broken.db");
  { Must(Store::Open(path)); }
  std::vector<Migration> with_broken = SchemaMigrations();
  const int next = LatestSchemaVersion() + 1;
  with_broken.push_back({next, "broken", "CREATE TABLE half_done (x); THIS IS NOT SQL;"});
  {
    auto conn = Must(Connection::Open(path, Connection::Options()));
    absl::Status status = Migrate(*conn, with_broken);
    CHECK_FALSE(status.ok());
    CHECK(std::string(status.message()).find("schema version " + std::to_string(next)) !=
          std::string::npos);
  }
  CHECK(VersionOf(path) == LatestSchemaVersion());
  auto store = Must(Store::Open(path));  // Still a good current file.
  // The half-applied table was rolled back with the rest.
  RawExec(path, "CREATE TABLE half_done (x)");
}

TEST_CASE("a missing file without create_if_missing is NOT_FOUND", "[db]") {
  TempDir dir;
  Options options;
  options.create_if_missing = false;
  absl::Status status = Store::Open(dir.File("absent.db"), options).status();
  CHECK(status.code() == absl::StatusCode::kNotFound);
  CHECK(std::string(status.message()).find("absent.db") != std::string::npos);
}

}  // namespace
}  // namespace convrnn::db::testing
