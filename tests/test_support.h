// Helpers shared by the test suites: a temporary directory per test and
// unwrapping of Status / StatusOr that fails the test with the status.
// In suites that use LibTorch, include it after "tests/torch_catch.h".
#ifndef CONVRNN_TESTS_TEST_SUPPORT_H_
#define CONVRNN_TESTS_TEST_SUPPORT_H_

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "util/posix_fs.h"

namespace convrnn::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "convrnn-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    (void)RemoveTree(path_.string());  // best effort
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  std::string operator/(const std::string& name) const { return File(name); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// The value of a StatusOr, failing the test (with the status) when not OK.
template <typename T>
T Must(absl::StatusOr<T> value) {
  INFO(value.status().ToString());
  REQUIRE(value.ok());
  return *std::move(value);
}

inline void MustOk(const absl::Status& status) {
  INFO(status.ToString());
  REQUIRE(status.ok());
}

}  // namespace convrnn::testing

#endif  // CONVRNN_TESTS_TEST_SUPPORT_H_
