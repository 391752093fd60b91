// Containers, live (deploy/container-test.sh): the runtime image built with
// podman from the binaries of this build on a debootstrapped Debian 12 base,
// a server and a worker container, a campaign to completion. Where podman
// cannot run containers the test fails with the script's reason.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "tests/e2e/process.h"

namespace convrnn::e2e {
namespace {

using namespace std::chrono_literals;

TEST_CASE("Containers: the runtime image runs a campaign", "[deploy][containers]") {
  const std::string dir = TempDir("containers");
  RunResult r = Run({std::string(CONVRNN_SOURCE_DIR) + "/deploy/container-test.sh", "runtime",
                     CONVRNN_BINARY_DIR},
                    1500s, dir + "/container-test");
  INFO("stdout:\n"
       << r.out.substr(r.out.size() > 4000 ? r.out.size() - 4000 : 0) << "\nstderr:\n"
       << r.err.substr(r.err.size() > 4000 ? r.err.size() - 4000 : 0));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("no compilers or build tools in the image; user 999:999") != std::string::npos);
  CHECK(r.out.find("campaign of 2 trials completed in containers") != std::string::npos);
}

}  // namespace
}  // namespace convrnn::e2e
