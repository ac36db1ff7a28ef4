// Held-out evaluation metrics, one computation for `aha train` (periodic and final evaluations,
// samples from the rollout workers) and `aha eval` (samples from a local engine).
//
// Invariants:
// - Every prompt has the same number k of scored samples; pass@1 is the mean correctness over all
//   samples (= the mean over prompts of correct / k), pass@k the share of prompts with at least
//   one correct sample, maj@k the share whose most frequent non-empty extracted answer is correct
//   (ties: the answer first in sort order; empty answers do not vote).
// - Per-task pass@1 covers the prompts of that task only; the tasks are listed in name order.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "cli/run/taskset.h"

namespace aha {

// One prompt's scored samples.
struct EvalGroup {
  std::string task;
  std::vector<Scored> scored;  // [k]
};

struct EvalSummary {
  size_t num_prompts = 0;
  int k = 0;
  double pass1 = 0, passk = 0, majk = 0;
  std::map<std::string, double> pass1_by_task;
};

// Throws when the groups do not all hold k > 0 samples.
EvalSummary eval_summarize(const std::vector<EvalGroup>& groups);

}  // namespace aha
