#include "cli/run/eval.h"

#include <stdexcept>
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

}  // namespace aha
