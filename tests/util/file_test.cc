#include "util/file.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "tests/test_support.h"

namespace convrnn {
namespace {

using ::convrnn::testing::TempDir;

TEST_CASE("ReadFile returns a file's bytes, or NOT_FOUND naming it", "[util]") {
  TempDir dir;
  const std::string bytes("token\0with nul\n", 15);
  std::ofstream(dir / "f", std::ios::binary) << bytes;
  absl::StatusOr<std::string> read = ReadFile(dir / "f");
  REQUIRE(read.ok());
  CHECK(*read == bytes);

  absl::StatusOr<std::string> missing = ReadFile(dir / "missing");
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  CHECK(std::string(missing.status().message()) == dir / "missing" + ": cannot open for reading");
  absl::StatusOr<std::string> flag = ReadFlagFile("--token-file", dir / "missing");
  CHECK(flag.status().code() == absl::StatusCode::kNotFound);
  CHECK(std::string(flag.status().message()) ==
        "--token-file: " + dir / "missing" + ": cannot open for reading");
  CHECK(ReadFile(dir.str()).status().code() != absl::StatusCode::kOk);  // a directory
}

}  // namespace
}  // namespace convrnn
