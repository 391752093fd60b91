#!/bin/bash
# Runs a command with a SIGSEGV/SIGABRT handler preloaded that prints the
# native backtrace, resolved with addr2line, for machines without gdb (the GPU
# check machine has none). The preloaded library also keeps the program
# (Catch2) from replacing its handlers, so the backtrace starts at the fault.
#   tools/gpu/crash_backtrace.sh BINARY [ARGS...]
set -u
work=$(mktemp -d)
cat > "$work/bt.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
static int installed;
static int fatal(int sig) { return sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS; }
int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  static int (*real)(int, const struct sigaction*, struct sigaction*);
  if (!real) real = dlsym(RTLD_NEXT, "sigaction");
  if (installed && fatal(sig) && act != 0) {  /* keep ours */
    if (old) real(sig, 0, old);
    return 0;
  }
  return real(sig, act, old);
}
static void on_crash(int sig) {
  void* frames[96];
  int n = backtrace(frames, 96);
  static const char kHead[] = "=== native backtrace ===\n";
  if (write(2, kHead, sizeof kHead - 1) < 0) _exit(1);
  backtrace_symbols_fd(frames, n, 2);
  _exit(128 + sig);
}
__attribute__((constructor)) static void install(void) {
  signal(SIGSEGV, on_crash);
  signal(SIGABRT, on_crash);
  signal(SIGBUS, on_crash);
  installed = 1;
}
C
cc -shared -fPIC -O1 "$work/bt.c" -o "$work/bt.so" -ldl || exit 1
LD_PRELOAD="$work/bt.so" "$@" > "$work/out.txt" 2> "$work/err.txt"
rc=$?
tail -n 15 "$work/out.txt"
sed -n '/=== native backtrace ===/,$p' "$work/err.txt" > "$work/bt.txt"
cat "$work/bt.txt"
# Resolve "module(+0xOFFSET)" frames of non-system modules.
echo "=== resolved ==="
grep -o '^[^ (]*(+0x[0-9a-f]*)' "$work/bt.txt" | while IFS= read -r f; do
  mod=${f%%(*}; off=${f#*(+}; off=${off%)}
  case "$mod" in /lib/*|/usr/lib/*) continue ;; esac
  printf '%s ' "$off"; addr2line -f -C -i -e "$mod" "$off" 2>/dev/null | paste -sd' '
done
# Symbolised frames of shared libraries (torch, libstdc++) as printed.
grep '(_Z\|(\w' "$work/bt.txt" | head -40
exit $rc
