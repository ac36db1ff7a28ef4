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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
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

// Our own run children (forked by run_plans), which only their run may reap. Held across fork
// so that reap_orphans never takes a child before its run has recorded it.
std::mutex g_children_mu;
std::vector<pid_t> g_children;

// Reaps zombies that came to us as the subreaper (bubblewrap's namespace init, the fallback's pid 1
// after its parent was killed): children of ours in another process group that no run owns.
// Without this, as non-root (no kill_uid), every run would leave zombies that count against
// RLIMIT_NPROC of the caller's uid.
void reap_orphans() {
  std::lock_guard<std::mutex> lock(g_children_mu);
  pid_t self = getpid(), group = getpgrp();
  DIR* d = opendir("/proc");
  if (!d) return;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string stat;
    std::getline(f, stat);
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream in(stat.substr(close_paren + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (!(in >> state >> ppid >> pgrp)) continue;
    pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
    if (ppid != self || pgrp == group) continue;
    if (std::find(g_children.begin(), g_children.end(), pid) != g_children.end()) continue;
    waitpid(pid, nullptr, WNOHANG);
  }
  closedir(d);
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

// Mount points of this process with the flags a read-only remount must keep (a user namespace may
// not clear nosuid/nodev/noexec), read in the parent.
struct MountPoint {
  std::string path;
  unsigned long flags = 0;
};

std::vector<MountPoint> mount_points() {
  std::vector<MountPoint> mps;
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    // fields: id parent major:minor root mount_point options ...
    std::istringstream in(line);
    std::string id, parent, dev, root, mp, opts;
    if (!(in >> id >> parent >> dev >> root >> mp >> opts)) continue;
    if (mp.find('\\') != std::string::npos) continue;  // escaped names: skip
    MountPoint m{mp, MS_REMOUNT | MS_BIND | MS_RDONLY};
    std::istringstream o(opts);
    for (std::string w; std::getline(o, w, ',');) {
      if (w == "nosuid") m.flags |= MS_NOSUID;
      if (w == "nodev") m.flags |= MS_NODEV;
      if (w == "noexec") m.flags |= MS_NOEXEC;
      if (w == "relatime") m.flags |= MS_RELATIME;
      if (w == "noatime") m.flags |= MS_NOATIME;
      if (w == "nodiratime") m.flags |= MS_NODIRATIME;
    }
    mps.push_back(m);
  }
  return mps;
}

// Per-run cgroups: memory and tasks of all the run's processes together. Found once: cgroup v2
// (a writable directory of our own cgroup with memory and pids enabled for children) or v1
// (writable memory and pids hierarchies); neither -> rlimits only.
struct CgroupSetup {
  bool v2 = false;
  std::string mem_base, pids_base;  // v1: two hierarchies; v2: the same directory
  bool ok() const { return !mem_base.empty(); }
};

bool write_text(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const CgroupSetup& cgroup_setup() {
  static CgroupSetup cg = [] {
    CgroupSetup c;
    if (std::getenv("AHA_SANDBOX_NO_CGROUP")) return c;
    std::ifstream f("/proc/self/cgroup");
    std::string line, v2_path, mem_path, pids_path;
    while (std::getline(f, line)) {
      size_t a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
      if (line.rfind("0::", 0) == 0) v2_path = path;
      std::istringstream cs(ctrls);
      for (std::string c1; std::getline(cs, c1, ',');) {
        if (c1 == "memory") mem_path = path;
        if (c1 == "pids") pids_path = path;
      }
    }
    auto try_dir = [](const std::string& base) {
      std::string probe = base + "/aha-probe-" + std::to_string(getpid());
      if (mkdir(probe.c_str(), 0755) != 0) return false;
      rmdir(probe.c_str());
      return true;
    };
    if (!mem_path.empty() && !pids_path.empty()) {
      std::string m = "/sys/fs/cgroup/memory" + mem_path, p = "/sys/fs/cgroup/pids" + pids_path;
      if (try_dir(m) && try_dir(p)) {
        c.mem_base = m;
        c.pids_base = p;
        return c;
      }
    }
    if (!v2_path.empty() && access("/sys/fs/cgroup/cgroup.controllers", R_OK) == 0) {
      std::string base = "/sys/fs/cgroup" + (v2_path == "/" ? std::string() : v2_path);
      std::string sub = read_text(base + "/cgroup.subtree_control");
      if (sub.find("memory") != std::string::npos && sub.find("pids") != std::string::npos &&
          try_dir(base)) {
        c.v2 = true;
        c.mem_base = c.pids_base = base;
      }
    }
    return c;
  }();
  return cg;
}

// One run's cgroup directories (empty when cgroups are not in use).
struct RunCgroup {
  std::vector<std::string> dirs;
  std::vector<std::string> procs;  // cgroup.procs files the child joins
  std::string mem_dir;
};

RunCgroup make_run_cgroup(const SandboxLimits& lim) {
  RunCgroup rc;
  const CgroupSetup& cg = cgroup_setup();
  if (!cg.ok()) return rc;
  static std::atomic<uint64_t> counter{0};
  std::string name = "/aha-sbx-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  std::string mem = cg.mem_base + name, pids = cg.pids_base + name;
  if (mkdir(mem.c_str(), 0755) != 0) return rc;
  rc.dirs.push_back(mem);
  rc.mem_dir = mem;
  std::string bytes = std::to_string(lim.memory_bytes), tasks = std::to_string(lim.nproc);
  bool ok;
  if (cg.v2) {
    ok = write_text(mem + "/memory.max", bytes) && write_text(mem + "/pids.max", tasks);
    write_text(mem + "/memory.swap.max", "0");
    rc.procs.push_back(mem + "/cgroup.procs");
  } else {
    ok = write_text(mem + "/memory.limit_in_bytes", bytes);
    write_text(mem + "/memory.memsw.limit_in_bytes", bytes);  // no swap (absent without swap)
    if (ok && mkdir(pids.c_str(), 0755) == 0) {
      rc.dirs.push_back(pids);
      ok = write_text(pids + "/pids.max", tasks);
    } else {
      ok = false;
    }
    rc.procs.push_back(mem + "/cgroup.procs");
    rc.procs.push_back(pids + "/cgroup.procs");
  }
  if (!ok) {
    for (const auto& d : rc.dirs) rmdir(d.c_str());
    log().warn("sandbox: cannot set cgroup limits in {}; per-process rlimits only", mem);
    return RunCgroup{};
  }
  return rc;
}

// Kills what is left in the run's cgroups and removes them; true if memory ran out.
bool remove_run_cgroup(const RunCgroup& rc) {
  bool oom = false;
  if (!rc.mem_dir.empty()) {
    if (cgroup_setup().v2) {
      std::string ev = read_text(rc.mem_dir + "/memory.events");
      size_t at = ev.find("oom_kill ");
      oom = at != std::string::npos && std::atol(ev.c_str() + at + 9) > 0;
    } else {
      oom = std::atol(read_text(rc.mem_dir + "/memory.failcnt").c_str()) > 0;
    }
  }
  for (const auto& d : rc.dirs) {
    for (int round = 0; round < 200; round++) {
      std::istringstream in(read_text(d + "/cgroup.procs"));
      bool any = false;
      for (long pid; in >> pid;) {
        any = true;
        kill(static_cast<pid_t>(pid), SIGKILL);
        waitpid(static_cast<pid_t>(pid), nullptr, WNOHANG);
      }
      if (!any && rmdir(d.c_str()) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  return oom;
}

// The seccomp program of every run (bubblewrap gets it through --seccomp, the fallback installs it
// itself), built once in the parent (the child may not allocate after fork).
struct Bpf {
  std::vector<sock_filter> insns;
  bool ok = false;
};

const Bpf& sandbox_bpf() {
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
    // Memory no rlimit counts (RLIMIT_AS sees mappings only): System V shared memory, message
    // queues and semaphores live on in the IPC namespace (one process held 2 GiB with
    // memory_mb = 256 and no cgroup), and memfd pages while unmapped. Kernel AIO contexts count
    // against the host-wide fs.aio-max-nr (one run held all of it: io_setup failed machine-wide).
    for (int sys : {SCMP_SYS(shmget), SCMP_SYS(msgget), SCMP_SYS(semget), SCMP_SYS(memfd_create),
                    SCMP_SYS(io_setup)})
      seccomp_rule_add(ctx, deny, sys, 0);
    // No new namespaces of any kind, by clone(2) either: a nested user namespace would give the
    // program a mount namespace of its own (a tmpfs no limit bounds) and the kernel surface that
    // needs CAP_SYS_ADMIN or CAP_NET_ADMIN. clone3 hides its flags in memory: ENOSYS makes libc
    // fall back to clone.
    // A libseccomp too old to know clone3 must not leave it open: then there is no filter at all.
    bool ns_rules = true;
    for (uint64_t flag : {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
                          CLONE_NEWUTS, CLONE_NEWCGROUP})
      ns_rules = ns_rules && seccomp_rule_add(ctx, deny, SCMP_SYS(clone), 1,
                                              SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)) == 0;
    ns_rules = ns_rules && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) == 0;
    int fd = memfd_create("aha-seccomp", MFD_CLOEXEC);
    if (ns_rules && fd >= 0 && seccomp_export_bpf(ctx, fd) == 0) {
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
constexpr int kMaxBinds = 16;
// The fd that carries the seccomp program to bubblewrap (above the run's fds 0-5).
constexpr int kSeccompFd = 10;

struct ChildPlan {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string dir;                       // the session directory on the host
  int stdin_fd = -1;                     // a sealed memfd (sealed_stdin) or a pipe
  std::vector<std::pair<int, int>> fds;  // (our fd, its number in the child), numbers >= 3
  uid_t uid = 0;
  bool drop_identity = false;
  bool fallback = false;
  bool userns = false;  // fallback as non-root: a user namespace first (uid mapped to itself)
  std::string uid_map, gid_map;
  const std::vector<MountPoint>* mounts = nullptr;  // fallback: made read-only
  std::vector<std::string> bind_src, bind_dst;      // fallback: files shown read-only
  std::string rw_src, rw_dst;                       // fallback: the writable subdirectory
  std::string tmp_opts;                             // fallback: the /tmp tmpfs
  std::vector<std::string> cgroup_procs;            // cgroup.procs files to join first
  SandboxLimits limits;
};

void child_write(int fd, const char* s) {
  if (write(fd, s, strlen(s)) < 0) {
  }
}

[[noreturn]] void child_fail(int err_fd, const char* what, const char* detail = nullptr) {
  child_write(err_fd, what);
  if (detail) {
    child_write(err_fd, ": ");
    child_write(err_fd, detail);
  }
  _exit(127);
}

// "/proc/self/fd/N" without allocating.
void fd_path(char* buf, int fd) {
  const char* pre = "/proc/self/fd/";
  int len = 0;
  while (pre[len]) buf[len] = pre[len], len++;
  char digits[12];
  int nd = 0;
  for (int v = fd; v > 0 || nd == 0; v /= 10) digits[nd++] = static_cast<char>('0' + v % 10);
  while (nd > 0) buf[len++] = digits[--nd];
  buf[len] = '\0';
}

bool child_write_file(const char* path, const std::string& text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

bool has_prefix(const std::string& s, const char* pre) {
  size_t n = strlen(pre);
  return s.compare(0, n, pre) == 0 && (s.size() == n || s[n] == '/');
}

// The fallback's namespaces, made in the child: a user namespace when not root, then mount, pid,
// net, ipc and uts. Returns in the first process of the new pid namespace (pid 1); the process
// that called it waits there and exits as that one did.
void fallback_namespaces(const ChildPlan& plan, int err_fd) {
  if (plan.userns) {
    if (unshare(CLONE_NEWUSER) != 0)
      child_fail(err_fd, "fallback sandbox: no user namespace (unshare)", strerror(errno));
    if (!child_write_file("/proc/self/setgroups", "deny") ||
        !child_write_file("/proc/self/uid_map", plan.uid_map) ||
        !child_write_file("/proc/self/gid_map", plan.gid_map))
      child_fail(err_fd, "fallback sandbox: cannot map the uid in the user namespace");
  }
  if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0)
    child_fail(err_fd, "fallback sandbox: no mount/pid/net namespaces (unshare)", strerror(errno));
  pid_t init = fork();
  if (init < 0) child_fail(err_fd, "fallback sandbox: fork", strerror(errno));
  if (init > 0) {
    for (int fd = 0; fd < 1024; fd++)
      if (fd != err_fd) close(fd);
    int st = 0;
    while (waitpid(init, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st)) _exit(WEXITSTATUS(st));
    int sig = WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL;
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    kill(getpid(), sig);
    _exit(128 + sig);
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // pid 1 of the namespace: when it exits, the kernel kills every process left in it.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    child_fail(err_fd, "fallback sandbox: make mounts private", strerror(errno));
  // Host paths the run sees (files and the writable subdirectory) are opened before the new
  // /tmp hides them; they reappear by /proc/self/fd.
  int src_fd[kMaxBinds];
  size_t nb = plan.bind_src.size() < kMaxBinds ? plan.bind_src.size() : kMaxBinds;
  for (size_t i = 0; i < nb; i++) {
    src_fd[i] = open(plan.bind_src[i].c_str(), O_PATH | O_CLOEXEC);
    if (src_fd[i] < 0) child_fail(err_fd, "fallback sandbox: open", plan.bind_src[i].c_str());
  }
  int rw_fd = -1;
  if (!plan.rw_src.empty()) {
    // Its own mount before everything turns read-only, so it stays writable.
    if (mount(plan.rw_src.c_str(), plan.rw_src.c_str(), nullptr, MS_BIND, nullptr) != 0)
      child_fail(err_fd, "fallback sandbox: bind", plan.rw_src.c_str());
    rw_fd = open(plan.rw_src.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rw_fd < 0) child_fail(err_fd, "fallback sandbox: open", plan.rw_src.c_str());
  }
  for (const MountPoint& mp : *plan.mounts) {
    if (mount(nullptr, mp.path.c_str(), nullptr, mp.flags, nullptr) == 0) continue;
    // /proc is replaced below; /sys holds no file the sandbox uid may write; a path that is gone
    // or shadowed by another mount cannot be reached.
    if (has_prefix(mp.path, "/proc") || has_prefix(mp.path, "/sys") || errno == ENOENT) continue;
    child_fail(err_fd, "fallback sandbox: cannot make a mount read-only", mp.path.c_str());
  }
  // A new root in a tmpfs (at /tmp until the chroot), built like bubblewrap's: /usr read-only,
  // the loader's cache, a few devices, a fresh /proc, /tmp holding the work directory. No other
  // host file is visible (the task's data, the user's home, the harness's files).
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, plan.tmp_opts.c_str()) != 0)
    child_fail(err_fd, "fallback sandbox: tmpfs root", strerror(errno));
  auto make_dir = [&](const char* p, mode_t mode) {
    if (mkdir(p, mode) != 0 || chmod(p, mode) != 0)
      child_fail(err_fd, "fallback sandbox: mkdir", p);
  };
  auto bind_node = [&](const char* src, const char* dst, bool dir) {
    if (dir) {
      make_dir(dst, 0755);
    } else {
      int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) child_fail(err_fd, "fallback sandbox: create", dst);
      close(fd);
    }
    if (mount(src, dst, nullptr, MS_BIND | MS_REC, nullptr) != 0)
      child_fail(err_fd, "fallback sandbox: bind", dst);
  };
  chmod("/tmp", 0755);
  bind_node("/usr", "/tmp/usr", true);
  const char* links[][2] = {{"usr/lib", "/tmp/lib"},
                            {"usr/lib64", "/tmp/lib64"},
                            {"usr/bin", "/tmp/bin"},
                            {"usr/sbin", "/tmp/sbin"}};
  for (const auto& l : links)
    if (symlink(l[0], l[1]) != 0) child_fail(err_fd, "fallback sandbox: symlink", l[1]);
  make_dir("/tmp/etc", 0755);
  if (access("/etc/ld.so.cache", F_OK) == 0)
    bind_node("/etc/ld.so.cache", "/tmp/etc/ld.so.cache", false);
  if (access("/etc/alternatives", F_OK) == 0)
    bind_node("/etc/alternatives", "/tmp/etc/alternatives", true);
  make_dir("/tmp/dev", 0755);
  const char* devs[][2] = {{"/dev/null", "/tmp/dev/null"},
                           {"/dev/zero", "/tmp/dev/zero"},
                           {"/dev/full", "/tmp/dev/full"},
                           {"/dev/random", "/tmp/dev/random"},
                           {"/dev/urandom", "/tmp/dev/urandom"}};
  for (const auto& d : devs)
    if (access(d[0], F_OK) == 0) bind_node(d[0], d[1], false);
  make_dir("/tmp/dev/shm", 01777);
  if (symlink("/proc/self/fd", "/tmp/dev/fd") != 0)
    child_fail(err_fd, "fallback sandbox: symlink /dev/fd");
  make_dir("/tmp/tmp", 01777);
  make_dir("/tmp/tmp/w", 0755);
  char path[40];
  for (size_t i = 0; i < nb; i++) {
    int fd = open(plan.bind_dst[i].c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) child_fail(err_fd, "fallback sandbox: create", plan.bind_dst[i].c_str());
    close(fd);
    fd_path(path, src_fd[i]);
    if (mount(path, plan.bind_dst[i].c_str(), nullptr, MS_BIND, nullptr) != 0)
      child_fail(err_fd, "fallback sandbox: bind", plan.bind_dst[i].c_str());
    close(src_fd[i]);
  }
  if (rw_fd >= 0) {
    if (mkdir(plan.rw_dst.c_str(), 0755) != 0)
      child_fail(err_fd, "fallback sandbox: mkdir", plan.rw_dst.c_str());
    fd_path(path, rw_fd);
    if (mount(path, plan.rw_dst.c_str(), nullptr, MS_BIND, nullptr) != 0)
      child_fail(err_fd, "fallback sandbox: bind", plan.rw_dst.c_str());
    close(rw_fd);
  }
  // A /proc of the new pid namespace only; where the kernel refuses it, an empty one.
  make_dir("/tmp/proc", 0555);
  if (mount("proc", "/tmp/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0 &&
      mount("tmpfs", "/tmp/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555") !=
          0)
    child_fail(err_fd, "fallback sandbox: no /proc", strerror(errno));
  if (plan.drop_identity && chown("/tmp/tmp/w", plan.uid, plan.uid) != 0)
    child_fail(err_fd, "fallback sandbox: chown /tmp/w");
  if (chroot("/tmp") != 0) child_fail(err_fd, "fallback sandbox: chroot", strerror(errno));
  if (chdir("/tmp/w") != 0) child_fail(err_fd, "fallback sandbox: chdir /tmp/w");
}

[[noreturn]] void run_child(const ChildPlan& plan, char* const* argv, char* const* envp, int out_w,
                            int err_fd) {
  setpgid(0, 0);
  // Into the run's cgroups first: everything it starts is counted there.
  for (const std::string& procs : plan.cgroup_procs)
    if (!child_write_file(procs.c_str(), "0")) child_fail(err_fd, "join cgroup", procs.c_str());
  int in_fd = plan.stdin_fd;
  if (in_fd < 0) child_fail(err_fd, "no stdin");
  // Sources first to high numbers (a source may sit on a target number), then to their targets,
  // then everything else closed.
  auto high = [&](int fd) {
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 200);
    if (h < 0) child_fail(err_fd, "dup");
    return h;
  };
  int keep_err = high(err_fd);
  err_fd = keep_err;
  int in_h = high(in_fd), out_h = high(out_w);
  int extra_h[8];
  size_t nx = plan.fds.size() < 8 ? plan.fds.size() : 8;
  for (size_t i = 0; i < nx; i++) extra_h[i] = high(plan.fds[i].first);
  if (dup2(in_h, 0) < 0 || dup2(out_h, 1) < 0 || dup2(out_h, 2) < 0) child_fail(err_fd, "dup2");
  for (size_t i = 0; i < nx; i++)
    if (dup2(extra_h[i], plan.fds[i].second) < 0) child_fail(err_fd, "dup2");
  for (int fd = 3; fd < 1024; fd++) {
    bool keep = fd == keep_err;
    for (size_t i = 0; i < nx; i++) keep = keep || fd == plan.fds[i].second;
    if (!keep) close(fd);
  }
  if (!plan.fallback) {
    // bubblewrap reads the filter from kSeccompFd and installs it just before it runs argv (before
    // RLIMIT_NOFILE, which may be lower than the fd).
    const Bpf& bpf = sandbox_bpf();  // built before fork; here only read
    if (!bpf.ok) child_fail(err_fd, "sandbox: no seccomp filter");
    int sp[2];
    size_t bytes = bpf.insns.size() * sizeof(sock_filter);
    if (pipe(sp) != 0 || sp[1] >= kSeccompFd || bytes > 65536 ||
        write(sp[1], bpf.insns.data(), bytes) != static_cast<ssize_t>(bytes) ||
        dup2(sp[0], kSeccompFd) < 0)
      child_fail(err_fd, "sandbox: seccomp pipe");
    close(sp[0]);
    close(sp[1]);
  }
  if (chdir(plan.dir.c_str()) != 0) child_fail(err_fd, "chdir");
  if (plan.fallback) fallback_namespaces(plan, err_fd);
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
  if (!plan.fallback && getppid() == 1) _exit(126);
  if (plan.fallback) {
    const Bpf& bpf = sandbox_bpf();  // built before fork; here only read
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(err_fd, "no_new_privs");
    if (!bpf.ok) child_fail(err_fd, "fallback sandbox: no seccomp filter");
    sock_fprog prog{static_cast<unsigned short>(bpf.insns.size()),
                    const_cast<sock_filter*>(bpf.insns.data())};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) child_fail(err_fd, "seccomp");
  }
  execve(argv[0], argv, envp);
  child_fail(err_fd, "execve", argv[0]);
}

struct Probe {
  Isolation iso = Isolation::kNone;
  std::string why;  // why neither works (kNone)
};
Probe probe_isolation();

}  // namespace

const char* isolation_name(Isolation iso) {
  switch (iso) {
    case Isolation::kBubblewrap:
      return "bubblewrap";
    case Isolation::kFallback:
      return "fallback (user/mount/pid/net namespaces + read-only mounts + seccomp + rlimits)";
    default:
      return "none (no sandbox that holds: code is not run)";
  }
}

bool sandbox_cgroup_limits() {
  return cgroup_setup().ok();
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

int sandbox_count_own_processes() {
  std::vector<uid_t> uids;
  {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    uids = p.slot_uid;
  }
  int n = 0;
  for (uid_t u : uids)
    if (u != 0 && u != getuid()) n += static_cast<int>(processes_of(u).size());
  return n;
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
Isolation g_iso = Isolation::kNone;
std::string g_iso_why;
}  // namespace

Isolation sandbox_isolation() {
  std::call_once(g_iso_once, [] {
    // Orphans of a sandbox (bubblewrap's namespace init) are reparented to us and reaped by
    // kill_uid, instead of lingering as zombies of the container's init.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    Probe p = probe_isolation();
    g_iso = p.iso;
    g_iso_why = p.why;
    if (g_iso == Isolation::kBubblewrap)
      log().info("sandbox: isolation is {}", isolation_name(g_iso));
    else if (g_iso == Isolation::kFallback)
      log().warn("sandbox: isolation is {} (bubblewrap not used)", isolation_name(g_iso));
    else
      log().error("sandbox: no isolation that holds, generated code will not run: {}", g_iso_why);
  });
  return g_iso;
}

SandboxSession::SandboxSession() {
  Isolation iso = sandbox_isolation();
  if (iso == Isolation::kNone)
    throw std::runtime_error("sandbox: refusing to run generated code without isolation: " +
                             g_iso_why);
  sandbox_bpf();  // built before any fork: the child must not allocate
  cgroup_setup();
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

namespace {
bool bad_name(const std::string& name) {
  return name.empty() || name.find('/') != std::string::npos || name[0] == '.';
}
}  // namespace

void SandboxSession::write_file(const std::string& name, const std::string& content) {
  if (bad_name(name)) throw std::invalid_argument("sandbox: bad file name '" + name + "'");
  std::string path = dir_ + "/" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  if (!f) throw std::runtime_error("sandbox: cannot write " + path);
  if (running_as_root() && chown(path.c_str(), uid_, uid_) != 0) {
  }
}

void SandboxSession::make_dir(const std::string& name) {
  if (bad_name(name)) throw std::invalid_argument("sandbox: bad directory name '" + name + "'");
  std::string path = dir_ + "/" + name;
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
    throw std::runtime_error("sandbox: mkdir " + path + ": " + std::strerror(errno));
  if (running_as_root() && chown(path.c_str(), uid_, uid_) != 0)
    throw std::runtime_error("sandbox: chown " + path + ": " + std::strerror(errno));
}

namespace {

std::vector<std::string> bwrap_args(const std::string& dir, const SandboxLimits& lim,
                                    const std::vector<std::string>& files,
                                    const std::string& writable_dir) {
  // bubblewrap's own tmpfs mounts (/, /dev) have no size: /dev/shm gets one of tmp_bytes, and
  // / and /dev turn read-only once set up (below).
  std::vector<std::string> a = {"/usr/bin/bwrap",
                                "--unshare-all",
                                "--die-with-parent",
                                "--new-session",
                                "--seccomp",
                                std::to_string(kSeccompFd),
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
                                "/dev/shm",
                                "--size",
                                std::to_string(lim.tmp_bytes),
                                "--tmpfs",
                                "/tmp",
                                "--dir",
                                "/tmp/w"};
  for (const auto& f : files) {
    a.insert(a.end(), {"--ro-bind", dir + "/" + f, "/tmp/w/" + f});
  }
  if (!writable_dir.empty())
    a.insert(a.end(), {"--bind", dir + "/" + writable_dir, "/tmp/w/" + writable_dir});
  // Without this a run could fill / or /dev (host memory, unbounded without a cgroup).
  a.insert(a.end(), {"--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp/w", "--"});
  return a;
}

// Runs the plans together; the first is primary: the run ends when it exits (its pipes drained)
// or at its deadline, and then every process of every plan is killed. links: fds the plans use
// among themselves, closed here once all are started.
std::vector<SandboxResult> run_plans(std::vector<ChildPlan>& plans, const std::vector<int>& links,
                                     const std::vector<bool>& has_channel) {
  size_t n = plans.size();
  std::vector<SandboxResult> res(n);
  // The run's cgroup takes the tightest limits of its plans (the candidate's, in a connected run).
  SandboxLimits cg_lim = plans[0].limits;
  for (const ChildPlan& p : plans) {
    cg_lim.memory_bytes = std::min(cg_lim.memory_bytes, p.limits.memory_bytes);
    cg_lim.nproc = std::min(cg_lim.nproc, p.limits.nproc);
  }
  RunCgroup cg = make_run_cgroup(cg_lim);
  struct Live {
    int out = -1, chan = -1, err = -1, pidfd = -1;
    pid_t pid = -1;
    bool out_open = false, chan_open = false, exited = false;
    int status = 0;
  };
  std::vector<Live> live(n);
  std::vector<std::vector<char*>> argvs(n), envps(n);
  for (size_t i = 0; i < n; i++) {
    plans[i].cgroup_procs = cg.procs;
    for (const auto& s : plans[i].args) argvs[i].push_back(const_cast<char*>(s.c_str()));
    argvs[i].push_back(nullptr);
    for (const auto& s : plans[i].env) envps[i].push_back(const_cast<char*>(s.c_str()));
    envps[i].push_back(nullptr);
  }
  auto t0 = std::chrono::steady_clock::now();
  std::string setup_error;
  for (size_t i = 0; i < n && setup_error.empty(); i++) {
    int out[2], chan[2] = {-1, -1}, err[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      setup_error = "pipe";
      break;
    }
    if (has_channel[i] && pipe2(chan, O_CLOEXEC) != 0) {
      close(out[0]), close(out[1]);
      setup_error = "pipe";
      break;
    }
    if (pipe2(err, O_CLOEXEC) != 0) {
      for (int fd : {out[0], out[1], chan[0], chan[1]})
        if (fd >= 0) close(fd);
      setup_error = "pipe";
      break;
    }
    if (chan[1] >= 0) plans[i].fds.insert(plans[i].fds.begin(), {chan[1], 3});
    std::unique_lock<std::mutex> children_lock(g_children_mu);
    pid_t pid = fork();
    if (pid > 0) g_children.push_back(pid);
    children_lock.unlock();
    if (pid < 0) {
      for (int fd : {out[0], out[1], chan[0], chan[1], err[0], err[1]})
        if (fd >= 0) close(fd);
      setup_error = std::string("fork: ") + std::strerror(errno);
      break;
    }
    if (pid == 0) run_child(plans[i], argvs[i].data(), envps[i].data(), out[1], err[1]);
    setpgid(pid, pid);  // also set here so the group exists before we might kill it
    close(out[1]);
    close(err[1]);
    if (chan[1] >= 0) close(chan[1]);
    Live& l = live[i];
    l.pid = pid;
    l.out = out[0];
    l.chan = chan[0];
    l.err = err[0];
    l.out_open = true;
    l.chan_open = chan[0] >= 0;
    l.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    fcntl(l.out, F_SETFL, O_NONBLOCK);
    if (l.chan >= 0) fcntl(l.chan, F_SETFL, O_NONBLOCK);
  }
  for (int fd : links) close(fd);
  auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(plans[0].limits.wall_s));
  std::chrono::steady_clock::time_point drain_until{};
  char buf[65536];
  bool output_limit = false;
  auto read_into = [&](int fd, std::string& dst, bool& open, size_t cap) {
    for (;;) {
      ssize_t k = read(fd, buf, sizeof buf);
      if (k > 0) {
        size_t room = cap > dst.size() ? cap - dst.size() : 0;
        dst.append(buf, std::min(room, static_cast<size_t>(k)));
        if (static_cast<size_t>(k) > room) {
          output_limit = true;
          return;
        }
        continue;
      }
      if (k == 0) open = false;
      return;  // EAGAIN or EOF
    }
  };
  bool timed_out = false;
  while (setup_error.empty() && live[0].pid > 0) {
    auto now = std::chrono::steady_clock::now();
    if (output_limit) break;
    const Live& p = live[0];
    if (!p.exited && now >= deadline) {
      timed_out = true;
      break;
    }
    if (p.exited && !p.out_open && !p.chan_open) break;
    if (p.exited && now >= drain_until) break;  // a leftover holds the pipes: stop waiting
    std::vector<pollfd> fds;
    bool need_tick = false;
    for (const Live& l : live) {
      if (l.pid <= 0) continue;
      if (l.out_open) fds.push_back({l.out, POLLIN, 0});
      if (l.chan_open) fds.push_back({l.chan, POLLIN, 0});
      if (!l.exited && l.pidfd >= 0) fds.push_back({l.pidfd, POLLIN, 0});
      if (!l.exited && l.pidfd < 0) need_tick = true;
    }
    auto until = p.exited ? drain_until : deadline;
    int wait_ms = static_cast<int>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()) +
                  1;
    if (need_tick) wait_ms = std::min(wait_ms, 20);
    poll(fds.data(), static_cast<nfds_t>(fds.size()), wait_ms);
    for (size_t i = 0; i < n; i++) {
      Live& l = live[i];
      if (l.pid <= 0) continue;
      size_t cap = plans[i].limits.output_bytes;
      if (l.out_open) read_into(l.out, res[i].output, l.out_open, cap);
      if (l.chan_open) read_into(l.chan, res[i].channel, l.chan_open, cap);
      if (output_limit) res[i].output_limit = true;
      if (output_limit) break;
      if (!l.exited) {
        pid_t w = waitpid(l.pid, &l.status, WNOHANG);
        if (w == l.pid) {
          l.exited = true;
          if (l.pidfd >= 0) close(l.pidfd), l.pidfd = -1;
          if (i == 0)
            drain_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        }
      }
    }
  }
  for (Live& l : live) {
    if (l.pid <= 0) continue;
    kill(-l.pid, SIGKILL);  // the whole group, whatever remains
    kill(l.pid, SIGKILL);   // a child that had not yet made its group
  }
  bool oom = remove_run_cgroup(cg);
  // Wait (bounded) until every process of the run's groups is gone and reaped: the namespace's
  // init comes back to us as an orphan only after it has ended every process in its namespace,
  // and until then they still count against RLIMIT_NPROC of the uid (non-root: the caller's).
  for (size_t i = 0; i < n; i++)
    if (live[i].pid > 0 && !live[i].exited) {
      waitpid(live[i].pid, &live[i].status, 0);
      live[i].exited = true;
    }
  for (int round = 0; round < 400; round++) {
    reap_orphans();
    bool any = false;
    for (const Live& l : live)
      if (l.pid > 0 && kill(-l.pid, 0) == 0) any = true;
    if (!any) break;
    for (const Live& l : live)
      if (l.pid > 0) kill(-l.pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < n; i++) {
    Live& l = live[i];
    SandboxResult& r = res[i];
    r.wall_s = wall;
    r.memory_limit = oom;
    if (l.pid <= 0) {
      r.error = setup_error.empty() ? "not started" : setup_error;
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(g_children_mu);
      g_children.erase(std::find(g_children.begin(), g_children.end(), l.pid));
    }
    if (i == 0) r.timed_out = timed_out;
    // The child's own setup failure message (before exec) arrives on err.
    ssize_t en = read(l.err, buf, sizeof buf - 1);
    if (en > 0) r.error = "sandbox setup failed: " + std::string(buf, static_cast<size_t>(en));
    for (int fd : {l.out, l.chan, l.err, l.pidfd})
      if (fd >= 0) close(fd);
    if (WIFEXITED(l.status)) r.exit_code = WEXITSTATUS(l.status);
    if (WIFSIGNALED(l.status)) r.term_signal = WTERMSIG(l.status);
  }
  return res;
}

std::vector<std::string> base_env() {
  return {"PATH=/usr/bin:/bin",        "HOME=/tmp",        "LANG=C.UTF-8",
          "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0", "OMP_NUM_THREADS=1",
          "OPENBLAS_NUM_THREADS=1",    "TMPDIR=/tmp"};
}

// The plan for one request in one isolation (no fds yet).
ChildPlan make_plan(Isolation iso, const std::string& dir, uid_t uid, const SandboxRequest& req) {
  ChildPlan plan;
  plan.fallback = iso == Isolation::kFallback;
  std::vector<std::string> files = req.files;
  if (files.empty()) {
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.')
        files.push_back(e.path().filename().string());
  }
  for (const auto& f : files)
    if (bad_name(f)) throw std::invalid_argument("sandbox: bad file name '" + f + "'");
  if (files.size() > static_cast<size_t>(kMaxBinds))
    throw std::invalid_argument("sandbox: more than 16 files in one run");
  if (!plan.fallback) plan.args = bwrap_args(dir, req.limits, files, req.writable_dir);
  for (const auto& a : req.argv) plan.args.push_back(a);
  plan.env = base_env();
  if (plan.fallback) {
    static const std::vector<MountPoint> mps = mount_points();
    plan.mounts = &mps;
    for (const auto& f : files) {
      plan.bind_src.push_back(dir + "/" + f);
      plan.bind_dst.push_back("/tmp/tmp/w/" + f);  // the new root is at /tmp until the chroot
    }
    if (!req.writable_dir.empty()) {
      plan.rw_src = dir + "/" + req.writable_dir;
      plan.rw_dst = "/tmp/tmp/w/" + req.writable_dir;
    }
    plan.tmp_opts = "size=" + std::to_string(req.limits.tmp_bytes) + ",mode=1777";
    plan.userns = !running_as_root();
    plan.uid_map = std::to_string(getuid()) + " " + std::to_string(getuid()) + " 1\n";
    plan.gid_map = std::to_string(getgid()) + " " + std::to_string(getgid()) + " 1\n";
  }
  plan.dir = dir;
  plan.uid = uid;
  plan.drop_identity = running_as_root();
  plan.limits = req.limits;
  return plan;
}

// A run's stdin: a memfd sealed against writes. A file of the work directory would be a host file
// the run could reopen for writing through /proc/self/fd/0 (16 MiB written to the host's disk).
int sealed_stdin(const std::string& data) {
  int fd = memfd_create("aha-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw std::runtime_error(std::string("sandbox: memfd_create: ") + strerror(errno));
  for (size_t at = 0; at < data.size();) {
    ssize_t k = write(fd, data.data() + at, data.size() - at);
    if (k <= 0) {
      close(fd);
      throw std::runtime_error("sandbox: cannot write stdin");
    }
    at += static_cast<size_t>(k);
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
      lseek(fd, 0, SEEK_SET) != 0) {
    close(fd);
    throw std::runtime_error(std::string("sandbox: seal stdin: ") + strerror(errno));
  }
  return fd;
}

// Runs /usr/bin/true under `iso`; "" when it worked, else why not.
std::string try_isolation(Isolation iso) {
  if (iso == Isolation::kBubblewrap && access("/usr/bin/bwrap", X_OK) != 0)
    return "/usr/bin/bwrap not found";
  uid_t uid = running_as_root() ? kUidBase + kUidRange - 1 : getuid();
  int lock = running_as_root() ? lock_uid(uid) : -1;
  char tmpl[] = "/tmp/aha-sbx-probe-XXXXXX";
  if (!mkdtemp(tmpl)) return std::string("mkdtemp: ") + std::strerror(errno);
  std::string dir = tmpl;
  if (running_as_root() && chown(dir.c_str(), uid, uid) != 0) {
  }
  std::string why;
  try {
    SandboxRequest req{{"/usr/bin/true"}, "", {}, {}, ""};
    req.limits.wall_s = 10;
    std::vector<ChildPlan> plans = {make_plan(iso, dir, uid, req)};
    sandbox_bpf();
    plans[0].stdin_fd = sealed_stdin("");
    SandboxResult r = run_plans(plans, {plans[0].stdin_fd}, {true})[0];
    if (r.exit_code != 0 || !r.error.empty())
      why = "exit " + std::to_string(r.exit_code) + ", signal " + std::to_string(r.term_signal) +
            ": " + r.error + r.output.substr(0, 300);
  } catch (const std::exception& e) {
    why = e.what();
  }
  kill_uid(uid);
  reap_orphans();
  std::filesystem::remove_all(dir);
  if (lock >= 0) close(lock);
  return why;
}

Probe probe_isolation() {
  Probe p;
  const char* env = std::getenv("AHA_SANDBOX");
  if (env && std::string(env) == "none") {
    p.why = "AHA_SANDBOX=none";
    return p;
  }
  bool forced = env && std::string(env) == "fallback";
  std::string bwrap_why = "AHA_SANDBOX=fallback";
  if (!forced) {
    bwrap_why = try_isolation(Isolation::kBubblewrap);
    if (bwrap_why.empty()) {
      p.iso = Isolation::kBubblewrap;
      return p;
    }
    log().warn("sandbox: bubblewrap does not work here ({}); trying the fallback", bwrap_why);
  }
  std::string fb_why = try_isolation(Isolation::kFallback);
  if (fb_why.empty()) {
    p.iso = Isolation::kFallback;
    return p;
  }
  p.why = "bubblewrap: " + bwrap_why + "; fallback: " + fb_why;
  return p;
}

// The run could not start its namespaces or processes for lack of tasks (EAGAIN): the processes of
// an earlier run of this uid may still be dying (non-root: the caller's uid is shared).
bool start_starved(const SandboxResult& r) {
  const char* again = "Resource temporarily unavailable";
  return (r.output.rfind("bwrap: ", 0) == 0 && r.output.find(again) != std::string::npos) ||
         r.error.find(again) != std::string::npos;
}

}  // namespace

SandboxResult SandboxSession::run(const SandboxRequest& req) {
  if (req.argv.empty()) throw std::invalid_argument("sandbox: empty argv");
  Isolation iso = sandbox_isolation();
  SandboxResult r;
  for (int attempt = 0; attempt < 20; attempt++) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<ChildPlan> plans = {make_plan(iso, dir_, uid_, req)};
    plans[0].stdin_fd = sealed_stdin(req.stdin_data);
    r = run_plans(plans, {plans[0].stdin_fd}, {true})[0];
    kill_uid(uid_);  // anything that still lingers
    reap_orphans();
    if (!start_starved(r)) break;
  }
  return r;
}

std::vector<SandboxResult> SandboxSession::run_connected(const SandboxRequest& primary,
                                                         const SandboxRequest& peer) {
  if (primary.argv.empty() || peer.argv.empty()) throw std::invalid_argument("sandbox: empty argv");
  Isolation iso = sandbox_isolation();
  std::vector<SandboxResult> r;
  for (int attempt = 0; attempt < 20; attempt++) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<ChildPlan> plans = {make_plan(iso, dir_, uid_, primary),
                                    make_plan(iso, dir_, uid_, peer)};
    int to_peer[2], from_peer[2];
    int in = sealed_stdin(primary.stdin_data);
    if (pipe2(to_peer, O_CLOEXEC) != 0) {
      close(in);
      throw std::runtime_error("sandbox: pipe");
    }
    if (pipe2(from_peer, O_CLOEXEC) != 0) {
      close(in), close(to_peer[0]), close(to_peer[1]);
      throw std::runtime_error("sandbox: pipe");
    }
    plans[0].stdin_fd = in;
    plans[0].fds = {{from_peer[0], 4}, {to_peer[1], 5}};
    plans[1].stdin_fd = to_peer[0];
    plans[1].fds = {{from_peer[1], 3}};
    r = run_plans(plans, {in, to_peer[0], to_peer[1], from_peer[0], from_peer[1]}, {true, false});
    kill_uid(uid_);
    reap_orphans();
    if (!start_starved(r[0]) && !start_starved(r[1])) break;
  }
  return r;
}

}  // namespace aha
