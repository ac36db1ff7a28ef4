// experiments/r1-zero as a user runs it (also the built-in `aha train`), shrunk to two GRPO steps:
// the config loads, the committed base model answers mod10_chain in the R1-Zero format, every
// sample is scored on its final answer, and the think-less variant of the task
// (experiments/r1-zero/tasks.toml) evaluates. The committed base is the starting point the
// experiment needs: it rarely thinks, and when it does it is right.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
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

  // 50 held-out prompts x 16 samples: a few percent of the samples write the steps in the think
  // block (the data had 8%) and those are nearly always right; the direct answers are at chance.
  out = aha::test::run_command(aha + " eval --model " + exp + "/base --task mod10_chain" +
                                   " --max-new-tokens 48 --limit 50 -k 16 --samples-out " +
                                   dir.str() + "/base.jsonl",
                               &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  std::ifstream f(dir.str() + "/base.jsonl");
  double n = 0, worked = 0, worked_correct = 0, direct_correct = 0;
  for (std::string line; std::getline(f, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    const bool thinks = j["completion"].get<std::string>().rfind("</think>", 0) != 0;
    n++;
    worked += thinks;
    (thinks ? worked_correct : direct_correct) += j["correct"].get<bool>();
  }
  REQUIRE(n == 800);
  CHECK(worked / n > 0.02);
  CHECK(worked / n < 0.15);
  CHECK(worked_correct / worked > 0.8);
  CHECK(direct_correct / (n - worked) < 0.2);
}

TEST_CASE("aha train with no config is the r1-zero run: the same resolved config") {
  const std::string aha = AHA_BINARY;
  const std::string exp = std::string(AHA_SOURCE_DIR) + "/experiments/r1-zero";
  // The file names its base relative to the repository and saves no checkpoints; the built-in run
  // starts from the same base by absolute path and keeps the default checkpoint interval.
  const std::string same =
      " --print-config --set model.path='\"" + exp + "/base\"'" + " --set run.checkpoint_every=7";
  int rc = 0;
  const std::string builtin = aha::test::run_command(aha + " train" + same, &rc);
  REQUIRE_MESSAGE(rc == 0, builtin);
  const std::string file =
      aha::test::run_command(aha + " train " + exp + "/config.toml" + same, &rc);
  REQUIRE_MESSAGE(rc == 0, file);
  CHECK(builtin == file);
  CHECK(builtin.find("mod10_chain") != std::string::npos);
}
