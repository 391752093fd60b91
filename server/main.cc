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

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return !in.bad();
}

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
    if (!ReadFile(token_file, &config.token)) {
      return BadInput("--token-file: cannot read " + token_file);
    }
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
    if (!ReadFile(tls_cert, &config.tls_cert_pem)) {
      return BadInput("--tls-cert: cannot read " + tls_cert);
    }
    if (!ReadFile(tls_key, &config.tls_key_pem)) {
      return BadInput("--tls-key: cannot read " + tls_key);
    }
    config.tls_cert_name = tls_cert;
    config.tls_key_name = tls_key;
  }
  return convrnn::server::Run(config);
}
