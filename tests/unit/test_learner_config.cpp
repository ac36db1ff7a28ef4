// The train config: TOML sections, unknown keys with suggestions, --set, validation, and the
// README documenting every key.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "learner/train_config.h"

using namespace aha;

TEST_CASE("TOML sections set the keys; the resolved config round-trips") {
  TrainConfig c;
  train_config_parse_toml(c, R"([rollout]
group_size = 4
temperature = 0.7
[learner]
lr = 1e-4
kl = "k2"
beta = 0.01
[tasks]
names = ["gsm8k", "countdown"]
weights = [3, 1]
)",
                          "x.toml");
  train_config_finalize(c);
  CHECK(c.group_size == 4);
  CHECK(c.learner.lr == doctest::Approx(1e-4));
  CHECK(c.learner.need_ref);
  CHECK(c.learner.loss.kl == KlEstimator::kK2);
  CHECK(c.learner.inv_temp == doctest::Approx(1 / 0.7));
  CHECK(c.task_names == std::vector<std::string>{"gsm8k", "countdown"});
  TrainConfig d;
  train_config_parse_toml(d, train_config_to_toml(c), "resolved");
  CHECK(train_config_to_toml(d) == train_config_to_toml(c));
}

TEST_CASE("unknown keys are errors that name the file and suggest the nearest key") {
  TrainConfig c;
  CHECK_THROWS_WITH(train_config_parse_toml(c, "[learner]\nlearning_rat = 1\n", "my.toml"),
                    doctest::Contains("my.toml: unknown config key 'learner.learning_rat'"));
  CHECK_THROWS_WITH(train_config_parse_toml(c, "[rollout]\ntemprature = 1.0\n", "my.toml"),
                    doctest::Contains("did you mean 'rollout.temperature'"));
  // A key in the wrong section is found by its name.
  CHECK_THROWS_WITH(train_config_parse_toml(c, "[run]\ngroup_size = 4\n", "my.toml"),
                    doctest::Contains("did you mean 'rollout.group_size'"));
  CHECK_THROWS_WITH(train_config_parse_toml(c, "[rollout]\ngroup_size = \"four\"\n", "my.toml"),
                    doctest::Contains("wants an integer"));
  CHECK_THROWS_WITH(train_config_parse_toml(c, "[rollout\n", "bad.toml"),
                    doctest::Contains("bad.toml:1"));
}

TEST_CASE("--set overrides and validation") {
  TrainConfig c;
  train_config_set(c, "learner.eps_high=0.28");
  train_config_set(c, "model.path=/tmp/m");
  train_config_set(c, "tasks.names=[\"a\", \"b\"]");
  CHECK(c.learner.loss.eps_high == doctest::Approx(0.28));
  CHECK(c.model_path == "/tmp/m");
  CHECK(c.task_names.size() == 2);
  CHECK_THROWS_WITH(train_config_set(c, "learner.lrr=1"), doctest::Contains("'learner.lr'"));
  TrainConfig bad;
  bad.group_size = 1;
  CHECK_THROWS_WITH(train_config_finalize(bad), doctest::Contains("group_size"));
  TrainConfig agg;
  agg.loss_agg = "sum";
  CHECK_THROWS_WITH(train_config_finalize(agg), doctest::Contains("token_mean"));
}

TEST_CASE("the README documents every key") {
  std::ifstream f(std::string(AHA_SOURCE_DIR) + "/README.md");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string readme = ss.str();
  TrainConfig c;
  for (const ConfigKey& k : train_config_keys(c)) {
    INFO(k.key);
    CHECK(readme.find(std::string("`") + k.key + "`") != std::string::npos);
  }
}
