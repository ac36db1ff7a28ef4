// run.async with run.max_staleness: the first round of steps t+1 .. t+max_staleness is generated
// with the weights of step t, so the batch a step trains on lags the learner by exactly
// min(max_staleness, steps since the start) weight versions, never more (checked against the
// weight version logged with every sample, not against the trainer's own staleness metric alone).
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "rollout/log/rundb.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

// Per step: how many weight versions its oldest sample lags the learner that trained on it.
std::map<int64_t, int64_t> lag_by_step(const std::string& run_dir) {
  aha::RunDb db = aha::rundb_open(run_dir, false);
  std::map<int64_t, int64_t> learner_version;  // step -> version it trained (before the update)
  for (const aha::StepRow& s : aha::rundb_read_steps(db, 0)) {
    nlohmann::json m = nlohmann::json::parse(s.metrics_json);
    learner_version[s.step] = m.at("weight_version").get<int64_t>() - 1;  // logged after it
    CHECK(m.at("stale_groups_dropped").get<int>() == 0);
  }
  std::map<int64_t, int64_t> lag;
  aha::SampleQuery q;
  for (const aha::Sample& s : aha::rundb_read_samples(db, q))
    lag[s.step] = std::max(lag[s.step], learner_version.at(s.step) - s.weight_version);
  return lag;
}

}  // namespace

TEST_CASE("async runs train on batches at most run.max_staleness versions old") {
  aha::test::TempDir tmp("aha_async");
  fs::create_directories(tmp.path);
  const std::string aha = AHA_BINARY;
  int rc = 0;
  std::string out =
      aha::test::run_command(aha + " init --out " + tmp.str() + "/model --seed 3", &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  const std::string common =
      " --set model.path='\"" + tmp.str() + "/model\"' --set tasks.tasks_file='\"" +
      std::string(AHA_SOURCE_DIR) +
      "/experiments/base-arith/tasks.toml\"' --set tasks.names='[\"tiny_add\"]'" +
      " --set rollout.prompts_per_step=2 --set rollout.group_size=2" +
      " --set rollout.max_new_tokens=3 --set tasks.eval_prompts=2 --set tasks.eval_samples=1" +
      " --set run.eval_every=0 --set run.steps=5 --set run.async=true";
  for (int depth : {1, 3}) {
    CAPTURE(depth);
    const std::string dir = tmp.str() + "/run" + std::to_string(depth);
    out = aha::test::run_command(aha + " train --run-dir " + dir + common +
                                     " --set run.max_staleness=" + std::to_string(depth),
                                 &rc);
    REQUIRE_MESSAGE(rc == 0, out);
    const std::map<int64_t, int64_t> lag = lag_by_step(dir);
    REQUIRE(lag.size() == 5);
    // Step 1 generates with the learner's weights; step s > 1 uses a batch made at step
    // max(1, s - depth), (s - that) updates ago.
    for (const auto& [step, l] : lag) {
      CAPTURE(step);
      CHECK(l == std::min<int64_t>(step - 1, depth));
    }
  }
}
