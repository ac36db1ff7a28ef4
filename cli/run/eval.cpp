#include "cli/run/eval.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace aha {

EvalSummary eval_summarize(const std::vector<EvalGroup>& groups) {
  EvalSummary out;
  out.num_prompts = groups.size();
  if (groups.empty()) return out;
  out.k = static_cast<int>(groups[0].scored.size());
  std::map<std::string, std::pair<double, int>> by_task;  // correct samples, samples
  for (const EvalGroup& g : groups) {
    if (g.scored.empty() || g.scored.size() != static_cast<size_t>(out.k))
      throw std::runtime_error("evaluation: a prompt of task " + g.task + " has " +
                               std::to_string(g.scored.size()) + " samples, want " +
                               std::to_string(out.k));
    int correct = 0;
    std::map<std::string, std::pair<int, bool>> votes;  // extracted answer -> count, correct
    for (const Scored& s : g.scored) {
      correct += s.correct;
      auto& v = votes[s.result.extracted];
      v.first++;
      v.second = s.correct;
    }
    out.pass1 += static_cast<double>(correct) / out.k;
    out.passk += correct > 0;
    int best = 0;
    bool best_correct = false;
    for (const auto& [answer, v] : votes)
      if (!answer.empty() && v.first > best) {
        best = v.first;
        best_correct = v.second;
      }
    out.majk += best_correct;
    by_task[g.task].first += correct;
    by_task[g.task].second += out.k;
  }
  const double n = static_cast<double>(groups.size());
  out.pass1 /= n;
  out.passk /= n;
  out.majk /= n;
  for (const auto& [task, v] : by_task) out.pass1_by_task[task] = v.first / v.second;
  return out;
}

std::vector<EvalGroup> eval_local(Model& m, const Tokenizer& tok, const PromptFormat& fmt,
                                  const TaskSet& ts, const std::vector<TaskItem>& items,
                                  const EvalSampling& s, std::vector<EngineResult>* results) {
  Engine e;
  EngineOptions eo;
  eo.max_tokens_in_flight = s.max_tokens_in_flight;
  engine_init(e, m, eo);
  for (size_t i = 0; i < items.size(); i++) {
    EngineRequest r;
    r.request_id = i;
    r.prompt = encode_prompt_ids(tok, m.cfg, fmt, prompt_text(items[i], fmt));
    if (static_cast<long>(r.prompt.size()) + s.params.max_new_tokens >
        m.cfg.max_position_embeddings)
      throw std::runtime_error("task " + items[i].task + ", prompt " + items[i].prompt_id + ": " +
                               std::to_string(r.prompt.size()) + " tokens + " +
                               std::to_string(s.params.max_new_tokens) +
                               " new tokens are over the model's " +
                               std::to_string(m.cfg.max_position_embeddings) + " positions");
    r.group_size = s.k;
    r.params = s.params;
    r.params.stop_token_ids = fmt.stop_ids;
    r.seed = s.seed_base + i;
    engine_submit(e, r);
  }
  std::vector<EngineResult> done;
  engine_run(e, done);
  std::sort(done.begin(), done.end(), [](const EngineResult& x, const EngineResult& y) {
    return x.request_id < y.request_id;
  });
  std::vector<EvalGroup> groups(items.size());
  for (const EngineResult& r : done) {
    const TaskItem& item = items[r.request_id];
    EvalGroup& g = groups[r.request_id];
    g.task = item.task;
    try {  // a bad reference (a null gold answer) names its row
      for (const Sample& x : r.samples)
        g.scored.push_back(
            taskset_score(ts, item, reward_input(fmt, completion_text(tok, fmt, x.completion))));
    } catch (const std::exception& e) {
      throw std::runtime_error("task " + item.task + ", prompt " + item.prompt_id + ": " +
                               e.what());
    }
  }
  if (results) *results = std::move(done);
  return groups;
}

}  // namespace aha
