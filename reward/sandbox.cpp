// Sandbox runs: fork, limits and identity in the child, bubblewrap or the fallback, a poll loop
// that enforces the deadline and the output caps, and cleanup by process group and by uid.
#include "reward/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace aha {

namespace {

constexpr uid_t kUidBase = 61000;  // slot uids: 61000.. (unprivileged, no passwd entry needed)
constexpr int kUidRange = 2000;

struct Pool {
  std::mutex mu;
  std::condition_variable cv;
  int capacity = 0;
  int in_use = 0;
  std::vector<int> free_slots;    // slot indices ready for reuse
  std::vector<uid_t> slot_uid;    // uid held by each slot
  std::vector<int> slot_lock_fd;  // abstract-socket lock keeping the uid ours
};

Pool& pool() {
  static Pool p;
  return p;
}

int default_concurrency() {
  unsigned n = std::thread::hardware_concurrency();
  return n < 2 ? 2 : static_cast<int>(n);
}

bool running_as_root() {
  return geteuid() == 0;
}

// Our own logger on stderr: stdout may carry data (aha reward score writes JSONL there).
spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto existing = spdlog::get("sandbox");
    return existing ? existing : spdlog::stderr_color_mt("sandbox");
  }();
  return *l;
}

// Holds uid for this process: an abstract unix socket name is unique on the machine (per network
// namespace) and is released by the kernel when the process dies, leaving no file behind.
int lock_uid(uid_t uid) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = "aha-sandbox-uid-" + std::to_string(uid);
  addr.sun_path[0] = '\0';
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::vector<pid_t> processes_of(uid_t uid) {
  std::vector<pid_t> pids;
  DIR* d = opendir("/proc");
  if (!d) return pids;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string path = std::string("/proc/") + e->d_name + "/status";
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        unsigned long real = std::strtoul(line.c_str() + 4, nullptr, 10);
        if (real == uid) pids.push_back(static_cast<pid_t>(pid));
        break;
      }
    }
  }
  closedir(d);
  return pids;
}

// Kills every process of a slot uid (never our own uid) and reaps the ones that are our children
// (we are a child subreaper, so orphans of the sandbox come to us), until none is left or 1 s
// passed.
void kill_uid(uid_t uid) {
  if (uid == getuid()) return;
  for (int round = 0; round < 100; round++) {
    std::vector<pid_t> pids = processes_of(uid);
    if (pids.empty()) return;
    for (pid_t p : pids) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, WNOHANG);  // fails harmlessly for processes that are not our children
    }
    if (processes_of(uid).empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  log().error("sandbox: processes of uid {} survive SIGKILL", uid);
}

// Mount points of this process, read in the parent (the fallback child remounts them read-only).
std::vector<std::string> mount_points() {
  std::vector<std::string> mps;
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    // fields: id parent major:minor root mount_point ...
    size_t p = 0;
    for (int k = 0; k < 4 && p != std::string::npos; k++) p = line.find(' ', p + 1);
    if (p == std::string::npos) continue;
    size_t e = line.find(' ', p + 1);
    std::string mp = line.substr(p + 1, e - p - 1);
    if (mp.find('\\') != std::string::npos) continue;  // escaped names: skip
    mps.push_back(mp);
  }
  return mps;
}

// The fallback's seccomp program, built once in the parent (the child may not allocate after fork).
struct Bpf {
  std::vector<sock_filter> insns;
  bool ok = false;
};

const Bpf& fallback_bpf() {
  static Bpf bpf = [] {
    Bpf b;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return b;
    const int deny = SCMP_ACT_ERRNO(EPERM);
    // Network: only AF_UNIX sockets (Python's multiprocessing may use them); no connect elsewhere
    // follows because no other socket can be made.
    seccomp_rule_add(ctx, deny, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    seccomp_rule_add(ctx, deny, SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    for (int sys : {SCMP_SYS(ptrace),
                    SCMP_SYS(mount),
                    SCMP_SYS(umount2),
                    SCMP_SYS(unshare),
                    SCMP_SYS(setns),
                    SCMP_SYS(chroot),
                    SCMP_SYS(pivot_root),
                    SCMP_SYS(kexec_load),
                    SCMP_SYS(reboot),
                    SCMP_SYS(init_module),
                    SCMP_SYS(finit_module),
                    SCMP_SYS(delete_module),
                    SCMP_SYS(bpf),
                    SCMP_SYS(perf_event_open),
                    SCMP_SYS(keyctl),
                    SCMP_SYS(add_key),
                    SCMP_SYS(request_key),
                    SCMP_SYS(process_vm_writev),
                    SCMP_SYS(process_vm_readv),
                    SCMP_SYS(swapon),
                    SCMP_SYS(swapoff),
                    SCMP_SYS(settimeofday),
                    SCMP_SYS(clock_settime),
                    SCMP_SYS(userfaultfd),
                    SCMP_SYS(io_uring_setup)})
      seccomp_rule_add(ctx, deny, sys, 0);
    int fd = memfd_create("aha-seccomp", MFD_CLOEXEC);
    if (fd >= 0 && seccomp_export_bpf(ctx, fd) == 0) {
      off_t size = lseek(fd, 0, SEEK_END);
      lseek(fd, 0, SEEK_SET);
      b.insns.resize(static_cast<size_t>(size) / sizeof(sock_filter));
      if (read(fd, b.insns.data(), static_cast<size_t>(size)) == size) b.ok = true;
    }
    if (fd >= 0) close(fd);
    seccomp_release(ctx);
    return b;
  }();
  return bpf;
}

// Everything the child needs, prepared before fork (the child only makes async-signal-safe calls).
struct ChildPlan {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string dir;
  std::string stdin_path;
  uid_t uid = 0;
  bool drop_identity = false;
  bool fallback = false;
  std::vector<std::string> mounts;  // fallback: mount points to make read-only
  SandboxLimits limits;
};

[[noreturn]] void child_fail(int err_fd, const char* what) {
  if (write(err_fd, what, strlen(what)) < 0) {
  }
  _exit(127);
}

[[noreturn]] void run_child(const ChildPlan& plan, char* const* argv, char* const* envp, int out_w,
                            int chan_w, int err_fd) {
  setpgid(0, 0);
  int in_fd = open(plan.stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) child_fail(err_fd, "open stdin");
  // Order matters: fds to their numbers, then close everything else.
  if (dup2(in_fd, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0 || dup2(chan_w, 3) < 0)
    child_fail(err_fd, "dup2");
  int keep_err = fcntl(err_fd, F_DUPFD_CLOEXEC, 4);
  if (keep_err < 0) child_fail(err_fd, "dup err");
  for (int fd = 4; fd < 1024; fd++)
    if (fd != keep_err) close(fd);
  err_fd = keep_err;
  if (chdir(plan.dir.c_str()) != 0) child_fail(err_fd, "chdir");
  if (plan.fallback) {
    // Namespaces where permitted (root): no network, private IPC and hostname, and a private mount
    // table in which everything is read-only except the work directory and a fresh /tmp.
    unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
    if (unshare(CLONE_NEWNS) == 0 &&
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
      // The work dir becomes its own (writable) mount before everything else turns read-only; then
      // a fresh /tmp hides the host's, and the work dir reappears inside it as /tmp/w.
      if (mount(plan.dir.c_str(), plan.dir.c_str(), nullptr, MS_BIND, nullptr) != 0)
        child_fail(err_fd, "bind work dir");
      int wd = open(plan.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (wd < 0) child_fail(err_fd, "open work dir");
      for (const std::string& mp : plan.mounts)
        mount(nullptr, mp.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, nullptr);
      if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777") != 0)
        child_fail(err_fd, "tmpfs");
      if (mkdir("/tmp/w", 0755) != 0) child_fail(err_fd, "mkdir /tmp/w");
      char fdpath[32] = "/proc/self/fd/";
      char digits[12];
      int nd = 0;
      for (int v = wd; v > 0 || nd == 0; v /= 10) digits[nd++] = static_cast<char>('0' + v % 10);
      int len = 14;
      while (nd > 0) fdpath[len++] = digits[--nd];
      fdpath[len] = '\0';
      if (mount(fdpath, "/tmp/w", nullptr, MS_BIND, nullptr) != 0)
        child_fail(err_fd, "bind /tmp/w");
      close(wd);
      if (chdir("/tmp/w") != 0) child_fail(err_fd, "chdir /tmp/w");
    }
  }
  auto lim = [&](int res, rlim_t soft, rlim_t hard) {
    rlimit r{soft, hard};
    if (setrlimit(res, &r) != 0) child_fail(err_fd, "setrlimit");
  };
  lim(RLIMIT_CPU, static_cast<rlim_t>(plan.limits.cpu_s),
      static_cast<rlim_t>(plan.limits.cpu_s + 1));
  lim(RLIMIT_AS, plan.limits.memory_bytes, plan.limits.memory_bytes);
  lim(RLIMIT_FSIZE, plan.limits.file_bytes, plan.limits.file_bytes);
  lim(RLIMIT_NOFILE, static_cast<rlim_t>(plan.limits.nofile),
      static_cast<rlim_t>(plan.limits.nofile));
  lim(RLIMIT_CORE, 0, 0);
  if (plan.drop_identity) {
    if (setgroups(0, nullptr) != 0) child_fail(err_fd, "setgroups");
    if (setresgid(plan.uid, plan.uid, plan.uid) != 0) child_fail(err_fd, "setgid");
    // NPROC before setuid so the new uid starts under it.
    lim(RLIMIT_NPROC, static_cast<rlim_t>(plan.limits.nproc),
        static_cast<rlim_t>(plan.limits.nproc));
    if (setresuid(plan.uid, plan.uid, plan.uid) != 0) child_fail(err_fd, "setuid");
  } else {
    lim(RLIMIT_NPROC, static_cast<rlim_t>(plan.limits.nproc),
        static_cast<rlim_t>(plan.limits.nproc));
  }
  // After the identity change (which clears it): die when the thread that started us dies.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) _exit(126);
  if (plan.fallback) {
    const Bpf& bpf = fallback_bpf();  // built before fork; here only read
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(err_fd, "no_new_privs");
    if (bpf.ok) {
      sock_fprog prog{static_cast<unsigned short>(bpf.insns.size()),
                      const_cast<sock_filter*>(bpf.insns.data())};
      if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) child_fail(err_fd, "seccomp");
    }
  }
  execve(argv[0], argv, envp);
  child_fail(err_fd, "execve");
}

Isolation probe_isolation(uid_t uid, const std::string& dir);

}  // namespace

const char* isolation_name(Isolation iso) {
  return iso == Isolation::kBubblewrap ? "bubblewrap"
                                       : "fallback (unshare + seccomp + rlimits + uid)";
}

void sandbox_set_concurrency(int n) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.capacity = n < 1 ? 1 : n;
  p.cv.notify_all();
}

int sandbox_concurrency() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.capacity == 0 ? default_concurrency() : p.capacity;
}

int sandbox_count_processes(uid_t uid) {
  if (uid == getuid()) return 0;
  return static_cast<int>(processes_of(uid).size());
}

int sandbox_count_slot_processes() {
  int n = 0;
  DIR* d = opendir("/proc");
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        unsigned long real = std::strtoul(line.c_str() + 4, nullptr, 10);
        if (real >= kUidBase && real < kUidBase + kUidRange) n++;
        break;
      }
    }
  }
  closedir(d);
  return n;
}

namespace {
std::once_flag g_iso_once;
Isolation g_iso = Isolation::kFallback;
}  // namespace

Isolation sandbox_isolation() {
  std::call_once(g_iso_once, [] {
    // Orphans of a sandbox (bubblewrap's namespace init) are reparented to us and reaped by
    // kill_uid, instead of lingering as zombies of the container's init.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const char* env = std::getenv("AHA_SANDBOX");
    if (env && std::string(env) == "fallback") {
      g_iso = Isolation::kFallback;
      log().warn("sandbox: AHA_SANDBOX=fallback: isolation is {}", isolation_name(g_iso));
      return;
    }
    // Probe with a real bubblewrap run of /usr/bin/true as an unprivileged uid.
    uid_t uid = running_as_root() ? kUidBase + kUidRange - 1 : getuid();
    int lock = running_as_root() ? lock_uid(uid) : -1;
    char tmpl[] = "/tmp/aha-sbx-probe-XXXXXX";
    std::string dir = mkdtemp(tmpl) ? tmpl : "";
    if (!dir.empty() && running_as_root()) {
      if (chown(dir.c_str(), uid, uid) != 0) {
      }
    }
    g_iso = dir.empty() ? Isolation::kFallback : probe_isolation(uid, dir);
    if (!dir.empty()) std::filesystem::remove_all(dir);
    if (lock >= 0) close(lock);
    if (g_iso == Isolation::kBubblewrap)
      log().info("sandbox: isolation is {}", isolation_name(g_iso));
    else
      log().warn(
          "sandbox: bubblewrap does not work here; isolation is {} (weaker: no mount or pid "
          "namespace, the host filesystem is visible read-only by permissions)",
          isolation_name(g_iso));
  });
  return g_iso;
}

SandboxSession::SandboxSession() {
  Isolation iso = sandbox_isolation();
  (void)iso;
  fallback_bpf();  // built before any fork: the child must not allocate
  Pool& p = pool();
  {
    std::unique_lock<std::mutex> lock(p.mu);
    if (p.capacity == 0) p.capacity = default_concurrency();
    p.cv.wait(lock, [&] { return p.in_use < p.capacity; });
    p.in_use++;
    if (!p.free_slots.empty()) {
      slot_ = p.free_slots.back();
      p.free_slots.pop_back();
    } else {
      slot_ = static_cast<int>(p.slot_uid.size());
      p.slot_uid.push_back(0);
      p.slot_lock_fd.push_back(-1);
    }
    if (p.slot_uid[slot_] == 0) {
      if (running_as_root()) {
        // A uid no other process on the machine holds.
        static int next = 0;
        for (int k = 0; k < kUidRange - 1; k++) {
          uid_t cand = kUidBase + static_cast<uid_t>((next + k) % (kUidRange - 1));
          int fd = lock_uid(cand);
          if (fd >= 0) {
            p.slot_uid[slot_] = cand;
            p.slot_lock_fd[slot_] = fd;
            next = (next + k + 1) % (kUidRange - 1);
            break;
          }
        }
        if (p.slot_uid[slot_] == 0) {
          p.in_use--;
          p.free_slots.push_back(slot_);
          throw std::runtime_error("sandbox: no free uid in 61000..62999");
        }
      } else {
        p.slot_uid[slot_] = getuid();
      }
    }
    uid_ = p.slot_uid[slot_];
  }
  kill_uid(uid_);  // leftovers of a crashed earlier holder of this uid
  char tmpl[] = "/tmp/aha-sbx-XXXXXX";
  if (!mkdtemp(tmpl))
    throw std::runtime_error(std::string("sandbox: mkdtemp: ") + std::strerror(errno));
  dir_ = tmpl;
  if (running_as_root() && chown(dir_.c_str(), uid_, uid_) != 0)
    throw std::runtime_error(std::string("sandbox: chown work dir: ") + std::strerror(errno));
}

SandboxSession::~SandboxSession() {
  kill_uid(uid_);
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  if (ec) log().error("sandbox: cannot remove {}: {}", dir_, ec.message());
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  p.in_use--;
  p.free_slots.push_back(slot_);
  p.cv.notify_one();
}

void SandboxSession::write_file(const std::string& name, const std::string& content) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.')
    throw std::invalid_argument("sandbox: bad file name '" + name + "'");
  std::string path = dir_ + "/" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  if (!f) throw std::runtime_error("sandbox: cannot write " + path);
  if (running_as_root() && chown(path.c_str(), uid_, uid_) != 0) {
  }
}

namespace {

std::vector<std::string> bwrap_args(const std::string& dir, const SandboxLimits& lim) {
  std::vector<std::string> a = {"/usr/bin/bwrap",
                                "--unshare-all",
                                "--die-with-parent",
                                "--new-session",
                                "--hostname",
                                "sandbox",
                                "--ro-bind",
                                "/usr",
                                "/usr",
                                "--symlink",
                                "usr/lib",
                                "/lib",
                                "--symlink",
                                "usr/lib64",
                                "/lib64",
                                "--symlink",
                                "usr/bin",
                                "/bin",
                                "--symlink",
                                "usr/sbin",
                                "/sbin",
                                "--ro-bind-try",
                                "/etc/ld.so.cache",
                                "/etc/ld.so.cache",
                                "--ro-bind-try",
                                "/etc/alternatives",
                                "/etc/alternatives",
                                "--proc",
                                "/proc",
                                "--dev",
                                "/dev",
                                "--size",
                                std::to_string(lim.tmp_bytes),
                                "--tmpfs",
                                "/tmp",
                                "--bind",
                                dir,
                                "/w",
                                "--chdir",
                                "/w",
                                "--"};
  return a;
}

SandboxResult run_plan(const ChildPlan& plan) {
  SandboxResult res;
  std::vector<char*> argv, envp;
  for (const auto& s : plan.args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  for (const auto& s : plan.env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  int out[2], chan[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return res.error = "pipe", res;
  if (pipe2(chan, O_CLOEXEC) != 0) {
    close(out[0]), close(out[1]);
    return res.error = "pipe", res;
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]), close(out[1]), close(chan[0]), close(chan[1]);
    return res.error = "pipe", res;
  }
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {out[0], out[1], chan[0], chan[1], err[0], err[1]}) close(fd);
    res.error = std::string("fork: ") + std::strerror(errno);
    return res;
  }
  if (pid == 0) run_child(plan, argv.data(), envp.data(), out[1], chan[1], err[1]);
  setpgid(pid, pid);  // also set here so the group exists before we might kill it
  close(out[1]);
  close(chan[1]);
  close(err[1]);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  for (int fd : {out[0], chan[0]}) fcntl(fd, F_SETFL, O_NONBLOCK);
  auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(plan.limits.wall_s));
  bool out_open = true, chan_open = true, exited = false;
  std::chrono::steady_clock::time_point drain_until{};
  char buf[65536];
  auto read_into = [&](int fd, std::string& dst, bool& open) {
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        size_t room =
            plan.limits.output_bytes > dst.size() ? plan.limits.output_bytes - dst.size() : 0;
        dst.append(buf, std::min(room, static_cast<size_t>(n)));
        if (static_cast<size_t>(n) > room) {
          res.output_limit = true;
          return;
        }
        continue;
      }
      if (n == 0) open = false;
      return;  // EAGAIN or EOF
    }
  };
  int status = 0;
  bool reaped = false;
  while (true) {
    auto now = std::chrono::steady_clock::now();
    if (res.output_limit) break;
    if (!exited && now >= deadline) {
      res.timed_out = true;
      break;
    }
    if (exited && (!out_open && !chan_open)) break;
    if (exited && now >= drain_until) break;  // a leftover holds the pipes: stop waiting
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out[0], POLLIN, 0};
    if (chan_open) fds[n++] = {chan[0], POLLIN, 0};
    if (!exited && pidfd >= 0) fds[n++] = {pidfd, POLLIN, 0};
    auto until = exited ? drain_until : deadline;
    int wait_ms = static_cast<int>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()) +
                  1;
    if (pidfd < 0 && !exited) wait_ms = std::min(wait_ms, 20);
    poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (out_open) read_into(out[0], res.output, out_open);
    if (chan_open) read_into(chan[0], res.channel, chan_open);
    if (!exited) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        exited = true;
        reaped = true;
        drain_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      }
    }
  }
  kill(-pid, SIGKILL);  // the whole group, whatever remains
  if (!reaped) waitpid(pid, &status, 0);
  res.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The child's own setup failure message (before exec) arrives on err.
  ssize_t en = read(err[0], buf, sizeof buf - 1);
  if (en > 0) res.error = "sandbox setup failed: " + std::string(buf, static_cast<size_t>(en));
  for (int fd : {out[0], chan[0], err[0]}) close(fd);
  if (pidfd >= 0) close(pidfd);
  if (WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) res.term_signal = WTERMSIG(status);
  return res;
}

std::vector<std::string> base_env() {
  return {"PATH=/usr/bin:/bin",        "HOME=/tmp",        "LANG=C.UTF-8",
          "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0", "OMP_NUM_THREADS=1",
          "OPENBLAS_NUM_THREADS=1"};
}

Isolation probe_isolation(uid_t uid, const std::string& dir) {
  std::string stdin_path = dir + "/.stdin";
  { std::ofstream(stdin_path).flush(); }
  if (running_as_root() && chown(stdin_path.c_str(), uid, uid) != 0) {
  }
  ChildPlan plan;
  plan.args = bwrap_args(dir, SandboxLimits{});
  plan.args.push_back("/usr/bin/true");
  plan.env = base_env();
  plan.dir = dir;
  plan.stdin_path = stdin_path;
  plan.uid = uid;
  plan.drop_identity = running_as_root();
  plan.limits.wall_s = 10;
  if (access("/usr/bin/bwrap", X_OK) != 0) return Isolation::kFallback;
  SandboxResult r = run_plan(plan);
  kill_uid(uid);
  if (r.exit_code == 0 && r.error.empty()) return Isolation::kBubblewrap;
  log().warn("sandbox: bubblewrap probe failed (exit {}, signal {}): {}{}", r.exit_code,
             r.term_signal, r.error, r.output.substr(0, 300));
  return Isolation::kFallback;
}

}  // namespace

SandboxResult SandboxSession::run(const SandboxRequest& req) {
  if (req.argv.empty()) throw std::invalid_argument("sandbox: empty argv");
  Isolation iso = sandbox_isolation();
  write_file("stdin.txt", req.stdin_data);
  ChildPlan plan;
  plan.fallback = iso == Isolation::kFallback;
  if (!plan.fallback) plan.args = bwrap_args(dir_, req.limits);
  for (const auto& a : req.argv) plan.args.push_back(a);
  plan.env = base_env();
  // Temporary files of the program (g++) stay inside what is removed after the session.
  plan.env.push_back("TMPDIR=/tmp");  // private to the run in both modes
  if (plan.fallback) {
    static const std::vector<std::string> mps = mount_points();
    plan.mounts = mps;
  }
  plan.dir = dir_;
  plan.stdin_path = dir_ + "/stdin.txt";
  plan.uid = uid_;
  plan.drop_identity = running_as_root();
  plan.limits = req.limits;
  SandboxResult r = run_plan(plan);
  kill_uid(uid_);  // anything that escaped the process group (fallback) or still lingers
  return r;
}

}  // namespace aha
