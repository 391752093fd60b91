// Real child processes for end-to-end tests: spawn a binary with arguments,
// capture its output in files, signal it, wait for it with a deadline.
//
// Thread-safety: one Process per thread.
#ifndef CONVRNN_TESTS_E2E_PROCESS_H_
#define CONVRNN_TESTS_E2E_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace convrnn::e2e {

class Process {
 public:
  // Starts `argv[0]` with `argv`; stdout and stderr go to `log_prefix`.out/.err.
  Process(std::vector<std::string> argv, std::string log_prefix);
  ~Process();  // SIGKILLs a child still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal);
  // Exit status (or 128 + signal), or nullopt when still running at the deadline.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_prefix_;
};

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs a command to completion (killing it after `timeout`).
RunResult Run(std::vector<std::string> argv, std::chrono::milliseconds timeout,
              const std::string& log_prefix);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();
// Waits until something accepts TCP connections on 127.0.0.1:port.
bool WaitForPort(int port, std::chrono::milliseconds timeout);
// Polls `predicate` every 100 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& predicate, std::chrono::milliseconds timeout);

// A fresh, empty directory for one test.
std::string TempDir(const std::string& name);

}  // namespace convrnn::e2e

#endif  // CONVRNN_TESTS_E2E_PROCESS_H_
