// The `convrnn` command line as a function: main() parses flags into a
// ClientConfig and calls Run(), which connects, runs one command and maps
// its error to an exit status (util/exit_code.h).
//
// Thread-safety: Run is called once per process.
#ifndef CONVRNN_CLIENT_CLIENT_H_
#define CONVRNN_CLIENT_CLIENT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace convrnn::client {

struct ClientConfig {
  // HOST:PORT of convrnn-server (flag --server, env CONVRNN_SERVER).
  std::string server = "127.0.0.1:50051";
  // Print machine-readable JSON (--json).
  bool json = false;
  // File holding the bearer token the server expects; empty: none.
  std::string token_file;
  // PEM file of the CA that signed the server's certificate; empty: plaintext.
  std::string tls_ca;
  // Deadline of each unary RPC, in seconds.
  double timeout_s = 10;

  // The command ("launch", "campaigns", ...) and its arguments; fields a
  // command does not use are ignored.
  std::string command;
  std::string file;                     // launch
  std::string request_id;               // launch --request-id (empty: a random one)
  int64_t id = 0;                       // campaign id, or trial id for show
  std::string state;                    // trials --state
  int top = 0;                          // best --top (0: server default, 10)
  std::string metric;                   // best --metric, importance --metric
  std::vector<std::string> objectives;  // pareto --objective
  std::string format;                   // show --format, export --format
  std::string output;                   // export --output
  std::string storage;                  // export --format optuna --storage sqlite:///F
  bool include_dead = false;            // workers --all
  std::vector<std::string> spec_files;  // enqueue SPEC...
  int max_trials = 0;                   // extend --max-trials
  int max_parallel = 0;                 // extend --max-parallel (0: keep)
  bool enqueue = false;                 // median --enqueue
  std::string by;                       // compare --by
  // score TRIAL --neural FILE.h5 [--method M] [--layers 0,1] [--offset K] [--wait S]
  std::string neural_file;
  std::string neural_method = "pls";
  std::vector<int> neural_layers;
  int neural_offset = 0;
  double wait_s = 3600;
};

// Runs config.command; stdout gets the result, `err` the one-line reason.
// Returns the process exit status.
int Run(const ClientConfig& config, std::ostream& out, std::ostream& err);

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_CLIENT_H_
