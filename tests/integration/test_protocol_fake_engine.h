// A deterministic stand-in for the generation engine, for the protocol tests: a request's tokens
// are a pure function of (seed, sample index), each request "runs" for a few tens of ms, and loaded
// weights are checked byte by byte against the pattern the test published.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kernels/rng.h"
#include "rollout/worker.h"

namespace aha::test {

inline int64_t fake_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The tokens sample g of a request with this seed must carry.
inline std::vector<int32_t> fake_tokens(uint64_t seed, int g) {
  int n = 3 + static_cast<int>((seed + static_cast<uint64_t>(g)) % 5);
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i)
    t[i] = static_cast<int32_t>(rng_bits(seed, static_cast<uint64_t>(g), i) % 1000);
  return t;
}

// The weight bytes of a version: byte i is byte i%8 of rng_bits(version, 1, i/8).
inline std::vector<uint8_t> fake_weights(uint64_t version, size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(rng_bits(version, 1, i / 8) >> (8 * (i % 8)));
  return b;
}

struct FakeEngine {
  int cap = 4;
  int step_ms = 5;       // sleep per poll, like one batch step
  int64_t stall_ms = 0;  // test hook: the first poll with work sleeps this long (a hung worker)
  bool stalled = false;
  uint64_t weights_version = 0;
  bool weights_ok = true;  // every loaded version matched fake_weights
  uint64_t loads = 0;
  uint64_t loads_from = 0;                  // of them, through load_weights_from (a handoff)
  std::atomic<bool> fail_next_from{false};  // test hook: the next handoff copy throws
  struct Job {
    GenRequest req;
    int64_t done_at_ms;
  };
  std::vector<Job> jobs;
};

inline int fake_capacity(void* ctx) {
  return static_cast<FakeEngine*>(ctx)->cap;
}

inline void fake_submit(void* ctx, const GenRequest& req) {
  FakeEngine* e = static_cast<FakeEngine*>(ctx);
  e->jobs.push_back({req, fake_now_ms() + 20 + static_cast<int64_t>(req.seed % 40)});
}

inline int fake_poll(void* ctx, std::vector<GenResult>& done) {
  FakeEngine* e = static_cast<FakeEngine*>(ctx);
  if (e->stall_ms > 0 && !e->stalled && !e->jobs.empty()) {
    e->stalled = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(e->stall_ms));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(e->step_ms));
  int64_t now = fake_now_ms();
  int n = 0;
  for (size_t i = 0; i < e->jobs.size();) {
    if (e->jobs[i].done_at_ms > now) {
      ++i;
      continue;
    }
    const GenRequest& req = e->jobs[i].req;
    GenResult r;
    r.request_id = req.request_id;
    r.weights_version = e->weights_version;
    for (int g = 0; g < req.group_size; ++g) {
      Sample s;
      s.completion = fake_tokens(req.seed, g);
      for (int32_t t : s.completion) s.rollout_logp.push_back(-static_cast<float>(t) / 1000.0f);
      s.finish_reason = "stop";
      if (req.return_routing) {
        s.routing_num_layers = 2;
        s.routing_top_k = 2;
        for (int32_t t : s.completion)
          for (int k = 0; k < 4; ++k) s.routing.push_back((t + k) % 8);
      }
      r.samples.push_back(std::move(s));
    }
    done.push_back(std::move(r));
    e->jobs.erase(e->jobs.begin() + static_cast<ptrdiff_t>(i));
    ++n;
  }
  return n;
}

inline void fake_load_weights(void* ctx, const uint8_t* bytes, size_t n, uint64_t version) {
  FakeEngine* e = static_cast<FakeEngine*>(ctx);
  std::vector<uint8_t> want = fake_weights(version, n);
  for (size_t i = 0; i < n; ++i)
    if (bytes[i] != want[i]) {
      e->weights_ok = false;
      break;
    }
  e->weights_version = version;
  e->loads++;
}

// A handoff's copy: the same byte check, from memory; the hook may fail (a device error).
inline void fake_load_weights_from(void* ctx, const float* params, Device device, long n,
                                   uint64_t version) {
  FakeEngine* e = static_cast<FakeEngine*>(ctx);
  if (e->fail_next_from.exchange(false)) throw std::runtime_error("fake copy failure");
  if (device != Device::kCpu) e->weights_ok = false;
  fake_load_weights(ctx, reinterpret_cast<const uint8_t*>(params),
                    static_cast<size_t>(n) * sizeof(float), version);
  e->loads_from++;
}

inline EngineHooks fake_hooks(FakeEngine& e) {
  return {.ctx = &e,
          .capacity = fake_capacity,
          .submit = fake_submit,
          .poll = fake_poll,
          .load_weights = fake_load_weights};
}

}  // namespace aha::test
