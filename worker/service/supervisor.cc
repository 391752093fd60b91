#include "worker/service/supervisor.h"

#include <signal.h>
#include <sys/stat.h>
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
#include "util/log.h"
#include "util/posix_fs.h"
#include "util/status_macros.h"

namespace convrnn {

namespace {

// Splits a trailing "xK" (trial slots) off one --devices entry; 0 when absent.
absl::StatusOr<int> ConsumeSlots(absl::string_view* entry) {
  const size_t x = entry->rfind('x');
  if (x == absl::string_view::npos) return 0;
  int slots = 0;
  if (!absl::SimpleAtoi(entry->substr(x + 1), &slots) || slots < 1 || slots > kMaxSlotsPerDevice) {
    return absl::InvalidArgumentError(absl::StrCat("--devices: '", *entry,
                                                   "': slots after 'x' must be an integer in [1, ",
                                                   kMaxSlotsPerDevice, "]"));
  }
  entry->remove_suffix(entry->size() - x);
  return slots;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseDevices(absl::string_view devices, int cuda_count,
                                                      int slots) {
  if (slots < 1 || slots > kMaxSlotsPerDevice) {
    return absl::InvalidArgumentError(
        absl::StrCat("--slots: must be an integer in [1, ", kMaxSlotsPerDevice, "]"));
  }
  std::vector<std::string> out;
  std::vector<std::string> cuda;  // each CUDA device once per entry naming it
  for (absl::string_view d : absl::StrSplit(devices, ',')) {
    d = absl::StripAsciiWhitespace(d);
    ASSIGN_OR_RETURN(int entry_slots, ConsumeSlots(&d));
    if (entry_slots == 0) entry_slots = slots;
    std::vector<std::string> named;
    int index = 0;
    if (d == "all") {
      for (int i = 0; i < cuda_count; ++i) named.push_back(absl::StrCat("cuda:", i));
      if (named.empty()) named.push_back("cpu");
    } else if (d == "cpu") {
      named.emplace_back("cpu");
    } else if (absl::ConsumePrefix(&d, "cuda:") && absl::SimpleAtoi(d, &index) && index >= 0) {
      if (index >= cuda_count) {
        return absl::InvalidArgumentError(absl::StrCat("--devices: cuda:", index, " not present (",
                                                       cuda_count, " CUDA devices)"));
      }
      named.push_back(absl::StrCat("cuda:", index));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--devices: '", d, "' is not all, cpu or cuda:N (optionally xSLOTS)"));
    }
    for (const std::string& device : named) {
      if (device != "cpu") cuda.push_back(device);
      out.insert(out.end(), entry_slots, device);
    }
  }
  // Several CPU workers may share a host; a GPU's slots are asked for with xK.
  std::sort(cuda.begin(), cuda.end());
  if (auto twice = std::adjacent_find(cuda.begin(), cuda.end()); twice != cuda.end()) {
    return absl::InvalidArgumentError(absl::StrCat("--devices: ", *twice,
                                                   " is listed twice (for several trial slots on "
                                                   "one device write ",
                                                   *twice, "xN)"));
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
    StartMps();
    for (Child& c : children_) Start(c);
    int64_t wake_us = 0;
    while (true) {
      ReapExited();
      if (!RestartDue(&wake_us)) break;
      WaitForSignal(wake_us);
    }
    StopMps();
    return ExitStatus();
  }

 private:
  int64_t Now() { return options_.clock->NowMicros(); }

  // Runs `program args...` with stdin from `input` and waits; its exit code,
  // or -1 when it could not run.
  int RunTool(const std::string& program, std::vector<std::string> args, const std::string& input) {
    int in[2];
    if (pipe(in) != 0) return -1;
    std::vector<char*> argv;
    std::string name = program;
    argv.push_back(name.data());
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
      dup2(in[0], STDIN_FILENO);
      close(in[0]);
      close(in[1]);
      execv(program.c_str(), argv.data());
      _exit(127);
    }
    close(in[0]);
    if (pid < 0) {
      close(in[1]);
      return -1;
    }
    if (!input.empty()) (void)!write(in[1], input.data(), input.size());
    close(in[1]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // One MPS control daemon for every child, in folders of its own.
  void StartMps() {
    if (options_.mps_control.empty()) return;
    char dir[] = "/tmp/convrnn-mps-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      Log(absl::StrCat("MPS: cannot make its folder: ", std::strerror(errno), "; running without"));
      return;
    }
    mps_dir_ = dir;
    const std::string pipes = mps_dir_ + "/pipe", logs = mps_dir_ + "/log";
    mkdir(pipes.c_str(), 0700);
    mkdir(logs.c_str(), 0700);
    setenv("CUDA_MPS_PIPE_DIRECTORY", pipes.c_str(), 1);
    setenv("CUDA_MPS_LOG_DIRECTORY", logs.c_str(), 1);
    if (int code = RunTool(options_.mps_control, {"-d"}, ""); code != 0) {
      Log(absl::StrCat("MPS: ", options_.mps_control, " -d exited with ", code,
                       "; the slots share the GPU without MPS"));
      unsetenv("CUDA_MPS_PIPE_DIRECTORY");
      unsetenv("CUDA_MPS_LOG_DIRECTORY");
      (void)RemoveTree(mps_dir_);
      mps_dir_.clear();
      return;
    }
    Log(absl::StrCat("MPS: control daemon started (", pipes, ")"));
  }

  void StopMps() {
    if (mps_dir_.empty()) return;
    if (int code = RunTool(options_.mps_control, {}, "quit\n"); code != 0) {
      Log(absl::StrCat("MPS: quit exited with ", code));
    }
    unsetenv("CUDA_MPS_PIPE_DIRECTORY");
    unsetenv("CUDA_MPS_LOG_DIRECTORY");
    (void)RemoveTree(mps_dir_);
    Log("MPS: control daemon stopped");
  }

  void Log(const std::string& line) {
    if (options_.log) {
      options_.log(line);
    } else {
      convrnn::Log("supervisor")->info(line);
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
  std::string mps_dir_;  // the MPS daemon's folders; empty: no MPS
};

}  // namespace

int RunSupervisor(const SupervisorOptions& options) { return Supervisor(options).Run(); }

std::string FindMpsControl(const std::vector<std::string>& devices, const char* path,
                           const char* mps_pipe_env, const std::string& mps_control) {
  if (mps_pipe_env != nullptr && *mps_pipe_env != '\0') return "";
  std::vector<std::string> cuda;
  for (const std::string& d : devices) {
    if (d != "cpu") cuda.push_back(d);
  }
  std::sort(cuda.begin(), cuda.end());
  if (std::adjacent_find(cuda.begin(), cuda.end()) == cuda.end()) return "";
  if (path == nullptr) return "";
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", mps_control);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace convrnn
