// convrnn-worker: trains architectures, standalone (--spec) or for a
// coordinator. Flags are parsed here; the work is in RunStandalone().
#include <CLI/CLI.hpp>

#include "util/exit_code.h"
#include "worker/openmp_policy.h"
#include "worker/standalone.h"

int main(int argc, char** argv) {
  convrnn::UsePassiveOpenMpWait(argv);  // may re-execute this program; see openmp_policy.h
  CLI::App app{"convrnn-worker: train ConvRNN architectures"};
  convrnn::StandaloneConfig config;
  bool no_resume = false;
  app.add_option("--spec", config.spec_file, "Architecture spec (JSON) to train standalone")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--data", config.data_file, "Data spec (JSON); default: Fashion-MNIST")
      ->check(CLI::ExistingFile);
  app.add_option("--device", config.device, "cpu or cuda:N")->capture_default_str();
  app.add_option("--threads", config.threads,
                 "Intra-op threads (default: the cores divided among worker processes)");
  app.add_option("--checkpoint-dir", config.checkpoint_dir,
                 "Write a checkpoint every epoch here and resume from it");
  app.add_flag("--no-resume", no_resume, "Ignore an existing checkpoint");
  app.add_flag("--test", config.evaluate_test, "Also report top-1 on the test split");
  app.add_flag("--dry-run", config.dry_run,
               "Validate the specs and print the canonical spec, parameters and FLOPs");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? convrnn::kExitOk : convrnn::kExitBadInput;
  }
  config.resume = !no_resume;
  return convrnn::RunStandalone(config);
}
