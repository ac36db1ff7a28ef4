// The data-parallel learner's pieces that need no launcher: the split of a step's samples across
// ranks by token count, the step message's round trip (and its refusal of garbled bytes), and a
// one-rank Collective leaving learner_update bit-identical to the single-process call.
#include <doctest/doctest.h>

#include <numeric>

#include "kernels/rng.h"
#include "learner/collective.h"
#include "learner/data_parallel.h"
#include "tests/unit/model_test_util.h"

using namespace aha;

namespace {

std::vector<Sample> samples_of_lengths(const std::vector<int>& lens) {
  std::vector<Sample> out;
  Rng rng{5};
  for (int n : lens) {
    Sample x;
    x.prompt = {1, 2};
    for (int t = 0; t < n; t++) x.completion.push_back(3 + static_cast<int>(rng.next_u64() % 20));
    x.rollout_logp.assign(n, -0.5f);
    x.advantage = static_cast<float>(rng.normal());
    out.push_back(x);
  }
  return out;
}

}  // namespace

TEST_CASE("shards are contiguous, cover the step once, and balance tokens") {
  std::vector<Sample> s = samples_of_lengths({10, 1, 1, 1, 10, 3, 3, 3, 3, 8, 2, 2});
  long total = 0;
  for (const Sample& x : s) total += static_cast<long>(x.prompt.size() + x.completion.size());
  for (int R : {1, 2, 3, 4, 12, 16}) {
    int prev_end = 0;
    long max_share = 0;
    for (int r = 0; r < R; r++) {
      int b = -1, e = -1;
      learner_shard(s, r, R, &b, &e);
      CHECK(b == prev_end);
      CHECK(e >= b);
      prev_end = e;
      long tok = 0;
      for (int i = b; i < e; i++)
        tok += static_cast<long>(s[i].prompt.size() + s[i].completion.size());
      max_share = std::max(max_share, tok);
    }
    CHECK(prev_end == static_cast<int>(s.size()));
    // No share exceeds an even split by more than one sample's tokens (12 here).
    CHECK(max_share <= (total + R - 1) / R + 12);
  }
  int b = 0, e = 0;
  learner_shard(s, 0, 1, &b, &e);
  CHECK((b == 0 && e == static_cast<int>(s.size())));
}

TEST_CASE("a step's samples survive the broadcast format; garbled bytes are refused") {
  std::vector<Sample> s = samples_of_lengths({4, 0, 7});
  s[1].masked = true;
  s[2].routing = {0, 1, 2, 3};
  std::vector<uint8_t> bytes = train_samples_to_bytes(s);
  std::vector<Sample> t = train_samples_from_bytes(bytes);
  REQUIRE(t.size() == s.size());
  for (size_t i = 0; i < s.size(); i++) {
    CHECK(t[i].prompt == s[i].prompt);
    CHECK(t[i].completion == s[i].completion);
    CHECK(t[i].rollout_logp == s[i].rollout_logp);
    CHECK(t[i].routing == s[i].routing);
    CHECK(t[i].advantage == s[i].advantage);
    CHECK(t[i].masked == s[i].masked);
  }
  std::vector<uint8_t> cut(bytes.begin(), bytes.end() - 3);
  CHECK_THROWS_WITH_AS(train_samples_from_bytes(cut), doctest::Contains("truncated"),
                       std::runtime_error);
  std::vector<uint8_t> huge = bytes;
  huge[0] = 0xff;  // sample count
  CHECK_THROWS_AS(train_samples_from_bytes(huge), std::runtime_error);
  bytes.push_back(0);
  CHECK_THROWS_WITH_AS(train_samples_from_bytes(bytes), doctest::Contains("trailing"),
                       std::runtime_error);
}

TEST_CASE("no launcher: one rank, no backend, and learner_update is unchanged bit for bit") {
  LaunchEnv env = launch_env_detect();
  if (env.launcher.empty()) {
    CHECK(env.size == 1);
    CHECK(collective_backend_from_env(env) == CollectiveBackend::kNone);
  }
  Collective one;  // size 1: every collective is a no-op
  float x[3] = {1, 2, 3};
  collective_allreduce_sum(one, x, 3);
  CHECK(x[2] == 3.0f);

  ModelConfig c = config_tiny();
  Model m = test::random_model(c, 7);
  LearnerConfig lc;
  lc.micro_batch_tokens = 40;
  lc.lr = 1e-2f;
  Learner a, b;
  learner_init(a, m, lc);
  learner_init(b, m, lc);
  std::vector<Sample> s = samples_of_lengths({5, 6, 2, 9, 4, 4, 1, 7});
  for (int step = 0; step < 2; step++) {
    UpdateMetrics ma = learner_update(a, s);
    UpdateMetrics mb = learner_update(b, s, &one);
    CHECK(ma.loss == mb.loss);
    CHECK(ma.grad_norm == mb.grad_norm);
    CHECK(mb.t_comm == 0.0);
  }
  CHECK(std::vector<float>(a.policy.params) == std::vector<float>(b.policy.params));
  CHECK(a.adam_v == b.adam_v);
}
