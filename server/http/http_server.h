// The coordinator's HTTP listener (`convrnn-server --http HOST:PORT`): one
// port for Prometheus `/metrics`, `/healthz` and the web dashboard. Plain
// HTTP, or HTTPS when a certificate and key are given (cpp-httplib over
// OpenSSL).
//
// Authentication follows the gRPC rule: when Options::token is set, every
// route not registered as public needs `Authorization: Bearer <token>` or a
// `convrnn_token=<token>` cookie (what a browser keeps); otherwise the
// answer is 401. Options::open_metrics makes `/metrics` and `/healthz`
// public, for scrapers and probes that carry no secret.
//
// Usage:
//   HttpServer http({.listen = "0.0.0.0:8080", .token = token});
//   http.Get("/api/campaigns", [&](const httplib::Request& req, httplib::Response& res) {...});
//   RETURN_IF_ERROR(http.Start());
//   ...
//   http.Shutdown();
//
// Thread-safety: Get() only before Start(). Handlers run on the listener's
// own threads, several at once, and must be thread-safe. Shutdown() may be
// called from any thread, once or more; it returns once no handler runs.
#ifndef CONVRNN_SERVER_HTTP_HTTP_SERVER_H_
#define CONVRNN_SERVER_HTTP_HTTP_SERVER_H_

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace convrnn::server {

class HttpServer {
 public:
  struct Options {
    // HOST:PORT to listen on ("[::1]:8080" for IPv6); port 0 picks a free
    // one (see port()). Required.
    std::string listen;
    // Bearer token for every non-public route; empty: no authentication.
    std::string token;
    // PEM certificate chain and private key files; both empty: plain HTTP.
    std::string tls_cert_file, tls_key_file;
    // Serve /metrics and /healthz without the token. Default: false.
    bool open_metrics = false;
    // Threads answering requests. Default: 4.
    int threads = 4;
  };
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  explicit HttpServer(Options options);
  // Calls Shutdown().
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Answers GET requests whose path matches `pattern` (a regular expression
  // over the whole path, cpp-httplib's rule). `public_route`: no token needed.
  // REQUIRES: Start() not called yet.
  void Get(const std::string& pattern, Handler handler, bool public_route = false);

  // Binds and starts serving. Errors: INVALID_ARGUMENT for a malformed
  // address or unreadable certificate/key, UNAVAILABLE when the address
  // cannot be bound; each message names the address or file.
  absl::Status Start();
  // The port bound by Start() (useful with port 0); 0 before.
  int port() const { return port_; }
  // "http" or "https".
  const char* scheme() const { return options_.tls_cert_file.empty() ? "http" : "https"; }

  // Stops accepting, waits for handlers in flight; idempotent.
  void Shutdown();

 private:
  bool Authorized(const httplib::Request& request) const;

  const Options options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> loop_ended_{false};
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// Splits "HOST:PORT" (HOST may be "[v6]"); false when malformed.
bool SplitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_HTTP_HTTP_SERVER_H_
