// convrnn-server: the store, the coordinator and the gRPC services wired
// together, and the process's life cycle.
//
// Start order: create the telemetry (server/telemetry.h), open the store, create the coordinator
// (which reloads every campaign and starts the reaper), start the watch hub, start gRPC, start the
// HTTP listener (when configured). Shutdown runs in phases, in reverse (STYLE.md item 10):
//   0. stop the HTTP listener (its handlers read the coordinator);
//   1. end watch streams (UNAVAILABLE) and refuse new ones, so they do not
//      hold up the drain;
//   2. stop accepting calls and let in-flight RPCs finish until
//      Config::shutdown_deadline, then cancel the rest (a writing call still
//      queued for the call pool runs all the same, as when an answer is
//      lost on the network: the worker's retry and the reaper handle it);
//   3. stop the reaper;
//   4. close the store last (every acknowledged change is already durable).
//
// Thread-safety: Shutdown() may be called from any thread, once or more.
#ifndef CONVRNN_SERVER_SERVER_H_
#define CONVRNN_SERVER_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/store.h"
#include "server/coordinator.h"
#include "server/dashboard/dashboard.h"
#include "server/http/http_server.h"
#include "server/service.h"
#include "server/telemetry.h"
#include "server/watch.h"
#include "util/clock.h"

namespace convrnn::server {

struct ServerConfig {
  // SQLite file; created when missing.
  std::string db_path;
  // HOST:PORT to listen on; port 0 picks a free one (see Server::port()).
  std::string listen = "127.0.0.1:50051";
  // Bearer token every call must carry; empty: no authentication.
  std::string token;
  // PEM certificate chain and private key; both empty: plaintext.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Where they came from, for error messages. Default: "certificate", "key".
  std::string tls_cert_name = "certificate";
  std::string tls_key_name = "key";
  // How long in-flight RPCs may run on after a shutdown begins. Default: 10 s.
  absl::Duration shutdown_deadline = absl::Seconds(10);
  // Threads that run the WorkerService's writing calls (server/call_pool.h);
  // at most this many wait on the store at once, so it bounds a group
  // commit's batch (db/sqlite_store.h: 256 calls at most).
  int call_threads = 128;
  CoordinatorOptions coordinator;
  db::Options store;
  // The HTTP listener (/metrics, /healthz, dashboard); http.listen empty:
  // none. Its token and TLS files are set from the ones above by main.
  HttpServer::Options http;
  // The dashboard on that listener (server/dashboard/dashboard.h).
  dashboard::Dashboard::Options dashboard;
};

class Server {
 public:
  // Errors, each before anything is created: INVALID_ARGUMENT for a bad
  // TLS pair or database path (server/config_check.h), UNAVAILABLE when the
  // address cannot be bound; then the store's (bad or unreadable file). `clock` must outlive the
  // server.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerConfig& config, Clock& clock);
  // Calls Shutdown().
  ~Server();

  // The port actually bound.
  int port() const { return port_; }
  // The HTTP listener's port; 0 without one.
  int http_port() const { return http_ == nullptr ? 0 : http_->port(); }
  Coordinator& coordinator() { return *coordinator_; }

  // The phased shutdown described above; idempotent.
  void Shutdown();

 private:
  Server() = default;

  ServerConfig config_;
  int port_ = 0;
  // First, so it outlives everything that reports to it.
  std::unique_ptr<Telemetry> telemetry_;
  std::unique_ptr<db::Store> store_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<WatchHub> watch_hub_;
  std::unique_ptr<TokenAuth> auth_;
  std::unique_ptr<CampaignServiceImpl> campaign_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<HttpServer> http_;
  // Its handlers run on http_'s threads; ~Server's Shutdown() stops those
  // before any member is destroyed.
  std::unique_ptr<dashboard::Dashboard> dashboard_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

// Starts the server, logs where it listens, serves until SIGINT or SIGTERM,
// then shuts down in phases. Returns the process exit status (util/exit_code.h).
int Run(const ServerConfig& config);

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_SERVER_H_
