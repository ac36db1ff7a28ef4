// The trainer's view of its tasks: a weighted mixture of tasks (tasks/), drawn deterministically
// by (seed, step), a fixed held-out eval set, and scoring into reward + correctness.
// Invariant: the prompts of step s depend only on (seed, s), so a resumed run draws the same ones.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/config.h"
#include "policy/tokenizer.h"
#include "reward/reward.h"

namespace aha {

struct TaskItem {
  std::string task;
  std::string prompt_id;
  std::string prompt;        // text given to the model
  nlohmann::json reference;  // the task's reference fields
};

struct Scored {
  RewardResult result;   // composed reward and its components
  bool correct = false;  // the task's correctness component at full score
};

struct TaskSet;
struct TaskSetDeleter {
  void operator()(TaskSet* t) const;
};
using TaskSetPtr = std::unique_ptr<TaskSet, TaskSetDeleter>;

// A prompt's token ids: the tokenizer's encoding, after the model's BOS when it has one.
std::vector<int> encode_prompt_ids(const Tokenizer& tok, const ModelConfig& cfg,
                                   const std::string& text);

// Correct when the first component (the task's accuracy check) scores full marks.
Scored scored_from_result(RewardResult r);

TaskSetPtr taskset_load(const std::vector<std::string>& names, const std::vector<double>& weights,
                        const std::string& tasks_file, uint64_t seed, int eval_prompts);
std::vector<TaskItem> taskset_train_batch(TaskSet& ts, int64_t step, int round, int n);
const std::vector<TaskItem>& taskset_eval(const TaskSet& ts);
Scored taskset_score(const TaskSet& ts, const TaskItem& item, const std::string& completion);

}  // namespace aha
