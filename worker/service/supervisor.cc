#include "worker/service/supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <limits>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "util/exit_code.h"

namespace convrnn {

absl::StatusOr<std::vector<std::string>> ParseDevices(absl::string_view devices, int cuda_count) {
  std::vector<std::string> out;
  if (devices == "all") {
    for (int i = 0; i < cuda_count; ++i) out.push_back(absl::StrCat("cuda:", i));
    if (out.empty()) out.push_back("cpu");
    return out;
  }
  for (absl::string_view d : absl::StrSplit(devices, ',')) {
    d = absl::StripAsciiWhitespace(d);
    int index = 0;
    if (d == "cpu") {
      out.emplace_back("cpu");
    } else if (absl::ConsumePrefix(&d, "cuda:") && absl::SimpleAtoi(d, &index) && index >= 0) {
      if (index >= cuda_count) {
        return absl::InvalidArgumentError(absl::StrCat("--devices: cuda:", index, " not present (",
                                                       cuda_count, " CUDA devices)"));
      }
      out.push_back(absl::StrCat("cuda:", index));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--devices: '", d, "' is not all, cpu or cuda:N"));
    }
  }
  // Several CPU workers may share a host; a GPU takes one.
  std::vector<std::string> cuda;
  for (const std::string& d : out) {
    if (d != "cpu") cuda.push_back(d);
  }
  std::sort(cuda.begin(), cuda.end());
  if (auto twice = std::adjacent_find(cuda.begin(), cuda.end()); twice != cuda.end()) {
    return absl::InvalidArgumentError(absl::StrCat("--devices: ", *twice, " is listed twice"));
  }
  return out;
}

std::vector<std::string> ChildArgs(const std::vector<std::string>& args, const std::string& device,
                                   int threads) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool dropped = false;
    for (const char* flag : {"--devices", "--device", "--threads"}) {
      if (a == flag) {
        ++i;  // and its value
        dropped = true;
      } else if (absl::StartsWith(a, absl::StrCat(flag, "="))) {
        dropped = true;
      }
      if (dropped) break;
    }
    if (!dropped) out.push_back(a);
  }
  out.insert(out.end(), {"--device", device, "--threads", std::to_string(threads)});
  return out;
}

namespace {

struct Child {
  std::string device;
  pid_t pid = 0;  // 0 while waiting to restart
  int64_t started_us = 0;
  absl::Duration backoff;
  int64_t restart_at_us = 0;  // when pid == 0 and not finished
  bool finished = false;      // exited for good
  int exit_code = 0;
};

// One RunSupervisor call: its children, the signals it waits for, its clock.
class Supervisor {
 public:
  explicit Supervisor(const SupervisorOptions& options) : options_(options) {
    sigemptyset(&signals_);
    for (int sig : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&signals_, sig);
    pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_);
    for (const std::string& d : options.devices) {
      children_.push_back(Child{d, 0, Now(), options.restart_initial, Now()});
    }
  }
  ~Supervisor() { pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr); }

  int Run() {
    for (Child& c : children_) Start(c);
    int64_t wake_us = 0;
    while (true) {
      ReapExited();
      if (!RestartDue(&wake_us)) break;
      WaitForSignal(wake_us);
    }
    return ExitStatus();
  }

 private:
  int64_t Now() { return options_.clock->NowMicros(); }

  void Log(const std::string& line) {
    if (options_.log) {
      options_.log(line);
    } else {
      std::cerr << "convrnn-worker[supervisor]: " << line << std::endl;
    }
  }

  void Start(Child& c) {
    std::vector<std::string> args = options_.args_for(c.device);
    std::vector<char*> argv;
    std::string program = options_.executable;
    argv.push_back(program.data());
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
      execv(program.c_str(), argv.data());
      std::cerr << "convrnn-worker[supervisor]: exec " << program << ": " << std::strerror(errno)
                << std::endl;
      _exit(127);
    }
    if (pid < 0) {
      Log(absl::StrCat(c.device, ": fork failed: ", std::strerror(errno)));
      c.restart_at_us = Now() + absl::ToInt64Microseconds(c.backoff);
      return;
    }
    c.pid = pid;
    c.started_us = Now();
    Log(absl::StrCat(c.device, ": started pid ", pid));
  }

  // Collects every exited child: finished for good, or scheduled to restart.
  void ReapExited() {
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (Child& c : children_) {
        if (c.pid == pid) Exited(c, status);
      }
    }
  }

  void Exited(Child& c, int status) {
    const pid_t pid = c.pid;
    c.pid = 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::string how = WIFEXITED(status) ? absl::StrCat("exited with status ", code)
                                        : absl::StrCat("killed by signal ", WTERMSIG(status));
    if (stopping_ || code == kExitOk || code == kExitBadInput || code == 127) {
      c.finished = true;
      c.exit_code = code == -1 ? kExitFailure : code;
      Log(absl::StrCat(c.device, ": pid ", pid, " ", how));
      return;
    }
    const int64_t now = Now();
    if (now - c.started_us >= absl::ToInt64Microseconds(options_.healthy_after)) {
      c.backoff = options_.restart_initial;
    }
    c.restart_at_us = now + absl::ToInt64Microseconds(c.backoff);
    Log(absl::StrCat(c.device, ": pid ", pid, " ", how, "; restarting in ",
                     absl::FormatDuration(c.backoff)));
    c.backoff = std::min(options_.restart_max, c.backoff * 2);
  }

  // Restarts the children whose time has come; `*wake_us` is the next
  // restart time. Returns false once every child has finished.
  bool RestartDue(int64_t* wake_us) {
    bool all_finished = true;
    *wake_us = std::numeric_limits<int64_t>::max();
    for (Child& c : children_) {
      if (c.finished) continue;
      all_finished = false;
      if (c.pid != 0) continue;
      if (stopping_) {
        c.finished = true;
      } else if (Now() >= c.restart_at_us) {
        Start(c);
      } else {
        *wake_us = std::min(*wake_us, c.restart_at_us);
      }
    }
    return !all_finished;
  }

  // Waits for a signal until `wake_us` on the clock. SIGCHLD may be taken by
  // another thread of this process (one that does not block it), so this
  // returns on a short real period too; a pending restart is then timed by
  // the clock (a FakeClock in tests), not by this period.
  void WaitForSignal(int64_t wake_us) {
    siginfo_t info;
    const absl::Duration wait = std::clamp(absl::Microseconds(wake_us - Now()),
                                           absl::ZeroDuration(), absl::Milliseconds(250));
    timespec timeout = absl::ToTimespec(wait);
    int sig = sigtimedwait(&signals_, &info, &timeout);
    if (sig != SIGINT && sig != SIGTERM) return;
    stopping_ = true;
    Log(absl::StrCat(strsignal(sig), ": stopping the workers"));
    for (Child& c : children_) {
      if (c.pid != 0) kill(c.pid, sig);
    }
  }

  int ExitStatus() const {
    if (stopping_) return kExitOk;
    int worst = kExitOk;
    for (const Child& c : children_) {
      if (c.exit_code == kExitBadInput) return kExitBadInput;
      if (c.exit_code != kExitOk) worst = kExitFailure;
    }
    return worst;
  }

  const SupervisorOptions& options_;
  sigset_t signals_, old_mask_;
  std::vector<Child> children_;
  bool stopping_ = false;
};

}  // namespace

int RunSupervisor(const SupervisorOptions& options) { return Supervisor(options).Run(); }

}  // namespace convrnn
