// convrnn-server --db FILE [--listen HOST:PORT] [--token-file F]
//                [--tls-cert C --tls-key K] [--sync full|normal]
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
  std::string sync = "full";
  app.add_option("--sync", sync,
                 "full: every acknowledged change survives a power cut (an fsync per "
                 "commit; concurrent calls share one commit); normal: every acknowledged "
                 "change survives kill -9 of the server, but the last commits may be lost "
                 "on power loss or an OS crash (no fsync per commit); a little faster "
                 "under load (docs/performance.md, Coordinator load)")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return BadInput(e.what());
  }

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
  }
  return convrnn::server::Run(config);
}
