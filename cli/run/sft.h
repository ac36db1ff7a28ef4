// Supervised training: `aha pretrain` (the built-in base model from generated task data) and
// `aha sft` (fine-tuning on JSONL prompt/completion rows or on the good samples of a run's
// rollouts.db: R1's rejection-sampling SFT, or distillation into a student of another config).
// Both are deterministic in their seed: batches are drawn by counter-based random numbers.
#pragma once
#include <cstdint>
#include <string>

namespace aha {

struct PretrainOptions {
  std::string out_dir;
  std::string tasks_file;  // TOML defining the task (default: the built-in run's)
  std::string task = "tiny_add";
  std::string config = "tiny";  // config.json path or a built-in name (tiny)
  int hidden = 96;              // > 0: override hidden_size (and the widths with it)
  int layers = 3;               // > 0: override num_hidden_layers
  int steps = 6000;
  int batch = 64;  // sequences per step
  float lr = 3e-3f;
  float noise = 0.3f;  // chance each answer digit is replaced by a random one
  // What each example's completion says: templates over the task's reference ("{answer}",
  // "{work}", ...), followed by eos. A share worked_fraction of the examples, chosen by a seeded
  // draw per example, use worked_completion (a worked computation before the answer).
  std::string completion = "{answer}";
  std::string worked_completion;  // "" = none
  float worked_fraction = 0.0f;
  int max_new_tokens = 6;  // of the held-out evaluation at the end
  uint64_t seed = 0;
  std::string device = "auto";  // cpu, cuda or auto (learner_device)
};

// Trains the tiny model from scratch and writes a model directory (with tokenizer and task file).
void pretrain_run(const PretrainOptions& opt);

struct SftOptions {
  std::string model_dir;       // starting model (also the tokenizer), unless student_config
  std::string student_config;  // start from a fresh model of this config (distillation)
  std::string data_jsonl;      // rows {"prompt": str, "completion": str}
  std::string from_db;         // or: samples of this run dir's rollouts.db
  double min_reward = 1.0;     // with from_db
  std::string out_dir;
  std::string chat_template;  // "" = prompts as is; else the completion follows the generation
                              // prompt and ends with the template's end-of-turn token
  int epochs = 1;
  int batch = 32;
  float lr = 1e-4f;
  uint64_t seed = 0;
  std::string device = "auto";  // cpu, cuda or auto (learner_device)
};

void sft_run(const SftOptions& opt);

// Sampled and greedy accuracy of a model on a task's held-out prompts (printed by pretrain).
struct QuickEval {
  double sampled = 0, greedy = 0;
};

}  // namespace aha
