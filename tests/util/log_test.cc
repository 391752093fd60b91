// Operator logs: text lines carry time, level and component; --log-format
// json lines parse as JSON whatever the message holds.
#include "util/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "tests/test_support.h"

namespace convrnn {
namespace {

// What `body` writes to stderr (fd 2).
template <typename Body>
std::string CaptureStderr(Body body) {
  testing::TempDir dir;
  const std::string path = dir / "stderr";
  const int saved = dup(2);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  dup2(fd, 2);
  close(fd);
  body();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("Text logs: UTC time, level, component, message", "[util]") {
  InitLogging(LogFormat::kText);
  const std::string out = CaptureStderr([] { Log("server")->info("listening on {}", "h:1"); });
  const std::regex line(
      R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info \[server\] listening on h:1\n)");
  INFO(out);
  REQUIRE(std::regex_match(out, line));
}

TEST_CASE("JSON logs: one object per line, the message escaped", "[util]") {
  InitLogging(LogFormat::kJson);
  const std::string out = CaptureStderr([] {
    Log("worker[cuda:0]")->warn("trial \"7\" failed:\n\tNaN \\ loss \x01");
    Log("coordinator")->error("plain");
    Log("client")->info("bytes \xff\xfe from a file");  // not UTF-8: still one JSON line
  });
  InitLogging(LogFormat::kText);
  std::istringstream lines(out);
  std::string first, second;
  REQUIRE(std::getline(lines, first));
  REQUIRE(std::getline(lines, second));
  INFO(out);
  const nlohmann::json a = nlohmann::json::parse(first);
  REQUIRE(a.at("level") == "warning");
  REQUIRE(a.at("component") == "worker[cuda:0]");
  REQUIRE(a.at("msg") == "trial \"7\" failed:\n\tNaN \\ loss \x01");
  REQUIRE(a.at("pid") == getpid());
  REQUIRE(std::regex_match(a.at("time").get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  REQUIRE(nlohmann::json::parse(second).at("level") == "error");
  std::string third;
  REQUIRE(std::getline(lines, third));
  REQUIRE(nlohmann::json::parse(third).at("msg") == "bytes \ufffd\ufffd from a file");
}

TEST_CASE("logs: --log-format accepts text and json only", "[util]") {
  REQUIRE(*ParseLogFormat("json") == LogFormat::kJson);
  REQUIRE(*ParseLogFormat("text") == LogFormat::kText);
  absl::StatusOr<LogFormat> bad = ParseLogFormat("xml");
  REQUIRE(bad.status().code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(bad.status().message().find("xml") != absl::string_view::npos);
}

}  // namespace
}  // namespace convrnn
