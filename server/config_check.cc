#include "server/config_check.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace convrnn::server {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

Bio MemoryBio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// OpenSSL's own reason for the last failure, for the message; clears its queue.
std::string OpenSslReason() {
  const unsigned long code = ERR_peek_last_error();
  std::string reason = code == 0                       ? ""
                       : ERR_reason_error_string(code) ? ERR_reason_error_string(code)
                                                       : "";
  ERR_clear_error();
  return reason.empty() ? "" : absl::StrCat(" (", reason, ")");
}

}  // namespace

absl::Status CheckTlsPair(const std::string& cert_pem, const std::string& cert_name,
                          const std::string& key_pem, const std::string& key_name) {
  ERR_clear_error();
  Bio cert_bio = MemoryBio(cert_pem);
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-cert: ", cert_name, " holds no PEM certificate", OpenSslReason()));
  }
  // Every further certificate of the chain must parse too.
  while (true) {
    std::unique_ptr<X509, X509Free> next(
        PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    if (next == nullptr) break;
  }
  ERR_clear_error();  // the loop ends on "no start line"
  Bio key_bio = MemoryBio(key_pem);
  // A null password callback with an empty password: an encrypted key fails
  // here instead of prompting on the terminal.
  char empty[] = "";
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, empty));
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key: ", key_name, " holds no unencrypted PEM private key", OpenSslReason()));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key: ", key_name, " is not the private key of the certificate in ", cert_name));
  }
  return absl::OkStatus();
}

absl::Status CheckListenAddress(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen: must be HOST:PORT with a port in [0, 65535], got \"", listen, "\""));
  }
  if (port == 0) return absl::OkStatus();
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: cannot resolve host \"", host, "\""));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, &freeaddrinfo);
  const int fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError("--listen: cannot create a socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as gRPC binds
  const bool bound = bind(fd, found->ai_addr, found->ai_addrlen) == 0;
  close(fd);
  if (!bound) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " (address in use or not of this machine)"));
  }
  return absl::OkStatus();
}

absl::Status CheckDatabasePath(const std::string& db_path) {
  if (db_path.empty()) return absl::InvalidArgumentError("--db: must name a file");
  struct stat st {};
  if (stat(db_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("--db: ", db_path, " is a folder"));
  }
  const size_t slash = db_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : db_path.substr(0, slash + 1);
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--db: folder ", dir, " of ", db_path, " does not exist"));
  }
  return absl::OkStatus();
}

}  // namespace convrnn::server
