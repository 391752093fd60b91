#include "worker/service/service_main.h"

#include <signal.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "util/exit_code.h"
#include "util/file.h"
#include "util/log.h"
#include "util/status_macros.h"
#include "worker/service/completion_spool.h"
#include "worker/service/simulate.h"
#include "worker/service/torch_executor.h"

namespace convrnn {

absl::StatusOr<ServiceOptions> MakeServiceOptions(const ServiceConfig& config) {
  ServiceOptions options;
  if (config.server.empty()) return absl::InvalidArgumentError("--server: HOST:PORT is required");
  options.server = config.server;
  options.device = config.device;
  options.checkpoint_root = config.checkpoint_root;
  options.remove_checkpoint_on_complete = !config.keep_checkpoints;
  options.spool_dir = config.spool_dir == "none" ? ""
                      : config.spool_dir.empty() ? DefaultSpoolDir(config.server)
                                                 : config.spool_dir;
  options.max_trials = config.max_trials;
  if (config.min_free_memory_mb < 0) {
    return absl::InvalidArgumentError("--min-free-memory: must be >= 0 (MiB)");
  }
  options.min_free_memory = config.min_free_memory_mb << 20;
  if (!absl::ParseDuration(config.server_down_grace, &options.server_down_grace) ||
      options.server_down_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("--server-down-grace: '",
                                                   config.server_down_grace,
                                                   "' is not a duration such as 90s or 10m"));
  }
  if (!config.token_file.empty()) {
    ASSIGN_OR_RETURN(std::string token, ReadFlagFile("--token-file", config.token_file));
    options.token = std::string(absl::StripAsciiWhitespace(token));
    if (options.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: ", config.token_file, " is empty"));
    }
  }
  if (!config.tls_ca_file.empty()) {
    ASSIGN_OR_RETURN(std::string pem, ReadFlagFile("--tls-ca", config.tls_ca_file));
    options.tls_ca_pem = pem;
  }
  if (config.simulate && (config.simulate_epoch_ms < 0 || config.simulate_epochs < 0)) {
    return absl::InvalidArgumentError("--simulate-epoch-ms and --simulate-epochs must be >= 0");
  }
  return options;
}

int RunService(const ServiceConfig& config) {
  absl::StatusOr<ServiceOptions> options = MakeServiceOptions(config);
  if (!options.ok()) {
    std::cerr << "convrnn-worker: " << options.status().message() << std::endl;
    return ExitCodeFor(options.status());
  }
  // Signals are taken by one thread with sigwait; block them before any
  // other thread (gRPC's, LibTorch's) exists so all inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<TrialExecutor> executor;
  if (config.simulate) {
    SimulateOptions simulate;
    simulate.epoch_time = absl::Milliseconds(config.simulate_epoch_ms);
    simulate.epochs = config.simulate_epochs;
    executor = NewSimulatedExecutor(simulate);
  } else {
    TorchExecutorOptions torch;
    torch.device = config.device;
    torch.threads = config.threads;
    executor = NewTorchExecutor(torch);
  }
  absl::StatusOr<std::unique_ptr<ServiceLoop>> loop =
      ServiceLoop::Create(*std::move(options), executor.get());
  if (!loop.ok()) {
    std::cerr << "convrnn-worker: " << loop.status().message() << std::endl;
    return ExitCodeFor(loop.status());
  }
  // Leaked on purpose: the signal thread may use them until the process ends.
  ServiceLoop* service = loop->release();
  executor.release();
  const bool finish_first = config.finish_on_shutdown;
  // Detached: it may still wait in sigwait when Run() returns and main exits.
  std::thread([service, signals, finish_first]() mutable {
    for (int received = 0;; ++received) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) return;
      Log("worker")->warn("{}{}", strsignal(sig),
                          received == 0 && finish_first
                              ? ": no new trials; finishing the current one (signal again to "
                                "cancel it)"
                              : ": no new trials; cancelling the current one");
      service->Shutdown(/*cancel_current_trial=*/received > 0 || !finish_first);
    }
  }).detach();

  absl::Status status = service->Run();
  if (!status.ok()) {
    Log("worker")->error(std::string(status.message()));
    return status.code() == absl::StatusCode::kInvalidArgument ? kExitBadInput : kExitFailure;
  }
  return kExitOk;
}

}  // namespace convrnn
