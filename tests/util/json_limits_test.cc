// Hostile JSON through the one parser every user file goes through
// (ParseJsonText / ReadJsonFile): deep nesting, numbers beyond double or
// int64, non-JSON literals and oversize files are refused with
// INVALID_ARGUMENT naming the key path, never a crash.
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "tests/test_support.h"
#include "util/json_object.h"

namespace convrnn::testing {
namespace {

using nlohmann::json;

absl::Status Parse(const std::string& text, const JsonLimits& limits = {}) {
  json out;
  return ParseJsonText(text, "f.json", &out, limits);
}

std::string Nested(int depth, const std::string& leaf = "0.1") {
  std::string s = leaf;
  for (int i = 0; i < depth; ++i) s = "{\"choice\":[" + s + "]}";
  return s;
}

TEST_CASE("nesting beyond the depth limit is refused at its key path", "[util]") {
  // 6,000 levels (the issue's 80 KB file) is refused, not a stack overflow.
  absl::Status deep = Parse("{\"lr\": " + Nested(6000) + "}");
  REQUIRE(deep.code() == absl::StatusCode::kInvalidArgument);
  const std::string message(deep.message());
  CHECK(message.rfind("lr.choice[0].choice[0]", 0) == 0);
  CHECK(message.find("nested deeper than 64 levels") != std::string::npos);
  // Just inside the limit parses (a root object plus 31 choice levels = 63).
  CHECK(Parse("{\"lr\": " + Nested(31) + "}").ok());
  CHECK(Parse("{\"lr\": " + Nested(32) + "}").code() == absl::StatusCode::kInvalidArgument);
  // Arrays count too.
  CHECK(Parse(std::string(100, '[') + std::string(100, ']')).code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("numbers beyond double or int64 and non-JSON literals are refused", "[util]") {
  absl::Status huge = Parse(R"({"train": {"lr": 1e400}})");
  REQUIRE(huge.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(huge.message()).find("out of range") != std::string::npos);
  CHECK(Parse(R"({"lr": -1e400})").code() == absl::StatusCode::kInvalidArgument);

  absl::Status big_int = Parse(R"({"train": {"seed": 9223372036854775808}})");
  REQUIRE(big_int.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(big_int.message()) ==
        "train.seed: integer out of range (beyond 64-bit signed)");
  CHECK(Parse(R"({"seed": 9223372036854775807})").ok());

  for (const char* literal : {"NaN", "Infinity", "-Infinity", "nan", "inf"}) {
    INFO(literal);
    CHECK(Parse(std::string("{\"lr\": ") + literal + "}").code() ==
          absl::StatusCode::kInvalidArgument);
  }
}

TEST_CASE("an integer key read from a float or unsigned beyond int64 does not wrap", "[util]") {
  // JsonObject may read documents that did not come through ParseJsonText.
  json j = json::parse(R"({"a": 1e300, "b": 18446744073709551615, "c": -1e30, "d": 3})");
  int64_t a = 7, b = 7, c = 7, d = 7;
  for (auto [key, out] : {std::pair{"a", &a}, {"b", &b}, {"c", &c}}) {
    JsonObject o(j, "");
    o.Int64(key, out, -100, 100);
    CHECK_FALSE(o.ok());
    CHECK(*out == 7);
  }
  JsonObject o(j, "");
  o.Int64("d", &d, -100, 100);
  CHECK(o.ok());
  CHECK(d == 3);
}

TEST_CASE("text and files beyond the size limit are refused before parsing", "[util]") {
  JsonLimits small;
  small.max_bytes = 64;
  const std::string text = "{\"name\": \"" + std::string(100, 'x') + "\"}";
  absl::Status s = Parse(text, small);
  REQUIRE(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(s.message()).find("at most 64") != std::string::npos);

  TempDir dir;
  std::ofstream(dir / "big.json") << "[" << std::string(2 << 20, ' ') << "]";
  json out;
  absl::Status file = ReadJsonFile(dir / "big.json", &out);  // default: 1 MiB
  REQUIRE(file.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(file.message()).find("big.json") != std::string::npos);
}

}  // namespace
}  // namespace convrnn::testing
