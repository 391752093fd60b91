// convrnn-worker: trains architectures, standalone (--spec FILE) or for a
// coordinator (--server HOST:PORT). Flags are parsed here; the work is in
// RunStandalone(), RunService() and, for several devices, RunSupervisor().
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "util/cpu_allocation.h"
#include "util/exit_code.h"
#include "util/log.h"
#include "worker/service/service_main.h"
#include "worker/service/supervisor.h"
#include "worker/service/torch_executor.h"
#include "worker/standalone.h"
#include "worker/train/openmp_policy.h"
#include "worker/train/trainer.h"

namespace {

int BadInput(const std::string& reason) {
  std::cerr << "convrnn-worker: " << reason << std::endl;
  return convrnn::kExitBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  convrnn::UsePassiveOpenMpWait(argv);  // may re-execute this program; see openmp_policy.h
  CLI::App app{
      "convrnn-worker: train ConvRNN architectures, standalone (--spec FILE) or for a "
      "coordinator (--server HOST:PORT)"};
  convrnn::StandaloneConfig standalone;
  convrnn::ServiceConfig service;
  bool no_resume = false;
  std::string device = "cpu";
  int threads = 0;
  std::string devices;
  std::string log_format = "text";
  int slots = 1;

  // Shared.
  app.add_option("--device", device, "cpu or cuda:N")->capture_default_str();
  app.add_option("--threads", threads,
                 "Intra-op threads (default: the CPUs this process may use, from its affinity "
                 "mask, cgroup quota and SLURM_CPUS_PER_TASK, divided among worker processes)");

  // Standalone.
  CLI::Option* spec =
      app.add_option("--spec", standalone.spec_file, "Architecture spec (JSON) to train standalone")
          ->check(CLI::ExistingFile);
  std::vector<CLI::Option*> standalone_only = {
      app.add_option("--data", standalone.data_file, "Data spec (JSON); default: Fashion-MNIST")
          ->check(CLI::ExistingFile),
      app.add_option("--checkpoint-dir", standalone.checkpoint_dir,
                     "Write a checkpoint every epoch here and resume from it"),
      app.add_flag("--no-resume", no_resume, "Ignore an existing checkpoint"),
      app.add_flag("--test", standalone.evaluate_test, "Also report top-1 on the test split"),
      app.add_option("--device-data", standalone.device_data,
                     "Training batches gathered on the training device (on), by a host loader "
                     "thread (off), or on CUDA when the split fits (auto)")
          ->check(CLI::IsMember({"auto", "on", "off"}))
          ->capture_default_str(),
      app.add_flag("--dry-run", standalone.dry_run,
                   "Validate the specs and print the canonical spec, parameters and FLOPs"),
      app.add_option("--match-params", standalone.match_params,
                     "Scale every width by one multiplier to this many parameters (within "
                     "--match-tolerance) before anything else")
          ->check(CLI::PositiveNumber),
      app.add_option("--match-tolerance", standalone.match_tolerance,
                     "Relative tolerance of --match-params")
          ->capture_default_str(),
      app.add_option("--neural", standalone.neural_file,
                     "Score against these recordings (HDF5, docs/neural-data.md) instead of "
                     "training; prints one JSON line")
          ->check(CLI::ExistingFile),
      app.add_option("--checkpoint", standalone.checkpoint,
                     "With --neural: trained weights (checkpoint.pt or its directory)"),
      app.add_option("--neural-layers", standalone.neural_layers,
                     "With --neural: layer indices to score (default: all)")
          ->delimiter(','),
      app.add_option("--neural-method", standalone.neural_method, "With --neural: pls or ridge")
          ->capture_default_str(),
      app.add_option("--neural-offset", standalone.neural_offset,
                     "With --neural: bin b is predicted from model step b + offset")
          ->capture_default_str()};

  // Service.
  CLI::Option* server =
      app.add_option("--server", service.server, "Coordinator HOST:PORT: lease and train trials");
  std::vector<CLI::Option*> service_only = {
      app.add_option("--devices", devices,
                     "One supervised worker process per device: all | cpu | cuda:0,cuda:1,...; "
                     "DEVxN runs N trial slots on a device (cuda:0x4)"),
      app.add_option("--slots", slots, "Trial slots per --devices entry without xN")
          ->capture_default_str(),
      app.add_option("--min-free-memory", service.min_free_memory_mb,
                     "Lease a trial only while the device has this many MiB free (0: no check)"),
      app.add_option("--token-file", service.token_file,
                     "Send 'authorization: Bearer <token>' (the file's text) on every call"),
      app.add_option("--tls-ca", service.tls_ca_file, "PEM root certificates: connect with TLS"),
      app.add_option("--checkpoint-root", service.checkpoint_root,
                     "Checkpoints in DIR/trial-<id>/; a retried trial resumes from it when "
                     "reachable"),
      app.add_flag("--keep-checkpoints", service.keep_checkpoints,
                   "Keep a completed trial's checkpoint"),
      app.add_option("--spool-dir", service.spool_dir,
                     "Finished results wait here until the server answered and are re-sent "
                     "after a restart (default: ~/.local/state/convrnn-worker/spool/SERVER; "
                     "none: off)"),
      app.add_option("--server-down-grace", service.server_down_grace,
                     "How long to retry an unreachable server before exiting (e.g. 90s, 10m)")
          ->capture_default_str(),
      app.add_flag("--finish-on-shutdown", service.finish_on_shutdown,
                   "On SIGINT/SIGTERM finish the current trial (a second signal cancels it)"),
      app.add_option("--max-trials", service.max_trials, "Exit after this many trials"),
      app.add_flag("--simulate", service.simulate,
                   "No training: report a synthetic learning curve (load and end-to-end tests)"),
      app.add_option("--simulate-epoch-ms", service.simulate_epoch_ms,
                     "Simulated epoch length in milliseconds")
          ->capture_default_str(),
      app.add_option("--simulate-epochs", service.simulate_epochs,
                     "Simulated epochs per trial (default: the spec's)"),
      app.add_option("--log-format", log_format,
                     "text: time, level, component, message per line; json: one object per "
                     "line (for cluster log collectors)")
          ->check(CLI::IsMember({"text", "json"}))
          ->capture_default_str()};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? convrnn::kExitOk : convrnn::kExitBadInput;
  }

  if (spec->count() + server->count() != 1) {
    return BadInput("exactly one of --spec FILE (standalone) or --server HOST:PORT is required");
  }
  if (spec->count() > 0) {
    for (CLI::Option* o : service_only) {
      if (o->count() > 0) return BadInput(o->get_name() + " needs --server, not --spec");
    }
    standalone.device = device;
    standalone.threads = threads;
    standalone.resume = !no_resume;
    return convrnn::RunStandalone(standalone);
  }
  for (CLI::Option* o : standalone_only) {
    if (o->count() > 0) return BadInput(o->get_name() + " needs --spec, not --server");
  }
  convrnn::InitLogging(*convrnn::ParseLogFormat(log_format));  // checked by IsMember
  service.device = device;
  service.threads = threads;
  if (absl::StatusOr<convrnn::ServiceOptions> checked = convrnn::MakeServiceOptions(service);
      !checked.ok()) {
    return BadInput(std::string(checked.status().message()));
  }
  if (devices.empty()) {
    if (slots != 1) return BadInput("--slots needs --devices");
    return convrnn::RunService(service);
  }

  const int cuda_count = absl::StrContains(devices, "cuda") || absl::StrContains(devices, "all")
                             ? convrnn::CudaDeviceCount()
                             : 0;
  absl::StatusOr<std::vector<std::string>> list = convrnn::ParseDevices(devices, cuda_count, slots);
  if (!list.ok()) {
    std::string reason(list.status().message());
    // "cuda:N not present" with no GPU at all: say why there is none.
    if (cuda_count == 0 && absl::StrContains(devices, "cuda:")) {
      absl::StrAppend(&reason, ": ", convrnn::CudaUnavailableReason());
    }
    return BadInput(reason);
  }
  if (devices == "all" && list->front() == "cpu") {
    convrnn::Log("supervisor")
        ->warn(
            "--devices all: no CUDA device ({}); training on the CPU. Name devices (cuda:0) "
            "to fail instead.",
            convrnn::CudaUnavailableReason());
  }
  int per_child = threads > 0 ? threads : convrnn::DefaultThreads(static_cast<int>(list->size()));
  convrnn::Log("supervisor")
      ->info("{} process(es), {} intra-op thread(s) each (CPUs: {})", list->size(), per_child,
             convrnn::CurrentCpuAllocation().Explain());
  std::vector<std::string> args(argv + 1, argv + argc);
  convrnn::SupervisorOptions supervisor;
  supervisor.devices = *list;
  supervisor.mps_control =
      convrnn::FindMpsControl(*list, getenv("PATH"), getenv("CUDA_MPS_PIPE_DIRECTORY"));
  supervisor.args_for = [args, per_child](const std::string& d) {
    return convrnn::ChildArgs(args, d, per_child);
  };
  return convrnn::RunSupervisor(supervisor);
}
