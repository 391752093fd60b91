// Early-return helpers for absl::Status / absl::StatusOr inside db/.
//
// Internal to db/; other modules have their own conventions.
#ifndef CONVRNN_DB_STATUS_MACROS_H_
#define CONVRNN_DB_STATUS_MACROS_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convrnn::db {
// Debian's abseil has its own string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0);
// this bridges std::string_view into absl::StrCat and friends.
inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace convrnn::db

#define CONVRNN_DB_CONCAT_INNER(a, b) a##b
#define CONVRNN_DB_CONCAT(a, b) CONVRNN_DB_CONCAT_INNER(a, b)

// Returns the status of `expr` (a Status) from the enclosing function unless OK.
#define DB_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status db_status_ = (expr);      \
    if (!db_status_.ok()) return db_status_; \
  } while (false)

// `lhs = *expr` for a StatusOr `expr`, or returns its status.
#define DB_ASSIGN_OR_RETURN(lhs, expr) \
  DB_ASSIGN_OR_RETURN_IMPL(CONVRNN_DB_CONCAT(db_statusor_, __LINE__), lhs, expr)
#define DB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(*tmp)

#endif  // CONVRNN_DB_STATUS_MACROS_H_
