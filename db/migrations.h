// Versioned schema migrations.
//
// The schema's history is a list of steps, version 1, 2, ...; a database
// records the steps applied in its `schema_version` table. Opening a database
// applies the missing steps, all in one IMMEDIATE transaction (all or nothing;
// a second process opening the same file waits rather than racing). A file
// whose version is newer than this build knows is refused, never downgraded.
//
// Changing the schema: append a step; never edit a released one. Keep the
// previous versions' DDL reachable (SchemaMigrations() is the fixture the
// migration tests build old files from).
//
// Internal to db/. Thread-safety: functions operate on one Connection, which
// the caller owns exclusively.
#ifndef CONVRNN_DB_MIGRATIONS_H_
#define CONVRNN_DB_MIGRATIONS_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/sqlite_connection.h"

namespace convrnn::db {

struct Migration {
  int version;              // 1, 2, ... in order.
  const char* description;  // One line, recorded in schema_version.
  const char* sql;          // DDL/DML script.
};

// This build's schema history.
const std::vector<Migration>& SchemaMigrations();
int LatestSchemaVersion();

// The version recorded in the file; 0 for an empty (new) database.
absl::StatusOr<int> SchemaVersion(Connection& conn);

// Applies the steps of `migrations` above the file's version, up to
// `target_version` (-1: the last step). FAILED_PRECONDITION when the file is
// newer than the last step.
absl::Status Migrate(Connection& conn, const std::vector<Migration>& migrations,
                     int target_version = -1);

}  // namespace convrnn::db

#endif  // CONVRNN_DB_MIGRATIONS_H_
