// The KV page pool against a naive reference model, and copy-on-write of a shared last page.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <vector>

#include "kernels/rng.h"
#include "policy/config_presets.h"
#include "policy/decode.h"
#include "policy/kv_pages.h"

using namespace aha;

TEST_CASE("page pool agrees with a naive model over random alloc / share / free sequences") {
  const int N = 37;
  KvPagePool pool;
  page_pool_init(pool, N);
  // Naive model: a count per page; free pages are those with count 0.
  std::vector<int> count(N, 0);
  std::vector<int> holds;  // one entry per reference we hold (page ids, repeated)
  Rng rng{7};
  for (int step = 0; step < 20000; step++) {
    const int op = static_cast<int>(rng.next_u64() % 3);
    if (op == 0) {
      const int p = page_alloc(pool);
      int num_free = 0;
      for (int c : count) num_free += c == 0;
      if (num_free == 0) {
        REQUIRE(p == -1);
      } else {
        REQUIRE(p >= 0);
        REQUIRE(p < N);
        REQUIRE(count[p] == 0);
        count[p] = 1;
        holds.push_back(p);
      }
    } else if (!holds.empty()) {
      const size_t i = rng.next_u64() % holds.size();
      const int p = holds[i];
      if (op == 1) {
        page_ref(pool, p);
        count[p]++;
        holds.push_back(p);
      } else {
        page_unref(pool, p);
        count[p]--;
        holds[i] = holds.back();
        holds.pop_back();
      }
    }
    REQUIRE(pool.refcount == count);
    std::set<int> free_set(pool.free_pages.begin(), pool.free_pages.end());
    REQUIRE(free_set.size() == pool.free_pages.size());  // no page twice
    for (int p = 0; p < N; p++) REQUIRE((free_set.count(p) == 1) == (count[p] == 0));
  }
  for (int p : holds) page_unref(pool, p);
  CHECK(page_pool_whole(pool));

  // Double free and out-of-range ids are refused with a clear error, the pool unchanged.
  const int p = page_alloc(pool);
  page_unref(pool, p);
  CHECK_THROWS_WITH(page_unref(pool, p), doctest::Contains("double free"));
  CHECK_THROWS_WITH(page_unref(pool, N), doctest::Contains("out of range"));
  CHECK_THROWS_WITH(page_ref(pool, -1), doctest::Contains("out of range"));
  CHECK_THROWS_WITH(page_ref(pool, p), doctest::Contains("is free"));
  CHECK(page_pool_whole(pool));
}

TEST_CASE("a shared partial last page is copied before a sequence writes into it") {
  ModelConfig c = config_tiny();
  c.num_hidden_layers = 2;
  KvCache cache;
  cache_init(cache, c, 4);
  const int W = cache.W;
  // A prompt of 70 tokens: one full page and 6 slots of a second; values name (layer, row, col).
  KvPageTable prompt;
  for (int t = 0; t < 70; t++) REQUIRE(cache_append_token(cache, prompt) >= 0);
  auto value = [](int l, int pos, int col) { return 1000.0f * l + pos + 0.001f * col; };
  for (int l = 0; l < cache.L; l++)
    for (int t = 0; t < 70; t++)
      for (int col = 0; col < W; col++)
        cache_layer_f32(cache, l)[page_table_row(prompt, t) * W + col] = value(l, t, col);
  KvPageTable a, b;
  page_table_share(cache.pool, prompt, a);
  page_table_share(cache.pool, prompt, b);
  page_table_release(cache.pool, prompt);
  const int full = a.pages[0], partial = a.pages[1];
  CHECK(cache.pool.refcount[full] == 2);
  CHECK(cache.pool.refcount[partial] == 2);
  // a writes first: it gets its own copy of the partial page; the full page stays shared.
  const int row_a = cache_append_token(cache, a);
  CHECK(a.pages[0] == full);
  CHECK(a.pages[1] != partial);
  CHECK(row_a == a.pages[1] * kPageTokens + 6);
  CHECK(cache.pool.refcount[partial] == 1);
  for (int l = 0; l < cache.L; l++)
    for (int t = 64; t < 70; t++)
      for (int col = 0; col < W; col++)
        REQUIRE(cache_layer_f32(cache, l)[page_table_row(a, t) * W + col] == value(l, t, col));
  // b is now the last holder: it writes in place, no page taken.
  const int free_before = cache_num_free_pages(cache);
  const int row_b = cache_append_token(cache, b);
  CHECK(row_b == partial * kPageTokens + 6);
  CHECK(cache_num_free_pages(cache) == free_before);
  // No page left for a's next boundary after filling: 4 pages = full, partial, a's copy, one more.
  while (a.len < 128) REQUIRE(cache_append_token(cache, a) >= 0);
  CHECK(cache_append_token(cache, a) >= 0);  // the 4th page
  while (a.len < 192) REQUIRE(cache_append_token(cache, a) >= 0);
  const int len = a.len;
  CHECK(cache_append_token(cache, a) == -1);  // pool empty: the table is unchanged
  CHECK(a.len == len);
  page_table_release(cache.pool, a);
  page_table_release(cache.pool, b);
  CHECK(page_pool_whole(cache.pool));
}
