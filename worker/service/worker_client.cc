#include "worker/service/worker_client.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace convrnn {

bool IsUnreachable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

bool IsTransient(const grpc::Status& status) {
  return IsUnreachable(status) || status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

std::shared_ptr<grpc::Channel> MakeWorkerChannel(const std::string& server,
                                                 const std::string& tls_ca_pem) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (tls_ca_pem.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls_ca_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  // Reconnect quickly once the server is back: our own backoff paces the
  // retries, the channel's should not add minutes on top.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  return grpc::CreateCustomChannel(server, credentials, args);
}

WorkerClient::WorkerClient(Options options)
    : options_(std::move(options)),
      channel_(MakeWorkerChannel(options_.server, options_.tls_ca_pem)),
      stub_(v1::WorkerService::NewStub(channel_)),
      retry_seed_(options_.seed) {}

std::unique_ptr<grpc::ClientContext> WorkerClient::NewContext(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.token);
  }
  absl::Duration deadline = options_.rpc_timeout;
  if (timeout > absl::ZeroDuration() && timeout < deadline) deadline = timeout;
  // gRPC deadlines are wall-clock time, whatever clock paces our retries.
  context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return context;
}

void WorkerClient::NoteResult(const grpc::Status& status) {
  std::string line;
  {
    absl::MutexLock lock(&mu_);
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      // The server answered but cannot write (disk full): not an outage.
      if (!storage_full_) {
        line = absl::StrCat("the server cannot store anything (", status.error_message(),
                            "); retrying until it can");
      }
      storage_full_ = true;
    } else if (IsUnreachable(status)) {
      if (unreachable_since_us_ == 0) {
        unreachable_since_us_ = options_.clock->NowMicros();
        line =
            absl::StrCat("server unreachable (", status.error_message(), "); retrying for up to ",
                         absl::FormatDuration(options_.server_down_grace));
      }
    } else if (unreachable_since_us_ != 0) {
      line = absl::StrCat("server reachable again after ",
                          absl::FormatDuration(absl::Microseconds(options_.clock->NowMicros() -
                                                                  unreachable_since_us_)));
      unreachable_since_us_ = 0;
    }
    if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED && storage_full_ &&
        !IsUnreachable(status)) {
      storage_full_ = false;
      if (line.empty()) line = "the server stores again";
    }
  }
  if (!line.empty() && options_.log) options_.log(line);
}

bool WorkerClient::GraceExceeded() {
  absl::MutexLock lock(&mu_);
  return unreachable_since_us_ != 0 && options_.clock->NowMicros() - unreachable_since_us_ >
                                           absl::ToInt64Microseconds(options_.server_down_grace);
}

grpc::Status WorkerClient::Once(const std::function<grpc::Status(grpc::ClientContext*)>& attempt,
                                absl::Duration timeout) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(timeout);
  grpc::Status status = attempt(context.get());
  NoteResult(status);
  return status;
}

grpc::Status WorkerClient::Retry(absl::string_view what,
                                 const std::function<grpc::Status(grpc::ClientContext*)>& attempt,
                                 absl::Notification* interrupt) {
  uint64_t seed;
  {
    absl::MutexLock lock(&mu_);
    seed = retry_seed_++;
  }
  Backoff backoff(options_.backoff, seed);
  while (true) {
    grpc::Status status = Once(attempt);
    if (!IsTransient(status) || GraceExceeded()) return status;
    int64_t wake = options_.clock->NowMicros() + absl::ToInt64Microseconds(backoff.Next());
    if (!options_.clock->SleepUntil(wake, interrupt)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, absl::StrCat(what, ": interrupted"));
    }
  }
}

}  // namespace convrnn
