// The engine's paged cache: prompts and completions across page boundaries decode exactly as
// private, unshared caches do and match the learner's forward; no page leaks under churn.
#include <doctest/doctest.h>

#include <cmath>

#include "policy/config_presets.h"
#include "policy/decode.h"
#include "rollout/engine.h"
#include "tests/unit/engine_churn.h"
#include "tests/unit/model_test_util.h"

using namespace aha;

TEST_CASE("groups across page boundaries: shared pages decode as private caches, bit for bit") {
  ModelConfig c = config_tiny();
  c.vocab_size = 29;
  Model m = test::sharp_model(c, 11, 10.0f);
  const int G = 3, M = 70, V = c.vocab_size;
  for (int T : {63, 64, 65, 130}) {
    CAPTURE(T);
    EngineRequest r;
    r.request_id = 7;
    for (int t = 0; t < T; t++) r.prompt.push_back((t * 7 + T) % V);
    r.group_size = G;
    r.params.max_new_tokens = M;  // no stop tokens: every sample feeds T .. T + M - 2
    r.seed = 100 + T;
    Engine e;
    EngineOptions opt;
    // Exactly the group's need: a page more or less would be a different test.
    opt.max_tokens_in_flight = static_cast<int>(engine_group_pages(T, G, M)) * kPageTokens;
    engine_init(e, m, opt);
    engine_submit(e, r);
    std::vector<EngineResult> done;
    engine_run(e, done);
    REQUIRE(done.size() == 1);
    CHECK(page_pool_whole(e.cache.pool));
    {  // One page less cannot hold the group: refused at submission.
      Engine small;
      EngineOptions o = opt;
      o.max_tokens_in_flight -= kPageTokens;
      engine_init(small, m, o);
      CHECK_THROWS_WITH(engine_submit(small, r), doctest::Contains("cache pages"));
    }

    // Reference: each sample with a private copy of the prompt (own prefill, no sharing), the
    // same batch of G rows per step, fed the engine's tokens.
    KvCache cache;
    cache_init(cache, c, G * pages_for_tokens(T + M));
    std::vector<KvPageTable> tables(G);
    Acts acts;
    std::vector<float> logits(static_cast<size_t>(G) * V);
    std::vector<int> scratch;
    for (int g = 0; g < G; g++) {
      for (int t = 0; t < T; t++) REQUIRE(cache_append_token(cache, tables[g]) >= 0);
      const int seq_start[2] = {0, T};
      const KvPageTable* table = &tables[g];
      decode_prefill(m, acts, cache, r.prompt.data(), seq_start, 1, &table, &logits[0], nullptr);
      const Sample& s = done[0].samples[g];
      SampledToken first = sample_token(&logits[0], V, r.params, r.seed, g, 0, scratch);
      CHECK(first.token == s.completion[0]);
      CHECK(first.logp == s.rollout_logp[0]);
    }
    DecodeScratch ds;
    for (int i = 1; i < M; i++) {
      std::vector<int> tokens(G), indptr = {0}, ids, lens(G);
      for (int g = 0; g < G; g++) {
        REQUIRE(cache_append_token(cache, tables[g]) >= 0);
        tokens[g] = done[0].samples[g].completion[i - 1];
        lens[g] = tables[g].len;
        ids.insert(ids.end(), tables[g].pages.begin(), tables[g].pages.end());
        indptr.push_back(static_cast<int>(ids.size()));
      }
      decode_step(m, ds, cache, tokens.data(), indptr.data(), ids.data(), lens.data(), G,
                  logits.data(), nullptr);
      for (int g = 0; g < G; g++) {
        const Sample& s = done[0].samples[g];
        SampledToken t =
            sample_token(&logits[static_cast<size_t>(g) * V], V, r.params, r.seed, g, i, scratch);
        REQUIRE(t.token == s.completion[i]);
        REQUIRE(t.logp == s.rollout_logp[i]);
      }
    }

    // And against the learner's forward over prompt + completion.
    for (int g = 0; g < G; g++) {
      const Sample& s = done[0].samples[g];
      std::vector<int> ids = r.prompt;
      ids.insert(ids.end(), s.completion.begin(), s.completion.end());
      Batch b;
      batch_add_sequence(b, ids, T - 1);
      Acts a;
      model_forward(m, a, b, ForwardOptions{});
      double max_diff = 0;
      for (int t = 0; t < M; t++)
        max_diff = std::fmax(max_diff, std::fabs(a.logp[T - 1 + t] - s.rollout_logp[t]));
      INFO("sample ", g, " max |dlogp| = ", max_diff);
      CHECK(max_diff <= 2e-5);
    }
  }
}

TEST_CASE("engine_cancel frees a running group's pages at once and drops a waiting request") {
  ModelConfig c = config_tiny();
  c.vocab_size = 29;
  Model m = test::sharp_model(c, 13, 10.0f);
  auto request = [&](uint64_t id, int T) {
    EngineRequest r;
    r.request_id = id;
    for (int t = 0; t < T; t++) r.prompt.push_back((t * 5 + static_cast<int>(id)) % 29);
    r.group_size = 2;
    r.params.max_new_tokens = 40;
    r.seed = id;
    return r;
  };
  Engine e;
  EngineOptions opt;
  // Prompts of 100 tokens, 40 new: 2 prompt pages + 2 samples x 2 pages (a copy of the prompt's
  // last page and one more): 6 pages hold one group at a time.
  opt.max_tokens_in_flight = 6 * kPageTokens;
  engine_init(e, m, opt);
  for (uint64_t id : {1, 2, 3}) engine_submit(e, request(id, 100));
  std::vector<EngineResult> done;
  engine_step(e, done);
  engine_step(e, done);
  REQUIRE(e.groups.size() == 1);  // request 1 runs, 2 and 3 wait
  CHECK(engine_group_pages(100, 2, 40) == 6);
  REQUIRE(e.waiting.size() == 2);
  CHECK(cache_num_free_pages(e.cache) < 6);
  CHECK(engine_cancel(e, 1));
  CHECK(e.groups.empty());
  CHECK(page_pool_whole(e.cache.pool));  // at once, before the next step
  CHECK(e.reserved_pages == 0);
  CHECK(engine_cancel(e, 3));  // waiting
  CHECK_FALSE(engine_cancel(e, 3));
  CHECK_FALSE(engine_cancel(e, 99));
  engine_run(e, done);
  REQUIRE(done.size() == 1);
  CHECK(done[0].request_id == 2);
  CHECK(done[0].samples.size() == 2);
  CHECK(page_pool_whole(e.cache.pool));
}

TEST_CASE("no page leaks: random requests with cancellations return every page") {
  // 10,000 requests run in the integration test (Release); fewer here, under the sanitizers.
  constexpr long N = 2000;
  const test::ChurnResult r = test::engine_churn(N, 3);
  INFO("finished ", r.num_finished, ", cancelled waiting ", r.num_cancelled_waiting, ", in flight ",
       r.num_cancelled_in_flight, ", free pages ", r.free_pages, " of ", r.num_pages);
  CHECK(r.num_still_live == 0);
  CHECK(r.num_finished + r.num_cancelled_waiting + r.num_cancelled_in_flight == N);
  CHECK(r.num_cancelled_waiting > 0);
  CHECK(r.num_cancelled_in_flight > 0);
  CHECK(r.max_waiting > 0);  // the pool, not the arrivals, bounded admission
  CHECK(r.reserved_pages == 0);
  CHECK(r.free_pages == r.num_pages);
  CHECK(r.pool_whole);
}
