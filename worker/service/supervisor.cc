#include "worker/service/supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "util/exit_code.h"
#include "util/log.h"

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
  absl::Time started;
  absl::Duration backoff;
  absl::Time restart_at;  // when pid == 0 and not finished
  bool finished = false;  // exited for good
  int exit_code = 0;
};

}  // namespace

int RunSupervisor(const SupervisorOptions& options) {
  auto log = [&](const std::string& line) {
    if (options.log) {
      options.log(line);
    } else {
      Log("supervisor")->info(line);
    }
  };
  sigset_t signals, old_mask;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &signals, &old_mask);

  std::vector<Child> children;
  for (const std::string& d : options.devices) {
    children.push_back(Child{d, 0, absl::Now(), options.restart_initial, absl::Now()});
  }
  bool stopping = false;

  auto start = [&](Child& c) {
    std::vector<std::string> args = options.args_for(c.device);
    std::vector<char*> argv;
    std::string program = options.executable;
    argv.push_back(program.data());
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
      execv(program.c_str(), argv.data());
      std::cerr << "convrnn-worker[supervisor]: exec " << program << ": " << std::strerror(errno)
                << std::endl;
      _exit(127);
    }
    if (pid < 0) {
      log(absl::StrCat(c.device, ": fork failed: ", std::strerror(errno)));
      c.restart_at = absl::Now() + c.backoff;
      return;
    }
    c.pid = pid;
    c.started = absl::Now();
    log(absl::StrCat(c.device, ": started pid ", pid));
  };

  for (Child& c : children) start(c);

  while (true) {
    // Reap.
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (Child& c : children) {
        if (c.pid != pid) continue;
        c.pid = 0;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        std::string how = WIFEXITED(status) ? absl::StrCat("exited with status ", code)
                                            : absl::StrCat("killed by signal ", WTERMSIG(status));
        if (stopping || code == kExitOk || code == kExitBadInput || code == 127) {
          c.finished = true;
          c.exit_code = code == -1 ? kExitFailure : code;
          log(absl::StrCat(c.device, ": pid ", pid, " ", how));
        } else {
          if (absl::Now() - c.started >= options.healthy_after) c.backoff = options.restart_initial;
          c.restart_at = absl::Now() + c.backoff;
          log(absl::StrCat(c.device, ": pid ", pid, " ", how, "; restarting in ",
                           absl::FormatDuration(c.backoff)));
          c.backoff = std::min(options.restart_max, c.backoff * 2);
        }
      }
    }
    // Restart those whose time has come; find the next wake-up.
    bool all_finished = true;
    absl::Time wake = absl::InfiniteFuture();
    for (Child& c : children) {
      if (c.finished) continue;
      all_finished = false;
      if (c.pid != 0) continue;
      if (stopping) {
        c.finished = true;
        continue;
      }
      if (absl::Now() >= c.restart_at) {
        start(c);
      } else {
        wake = std::min(wake, c.restart_at);
      }
    }
    if (all_finished) break;

    // SIGCHLD may be taken by another thread of this process (one that does
    // not block it), so reap on a short period too.
    siginfo_t info;
    absl::Duration wait =
        std::clamp(wake - absl::Now(), absl::ZeroDuration(), absl::Milliseconds(250));
    timespec timeout = absl::ToTimespec(wait);
    int sig = sigtimedwait(&signals, &info, &timeout);
    if (sig == SIGINT || sig == SIGTERM) {
      stopping = true;
      log(absl::StrCat(strsignal(sig), ": stopping the workers"));
      for (Child& c : children) {
        if (c.pid != 0) kill(c.pid, sig);
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (stopping) return kExitOk;
  int worst = kExitOk;
  for (const Child& c : children) {
    if (c.exit_code == kExitBadInput) return kExitBadInput;
    if (c.exit_code != kExitOk) worst = kExitFailure;
  }
  return worst;
}

}  // namespace convrnn
