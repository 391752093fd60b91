#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "server/config_check.h"
#include "server/dashboard/dashboard.h"
#include "util/exit_code.h"
#include "util/log.h"
#include "util/stage_stats.h"
#include "util/status_macros.h"

namespace convrnn::server {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerConfig& config, Clock& clock) {
  // Every check before anything is created (no database file on a bad flag).
  if (absl::Status s = CheckDatabasePath(config.db_path); !s.ok()) return s;
  if (!config.tls_cert_pem.empty() || !config.tls_key_pem.empty()) {
    if (absl::Status s = CheckTlsPair(config.tls_cert_pem, config.tls_cert_name, config.tls_key_pem,
                                      config.tls_key_name);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = CheckListenAddress(config.listen); !s.ok()) return s;
  std::unique_ptr<Server> server(new Server());
  server->config_ = config;
  server->telemetry_ = std::make_unique<Telemetry>();
  Telemetry* telemetry = server->telemetry_.get();
  db::Options store_options = config.store;
  store_options.on_commit = [telemetry, also = config.store.on_commit](absl::Duration commit,
                                                                       int calls) {
    telemetry->OnCommit(commit, calls);
    if (also) also(commit, calls);
  };
  CoordinatorOptions coordinator_options = config.coordinator;
  coordinator_options.on_leases_expired = [telemetry](int trials, int scores) {
    telemetry->OnLeasesExpired(trials, scores);
  };
  ASSIGN_OR_RETURN(server->store_, db::Store::Open(config.db_path, store_options));
  ASSIGN_OR_RETURN(server->coordinator_,
                   Coordinator::Create(*server->store_, clock, coordinator_options));
  server->watch_hub_ = std::make_unique<WatchHub>(*server->coordinator_);
  server->auth_ = std::make_unique<TokenAuth>(config.token);
  server->campaign_service_ = std::make_unique<CampaignServiceImpl>(
      *server->coordinator_, *server->watch_hub_, *server->auth_);
  server->worker_service_ = std::make_unique<WorkerServiceImpl>(
      *server->coordinator_, *server->auth_, config.call_threads);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (!config.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({config.tls_key_pem, config.tls_cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
  } else {
    credentials = grpc::InsecureServerCredentials();
  }
  builder.AddListeningPort(config.listen, credentials, &server->port_);
  builder.RegisterService(server->campaign_service_.get());
  builder.RegisterService(server->worker_service_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(telemetry->InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || server->port_ == 0) {
    server->grpc_server_.reset();
    server->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen, " (address in use or invalid?)"));
  }
  if (!config.http.listen.empty()) {
    server->http_ = std::make_unique<HttpServer>(config.http);
    server->http_->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
      response.set_content("ok\n", "text/plain");
    });
    Coordinator* coordinator = server->coordinator_.get();
    server->http_->Get("/metrics", [telemetry, coordinator, &clock](const httplib::Request&,
                                                                    httplib::Response& response) {
      response.set_content(telemetry->Scrape(*coordinator, clock.NowMicros()),
                           "text/plain; version=0.0.4; charset=utf-8");
    });
    server->dashboard_ =
        std::make_unique<dashboard::Dashboard>(*server->coordinator_, clock, config.dashboard);
    server->dashboard_->Register(*server->http_);
    if (absl::Status started = server->http_->Start(); !started.ok()) {
      server->Shutdown();
      return started;
    }
  }
  return server;
}

Server::~Server() { Shutdown(); }

void Server::Shutdown() {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  // 0. The HTTP listener, whose handlers read the coordinator.
  if (http_ != nullptr) http_->Shutdown();
  // 1. Watch streams would otherwise hold the drain until its deadline.
  if (watch_hub_ != nullptr) watch_hub_->Stop();
  // 2. Stop accepting; let in-flight RPCs finish, then cancel stragglers.
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() +
                           absl::ToChronoMilliseconds(config_.shutdown_deadline));
    grpc_server_->Wait();
  }
  // 3. The reaper (and any watcher still waiting on events).
  if (coordinator_ != nullptr) coordinator_->Shutdown();
  // 4. The store last.
  coordinator_.reset();
  watch_hub_.reset();
  store_.reset();
}

int Run(const ServerConfig& config) {
  // Block the signals in every thread (gRPC's inherit the mask) and take them
  // synchronously here, so shutdown runs on an ordinary thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::shared_ptr<spdlog::logger> log = Log("server");
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config, *Clock::Real());
  if (!server.ok()) {
    log->error(std::string(server.status().message()));
    return server.status().code() == absl::StatusCode::kUnavailable ? kExitFailure : kExitBadInput;
  }
  log->info("listening on {} (port {}), database {}{}{}", config.listen, (*server)->port(),
            config.db_path, config.tls_cert_pem.empty() ? ", plaintext" : ", TLS",
            config.token.empty() ? "" : ", token required");
  if ((*server)->http_port() != 0) {
    log->info("HTTP on {} (port {}, {}{})", config.http.listen, (*server)->http_port(),
              config.tls_cert_pem.empty() ? "http" : "https",
              config.http.open_metrics ? ", /metrics and /healthz open" : "");
  }
  // SIGUSR1 prints the stage timings so far and starts them afresh (the load
  // bench measures its window only); SIGINT and SIGTERM stop the server.
  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGUSR1) {
    std::cerr << "convrnn-server: stage timings (SIGUSR1), reset\n" << StageTable();
    ResetStages();
  }
  log->warn("{}, shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Shutdown();
  if (const char* stats = std::getenv("CONVRNN_STAGE_STATS"); stats != nullptr && *stats == '1') {
    std::cerr << "convrnn-server: stage timings since start or the last SIGUSR1\n" << StageTable();
  }
  log->info("stopped");
  return kExitOk;
}

}  // namespace convrnn::server
