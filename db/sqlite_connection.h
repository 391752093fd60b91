// A thin RAII layer over one sqlite3 connection: open with the project's
// pragmas, cached prepared statements, errors as absl::Status naming the file.
//
// Internal to db/. Thread-safety: none; a Connection is used by one thread at
// a time (SqliteStore guards its writer with a mutex and hands each reader
// connection to one thread at a time).
#ifndef CONVRNN_DB_SQLITE_CONNECTION_H_
#define CONVRNN_DB_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convrnn::db {

// A cached prepared statement in use; resets it (and clears its bindings) when
// it goes out of scope so the next user starts clean.
class Stmt {
 public:
  Stmt(sqlite3_stmt* stmt, const class Connection* conn) : stmt_(stmt), conn_(conn) {}
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_), conn_(other.conn_) { other.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Parameters are numbered from 1, as in SQLite.
  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, absl::string_view value);
  Stmt& Bind(int index, const char* value) { return Bind(index, absl::string_view(value)); }
  // Binds NULL when value == 0 (ids and times where 0 means "none").
  Stmt& BindOrNull(int index, int64_t value);
  Stmt& BindNull(int index);

  // true: a row is available; false: done. Binding errors surface here.
  absl::StatusOr<bool> Step();
  // Runs to completion, expecting no rows back.
  absl::Status Run();

  // Columns are numbered from 0; NULL reads as 0 / "".
  int64_t Int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3_stmt* stmt_;
  const Connection* conn_;
  int bind_error_ = SQLITE_OK;
};

class Connection {
 public:
  struct Options {
    bool read_only = false;
    bool create_if_missing = true;
    int busy_timeout_ms = 5000;
    bool sync_full = true;
  };

  // Opens `path` and sets busy_timeout, foreign_keys and (for writers)
  // journal_mode=WAL and synchronous.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path,
                                                          const Options& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a script of statements that return no rows (DDL, pragmas).
  absl::Status Exec(absl::string_view sql);
  // A prepared statement for `sql`, compiled once per connection.
  // REQUIRES: no other Stmt for the same `sql` is alive (they share one handle).
  absl::StatusOr<Stmt> Prepare(const std::string& sql);

  // Status for SQLite result code `rc`: "<path>: <what>: <message>".
  // BUSY/LOCKED -> UNAVAILABLE, CORRUPT/NOTADB -> DATA_LOSS,
  // CONSTRAINT -> FAILED_PRECONDITION, CANTOPEN -> NOT_FOUND, others INTERNAL.
  absl::Status Error(int rc, absl::string_view what) const;

  int64_t changes() const { return sqlite3_changes64(db_); }
  // A transaction is open (BEGIN ran and neither COMMIT nor a rollback since).
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  const std::string& path() const { return path_; }

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  ~Transaction();
  absl::Status Begin();
  absl::Status Commit();

 private:
  Connection* conn_;
  bool open_ = false;
};

}  // namespace convrnn::db

#endif  // CONVRNN_DB_SQLITE_CONNECTION_H_
