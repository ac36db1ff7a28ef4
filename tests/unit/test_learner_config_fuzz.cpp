// Config fuzz: every numeric key set to NaN, +-inf, 0, -1, huge and tiny is either refused with a
// message naming the key or accepted with every number finite and within the ranges the README
// states; nothing aborts. (Short runs of accepted extremes are in tests/integration/
// test_peers_faults.cpp.)
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "cli/run/train_config.h"

using namespace aha;

TEST_CASE("every numeric key: NaN, inf, 0, negative and huge are refused or sane") {
  const char* values[] = {"nan",  "inf",   "-inf",       "0",          "-1",          "1e9",
                          "1e30", "1e-30", "2147483647", "4294967297", "-2147483648", "0.5"};
  TrainConfig probe;
  int refused = 0, accepted = 0;
  for (const ConfigKey& k : train_config_keys(probe)) {
    if (k.type != ConfigType::kInt && k.type != ConfigType::kFloat && k.type != ConfigType::kUint64)
      continue;
    for (const char* v : values) {
      const std::string set = std::string(k.key) + "=" + v;
      INFO(set);
      TrainConfig c;
      bool ok = true;
      try {
        train_config_set(c, set);
        train_config_finalize(c);
      } catch (const std::runtime_error& e) {
        ok = false;
        refused++;
        const std::string msg = e.what();
        CHECK_MESSAGE(msg.find(k.key) != std::string::npos, msg);  // names the key
      }
      if (!ok) continue;
      accepted++;
      for (const ConfigKey& x : train_config_keys(c))
        if (x.type == ConfigType::kFloat) CHECK(std::isfinite(*static_cast<float*>(x.ptr)));
      // Accepted values pass finalize again (idempotent) and stay in range.
      CHECK_NOTHROW(train_config_finalize(c));
      CHECK(c.learner.adam_eps > 0);
      CHECK(c.learner.lr >= 0);
      CHECK(c.learner.loss.beta >= 0);
      CHECK(c.max_new_tokens >= 1);
      CHECK(c.max_new_tokens <= (1 << 20));
      CHECK(c.rollout_workers <= 64);
      CHECK(c.top_k >= 0);
      CHECK(c.temperature > 0);
      CHECK(c.learner.beta2 < 1);
    }
  }
  MESSAGE(refused << " refused, " << accepted << " accepted");
  CHECK(refused > 100);
}

TEST_CASE("the values the issue found are refused with the reason") {
  const std::pair<const char*, const char*> cases[] = {
      {"learner.lr=nan", "finite"},
      {"learner.lr=inf", "finite"},
      {"learner.lr=-1e-3", "learner.lr"},
      {"learner.adam_eps=0", "0/0"},
      {"learner.beta=-1", "KL"},
      {"rollout.workers=1000", "copy of the model"},
      {"rollout.max_new_tokens=100000000", "completion length"},
      {"rollout.top_k=-1", "0 = off"},
      {"learner.beta2=1", "divide by zero"},
      {"rollout.group_size=4294967298", "integer within"},
  };
  for (const auto& [set, why] : cases) {
    INFO(set);
    TrainConfig c;
    CHECK_THROWS_WITH(
        {
          train_config_set(c, set);
          train_config_finalize(c);
        },
        doctest::Contains(why));
  }
}
