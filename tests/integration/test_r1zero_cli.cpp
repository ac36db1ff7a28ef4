// experiments/r1-zero as a user runs it, shrunk to two GRPO steps: the config loads, the committed
// base model answers mod10_chain in the R1-Zero format, every sample is scored on its final answer,
// and the think-less variant of the task (experiments/r1-zero/tasks.toml) evaluates.
#include <doctest/doctest.h>

#include <string>

#include "rollout/log/rundb.h"
#include "tests/test_util.h"

TEST_CASE("the r1-zero config loads and trains two steps") {
  aha::test::TempDir dir("aha-r1zero-test");
  const std::string aha = AHA_BINARY;
  const std::string exp = std::string(AHA_SOURCE_DIR) + "/experiments/r1-zero";
  int rc = 0;
  std::string out = aha::test::run_command(
      aha + " train " + exp + "/config.toml --run-dir " + dir.str() + "/run" +
          " --set model.path='\"" + exp + "/base\"' --set run.steps=2" +
          " --set rollout.prompts_per_step=4 --set rollout.group_size=4" +
          " --set tasks.eval_prompts=4 --set tasks.eval_samples=2 --set run.progress=false",
      &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("tasks [mod10_chain]") != std::string::npos);
  CHECK(out.find("held-out accuracy: ") != std::string::npos);

  aha::RunDb db = aha::rundb_open(dir.str() + "/run", false);
  std::vector<aha::StepRow> steps = aha::rundb_read_steps(db, 0);
  REQUIRE(steps.size() == 2);
  aha::SampleQuery q;
  std::vector<aha::Sample> samples = aha::rundb_read_samples(db, q);
  REQUIRE(samples.size() == 2 * 4 * 4);
  for (const aha::Sample& s : samples) {
    CHECK(s.task == "mod10_chain");
    CHECK(s.prompt_text.rfind("Mod 10: ", 0) == 0);
    CHECK(s.prompt_text.size() > 7);
    CHECK(s.prompt_text.substr(s.prompt_text.size() - 7) == "<think>");
    // Answer (1) plus format (0.1): nothing else is rewarded.
    CHECK((s.reward == doctest::Approx(0.0) || s.reward == doctest::Approx(0.1) ||
           s.reward == doctest::Approx(1.0) || s.reward == doctest::Approx(1.1)));
  }

  out = aha::test::run_command(aha + " eval --model " + exp + "/base --task mod10_chain_nothink" +
                                   " --tasks-file " + exp + "/tasks.toml --limit 4 -k 2" +
                                   " --samples-out " + dir.str() + "/nothink.jsonl",
                               &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("task mod10_chain_nothink: 4 prompts") != std::string::npos);
}
