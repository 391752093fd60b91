// Exit statuses shared by every command (DESIGN.md §7): 0 success,
// 2 bad input (a one-line reason on stderr), 1 any other failure.
#ifndef CONVRNN_UTIL_EXIT_CODE_H_
#define CONVRNN_UTIL_EXIT_CODE_H_

#include "absl/status/status.h"

namespace convrnn {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// Bad input: the user can fix it by changing what they passed.
inline int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
      return kExitBadInput;
    default:
      return kExitFailure;
  }
}

}  // namespace convrnn

#endif  // CONVRNN_UTIL_EXIT_CODE_H_
