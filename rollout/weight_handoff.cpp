#include "rollout/weight_handoff.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace aha {

namespace {

// The descriptor file's one record, rewritten in place by the learner under an exclusive flock
// (without it once a reader has held its shared lock past stall_s: then the generation, which
// every write moves on, tells that reader its copy may be torn, and the checksum a torn read).
enum class Kind : int32_t { kNone = 0, kHost = 1, kCudaIpc = 2 };
constexpr char kMagic[8] = {'A', 'H', 'A', 'W', 'H', 'O', '0', '2'};
struct Record {
  char magic[8];
  uint64_t version;  // 0: nothing offered
  int64_t num_params;
  Kind kind;
  int32_t owner_pid;
  char shm_name[64];              // kHost: the shared memory object, [num_params] floats
  char ipc[kCudaIpcHandleBytes];  // kCudaIpc: the handle of the allocation holding them
  uint64_t generation;            // one more at every write of the learner
  uint64_t checksum;              // FNV-1a 64 of the bytes before it
};
static_assert(offsetof(Record, checksum) + sizeof(uint64_t) == sizeof(Record), "no tail padding");

uint64_t record_sum(const Record& r) {
  const auto* p = reinterpret_cast<const unsigned char*>(&r);
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < offsetof(Record, checksum); i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::string errno_text() {
  return std::strerror(errno);
}

// This process's PID namespace (0 when unknown): shared memory names carry it, so a learner only
// sweeps objects whose owner pid it can check.
unsigned long pid_namespace() {
  struct stat st {};
  return stat("/proc/self/ns/pid", &st) == 0 ? static_cast<unsigned long>(st.st_ino) : 0;
}

// flock held for a scope (EINTR retried). `what` set: the wait says every 10 s what it waits
// for, and gives up (held false) after give_up_s seconds (a worker process stopped in the middle
// of a copy holds its lock for as long as it is stopped).
struct FileLock {
  int fd;
  bool held = true;
  FileLock(int f, int op, const char* what = nullptr, double give_up_s = 1e30) : fd(f) {
    const auto t0 = std::chrono::steady_clock::now();
    int warned = 0;
    while (flock(fd, what ? op | LOCK_NB : op) != 0) {
      if (errno == EINTR) continue;
      if (!what || errno != EWOULDBLOCK) throw std::runtime_error("flock: " + errno_text());
      const double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (waited >= give_up_s) {
        held = false;
        return;
      }
      if (waited >= 10.0 * (warned + 1)) {
        spdlog::warn("weights handoff: waited {:.0f} s for {}", waited, what);
        warned++;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~FileLock() {
    if (held) flock(fd, LOCK_UN);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
};

void write_record(WeightsHandoff& h, Record r) {
  r.generation = ++h.generation;
  r.checksum = record_sum(r);
  if (pwrite(h.fd, &r, sizeof r, 0) != static_cast<ssize_t>(sizeof r))
    throw std::runtime_error(h.path + ": write: " + errno_text());
}

// The learner's exclusive lock for a write: waits for the readers copying, but at most stall_s
// (then once more only a moment while that reader still holds it): a stopped worker process
// must not stop training. Its copy then fails the generation check and is discarded.
struct OwnerLock {
  WeightsHandoff& h;
  FileLock file;
  explicit OwnerLock(WeightsHandoff& owner)
      : h(owner),
        file(owner.fd, LOCK_EX, "a rollout worker process to finish copying the weights",
             owner.forced ? 0.05 : owner.stall_s) {
    if (file.held) {
      h.forced = false;
    } else if (!h.forced) {
      h.forced = true;
      spdlog::warn(
          "weights handoff: a rollout worker process has held the weights for {:.1f} s (stopped "
          "mid-copy?); going on without it: its copy will be discarded",
          h.stall_s);
    }
  }
};

Record empty_record() {
  Record r{};
  std::memcpy(r.magic, kMagic, sizeof kMagic);
  r.owner_pid = static_cast<int32_t>(getpid());
  return r;
}

void unmap_shm(WeightsHandoff& h, bool owner) {
  if (h.shm) munmap(h.shm, h.shm_bytes);
  if (owner && !h.shm_name.empty()) shm_unlink(h.shm_name.c_str());
  h.shm = nullptr;
  h.shm_bytes = 0;
  h.shm_name.clear();
}

// The learner's shared-memory copy, sized for `bytes` (a new object when the size changes).
void owner_shm(WeightsHandoff& h, size_t bytes) {
  if (h.shm && h.shm_bytes == bytes) return;
  unmap_shm(h, true);
  static std::atomic<int> counter{0};
  const std::string name = "/aha-weights-" + std::to_string(pid_namespace()) + "-" +
                           std::to_string(getpid()) + "-" + std::to_string(counter++);
  int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) throw std::runtime_error("shm_open " + name + ": " + errno_text());
  h.shm_name = name;  // unlinked by unmap_shm from here on
  // Reserved now: a full /dev/shm (containers give it 64 MiB) must fail here, not as a SIGBUS
  // when the weights are written.
  const int reserved = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  void* p =
      reserved == 0 ? mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
  const std::string err = reserved != 0 ? std::strerror(reserved) : errno_text();
  close(fd);
  if (p == MAP_FAILED) {
    unmap_shm(h, true);
    throw std::runtime_error("shared memory of " + std::to_string(bytes) + " bytes: " + err);
  }
  h.shm = p;
  h.shm_bytes = bytes;
}

// The descriptor's record for this offer (the learner's side).
Record offer_record(WeightsHandoff& h) {
  Record r = empty_record();
  const size_t bytes = static_cast<size_t>(h.num_params) * sizeof(float);
  if (h.device == Device::kCpu) {
    owner_shm(h, bytes);
    std::memcpy(h.shm, h.params, bytes);
    r.kind = Kind::kHost;
    std::snprintf(r.shm_name, sizeof r.shm_name, "%s", h.shm_name.c_str());
  } else {
    cuda_ipc_handle(h.params, r.ipc);
    r.kind = Kind::kCudaIpc;
  }
  r.version = h.version;
  r.num_params = h.num_params;
  return r;
}

// A reader's map of the learner's shared memory (kept while the object's name is the same).
const float* reader_shm(WeightsHandoff& h, const Record& r, size_t bytes) {
  const std::string name(r.shm_name, strnlen(r.shm_name, sizeof r.shm_name));
  if (h.shm && h.shm_name == name && h.shm_bytes == bytes) return static_cast<float*>(h.shm);
  unmap_shm(h, false);
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) throw std::runtime_error(h.path + ": shm_open " + name + ": " + errno_text());
  struct stat st {};
  void* p = MAP_FAILED;
  if (fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) >= bytes)
    p = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    throw std::runtime_error(h.path + ": " + name + " does not hold " + std::to_string(bytes) +
                             " bytes");
  h.shm = p;
  h.shm_bytes = bytes;
  h.shm_name = name;
  return static_cast<float*>(p);
}

// A reader's mapping of the learner's allocation (kept while the handle is the same).
const float* reader_ipc(WeightsHandoff& h, const Record& r) {
  if (h.ipc && std::memcmp(h.ipc_handle, r.ipc, kCudaIpcHandleBytes) == 0)
    return static_cast<float*>(h.ipc);
  cuda_ipc_close(h.ipc);
  h.ipc = nullptr;
  h.ipc = cuda_ipc_open(r.ipc);
  std::memcpy(h.ipc_handle, r.ipc, kCudaIpcHandleBytes);
  return static_cast<float*>(h.ipc);
}

// The descriptor's record; a checksum that fails is read again (a write the learner made without
// the lock may be under way), and fails naming the descriptor when it stays wrong.
Record read_record(const WeightsHandoff& h) {
  Record r{};
  for (int attempt = 0;; attempt++) {
    const ssize_t n = pread(h.fd, &r, sizeof r, 0);
    if (n != static_cast<ssize_t>(sizeof r) || std::memcmp(r.magic, kMagic, sizeof kMagic) != 0)
      throw std::runtime_error(h.path + ": not a weights handoff descriptor (" + std::to_string(n) +
                               " bytes)");
    if (r.checksum == record_sum(r)) return r;
    if (attempt == 100) throw std::runtime_error(h.path + ": the record's checksum is wrong");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool read_attached(WeightsHandoff& h, uint64_t version, long num_params,
                   void (*copy)(void* ctx, const float* params, Device device), void* ctx,
                   bool* torn) {
  if (h.failed) return false;
  FileLock lock(h.fd, LOCK_SH);
  const Record r = read_record(h);
  if (version == 0 || r.version != version || r.num_params != num_params) return false;
  const size_t bytes = static_cast<size_t>(num_params) * sizeof(float);
  if (r.kind == Kind::kHost) {
    copy(ctx, reader_shm(h, r, bytes), Device::kCpu);
  } else if (r.kind == Kind::kCudaIpc) {
    if (!h.accept_device) return false;
    copy(ctx, reader_ipc(h, r), Device::kCuda);
  } else {
    throw std::runtime_error(h.path + ": unknown kind " +
                             std::to_string(static_cast<int32_t>(r.kind)));
  }
  // The learner went on while this copy ran (it waited stall_s for it): the copy may be torn.
  uint64_t generation = 0;
  const ssize_t g = pread(h.fd, &generation, sizeof generation, offsetof(Record, generation));
  if (g != static_cast<ssize_t>(sizeof generation) || generation != r.generation) {
    spdlog::warn(
        "weights handoff: the learner changed weights v{} while this process copied "
        "them (it stopped waiting for this copy); the copy is discarded",
        version);
    if (torn) *torn = true;
    return false;
  }
  return true;
}

// Shared memory left by learners of this PID namespace that died without cleaning up (SIGKILL,
// a crash).
void sweep_dead_owners() {
  const unsigned long ns = pid_namespace();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = e.path().filename().string();
    unsigned long owner_ns = 0;
    int pid = 0;
    if (std::sscanf(name.c_str(), "aha-weights-%lu-%d-", &owner_ns, &pid) != 2 || pid <= 0 ||
        owner_ns != ns)
      continue;
    if (kill(pid, 0) != 0 && errno == ESRCH) shm_unlink(("/" + name).c_str());
  }
}

}  // namespace

WeightsHandoff::~WeightsHandoff() {
  unmap_shm(*this, !attached);
  cuda_ipc_close(ipc);
  if (fd >= 0) {
    close(fd);
    if (!attached) unlink(path.c_str());
  }
}

void weights_handoff_offer(WeightsHandoff& h, uint64_t version, const float* params,
                           long num_params, Device device) {
  std::unique_lock lock(h.mu);
  h.version = params ? version : 0;
  h.params = params;
  h.num_params = num_params;
  h.device = device;
  if (h.fd < 0 || h.failed) return;
  try {
    OwnerLock lock_file(h);
    write_record(h, h.version ? offer_record(h) : empty_record());
  } catch (const std::exception& e) {
    h.failed = true;
    spdlog::warn("weights handoff: {}; worker processes fetch the weights over the wire", e.what());
    try {  // nothing offered from now on (the record may be half written)
      OwnerLock lock_file(h);
      write_record(h, empty_record());
    } catch (const std::exception&) {
    }
  }
}

void weights_handoff_retract(WeightsHandoff& h) {
  std::unique_lock lock(h.mu);  // waits for this process's copies in progress
  h.version = 0;
  h.params = nullptr;
  h.num_params = 0;
  if (h.fd < 0) return;
  // And for the attached processes' (saying so while a copy takes long; not past stall_s).
  OwnerLock lock_file(h);
  write_record(h, empty_record());
}

bool weights_handoff_share(WeightsHandoff& h, const std::string& path) {
  AHA_CHECK(h.fd < 0, "weights handoff: already shared or attached");
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  try {
    if (fd < 0) throw std::runtime_error(errno_text());
    h.fd = fd;
    h.path = path;
    { FileLock probe(fd, LOCK_EX); }  // some network filesystems have no flock
    write_record(h, empty_record());
  } catch (const std::exception& e) {
    spdlog::warn("weights handoff {}: {}; worker processes fetch the weights over the wire", path,
                 e.what());
    if (fd >= 0) {
      close(fd);
      unlink(path.c_str());
    }
    h.fd = -1;
    h.path.clear();
    return false;
  }
  sweep_dead_owners();
  return true;
}

void weights_handoff_attach(WeightsHandoff& h, const std::string& path) {
  AHA_CHECK(h.fd < 0, "weights handoff: already shared or attached");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("weights handoff " + path + ": " + errno_text());
  h.fd = fd;
  h.path = path;
  h.attached = true;
}

bool weights_handoff_read(WeightsHandoff& h, uint64_t version, long num_params,
                          void (*copy)(void* ctx, const float* params, Device device), void* ctx,
                          bool* torn) {
  if (torn) *torn = false;
  if (h.attached) {
    try {
      return read_attached(h, version, num_params, copy, ctx, torn);
    } catch (const std::exception&) {
      h.failed = true;  // warned by the caller once; later versions come by the wire
      throw;
    }
  }
  std::shared_lock lock(h.mu);
  if (version == 0 || h.version != version || h.num_params != num_params || !h.params) return false;
  copy(ctx, h.params, h.device);
  return true;
}

}  // namespace aha
