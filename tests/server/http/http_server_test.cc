// The HTTP listener: the token rule (header, cookie, public routes,
// --http-open-metrics), HTTPS, and errors that name the address or file.
#include "server/http/http_server.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "tests/test_support.h"

namespace convrnn::server {
namespace {

using testing::TempDir;

HttpServer::Options Listen(const std::string& listen, const std::string& token = "") {
  HttpServer::Options options;
  options.listen = listen;
  options.token = token;
  return options;
}

void Hello(const httplib::Request&, httplib::Response& response) {
  response.set_content("hello\n", "text/plain");
}

int StatusOf(const httplib::Result& result) { return result ? result->status : -1; }

TEST_CASE("Without a token every route answers", "[server][http]") {
  HttpServer http(Listen("127.0.0.1:0"));
  http.Get("/api/hello", Hello);
  testing::MustOk(http.Start());
  REQUIRE(http.port() > 0);
  httplib::Client client("127.0.0.1", http.port());
  httplib::Result result = client.Get("/api/hello");
  REQUIRE(StatusOf(result) == 200);
  REQUIRE(result->body == "hello\n");
  REQUIRE(StatusOf(client.Get("/nothing-here")) == 404);
}

TEST_CASE("A token is required as bearer header or cookie", "[server][http]") {
  HttpServer http(Listen("127.0.0.1:0", "s3cret"));
  http.Get("/api/hello", Hello);
  http.Get("/metrics", Hello);
  http.Get("/login", Hello, /*public_route=*/true);
  testing::MustOk(http.Start());
  httplib::Client client("127.0.0.1", http.port());

  httplib::Result refused = client.Get("/api/hello");
  REQUIRE(StatusOf(refused) == 401);
  REQUIRE(refused->get_header_value("WWW-Authenticate") == "Bearer");
  REQUIRE(refused->body.find("hello") == std::string::npos);
  REQUIRE(StatusOf(client.Get("/api/hello", {{"Authorization", "Bearer wrong"}})) == 401);
  REQUIRE(StatusOf(client.Get("/api/hello", {{"Authorization", "s3cret"}})) == 401);
  REQUIRE(StatusOf(client.Get("/api/hello", {{"Authorization", "Bearer s3cret"}})) == 200);
  REQUIRE(StatusOf(client.Get("/api/hello", {{"Cookie", "a=1; convrnn_token=s3cret"}})) == 200);
  REQUIRE(StatusOf(client.Get("/api/hello", {{"Cookie", "convrnn_token=s3cre"}})) == 401);
  // /metrics stays closed without --http-open-metrics; a public route is open.
  REQUIRE(StatusOf(client.Get("/metrics")) == 401);
  REQUIRE(StatusOf(client.Get("/login")) == 200);
}

TEST_CASE("open_metrics opens /metrics and /healthz only", "[server][http]") {
  HttpServer::Options options = Listen("127.0.0.1:0", "s3cret");
  options.open_metrics = true;
  HttpServer http(options);
  http.Get("/metrics", Hello);
  http.Get("/healthz", Hello);
  http.Get("/api/hello", Hello);
  testing::MustOk(http.Start());
  httplib::Client client("127.0.0.1", http.port());
  REQUIRE(StatusOf(client.Get("/metrics")) == 200);
  REQUIRE(StatusOf(client.Get("/healthz")) == 200);
  REQUIRE(StatusOf(client.Get("/api/hello")) == 401);
}

TEST_CASE("A bad or busy address is an error naming it", "[server][http]") {
  HttpServer bad(Listen("no-port-here"));
  absl::Status status = bad.Start();
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(status.message().find("no-port-here") != absl::string_view::npos);

  HttpServer first(Listen("127.0.0.1:0"));
  testing::MustOk(first.Start());
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());
  HttpServer second(Listen(taken));
  status = second.Start();
  REQUIRE(status.code() == absl::StatusCode::kUnavailable);
  REQUIRE(status.message().find(taken) != absl::string_view::npos);

  HttpServer unknown_host(Listen("no.such.host.invalid:8080"));
  REQUIRE(unknown_host.Start().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("Shutdown stops answering and is idempotent", "[server][http]") {
  HttpServer http(Listen("127.0.0.1:0"));
  http.Get("/api/hello", Hello);
  testing::MustOk(http.Start());
  const int port = http.port();
  http.Shutdown();
  http.Shutdown();
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  REQUIRE(StatusOf(client.Get("/api/hello")) == -1);
}

TEST_CASE("HTTPS with a certificate and key, missing files are named", "[server][http]") {
  TempDir dir;
  const std::string cert = dir / "cert.pem", key = dir / "key.pem";
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
      " -keyout " +
      key + " -out " + cert + " 2>/dev/null";
  REQUIRE(std::system(command.c_str()) == 0);

  HttpServer::Options options = Listen("127.0.0.1:0", "t");
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  HttpServer https(options);
  https.Get("/api/hello", Hello);
  testing::MustOk(https.Start());
  REQUIRE(std::string(https.scheme()) == "https");
  httplib::SSLClient client("127.0.0.1", https.port());
  client.enable_server_certificate_verification(false);
  httplib::Result ok = client.Get("/api/hello", {{"Authorization", "Bearer t"}});
  REQUIRE(StatusOf(ok) == 200);
  REQUIRE(ok->body == "hello\n");
  REQUIRE(StatusOf(client.Get("/api/hello")) == 401);
  // A plain-HTTP client gets no answer from the HTTPS port.
  httplib::Client plain("127.0.0.1", https.port());
  REQUIRE(StatusOf(plain.Get("/api/hello", {{"Authorization", "Bearer t"}})) != 200);

  options.tls_cert_file = dir / "nope.pem";
  HttpServer missing(options);
  absl::Status status = missing.Start();
  REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
  REQUIRE(status.message().find("nope.pem") != absl::string_view::npos);
}

TEST_CASE("SplitHostPort", "[server][http]") {
  std::string host;
  int port = -1;
  REQUIRE(SplitHostPort("0.0.0.0:9090", &host, &port));
  REQUIRE((host == "0.0.0.0" && port == 9090));
  REQUIRE(SplitHostPort("[::1]:80", &host, &port));
  REQUIRE((host == "::1" && port == 80));
  REQUIRE_FALSE(SplitHostPort("9090", &host, &port));
  REQUIRE_FALSE(SplitHostPort(":9090", &host, &port));
  REQUIRE_FALSE(SplitHostPort("host:", &host, &port));
  REQUIRE_FALSE(SplitHostPort("host:70000", &host, &port));
  REQUIRE_FALSE(SplitHostPort("[::1:80", &host, &port));
}

}  // namespace
}  // namespace convrnn::server
