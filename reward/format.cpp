// Format checker: the R1 shape "<think>reasoning</think> answer", the answer in
// <answer>...</answer> or \boxed{}. Patterns are RE2 and configurable per task; partial credit is
// optional.
#include <re2/re2.h>

#include <memory>
#include <stdexcept>

#include "reward/reward.h"

namespace aha {

namespace {

// RE2 objects are thread-safe for matching; compile once per distinct pattern per call (cheap at
// these sizes) so the checker keeps no state.
std::unique_ptr<RE2> compile(const std::string& pattern, const char* option) {
  RE2::Options o;
  o.set_dot_nl(true);
  o.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, o);
  if (!re->ok())
    throw std::invalid_argument(std::string("format: option '") + option +
                                "' is not a valid RE2 pattern: " + re->error());
  return re;
}

size_t count(const std::string& s, const std::string& t) {
  size_t n = 0;
  for (size_t p = s.find(t); p != std::string::npos; p = s.find(t, p + t.size())) n++;
  return n;
}

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

}  // namespace

std::optional<std::string> answer_part(const std::string& c) {
  const size_t open = c.rfind("<think>"), close = c.rfind("</think>");
  if (open != std::string::npos && (close == std::string::npos || close < open)) {
    if (close == std::string::npos) return std::nullopt;
    std::string between = c.substr(close + 8, open - close - 8);
    if (blank(between)) return std::nullopt;
    return between;
  }
  if (close == std::string::npos) return c;
  std::string after = c.substr(close + 8);
  if (!blank(after)) return after;
  // Nothing after </think>: all of it is read, without the tags ("is 42.</think>" is not 42).
  std::string all = c;
  for (const char* tag : {"</think>", "<think>"})
    for (size_t at = all.find(tag); at != std::string::npos; at = all.find(tag, at))
      all.replace(at, std::char_traits<char>::length(tag), "\n");
  return all;
}

RewardResult check_format(const std::string& completion, const nlohmann::json& /*reference*/,
                          const CheckerOptions& options) {
  // The reasoning block must open the completion (optionally after whitespace), be closed, and hold
  // some text; the answer part is searched after it.
  // "Some text" is a letter or digit of any script: "<think>.</think>" or a zero-width space is
  // no reasoning, and "\boxed{}" no answer.
  std::string think_pat =
      options.get_string("think_pattern", R"(^\s*<think>(.*?[\pL\pN].*?)</think>)");
  std::string answer_pat = options.get_string(
      "answer_pattern", R"(^\s*(<answer>.*?\S.*?</answer>|.*\\boxed\{\s*[^\s}].*\}.*?)\s*$)");
  bool partial = options.get_bool("partial_credit", false);
  bool single = options.get_bool("single_think", true);
  auto think_re = compile(think_pat, "think_pattern");
  auto answer_re = compile(answer_pat, "answer_pattern");

  RewardResult r;
  re2::StringPiece in(completion);
  re2::StringPiece whole;
  bool think_ok = think_re->Match(in, 0, in.size(), RE2::UNANCHORED, &whole, 1);
  size_t think_end = think_ok ? static_cast<size_t>(whole.data() - in.data()) + whole.size() : 0;
  if (think_ok && single &&
      (count(completion, "<think>") != 1 || count(completion, "</think>") != 1))
    think_ok = false;
  std::string rest = think_ok ? completion.substr(think_end) : completion;
  if (!think_ok) {
    size_t close = completion.rfind("</think>");
    if (close != std::string::npos) rest = completion.substr(close + 8);
  }
  bool answer_ok = RE2::PartialMatch(rest, *answer_re);
  if (answer_ok && count(rest, "<answer>") > 1) answer_ok = false;
  r.components = {{"think", think_ok ? 1.0 : 0.0}, {"answer", answer_ok ? 1.0 : 0.0}};
  if (partial)
    r.score = 0.5 * (think_ok ? 1.0 : 0.0) + 0.5 * (answer_ok ? 1.0 : 0.0);
  else
    r.score = think_ok && answer_ok ? 1.0 : 0.0;
  r.extracted = rest.size() > 200 ? rest.substr(0, 200) : rest;
  if (think_ok && answer_ok)
    r.reason = "well formed";
  else if (!think_ok)
    r.reason =
        answer_ok ? "no <think>...</think> block at the start" : "no think block and no answer";
  else
    r.reason = "no answer after </think>";
  return r;
}

}  // namespace aha
