#include "cli/run/taskset.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "kernels/rng.h"
#include "tasks/task.h"

namespace aha {

struct TaskSet {
  std::vector<Task> tasks;
  std::vector<double> cum_weights;             // cumulative mixture weights, last = 1
  std::vector<std::vector<TaskPrompt>> train;  // per task, eval prompts removed, seeded order
  std::vector<TaskItem> eval;
  uint64_t seed = 0;
};

void TaskSetDeleter::operator()(TaskSet* t) const {
  delete t;
}

TaskSetPtr taskset_load(const std::vector<std::string>& names, const std::vector<double>& weights,
                        const std::string& tasks_file, uint64_t seed, int eval_prompts,
                        const std::string& data_dir, bool need_train) {
  TaskSetPtr ts(new TaskSet());
  ts->seed = seed;
  double total = 0;
  for (size_t i = 0; i < names.size(); i++) {
    TaskSpec spec = find_task_spec(names[i], tasks_file, data_dir);
    // An eval alone reads no train file when the eval split has a file of its own.
    if (!need_train && !spec.eval_path.empty() && spec.eval_id_max < spec.eval_id_min)
      spec.train_path.clear();
    ts->tasks.push_back(load_task(spec));
    double w = weights.empty() ? 1.0 : weights[i];
    if (w < 0) throw std::runtime_error("tasks.weights: negative weight for " + names[i]);
    total += w;
    ts->cum_weights.push_back(total);
  }
  if (total <= 0) throw std::runtime_error("tasks.weights: they sum to zero");
  for (double& c : ts->cum_weights) c /= total;
  for (Task& t : ts->tasks) {
    std::vector<TaskPrompt> ev = task_prompts(t, Split::kEval, seed);
    if (static_cast<int>(ev.size()) > eval_prompts) ev.resize(eval_prompts);
    // Held out means never trained on: drop train prompts whose text is an eval prompt.
    std::set<std::string> held;
    for (const TaskPrompt& p : ev) {
      held.insert(p.text);
      ts->eval.push_back(TaskItem{t.spec.name, p.id, p.text, p.chat_text, p.reference});
    }
    std::vector<TaskPrompt> tr = task_prompts(t, Split::kTrain, seed);
    tr.erase(std::remove_if(tr.begin(), tr.end(),
                            [&](const TaskPrompt& p) { return held.count(p.text) > 0; }),
             tr.end());
    if (tr.empty() && need_train)
      throw std::runtime_error("task " + t.spec.name + " has no training prompts");
    ts->train.push_back(std::move(tr));
  }
  return ts;
}

void taskset_check_lengths(const TaskSet& ts, const Tokenizer& tok, const ModelConfig& cfg,
                           const PromptFormat& format, int max_new_tokens,
                           const std::string& what) {
  for (size_t t = 0; t < ts.tasks.size(); t++) {
    const std::string& name = ts.tasks[t].spec.name;
    std::vector<TaskItem> items;
    for (const TaskPrompt& p : ts.train[t])
      items.push_back(TaskItem{name, p.id, p.text, p.chat_text, nlohmann::json()});
    for (const TaskItem& e : ts.eval)
      if (e.task == name) items.push_back(e);
    size_t over = 0, longest = 0;
    std::string longest_id;
    for (const TaskItem& item : items) {
      const size_t n = encode_prompt_ids(tok, cfg, format, prompt_text(item, format)).size();
      if (static_cast<long>(n) + max_new_tokens <= cfg.max_position_embeddings) continue;
      over++;
      if (n > longest) {
        longest = n;
        longest_id = item.prompt_id;
      }
    }
    if (over > 0)
      throw std::runtime_error(
          "task " + name + ": " + std::to_string(over) + " of " + std::to_string(items.size()) +
          " prompts (train and held-out) leave fewer than " + what + " " +
          std::to_string(max_new_tokens) + " of the model's " +
          std::to_string(cfg.max_position_embeddings) + " positions (the longest: prompt " +
          longest_id + ", " + std::to_string(longest) + " tokens); drop them from the data" +
          (static_cast<long>(longest) < cfg.max_position_embeddings ? " or lower " + what
                                                                    : std::string()));
  }
}

std::vector<TaskItem> taskset_train_batch(TaskSet& ts, int64_t step, int round, int n) {
  std::vector<TaskItem> out;
  for (int i = 0; i < n; i++) {
    // Counter-based draws: the prompts of (step, round) never depend on earlier steps.
    uint64_t stream = static_cast<uint64_t>(step) * 64 + static_cast<uint64_t>(round);
    double u = rng_uniform(ts.seed, stream, 2 * static_cast<uint64_t>(i));
    size_t t = 0;
    while (t + 1 < ts.cum_weights.size() && u >= ts.cum_weights[t]) t++;
    const std::vector<TaskPrompt>& pool = ts.train[t];
    size_t k = rng_bits(ts.seed, stream, 2 * static_cast<uint64_t>(i) + 1) % pool.size();
    const TaskPrompt& p = pool[k];
    out.push_back(TaskItem{ts.tasks[t].spec.name, p.id, p.text, p.chat_text, p.reference});
  }
  return out;
}

PromptFormat prompt_format(const Tokenizer& tok, const ModelConfig& cfg,
                           const std::string& chat_template, const std::string& system) {
  PromptFormat f;
  f.chat_template = chat_template;
  f.system = system;
  if (cfg.eos_token_id >= 0) f.stop_ids.push_back(cfg.eos_token_id);
  f.end_id = cfg.eos_token_id;
  if (chat_template.empty()) {
    if (!system.empty()) throw std::runtime_error("a system message needs a chat template");
    return f;
  }
  f.response_prefix = chat_template_generation_prefix(chat_template);  // throws for unknown names
  const std::string eot = chat_template_end_of_turn(chat_template);
  if (eot.empty()) return f;
  const int id = tokenizer_token_id(tok, eot);
  if (id < 0)
    throw std::runtime_error("chat template " + chat_template + ": its end-of-turn text '" + eot +
                             "' is not a single token of the tokenizer " + tok.source);
  if (std::find(f.stop_ids.begin(), f.stop_ids.end(), id) == f.stop_ids.end())
    f.stop_ids.push_back(id);
  f.end_id = id;
  return f;
}

const std::string& prompt_text(const TaskItem& item, const PromptFormat& format) {
  // "plain" writes no turns, so the base-model prompt with its own framing is the right one.
  const bool turns = !format.chat_template.empty() && format.chat_template != "plain";
  return turns && !item.chat_prompt.empty() ? item.chat_prompt : item.prompt;
}

std::vector<int> encode_prompt_ids(const Tokenizer& tok, const ModelConfig& cfg,
                                   const PromptFormat& format, const std::string& text) {
  std::string rendered = text;
  if (!format.chat_template.empty()) {
    std::vector<ChatMessage> msgs;
    if (!format.system.empty()) msgs.push_back({"system", format.system});
    msgs.push_back({"user", text});
    rendered = chat_template_apply(format.chat_template, msgs, true);
  }
  std::vector<int> ids = tokenizer_encode(tok, rendered, true);
  const int bos = tok.bos_id;
  // config.json's bos_token_id alone is not enough: Qwen's names <|endoftext|>, never added.
  const bool want_bos = bos >= 0 && (tok.add_bos || cfg.bos_token_id == bos);
  if (want_bos && (ids.empty() || ids[0] != bos)) ids.insert(ids.begin(), bos);
  return ids;
}

std::string completion_text(const Tokenizer& tok, const PromptFormat& format,
                            const std::vector<int>& ids) {
  size_t n = ids.size();
  if (n > 0 && std::find(format.stop_ids.begin(), format.stop_ids.end(), ids[n - 1]) !=
                   format.stop_ids.end())
    n--;
  std::string out;
  for (size_t k = 0; k < n; k++) {
    const int id = ids[k];
    // Padding rows of the embedding (DeepSeek-V3: 129280 rows, 128815 tokens) have no text.
    if (id < 0 || id >= tok.vocab_size || tok.id_token[id].empty())
      out += "<|unk:" + std::to_string(id) + "|>";
    else
      out += tok.id_bytes[id];
  }
  return out;
}

std::string reward_input(const PromptFormat& format, const std::string& completion) {
  return format.response_prefix + completion;
}

Scored scored_from_result(RewardResult r) {
  Scored s;
  s.correct = !r.components.empty() && r.components.front().second >= 1.0;
  s.result = std::move(r);
  return s;
}

const std::vector<TaskItem>& taskset_eval(const TaskSet& ts) {
  return ts.eval;
}

Scored taskset_score(const TaskSet& ts, const TaskItem& item, const std::string& completion) {
  for (const Task& t : ts.tasks) {
    if (t.spec.name != item.task) continue;
    return scored_from_result(task_score(t.spec, completion, item.reference));
  }
  throw std::runtime_error("taskset_score: unknown task " + item.task);
}

}  // namespace aha
