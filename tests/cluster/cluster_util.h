// Helpers of the cluster tests: a small GRPO run's arguments, and the comparison of two runs
// (a 1-rank one and a data-parallel one of the same global batch).
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "policy/checkpoint.h"
#include "rollout/log/rundb.h"
#include "tests/test_util.h"

namespace aha::test {

// Skips (exit 77) unless `tool` is on PATH.
inline void skip_unless_tool(const char* tool) {
  int rc = 0;
  run_command(std::string("command -v ") + tool, &rc);
  if (rc != 0) {
    std::fprintf(stderr, "skipped: %s not installed\n", tool);
    std::exit(77);
  }
}

// The built-in base model on tiny_add: 8 prompts x 8 samples a step, micro-batches of 200 tokens
// (several per rank, so accumulation and the split both run).
inline std::string small_run_args(int steps) {
  return aha::test::tiny_add_args() +
         " --set rollout.prompts_per_step=8 --set rollout.group_size=8"
         " --set tasks.eval_prompts=8 --set tasks.eval_samples=2 --set run.eval_every=0"
         " --set learner.micro_batch_tokens=200 --set learner.lr=1e-3 --set run.steps=" +
         std::to_string(steps);
}

// mpirun as root (CI containers) with more ranks than cores.
inline std::string mpirun_prefix(int ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
         "mpirun --oversubscribe --bind-to none -np " +
         std::to_string(ranks) + " ";
}

// Max |Δ| of the final weights of two run directories.
inline double max_abs_dw(const std::string& run_a, const std::string& run_b) {
  Model a, b;
  model_load(a, run_a + "/final-model");
  model_load(b, run_b + "/final-model");
  REQUIRE(a.params.size() == b.params.size());
  double m = 0;
  for (size_t i = 0; i < a.params.size(); i++)
    m = std::max(m, std::fabs(static_cast<double>(a.params[i]) - b.params[i]));
  return m;
}

// Same samples, loss and gradient norm per step, to fp32 reduction-order noise.
inline void check_same_run(const std::string& run_a, const std::string& run_b, int steps) {
  RunDb da = rundb_open(run_a, false), db = rundb_open(run_b, false);
  std::vector<StepRow> sa = rundb_read_steps(da, 0), sb = rundb_read_steps(db, 0);
  REQUIRE(sa.size() == static_cast<size_t>(steps));
  REQUIRE(sb.size() == static_cast<size_t>(steps));
  for (int i = 0; i < steps; i++) {
    double la = nlohmann::json::parse(sa[i].metrics_json).at("loss").get<double>();
    double lb = nlohmann::json::parse(sb[i].metrics_json).at("loss").get<double>();
    CHECK(sa[i].reward_mean == sb[i].reward_mean);
    CHECK(std::fabs(la - lb) <= 1e-5 * std::max(1.0, std::fabs(la)));
    CHECK(std::fabs(sa[i].grad_norm - sb[i].grad_norm) <= 1e-4 * std::max(1.0, sa[i].grad_norm));
    std::printf("step %d: loss %.9f vs %.9f, grad norm %.7f vs %.7f\n", i + 1, la, lb,
                sa[i].grad_norm, sb[i].grad_norm);
  }
  SampleQuery q;
  q.with_tokens = true;
  std::vector<Sample> xa = rundb_read_samples(da, q), xb = rundb_read_samples(db, q);
  REQUIRE(xa.size() == xb.size());
  for (size_t i = 0; i < xa.size(); i++) CHECK(xa[i].completion == xb[i].completion);
  const double dw = max_abs_dw(run_a, run_b);
  std::printf("max |dW| after %d steps: %.3g\n", steps, dw);
  CHECK(dw < 1e-5);
}

}  // namespace aha::test
