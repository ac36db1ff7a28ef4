// Sandbox for untrusted programs (generated code).
//
// Invariants:
// - Each run executes as a dedicated unprivileged uid (one per slot, unique across processes on the
//   machine by an abstract-socket lock), so RLIMIT_NPROC holds and cleanup may kill every process
//   of that uid. (When not started as root, the caller's own uid is used inside a user namespace.)
// - Isolation holds or nothing runs: bubblewrap when it works, else the fallback (the same
//   namespaces made by hand: user (non-root), mount, pid, net, ipc, uts; every host mount
//   read-only; a new root with only /usr; a fresh /proc; seccomp). Neither -> SandboxSession
//   throws, saying why; nothing runs.
// - Inside, the only writable places are a tmpfs of limits.tmp_bytes at /tmp (the work directory
//   /tmp/w lives in it: disk written is bounded) and, if asked, one session subdirectory.
//   The session files listed in the request appear read-only in /tmp/w; no other host file does.
// - Limits per row: memory and tasks (processes + threads) of all the run's processes together
//   in a cgroup when one is writable (v2, or v1 memory + pids); always RLIMIT_AS per process and
//   RLIMIT_NPROC for the slot uid; RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE, no core files; a
//   wall-clock deadline; captured output capped (passing the cap kills the run). The pid
//   namespace ends every process of the run when its first process exits.
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
  uint64_t tmp_bytes = 64ull << 20;    // size of the private /tmp (the work dir is inside it)
  int nproc = 64;                      // RLIMIT_NPROC for the slot's uid
  int nofile = 64;                     // RLIMIT_NOFILE
  size_t output_bytes = 64u << 10;     // cap on stdout+stderr and on the result channel each
};

struct SandboxRequest {
  std::vector<std::string> argv;  // argv[0] is an absolute path inside the sandbox (/usr/bin/...)
  std::string stdin_data;         // given on stdin (a memfd sealed against writes)
  SandboxLimits limits;
  // Session files shown read-only in the work directory; empty = every file of the session.
  std::vector<std::string> files;
  // A session subdirectory (made with make_dir) shown writable at /tmp/w/<name>; "" = none.
  std::string writable_dir;
};

struct SandboxResult {
  int exit_code = -1;      // exit status when it exited normally
  int term_signal = 0;     // signal that ended it, if any
  bool timed_out = false;  // killed at the wall-clock deadline
  bool output_limit = false;
  std::string output;   // stdout and stderr, interleaved, capped
  std::string channel;  // what the program wrote to fd 3 (harness results), capped
  double wall_s = 0;
  std::string error;          // the sandbox itself failed (setup), empty otherwise
  bool memory_limit = false;  // the run's cgroup hit its memory limit
};

enum class Isolation { kBubblewrap, kFallback, kNone };

// The isolation in force (probed once, logged once). AHA_SANDBOX=fallback forces the fallback.
// kNone: neither works here (or AHA_SANDBOX=none); a SandboxSession then throws an error naming
// why, and nothing runs.
Isolation sandbox_isolation();
const char* isolation_name(Isolation iso);

// Whether runs get a cgroup (memory and tasks of the whole run bounded together); else the bound
// is per process (RLIMIT_AS) times processes (RLIMIT_NPROC). AHA_SANDBOX_NO_CGROUP=1 turns it off.
bool sandbox_cgroup_limits();

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
  void make_dir(const std::string& name);  // a subdirectory a run may get as writable_dir
  SandboxResult run(const SandboxRequest& req);
  // Two programs in two sandboxes (neither sees the other's files or processes), connected by
  // pipes: the peer's fd 0 reads what `primary` writes on its fd 5, `primary` reads on its fd 4
  // what the peer writes on its fd 3 (each side's stdin_data is ignored where a pipe replaces
  // it). The primary's fd 3 is the channel back to us. The run ends when `primary` exits (or at
  // the deadline of `primary`); the peer is then killed. Returns {primary, peer}; the peer's
  // `channel` is empty.
  std::vector<SandboxResult> run_connected(const SandboxRequest& primary,
                                           const SandboxRequest& peer);
  const std::string& dir() const { return dir_; }
  uid_t uid() const { return uid_; }

 private:
  int slot_ = -1;
  uid_t uid_ = 0;
  std::string dir_;
};

// Processes whose real uid is uid (for tests and cleanup); 0 when uid is the caller's own.
int sandbox_count_processes(uid_t uid);
// Processes of the slot uids this process holds (0 when not root: there are none).
int sandbox_count_own_processes();
// Processes of any slot uid (61000..62999) on the machine, whoever started them.
int sandbox_count_slot_processes();

}  // namespace aha
