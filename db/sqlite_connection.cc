#include "db/sqlite_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "util/status_macros.h"

namespace convrnn::db {

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Stmt& Stmt::BindDouble(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Stmt& Stmt::Bind(int index, absl::string_view value) {
  int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Stmt& Stmt::BindOrNull(int index, int64_t value) {
  return value == 0 ? BindNull(index) : Bind(index, value);
}

Stmt& Stmt::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

absl::StatusOr<bool> Stmt::Step() {
  if (bind_error_ != SQLITE_OK) return conn_->Error(bind_error_, "binding parameters");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->Error(rc, sqlite3_sql(stmt_));
}

absl::Status Stmt::Run() {
  while (true) {
    ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

std::string Stmt::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column));
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                             const Options& options) {
  int flags = SQLITE_OPEN_NOMUTEX;  // We serialize access ourselves.
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create_if_missing) flags |= SQLITE_OPEN_CREATE;
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Connection> conn(new Connection(raw, path));
  if (rc != SQLITE_OK) {
    if (raw == nullptr) return absl::ResourceExhaustedError(path + ": out of memory opening");
    return conn->Error(rc, "opening database");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  // The first statement reads the header: a non-database file fails here.
  RETURN_IF_ERROR(conn->Exec("PRAGMA foreign_keys = ON; SELECT count(*) FROM sqlite_schema;"));
  if (!options.read_only) {
    // WAL: readers never block the writer nor the writer them. A WAL commit
    // is atomic under kill -9; synchronous=FULL also fsyncs it (power loss).
    RETURN_IF_ERROR(conn->Exec(absl::StrCat("PRAGMA journal_mode = WAL; PRAGMA synchronous = ",
                                            options.sync_full ? "FULL" : "NORMAL", ";")));
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

absl::Status Connection::Exec(absl::string_view sql) {
  std::string script(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db_, script.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return absl::OkStatus();
  sqlite3_free(message);  // Error() reads the same text from the connection.
  constexpr size_t kShown = 60;
  return Error(rc, script.size() <= kShown ? script : script.substr(0, kShown) + "...");
}

absl::StatusOr<Stmt> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(it->second, this);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("preparing `", sql, "`"));
  cache_.emplace(sql, stmt);
  return Stmt(stmt, this);
}

absl::Status Connection::Error(int rc, absl::string_view what) const {
  std::string message = absl::StrCat(path_, ": ", what, ": ", sqlite3_errstr(rc));
  if (db_ != nullptr && sqlite3_errcode(db_) == rc) {
    std::string detail = sqlite3_errmsg(db_);
    if (detail != sqlite3_errstr(rc)) absl::StrAppend(&message, " (", detail, ")");
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_CONSTRAINT:
      return absl::FailedPreconditionError(message);
    case SQLITE_CANTOPEN:
      return absl::NotFoundError(message);
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return absl::PermissionDeniedError(message);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(absl::StrCat(
          "disk full: ", message, "; writes are refused until space is freed (reads still work)"));
    default:
      return absl::InternalError(message);
  }
}

Transaction::~Transaction() {
  if (open_) conn_->Exec("ROLLBACK").IgnoreError();
}

absl::Status Transaction::Begin() {
  absl::Status status = conn_->Exec("BEGIN IMMEDIATE");
  open_ = status.ok();
  return status;
}

absl::Status Transaction::Commit() {
  absl::Status status = conn_->Exec("COMMIT");
  if (status.ok()) open_ = false;
  return status;
}

}  // namespace convrnn::db
