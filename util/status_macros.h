// Early returns for absl::Status / absl::StatusOr, the one way every module
// propagates an error (abseil's and leveldb's habit: errors as values).
//
//   RETURN_IF_ERROR(store.Put(x));              // returns the Status unless OK
//   ASSIGN_OR_RETURN(Trial t, store.Get(id));   // t = *StatusOr, or returns
//   RETURN_IF_ERROR_AS(Validate(r), ToGrpc);    // returns ToGrpc(status)
//
// Thread-safety: macros only; no state.
#ifndef CONVRNN_UTIL_STATUS_MACROS_H_
#define CONVRNN_UTIL_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CONVRNN_STATUS_CONCAT_INNER(a, b) a##b
#define CONVRNN_STATUS_CONCAT(a, b) CONVRNN_STATUS_CONCAT_INNER(a, b)

// Returns `convert(status)` from the enclosing function when `expr` (an
// absl::Status) is not OK.
#define RETURN_IF_ERROR_AS(expr, convert)                         \
  do {                                                            \
    const ::absl::Status convrnn_status_ = (expr);                \
    if (!convrnn_status_.ok()) return (convert)(convrnn_status_); \
  } while (false)

// Returns the status of `expr` (an absl::Status) unless it is OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status convrnn_status_ = (expr);           \
    if (!convrnn_status_.ok()) return convrnn_status_; \
  } while (false)

// `lhs = std::move(*expr)` for an absl::StatusOr `expr` (lhs may declare a
// variable), or returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  CONVRNN_ASSIGN_OR_RETURN_IMPL(CONVRNN_STATUS_CONCAT(convrnn_statusor_, __LINE__), lhs, expr)
#define CONVRNN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(*tmp)

#endif  // CONVRNN_UTIL_STATUS_MACROS_H_
