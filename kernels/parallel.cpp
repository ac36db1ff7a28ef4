#include "kernels/parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace aha {

namespace {

// Persistent workers (created on first need, never joined: they sleep on a condition variable
// until the process exits). Worker w is invited to a region when w < helpers; it joins only while
// the region is open, so a worker the OS has not scheduled yet never holds up the caller (which
// closes the region once every item is taken and waits only for workers that joined).
struct Pool {
  std::mutex region_mu;  // one region at a time
  std::mutex mu;
  std::condition_variable start_cv, done_cv;
  std::vector<std::thread> threads;
  std::atomic<unsigned long> generation{0};
  bool open = false;           // workers may still join the current region
  int helpers = 0;             // workers invited
  std::atomic<int> active{0};  // workers that joined and are running items (changed under mu)
  int n = 0;
  ParallelFn fn = nullptr;
  void* ctx = nullptr;
  std::atomic<int> next{0};
};

Pool& pool() {
  static Pool* p = new Pool;  // leaked on purpose: workers may still wait in it at exit
  return *p;
}

std::atomic<int> g_threads{1};
thread_local bool t_in_region = false;

void run_items(Pool& p) {
  for (int i = p.next++; i < p.n; i = p.next++) p.fn(p.ctx, i);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Regions come in bursts (a layer's GEMMs, one per expert): a thread that has just finished one
// polls up to 100 us for the next (and the caller for its helpers) before sleeping on the
// condition variable, which saves a futex sleep and wake-up per region (100m fwd+bwd: +13% fp32,
// +15% bf16 on an idle 2-core machine).
constexpr auto kSpin = std::chrono::microseconds(100);

// Polls done() for up to kSpin, yielding the core between short bursts so that a thread of
// another process waiting for it runs (on an oversubscribed machine a bare spin cost 10%, this
// gains 4%); true when done() came true.
template <class Done>
bool spin_until(Done done) {
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    for (int k = 0; k < 64; ++k) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() - t0 > kSpin) return done();
    sched_yield();
  }
}

void worker_main(Pool& p, int w) {
  t_in_region = true;  // a worker never starts a region of its own
  unsigned long seen = 0;
  std::unique_lock<std::mutex> lk(p.mu);
  for (;;) {
    if (p.generation == seen) {
      lk.unlock();
      spin_until([&] { return p.generation.load(std::memory_order_acquire) != seen; });
      lk.lock();
    }
    p.start_cv.wait(lk, [&] { return p.generation != seen && w < p.helpers; });
    seen = p.generation;
    if (!p.open) continue;  // woke after the caller took every item
    p.active++;
    lk.unlock();
    run_items(p);
    lk.lock();
    if (--p.active == 0 && !p.open) p.done_cv.notify_one();
  }
}

}  // namespace

int hardware_threads() {
  // AHA_THREADS caps the cores aha uses (a machine shared with other jobs runs better on fewer:
  // a fork-join region waits for its slowest thread).
  static const int n = [] {
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const char* env = std::getenv("AHA_THREADS");
    const int want = env ? std::atoi(env) : 0;
    return want > 0 ? std::min(want, hw) : hw;
  }();
  return n;
}

void set_compute_threads(int num_threads) {
  g_threads = std::clamp(num_threads, 1, hardware_threads());
}

bool in_parallel_region() {
  return t_in_region;
}

int compute_threads() {
  return g_threads;
}

void parallel_for_impl(int n, ParallelFn fn, void* ctx) {
  const int helpers = std::min(g_threads.load(), n) - 1;
  if (helpers <= 0 || t_in_region) {
    for (int i = 0; i < n; i++) fn(ctx, i);
    return;
  }
  Pool& p = pool();
  std::lock_guard<std::mutex> region(p.region_mu);
  {
    std::lock_guard<std::mutex> lk(p.mu);
    while (static_cast<int>(p.threads.size()) < helpers) {
      const int w = static_cast<int>(p.threads.size());
      p.threads.emplace_back([&p, w] { worker_main(p, w); });
    }
    p.fn = fn;
    p.ctx = ctx;
    p.n = n;
    p.next = 0;
    p.helpers = helpers;
    p.open = true;
    p.generation++;
  }
  p.start_cv.notify_all();
  t_in_region = true;
  run_items(p);
  t_in_region = false;
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.open = false;  // every item is taken: late workers skip this region
  }
  spin_until([&] { return p.active.load(std::memory_order_acquire) == 0; });
  {
    std::unique_lock<std::mutex> lk(p.mu);
    p.done_cv.wait(lk, [&] { return p.active == 0; });
  }
}

}  // namespace aha
