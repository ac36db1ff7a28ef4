// One eval path: the pass@1 `aha train` logs for its held-out prompts (sampled by rollout-worker
// processes, scored by the run, summarized by eval_summarize) equals what eval_local (the path of
// `aha eval` and of `aha pretrain`'s accuracy) gives on the same model, prompts and seeds.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>

#include "cli/run/eval.h"
#include "cli/run/taskset.h"
#include "cli/run/train_config.h"
#include "cli/run/trainer.h"
#include "policy/checkpoint.h"
#include "policy/tokenizer.h"
#include "rollout/log/rundb.h"
#include "tests/test_util.h"

using namespace aha;

namespace {

// pass@1 per task of the step-0 evaluation a run logged.
std::map<std::string, double> logged_pass1(const std::string& run_dir) {
  RunDb db = rundb_open(run_dir, false);
  std::map<std::string, double> out;
  for (const EvalRow& e : rundb_read_evals(db, 0))
    if (e.step == 0 && e.metric == "pass@1") out[e.task] = e.value;
  return out;
}

// The same evaluation through eval_local, from the run's own config.toml.
std::map<std::string, double> local_pass1(const std::string& run_dir) {
  TrainConfig cfg;
  train_config_load_toml(cfg, run_dir + "/config.toml");
  Model m;
  model_load(m, cfg.model_path);
  Tokenizer tok = tokenizer_load(cfg.model_path);
  const PromptFormat fmt = prompt_format(tok, m.cfg, cfg.chat_template);
  TaskSetPtr ts =
      taskset_load(cfg.task_names, cfg.task_weights, cfg.tasks_file, cfg.seed, cfg.eval_prompts);
  const std::vector<EvalGroup> groups =
      eval_local(m, tok, fmt, *ts, taskset_eval(*ts), train_eval_sampling(cfg));
  const EvalSummary sum = eval_summarize(groups);
  CHECK(sum.num_prompts == static_cast<size_t>(cfg.eval_prompts));
  CHECK(sum.k == cfg.eval_samples);
  return sum.pass1_by_task;
}

void check_same(const std::string& temperature) {
  test::TempDir tmp("aha_eval_paths");
  const std::string dir = tmp.str() + "/run";
  int rc = 0;
  // Zero GRPO steps: the run evaluates the built-in model before training and ends.
  const std::string out = test::run_command(
      std::string(AHA_BINARY) + " train --run-dir " + dir + test::tiny_add_args() +
          " --workers 2 --set run.steps=0 --set run.progress=false" +
          " --set tasks.eval_prompts=12 --set tasks.eval_samples=3 --set rollout.max_new_tokens=8" +
          " --set tasks.eval_temperature=" + temperature,
      &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  const std::map<std::string, double> train = logged_pass1(dir);
  const std::map<std::string, double> local = local_pass1(dir);
  REQUIRE(!train.empty());
  REQUIRE(train.size() == local.size());
  for (const auto& [task, p] : train) {
    REQUIRE(local.count(task));
    MESSAGE("temperature " << temperature << ", task " << task << ": train " << p << ", local "
                           << local.at(task));
    CHECK(std::fabs(p - local.at(task)) < 1e-12);
  }
}

}  // namespace

TEST_CASE("train's held-out pass@1 equals eval_local's, nearly greedy and sampled") {
  check_same("0.001");
  check_same("1.0");
}
