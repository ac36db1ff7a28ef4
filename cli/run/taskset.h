// The trainer's view of its tasks: a weighted mixture of tasks (tasks/), drawn deterministically
// by (seed, step), a fixed held-out eval set, scoring into reward + correctness, and the one way a
// task prompt becomes token ids (train, eval, generate and sft all call encode_prompt_ids).
// Invariants: the prompts of step s depend only on (seed, s), so a resumed run draws the same ones;
// BOS rule: the tokenizer's bos_token is prepended iff add_bos_token is true or config.json's
// bos_token_id is that token (aha's own models), and never when the ids already start with it;
// checkers read response_prefix + completion, the logs keep the completion alone.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/chat_template.h"
#include "policy/config.h"
#include "policy/tokenizer.h"
#include "reward/reward.h"

namespace aha {

struct TaskItem {
  std::string task;
  std::string prompt_id;
  std::string prompt;        // text given to the model without a chat template
  std::string chat_prompt;   // the user turn when a chat template wraps it (tasks' chat_prompt)
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

// How prompts are laid out for one model, resolved against its tokenizer once at start-up (so a
// bad template name or an end-of-turn text that is no single token fails before any generation).
struct PromptFormat {
  std::string chat_template;    // "" = the task prompt text as is
  std::string system;           // system message ("" = none; needs a chat template)
  std::string response_prefix;  // what the generation prompt writes for the model ("<think>\n")
  std::vector<int> stop_ids;    // eos (when the model has one), then the end-of-turn token
  int end_id = -1;              // what ends an assistant turn (SFT targets): end-of-turn, else eos
};

// Throws std::runtime_error for an unknown template (listing the valid ones) or an end-of-turn
// text that is not one token of tok (naming the template and the tokenizer).
PromptFormat prompt_format(const Tokenizer& tok, const ModelConfig& cfg,
                           const std::string& chat_template, const std::string& system = "");

// A prompt's token ids: the conversation [system?, user: text] through the chat template with the
// generation prompt (or text as is without one), encoded with special tokens parsed, then BOS by
// the rule above.
std::vector<int> encode_prompt_ids(const Tokenizer& tok, const ModelConfig& cfg,
                                   const PromptFormat& format, const std::string& text);

// The item's text under format: chat_prompt when a chat template writes turns around it (not
// "" or "plain"), else prompt.
const std::string& prompt_text(const TaskItem& item, const PromptFormat& format);

// The completion's text: ids decoded without a final stop token; an id the tokenizer lacks (a
// padding row of the model's vocabulary) shows as "<|unk:ID|>" instead of stopping the run.
std::string completion_text(const Tokenizer& tok, const PromptFormat& format,
                            const std::vector<int>& ids);

// What the checkers score: the text the template wrote on the model's behalf, then the completion
// (so an R1 format reward sees "<think>\n" + "reasoning</think> <answer>..").
std::string reward_input(const PromptFormat& format, const std::string& completion);

// Correct when the first component (the task's accuracy check) scores full marks.
Scored scored_from_result(RewardResult r);

// data_dir: where ${AHA_DATA_DIR} task paths resolve ("" = environment, else "data");
// need_train=false allows eval-only tasks (humaneval) for `aha eval`, and skips reading a train
// file when the eval split has its own (GSM8K, MATH).
TaskSetPtr taskset_load(const std::vector<std::string>& names, const std::vector<double>& weights,
                        const std::string& tasks_file, uint64_t seed, int eval_prompts,
                        const std::string& data_dir = "", bool need_train = true);
// Refuses a task with prompts that leave fewer than max_new_tokens of the model's positions,
// counting them and naming the longest (what: the setting's name, for the message).
void taskset_check_lengths(const TaskSet& ts, const Tokenizer& tok, const ModelConfig& cfg,
                           const PromptFormat& format, int max_new_tokens, const std::string& what);
std::vector<TaskItem> taskset_train_batch(TaskSet& ts, int64_t step, int round, int n);
const std::vector<TaskItem>& taskset_eval(const TaskSet& ts);
Scored taskset_score(const TaskSet& ts, const TaskItem& item, const std::string& completion);

}  // namespace aha
