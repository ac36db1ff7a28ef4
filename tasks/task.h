// Reward tasks: a name, a data source (JSONL files with a field mapping, or a built-in generator
// with a seed), a prompt template, a reward specification (weighted checker components) and
// train/eval splits. Invariants: loading is deterministic for a given spec (same rows, same ids,
// same split); every prompt's reference holds the mapped fields plus "id"; a malformed JSONL line
// or a missing field throws std::runtime_error naming file, line and field. Built-in tasks are TOML
// text compiled into the library, read by the same parser as user TOML files.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reward/reward.h"

namespace aha {

struct TaskSpec {
  std::string name;
  std::string description;
  // JSONL source: train file, optional eval file (else eval is split off train).
  std::string train_path, eval_path;
  std::string data_dir;  // what ${AHA_DATA_DIR} expanded to in those paths ("" = not used)
  // reference name <- the first of these row fields that the row has; empty: whole row.
  std::vector<std::pair<std::string, std::vector<std::string>>> fields;
  std::string id_field;  // row field used as id; empty: file:line
  // Generator source (when generator is not empty): "countdown", "arith" or "mod10_chain" with its
  // options.
  std::string generator;
  nlohmann::json generator_options = nlohmann::json::object();
  int64_t train_count = 1000, eval_count = 100;  // generated rows per split
  // Split of a single file: eval_fraction of rows by a hash of (seed, id), or numeric id ranges.
  double eval_fraction = 0.0;
  int64_t eval_id_min = 0, eval_id_max = -1;    // inclusive; used when eval_id_max >= eval_id_min
  int64_t train_id_min = 0, train_id_max = -1;  // inclusive; rows outside both ranges are dropped
  uint64_t seed = 0;
  std::string prompt_template;  // "{name}" takes reference[name]; a list of strings joins by lines
  // The user turn when a chat template wraps the prompt ("" = prompt_template): the base-model
  // prompt's own "User:/Assistant:" framing would be nested inside the template's turns.
  std::string chat_prompt_template;
  std::vector<RewardComponent> reward;
};

struct TaskPrompt {
  std::string id;
  std::string text;          // rendered prompt
  std::string chat_text;     // rendered chat_prompt_template (== text when the spec has none)
  nlohmann::json reference;  // what the checkers read
};

enum class Split { kTrain, kEval };

struct Task {
  TaskSpec spec;
  std::vector<TaskPrompt> train, eval;
};

std::vector<std::string> builtin_task_names();

// All task specs of a TOML document ([tasks.NAME] tables). base_dir resolves relative paths;
// "${VAR}" in paths expands from the environment, except ${AHA_DATA_DIR}: data_dir when given,
// else the environment, else "data".
std::vector<TaskSpec> parse_task_toml(const std::string& toml_text, const std::string& source_name,
                                      const std::string& base_dir,
                                      const std::string& data_dir = "");

// The spec named `name`: from tasks_file when given (a TOML file), else the built-ins.
TaskSpec find_task_spec(const std::string& name, const std::string& tasks_file = "",
                        const std::string& data_dir = "");

// Reads or generates the rows and renders every prompt. A data file under ${AHA_DATA_DIR} that
// does not exist throws naming the file and what sets the directory.
Task load_task(const TaskSpec& spec);
Task load_task(const std::string& name, const std::string& tasks_file = "",
               const std::string& data_dir = "");

// The prompts of a split in an order fixed by seed (the same seed gives the same order).
std::vector<TaskPrompt> task_prompts(const Task& task, Split split, uint64_t seed);

// The row field that feeds a reference name: the first of its candidates the row holds with a
// value (a null one only when none has a value), or nullptr.
const nlohmann::json* task_field(const std::vector<std::string>& candidates,
                                 const nlohmann::json& row);

// A row of the task's own data (plus a completion) as the checkers' reference: the row with each
// reference name the row lacks taken from its mapped field ("answer" <- "a").
nlohmann::json task_reference(const TaskSpec& spec, const nlohmann::json& row);

// Composed reward of a completion (weighted sum of the spec's components, all kept).
RewardResult task_score(const TaskSpec& spec, const std::string& completion,
                        const nlohmann::json& reference);

// "{field}" substitution; unknown fields throw std::invalid_argument naming the field.
std::string render_template(const std::string& tmpl, const nlohmann::json& reference);

// Rows of a JSONL file, each checked to be a JSON object ("path:line: ..." errors). Blank lines are
// skipped; line_numbers, when given, gets each row's 1-based line for the caller's own errors.
std::vector<nlohmann::json> read_jsonl(const std::string& path,
                                       std::vector<size_t>* line_numbers = nullptr);

// Generators (deterministic in seed; stream separates train from eval).
std::vector<nlohmann::json> generate_countdown(const nlohmann::json& options, int64_t count,
                                               uint64_t seed, uint64_t stream);
// A start digit and `ops` operations (+d, -d with d in 1..9, *d with d in 3, 7, 9) applied left
// to right modulo 10: question "7*3+4-5", answer "0", work "1,5,0" (the value after each step);
// with labels = true a letter precedes each operation and its value ("7a*3b+4c-5", "a1,b5,c0");
// with form = "steps" the work restates the start and each operation ("7,a*3=1,b+4=5,c-5=0"); with min_ops the
// number of operations is drawn from min_ops..ops per row.
std::vector<nlohmann::json> generate_mod10_chain(const nlohmann::json& options, int64_t count,
                                                 uint64_t seed, uint64_t stream);
std::vector<nlohmann::json> generate_arith(const nlohmann::json& options, int64_t count,
                                           uint64_t seed, uint64_t stream);

}  // namespace aha
