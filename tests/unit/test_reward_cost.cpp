// Adversarial completions: each checker scores pathological shapes (long runs of numbers, of
// unclosed math, of boxes and braces, of "or" and dashes, huge integers, deep nesting) at a size
// where work quadratic in the length would take minutes, and must return the verdict written here.
// No time is asserted: a regression to quadratic work shows as a test that runs into its timeout.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "reward/reward.h"

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kSize = 64 << 10;  // sanitizers slow the linear work several times
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr size_t kSize = 64 << 10;
#else
constexpr size_t kSize = 256 << 10;
#endif
#else
constexpr size_t kSize = 256 << 10;  // the quadratic code took about 2 minutes on "1 1 1 ..."
#endif

// Whole copies of unit, at least n bytes.
std::string repeat(const std::string& unit, size_t n) {
  std::string s;
  s.reserve(n + unit.size());
  while (s.size() < n) s += unit;
  return s;
}

struct Shape {
  const char* name;
  const char* checker;
  std::function<std::string(size_t)> completion;
  nlohmann::json reference;
  double score;
  const char* reason;  // a part of the reason
};

const nlohmann::json kOne = {{"answer", "1"}};

std::vector<Shape> shapes() {
  nlohmann::json countdown = {{"numbers", {1, 2}}, {"target", 3}};
  return {
      {"numbers", "math", [](size_t n) { return repeat("1 ", n); }, kOne, 1, "from last_number"},
      {"CJK numerals", "math", [](size_t n) { return repeat("十二", n) + " 1"; }, kOne, 1,
       "from last_number"},
      {"answer words in Chinese", "math", [](size_t n) { return repeat("答案是一，不是", n); },
       kOne, 0, "wrong"},
      {"full-width digits", "math", [](size_t n) { return repeat("１ ", n); }, kOne, 1,
       "from last_number"},
      {"German thousands", "math", [](size_t n) { return "Antwort " + repeat("1.250 ", n) + "1"; },
       kOne, 1, "from last_number"},
      {"unclosed $", "math", [](size_t n) { return repeat("$1 ", n); }, kOne, 1, "last_number"},
      {"unclosed \\(", "math", [](size_t n) { return repeat("\\(1 ", n); }, kOne, 1, "last_number"},
      {"unclosed \\[", "math", [](size_t n) { return repeat("\\[1 ", n); }, kOne, 1, "last_number"},
      {"unclosed environments", "math", [](size_t n) { return repeat("\\begin{align}1 ", n); },
       kOne, 0, "no answer found"},
      {"closed math", "math", [](size_t n) { return repeat("$1$ ", n); }, kOne, 1, "from latex"},
      {"math joined by or", "math", [](size_t n) { return repeat("$1$ or ", n); }, kOne, 0,
       "answer too long"},
      {"math with qualifiers", "math",
       [](size_t n) { return repeat("$1$ where ", n) + "$1$, $1$ $1$"; }, kOne, 1, "from latex"},
      {"boxes", "math", [](size_t n) { return repeat("\\boxed{1} ", n); }, kOne, 1, "from boxed"},
      {"distinct boxes", "math",
       [](size_t n) {
         std::string s;
         for (int i = 0; s.size() < n; i++) s += "\\boxed{" + std::to_string(i) + "} ";
         return s;
       },
       kOne, 0, "answer too long"},
      {"unclosed boxes", "math", [](size_t n) { return repeat("\\boxed{", n); }, kOne, 0,
       "no answer found"},
      {"unclosed boxes after the answer is", "math",
       [](size_t n) { return "The answer is " + repeat("\\boxed{", n); }, kOne, 0,
       "answer too long"},
      {"nested boxes", "math",
       [](size_t n) {
         std::string s;
         for (size_t k = 0; k < n / 16; k++) s += "\\boxed{";
         return s + "1" + std::string(n / 16, '}');
       },
       kOne, 0, "answer too long"},
      {"unclosed commands", "math", [](size_t n) { return repeat("\\a{", n); }, kOne, 0,
       "no answer found"},
      {"nested fractions", "math",
       [](size_t n) { return "$" + repeat("\\frac{", n / 2) + "1" + repeat("}{2}", n / 2) + "$"; },
       kOne, 0, "answer too long"},
      {"braces", "math",
       [](size_t n) { return std::string(n / 2, '{') + "1" + std::string(n / 2, '}'); }, kOne, 0,
       "no answer found"},
      {"brackets", "math",
       [](size_t n) { return std::string(n / 2, '(') + "1" + std::string(n / 2, ')'); }, kOne, 0,
       "no answer found"},
      {"fences", "math", [](size_t n) { return repeat("```\n1\n", n); }, kOne, 1, "last_number"},
      {"or", "math", [](size_t n) { return repeat("1 or ", n); }, kOne, 0, "answer too long"},
      {"ranges with dashes", "math",
       [](size_t n) {
         std::string s = "0";
         for (int i = 1; s.size() < n; i++) s += "-" + std::to_string(i % 10);
         return s;
       },
       kOne, 0, "answer too long"},
      {"en dashes", "math", [](size_t n) { return repeat("1\xe2\x80\x93", n); }, kOne, 1,
       "last_number"},
      {"dashes as minus signs",
       "math",
       [](size_t n) { return repeat("x = \xe2\x80\x93 5 ", n); },
       {{"answer", "-5"}},
       1,
       "last_number"},
      {"between", "math", [](size_t n) { return repeat("between 1 and 2 ", n); }, kOne, 0,
       "different structure"},
      {"hedges", "math", [](size_t n) { return repeat("1 maybe ", n); }, kOne, 0, "not equivalent"},
      {"where", "math", [](size_t n) { return repeat("1 when x = ", n); }, kOne, 1, "last_number"},
      {"restatements", "math", [](size_t n) { return "1 x" + repeat(" (2)", n); }, kOne, 1,
       "last_number"},
      {"equations",
       "math",
       [](size_t n) { return repeat("x = 1, ", n); },
       {{"answer", "(1, 2)"}},
       0,
       "different structure"},
      {"hmm", "math", [](size_t n) { return repeat("hmm 1 ", n); }, kOne, 1, "last_number"},
      {"answer markers", "math", [](size_t n) { return repeat("The answer is 1. ", n); }, kOne, 1,
       "from answer_is"},
      {"bold", "math", [](size_t n) { return repeat("**", n) + " The answer is 1."; }, kOne, 1,
       "from answer_is"},
      {"unclosed remarks", "math", [](size_t n) { return "The answer is 1" + repeat(" (or 1", n); },
       kOne, 0, "answer too long"},
      // Round 10: what a reader does not see, repeated answers, parts.
      {"unclosed comments", "math", [](size_t n) { return repeat("<!-- 1 ", n); }, kOne, 0,
       "no answer found"},
      {"struck text", "math", [](size_t n) { return repeat("~~1 ", n) + "\n1"; }, kOne, 1,
       "last_number"},
      {"unpaired tildes", "math", [](size_t n) { return repeat("~~1\n", n); }, kOne, 1,
       "last_number"},
      {"nested answer tags", "math",
       [](size_t n) { return repeat("<answer>", n / 2) + "1" + repeat("</answer>", n / 2); }, kOne,
       1, "from answer_tag"},
      {"answer tags", "math", [](size_t n) { return repeat("<answer>1</answer>", n); }, kOne, 1,
       "from answer_tag"},
      {"hash marks", "math", [](size_t n) { return repeat("#### ", n); }, kOne, 0,
       "answer too long"},
      {"hash lines", "math", [](size_t n) { return repeat("#### 1\n", n); }, kOne, 1, "from gsm8k"},
      {"white text", "math", [](size_t n) { return repeat("\\color{white}", n) + " 1"; }, kOne, 0,
       "no answer found"},
      {"phantoms", "math", [](size_t n) { return repeat("\\phantom{", n); }, kOne, 0,
       "no answer found"},
      {"comments in math", "math", [](size_t n) { return "$" + repeat("% 1\n", n) + "$ 1"; }, kOne,
       1, "last_number"},
      {"parts", "math", [](size_t n) { return repeat("(a) 1 ", n); }, kOne, 1, "last_number"},
      {"footnotes", "math", [](size_t n) { return repeat("[^1]", n) + " 1"; }, kOne, 1,
       "last_number"},
      {"macros", "math", [](size_t n) { return repeat("\\def\\x", n); }, kOne, 0,
       "no answer found"},
      {"hidden elements", "math",
       [](size_t n) { return repeat("<span style=\"display:none\">1", n); }, kOne, 0,
       "no answer found"},
      {"links", "math", [](size_t n) { return repeat("[1](http://a", n) + " 1"; }, kOne, 1,
       "last_number"},
      {"stated answers", "math",
       [](size_t n) { return repeat("The answer is 1. The answer is 2. ", n); }, kOne, 0,
       "different structure"},
      {"tags", "math", [](size_t n) { return repeat("<b x=1>1 ", n); }, kOne, 1, "last_number"},
      {"hidden tags", "math", [](size_t n) { return repeat("<span hidden>1</span> ", n); }, kOne, 0,
       "no answer found"},
      {"link definitions", "math", [](size_t n) { return repeat("[a]: 1\n", n) + "1"; }, kOne, 1,
       "last_number"},
      {"comment environments", "math",
       [](size_t n) { return repeat("\\begin{comment}1\\end{comment}", n) + " 1"; }, kOne, 1,
       "last_number"},
      {"white in rgb", "math",
       [](size_t n) { return repeat("$\\color[rgb]{1,1,1}{1}$ ", n) + " 1"; }, kOne, 1,
       "last_number"},
      {"boxes in question", "math", [](size_t n) { return repeat("\\boxed{1}? ", n); }, kOne, 0,
       "not equivalent"},
      {"echoed problems", "math",
       [](size_t n) { return repeat("Problem: 1\nSolution: ", n) + "1"; }, kOne, 1, "last_number"},
      {"echoed dialogue", "math", [](size_t n) { return repeat("User: 1\nAssistant: ", n) + "1"; },
       kOne, 1, "last_number"},
      {"derivation steps", "math", [](size_t n) { return repeat("$x^2 = 1$ and ", n) + "$x = 1$"; },
       kOne, 1, "from latex"},
      {"list items", "math", [](size_t n) { return repeat("1. $x = 2$\n", n) + "2. $x = 1$"; },
       kOne, 0, "answer too long"},
      {"answer sentences", "math", [](size_t n) { return repeat("Answer: She has 1 apple. ", n); },
       kOne, 1, "from answer_is"},
      {"restatements as", "math",
       [](size_t n) { return repeat("$\\boxed{1}$, which could also be written as ", n) + "$1$"; },
       kOne, 1, "from boxed"},
      {"the same", "math", [](size_t n) { return repeat("The answer is the same. ", n) + "1"; },
       kOne, 1, "last_number"},
      {"clauses after a number", "math",
       [](size_t n) { return repeat("1, which is 5% so ", n) + "1"; }, kOne, 1, "last_number"},
      {"restatements after a number", "math",
       [](size_t n) { return repeat("1, i.e., 1 so ", n) + "1"; }, kOne, 1, "last_number"},
      {"huge integer",
       "math",
       [](size_t n) { return std::string(n, '9'); },
       {{"answer", std::string(5000, '9')}},
       0,
       "answer too long"},
      {"countdown operators", "countdown",
       [](size_t n) { return "<answer>" + repeat("1+", n) + "1</answer>"; }, countdown, 0,
       "expression too long"},
      {"countdown brackets", "countdown",
       [](size_t n) {
         return "<answer>" + std::string(n / 2, '(') + "1" + std::string(n / 2, ')') + "</answer>";
       },
       countdown, 0, "expression too long"},
      {"countdown unclosed box", "countdown", [](size_t n) { return repeat("\\boxed{", n); },
       countdown, 0, "no expression found"},
      {"format long think",
       "format",
       [](size_t n) { return "<think>" + repeat("a", n) + "</think><answer>1</answer>"; },
       {},
       1,
       "well formed"},
      {"format repeated answers",
       "format",
       [](size_t n) { return "<think>a</think>" + repeat("<answer>1</answer>", n); },
       {},
       0,
       "no answer after </think>"},
  };
}

}  // namespace

TEST_CASE("checkers return the verdict on pathological completions of a few hundred KB") {
  for (const Shape& s : shapes()) {
    std::string name = s.name;
    CAPTURE(name);
    std::string completion = s.completion(kSize);
    aha::RewardResult r = aha::run_checker(s.checker, completion, s.reference, {});
    CHECK(r.score == s.score);
    CHECK_MESSAGE(r.reason.find(s.reason) != std::string::npos, r.reason);
  }
}

TEST_CASE("an extracted answer over 4096 bytes is refused, never compared by its prefix") {
  // Normalising reads 4096 bytes: 5000 nines and 4097 nines would look the same.
  aha::RewardResult r = aha::check_math("\\boxed{" + std::string(5000, '9') + "}",
                                        {{"answer", std::string(4097, '9')}}, {});
  CHECK(r.score == 0.0);
  CHECK(r.reason.find("answer too long (5000 bytes") != std::string::npos);
  r = aha::check_math("\\boxed{" + std::string(4000, '9') + "}",
                      {{"answer", std::string(4000, '9')}}, {});
  CHECK(r.score == 1.0);
}
