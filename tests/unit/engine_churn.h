// A churn of random requests (prompt lengths 1..200, group sizes 1..4, 1..80 new tokens, random
// cancellations of waiting and in-flight requests) through the engine on a micro model, checking
// that every page comes back. Shared by the unit test (fewer requests, runs under ASan) and the
// integration test (10,000 requests, Release). The run's invariants (each result reported once,
// never after its cancel; reserved pages never above the free ones) are REQUIREd as it goes; what
// it ends with is returned for the caller's checks.
#pragma once
#include <doctest/doctest.h>

#include <set>
#include <vector>

#include "kernels/rng.h"
#include "policy/config_presets.h"
#include "rollout/engine.h"
#include "tests/unit/model_test_util.h"

namespace aha::test {

struct ChurnResult {
  long num_finished = 0;  // requests whose results came back
  long num_cancelled_waiting = 0;
  long num_cancelled_in_flight = 0;
  long num_still_live = 0;  // neither finished nor cancelled when the engine went idle
  long max_waiting = 0;     // most requests queued at once (the pool bounded admission)
  long reserved_pages = 0;  // promised to groups at the end
  int free_pages = 0, num_pages = 0;
  bool pool_whole = false;  // page_pool_whole at the end
};

inline ChurnResult engine_churn(int num_requests, uint64_t seed) {
  // clang-format off
  const ModelConfig c = config_deepseek({.V = 29, .C = 16, .L = 2, .NH = 2, .q_lora_rank = 0,
      .kv_lora_rank = 8, .qk_nope_head_dim = 4, .qk_rope_head_dim = 4, .v_head_dim = 4, .FF = 16,
      .moe_FF = 8, .E = 4, .shared = 1, .K = 2, .first_dense = 1, .max_position_embeddings = 320});
  // clang-format on
  Model m = sharp_model(c, seed, 4.0f);
  Engine e;
  EngineOptions opt;
  opt.max_tokens_in_flight = 24 * kPageTokens;  // a few groups at once: requests wait
  opt.max_batch = 48;
  engine_init(e, m, opt);
  Rng rng{seed};
  std::set<uint64_t> live, cancelled, finished;
  std::vector<EngineResult> done;
  long cancelled_waiting = 0, cancelled_in_flight = 0, max_waiting = 0;
  uint64_t next_id = 1;
  while (next_id <= static_cast<uint64_t>(num_requests) || !engine_idle(e)) {
    const int burst = static_cast<int>(rng.next_u64() % 4);
    for (int i = 0; i < burst && next_id <= static_cast<uint64_t>(num_requests); i++) {
      EngineRequest r;
      r.request_id = next_id++;
      const int T = 1 + static_cast<int>(rng.next_u64() % 200);
      for (int t = 0; t < T; t++)
        r.prompt.push_back(static_cast<int>(rng.next_u64() % c.vocab_size));
      r.group_size = 1 + static_cast<int>(rng.next_u64() % 4);
      r.params.max_new_tokens = 1 + static_cast<int>(rng.next_u64() % 80);
      r.params.stop_token_ids = {0};
      r.seed = r.request_id;
      engine_submit(e, r);
      live.insert(r.request_id);
    }
    max_waiting = std::max<long>(max_waiting, static_cast<long>(e.waiting.size()));
    // Cancel a random live request now and then: waiting or in flight.
    if (!live.empty() && rng.next_u64() % 8 == 0) {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng.next_u64() % live.size()));
      const uint64_t id = *it;
      bool waiting = false;
      for (const EngineRequest& w : e.waiting) waiting |= w.request_id == id;
      REQUIRE(engine_cancel(e, id));
      (waiting ? cancelled_waiting : cancelled_in_flight)++;
      CHECK_FALSE(engine_cancel(e, id));  // gone
      live.erase(it);
      cancelled.insert(id);
    }
    done.clear();
    engine_step(e, done);
    for (const EngineResult& r : done) {
      REQUIRE(live.count(r.request_id) == 1);  // reported once, never after a cancel
      live.erase(r.request_id);
      finished.insert(r.request_id);
      REQUIRE(r.samples.size() >= 1);
    }
    REQUIRE(e.reserved_pages >= 0);
    REQUIRE(cache_num_free_pages(e.cache) >= e.reserved_pages);
  }
  ChurnResult out;
  out.num_finished = static_cast<long>(finished.size());
  out.num_cancelled_waiting = cancelled_waiting;
  out.num_cancelled_in_flight = cancelled_in_flight;
  out.num_still_live = static_cast<long>(live.size());
  out.max_waiting = max_waiting;
  out.reserved_pages = e.reserved_pages;
  out.free_pages = cache_num_free_pages(e.cache);
  out.num_pages = e.cache.pool.num_pages;
  out.pool_whole = page_pool_whole(e.cache.pool);
  REQUIRE(cancelled.size() == static_cast<size_t>(cancelled_waiting + cancelled_in_flight));
  return out;
}

}  // namespace aha::test
