#include "server/http/http_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/secret.h"

namespace convrnn::server {
namespace {

constexpr char kCookieName[] = "convrnn_token";

// The value of cookie `name` in a `Cookie: a=1; b=2` header, or "".
std::string CookieValue(const std::string& header, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

}  // namespace

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  absl::string_view host_view(address.data(), colon);
  if (absl::ConsumePrefix(&host_view, "[") && !absl::ConsumeSuffix(&host_view, "]")) return false;
  if (host_view.empty()) return false;
  int parsed = 0;
  if (!absl::SimpleAtoi(absl::string_view(address).substr(colon + 1), &parsed) || parsed < 0 ||
      parsed > 65535) {
    return false;
  }
  *host = std::string(host_view);
  *port = parsed;
  return true;
}

HttpServer::HttpServer(Options options) : options_(std::move(options)) {
  if (options_.tls_cert_file.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    server_ = std::make_unique<httplib::SSLServer>(options_.tls_cert_file.c_str(),
                                                   options_.tls_key_file.c_str());
  }
  // cpp-httplib's default adds SO_REUSEPORT, which lets a second server
  // share a busy port silently; a coordinator must fail to start instead.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const int threads = options_.threads > 0 ? options_.threads : 1;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
}

HttpServer::~HttpServer() { Shutdown(); }

bool HttpServer::Authorized(const httplib::Request& request) const {
  if (options_.token.empty()) return true;
  if (request.has_header("Authorization") &&
      SameSecret(request.get_header_value("Authorization"), "Bearer " + options_.token)) {
    return true;
  }
  return request.has_header("Cookie") &&
         SameSecret(CookieValue(request.get_header_value("Cookie"), kCookieName), options_.token);
}

void HttpServer::Get(const std::string& pattern, Handler handler, bool public_route) {
  const bool open =
      public_route || (options_.open_metrics && (pattern == "/metrics" || pattern == "/healthz"));
  server_->Get(pattern, [this, open, handler = std::move(handler)](const httplib::Request& request,
                                                                   httplib::Response& response) {
    if (!open && !Authorized(request)) {
      response.status = 401;
      response.set_header("WWW-Authenticate", "Bearer");
      response.set_content("401 unauthorized: send `Authorization: Bearer <token>`\n",
                           "text/plain");
      return;
    }
    handler(request, response);
  });
}

absl::Status HttpServer::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("HTTP listener already started");
  if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--http: TLS needs both a certificate and a key");
  }
  for (const std::string* file : {&options_.tls_cert_file, &options_.tls_key_file}) {
    if (!file->empty() && access(file->c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("--http: cannot read ", *file));
    }
  }
  if (!server_->is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat("--http: bad TLS certificate or key (",
                                                   options_.tls_cert_file, ", ",
                                                   options_.tls_key_file, ")"));
  }
  std::string host;
  int port = 0;
  if (!SplitHostPort(options_.listen, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http: must be HOST:PORT, got \"", options_.listen, "\""));
  }
  const int bound = port == 0 ? server_->bind_to_any_port(host) : port;
  if (bound <= 0 || (port != 0 && !server_->bind_to_port(host, port))) {
    return absl::UnavailableError(absl::StrCat("--http: cannot listen on ", options_.listen,
                                               " (address in use or invalid?)"));
  }
  port_ = bound;
  started_ = true;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    loop_ended_ = true;
  });
  // stop() is a no-op until the loop runs, so Shutdown() must not race it.
  while (!server_->is_running() && !loop_ended_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return absl::OkStatus();
}

void HttpServer::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace convrnn::server
