// Sandbox for untrusted programs (generated code). Invariants:
// - Each run executes as a dedicated unprivileged uid (one per slot, unique across processes on the
//   machine by an abstract-socket lock), so RLIMIT_NPROC holds and cleanup may kill every process
//   of that uid. (When not started as root, the caller's own uid is used and only the group is
//   killed.)
// - Isolation: bubblewrap (new user/pid/net/ipc/uts/cgroup namespaces, read-only /usr, private
// /tmp,
//   the work directory as the only writable host path, dies with its parent) when it works; else
//   unshare(net, ipc, uts) + a seccomp filter (no sockets except AF_UNIX, no ptrace/mount/...) +
//   uid separation. Which one is in force is logged once (a warning for the fallback).
// - Limits set in the child before exec: RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC,
//   RLIMIT_NOFILE, RLIMIT_CORE = 0; a wall-clock deadline kills the process group; captured output
//   is capped and passing the cap kills the run.
// - A session's work directory and processes are gone when the session is destroyed.
// - At most `concurrency` sessions exist at once in a process (a bounded pool; others wait).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace aha {

struct SandboxLimits {
  double wall_s = 5.0;                 // wall-clock deadline for one run
  int cpu_s = 5;                       // RLIMIT_CPU
  uint64_t memory_bytes = 1ull << 30;  // RLIMIT_AS
  uint64_t file_bytes = 16ull << 20;   // RLIMIT_FSIZE
  uint64_t tmp_bytes = 64ull << 20;    // size of the private /tmp (bubblewrap only)
  int nproc = 64;                      // RLIMIT_NPROC for the slot's uid
  int nofile = 64;                     // RLIMIT_NOFILE
  size_t output_bytes = 64u << 10;     // cap on stdout+stderr and on the result channel each
};

struct SandboxRequest {
  std::vector<std::string> argv;  // argv[0] is an absolute path inside the sandbox (/usr/bin/...)
  std::string stdin_data;         // given on stdin (from a file in the work directory)
  SandboxLimits limits;
};

struct SandboxResult {
  int exit_code = -1;      // exit status when it exited normally
  int term_signal = 0;     // signal that ended it, if any
  bool timed_out = false;  // killed at the wall-clock deadline
  bool output_limit = false;
  std::string output;   // stdout and stderr, interleaved, capped
  std::string channel;  // what the program wrote to fd 3 (harness results), capped
  double wall_s = 0;
  std::string error;  // the sandbox itself failed (setup), empty otherwise
};

enum class Isolation { kBubblewrap, kFallback };

// The isolation in force (probed once, logged once). AHA_SANDBOX=fallback forces the fallback.
Isolation sandbox_isolation();
const char* isolation_name(Isolation iso);

// Maximum number of sessions alive at once in this process (default: hardware threads, at least 2).
void sandbox_set_concurrency(int n);
int sandbox_concurrency();

// One work directory on one slot. Files go in with write_file; each run() starts in that directory
// (mounted at /w under bubblewrap). Blocks in the constructor until a slot is free.
struct SandboxSession {
  SandboxSession();
  ~SandboxSession();
  SandboxSession(const SandboxSession&) = delete;
  SandboxSession& operator=(const SandboxSession&) = delete;

  void write_file(const std::string& name, const std::string& content);
  SandboxResult run(const SandboxRequest& req);
  const std::string& dir() const { return dir_; }
  uid_t uid() const { return uid_; }

 private:
  int slot_ = -1;
  uid_t uid_ = 0;
  std::string dir_;
};

// Processes whose real uid is uid (for tests and cleanup); 0 when uid is the caller's own.
int sandbox_count_processes(uid_t uid);
// Processes of any slot uid (61000..62999) on the machine, whoever started them.
int sandbox_count_slot_processes();

}  // namespace aha
