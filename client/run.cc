#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/campaign_client.h"
#include "client/client.h"
#include "client/commands.h"
#include "client/format.h"
#include "client/plan_commands.h"
#include "util/exit_code.h"
#include "util/file.h"
#include "util/status_macros.h"

namespace convrnn::client {
namespace {

absl::Status Dispatch(const ClientConfig& c, const CommandEnv& env) {
  const std::string& cmd = c.command;
  if (cmd == "launch") return LaunchCommand(env, c.file, c.request_id);
  if (cmd == "campaigns") return CampaignsCommand(env);
  if (cmd == "status") return StatusCommand(env, c.id);
  if (cmd == "watch") return WatchCommand(env, c.id);
  if (cmd == "trials") return TrialsCommand(env, c.id, c.state);
  if (cmd == "best") return BestCommand(env, c.id, c.top, c.metric);
  if (cmd == "pareto") return ParetoCommand(env, c.id, c.objectives);
  if (cmd == "show") return ShowCommand(env, c.id, c.format);
  if (cmd == "export") return ExportCommand(env, c.id, c.format, c.output, c.storage);
  if (cmd == "importance") return ImportanceCommand(env, c.id, c.metric);
  if (cmd == "stop") return StopCommand(env, c.id);
  if (cmd == "resume") return ResumeCommand(env, c.id);
  if (cmd == "workers") return WorkersCommand(env, c.include_dead);
  if (cmd == "enqueue") return EnqueueCommand(env, c.id, c.spec_files);
  if (cmd == "extend") return ExtendCommand(env, c.id, c.max_trials, c.max_parallel);
  if (cmd == "median") return MedianCommand(env, c.id, c.top, c.enqueue);
  if (cmd == "enrichment") return EnrichmentCommand(env, c.id, c.top);
  if (cmd == "compare") return CompareCommand(env, c.id, c.by);
  if (cmd == "score") {
    ScoreArgs args;
    args.file = c.neural_file;
    args.method = c.neural_method;
    args.layers = c.neural_layers;
    args.offset = c.neural_offset;
    args.wait_s = c.wait_s;
    return ScoreCommand(env, c.id, args);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown command '", cmd, "'"));
}

absl::Status RunCommand(const ClientConfig& config, std::ostream& out, std::ostream& err) {
  ConnectionOptions options;
  options.server = config.server;
  if (!(config.timeout_s > 0)) return absl::InvalidArgumentError("--timeout: must be positive");
  options.rpc_timeout = absl::Seconds(config.timeout_s);
  if (!config.token_file.empty()) {
    ASSIGN_OR_RETURN(options.token, ReadFlagFile("--token-file", config.token_file));
    absl::StripAsciiWhitespace(&options.token);
    // An empty file would silently send no token at all.
    if (options.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: ", config.token_file, " is empty"));
    }
  }
  if (!config.tls_ca.empty()) {
    ASSIGN_OR_RETURN(options.tls_ca_pem, ReadFlagFile("--tls-ca", config.tls_ca));
  }
  CampaignClient client(std::move(options));
  CommandEnv env;
  env.client = &client;
  env.out = &out;
  env.err = &err;
  env.json = config.json;
  env.tty = &out == &std::cout && isatty(STDOUT_FILENO);
  return Dispatch(config, env);
}

}  // namespace

int Run(const ClientConfig& config, std::ostream& out, std::ostream& err) {
  absl::Status status = RunCommand(config, out, err);
  out.flush();
  if (!status.ok())
    err << "convrnn " << config.command << ": " << TerminalSafe(status.message()) << std::endl;
  return ExitCodeFor(status);
}

}  // namespace convrnn::client
