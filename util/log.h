// Operator logs of the long-running processes (convrnn-server,
// convrnn-worker in service mode) through spdlog: one line per event on
// stderr with time (UTC), level and component, as text
//   2026-11-30T15:04:05.123Z info [server] listening on 0.0.0.0:50051
// or, with `--log-format json` (for cluster log collectors), one object per line
//   {"time":"2026-11-30T15:04:05.123Z","level":"info","component":"server","pid":7,"msg":"..."}
// The client (`convrnn`) does not log: its output is for users and scripts.
// One-line bad-input errors before logging is set up stay plain stderr.
//
// Usage: InitLogging(LogFormat::kJson); Log("coordinator")->warn("skipping {}", why);
//
// Thread-safety: InitLogging once at start, before other threads log;
// Log() and the loggers it returns may be used from any thread.
#ifndef CONVRNN_UTIL_LOG_H_
#define CONVRNN_UTIL_LOG_H_

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace convrnn {

enum class LogFormat { kText, kJson };

// "text" or "json"; INVALID_ARGUMENT naming the value otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(const std::string& name);

// Makes every logger write `format` lines to stderr. Without a call: text.
void InitLogging(LogFormat format);

// The logger of `component` (created on first use, sharing the stderr sink).
std::shared_ptr<spdlog::logger> Log(const std::string& component);

}  // namespace convrnn

#endif  // CONVRNN_UTIL_LOG_H_
