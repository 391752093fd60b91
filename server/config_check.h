// Checks a server's configuration before anything is created.
//
// A garbage TLS certificate, a key that does not match it, an address that
// cannot be bound or a database folder that does not exist must be reported
// naming the file or flag, with nothing created on disk (no half-made
// database file, no raw gRPC log lines). Server::Start calls this first.
//
// Thread-safety: a pure function of its arguments (and the file system).
#ifndef CONVRNN_SERVER_CONFIG_CHECK_H_
#define CONVRNN_SERVER_CONFIG_CHECK_H_

#include <string>

#include "absl/status/status.h"

namespace convrnn::server {

// INVALID_ARGUMENT naming `cert_name` or `key_name` (the files the PEM texts
// came from) when the certificate chain or the private key cannot be parsed,
// or when the key does not belong to the first certificate.
absl::Status CheckTlsPair(const std::string& cert_pem, const std::string& cert_name,
                          const std::string& key_pem, const std::string& key_name);

// INVALID_ARGUMENT when `listen` is not HOST:PORT; UNAVAILABLE when the
// address cannot be bound now (in use, or not an address of this machine).
// Port 0 is always accepted.
absl::Status CheckListenAddress(const std::string& listen);

// INVALID_ARGUMENT when the database's folder does not exist or `db_path`
// names a folder.
absl::Status CheckDatabasePath(const std::string& db_path);

}  // namespace convrnn::server

#endif  // CONVRNN_SERVER_CONFIG_CHECK_H_
