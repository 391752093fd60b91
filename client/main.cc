// convrnn: the command line of convrnn-search (DESIGN.md §7 "Commands").
// Parses flags and hands a ClientConfig to Run().
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "client/client.h"
#include "util/exit_code.h"

int main(int argc, char** argv) {
  convrnn::client::ClientConfig config;
  if (const char* env = std::getenv("CONVRNN_SERVER"); env != nullptr && *env != '\0') {
    config.server = env;
  }

  CLI::App app{"convrnn: launch, watch and query ConvRNN architecture-search campaigns"};
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  app.add_option("--server", config.server, "convrnn-server HOST:PORT (env CONVRNN_SERVER)");
  app.add_flag("--json", config.json, "Print machine-readable JSON");
  app.add_option("--token-file", config.token_file, "File with the server's bearer token");
  app.add_option("--tls-ca", config.tls_ca, "PEM of the CA of the server's TLS certificate");
  app.add_option("--timeout", config.timeout_s, "Deadline of each request, in seconds");

  // Ids are positive integers (proto convention); say so in plain words.
  const CLI::Validator positive(
      [](std::string& text) -> std::string {
        try {
          size_t used = 0;
          if (std::stoll(text, &used) > 0 && used == text.size()) return "";
        } catch (const std::exception&) {
        }
        return "'" + text + "' is not a positive integer";
      },
      "POSITIVE");
  auto campaign_id = [&config, &positive](CLI::App* sub) {
    sub->add_option("ID", config.id, "Campaign id")->required()->check(positive);
  };

  CLI::App* launch = app.add_subcommand("launch", "Launch a campaign from its JSON file");
  launch->add_option("FILE", config.file, "Campaign JSON")->required();
  launch->add_option("--request-id", config.request_id,
                     "Id that makes the launch idempotent (default: 32 random hex digits): the "
                     "server answers a repeated id with the campaign it already made, and refuses "
                     "it (exit 2) for a different file. Up to 128 of A-Z a-z 0-9 - _ . :");
  launch->footer(
      "A launch whose reply is lost (timeout, dropped connection, restarting server) is sent "
      "again with the same request id, up to 5 attempts over about 8 s plus each --timeout: it "
      "never creates a second campaign. If all fail, the message names the id to retry with.");
  app.add_subcommand("campaigns", "List campaigns");
  campaign_id(app.add_subcommand("status", "One campaign's state and trial counts"));
  campaign_id(app.add_subcommand("watch", "Follow a campaign live until it ends"));
  CLI::App* trials = app.add_subcommand("trials", "List a campaign's trials");
  campaign_id(trials);
  trials->add_option(
      "--state", config.state,
      "Only trials in this state: pending, leased, running, completed, failed, pruned");
  CLI::App* best = app.add_subcommand("best", "Top trials by a metric");
  campaign_id(best);
  best->add_option("--top", config.top, "How many (default 10)")->check(positive);
  best->add_option("--metric", config.metric, "Metric to rank by (default: first objective)");
  CLI::App* pareto = app.add_subcommand("pareto", "Pareto front (default val_top1 vs params)");
  campaign_id(pareto);
  pareto->add_option("--objective", config.objectives,
                     "metric:max or metric:min, repeatable (default val_top1:max params:min)");
  CLI::App* show = app.add_subcommand("show", "One trial: its architecture, metrics and curve");
  show->add_option("TRIAL", config.id, "Trial id")->required()->check(positive);
  show->add_option("--format", config.format, "text, json or dot (Graphviz)")
      ->check(CLI::IsMember({"text", "json", "dot"}));
  CLI::App* exp = app.add_subcommand(
      "export", "Every trial with its learning curve, as CSV, JSON, JSON lines or an Optuna study");
  campaign_id(exp);
  exp->add_option("--format", config.format, "csv, json, jsonl or optuna")
      ->required()
      ->check(CLI::IsMember({"csv", "json", "jsonl", "optuna"}));
  exp->add_option("--output", config.output, "Write to this file instead of stdout");
  exp->add_option("--storage", config.storage,
                  "With --format optuna: sqlite:///FILE, a new file for the study");
  CLI::App* importance =
      app.add_subcommand("importance", "Which searched parameters explain a metric (fANOVA)");
  campaign_id(importance);
  importance->add_option("--metric", config.metric, "Final metric (default: first objective)");
  campaign_id(app.add_subcommand("stop", "Stop leasing a campaign's trials"));
  campaign_id(app.add_subcommand("resume", "Resume a stopped campaign"));
  CLI::App* score = app.add_subcommand(
      "score", "Score a completed trial's neural predictivity on a worker and print the report");
  score->add_option("TRIAL", config.id, "Trial id")->required()->check(positive);
  score
      ->add_option("--neural", config.neural_file,
                   "HDF5 recordings (docs/neural-data.md); the path is read on the worker")
      ->required();
  score->add_option("--method", config.neural_method, "pls or ridge")
      ->check(CLI::IsMember({"pls", "ridge"}));
  score->add_option("--layers", config.neural_layers, "Layer indices to score (default: all)")
      ->delimiter(',');
  score->add_option("--offset", config.neural_offset,
                    "Bin b is predicted from model step b + offset");
  score->add_option("--wait", config.wait_s, "Give up waiting after this many seconds");
  CLI::App* enqueue = app.add_subcommand("enqueue", "Add trials with fixed specs to a campaign");
  campaign_id(enqueue);
  enqueue->add_option("SPEC", config.spec_files, "Architecture spec JSON files")->required();
  CLI::App* extend = app.add_subcommand("extend", "Raise a campaign's trial budget");
  campaign_id(extend);
  extend->add_option("--max-trials", config.max_trials, "The new max_trials")->required();
  extend->add_option("--max-parallel", config.max_parallel, "The new max_parallel");
  CLI::App* median = app.add_subcommand("median", "The median architecture of the top-K trials");
  campaign_id(median);
  median->add_option("--top", config.top, "K")->required()->check(positive);
  median->add_flag("--enqueue", config.enqueue, "Also queue it in the campaign");
  CLI::App* enrichment =
      app.add_subcommand("enrichment", "Feedback edges and cell types shared by the top-K");
  campaign_id(enrichment);
  enrichment->add_option("--top", config.top, "K")->required()->check(positive);
  CLI::App* compare =
      app.add_subcommand("compare", "Objective and size per cell type or parameter value");
  campaign_id(compare);
  compare->add_option("--by", config.by, "cell_type or a parameter name")->required();
  CLI::App* workers = app.add_subcommand("workers", "Registered workers");
  workers->add_flag("--all", config.include_dead, "Include workers presumed dead");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line on stderr and exit 2 (bad input), like every other error.
    std::cerr << "convrnn: " << e.what() << " (see convrnn --help)" << std::endl;
    return convrnn::kExitBadInput;
  }
  config.command = app.get_subcommands().front()->get_name();
  return convrnn::client::Run(config, std::cout, std::cerr);
}
