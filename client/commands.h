// The `convrnn` commands, one function each (DESIGN.md §7 "Commands").
//
// Each takes the connection and output through CommandEnv, writes its
// result to env.out (a table or text, or JSON when env.json), and returns
// the error as a value; Run() turns it into the one-line reason on stderr
// and the exit status (2 bad input, 1 anything else).
//
// Thread-safety: one command at a time per CommandEnv.
#ifndef CONVRNN_CLIENT_COMMANDS_H_
#define CONVRNN_CLIENT_COMMANDS_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/campaign_client.h"
#include "util/clock.h"

namespace convrnn::client {

struct CommandEnv {
  CampaignClient* client = nullptr;
  std::ostream* out = nullptr;
  // Progress notes that are not the result (watch reconnecting).
  std::ostream* err = nullptr;
  // Machine-readable JSON instead of tables and text.
  bool json = false;
  // env.out is a terminal: `watch` redraws in place instead of logging lines.
  bool tty = false;
  // Every wait (watch reconnects, score polls, redraws) and "now"; never null.
  Clock* clock = Clock::Real();
};

// Reads FILE, refuses text that is not JSON locally, sends it; prints the
// new campaign. The launch carries `request_id` (NewRequestId() when empty):
// when its reply is lost (UNAVAILABLE or DEADLINE_EXCEEDED: a deadline, a
// dropped connection, a restarting server) it is sent again with the same
// id, up to kLaunchAttempts times in all, waiting kLaunchFirstBackoff and
// then twice as long each time (env.clock). The server answers an id it
// has seen with the campaign it made then, so a retry never makes a second
// campaign. Each retry is noted on env.err; the final error names the id.
inline constexpr int kLaunchAttempts = 5;
inline constexpr absl::Duration kLaunchFirstBackoff = absl::Milliseconds(500);
absl::Status LaunchCommand(const CommandEnv& env, const std::string& file,
                           const std::string& request_id = "");
// 128 random bits as 32 lowercase hex digits: one per `convrnn launch`.
std::string NewRequestId();
absl::Status CampaignsCommand(const CommandEnv& env);
absl::Status StatusCommand(const CommandEnv& env, int64_t campaign_id);
// Streams events until the campaign ends (or the server ends the stream).
// JSON: one object per event per line. A stream the server drops after
// delivering events (a coordinator restart) is resumed after the last event
// seen, for up to kWatchReconnectSeconds without news.
inline constexpr int kWatchReconnectSeconds = 60;
absl::Status WatchCommand(const CommandEnv& env, int64_t campaign_id);
// `state`: a trial state name, or empty for every state.
absl::Status TrialsCommand(const CommandEnv& env, int64_t campaign_id, const std::string& state);
// `top` 0 and `metric` empty take the server's defaults (10, first objective).
absl::Status BestCommand(const CommandEnv& env, int64_t campaign_id, int top,
                         const std::string& metric);
// `objectives` as "metric:goal"; empty: val_top1:max against params:min.
absl::Status ParetoCommand(const CommandEnv& env, int64_t campaign_id,
                           const std::vector<std::string>& objectives);
// `format`: text | json | dot (env.json also selects json).
absl::Status ShowCommand(const CommandEnv& env, int64_t trial_id, const std::string& format);
// `format`: csv | json | jsonl, streamed (ExportTrials; server/export.h
// says what each holds). `output` empty: the document goes to env.out;
// otherwise it is written to that file and a one-line summary is printed.
// `format` optuna writes an Optuna study to `storage` (sqlite:///FILE) instead.
absl::Status ExportCommand(const CommandEnv& env, int64_t campaign_id, const std::string& format,
                           const std::string& output, const std::string& storage);
// `export ID --format optuna --storage sqlite:///FILE` (client/optuna_export.h).
absl::Status OptunaExportCommand(const CommandEnv& env, int64_t campaign_id,
                                 const std::string& storage);
// fANOVA importance of the searched parameters for `metric` (empty: the
// first objective): a ranked table with bars, or JSON.
absl::Status ImportanceCommand(const CommandEnv& env, int64_t campaign_id,
                               const std::string& metric);
absl::Status StopCommand(const CommandEnv& env, int64_t campaign_id);
absl::Status ResumeCommand(const CommandEnv& env, int64_t campaign_id);
absl::Status WorkersCommand(const CommandEnv& env, bool include_dead);

// What `convrnn score` asks for (the neural section, spec/neural_spec.h).
struct ScoreArgs {
  std::string file;  // HDF5 recordings: a path on the workers
  std::string method = "pls";
  std::vector<int> layers;  // empty: every layer
  int offset = 0;
  double wait_s = 3600;  // give up waiting after this long (the job stays queued)
  double poll_s = 0.5;   // GetScore period
};
// Queues a scoring job for a completed trial, waits for a worker to run it
// and prints the report (tables, or JSON). A job that failed is an error
// with the worker's reason and code (a missing or malformed file, no
// checkpoint: bad input, exit 2).
absl::Status ScoreCommand(const CommandEnv& env, int64_t trial_id, const ScoreArgs& args);

}  // namespace convrnn::client

#endif  // CONVRNN_CLIENT_COMMANDS_H_
