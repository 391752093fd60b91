// Configuration is checked before anything is created (issue 9 item 8): a
// garbage TLS certificate, a key of another certificate, an address in use
// or a missing database folder are refused naming the file or flag, and no
// database file appears. Two `authorization` headers are refused.
#include "server/config_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "server/server.h"
#include "tests/server/in_process_server.h"
#include "tests/server/test_util.h"

namespace convrnn::server::testing {
namespace {

// A fresh self-signed P-256 certificate and its key, as PEM.
struct Pem {
  std::string cert, key;
};

Pem SelfSigned(const std::string& name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
  auto to_pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(size));
    BIO_free(bio);
    return out;
  };
  Pem pem;
  pem.cert = to_pem([&](BIO* b) { PEM_write_bio_X509(b, cert); });
  pem.key = to_pem(
      [&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

// Server::Start with the given TLS pair; the database must not appear on failure.
absl::Status StartWith(const TempDir& dir, const std::string& cert, const std::string& key,
                       const std::string& listen = "127.0.0.1:0") {
  ServerConfig config;
  config.db_path = dir.File("server.db");
  config.listen = listen;
  config.tls_cert_pem = cert;
  config.tls_key_pem = key;
  config.tls_cert_name = "cert.pem";
  config.tls_key_name = "key.pem";
  config.coordinator.start_reaper = false;
  FakeClock clock;
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config, clock);
  if (!server.ok()) {
    CHECK_FALSE(std::filesystem::exists(config.db_path));
    return server.status();
  }
  (*server)->Shutdown();
  return absl::OkStatus();
}

TEST_CASE("a garbage certificate or a key of another one is refused by name", "[server]") {
  TempDir dir;
  const Pem good = SelfSigned("good"), other = SelfSigned("other");
  absl::Status garbage = StartWith(dir, "-----BEGIN CERTIFICATE-----\nnot base64\n", good.key);
  CHECK(garbage.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(garbage.message()).rfind("--tls-cert: cert.pem holds no PEM certificate", 0) ==
        0);
  absl::Status no_key = StartWith(dir, good.cert, "hello");
  CHECK(no_key.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(no_key.message()).rfind("--tls-key: key.pem holds no", 0) == 0);
  absl::Status mismatch = StartWith(dir, good.cert, other.key);
  CHECK(mismatch.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(mismatch.message()) ==
        "--tls-key: key.pem is not the private key of the certificate in cert.pem");
  // The matching pair starts (and only now is the database created).
  MustOk(StartWith(dir, good.cert, good.key));
  CHECK(std::filesystem::exists(dir.File("server.db")));
}

TEST_CASE("an address in use or a missing folder is refused before the database", "[server]") {
  TempDir dir;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(fd, 1) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string busy = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  absl::Status in_use = StartWith(dir, "", "", busy);
  close(fd);
  CHECK(in_use.code() == absl::StatusCode::kUnavailable);
  CHECK(std::string(in_use.message()).find(busy) != std::string::npos);

  CHECK(CheckListenAddress("nonsense").code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckListenAddress("127.0.0.1:99999").code() == absl::StatusCode::kInvalidArgument);
  CHECK(CheckDatabasePath(dir.File("no/such/folder/x.db")).code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(CheckDatabasePath(dir.str()).code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("two authorization headers are refused", "[server]") {
  InProcessServer s("s3cret");
  v1::ListCampaignsRequest request;
  v1::ListCampaignsResponse response;
  auto call = [&](std::vector<std::string> tokens) {
    grpc::ClientContext context;
    for (const std::string& t : tokens) context.AddMetadata("authorization", "Bearer " + t);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return s.campaigns->ListCampaigns(&context, request, &response);
  };
  CHECK(call({"s3cret"}).ok());
  grpc::Status twice = call({"s3cret", "s3cret"});
  CHECK(twice.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(call({"guess", "s3cret"}).error_code() == grpc::StatusCode::UNAUTHENTICATED);
  s.server->Shutdown();
}

}  // namespace
}  // namespace convrnn::server::testing
