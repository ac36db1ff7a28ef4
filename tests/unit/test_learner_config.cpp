// The train config: TOML sections, unknown keys with suggestions, --set, validation (the chat
// template's name at load), the README documenting every key, and learner.device.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "cli/run/train_config.h"
#include "kernels/device.h"
#include "learner/learner.h"
#include "policy/config.h"
#include "tests/test_util.h"

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
                    doctest::Contains("my.toml:2: unknown config key 'learner.learning_rat'"));
  // The names other trainers give these knobs point at aha's, not at a near spelling.
  CHECK_THROWS_WITH(train_config_parse_toml(c, "[learner]\nlearning_rate = 1\n", "my.toml"),
                    doctest::Contains("did you mean 'learner.lr'"));
  CHECK_THROWS_WITH(train_config_set(c, "learner.kl_coef=0.01"),
                    doctest::Contains("did you mean 'learner.beta'"));
  CHECK_THROWS_WITH(train_config_set(c, "rollout.max_completion_length=64"),
                    doctest::Contains("did you mean 'rollout.max_new_tokens'"));
  CHECK_THROWS_WITH(train_config_set(c, "rollout.temp=0.7"),
                    doctest::Contains("did you mean 'rollout.temperature'"));
  // Nothing near: no guess, the list instead.
  CHECK_THROWS_WITH(train_config_parse_toml(c, "[tasks.toy]\nx = 1\n", "my.toml"),
                    doctest::Contains("unknown config key 'tasks.toy' (`aha train --config-docs`"));
  CHECK_THROWS_WITH(
      train_config_parse_toml(c, "[log]\ntoken_blob = false\n", "my.toml"),
      doctest::Contains("my.toml:2: unknown config key 'log.token_blob'; did you mean "
                        "'log.token_blobs'"));
  CHECK_THROWS_WITH(train_config_parse_toml(c, "steps = 3\n", "my.toml"),
                    doctest::Contains("my.toml:1: 'steps' must be a section ([model], [tasks], "
                                      "[rollout], [reward], [learner], [run], [log])"));
  CHECK_THROWS_WITH(train_config_parse_toml(c, "[rollout]\ntemprature = 1.0\n", "my.toml"),
                    doctest::Contains("did you mean 'rollout.temperature'"));
  // A key in the wrong section is found by its name.
  CHECK_THROWS_WITH(train_config_parse_toml(c, "[run]\ngroup_size = 4\n", "my.toml"),
                    doctest::Contains("did you mean 'rollout.group_size'"));
  CHECK_THROWS_WITH(
      train_config_parse_toml(c, "[rollout]\ntop_k = 2\n\ngroup_size = \"four\"\n", "my.toml"),
      doctest::Contains("my.toml:4: key 'rollout.group_size' wants an integer"));
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
  // A list key given one value takes it as a list of one.
  train_config_set(c, "tasks.names=gsm8k");
  CHECK(c.task_names == std::vector<std::string>{"gsm8k"});
  train_config_set(c, "rollout.cuda_devices=1");
  CHECK(c.rollout_cuda_devices == std::vector<int>{1});
  CHECK_THROWS_WITH(train_config_set(c, "rollout.cuda_devices=one"),
                    doctest::Contains("wants an array of integers"));
  CHECK_THROWS_WITH(train_config_set(c, "learner.lrr=1"), doctest::Contains("'learner.lr'"));
  TrainConfig bad;
  bad.group_size = 1;
  CHECK_THROWS_WITH(train_config_finalize(bad), doctest::Contains("group_size"));
  TrainConfig agg;
  agg.loss_agg = "sum";
  CHECK_THROWS_WITH(train_config_finalize(agg), doctest::Contains("token_mean"));
}

TEST_CASE("rollout.cuda_devices: integers, device ordinals, for CUDA engines only") {
  TrainConfig c;
  train_config_set(c, "rollout.cuda_devices=[1, 2, 3]");
  train_config_set(c, "rollout.device=\"cuda\"");
  CHECK(c.rollout_cuda_devices == std::vector<int>{1, 2, 3});
  train_config_finalize(c);
  TrainConfig d;  // through the TOML of the resolved config
  train_config_parse_toml(d, train_config_to_toml(c), "resolved");
  CHECK(d.rollout_cuda_devices == std::vector<int>{1, 2, 3});
  CHECK_THROWS_WITH(train_config_set(c, "rollout.cuda_devices=[1.5]"),
                    doctest::Contains("an array of integers"));
  CHECK_THROWS_WITH(train_config_set(c, "rollout.cuda_devices=true"),
                    doctest::Contains("an array of integers"));
  TrainConfig neg;
  train_config_set(neg, "rollout.cuda_devices=[-1]");
  neg.rollout_device = "cuda";
  CHECK_THROWS_WITH(train_config_finalize(neg), doctest::Contains("not a device ordinal"));
  TrainConfig cpu;
  train_config_set(cpu, "rollout.cuda_devices=[0]");
  CHECK_THROWS_WITH(train_config_finalize(cpu), doctest::Contains("rollout.device"));
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
  // Its table is what `aha train --config-docs` prints, row for row.
  std::istringstream docs(train_config_docs());
  for (std::string row; std::getline(docs, row);) {
    INFO(row);
    CHECK(readme.find("\n" + row + "\n") != std::string::npos);
  }
}

TEST_CASE("model.chat_template: a known name is kept, an unknown one refused at load") {
  TrainConfig c;
  CHECK(c.chat_template.empty());  // the built-in run feeds the task prompt as is
  train_config_parse_toml(c, "[model]\nchat_template = \"deepseek_r1\"\n", "r1.toml");
  CHECK(c.chat_template == "deepseek_r1");
  CHECK(train_config_to_toml(c).find("chat_template = 'deepseek_r1'") != std::string::npos);
  TrainConfig bad;
  CHECK_THROWS_WITH(train_config_parse_toml(bad, "[model]\nchat_template = \"qwen4\"\n", "q.toml"),
                    doctest::Contains("q.toml: model.chat_template 'qwen4' is not a chat template "
                                      "(valid: deepseek_v3, deepseek_r1, chatml, qwen3_think, "
                                      "qwen3_nothink, plain;"));
  CHECK_THROWS_WITH(train_config_set(bad, "model.chat_template=chatml3"),
                    doctest::Contains("--set: model.chat_template 'chatml3'"));
  // From a file too: train_config_load_toml refuses it before anything else runs.
  test::TempDir dir("aha_test_config_template");
  std::filesystem::create_directories(dir.path);
  const std::string path = (dir.path / "t.toml").string();
  std::ofstream(path) << "[model]\nchat_template = \"deepseek\"\n";
  CHECK_THROWS_WITH(train_config_load_toml(bad, path),
                    doctest::Contains((path + ": model.chat_template 'deepseek'").c_str()));
  TrainConfig direct;
  direct.chat_template = "nope";
  CHECK_THROWS_WITH(train_config_finalize(direct),
                    doctest::Contains("config: model.chat_template"));
}

TEST_CASE("learner.device: cpu, cuda or auto; cuda refused clearly where it cannot run") {
  TrainConfig c;
  CHECK(c.learner.device == "auto");  // cuda where a device answers, else the CPU
  train_config_set(c, "learner.device=auto");
  train_config_finalize(c);
  TrainConfig bad;
  train_config_set(bad, "learner.device=gpu");
  CHECK_THROWS_WITH(train_config_finalize(bad), doctest::Contains("learner.device"));
  CHECK((learner_device("cpu") == Device::kCpu));
  CHECK_THROWS_WITH(learner_device("tpu"), doctest::Contains("expected cpu, cuda or auto"));
  if (!cuda_available()) {
    // Without a device (or without CUDA in the build) cuda says which, and auto is the CPU.
    CHECK_THROWS_WITH(learner_device("cuda"), doctest::Contains("--device cuda: "));
    CHECK((learner_device("auto") == Device::kCpu));
    Model m;
    model_build(m, config_tiny());
    LearnerConfig lc;
    lc.device = "cuda";
    Learner l;
    CHECK_THROWS_WITH(learner_init(l, m, lc), doctest::Contains("--device cuda: "));
  }
}
