// Held-out evaluation, one path: eval_local samples with a local engine (`aha eval`, the accuracy
// `aha pretrain` reports) the way `aha train` samples through its rollout workers (request i of
// the eval split with seed seed_base + i), and eval_summarize computes the metrics for all three.
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
#include "rollout/engine.h"

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

struct EvalSampling {
  int k = 1;  // samples per prompt
  SamplingParams params;
  uint64_t seed_base = 0;  // prompt i samples with seed seed_base + i
  int max_tokens_in_flight = 1 << 16;
};

// Samples k completions of every item with a local engine and scores them: the result's group i
// is items[i]'s. `results` (optional) receives the engine's results in item order.
std::vector<EvalGroup> eval_local(Model& m, const Tokenizer& tok, const PromptFormat& fmt,
                                  const TaskSet& ts, const std::vector<TaskItem>& items,
                                  const EvalSampling& s,
                                  std::vector<EngineResult>* results = nullptr);

}  // namespace aha
