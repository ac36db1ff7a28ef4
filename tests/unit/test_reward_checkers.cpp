// Format and countdown checkers, the registry (with a checker registered here in one line, as a
// user would), options, composition, and tasks: TOML specs, generators, splits, JSONL errors,
// templates.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "reward/reward.h"
#include "tasks/task.h"

namespace {

// A user-defined checker: one function, one registration line.
aha::RewardResult check_length(const std::string& completion, const nlohmann::json&,
                               const aha::CheckerOptions& o) {
  aha::RewardResult r;
  int64_t max = o.get_int("max_chars", 10);
  r.score = static_cast<int64_t>(completion.size()) <= max ? 1.0 : 0.0;
  r.reason = r.score == 1.0 ? "short enough" : "too long";
  return r;
}
AHA_CHECKER("test_length", check_length, "max_chars");

// A user checker that reads no options: it declares none, and so takes none.
aha::RewardResult check_nonempty(const std::string& completion, const nlohmann::json&,
                                 const aha::CheckerOptions&) {
  aha::RewardResult r;
  r.score = completion.empty() ? 0.0 : 1.0;
  return r;
}
AHA_CHECKER("test_nonempty", check_nonempty);

const std::string kFix = std::string(AHA_FIXTURES_DIR) + "/reward";

}  // namespace

TEST_CASE("format: R1 shape, partial credit, custom patterns") {
  aha::CheckerOptions o;
  nlohmann::json ref = nlohmann::json::object();
  CHECK(aha::check_format("<think>a b c</think> <answer>5</answer>", ref, o).score == 1.0);
  CHECK(aha::check_format("  <think>\nsteps\n</think>\nSo \\boxed{5}.", ref, o).score == 1.0);
  CHECK(aha::check_format("<think>x</think>", ref, o).score == 0.0);    // no answer
  CHECK(aha::check_format("<answer>5</answer>", ref, o).score == 0.0);  // no think
  CHECK(aha::check_format("hi <think>x</think><answer>5</answer>", ref, o).score ==
        0.0);  // not at start
  CHECK(aha::check_format("<think></think><answer>5</answer>", ref, o).score ==
        0.0);  // empty think
  CHECK(aha::check_format("<think>a</think><think>b</think><answer>5</answer>", ref, o).score ==
        0.0);
  CHECK(aha::check_format("<think>a</think><answer>5</answer><answer>6</answer>", ref, o).score ==
        0.0);
  CHECK(aha::check_format("<think>a</think><answer>5</answer> trailing text", ref, o).score == 0.0);
  auto r = aha::check_format("<think>a</think> no answer here", ref, o);
  CHECK(r.components[0].second == 1.0);
  CHECK(r.components[1].second == 0.0);
  CHECK(r.reason == "no answer after </think>");
  o.values["partial_credit"] = true;
  CHECK(aha::check_format("<think>a</think> no answer here", ref, o).score == 0.5);
  CHECK(aha::check_format("<answer>5</answer>", ref, o).score == 0.5);
  CHECK(aha::check_format("nothing", ref, o).score == 0.0);
  aha::CheckerOptions custom;
  custom.values["think_pattern"] = R"(^<reasoning>.+?</reasoning>)";
  custom.values["answer_pattern"] = R"(^\s*Final: \d+\s*$)";
  custom.values["single_think"] = false;
  CHECK(aha::check_format("<reasoning>r</reasoning> Final: 12", ref, custom).score == 1.0);
  CHECK(aha::check_format("<reasoning>r</reasoning> Final: x", ref, custom).score == 0.0);
  custom.values["answer_pattern"] = "(unclosed";
  CHECK_THROWS_AS(aha::check_format("x", ref, custom), std::invalid_argument);
}

TEST_CASE("countdown: exact rational arithmetic and number use") {
  aha::CheckerOptions o;
  nlohmann::json ref = {{"numbers", {3, 5, 2, 7}}, {"target", 16}};
  CHECK(aha::check_countdown("<answer>(3 + 5) * 2</answer>", ref, o).score == 1.0);
  CHECK(aha::check_countdown("<answer>(3 + 5) * 2 = 16</answer>", ref, o).score == 1.0);
  CHECK(aha::check_countdown("<think>try</think><answer>2 * (5 + 3)</answer>", ref, o).score ==
        1.0);
  CHECK(aha::check_countdown("<answer>(3 + 5) \xc3\x97 2</answer>", ref, o).score ==
        1.0);  // the × sign
  auto r = aha::check_countdown("<answer>3 * 5 + 2</answer>", ref, o);
  CHECK(r.score == 0.0);
  CHECK(r.reason == "evaluates to 17, target 16");
  CHECK(r.components[1].second == 1.0);  // valid, just wrong
  r = aha::check_countdown("<answer>(3 + 5) * 2 * 1</answer>", ref, o);
  CHECK(r.score == 0.0);
  CHECK(r.reason.find("uses 1") == 0);
  r = aha::check_countdown("<answer>(5 + 5) + 3 * 2</answer>", ref, o);
  CHECK(r.score == 0.0);  // 5 given once, used twice
  r = aha::check_countdown("<answer>7 / (5 - 5)</answer>", ref, o);
  CHECK(r.reason == "division by zero");
  r = aha::check_countdown("<answer>(3 + 5 * 2</answer>", ref, o);
  CHECK(r.reason.find("malformed") == 0);
  r = aha::check_countdown("<answer>3 + + 5</answer>", ref, o);
  CHECK(r.reason.find("malformed") == 0);
  r = aha::check_countdown("<answer>import os</answer>", ref, o);
  CHECK(r.score == 0.0);
  // A stated value after "=" must be the expression's: reaching the target while claiming another
  // value is a wrong answer; a chain of equal sides is fine.
  r = aha::check_countdown("<answer>(3 + 5) * 2 = 17</answer>", ref, o);
  CHECK(r.score == 0.0);
  CHECK(r.reason == "states 17 but the expression evaluates to 16");
  CHECK(aha::check_countdown("<answer>(3 + 5) * 2 = 8 * 2 = 16</answer>", ref, o).score == 1.0);
  CHECK(aha::check_countdown("<answer>(3 + 5) * 2 = 8 * 3 = 16</answer>", ref, o).score == 0.0);
  CHECK(aha::check_countdown("<answer>(3 + 5) * 2 =</answer>", ref, o).score == 0.0);
  // LaTeX notation around the same expression: delimiters, \left/\right, brackets as grouping.
  for (const char* latex :
       {"$(3 + 5) \\cdot 2$", "\\((3+5) \\times 2\\)", "\\[ (3+5)\\times 2 \\]",
        "$$\\left(3 + 5\\right) \\cdot 2 = 16$$", "[(3 + 5) * 2]", "{3 + 5} * 2", "(3 + 5) * 2."})
    CHECK_MESSAGE(
        aha::check_countdown(std::string("<answer>") + latex + "</answer>", ref, o).score == 1.0,
        latex);
  CHECK(aha::check_countdown("<answer>[(3 + 5) * 2)</answer>", ref, o).reason ==
        "malformed expression: missing ']'");
  // Exact rationals: 7 / 2 * 2 + 5 + 3 - 0 ... = 15 exactly, no float drift.
  nlohmann::json ref2 = {{"numbers", {7, 2, 3, 3, 6, 6}}, {"target", 7}};
  CHECK(aha::check_countdown("<answer>7 / 3 * 3</answer>", ref2, o).score == 1.0);
  CHECK(aha::check_countdown("<answer>(7 / 6) * 6</answer>", ref2, o).score == 1.0);
  CHECK(aha::check_countdown("<answer>7 / 2</answer>", ref2, o).reason ==
        "evaluates to 7/2, target 7");
  // A reference past int64 was read wrapped (2^64 - 1 as -1): refused naming the field.
  nlohmann::json wrap = {{"numbers", {3, 5}}, {"target", 18446744073709551615ull}};
  CHECK_THROWS_WITH_AS(aha::check_countdown("<answer>3 - 5</answer>", wrap, o),
                       "countdown: reference field 'target' must be a 64-bit signed integer",
                       std::invalid_argument);
  wrap = {{"numbers", {18446744073709551615ull, 2}}, {"target", 1}};
  CHECK_THROWS_WITH_AS(aha::check_countdown("<answer>3 - 5</answer>", wrap, o),
                       "countdown: reference field 'numbers' must hold 64-bit signed integers",
                       std::invalid_argument);
  // Overflow is an error, not a wrong number.
  nlohmann::json big = {{"numbers", {999999999999, 999999999999, 999999999999}}, {"target", 1}};
  CHECK(aha::check_countdown("<answer>999999999999 * 999999999999 * 999999999999</answer>", big, o)
            .reason == "number too large");
  o.values["exactly_once"] = true;
  CHECK(aha::check_countdown("<answer>(3 + 5) * 2</answer>", ref, o).score == 0.0);
  CHECK(aha::check_countdown("<answer>(3 + 5) * 2 + 7 - 7</answer>", ref, o).score ==
        0.0);  // 7 twice
  CHECK(aha::check_countdown("<answer>(7 - 5) * (3 + 2) + 6</answer>", ref, o).score == 0.0);
  CHECK(aha::check_countdown("<answer>(7 - 5 + 3) * 2 + 6</answer>", ref, o).score == 0.0);
  CHECK(aha::check_countdown("<answer>7 * 2 + 5 - 3</answer>", ref, o).score == 1.0);
  CHECK_THROWS_AS(aha::check_countdown("1", nlohmann::json{{"numbers", {1}}}, o),
                  std::invalid_argument);
}

TEST_CASE("math: a reference without an answer is refused, never scored 0") {
  const aha::CheckerOptions o;
  using J = nlohmann::json;
  for (const J& gold : {J(nullptr), J(""), J("  \n"), J::object(), J::array()})
    CHECK_THROWS_WITH_AS(aha::check_math("\\boxed{42}", J{{"answer", gold}}, o),
                         doctest::Contains("math: reference field 'answer' holds no answer"),
                         std::invalid_argument);
  CHECK_THROWS_WITH_AS(aha::check_math("42", J{{"solution", 42}}, o),
                       "math: reference has no field 'answer'", std::invalid_argument);
  // Numbers and strings with an answer are scored.
  CHECK(aha::check_math("\\boxed{42}", J{{"answer", 42}}, o).score == 1.0);
  // A JSON list of answers is the answers (roots, say), not the interval its text would be.
  CHECK(aha::check_math("\\boxed{2, 1}", J{{"answer", J::array({1, 2})}}, o).score == 1.0);
  CHECK(aha::check_math("\\boxed{[1, 2]}", J{{"answer", J::array({1, 2})}}, o).score == 0.0);
  CHECK(aha::check_math("\\boxed{1}", J{{"answer", J::array({1, 2})}}, o).score == 0.0);
  CHECK(aha::check_math("\\boxed{41}", J{{"answer", "42"}}, o).score == 0.0);
}

TEST_CASE("a completion cut inside <think> has no answer, for every checker") {
  const aha::CheckerOptions o;
  using J = nlohmann::json;
  const J gold{{"answer", "42"}};
  // Cut at max_tokens while reasoning: the draft's box or number is not an answer.
  for (const char* c : {"<think>6 * 7 = 42, so \\boxed{42}", "<think>so the answer is 42",
                        "<think>a</think>\n<think>42"}) {
    const aha::RewardResult r = aha::check_math(c, gold, o);
    CHECK_MESSAGE(r.score == 0.0, c);
    CHECK(r.reason == aha::kEndsInThink);
  }
  // What follows </think> answers; an answer before a trailing <think> still counts.
  CHECK(aha::check_math("<think>41?</think> The answer is 42.", gold, o).score == 1.0);
  CHECK(aha::check_math("<think>41?</think> The answer is 42. <think>or 41", gold, o).score == 1.0);
  CHECK(aha::check_math("<think>41?</think> The answer is 41. <think>or 42", gold, o).score == 0.0);
  // A </think> with nothing after it, or no tags at all: the whole completion is read.
  CHECK(aha::check_math("<think>The answer is 42.</think>", gold, o).score == 1.0);
  CHECK(aha::check_math("The answer is 42.", gold, o).score == 1.0);
  // A special token left in the text separates what stands on either side of it.
  CHECK(aha::check_math("9}<|bos|>42", gold, o).score == 1.0);
  CHECK(aha::check_math("The answer is 42<|im_end|>", gold, o).score == 1.0);
  const J cd{{"numbers", {6, 7}}, {"target", 42}};
  CHECK(aha::check_countdown("<think>6 * 7 <answer>6 * 7</answer>", cd, o).reason ==
        aha::kEndsInThink);
  CHECK(aha::check_countdown("<think>6 + 7?</think><answer>6 * 7</answer>", cd, o).score == 1.0);
}

TEST_CASE("registry, options and composition") {
  CHECK((aha::find_checker("math") == &aha::check_math));
  CHECK((aha::find_checker("test_length") == &check_length));
  CHECK((aha::find_checker("nope") == nullptr));
  CHECK_THROWS_AS(aha::run_checker("nope", "", {}, {}), std::invalid_argument);
  aha::CheckerOptions o;
  o.set_from_text("a", "3");
  o.set_from_text("b", "0.5");
  o.set_from_text("c", "true");
  o.set_from_text("d", "answer_tag,boxed");
  CHECK(o.get_int("a", 0) == 3);
  CHECK(o.get_double("b", 0) == 0.5);
  CHECK(o.get_bool("c", false));
  CHECK(o.get_string("d", "") == "answer_tag,boxed");
  CHECK_THROWS_AS(o.get_int("b", 0), std::invalid_argument);
  CHECK_THROWS_AS(o.get_bool("d", false), std::invalid_argument);

  std::vector<aha::RewardComponent> spec(3);
  spec[0] = {"correct", "math", 1.0, {}};
  spec[1] = {"format", "format", 0.1, {}};
  spec[2] = {"short", "test_length", 0.5, {}};
  spec[2].options.values["max_chars"] = 1000;
  nlohmann::json ref = {{"answer", "42"}};
  auto r = aha::compose_reward(spec, "<think>6*7</think><answer>42</answer>", ref);
  CHECK(r.score == doctest::Approx(1.6));
  CHECK(r.extracted == "42");
  std::set<std::string> names;
  for (const auto& [k, v] : r.components) names.insert(k);
  std::string joined;
  for (const auto& n : names) joined += n + " ";
  CHECK(joined == "correct format format.answer format.think short ");
  r = aha::compose_reward(spec, "<answer>41</answer>", ref);
  CHECK(r.score == doctest::Approx(0.5));
  CHECK(r.reason.find("correct: wrong") == 0);
}

TEST_CASE("checker options: only declared names, a misspelt one refused with its near name") {
  const auto& math = aha::checker_option_names("math");
  CHECK(std::find(math.begin(), math.end(), "extract") != math.end());
  CHECK(aha::checker_option_names("test_length") == std::vector<std::string>{"max_chars"});
  CHECK(aha::checker_option_names("test_nonempty").empty());
  CHECK_THROWS_WITH_AS(aha::checker_option_names("nope"), doctest::Contains("unknown checker"),
                       std::invalid_argument);
  aha::CheckerOptions o;
  o.values["extrct"] = "boxed";
  CHECK_THROWS_WITH_AS(aha::check_option_names("math", o, "here"),
                       "here: checker 'math' has no option 'extrct'; did you mean 'extract'? (its "
                       "options: extract, rel_tol, symbolic, symbolic_timeout_s, answer_field)",
                       std::invalid_argument);
  // Nothing near: the list alone.
  o.values = {{"colour", "blue"}};
  CHECK_THROWS_WITH_AS(aha::check_option_names("countdown", o, "here"),
                       "here: checker 'countdown' has no option 'colour' (its options: "
                       "exactly_once)",
                       std::invalid_argument);
  // Options built in code are held to the same names when the checker runs.
  o.values = {{"exactly_onec", true}};
  CHECK_THROWS_WITH_AS(
      aha::run_checker("countdown", "<answer>1</answer>", {{"numbers", {1}}, {"target", 1}}, o),
      doctest::Contains("did you mean 'exactly_once'?"), std::invalid_argument);
  std::vector<aha::RewardComponent> spec = {{"c", "math", 1.0, {}}};
  spec[0].options.values["rel_tl"] = 0.1;
  CHECK_THROWS_WITH_AS(aha::compose_reward(spec, "42", {{"answer", "42"}}),
                       doctest::Contains("did you mean 'rel_tol'?"), std::invalid_argument);
  // A user checker's declared option is taken, anything else refused.
  aha::CheckerOptions len;
  len.values["max_chars"] = 3;
  CHECK(aha::run_checker("test_length", "abcd", {}, len).score == 0.0);
  len.values["max_char"] = 3;
  CHECK_THROWS_WITH_AS(aha::run_checker("test_length", "abcd", {}, len),
                       doctest::Contains("has no option 'max_char'; did you mean 'max_chars'?"),
                       std::invalid_argument);
  // A checker that declares none takes none, and says how to declare them.
  CHECK(aha::run_checker("test_nonempty", "x", {}, {}).score == 1.0);
  CHECK_THROWS_WITH_AS(aha::run_checker("test_nonempty", "x", {}, len),
                       doctest::Contains("checker 'test_nonempty' takes no options, got 'max_char"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(aha::check_option_names("mth", {}, "here"),
                       doctest::Contains("here: unknown checker 'mth'; did you mean 'math'?"),
                       std::invalid_argument);
}

// The real risk of declared lists: one missing a key its checker reads, so a valid config is
// refused. Every option a reward/*.cpp file reads must be declared by some checker.
TEST_CASE("checker options: every key read in reward/*.cpp is declared") {
  std::set<std::string> declared;
  for (const auto& name : aha::checker_names())
    for (const auto& k : aha::checker_option_names(name)) declared.insert(k);
  // get_string("key", ...), has("key"), also with the key on the next line; and the raw JSON.
  const std::vector<std::string> reads = {"get_string(",   "get_double(", "get_int(",
                                          "get_bool(",     "has(",        "values.contains(",
                                          "values.value(", "values.at(",  "values["};
  size_t found = 0;
  for (const auto& f :
       std::filesystem::directory_iterator(std::string(AHA_SOURCE_DIR) + "/reward")) {
    if (f.path().extension() != ".cpp" || f.path().filename() == "registry.cpp") continue;
    std::ifstream in(f.path());
    std::stringstream text;
    text << in.rdbuf();
    const std::string src = text.str();
    for (const std::string& call : reads)
      for (size_t at = src.find(call); at != std::string::npos; at = src.find(call, at + 1)) {
        if (at > 0 && (std::isalnum(static_cast<unsigned char>(src[at - 1])) || src[at - 1] == '_'))
          continue;  // another function's name ending in one of these
        size_t q = src.find_first_not_of(" \t\n", at + call.size());
        if (q == std::string::npos || src[q] != '"') continue;  // a key in a variable: not ours
        const size_t e = src.find('"', q + 1);
        const std::string key = src.substr(q + 1, e - q - 1);
        found++;
        CHECK_MESSAGE(declared.count(key) == 1, "option '", key, "' read in ", f.path().string(),
                      " is declared by no checker (add it to the checker's AHA_CHECKER line)");
      }
  }
  CHECK(found >=
        25);  // the scan sees the built-ins' reads (5 math, 4 format, 1 countdown, 15 code)
}

// reward/README.md's checker table is the documented list: its options column names exactly what
// each built-in declares.
TEST_CASE("checker options: reward/README.md's table lists each built-in's declared names") {
  std::ifstream in(std::string(AHA_SOURCE_DIR) + "/reward/README.md");
  REQUIRE(in);
  std::map<std::string, std::string> column;  // checker -> its options cell (the last one)
  for (std::string line; std::getline(in, line);) {
    for (const char* c : {"math", "format", "countdown", "code"})
      if (line.rfind("| `" + std::string(c) + "` |", 0) == 0 && line.back() == '|') {
        const size_t open = line.rfind('|', line.size() - 2);
        column[c] = line.substr(open + 1, line.size() - open - 2);
      }
  }
  REQUIRE(column.size() == 4);
  for (const auto& [checker, cell] : column) {
    // The names are the backticked words outside parentheses (those hold values and notes).
    std::string top;
    int depth = 0;
    for (char ch : cell) {
      depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
      if (depth == 0 && ch != ')') top += ch;
    }
    std::set<std::string> documented;
    for (size_t b = top.find('`'); b != std::string::npos; b = top.find('`', b + 1)) {
      const size_t e = top.find('`', b + 1);
      if (e == std::string::npos) break;
      const std::string word = top.substr(b + 1, e - b - 1);
      documented.insert(word.substr(0, word.find(' ')));
      b = e;
    }
    const auto& decl = aha::checker_option_names(checker);
    const std::set<std::string> declared(decl.begin(), decl.end());
    for (const auto& k : declared)
      CHECK_MESSAGE(documented.count(k) == 1, checker, ": declared option '", k,
                    "' is missing from reward/README.md's table");
    for (const auto& k : documented)
      CHECK_MESSAGE(declared.count(k) == 1, checker, ": reward/README.md documents '", k,
                    "', which the checker does not declare");
  }
}

TEST_CASE("tasks: a misspelt checker option names the file, task, component, key and near name") {
  const std::string toml = R"([tasks.t]
generator = { name = "arith" }
[[tasks.t.reward]]
name = "correct"
checker = "math"
options = { extrct = "answer_tag" }
)";
  CHECK_THROWS_WITH_AS(aha::parse_task_toml(toml, "my_tasks.toml", ""),
                       "my_tasks.toml: task 't' reward component 'correct': checker 'math' has no "
                       "option 'extrct'; did you mean 'extract'? (its options: extract, rel_tol, "
                       "symbolic, symbolic_timeout_s, answer_field)",
                       std::invalid_argument);
  // A user checker's declared option passes the task file; its misspelling does not.
  const std::string user = R"([tasks.u]
generator = { name = "arith" }
[[tasks.u.reward]]
name = "short"
checker = "test_length"
options = { max_chars = 5 }
)";
  CHECK(
      aha::parse_task_toml(user, "u.toml", "").at(0).reward.at(0).options.get_int("max_chars", 0) ==
      5);
  std::string typo = user;
  typo.replace(typo.find("max_chars"), 9, "maxchars");
  CHECK_THROWS_WITH_AS(aha::parse_task_toml(typo, "u.toml", ""),
                       doctest::Contains("u.toml: task 'u' reward component 'short': checker "
                                         "'test_length' has no option 'maxchars'; did you mean "
                                         "'max_chars'?"),
                       std::invalid_argument);
  // A misspelt task key gets the near name too.
  std::string key = user;
  key.replace(key.find("checker ="), 7, "checkr");
  CHECK_THROWS_WITH_AS(aha::parse_task_toml(key, "u.toml", ""),
                       doctest::Contains("unknown key 'checkr'; did you mean 'checker'?"),
                       std::invalid_argument);
}

TEST_CASE("tasks: every built-in task and every tasks file in the tree loads") {
  for (const auto& name : aha::builtin_task_names()) {
    CAPTURE(name);
    const aha::TaskSpec s = aha::find_task_spec(name, "", kFix);
    for (const auto& c : s.reward) CHECK_NOTHROW(aha::check_option_names(c.checker, c.options, ""));
  }
  for (const char* file : {"/experiments/r1-zero/tasks.toml", "/experiments/base-arith/tasks.toml",
                           "/tests/fixtures/reward/user_tasks.toml"}) {
    const std::string path = std::string(AHA_SOURCE_DIR) + file;
    CAPTURE(path);
    std::ifstream in(path);
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    CHECK_FALSE(aha::parse_task_toml(text.str(), path, "", kFix).empty());
  }
}

TEST_CASE("tasks: user TOML task without recompiling") {
  aha::TaskSpec s = aha::find_task_spec("toy", kFix + "/user_tasks.toml");
  CHECK(s.reward.size() == 2);
  CHECK(s.reward[1].weight == 0.2);
  aha::Task t = aha::load_task(s);
  CHECK(t.train.size() + t.eval.size() == 6);
  CHECK(!t.eval.empty());
  CHECK(!t.train.empty());
  aha::Task t2 = aha::load_task(s);  // deterministic split
  CHECK(t2.eval.size() == t.eval.size());
  CHECK(t2.eval[0].id == t.eval[0].id);
  const aha::TaskPrompt* p = nullptr;
  for (const auto& x : t.train)
    if (x.id == "1") p = &x;
  for (const auto& x : t.eval)
    if (x.id == "1") p = &x;
  REQUIRE(p != nullptr);
  CHECK(p->text == "Question: What is 6 times 7?\nAnswer inside <answer></answer>.");
  CHECK(p->reference["answer"] == "42");
  auto r = aha::task_score(s, "<think>6*7</think><answer>42</answer>", p->reference);
  CHECK(r.score == doctest::Approx(1.2));
  r = aha::task_score(s, "<answer>42</answer>", p->reference);
  CHECK(r.score == doctest::Approx(1.1));  // partial format credit 0.5 * 0.2
  aha::Task r1 = aha::load_task("toy_r1", kFix + "/user_tasks.toml");
  CHECK(r1.train.size() == 6);
  CHECK(r1.train[0].text.find("<think>") != std::string::npos);
  // Orders by seed are permutations and reproducible.
  auto a = aha::task_prompts(r1, aha::Split::kTrain, 1),
       b = aha::task_prompts(r1, aha::Split::kTrain, 1);
  for (size_t i = 0; i < a.size(); i++) CHECK(a[i].id == b[i].id);
  // Built-ins are still found with a tasks file given.
  CHECK(aha::find_task_spec("countdown", kFix + "/user_tasks.toml").generator == "countdown");
}

TEST_CASE("tasks: errors name the file, line and field") {
  aha::TaskSpec s = aha::find_task_spec("toy", kFix + "/user_tasks.toml");
  s.train_path = kFix + "/bad_line.jsonl";
  try {
    aha::load_task(s);
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("bad_line.jsonl:2: malformed JSON") != std::string::npos);
  }
  s.train_path = kFix + "/missing_field.jsonl";
  s.id_field.clear();
  try {
    aha::load_task(s);
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("missing_field.jsonl:3: missing field 'a' (for 'answer')") !=
          std::string::npos);
  }
  s.train_path = kFix + "/no_such_file.jsonl";
  CHECK_THROWS_WITH_AS(aha::load_task(s), doctest::Contains("no_such_file.jsonl: cannot open"),
                       std::runtime_error);
  // Found by fuzzing: a row whose answer nests 10^5 deep overflowed the stack when the reference
  // was copied; it is refused before parsing, naming the line and the byte.
  const std::string deep =
      (std::filesystem::temp_directory_path() / ("aha_deep_" + std::to_string(getpid()) + ".jsonl"))
          .string();
  std::ofstream(deep) << "{\"q\": \"1+1\", \"a\": \"2\"}\n{\"q\": \"x\", \"a\": "
                      << std::string(100000, '[') << std::string(100000, ']') << "}\n";
  s.train_path = deep;
  try {
    aha::load_task(s);
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == deep + ":2: JSON nested deeper than 256 levels (at byte 271)");
  }
  // A blank line before a bad row: the error names the file's line (3), not the row's index (2).
  std::ofstream(deep, std::ios::trunc) << "{\"q\": \"1+1\", \"a\": \"2\"}\n\n{\"q\": \"x\"}\n";
  try {
    aha::load_task(s);
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(deep + ":3: missing field 'a'") != std::string::npos);
  }
  std::filesystem::remove(deep);
  CHECK_THROWS_WITH_AS(aha::find_task_spec("broken", kFix + "/broken_tasks.toml"),
                       doctest::Contains("unknown checker 'no_such_checker'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(aha::parse_task_toml("[tasks.x\n", "inline.toml", ""),
                       doctest::Contains("inline.toml:1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(aha::find_task_spec("nope"), doctest::Contains("unknown task 'nope'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(aha::render_template("{missing}", nlohmann::json::object()),
                       doctest::Contains("{missing}"), std::invalid_argument);
  CHECK(aha::render_template("f(x) = {x} {not a field} {{", nlohmann::json{{"x", 3}}) ==
        "f(x) = 3 {not a field} {{");
}

TEST_CASE("tasks: wrong-typed or out-of-range numbers name the file, task and key") {
  // Found by fuzzing the tasks file: nlohmann's get<>() threw "type must be number, but is string"
  // naming nothing, and cast 1e30 to int64 (undefined behaviour).
  auto error_of = [](const std::string& line, const std::string& gen = "{ name = \"arith\" }") {
    const std::string toml = "[tasks.g]\ngenerator = " + gen + "\n" + line +
                             "\n[[tasks.g.reward]]\nname = \"c\"\nchecker = \"math\"\n";
    try {
      aha::load_task(aha::parse_task_toml(toml, "inline.toml", "").at(0));
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(error_of("train_count = \"ten\"") ==
        "inline.toml: task 'g': 'train_count' must be an integer, not \"ten\"");
  CHECK(error_of("train_count = 1e30") ==
        "inline.toml: task 'g': 'train_count' must be an integer, not 1e+30");
  CHECK(error_of("eval_count = 3000000000") ==
        "inline.toml: task 'g': 'eval_count' = 3000000000 is outside [0, 10000000]");
  CHECK(error_of("train_count = -5") ==
        "inline.toml: task 'g': 'train_count' = -5 is outside [0, 10000000]");
  CHECK(error_of("seed = \"x\"") == "inline.toml: task 'g': 'seed' must be an integer, not \"x\"");
  CHECK(error_of("split.eval_fraction = \"half\"") ==
        "inline.toml: task 'g' split: 'eval_fraction' must be a number, not \"half\"");
  CHECK(error_of("split.eval_fraction = 2.0") ==
        "inline.toml: task 'g' split: 'eval_fraction' = 2.0 is outside [0.0, 1.0]");
  CHECK(error_of("", "{ name = 3 }") == "inline.toml: task 'g' generator: 'name' must be a string");
  CHECK(error_of("", "{ name = \"arith\", ops = 5 }") ==
        "task 'g': generator option 'ops' must be a string");
  CHECK(error_of("train_count = 3\neval_count = 2\nseed = 9") == "accepted");
}

TEST_CASE("tasks: ${AHA_DATA_DIR} resolves against data_dir; a missing file says what sets it") {
  const std::string toml = R"([tasks.toy_data]
data.train = "${AHA_DATA_DIR}/toy.jsonl"
data.fields = { question = "q", answer = "a" }
split.eval_fraction = 0.5
[[tasks.toy_data.reward]]
name = "correct"
checker = "math"
)";
  std::vector<aha::TaskSpec> specs = aha::parse_task_toml(toml, "inline.toml", "", kFix);
  REQUIRE(specs.size() == 1);
  CHECK(specs[0].train_path == kFix + "/toy.jsonl");
  CHECK(specs[0].data_dir == kFix);
  aha::Task t = aha::load_task(specs[0]);
  CHECK(t.train.size() + t.eval.size() == 6);
  // The built-ins read the same variable: gsm8k's files under the given directory.
  aha::TaskSpec g = aha::find_task_spec("gsm8k", "", "/data/here");
  CHECK(g.train_path == "/data/here/gsm8k_train.jsonl");
  CHECK(g.eval_path == "/data/here/gsm8k_test_first200.jsonl");
  CHECK_THROWS_WITH_AS(aha::load_task(g),
                       doctest::Contains("task 'gsm8k': data file /data/here/gsm8k_train.jsonl not "
                                         "found (${AHA_DATA_DIR} = '/data/here'; set it with "
                                         "--data-dir or the AHA_DATA_DIR environment variable)"),
                       std::runtime_error);
  // A path without the variable keeps the plain error (the file named, no hint).
  aha::TaskSpec u = aha::find_task_spec("toy", kFix + "/user_tasks.toml", "/data/here");
  CHECK(u.data_dir.empty());
}

TEST_CASE("tasks: field fallbacks, chat_prompt, and unknown keys refused") {
  // MATH-500 rows carry "answer"; MATH rows only a solution whose last boxed answer is the gold.
  aha::TaskSpec m = aha::find_task_spec("math", "", kFix);
  m.train_path.clear();
  m.eval_path = kFix + "/math_rows.jsonl";
  CHECK_THROWS_WITH_AS(aha::load_task(m),
                       doctest::Contains("math_rows.jsonl:3: missing field 'answer' or 'solution' "
                                         "(for 'answer')"),
                       std::runtime_error);
  // The same rows without the third: both golds score.
  const std::string two = (std::filesystem::temp_directory_path() /
                           ("aha_math_rows_" + std::to_string(::getpid()) + ".jsonl"))
                              .string();
  {
    std::ifstream in(m.eval_path);
    std::ofstream out(two);
    std::string line;
    for (int i = 0; i < 2 && std::getline(in, line); i++) out << line << "\n";
  }
  m.eval_path = two;
  aha::Task t = aha::load_task(m);
  REQUIRE(t.eval.size() == 2);
  CHECK(aha::task_score(m, "<think>k</think><answer>5</answer>", t.eval[0].reference).score ==
        doctest::Approx(1.1));
  CHECK(aha::task_score(m, "<think>k</think><answer>0.25</answer>", t.eval[1].reference).score ==
        doctest::Approx(1.1));
  std::filesystem::remove(two);
  // A null field counts as absent where a later alternative has a value (datasets exported with a
  // column per source); scoring a row of the task's own data maps its fields the same way.
  using J = nlohmann::json;
  const J row = {{"answer", nullptr}, {"solution", "so \\boxed{7}"}, {"completion", "x"}};
  REQUIRE(aha::task_field({"answer", "solution"}, row) != nullptr);
  CHECK(*aha::task_field({"answer", "solution"}, row) == "so \\boxed{7}");
  CHECK(aha::task_field({"answer"}, row)->is_null());  // no alternative: the checker says so
  CHECK(aha::task_field({"gold"}, row) == nullptr);
  aha::TaskSpec toy;
  toy.fields = {{"answer", {"a"}}};
  CHECK(aha::task_reference(toy, J{{"a", "2"}, {"q", "1+1"}})["answer"] == "2");
  CHECK(aha::task_reference(toy, J{{"a", "2"}, {"answer", "3"}})["answer"] == "3");  // named wins
  CHECK_FALSE(aha::task_reference(toy, J{{"q", "1+1"}}).contains("answer"));
  toy.fields = {{"answer", {"answer", "solution"}}};
  CHECK(aha::task_reference(toy, row)["answer"] == "so \\boxed{7}");
  // The base-model prompt frames the turn itself; the chat variant is the bare user message.
  CHECK(t.eval[0].text.find("Assistant: <think>") != std::string::npos);
  CHECK(t.eval[0].chat_text.rfind("What is $2+3$?\nReason step by step", 0) == 0);
  CHECK(t.eval[0].chat_text.find("Assistant:") == std::string::npos);

  const std::string head = R"([tasks.t]
data.train = "toy.jsonl"
data.fields = { question = "q", answer = "a" }
)";
  const std::string reward = R"([[tasks.t.reward]]
name = "correct"
checker = "math"
)";
  const std::string base = head + reward;
  aha::TaskSpec plain = aha::parse_task_toml(base, "inline.toml", kFix)[0];
  CHECK(plain.chat_prompt_template.empty());
  CHECK(aha::load_task(plain).train[0].chat_text == aha::load_task(plain).train[0].text);
  // A misspelt key is an error naming it, where it is, the nearest key and the known keys.
  auto refused = [&](const std::string& toml, const std::string& want) {
    CHECK_THROWS_WITH_AS(aha::parse_task_toml(toml, "inline.toml", kFix),
                         doctest::Contains(want.c_str()), std::invalid_argument);
  };
  refused(head + "templte = \"x\"\n" + reward,
          "inline.toml: task 't': unknown key 'templte'; did you mean 'template'? (known: ");
  refused(R"([tasks.t]
data.train = "toy.jsonl"
data.feilds = { question = "q" }
[[tasks.t.reward]]
name = "correct"
checker = "math"
)",
          "task 't' data: unknown key 'feilds'");
  refused(head + "split.eval_frac = 0.5\n" + reward,
          "task 't' split: unknown key 'eval_frac'; did you mean 'eval_fraction'?");
  refused(base + "wieght = 2.0\n", "task 't' reward: unknown key 'wieght'");
  // A component without its checker says which one.
  refused(base + "[[tasks.t.reward]]\nname = \"format\"\nweight = 0.2\n",
          "task 't': reward component 2 ('format') needs a checker");
  refused(R"([tasks.t]
data.train = "toy.jsonl"
data.fields = { answer = ["a", 3] }
[[tasks.t.reward]]
name = "correct"
checker = "math"
)",
          "data.fields.answer must be a field name or a list of them");
}

TEST_CASE("tasks: generators are deterministic and solvable") {
  aha::TaskSpec s = aha::find_task_spec("countdown");
  s.train_count = 300;
  s.eval_count = 50;
  aha::Task t = aha::load_task(s);
  REQUIRE(t.train.size() == 300);
  REQUIRE(t.eval.size() == 50);
  aha::Task t2 = aha::load_task(s);
  CHECK(t2.train[17].reference == t.train[17].reference);
  CHECK(t.train[0].reference != t.eval[0].reference);
  for (const auto& p : t.train) {
    const auto& ref = p.reference;
    CHECK(ref["numbers"].size() == 4);
    int64_t target = ref["target"];
    CHECK(target >= 10);
    CHECK(target <= 999);
    // The kept solution is a witness: every instance is solvable (exactly once, even).
    aha::CheckerOptions once;
    once.values["exactly_once"] = true;
    auto r = aha::check_countdown("<answer>" + ref["solution"].get<std::string>() + "</answer>",
                                  ref, once);
    CHECK_MESSAGE(r.score == 1.0, ref.dump() << " " << r.reason);
  }
  aha::TaskSpec a = aha::find_task_spec("arith");
  a.train_count = 200;
  aha::Task at = aha::load_task(a);
  for (const auto& p : at.train) {
    int64_t x = p.reference["a"], y = p.reference["b"];
    std::string op = p.reference["op"];
    int64_t want = op == "+" ? x + y : op == "-" ? x - y : x * y;
    CHECK(p.reference["answer"] == std::to_string(want));
    CHECK(x >= 10);
    CHECK(x <= 99999);
    CHECK(aha::task_score(a, "<think>k</think><answer>" + std::to_string(want) + "</answer>",
                          p.reference)
              .score == doctest::Approx(1.1));
  }
  // mod10_chain: the answer is the chain evaluated left to right mod 10, the work the value after
  // each step; a direct answer and a worked one score the same, a number in the think block is no
  // answer.
  aha::TaskSpec d = aha::find_task_spec("mod10_chain");
  d.train_count = 300;
  d.generator_options = {{"ops", 10}};  // the plain form; the built-in's labels and steps below
  aha::Task dt = aha::load_task(d);
  REQUIRE(dt.eval.size() == 200);
  std::set<std::string> answers;
  for (const auto& p : dt.train) {
    const std::string q = p.reference["question"];
    REQUIRE(q.size() == 21);  // a start digit and ten operations of two characters
    CHECK(p.text == "Mod 10: " + q + "<think>");
    int v = q[0] - '0';
    std::string work;
    for (size_t i = 1; i < q.size(); i += 2) {
      const int x = q[i + 1] - '0';
      if (q[i] == '*') CHECK((x == 3 || x == 7 || x == 9));
      CHECK(x >= 1);
      v = q[i] == '+' ? (v + x) % 10 : q[i] == '-' ? (v - x + 10) % 10 : (v * x) % 10;
      work += (i > 1 ? "," : "") + std::to_string(v);
    }
    const std::string answer = std::to_string(v);
    answers.insert(answer);
    CHECK(p.reference["answer"] == answer);
    CHECK(p.reference["work"] == work);
    auto score = [&](const std::string& c) { return aha::task_score(d, c, p.reference).score; };
    CHECK(score("</think><answer>" + answer + "</answer>") == doctest::Approx(1.1));
    CHECK(score(work + "</think><answer>" + answer + "</answer>") == doctest::Approx(1.1));
    CHECK(score("</think><answer>" + std::to_string((v + 1) % 10) + "</answer>") ==
          doctest::Approx(0.1));
    CHECK(score(work + "</think>") == doctest::Approx(0.0));
  }
  CHECK(answers.size() == 10);
  // With labels the same chain carries a letter before each operation, repeated in the work; with
  // form = "steps" the work restates each operation before its value.
  aha::TaskSpec dl = d;
  dl.generator_options["labels"] = true;
  aha::Task lt = aha::load_task(dl);
  aha::TaskSpec ds = dl;
  ds.generator_options["form"] = "steps";
  aha::Task st = aha::load_task(ds);
  for (size_t k = 0; k < 20; k++) {
    std::string q = lt.train[k].reference["question"], w = lt.train[k].reference["work"];
    std::string plain_q, plain_w;
    for (char c : q)
      if (c < 'a' || c > 'z') plain_q += c;
    for (char c : w)
      if (c < 'a' || c > 'z') plain_w += c;
    CHECK(plain_q == dt.train[k].reference["question"]);
    CHECK(plain_w == dt.train[k].reference["work"]);
    CHECK(q.substr(1, 1) == "a");
    CHECK(q.substr(q.size() - 3, 1) == "j");
    CHECK(w.rfind("a", 0) == 0);
    CHECK(w.find(",j") != std::string::npos);
    // "steps": the start value, then each item of the work is the letter, the operation that follows the letter in the
    // question, '=' and the value.
    CHECK(st.train[k].reference["question"] == q);
    std::string sw = st.train[k].reference["work"], expect = q.substr(0, 1) + ",";
    for (size_t i = 0; i < 10; i++) {
      const size_t at = q.find(static_cast<char>('a' + i));
      expect += (i ? "," : "") + q.substr(at, 3) + "=" + plain_w.substr(2 * i, 1);
    }
    CHECK(sw == expect);
  }
  // The built-in task is the labelled six-step chain with the steps form.
  aha::TaskSpec bi = aha::find_task_spec("mod10_chain");
  bi.train_count = 20;
  for (const auto& p : aha::load_task(bi).train) {
    const std::string q = p.reference["question"], w = p.reference["work"];
    CHECK(q.size() == 19);
    CHECK(q.substr(q.size() - 3, 1) == "f");
    CHECK(w.size() == 37);
    CHECK(w.rfind(q.substr(0, 1) + ",a" + q.substr(2, 2) + "=", 0) == 0);
  }
  // min_ops: chain lengths drawn from min_ops..ops, each length's answer still the chain's value.
  aha::TaskSpec dm = d;
  dm.generator_options["min_ops"] = 1;
  dm.generator_options["ops"] = 4;
  std::set<size_t> lengths;
  for (const auto& p : aha::load_task(dm).train) {
    const std::string q = p.reference["question"], w = p.reference["work"];
    lengths.insert(q.size());
    CHECK(w.substr(w.size() - 1) == p.reference["answer"].get<std::string>());
  }
  CHECK(lengths == std::set<size_t>{3, 5, 7, 9});
  dm.generator_options["form"] = "proof";
  CHECK_THROWS(aha::load_task(dm));
  CHECK(aha::builtin_task_names().size() == 7);
}
