// convrnn-server --db FILE [--listen HOST:PORT] [--token-file F]
//                [--tls-cert C --tls-key K] [--sync full|normal]
//                [--http HOST:PORT [--http-open-metrics]] [--log-format text|json]
//                [--call-threads N]
// Parses flags and calls Run (server/server.h). Bad flags or unreadable
// files exit 2 with a one-line reason.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "server/server.h"
#include "util/exit_code.h"
#include "util/file.h"
#include "util/log.h"

namespace {

int BadInput(const std::string& reason) {
  std::cerr << "convrnn-server: " << reason << "\n";
  return convrnn::kExitBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  convrnn::server::ServerConfig config;
  std::string token_file, tls_cert, tls_key;
  CLI::App app{"convrnn-server: the convrnn-search coordinator"};
  app.add_option("--db", config.db_path, "SQLite database file (created when missing)")->required();
  app.add_option("--listen", config.listen, "HOST:PORT to listen on")->capture_default_str();
  app.add_option("--token-file", token_file, "file holding a bearer token every call must carry");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain (with --tls-key)");
  app.add_option("--tls-key", tls_key, "PEM private key (with --tls-cert)");
  app.add_option("--http", config.http.listen,
                 "HOST:PORT for the HTTP listener: Prometheus /metrics, /healthz and the "
                 "dashboard (HTTPS with --tls-cert/--tls-key; the --token-file token "
                 "required as `Authorization: Bearer` or a convrnn_token cookie)");
  app.add_flag("--http-open-metrics", config.http.open_metrics,
               "serve /metrics and /healthz without the token (for scrapers and probes)");
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text: time, level, component, message per line; json: one object per line "
                 "(for cluster log collectors)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  std::string sync = "full";
  app.add_option("--sync", sync,
                 "full: every acknowledged change survives a power cut (an fsync per "
                 "commit; concurrent calls share one commit); normal: every acknowledged "
                 "change survives kill -9 of the server, but the last commits may be lost "
                 "on power loss or an OS crash (no fsync per commit); a little faster "
                 "under load (docs/performance.md, Coordinator load)")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  app.add_option("--call-threads", config.call_threads,
                 "threads that run the workers' writing calls (lease, progress, "
                 "completion); more calls than this wait in a queue, not on a thread of "
                 "their own (docs/performance.md, Coordinator latency)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return BadInput(e.what());
  }

  convrnn::InitLogging(*convrnn::ParseLogFormat(log_format));  // checked by IsMember
  config.store.sync_full = sync == "full";
  if (config.listen.find(':') == std::string::npos) {
    return BadInput("--listen: must be HOST:PORT, got \"" + config.listen + "\"");
  }
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = convrnn::ReadFlagFile("--token-file", token_file);
    if (!token.ok()) return BadInput(std::string(token.status().message()));
    config.token = *std::move(token);
    const auto last = config.token.find_last_not_of(" \t\r\n");
    config.token.erase(last == std::string::npos ? 0 : last + 1);
    const auto first = config.token.find_first_not_of(" \t\r\n");
    config.token.erase(0, first == std::string::npos ? config.token.size() : first);
    if (config.token.empty()) return BadInput("--token-file: " + token_file + " is empty");
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return BadInput("--tls-cert and --tls-key go together");
  }
  if (!tls_cert.empty()) {
    absl::StatusOr<std::string> cert = convrnn::ReadFlagFile("--tls-cert", tls_cert);
    if (!cert.ok()) return BadInput(std::string(cert.status().message()));
    absl::StatusOr<std::string> key = convrnn::ReadFlagFile("--tls-key", tls_key);
    if (!key.ok()) return BadInput(std::string(key.status().message()));
    config.tls_cert_pem = *std::move(cert);
    config.tls_key_pem = *std::move(key);
    config.tls_cert_name = tls_cert;
    config.tls_key_name = tls_key;
  }
  if (!config.http.listen.empty()) {
    std::string host;
    int port = 0;
    if (!convrnn::server::SplitHostPort(config.http.listen, &host, &port)) {
      return BadInput("--http: must be HOST:PORT, got \"" + config.http.listen + "\"");
    }
    config.http.token = config.token;
    config.http.tls_cert_file = tls_cert;
    config.http.tls_key_file = tls_key;
  } else if (config.http.open_metrics) {
    return BadInput("--http-open-metrics needs --http");
  }
  return convrnn::server::Run(config);
}
