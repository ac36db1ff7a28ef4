// The weights handoff (rollout/weight_handoff.h) on its own: an offer is read only at its version
// and size, a retract waits for the copies in progress (in this process and through the
// descriptor), an attached reader sees the learner's bytes through shared memory, a reader
// process stopped mid-copy holds the learner up only stall_s and then discards its copy, and a
// damaged descriptor fails naming it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "rollout/weight_handoff.h"

using namespace aha;
namespace fs = std::filesystem;

namespace {

struct SlowCopy {
  std::atomic<bool> started{false}, finished{false};
};

void slow_copy(void* ctx, const float*, Device) {
  auto* c = static_cast<SlowCopy*>(ctx);
  c->started = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  c->finished = true;
}

void no_copy(void*, const float*, Device) {
  FAIL("copied a version that was not offered");
}

// Copies the offered floats into the std::vector<float> at ctx (and checks they are host memory).
void copy_out(void* ctx, const float* params, Device device) {
  CHECK(device == Device::kCpu);
  auto* v = static_cast<std::vector<float>*>(ctx);
  std::memcpy(v->data(), params, v->size() * sizeof(float));
}

// Reads `version` of h into a vector of n floats; false when not offered.
bool read_into(WeightsHandoff& h, uint64_t version, std::vector<float>& out) {
  return weights_handoff_read(h, version, static_cast<long>(out.size()), copy_out, &out);
}

// A retract under way while a reader's copy runs returns only after the copy finished.
void check_retract_waits(WeightsHandoff& owner, WeightsHandoff& reader, uint64_t version, long n) {
  SlowCopy c;
  bool read = false;
  std::thread t([&] { read = weights_handoff_read(reader, version, n, slow_copy, &c); });
  while (!c.started) std::this_thread::yield();
  weights_handoff_retract(owner);
  CHECK(c.finished);  // the learner may change its buffer only now
  t.join();
  CHECK(read);
  CHECK_FALSE(weights_handoff_read(reader, version, n, no_copy, nullptr));  // retracted
}

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / (name + "-" + std::to_string(getpid()));
}

}  // namespace

TEST_CASE("in one process: the offered version and size only; retract waits for a copy") {
  WeightsHandoff h;
  std::vector<float> mem(1000, 1.5f);
  weights_handoff_offer(h, 7, mem.data(), 1000, Device::kCpu);
  std::vector<float> got(1000);
  CHECK(read_into(h, 7, got));
  CHECK(got == mem);
  CHECK_FALSE(weights_handoff_read(h, 6, 1000, no_copy, nullptr));  // another version
  CHECK_FALSE(weights_handoff_read(h, 7, 999, no_copy, nullptr));   // another size
  CHECK_FALSE(weights_handoff_read(h, 0, 1000, no_copy, nullptr));
  check_retract_waits(h, h, 7, 1000);
  weights_handoff_offer(h, 8, nullptr, 1000, Device::kCpu);  // no memory: nothing offered
  CHECK_FALSE(weights_handoff_read(h, 8, 1000, no_copy, nullptr));
}

TEST_CASE("through the descriptor: shared memory holds the offer; retract waits for a reader") {
  const fs::path path = temp_path("aha-handoff");
  const long n = 4099;  // not a multiple of a page
  std::vector<float> learner(n);
  for (long i = 0; i < n; i++) learner[i] = static_cast<float>(i) * 0.25f - 3.0f;
  std::string shm_name;
  {
    WeightsHandoff owner, reader;
    REQUIRE(weights_handoff_share(owner, path.string()));
    weights_handoff_attach(reader, path.string());
    std::vector<float> got(n);
    CHECK_FALSE(read_into(reader, 1, got));  // nothing offered yet
    weights_handoff_offer(owner, 1, learner.data(), n, Device::kCpu);
    REQUIRE(read_into(reader, 1, got));
    CHECK(got == learner);
    shm_name = owner.shm_name;
    CHECK(fs::exists("/dev/shm" + shm_name));
    CHECK_FALSE(weights_handoff_read(reader, 2, n, no_copy, nullptr));
    CHECK_FALSE(weights_handoff_read(reader, 1, n + 1, no_copy, nullptr));
    // The learner updates: retracted first, so the reader never sees the change half made.
    check_retract_waits(owner, reader, 1, n);
    for (float& x : learner) x = -x;
    weights_handoff_offer(owner, 2, learner.data(), n, Device::kCpu);
    REQUIRE(read_into(reader, 2, got));
    CHECK(got == learner);
    CHECK_FALSE(weights_handoff_read(reader, 1, n, no_copy, nullptr));
    // Another size: a new shared memory object, mapped anew by the reader.
    std::vector<float> bigger(2 * n, 9.0f);
    weights_handoff_retract(owner);
    weights_handoff_offer(owner, 3, bigger.data(), 2 * n, Device::kCpu);
    std::vector<float> got2(2 * n);
    REQUIRE(read_into(reader, 3, got2));
    CHECK(got2 == bigger);
    CHECK(owner.shm_name != shm_name);
    CHECK_FALSE(fs::exists("/dev/shm" + shm_name));  // the old object is gone
    shm_name = owner.shm_name;
  }
  // The learner's side removes its descriptor and shared memory.
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists("/dev/shm" + shm_name));
}

TEST_CASE("a damaged or missing descriptor fails naming it; sharing twice is refused") {
  const fs::path path = temp_path("aha-handoff-bad");
  {
    std::ofstream f(path, std::ios::binary);
    f << "not a descriptor";
  }
  WeightsHandoff reader;
  weights_handoff_attach(reader, path.string());
  CHECK_THROWS_WITH_AS(weights_handoff_read(reader, 1, 10, no_copy, nullptr),
                       doctest::Contains(path.string().c_str()), std::runtime_error);
  CHECK(reader.failed);  // said once: later versions come by the wire without another try
  CHECK_FALSE(weights_handoff_read(reader, 1, 10, no_copy, nullptr));
  fs::remove(path);
  WeightsHandoff absent;
  CHECK_THROWS_WITH_AS(weights_handoff_attach(absent, (path.string() + "-none")),
                       doctest::Contains("-none"), std::runtime_error);
  WeightsHandoff owner;
  CHECK(weights_handoff_share(owner, path.string()));
  CHECK_THROWS(weights_handoff_share(owner, path.string()));
  // A descriptor that cannot be made: nothing shared, and offers still serve this process.
  WeightsHandoff nowhere;
  CHECK_FALSE(weights_handoff_share(nowhere, "/nonexistent-dir/weights.handoff"));
  std::vector<float> mem(10, 2.0f), got(10);
  weights_handoff_offer(nowhere, 1, mem.data(), 10, Device::kCpu);
  CHECK(read_into(nowhere, 1, got));
  CHECK(got == mem);
}

TEST_CASE("shared memory of a learner that died is swept when the next one shares") {
  // A pid that is not running: a child that has exited and been reaped.
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  REQUIRE(dead > 0);
  int status = 0;
  REQUIRE(waitpid(dead, &status, 0) == dead);
  // Named as a learner of this PID namespace names its objects.
  struct stat ns {};
  REQUIRE(stat("/proc/self/ns/pid", &ns) == 0);
  const std::string stale =
      "/aha-weights-" + std::to_string(ns.st_ino) + "-" + std::to_string(dead) + "-0";
  // Another namespace's object with the same pid is not this learner's to judge.
  const std::string foreign =
      "/aha-weights-" + std::to_string(ns.st_ino + 1) + "-" + std::to_string(dead) + "-0";
  const int ffd = shm_open(foreign.c_str(), O_CREAT | O_RDWR, 0600);
  REQUIRE(ffd >= 0);
  close(ffd);
  const int fd = shm_open(stale.c_str(), O_CREAT | O_RDWR, 0600);
  REQUIRE(fd >= 0);
  close(fd);
  REQUIRE(fs::exists("/dev/shm" + stale));
  WeightsHandoff owner;
  REQUIRE(weights_handoff_share(owner, temp_path("aha-handoff-sweep").string()));
  CHECK_FALSE(fs::exists("/dev/shm" + stale));
  CHECK(fs::exists("/dev/shm" + foreign));
  shm_unlink(foreign.c_str());
}

TEST_CASE("an offer that cannot be shared (no IPC handle for it) leaves the wire, not a failure") {
  // Host memory offered as CUDA memory: no IPC handle can be made for it, with or without a GPU.
  const fs::path path = temp_path("aha-handoff-noipc");
  WeightsHandoff owner, reader;
  REQUIRE(weights_handoff_share(owner, path.string()));
  weights_handoff_attach(reader, path.string());
  std::vector<float> mem(64, 3.0f);
  weights_handoff_offer(owner, 1, mem.data(), 64, Device::kCuda);
  CHECK(owner.failed);
  CHECK_FALSE(weights_handoff_read(reader, 1, 64, no_copy, nullptr));  // the descriptor: nothing
  // This process's readers still get the offer; retract and later offers go on quietly.
  int copies = 0;
  CHECK(weights_handoff_read(
      owner, 1, 64, [](void* n, const float*, Device) { ++*static_cast<int*>(n); }, &copies));
  CHECK(copies == 1);
  weights_handoff_retract(owner);
  weights_handoff_offer(owner, 2, mem.data(), 64, Device::kCpu);
  CHECK_FALSE(weights_handoff_read(reader, 2, 64, no_copy, nullptr));
}

TEST_CASE(
    "a CUDA offer: a CPU engine's reader leaves it to the wire; a handle that fails latches") {
  // The descriptor's record as the learner writes it for a GPU learner (kind 2: a CUDA IPC
  // handle), built here field by field: magic, version, num_params, kind, owner pid, shm name,
  const fs::path path = temp_path("aha-handoff-ipc");
  // handle (all zero: no allocation anywhere has it), generation, and the FNV-1a 64 checksum of
  // all the bytes before it.
  std::string rec(8 + 8 + 8 + 4 + 4 + 64 + 64 + 8 + 8, '\0');
  std::memcpy(rec.data(), "AHAWHO02", 8);
  const uint64_t version = 5, generation = 1;
  const int64_t n = 64;
  const int32_t kind = 2, pid = 1;
  std::memcpy(rec.data() + 8, &version, 8);
  std::memcpy(rec.data() + 16, &n, 8);
  std::memcpy(rec.data() + 24, &kind, 4);
  std::memcpy(rec.data() + 28, &pid, 4);
  std::memcpy(rec.data() + 160, &generation, 8);
  uint64_t sum = 14695981039346656037ull;
  for (size_t i = 0; i < 168; i++)
    sum = (sum ^ static_cast<unsigned char>(rec[i])) * 1099511628211ull;
  std::memcpy(rec.data() + 168, &sum, 8);
  {
    std::ofstream f(path, std::ios::binary);
    f << rec;
  }
  WeightsHandoff cpu_engine;
  weights_handoff_attach(cpu_engine, path.string());
  cpu_engine.accept_device = false;
  CHECK_FALSE(weights_handoff_read(cpu_engine, 5, 64, no_copy, nullptr));
  CHECK_FALSE(cpu_engine.failed);  // a miss, not a failure
  WeightsHandoff gpu_engine;
  weights_handoff_attach(gpu_engine, path.string());
  CHECK_THROWS_AS(weights_handoff_read(gpu_engine, 5, 64, no_copy, nullptr), std::runtime_error);
  CHECK(gpu_engine.failed);
  CHECK_FALSE(weights_handoff_read(gpu_engine, 5, 64, no_copy, nullptr));
  fs::remove(path);
}

namespace {
// A reader that stops itself (SIGSTOP) before it copies, as a worker process stopped mid-copy.
void stop_then_copy(void* ctx, const float* params, Device device) {
  raise(SIGSTOP);
  copy_out(ctx, params, device);
}
}  // namespace

TEST_CASE("a reader process stopped mid-copy holds the learner up stall_s only; its copy is void") {
  const fs::path path = temp_path("aha-handoff-stop");
  const long n = 4096;
  std::vector<float> learner(n, 1.0f), got(n);
  WeightsHandoff owner;
  REQUIRE(weights_handoff_share(owner, path.string()));
  owner.stall_s = 0.3;
  weights_handoff_offer(owner, 1, learner.data(), n, Device::kCpu);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // no thread runs in this test process: the child may allocate
    WeightsHandoff reader;
    weights_handoff_attach(reader, path.string());
    bool torn = false;
    if (weights_handoff_read(reader, 1, n, stop_then_copy, &got, &torn) || !torn) _exit(1);
    std::vector<float> v2(n);
    if (!read_into(reader, 2, v2) || v2 != std::vector<float>(n, 2.0f)) _exit(2);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, WUNTRACED) == child);
  REQUIRE(WIFSTOPPED(status));  // stopped with the descriptor's shared lock held
  const auto t0 = std::chrono::steady_clock::now();
  weights_handoff_retract(owner);
  CHECK(owner.forced);
  std::fill(learner.begin(), learner.end(), 2.0f);  // the update the stopped reader did not see
  weights_handoff_offer(owner, 2, learner.data(), n, Device::kCpu);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(waited < 5.0);  // 0.3 s, then a moment for the offer: never the stopped reader's time
  kill(child, SIGCONT);
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // its copy discarded as torn; v2 then read whole
  weights_handoff_retract(owner);   // nobody holds the lock now: waited for again
  CHECK_FALSE(owner.forced);
  // This process's reader sees the learner's writes.
  WeightsHandoff reader;
  weights_handoff_attach(reader, path.string());
  weights_handoff_offer(owner, 3, learner.data(), n, Device::kCpu);
  CHECK(read_into(reader, 3, got));
  CHECK(got == learner);
}
