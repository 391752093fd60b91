// Reading a whole (small) file: configs, campaigns, tokens, certificates.
//
// Thread-safety: a function; safe to call concurrently.
#ifndef CONVRNN_UTIL_FILE_H_
#define CONVRNN_UTIL_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convrnn {

// The bytes of `path`. NOT_FOUND "PATH: cannot open for reading" when it
// cannot be opened, DATA_LOSS when reading fails (e.g. a directory).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// ReadFile for the value of a command-line flag: errors start with `flag`
// ("--token-file: PATH: cannot open for reading").
absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path);

}  // namespace convrnn

#endif  // CONVRNN_UTIL_FILE_H_
