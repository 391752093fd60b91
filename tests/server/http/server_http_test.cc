// convrnn-server's HTTP listener wired into the Server: /healthz answers,
// the gRPC token guards the other routes, and a busy HTTP port fails Start.
#include <catch2/catch.hpp>
#include <string>

#include "server/server.h"
#include "tests/test_support.h"
#include "util/clock.h"

namespace convrnn::server {
namespace {

using testing::Must;
using testing::TempDir;

ServerConfig HttpConfig(const TempDir& dir, const std::string& http_listen) {
  ServerConfig config;
  config.db_path = dir / "server.db";
  config.listen = "127.0.0.1:0";
  config.shutdown_deadline = absl::Seconds(2);
  config.coordinator.start_reaper = false;
  config.http.listen = http_listen;
  return config;
}

TEST_CASE("The server answers /healthz on its HTTP listener", "[server][http]") {
  TempDir dir;
  FakeClock clock;
  ServerConfig config = HttpConfig(dir, "127.0.0.1:0");
  config.token = config.http.token = "tok";
  std::unique_ptr<Server> server = Must(Server::Start(config, clock));
  REQUIRE(server->http_port() > 0);
  httplib::Client client("127.0.0.1", server->http_port());
  REQUIRE(client.Get("/healthz")->status == 401);
  httplib::Result ok = client.Get("/healthz", {{"Authorization", "Bearer tok"}});
  REQUIRE(ok->status == 200);
  REQUIRE(ok->body == "ok\n");
  server->Shutdown();
  REQUIRE(!client.Get("/healthz", {{"Authorization", "Bearer tok"}}));
}

TEST_CASE("A busy HTTP port fails the server's start, naming it", "[server][http]") {
  TempDir dir;
  FakeClock clock;
  HttpServer::Options squat;
  squat.listen = "127.0.0.1:0";
  HttpServer squatter(squat);
  testing::MustOk(squatter.Start());
  const std::string taken = "127.0.0.1:" + std::to_string(squatter.port());
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(HttpConfig(dir, taken), clock);
  REQUIRE(server.status().code() == absl::StatusCode::kUnavailable);
  REQUIRE(server.status().message().find(taken) != absl::string_view::npos);
}

}  // namespace
}  // namespace convrnn::server
