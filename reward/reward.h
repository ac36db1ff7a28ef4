// Rule-based reward checkers. Invariants: a checker is a plain function of (completion, reference,
// options) with no hidden state, so it is pure and may run on any thread; its score lies in [0, 1];
// a bad completion never throws (it scores 0 with a reason), only a bad reference or bad options
// throw std::invalid_argument naming the field. Checkers are found by name in a registry filled
// before main() by one AHA_CHECKER line per checker, which also lists the options it reads.
#pragma once
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aha {

struct RewardResult {
  double score = 0.0;                                      // in [0, 1] for a checker
  std::vector<std::pair<std::string, double>> components;  // named parts, kept for the logs
  std::string extracted;                                   // the answer the checker looked at
  std::string reason;  // short: "no boxed answer", "3/5 tests passed"
};

// Options of one checker: a JSON object (from TOML, from `--option k=v`, or from code).
struct CheckerOptions {
  nlohmann::json values = nlohmann::json::object();

  bool has(const std::string& key) const { return values.contains(key); }
  std::string get_string(const std::string& key, const std::string& dflt) const;
  double get_double(const std::string& key, double dflt) const;
  int64_t get_int(const std::string& key, int64_t dflt) const;
  bool get_bool(const std::string& key, bool dflt) const;
  // Sets key from text: "true"/"false" become bools, numbers become numbers, else a string.
  void set_from_text(const std::string& key, const std::string& text);
};

using CheckerFn = RewardResult (*)(const std::string& completion, const nlohmann::json& reference,
                                   const CheckerOptions& options);

// Registry of checkers by name, each with the option names it reads: any other option is refused
// (a misspelt one would silently fall back to its default). A checker that declares none takes no
// options. register_checker returns a dummy for static initialisation.
int register_checker(const char* name, CheckerFn fn,
                     std::initializer_list<const char*> option_names = {});
CheckerFn find_checker(const std::string& name);  // nullptr when unknown
std::vector<std::string> checker_names();
// The option names a checker declared; unknown checker throws std::invalid_argument.
const std::vector<std::string>& checker_option_names(const std::string& name);

// Throws std::invalid_argument "<where>: checker 'C' has no option 'K'; did you mean 'X'? (its
// options: ...)" for the first option the checker did not declare; also for an unknown checker.
void check_option_names(const std::string& checker, const CheckerOptions& options,
                        const std::string& where);

// Runs the named checker; an unknown name or an undeclared option throws std::invalid_argument.
RewardResult run_checker(const std::string& name, const std::string& completion,
                         const nlohmann::json& reference, const CheckerOptions& options);

// The built-in checkers (also registered under "math", "format", "countdown", "code").
RewardResult check_math(const std::string& completion, const nlohmann::json& reference,
                        const CheckerOptions& options);
RewardResult check_format(const std::string& completion, const nlohmann::json& reference,
                          const CheckerOptions& options);
RewardResult check_countdown(const std::string& completion, const nlohmann::json& reference,
                             const CheckerOptions& options);
RewardResult check_code(const std::string& completion, const nlohmann::json& reference,
                        const CheckerOptions& options);

// The answer part of a completion, as every checker reads it: after the last </think> when text
// follows it (a reasoning model tries drafts while it thinks), else the whole completion without
// its think tags. None when
// the completion ends inside <think> (cut at max_tokens while reasoning): a draft there is no
// answer; text between an earlier </think> and that <think> is the answer part.
std::optional<std::string> answer_part(const std::string& completion);
inline constexpr const char* kEndsInThink =
    "no answer: the completion ends inside <think> (no </think>)";

// One named, weighted part of a task's reward.
struct RewardComponent {
  std::string name;     // "correct", "format", ...
  std::string checker;  // registry name
  double weight = 1.0;
  CheckerOptions options;
};

// Weighted sum of the components' scores (not clamped: weights decide the range). Every component
// is kept: "<name>" holds its score and "<name>.<part>" its own parts (a part named like the
// component is not repeated). extracted comes from the
// first component, reason joins the components' reasons.
RewardResult compose_reward(const std::vector<RewardComponent>& spec, const std::string& completion,
                            const nlohmann::json& reference);

}  // namespace aha

// AHA_CHECKER(name, fn, "option", ...): registers fn under "name" with the option names it reads,
// before main(); one line in the checker's file. AHA_CHECKER(name, fn) takes no options.
#define AHA_CHECKER_CAT2(a, b) a##b
#define AHA_CHECKER_CAT(a, b) AHA_CHECKER_CAT2(a, b)
#define AHA_CHECKER(name, fn, ...)                                      \
  static const int AHA_CHECKER_CAT(aha_checker_registered_, __LINE__) = \
      ::aha::register_checker(name, fn, {__VA_ARGS__})
