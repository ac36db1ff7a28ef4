// Math checker: extraction, LaTeX normalisation, structured / exact / symbolic comparison.
#include "reward/math.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <unordered_set>

#include "reward/math_expr.h"
#include "reward/math_lang.h"
#include "reward/math_symbolic.h"
#include "reward/reward.h"

namespace aha {

namespace {

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}
bool is_alpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}
bool is_digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) b++;
  while (e > b && is_space(s[e - 1])) e--;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  size_t pos = s.find(from);
  if (pos == std::string::npos) return;
  // Built anew: replacing in place moves the whole tail once per occurrence (quadratic).
  std::string out;
  out.reserve(s.size());
  size_t done = 0;
  for (; pos != std::string::npos; pos = s.find(from, done)) {
    out.append(s, done, pos - done);
    out += to;
    done = pos + from.size();
  }
  out.append(s, done, std::string::npos);
  s = std::move(out);
}

// The first place at or after pos where the command \name stands whole (\le is not the start of
// \left); npos when none.
size_t find_command(const std::string& s, const std::string& name, size_t pos) {
  while ((pos = s.find(name, pos)) != std::string::npos) {
    size_t after = pos + name.size();
    if (after >= s.size() || !is_alpha(s[after])) return pos;
    pos = after;
  }
  return pos;
}

// Replaces the command \name only where it is whole.
void replace_command(std::string& s, const std::string& name, const std::string& to) {
  size_t pos = 0;
  while ((pos = find_command(s, name, pos)) != std::string::npos) {
    s.replace(pos, name.size(), to);
    pos += to.size();
  }
}

// Index just past the brace group starting at open (s[open] == '{'); npos when unbalanced.
size_t match_brace(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); i++) {
    if (s[i] == '\\' && i + 1 < s.size()) {  // \{ and \} do not count
      i++;
      continue;
    }
    if (s[i] == '{') depth++;
    if (s[i] == '}' && --depth == 0) return i + 1;
  }
  return std::string::npos;
}

// match_brace for many groups of one text: calling it per group rescans an unbalanced tail
// ("\\boxed{\\boxed{...") every time, quadratic; this answers each in O(log n).
class Braces {
 public:
  explicit Braces(const std::string& s) : depth_(s.size() + 1, 0) {
    int d = 0;
    std::vector<std::pair<int, size_t>> closes;  // (depth after it, position) of each '}'
    for (size_t i = 0; i < s.size(); i++) {
      depth_[i] = d;
      if (s[i] == '\\' && i + 1 < s.size()) {  // the same escapes as match_brace
        depth_[++i] = d;
        escaped_.push_back(i);
        continue;
      }
      if (s[i] == '{') d++;
      if (s[i] == '}') closes.emplace_back(--d, i);
    }
    depth_[s.size()] = d;
    std::sort(closes.begin(), closes.end());
    for (const auto& [dep, at] : closes) {
      if (by_depth_.empty() || by_depth_.back().first != dep) by_depth_.push_back({dep, {}});
      by_depth_.back().second.push_back(at);
    }
  }
  // match_brace(s, open) for the '{' at open: the first '}' after it where the depth falls below
  // the depth just inside it (an escaped "\\{" opens a group there too, as in match_brace).
  size_t close(size_t open) const {
    bool escaped = std::binary_search(escaped_.begin(), escaped_.end(), open);
    int inside = depth_[open] + (escaped ? 0 : 1);
    auto level = std::lower_bound(
        by_depth_.begin(), by_depth_.end(), inside - 1,
        [](const std::pair<int, std::vector<size_t>>& l, int d) { return l.first < d; });
    if (level == by_depth_.end() || level->first != inside - 1) return std::string::npos;
    auto at = std::upper_bound(level->second.begin(), level->second.end(), open);
    return at == level->second.end() ? std::string::npos : *at + 1;
  }

 private:
  std::vector<int> depth_;       // depth_[i]: unescaped '{' minus '}' before position i
  std::vector<size_t> escaped_;  // positions taken by a backslash before them, ascending
  std::vector<std::pair<int, std::vector<size_t>>> by_depth_;  // '}' positions by depth after
};

// Look-behinds and look-aheads around one candidate (a number, a math segment, a bracket) read at
// most this many bytes, so that a completion of many candidates costs O(n * kLook), not O(n^2).
// Longer than any phrase they look for; a match that would need more is not found.
constexpr size_t kLook = 256;

// An answer longer than this is compared by no rule (normalising would cut it): "wrong (answer too
// long ...)". Far beyond any real answer; a whole completion of prose may be this long.
constexpr size_t kMaxAnswer = 4096;

// re searched in text[from, to) with ^, $ and \b judged against all of text (a window never makes
// a false start, end or word boundary); the first two capture groups go to c1 and c2.
bool search(re2::StringPiece text, size_t from, size_t to, const RE2& re, std::string* c1 = nullptr,
            std::string* c2 = nullptr) {
  re2::StringPiece sub[3];
  int n = std::min(1 + re.NumberOfCapturingGroups(), c2 ? 3 : c1 ? 2 : 1);
  if (!re.Match(text, from, to, RE2::UNANCHORED, sub, n)) return false;
  if (c1) *c1 = n > 1 ? std::string(sub[1]) : "";
  if (c2) *c2 = n > 2 ? std::string(sub[2]) : "";
  return true;
}
// A look-behind: re (ending in $) in t[0, pos), read in its last kLook bytes.
bool match_before(re2::StringPiece t, size_t pos, const RE2& re, std::string* c1 = nullptr,
                  std::string* c2 = nullptr) {
  return search(t.substr(0, pos), pos > kLook ? pos - kLook : 0, pos, re, c1, c2);
}
// A look-ahead: re (starting with ^) in t[pos, end), read in its first kLook bytes.
bool match_after(re2::StringPiece t, size_t pos, const RE2& re, std::string* c1 = nullptr) {
  re2::StringPiece rest = t.substr(pos);
  return search(rest, 0, std::min(rest.size(), kLook), re, c1);
}

// ---------------------------------------------------------------- extraction

// Contents of every \boxed{...} / \fbox{...} (nested braces), or "\boxed 5", in order.
std::vector<std::string> all_boxed(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0, b = s.find("\\boxed"), f = s.find("\\fbox");
  for (;;) {
    // Each command is searched for again only once passed: a text with many \boxed and no \fbox
    // would otherwise be rescanned to its end for \fbox at every box.
    if (b < pos) b = s.find("\\boxed", pos);
    if (f < pos) f = s.find("\\fbox", pos);
    size_t p = std::min(b, f);
    if (p == std::string::npos) break;
    size_t i = p + (p == b ? 6 : 5);
    pos = i;
    if (i < s.size() && s[i] == '{') {
      size_t end = match_brace(s, i);
      if (end == std::string::npos) break;
      out.push_back(s.substr(i + 1, end - i - 2));
      pos = end;
    } else if (i < s.size() && s[i] == ' ') {
      size_t e = i + 1;
      while (e < s.size() && s[e] != '$' && !is_space(s[e])) e++;
      if (e > i + 1) out.push_back(s.substr(i + 1, e - i - 1));
      pos = e;
    }
  }
  return out;
}

std::vector<std::string> split_top(const std::string& s, const std::string& sep);

// Several answers become one list "a, b"; repeats of the same answer (\frac12 and 0.5) count once,
// also inside a list that restates them ("\boxed{2} and \boxed{3}", then "\boxed{2, 3}").
std::string join_answers(const std::vector<std::string>& answers) {
  std::vector<std::string> kept;
  std::unordered_set<std::string> seen;  // a linear search of kept per answer is quadratic
  std::string out;
  MathOptions same;
  std::vector<std::string> items;
  for (const std::string& a : answers) {
    static const RE2 thousands_re(R"(\d,\d)");  // "1,000" is one number
    if (answers.size() < 2 || answers.size() > 16 || a.size() > kLook ||
        RE2::PartialMatch(a, thousands_re)) {
      items.push_back(a);
      continue;
    }
    for (const std::string& e : split_top(a, ",")) items.push_back(e);
  }
  for (const std::string& a : items) {
    std::string n = trim(a);
    if (n.empty()) continue;
    bool repeat = false;
    for (size_t k = 0; k < kept.size() && !repeat && items.size() <= 16; k++)
      repeat = math_equal(kept[k], n, same).equal;
    if (repeat || !seen.insert(n).second) continue;
    kept.push_back(n);
    out += (out.empty() ? "" : ", ") + n;
  }
  return out;
}

struct Segment {
  size_t begin, end;  // the whole segment with delimiters
  std::string body;
};

// Math segments: $$...$$, \[...\], \(...\), $...$ (an opening $ has no space after it and a closing
// $ no space before it nor a digit after it, so "$5 and $6" is money, not math).
std::vector<Segment> math_segments(const std::string& s) {
  std::vector<Segment> out;
  // The last search for each closing delimiter (searched from, found at): an opening one that
  // never closes ("$5 and $6 ...", "\\( \\( ...") would otherwise rescan the rest of the text
  // each time. A close found from `from` is the first one at or after any later start up to it.
  std::map<std::string, std::pair<size_t, size_t>> last_close;
  auto find_close = [&](const std::string& close, size_t from, auto&& valid) {
    auto it = last_close.find(close);
    if (it != last_close.end() && it->second.first <= from && it->second.second >= from)
      return it->second.second;
    size_t e = from;
    while ((e = s.find(close, e)) != std::string::npos && !valid(e)) e++;
    last_close[close] = {from, e};
    return e;
  };
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 2, "\\$") == 0) {
      i += 2;
      continue;
    }
    // A display environment outside dollars: "\begin{align*} ... \end{align*}" is one segment,
    // environment and all (its last row answers).
    static const RE2 env_re(
        R"(^\\begin\{(align\*?|equation\*?|gather\*?|multline\*?|eqnarray\*?|displaymath)\})");
    std::string env;
    if (s.compare(i, 7, "\\begin{") == 0 &&
        RE2::PartialMatch(re2::StringPiece(s).substr(i), env_re, &env)) {
      std::string end_tag = "\\end{" + env + "}";
      size_t e = find_close(end_tag, i, [](size_t) { return true; });
      if (e != std::string::npos) {
        out.push_back({i, e + end_tag.size(), s.substr(i, e + end_tag.size() - i)});
        i = e + end_tag.size();
        continue;
      }
    }
    const char* close = nullptr;
    size_t open_len = 0;
    if (s.compare(i, 2, "$$") == 0) {
      close = "$$";
      open_len = 2;
    } else if (s.compare(i, 2, "\\[") == 0) {
      close = "\\]";
      open_len = 2;
    } else if (s.compare(i, 2, "\\(") == 0) {
      close = "\\)";
      open_len = 2;
    } else if (s[i] == '$') {
      close = "$";
      open_len = 1;
    }
    if (!close) {
      i++;
      continue;
    }
    size_t b = i + open_len;
    if (open_len == 1 && (b >= s.size() || is_space(s[b]))) {
      i++;
      continue;
    }
    // A closing $ has no backslash or space before it and no digit after it.
    size_t e = find_close(close, b, [&](size_t at) {
      return open_len != 1 || (!(at > 0 && (s[at - 1] == '\\' || is_space(s[at - 1]))) &&
                               !(at + 1 < s.size() && is_digit(s[at + 1])));
    });
    bool found = e != std::string::npos;
    if (!found || e == b) {
      i += open_len;
      continue;
    }
    out.push_back({i, e + std::string(close).size(), s.substr(b, e - b)});
    i = e + std::string(close).size();
  }
  return out;
}

std::optional<std::string> last_number(const std::string& s);

// The last math segment, with the ones before it joined by ",", "and" or "or" only; nothing when a
// number standing on its own follows it (then that number is the last thing said).
// Words right before or after an answer that make it a bound or an estimate ("at least 5", "81 or
// more"): kept with the answer so that it is never taken for the bare number.
const RE2& qualifier_before_re() {
  static const RE2 re(
      R"((?i)(?:^|[^A-Za-z])((?:at least|at most|more than|less than|fewer than|greater than|)"
      R"(no more than|no less than|approximately|about|around|roughly|nearly|almost|not|maybe|)"
      R"(perhaps|possibly|probably|likely|presumably)|(?:maybe|perhaps|possibly|probably|likely|)"
      R"(presumably),)\s*$)");
  return re;
}
// Between two values, words that leave the answer open between them: "$12$, but I'm not sure; it
// might be $13$" answers both, never the last; never across a conclusion ("so", "the answer is").
// "which could also be written as": the value after it restates the one before.
const RE2& written_as_re() {
  static const RE2 re(R"((?i)\b(?:could|can|may|might)\s+(?:also\s+|equivalently\s+)?be\s+)"
                      R"((?:written|expressed|rewritten|stated|represented)\s+as\s*$)");
  return re;
}
bool hedged_between(re2::StringPiece between) {
  static const RE2 hedge_re(
      R"((?i)\b(?:not sure|unsure|not certain|uncertain|might (?:also )?be|could (?:also )?be|)"
      R"(may (?:also )?be|or maybe|or perhaps|or possibly|alternatively)\b)");
  static const RE2 concludes_re(
      R"((?i)\b(?:so|therefore|thus|hence|the answer|final|actually|correct|wait)\b)");
  if (RE2::PartialMatch(between, written_as_re())) return false;  // a restatement, never a hedge
  return between.size() <= 80 && between.find("\n\n") == re2::StringPiece::npos &&
         RE2::PartialMatch(between, hedge_re) && !RE2::PartialMatch(between, concludes_re);
}
// A bracket after an answer that restates, hedges or corrects it ("(or 13)", "(maybe 13)", "(i.e.
// 13)", "(I mean 13)"): never a remark to drop.
const RE2& open_bracket_re() {
  static const RE2 re(
      R"((?i)(?:^[\s(]*(?:i\.e\.|(?:or|that is|and|also|plus|either|else|no)\b)|)"
      R"(\b(?:maybe|perhaps|possibly|probably|could|might|may|not sure|unsure|i mean|sorry|)"
      R"(actually|rather|correction|wrong|mistake|instead|wait|oops|alternatively|although|unless|)"
      R"(otherwise|guess|give or take)\b))");
  return re;
}
bool open_bracket(const std::string& content) {
  return RE2::PartialMatch(content, open_bracket_re());
}
const RE2& qualifier_after_re() {
  static const RE2 re(
      R"((?i)^\s*(?:[A-Za-z]+\s+){0,3}((?:or|and) (?:more|less|fewer|greater|above|below|higher|)"
      R"(lower|up|so)|at most|at least)\b)");
  return re;
}
// A hedge closing an answer's clause: "$\frac12$, probably.", "12 maybe", "12, I think." (never
// "12, possibly surprising").
const RE2& hedge_after_re() {
  static const RE2 re(
      R"((?i)^\s*,?\s*\(?(maybe|perhaps|possibly|probably|likely|presumably|give or take|more or less|)"
      R"(I (?:think|guess|believe))\s*)"
      R"((?:[.,;!)]|$))");
  return re;
}

// The last line of an aligned derivation ("\begin{aligned} 2x &= 10 \\ x &= 5 \end{aligned}" gives
// "x = 5"); other math unchanged.
std::string last_aligned_row(const std::string& body) {
  static const RE2 env_re(
      R"((?s)^\s*\\begin\{(aligned|align\*?|gathered|gather\*?|split|eqnarray\*?|equation\*?|)"
      R"(multline\*?|displaymath)\}(.*)\\end\{(\w+\*?)\}\s*$)");
  std::string kind, inner, kind2;
  if (!RE2::FullMatch(body, env_re, &kind, &inner, &kind2) || kind != kind2) return body;
  std::string last;
  size_t b = 0;
  for (;;) {
    size_t e = inner.find("\\\\", b);
    std::string row = trim(inner.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (!row.empty()) last = row;
    if (e == std::string::npos) break;
    b = e + 2;
  }
  replace_all(last, "&", "");
  return last;
}

bool chain_head(const std::string& lhs);
bool is_simple_variable(const std::string& s);

// The left side of an equation, its first top-level "=" (never "\leq", "<=", ">="); "" if none.
std::string equation_lhs(const std::string& eq) {
  int depth = 0;
  for (size_t i = 0; i < eq.size() && i < kLook; i++) {
    char c = eq[i];
    if (c == '{' || c == '(' || c == '[') depth++;
    if (c == '}' || c == ')' || c == ']') depth--;
    if (c == '=' && depth == 0 &&
        (i == 0 || std::string("<>!:").find(eq[i - 1]) == std::string::npos))
      return trim(eq.substr(0, i));
  }
  return "";
}

// A step of the derivation before the solved variable v, never a second answer: "$x^2 = 144$ and
// $x = 12$", "$n(n+1) = 156$ and $n = 12$", "$a^2 + b^2 = 25$, and $c = 5$" (the step's left side
// is an expression, or holds v; "$x = 2$ and $y = 3$" are two values).
bool derivation_step(const std::string& step, const std::string& v) {
  std::string lhs = equation_lhs(step);
  if (v.empty() || lhs.empty() || is_simple_variable(lhs)) return false;
  if (!chain_head(lhs)) return true;
  for (size_t i = lhs.find(v); v.size() == 1 && i != std::string::npos; i = lhs.find(v, i + 1))
    if ((i == 0 || !(is_alpha(lhs[i - 1]) || lhs[i - 1] == '\\')) &&
        (i + 1 == lhs.size() || !is_alpha(lhs[i + 1])))
      return true;
  return false;
}

std::optional<std::string> last_math(const std::string& s) {
  std::vector<Segment> segs = math_segments(s);
  if (segs.empty()) return std::nullopt;
  if (last_number(s.substr(segs.back().end))) return std::nullopt;
  // Math after "where", "at", "for each", "since" or an approximation in parentheses qualifies the
  // answer before it in the same sentence: "$42$ for each $n$", "$\frac34$, where $a = 1$".
  static const RE2 qualifier_re(
      R"((?i)(?:^|[^A-Za-z])(?:where|at|for|for each|for all|when|with|since|because|if|)"
      R"(assuming|given|attained at|achieved at|obtained at|occurring at|taking)\s*\(?\s*$)");
  static const RE2 approx_re(R"(^\s*\(?\s*\\approx)");
  // "$r = 3$ when $n$ is divided by $7$": the math after a qualifier word qualifies the math before
  // it up to the end of the clause, over a line break too ("\] attained when $x = 1$").
  static const RE2 joiner_re(R"((?i)(?:^|[^A-Za-z])(?:and|or)(?:[^A-Za-z]|$))");
  // The last segment whose gap before it ends a clause: a qualifier reaches the end only after it
  // (found once, not once per qualifier).
  size_t last_break = 0;
  for (size_t j = 1; j < segs.size(); j++) {
    std::string_view rest(s.data() + segs[j - 1].end, segs[j].begin - segs[j - 1].end);
    if (rest.find_first_of(".;\n,") != std::string_view::npos || RE2::PartialMatch(rest, joiner_re))
      last_break = j;
  }
  // Whether a ')' closes something at or after position at.
  size_t last_paren = s.rfind(')');
  auto closes_after = [&](size_t at) {
    return last_paren != std::string::npos && last_paren >= at;
  };
  for (size_t k = 1; k + 1 < segs.size(); k++) {
    std::string between = s.substr(segs[k - 1].end, segs[k].begin - segs[k - 1].end);
    static const RE2 opens_qualifier_re(
        R"((?i)^\s*,?\s*(?:where|when|for each|for all|for|with|if|assuming|given|attained at|)"
        R"(achieved at|obtained at|occurring at)\s+(?:[a-z]+\s+){0,3}\(?\s*$)");
    if (!(RE2::PartialMatch(between, qualifier_re) ||
          RE2::FullMatch(between, opens_qualifier_re)) ||
        between.find_first_of(".;") != std::string::npos ||
        between.find("\n\n") != std::string::npos)
      continue;
    if (last_break <= k) {  // one clause from segment k to the end
      segs.resize(k);
      break;
    }
  }
  if (segs.size() >= 2 && hedged_between(s.substr(segs[segs.size() - 2].end,
                                                  segs.back().begin - segs[segs.size() - 2].end)))
    return trim(segs[segs.size() - 2].body) + ", " + trim(segs.back().body);
  while (segs.size() >= 2) {
    const Segment& a = segs[segs.size() - 2];
    const Segment& b = segs.back();
    std::string between = s.substr(a.end, b.begin - a.end);
    // "So $x = 12$, and indeed $3x = 36$", "$x = 12$ (and $x^2 = 144$ checks out)": a check of
    // the solved value after it, never the answer.
    static const RE2 check_re(
        R"((?i)\b(?:indeed|checks?|checking|verif(?:y|ies|ied|ication)|confirms?|satisfie[sd]|)"
        R"(holds|as expected|consistent)\b|\x{2713}|\x{2714}|\x{2705})");
    std::string solved = equation_lhs(a.body);
    if (between.size() <= 80 && is_simple_variable(solved) && derivation_step(b.body, solved) &&
        (RE2::PartialMatch(between, check_re) ||
         RE2::PartialMatch(s.substr(b.end, 40), check_re))) {
      segs.pop_back();
      continue;
    }
    // "$\frac52$ (or $2.5$)", "(i.e. $2.5$)": a restatement, kept with the answer (a different
    // value makes two answers).
    static const RE2 restate_re(R"(^\(\s*(?:or|i\.e\.,?|that is,?)$)");
    if (RE2::FullMatch(trim(between), restate_re) && closes_after(b.end))
      return trim(last_aligned_row(a.body)) + ", " + trim(b.body);
    // A remark in parentheses after the answer: "$x = 5$. (We assumed $x > 0$.)".
    size_t open = between.rfind('(');
    static const RE2 word_re(R"([A-Za-z]{2,})");
    if (open != std::string::npos && between.find(')', open) == std::string::npos &&
        RE2::PartialMatch(between.substr(open), word_re) && !open_bracket(between.substr(open)) &&
        closes_after(b.end)) {
      segs.pop_back();
      continue;
    }
    // A line break ends the sentence unless a qualifier in lower case goes on after it.
    static const RE2 lower_qualifier_re(R"(^\s*\n\s*[a-z])");
    if (between.find_first_of(".;") != std::string::npos ||
        between.find("\n\n") != std::string::npos ||
        (between.find('\n') != std::string::npos &&
         !RE2::PartialMatch(between, lower_qualifier_re)))
      break;
    if (!RE2::PartialMatch(between, qualifier_re) &&
        !(trim(between).empty() && RE2::PartialMatch(b.body, approx_re)) &&
        !(trim(between) == "(" && RE2::PartialMatch(b.body, approx_re)))
      break;
    segs.pop_back();
  }
  std::vector<std::string> parts{last_aligned_row(segs.back().body)};
  std::string solved = equation_lhs(parts.front());  // the variable the last equation solves for
  if (!is_simple_variable(solved)) solved.clear();
  for (size_t k = segs.size() - 1; k > 0; k--) {
    std::string between = lower(trim(s.substr(segs[k - 1].end, segs[k].begin - segs[k - 1].end)));
    if (derivation_step(segs[k - 1].body, solved)) break;
    // "since $x > 0$, $x = 12$": the math before the comma is the condition, not an answer.
    static const RE2 condition_re(
        R"((?i)(?:^|[^A-Za-z])(?:since|because|as|if|given|assuming|when|whenever)\s*$)");
    if (between == "," && match_before(s, segs[k - 1].begin, condition_re)) break;
    if (between == "," || between == "and" || between == ", and" || between == "or" ||
        between == ", or") {
      parts.push_back(segs[k - 1].body);  // reversed below (inserting at the front is quadratic)
    } else {
      break;
    }
  }
  std::reverse(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + trim(p);
  // "$\frac14$ (25%)": a number in brackets right after the math restates it (the one-value rule
  // decides; "(30%)" makes two answers).
  static const RE2 restated_number_re(R"(^\s*\(\s*(-?\d[\d.,/]*%?)\s*\))");
  std::string restated;
  if (parts.size() == 1 && match_after(s, segs.back().end, restated_number_re, &restated) &&
      restated.find_first_of("%./") != std::string::npos)  // "(1)" names an equation
    return out + ", " + restated;
  // "at least $5$", "$81$ or more": the qualifier outside the math goes with it.
  if (parts.size() == 1) {
    std::string q_before, q_after;
    match_before(s, segs.back().begin, qualifier_before_re(), &q_before);
    match_after(s, segs.back().end, qualifier_after_re(), &q_after);
    if (q_after.empty()) match_after(s, segs.back().end, hedge_after_re(), &q_after);
    if (!q_before.empty() || !q_after.empty()) out = trim(q_before + " " + out + " " + q_after);
    // "negative $\frac12$", "is minus $3$": the sign said in words goes with the math (never the
    // subtraction "$7$ minus $3$" or "non-negative $x$").
    static const RE2 sign_word_re(
        R"((?i)(?:^|(?:^|[^A-Za-z])(?:is|was|be|are|equals|becomes|get|gets|answer|of)\s*:?|[:=(])\s*)"
        R"((negative|minus)\s*$)");
    std::string sign_word;
    if (q_before.empty() && match_before(s, segs.back().begin, sign_word_re, &sign_word))
      out = lower(sign_word) + " " + out;
  }
  return out;
}

// From free text after "the answer is" or inside <answer>: boxes, then math, then the text up to
// the end of the sentence.
// A letter of another alphabet or script in a unit ("12 个", "12 руб.", "12 Äpfel", "12 دولار"); never
// a Greek letter or a symbol ("3π", "5°", "2√3").
constexpr const char* kScriptLetter =
    R"([\x{00C0}-\x{00D6}\x{00D8}-\x{00F6}\x{00F8}-\x{024F}\x{0400}-\x{04FF}\x{0600}-\x{06FF})"
    R"(\x{0900}-\x{097F}\x{3040}-\x{30FF}\x{4E00}-\x{9FFF}\x{AC00}-\x{D7AF}])";

// A letter of a script written without spaces between words (Chinese, Japanese, Korean).
constexpr const char* kCjkLetter = R"([\x{3040}-\x{30FF}\x{4E00}-\x{9FFF}\x{AC00}-\x{D7AF}])";

std::string mask_latex(const std::string& s);

// Words after an answer that take it back, leave it open or offer another: text with them is never
// read as a check of the answer.
const RE2& reopens_re() {
  static const RE2 re(
      R"((?i)\b(?:wait|actually|no|not|correction|instead|rather|oops|hmm|mistake|wrong|recompute|)"
      R"(recheck|but|maybe|perhaps|possibly|probably|likely|or|alternatively|could|might|unless|)"
      R"(guess|unsure|sure)\b|\?)");
  return re;
}

std::optional<std::string> answer_from_text(std::string rest) {
  rest = trim(rest);
  // A clause that explains the answer is not part of it: "12, since ...", "12 (after ...)",
  // "12 because $3 \cdot 4 = 12$" (found outside math and boxes, cut before either is read).
  std::string outside = rest;
  for (const Segment& seg : math_segments(rest))
    for (size_t k = seg.begin; k < seg.end; k++) outside[k] = '#';
  Braces braces(rest);
  size_t hidden = 0;  // outside[0, hidden) is blanked already (boxes nest)
  for (size_t b = rest.find("\\boxed{"); b != std::string::npos; b = rest.find("\\boxed{", b + 1)) {
    size_t e = braces.close(b + 6);
    for (size_t k = std::max(b, hidden); k < (e == std::string::npos ? rest.size() : e); k++)
      outside[k] = '#';
    hidden = std::max(hidden, e == std::string::npos ? rest.size() : e);
  }
  // Never at a correction or a second case ("but", "then", "if", "for part (b)"): the text stays
  // whole and is no single answer. A value ruled out after it ("42, not 41") or an emphasis ("41,
  // no more and no less") leaves the answer as it is; so does a remark after a dash ("5 – the
  // smallest prime").
  // A comma before a word of Chinese, Japanese or Korean starts a clause too ("12，验证了 2 次"),
  // and so does a bracket opening with a word of any script ("12（共检查了 3 次）").
  static const RE2 clause_re(
      std::string(
          R"((?i)(,?\s+(?:because|since|which|as|so|where|when|meaning|given|giving|making|thus|)"
          R"(hence|therefore|assuming|rounded|that is|attained|achieved|obtained|reached|)"
          R"(occurring)\b|,\s*)") +
      kCjkLetter + R"(|,?\s+i\.e\.|\s+\((?:(?:[A-Za-z]|)" + kScriptLetter + R"()(?:[A-Za-z']|)" +
      kScriptLetter + R"()|I\b|[#\d]+\s+(?:[A-Za-z]{3,}|)" + kScriptLetter + R"()|[#\d]+\s*)" +
      kCjkLetter +
      R"()|)"
      R"(,?\s+not\s+[-$#\d\\]|,\s+not\s+\(?[A-J]\)?(?:[\s.,;]|$)|,\s+no (?:more|less|fewer)\b|)"
      R"(\s+(?:\x{2013}|\x{2014}|--)\s*[A-Za-z]{3,}))");
  // A remark in brackets goes ("12 (I double-checked with 3 methods)", "(after ...)"); one that
  // restates, hedges or corrects the answer stays ("(or 13)", "(maybe 13)", "(i.e. $13$)").
  re2::StringPiece scan(outside), clause;
  while (RE2::FindAndConsume(&scan, clause_re, &clause)) {
    size_t at = static_cast<size_t>(clause.data() - outside.data());
    if (trim(std::string(clause)).rfind('(', 0) == 0) {
      // The bracket's first kLook bytes decide (one never closed would be read to the end).
      re2::StringPiece bracket = re2::StringPiece(outside).substr(outside.find('(', at));
      size_t close = bracket.substr(0, kLook).find(')');
      if (search(bracket, 0, std::min({close, kLook, bracket.size()}), open_bracket_re())) continue;
    }
    if (at > 0) rest = rest.substr(0, at);
    break;
  }
  // "The answer is $12$. Indeed, $12 \cdot 3 = 36$.": math closes the answer's sentence; what
  // follows checks it.
  {
    std::string masked = mask_latex(rest);
    static const RE2 end_re(R"(([.!]\s+[A-Z]))");
    re2::StringPiece m;
    if (RE2::PartialMatch(masked, end_re, &m)) {
      size_t cut = static_cast<size_t>(m.data() - masked.data());
      std::string head = rest.substr(0, cut), tail = rest.substr(cut);
      // Only a check: each math after it an equation, nothing retracted, hedged or offered.
      bool check = tail.size() <= kLook && !RE2::PartialMatch(tail, reopens_re());
      std::vector<Segment> later = math_segments(tail);
      for (const Segment& seg : later) check = check && seg.body.find('=') != std::string::npos;
      if (check && !later.empty() && (!all_boxed(head).empty() || !math_segments(head).empty()))
        rest = head;
    }
  }
  // A word of certainty before the answer: "definitely 12", "clearly $\frac12$".
  static const RE2 certain_re(
      R"((?i)^\s*(?:definitely|certainly|clearly|indeed|exactly|precisely|surely|obviously)\b[\s,:]*)");
  RE2::Replace(&rest, certain_re, "");
  // A choice letter leads its value: "(B) $\frac12$" answers with both, read as text.
  static const RE2 choice_first(R"(^[\s:*]*\([A-J]\)(?:\s|$))");
  bool choice = RE2::PartialMatch(rest, choice_first);
  std::vector<std::string> boxes = all_boxed(rest);
  if (!boxes.empty() && !choice) return join_answers(boxes);
  if (!choice)
    if (auto m = last_math(rest)) return m;
  rest = trim(rest);
  if (!rest.empty() && rest[0] == ':') rest = trim(rest.substr(1));
  // A sentence ends at ". " (a period followed by a space), never at a decimal point.
  size_t stop = rest.find(". ");
  while (stop != std::string::npos && stop >= 3 &&
         (rest.compare(stop - 3, 3, "i.e") == 0 || rest.compare(stop - 3, 3, "e.g") == 0))
    stop = rest.find(". ", stop + 1);  // "1/2 (i.e. 0.5)" is one sentence
  if (stop != std::string::npos) rest = rest.substr(0, stop);
  // Markdown emphasis around the answer: "**42**".
  auto strip_ends = [](std::string& t) {
    t = trim(t);
    // A check mark after the answer: "12 ✅", "12 ✓", "12 ✔".
    for (bool more = true; more;) {
      more = false;
      for (const char* mark : {"\xe2\x9c\x85", "\xe2\x9c\x93", "\xe2\x9c\x94", "\xe2\x98\x91"}) {
        std::string m(mark);
        if (t.size() >= m.size() && t.compare(t.size() - m.size(), m.size(), m) == 0) {
          t = trim(t.substr(0, t.size() - m.size()));
          more = true;
        }
      }
    }
    while (!t.empty() && (t.back() == '.' || t.back() == ' ' || t.back() == '*')) t.pop_back();
    size_t b = 0;
    while (b < t.size() && (t[b] == '*' || t[b] == ' ')) b++;
    t = t.substr(b);
  };
  strip_ends(rest);
  if (!rest.empty() && rest[0] == ':') rest = rest.substr(1);
  strip_ends(rest);
  // Markdown's other bold: "__12__".
  if (rest.size() > 4 && rest.compare(0, 2, "__") == 0 &&
      rest.compare(rest.size() - 2, 2, "__") == 0)
    rest = trim(rest.substr(2, rest.size() - 4));
  // The bracket that closes a remark around the answer: "(Answer: 12)".
  if (!rest.empty() && rest.back() == ')' && rest.find('(') == std::string::npos &&
      rest.find('[') == std::string::npos) {  // never the end of an interval "[1, 5)"
    rest.pop_back();
    strip_ends(rest);
  }
  // Quotes or code ticks around the answer: "\"18\"", "'18'", "`18`".
  for (const char* q : {"\"", "'", "`", "\xe2\x80\x9c"}) {
    std::string close = std::string(q) == "\xe2\x80\x9c" ? "\xe2\x80\x9d" : q;
    size_t n = std::string(q).size();
    if (rest.size() > n + close.size() && rest.compare(0, n, q) == 0 &&
        rest.compare(rest.size() - close.size(), close.size(), close) == 0 &&
        rest.find(close, n) == rest.size() - close.size()) {
      rest = rest.substr(n, rest.size() - n - close.size());
      strip_ends(rest);
      break;
    }
  }
  if (rest.empty()) return std::nullopt;
  return rest;
}

// at: where the answer words stand in the text with its "**" removed; look_back: "the answer is the
// same" reads the answer stated before it (once).
std::optional<std::string> answer_is(const std::string& s, size_t* at = nullptr,
                                     bool look_back = true);

// The answer in one tag's text.
std::optional<std::string> sentence_value(const std::string& a);

std::optional<std::string> tag_answer(const std::string& inner) {
  if (all_boxed(inner).empty() && math_segments(inner).empty()) {
    if (auto a = answer_is(inner)) return a;
  }
  std::optional<std::string> a = answer_from_text(inner);
  // "<answer>She has 12 apples.</answer>": the sentence's one number.
  if (a)
    if (auto n = sentence_value(*a)) return n;
  return a;
}

// Every <answer>...</answer>, a nested one on its own ("<answer>13<answer>12</answer></answer>" is
// 13 and 12); different ones are several answers, as different boxes are.
std::optional<std::string> answer_tag(const std::string& s) {
  if (s.find("</answer>") == std::string::npos) return std::nullopt;
  std::vector<std::string> found;
  std::vector<std::pair<size_t, std::string>> open;  // an open tag: where, its text outside inner
  size_t i = 0, o = s.find("<answer>"), c = s.find("</answer>");
  while (i < s.size() && found.size() < 64) {
    // Each marker is searched for again only once passed ("<answer>" x 10^5 then the closes).
    if (o != std::string::npos && o < i) o = s.find("<answer>", i);
    if (c < i) c = s.find("</answer>", i);
    if (c == std::string::npos) break;
    if (o != std::string::npos && o < c) {
      if (!open.empty()) open.back().second += s.substr(open.back().first, o - open.back().first);
      open.push_back({o + 8, ""});
      i = o + 8;
      continue;
    }
    if (!open.empty()) {
      std::string inner = open.back().second + s.substr(open.back().first, c - open.back().first);
      open.pop_back();
      if (!open.empty()) open.back().first = c + 9;
      if (auto a = tag_answer(inner)) found.push_back(*a);
    }
    i = c + 9;
  }
  if (found.empty()) return std::nullopt;
  return join_answers(found);
}

std::optional<std::string> gsm8k_hashes(const std::string& s) {
  size_t p = s.rfind("####");
  if (p == std::string::npos) return std::nullopt;
  size_t e = s.find('\n', p);
  std::string a = trim(s.substr(p + 4, e == std::string::npos ? std::string::npos : e - p - 4));
  if (a.empty()) return std::nullopt;
  return a;
}

// Every "#### N" line of a completion: different ones are several answers.
std::optional<std::string> gsm8k_all(const std::string& s) {
  std::vector<std::string> found;
  for (size_t p = s.find("####"); p != std::string::npos && found.size() < 64;) {
    size_t e = s.find('\n', p);
    std::string a = trim(s.substr(p + 4, e == std::string::npos ? std::string::npos : e - p - 4));
    size_t hashes = a.find_first_not_of('#');  // "######## 12" is one line, read once
    a = hashes == std::string::npos ? "" : trim(a.substr(hashes));
    if (!a.empty()) found.push_back(a);
    if (e == std::string::npos) break;
    p = s.find("####", e);
  }
  if (found.empty()) return std::nullopt;
  return join_answers(found);
}

bool concludes(const std::string& sentence);
std::string prose_thousands(const std::string& s);
bool reads_like_text(const std::string& s);

// A sentence after an answer label, "Answer: She has 12 apples left.", "Final answer: Tom is 12
// years old.": its one number; nullopt when it holds more than one, or a bound, a negation or a
// hedge ("She has at least 12 apples", "It is not 12").
std::optional<std::string> sentence_value(const std::string& a) {
  static const RE2 sentence_re(R"(^[A-Z][a-z']*\s+[A-Za-z])");
  if (a.size() > kLook || !RE2::PartialMatch(a, sentence_re) || !reads_like_text(a) ||
      !math_segments(a).empty())
    return std::nullopt;
  static const RE2 open_re(
      R"((?i)\b(?:not|no|nor|or|either|at least|at most|about|around|approximately|roughly|)"
      R"(nearly|almost|more than|less than|fewer than|over|under|up to|between|maybe|perhaps|)"
      R"(possibly|probably|likely|if|unless)\b)");
  // Words and signs that change the number ("negative 12", "12 squared", "12π", "1/6", "2x"):
  // the sentence is left as it is.
  static const RE2 changes_re(
      R"((?i)\b(?:negative|minus|below|above|dozens?|hundreds?|thousands?|millions?|billions?|)"
      R"(half|halves|quarters?|thirds?|times|squared|cubed|factorial|power|percent)\b|)"
      R"([0-9][A-Za-z]|[A-Za-z][0-9]|[^A-Za-z0-9\s,.'%$\\!\x{2212}-]|[0-9]\.[0-9]+\.)");
  if (RE2::PartialMatch(a, open_re) || RE2::PartialMatch(a, changes_re)) return std::nullopt;
  std::string t = prose_thousands(a);
  static const RE2 number_re(R"(\d[\d,]*(?:\.\d+)?)");
  re2::StringPiece in(t);
  int numbers = 0;
  while (RE2::FindAndConsume(&in, number_re)) numbers++;
  if (numbers != 1) return std::nullopt;
  return last_number(t);
}

std::optional<std::string> answer_is(const std::string& text, size_t* at, bool look_back) {
  std::string s = text;
  replace_all(s, "**", "");  // Markdown bold: "**Final Answer**: 42"
  std::string low = lower(s);
  size_t best = std::string::npos, len = 0;
  for (const char* key : {"the answer is", "final answer is", "answer:", "answer is:",
                          "correct answer is", "correct option is", "correct choice is"}) {
    size_t p = low.rfind(key);
    if (p != std::string::npos &&
        (best == std::string::npos || p + std::string(key).size() > best + len)) {
      best = p;
      len = std::string(key).size();
    }
  }
  // Labels that name the answer or its finality, followed by a value: "Answer = 12", "Ans: 12",
  // "Final: 12", "Final count: 12 apples", "Answer → 12" (never "Final: the shop sells ...").
  static const RE2 label_re(
      R"((?i)(?:^|[^A-Za-z])((?:final\s+answer|answer|ans|final(?:\s+(?:result|count|total|value|)"
      R"(number|tally|amount))?)\s*(?:=|:|-|\x{2192}|->|=>)\s*|ans\.\s*)(?:\$|\\\(|\\boxed|-?\d))");
  re2::StringPiece label_in(s), label;
  while (RE2::FindAndConsume(&label_in, label_re, &label)) {
    size_t at = static_cast<size_t>(label.data() - s.data());
    if (best == std::string::npos || at + label.size() > best + len) {
      best = at;
      len = label.size();
    }
    label_in = re2::StringPiece(label.data() + label.size(),
                                s.size() - (at + label.size()));  // a value may open the next one
  }
  // "Total cost: $45." on the last line labels the answer; a sentence after it on that line
  // ("Tax was included at 5%.") is a remark.
  static const RE2 total_re(
      R"((?i)(?:^|\n)[ \t*]*(total(?:\s+(?:cost|price|amount|value|number|time|distance|count))?)"
      R"(\s*:\s*)(?:\$|\\\(|\\boxed|-?\d))");
  re2::StringPiece total_in(s), total;
  while (RE2::FindAndConsume(&total_in, total_re, &total)) {
    size_t at = static_cast<size_t>(total.data() - s.data());
    size_t nl = s.find('\n', at);
    bool last_line = nl == std::string::npos || trim(s.substr(nl)).empty();
    // "Total: 12 apples. She ate 3, so 9 are left." concludes after the label: not the answer.
    std::string line = s.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    size_t stop = line.find(". ");
    std::string after = stop == std::string::npos ? "" : line.substr(stop + 2);
    if (concludes(after) || after.find('=') != std::string::npos) last_line = false;
    if (last_line && (best == std::string::npos || at + total.size() > best + len)) {
      best = at;
      len = total.size();
    }
  }
  // "42 is the answer", "$x = 5$ is our final answer": the answer stands before the words.
  static const RE2 before_re(
      R"((?i)((?:(?:negative|minus)\s+)?(?:\$[^$]+\$|\\boxed\{[^{}]*\}|-?\d[\d,]*(?:\.\d+)?(?:/\d+)?)|)"
      R"(\([A-J]\))\s+is\s+)"
      R"((?:the|our|my)\s+(?:final\s+|correct\s+)?answer\b)");
  re2::StringPiece in(s), token;
  size_t token_at = std::string::npos;
  std::string token_text;
  while (RE2::FindAndConsume(&in, before_re, &token)) {
    token_at = static_cast<size_t>(token.data() - s.data());
    token_text = std::string(token);
  }
  if (token_at != std::string::npos && (best == std::string::npos || token_at > best)) {
    if (at) *at = token_at;
    return answer_from_text(token_text);
  }
  if (best == std::string::npos) return std::nullopt;
  if (at) *at = best;
  std::string rest = s.substr(best + len);
  // The rest of the line; a display math block may open on it and close later.
  size_t nl = rest.find('\n');
  if (nl != std::string::npos) {
    std::string line = rest.substr(0, nl);
    std::string tl = trim(line);
    if (!tl.empty() && tl.back() == ':') {  // "as follows:" then the answer
      rest = rest.substr(nl);
      line = tl = "";
    }
    if (tl.empty()) {  // the next paragraph
      size_t b = rest.find_first_not_of(" \t\r\n");
      rest = b == std::string::npos ? "" : rest.substr(b, rest.find("\n\n", b) - b);
    } else if (line.find("\\[") != std::string::npos || line.find("$$") != std::string::npos) {
      size_t nl2 = rest.find("\n\n", nl + 1);
      rest = rest.substr(0, nl2);
    } else {
      rest = line;
    }
  }
  // "$\text{Answer: } 40$": the key sat inside a \text{} of a math segment.
  if (!trim(rest).empty() && trim(rest)[0] == '}') {
    rest = trim(rest).substr(1);
    if (std::count(rest.begin(), rest.end(), '$') == 1 && trim(rest).back() == '$')
      rest = trim(rest).substr(0, trim(rest).size() - 1);
  }
  // "whether the answer is correct", "the answer is as follows": no answer here.
  static const RE2 no_answer_re(
      R"((?i)^[\s:]*(?:correct|incorrect|wrong|right|as follows|below|the following|clear|)"
      R"(obvious|straightforward|simple|reasonable|consistent|valid|let me|let's|let us|first|)"
      R"(we need|we have to|we must|to find|to solve|step by step)\b)");
  // "Another way to see that the answer is the same: ...": the answer stated before it.
  static const RE2 same_re(
      R"((?i)^[\s:]*(?:the\s+)?same(?:\s*[.,;:!)]|\s*$|\s+(?:with|in|for|either|both|)"
      R"(regardless|whichever|when|by|using|via)\b))");
  if (RE2::PartialMatch(rest, same_re))
    return look_back && best > 0 ? answer_is(s.substr(0, best), at, false) : std::nullopt;
  if (RE2::PartialMatch(rest, no_answer_re)) return std::nullopt;
  std::optional<std::string> answer = answer_from_text(rest);
  if (answer && !RE2::PartialMatch(rest, reopens_re()))
    if (auto n = sentence_value(*answer)) answer = n;
  // "Maybe the answer is 12." hedges it as "the answer is maybe 12" does: a hedge word right
  // before the answer words (a bounded look back; "This is probably right, so the answer is 12"
  // hedges something else).
  const size_t start = best > 40 ? best - 40 : 0;
  static const RE2 hedge_before_re(
      R"((?i)\b(?:maybe|perhaps|possibly|probably|likely|presumably)[\s,]+(?:(?:the|my|our)\s+)?$)");
  if (answer && best > start &&
      RE2::PartialMatch(re2::StringPiece(low).substr(start, best - start), hedge_before_re))
    return "maybe " + *answer;
  return answer;
}

// Superscripts "x²", "10²³", "2⁻¹" as "^": a run of them is one exponent.
void superscripts_to_caret(std::string& s) {
  std::string out;  // built anew: replacing in place moves the tail once per run (quadratic)
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    static const std::vector<std::pair<std::string, char>> marks = {
        {"\xc2\xb2", '2'},     {"\xc2\xb3", '3'},     {"\xc2\xb9", '1'},     {"\xe2\x81\xb0", '0'},
        {"\xe2\x81\xb4", '4'}, {"\xe2\x81\xb5", '5'}, {"\xe2\x81\xb6", '6'}, {"\xe2\x81\xb7", '7'},
        {"\xe2\x81\xb8", '8'}, {"\xe2\x81\xb9", '9'}, {"\xe2\x81\xbb", '-'}};
    size_t run = i;
    std::string exp;
    for (bool more = true; more;) {
      more = false;
      for (const auto& [m, c] : marks)
        if (s.compare(run, m.size(), m) == 0) {
          exp += c;
          run += m.size();
          more = true;
          break;
        }
    }
    if (exp.empty()) {
      out += s[i];
      continue;
    }
    out += exp.size() == 1 ? "^" + exp : "^{" + exp + "}";
    i = run - 1;
  }
  s = std::move(out);
}

// An en or em dash written as a minus sign before a number ("= –3", "is – 5", "to –5 degrees")
// becomes "-"; one between numbers ("pages 3–5") or between clauses stays. In an answer (prose
// false) a dash with nothing, an operator or an opening bracket before it is a minus; in prose a
// dash set apart from its number counts only after "=", ":" or a verb like "is".
void dashes_to_minus(std::string& s, bool prose) {
  static const std::string dashes[] = {"\xe2\x80\x93", "\xe2\x80\x94"};
  static const RE2 verb_re(
      R"((?i)(?:^|[^A-Za-z])(?:is|was|are|were|be|equals|becomes|gives|get|gets)$)");
  // Built anew (replacing in place moves the tail once per dash): out is the text before s[i] with
  // the dashes before it replaced, what the checks before a dash read.
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    size_t len = 0;
    for (const auto& d : dashes)
      if (s.compare(i, d.size(), d) == 0) len = d.size();
    if (len == 0) {
      out += s[i];
      continue;
    }
    size_t n = i + len;
    while (n < s.size() && s[n] == ' ') n++;
    bool spaced = n > i + len;
    bool number_next =
        n < s.size() && (is_digit(s[n]) || (n + 1 < s.size() && s[n] == '.' && is_digit(s[n + 1])));
    if (!number_next && (prose || n >= s.size() || s[n] != '\\')) {
      out += s[i];
      continue;
    }
    size_t j = out.size();
    while (j > 0 && out[j - 1] == ' ') j--;
    char prev = j > 0 ? out[j - 1] : '\0';
    bool minus;
    static const RE2 or_and_re(R"((?i)(?:^|[^A-Za-z])(?:or|and)$)");  // "-3 or –3"
    if (!prose) {
      minus = prev == '\0' || std::string("=(,[{:<>$").find(prev) != std::string::npos ||
              match_before(out, j, or_and_re);
    } else if (spaced) {
      minus = prev == '=' || prev == ':' || match_before(out, j, verb_re);
    } else {  // "to –5", "=–5", "(–5": never after a digit or a letter ("3–5", "word—5")
      minus = prev == '\0' || (j < out.size() && !is_digit(prev)) ||
              std::string("=(:[$").find(prev) != std::string::npos;
    }
    if (!minus) {
      out += s[i];
      continue;
    }
    out += '-';
    i = n - 1;
  }
  s = std::move(out);
}

// Text with math segments and LaTeX commands (with their brace groups) blanked out.
std::string mask_latex(const std::string& s) {
  std::string t = s;
  for (const Segment& seg : math_segments(s))
    for (size_t k = seg.begin; k < seg.end; k++) t[k] = ' ';
  // Blanking goes forward and brace groups are looked up ahead of it: one table for all of them.
  Braces braces(t);
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i] != '\\') continue;
    size_t j = i + 1;
    while (j < t.size() && is_alpha(t[j])) j++;
    // the command's arguments go with it: \frac{1}{2}, \sqrt[3]{2}
    if (j > i + 1 && j < t.size() && t[j] == '[') {
      size_t close = re2::StringPiece(t).substr(j, 16).find(']');
      if (close != re2::StringPiece::npos) j += close + 1;
    }
    while (j < t.size() && t[j] == '{') {
      size_t e = braces.close(j);
      if (e == std::string::npos) break;
      j = e;
    }
    if (j > i + 1)  // digits right after a command are its arguments: \frac12, \sqrt3
      while (j < t.size() && is_digit(t[j])) j++;
    if (j == i + 1 && j < t.size()) j++;  // \, \$ ...
    for (size_t k = i; k < j; k++) t[k] = ' ';
    i = j - 1;
  }
  return t;
}

bool is_operation_word(const std::string& w);

// "45 dollars and 50 cents", "$3 and 5 cents" as the amount in dollars ("45.50", "3.05"); s
// itself for anything else (three-digit cents are no amount).
std::string dollars_and_cents(const std::string& s) {
  static const RE2 re(R"((?i)^\s*\$?\s*(\d+)\s*(?:dollars?)?\s+and\s+(\d{1,2})\s*cents?\s*$)");
  std::string d, c;
  if (!RE2::FullMatch(s, re, &d, &c)) return s;
  return d + "." + (c.size() == 1 ? "0" + c : c);
}

// Seconds in a unit of time ("hours", "min", "secs"); 0 for anything else.
long seconds_in(const std::string& unit) {
  std::string u = lower(unit);
  if (u == "h" || u.rfind("hour", 0) == 0 || u.rfind("hr", 0) == 0) return 3600;
  if (u.rfind("min", 0) == 0) return 60;
  if (u.rfind("sec", 0) == 0) return 1;
  return 0;
}

// "2 hours and 30 minutes", "4 min 20 sec": the duration in seconds; -1 for anything else (the
// second part must be a smaller unit and under 60 of it).
long long compound_duration(const std::string& s) {
  static const RE2 re(
      R"((?i)^\s*(\d{1,6})\s*(hours?|hrs?|h|minutes?|mins?)\s*,?\s*(?:and\s+)?(\d{1,2})\s*)"
      R"((minutes?|mins?|seconds?|secs?)\s*$)");
  std::string a, ua, b, ub;
  if (!RE2::FullMatch(s, re, &a, &ua, &b, &ub)) return -1;
  long big = seconds_in(ua), small = seconds_in(ub);
  if (big <= small || std::stoll(b) >= 60) return -1;
  return std::stoll(a) * big + std::stoll(b) * small;
}

// Whether the number at [b, e) of t leaves the answer open with the plain number at [pb, pe) before
// it: "range" for "12-13", "12–13", "12 or 13", "either 12 or 13", "roughly 12 to 13", "between 12
// and 13", "12? 13?" (the caller joins both); the count itself for a count of things in a range
// ("0 integers between 12 and 13", "5 even numbers from 1 to 10"); nullopt otherwise. *value is
// the number at [b, e) without a hyphen that joined it.
std::optional<std::string> open_pair(const std::string& t, size_t pb, size_t pe, size_t b, size_t e,
                                     std::string* value) {
  std::string between = t.substr(pe, b - pe);
  // A computation goes on after the second number ("15-3 = 12", "12 or 13 + 1"): no range.
  static const RE2 goes_on_re(R"(^\s*(?:[=+*/^<>]|\\times|\\cdot|x\s*\d))");
  if (match_after(t, e, goes_on_re)) return std::nullopt;
  // The sentence before the first number, read in its last kLook bytes: sentence[from, end).
  size_t from = pb > kLook ? pb - kLook : 0;
  size_t stop = std::string_view(t).substr(from, pb - from).find_last_of(".;:!?\n");
  re2::StringPiece sentence(t.data(), pb);
  if (stop != std::string_view::npos) {
    sentence.remove_prefix(from + stop + 1);
    from = 0;
  }
  static const RE2 count_re(
      R"((?i)(?:^|[^\w.,])(\d[\d,]*)\s+(?:[A-Za-z-]+\s+){1,4}(?:strictly\s+|inclusively\s+)?)"
      R"((between|from)\s*$)");
  static const RE2 hedge_word_re(
      R"((?i)\b(?:about|around|roughly|approximately|nearly|almost|maybe|perhaps|possibly|)"
      R"(probably|somewhere|anywhere|range|guess|estimate|likely|think|believe|not sure)\b)");
  static const RE2 between_re(R"((?i)\bbetween\s*$)");
  static const RE2 from_re(R"((?i)\bfrom\s*$)");
  std::string count, word;
  bool counted = search(sentence, from, sentence.size(), count_re, &count, &word);
  // "between 12 and 13"
  if (trim(between) == "and" && match_before(t, pb, between_re)) {
    if (counted) return count;
    return std::string("range");
  }
  // "from 1 to 10" after a count
  static const RE2 to_re(R"((?i)^\s*(?:to|through|until)\s*$)");
  if (RE2::FullMatch(between, to_re) && match_before(t, pb, from_re) && counted &&
      lower(word) == "from")
    return count;
  // "probably 12-13 apples", "roughly 12 to 13", "12–13, I think": a range said with a hedge. A
  // range alone, "3-5 cookies", "pages 3–5" (ends rising, joined by the dash alone), leaves the
  // answer as open: its end is no more the answer than its start.
  std::string_view after = std::string_view(t).substr(e);  // to the end of the sentence
  size_t after_end =
      std::min({after.substr(0, kLook).find_first_of(".;!?\n"), kLook, after.size()});
  bool hedged = search(sentence, from, sentence.size(), hedge_word_re) ||
                search(after, 0, after_end, hedge_word_re);
  std::string dash = trim(between);
  auto rising = [&](const std::string& hi) {
    std::string lo = t.substr(pb, pe - pb), h = hi;
    lo.erase(std::remove(lo.begin(), lo.end(), ','), lo.end());
    h.erase(std::remove(h.begin(), h.end(), ','), h.end());
    return std::strtod(lo.c_str(), nullptr) < std::strtod(h.c_str(), nullptr);
  };
  if ((*value)[0] == '-' && between.empty() && value->size() > 1 && is_digit((*value)[1])) {
    *value = value->substr(1);
    return hedged || rising(*value) ? std::string("range") : *value;
  }
  const bool en_em = dash == "\xe2\x80\x93" || dash == "\xe2\x80\x94";
  if ((hedged && (en_em || RE2::FullMatch(between, to_re))) ||
      (en_em && between == dash && rising(*value)))
    return std::string("range");
  // "12 or 13", "12, or is it 13", "either she has 12 apples or she has 13 apples", "12. Or 13."
  static const RE2 or_re(
      R"((?i)^\s*[,.;]?\s*(?:[A-Za-z']+\s+){0,3}or(?:\s+(?:else|maybe|perhaps|possibly|even|)"
      R"(is it|was it|could it be|might it be|it could be|it might be|it may be|could be|might be|)"
      R"(may be))?\s*,?\s*(?:[A-Za-z']+\s+){0,3}$)");
  static const RE2 or_not_re(R"((?i)\bor\s+(?:rather|more|less|fewer|so|above|below)\b)");
  if (RE2::FullMatch(between, or_re) && !RE2::PartialMatch(between, or_not_re))
    return std::string("range");
  // "12? 13?"
  if (trim(between) == "?" && e < t.size() && t[e] == '?') return std::string("range");
  return std::nullopt;
}

// The last number standing on its own: not inside LaTeX, not touching letters, braces, ^ or _.
std::optional<std::string> last_number(const std::string& s) {
  std::string t = mask_latex(s);
  replace_all(t, "\xe2\x88\x92", "  -");  // the minus sign "−5" is -5, never 5
  dashes_to_minus(t, true);
  superscripts_to_caret(t);
  // Scientific notation is one number: "1.5 x 10^6", "3.14 × 10^-2", "1.5e6" (never 1.5).
  static const RE2 re(
      R"((\$?\d+(?: dollars?)? and \d{1,2} cents?\b|)"
      R"(\d+ ?(?:hours?|hrs?|minutes?|mins?),? (?:and )?\d+ ?(?:minutes?|mins?|seconds?|secs?)\b|)"
      R"(\(-?\d+(?:\.\d+)?(?:, ?-?\d+(?:\.\d+)?)+\)|\d+(?::\d+| : \d+)+|-?\d+ \d+/\d+|)"
      R"(-?\d+(?:\.\d+)? ?(?:x|\x{00D7}|\*) ?10\^(?:\{[+-]?\d+\}|\([+-]?\d+\)|[+-]?\d+)|)"
      R"(-?\d+(?:\.\d+)?[eE][+-]?\d+|)"
      R"(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|)"
      R"(-?\d+(?:\.\d+)?(?:/\d+|%)?|-?\.\d+))");  // "12.5%" keeps its percent sign
  re2::StringPiece in(t);
  re2::StringPiece m;
  std::string last;
  size_t last_end = std::string::npos;  // where the number in last ends in t
  size_t prev_b = std::string::npos, prev_e = std::string::npos;  // the number before, if plain
  while (RE2::FindAndConsume(&in, re, &m)) {
    size_t b = static_cast<size_t>(m.data() - t.data()), e = b + m.size();
    char before = b > 0 ? t[b - 1] : ' ';
    char after = e < t.size() ? t[e] : ' ';
    // Two values with the answer left open between them ("12 or 13", "12-13 apples", "between
    // 12 and 13", "12? 13?") are both, never the last; a count before the range keeps it
    // ("12 primes between 1 and 40").
    bool plain_before = b == prev_e || !(is_alpha(before) || is_digit(before) ||
                                         std::string("_^{}\\.").find(before) != std::string::npos);
    if (prev_e != std::string::npos && prev_e <= b && plain_before && !is_alpha(after) &&
        std::string("_^{}").find(after) == std::string::npos) {
      std::string value(m);
      std::optional<std::string> open = open_pair(t, prev_b, prev_e, b, e, &value);
      if (open) {
        if (*open == "range")
          last += ", " + value;  // in place: a long run of "1 or 1 or ..." copies it each time
        else
          last = *open;
        last_end = prev_e = e;
        prev_b = b;
        continue;
      }
    }
    prev_b = prev_e = std::string::npos;
    if (is_alpha(before) || is_digit(before) ||
        std::string("_^{}\\.").find(before) != std::string::npos)
      continue;
    if (is_alpha(after) || std::string("_^{}").find(after) != std::string::npos) continue;
    if (before == '(' && after == ')') {
      // "1/4 (25%)" restates the number before it (both are kept); "equation (1)" only names.
      size_t open = b - 1, gap = open;  // only spaces between the answer and the bracket
      while (last_end != std::string::npos && gap > last_end && is_space(t[gap - 1])) gap--;
      if (last_end != std::string::npos && open > last_end && gap == last_end) {
        last += " (" + std::string(m) + ")";
        last_end = e + 1;
      }
      continue;
    }
    // "12 when n = 3", "12, attained at x = 3": the value of a variable right after the answer
    // only says where the answer holds.
    static const RE2 where_re(
        R"((?i)^\s*,?\s*(?:(?:which is |that is )?)"
        R"((?:attained|achieved|obtained|reached|occurring)\s+)?)"
        R"((?:when|where|at|for|for each|for all|with|if|given)\s+[A-Za-z]\s*=\s*$)");
    // The text since the answer, read only when short (numbers passed over since then would make
    // it long, and reading it at each one quadratic).
    re2::StringPiece since;
    if (last_end != std::string::npos && b - last_end <= kLook)
      since = re2::StringPiece(t).substr(last_end, b - last_end);
    if (since.data() && RE2::FullMatch(since, where_re)) continue;
    // "1/6 ≈ 0.167": the value with its approximation (the comparison takes the exact one).
    if (since.data() && trim(std::string(since)) == "\xe2\x89\x88") {
      last += " \xe2\x89\x88 " + std::string(m);
      last_end = e;
      continue;
    }
    // "12, not 13": a value ruled out after the answer.
    static const RE2 ruled_out_re(R"((?i)^(?:\s*[A-Za-z]+){0,3}\s*,?\s*(?:and |but )?not\s*$)");
    if (since.data() && RE2::FullMatch(since, ruled_out_re)) continue;
    // "6 (5 fails the condition)": a value after the answer that the text rules out.
    static const RE2 fails_re(
        R"((?i)^\s*(?:fails|does not work|doesn't work|is too (?:big|small|large|low|high)|)"
        R"(violates|is excluded|is invalid|is rejected|is ruled out)\b)");
    if (last_end != std::string::npos &&
        RE2::PartialMatch(re2::StringPiece(t).substr(e, 64), fails_re))
      continue;
    if (since.data() && hedged_between(since)) {
      last += ", " + std::string(m);
      last_end = e;
      continue;
    }
    std::string q_before, q_after;  // "at least 5 people", "81 or more"
    match_before(t, b, qualifier_before_re(), &q_before);
    match_after(t, e, qualifier_after_re(), &q_after);
    if (q_after.empty()) match_after(t, e, hedge_after_re(), &q_after);
    if (!q_before.empty() || !q_after.empty()) {
      last = trim(q_before + " " + std::string(m) + " " + q_after);
      last_end = std::string::npos;
      if (q_after.empty()) {  // "roughly 12 to 13": a range may follow
        prev_b = b;
        prev_e = e;
      }
      continue;
    }
    // "1.2 million", "2 dozen": the word belongs to the number.
    static const RE2 word_after(R"(^ +([a-z]+)(?:[^a-z]|$))");  // the whole word, in kLook
    std::string w;
    static const RE2 am_pm(R"((?i)^\s*([ap])\.?\s?m\b\.?)");  // "3:45 pm", "9:05 a.m."
    std::string half;
    if (std::string(m).find(':') != std::string::npos && match_after(t, e, am_pm, &half)) {
      last = std::string(m) + " " + lower(half) + "m";
      last_end = std::string::npos;
      continue;
    }
    if (match_after(t, e, word_after, &w) && w == "percent" &&
        m[m.size() - 1] != '%') {  // "25 percent of the class" is 25%
      last = std::string(m) + "%";
      last_end = std::string::npos;
      continue;
    }
    if (match_after(t, e, word_after, &w) && is_operation_word(w)) {
      last = std::string(m) + " " + w;
      last_end = std::string::npos;
      continue;
    }
    // "5 below zero", "12 degrees below zero": a negative temperature.
    static const RE2 below_zero_re(R"((?i)^\s+(?:degrees?\s+)?(?:[CF]\s+)?below\s+zero\b)");
    if (match_after(t, e, below_zero_re) && m[0] != '-') {
      last = "-" + std::string(m);
      last_end = std::string::npos;
      continue;
    }
    static const RE2 paren_thousands(R"(^\(\d{1,3}(?:,\d{3})+\)$)");
    if (RE2::FullMatch(m, paren_thousands)) m = m.substr(1, m.size() - 2);  // (1,000) is a number
    last = dollars_and_cents(std::string(m));
    if (last.find(':') != std::string::npos)  // the ratio "3 : 4" is 3:4
      last.erase(std::remove(last.begin(), last.end(), ' '), last.end());
    last_end = e;
    if (last == std::string(m)) {
      prev_b = b;
      prev_e = e;
    }
  }
  if (last.empty()) return std::nullopt;
  return last;
}

// ---------------------------------------------------------------- normalisation

// Replaces \name{X} by X for text-like commands (nested braces kept).
void unwrap_command(std::string& s, const std::string& name) {
  size_t pos = 0;
  while ((pos = find_command(s, name, pos)) != std::string::npos) {
    size_t open = pos + name.size();
    while (open < s.size() && s[open] == ' ') open++;
    if (open >= s.size() || s[open] != '{') {
      pos += name.size();
      continue;
    }
    size_t end = match_brace(s, open);
    if (end == std::string::npos) return;
    std::string inner = s.substr(open + 1, end - open - 2);
    s.replace(pos, end - pos, inner);
  }
}

// Removes a command only where it is whole (keeps \rightarrow when removing \right).
void remove_command(std::string& s, const std::string& name) {
  replace_command(s, name, "");
}

// A number written in words at the start of an answer ("twelve", "twenty-five apples", "one
// hundred and five", "three quarters", "negative 5") with digits instead; s itself when it does
// not start with one.
std::string number_words(const std::string& s) {
  static const char* small[] = {"zero",    "one",     "two",       "three",    "four",
                                "five",    "six",     "seven",     "eight",    "nine",
                                "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
  static const char* tens[] = {"twenty", "thirty",  "forty",  "fifty",
                               "sixty",  "seventy", "eighty", "ninety"};
  static const std::vector<std::pair<std::string, int>> denominators = {
      {"half", 2},     {"halves", 2}, {"third", 3},   {"thirds", 3}, {"quarter", 4},
      {"quarters", 4}, {"fourth", 4}, {"fourths", 4}, {"fifth", 5},  {"fifths", 5}};
  static const RE2 word_re(R"(^\s*([A-Za-z]+)(?:\s*-\s*|\s+|$))");
  static const RE2 sign_re(R"((?i)^\s*(?:negative|minus)\s+(.+)$)");
  // "half", "a third", "a quarter" (never "third" alone, an ordinal)
  static const RE2 one_part_re(
      R"((?i)^\s*(?:(?:a|one)\s+(half|third|quarter|fifth)|(half))\b(.*)$)");
  std::string part, half, part_rest;
  if (RE2::FullMatch(s, one_part_re, &part, &half, &part_rest)) {
    std::string l = lower(part + half);
    const char* den = l == "half" ? "2" : l == "third" ? "3" : l == "quarter" ? "4" : "5";
    return trim("1/" + std::string(den) + " " + part_rest);
  }
  std::string after_sign;
  if (RE2::FullMatch(s, sign_re, &after_sign)) {
    std::string n = number_words(after_sign);
    if (n != after_sign || is_digit(after_sign[0]) || after_sign[0] == '.' || after_sign[0] == '\\')
      return "-" + n;
    return s;
  }
  re2::StringPiece in(s), rest(s);
  std::string w;
  long long total = 0, group = 0;
  int words = 0;
  enum { kOpen, kTens, kClosed } state = kOpen;  // what the next word may add to
  bool after_hundred = false;
  while (RE2::Consume(&in, word_re, &w)) {
    std::string l = lower(w);
    long long v = -1;
    for (int k = 0; k < 20; k++)
      if (l == small[k]) v = k;
    for (int k = 0; k < 8; k++)
      if (l == tens[k]) v = 20 + 10 * k;
    if (v >= 0 && (state == kOpen || (state == kTens && v > 0 && v < 10))) {
      group += v;
      words++;
      state = v >= 20 && v % 10 == 0 ? kTens : kClosed;
    } else if (l == "hundred" && group > 0 && group < 10) {
      group *= 100;
      state = kOpen;
      after_hundred = true;
    } else if ((l == "thousand" || l == "million" || l == "billion") && group > 0) {
      total += group * (l == "thousand" ? 1000 : l == "million" ? 1000000 : 1000000000);
      group = 0;
      state = kOpen;
    } else if (l == "and" && after_hundred && state == kOpen && group % 100 == 0) {
      after_hundred = false;
      continue;  // "one hundred and" alone is 100 and the word "and"
    } else {
      // "three quarters", "two thirds": a count of parts
      int den = 0;
      for (const auto& [name, d] : denominators)
        if (l == name) den = d;
      if (den > 0 && words > 0 && total == 0 && group > 0 && group < den * 4)
        return trim(std::to_string(group) + "/" + std::to_string(den) + " " + std::string(in));
      break;
    }
    rest = in;
  }
  if (words == 0) return s;
  return trim(std::to_string(total + group) + " " + std::string(rest));
}

bool is_unit_word(const std::string& w) {
  static const char* units[] = {
      "cm",      "m",       "km",     "mm",      "in",     "inch",    "inches",   "ft",
      "feet",    "foot",    "yd",     "yards",   "meter",  "meters",  "metres",   "mile",
      "miles",   "units",   "unit",   "dollars", "dollar", "cents",   "cent",     "degrees",
      "degree",  "hours",   "hour",   "minutes", "minute", "seconds", "second",   "sq",
      "square",  "cubic",   "mph",    "pounds",  "lbs",    "lb",      "kg",       "g",
      "grams",   "days",    "day",    "weeks",   "years",  "people",  "students", "apples",
      "cookies", "percent", "liters", "l",       "ml",     "oz",      "ounces",   "gallons",
      "points",  "times",   "items",  "pieces",  "boxes",  "hrs",     "mins",     "hr"};
  for (const char* u : units)
    if (w == u) return true;
  return false;
}

// Words that change what a number means: "81 or more" is not 81.
bool is_qualifier_word(const std::string& w) {
  static const char* words[] = {
      "or",      "and",        "more",     "less",   "least",     "most",          "than",
      "fewer",   "greater",    "smaller",  "larger", "about",     "approximately", "around",
      "nearly",  "almost",     "over",     "under",  "at",        "not",           "no",
      "only",    "maybe",      "possibly", "either", "neither",   "nor",           "but",
      "plus",    "minus",      "up",       "to",     "between",   "above",         "below",
      "roughly", "circa",      "if",       "when",   "otherwise", "each",          "all",
      "none",    "any",        "some",     "every",  "ish",       "probably",      "perhaps",
      "likely",  "presumably",
  };
  for (const char* u : words)
    if (w == u) return true;
  return false;
}

// Words that change a number's value ("5 squared", "1.2 million", "3 quarters"): never a unit.
bool is_operation_word(const std::string& w) {
  static const char* words[] = {
      "squared",   "cubed",   "factorial", "inverse",    "hundred",  "hundreds", "thousand",
      "thousands", "million", "millions",  "billion",    "billions", "trillion", "dozen",
      "dozens",    "half",    "halves",    "third",      "thirds",   "quarter",  "quarters",
      "fourths",   "fifths",  "tenths",    "hundredths", "root",     "roots",    "pi"};
  for (const char* u : words)
    if (w == u) return true;
  return false;
}

bool looks_numeric(const std::string& s);
bool has_letters(const std::string& s);

// Words after a number that make it a bound, an estimate or an expression ("5 apples or more").
const RE2& bound_words_re() {
  static const RE2 re(
      R"((?i)(?:^|\s)(?:least|most|more|less|fewer|than|or|nor|not|no|only|maybe|possibly|about|)"
      R"(probably|perhaps|likely|presumably|)"
      R"(approximately|around|nearly|almost|roughly|circa|either|neither|between|plus|minus|up|)"
      R"(squared|cubed|times|[b-z])(?:\s|$))");
  return re;
}

// Strips trailing words after a number: "5 cm", "12 square feet", "30 dollars", "5 cm^2", "18
// eggs"; never a qualifier ("81 or more" stays as it is and counts as two answers).
std::string strip_units(const std::string& s) {
  // Words may be compound units: "km/h", "m/s^2".
  static const RE2 re(std::string(R"(^(.*?(?:[0-9%}]|\\pi))(\s*)((?:(?:[A-Za-z]|)") +
                      kScriptLetter + R"()+\.?(?:\^[23])?(?:/[A-Za-z]+(?:\^[23])?)*\s*)+)$)");
  std::string prefix, space, words;
  if (!RE2::FullMatch(s, re, &prefix, &space, &words)) return s;
  prefix = trim(prefix);
  static const RE2 grouped(R"(^-?\d{1,3}(,\d{3})+(\.\d+)?$)");
  // A number, or a constant without variables ("36\pi cm^2", "2\sqrt{3} m").
  if (prefix.empty() || !(looks_numeric(prefix) || RE2::FullMatch(prefix, grouped) ||
                          (!has_letters(prefix) && symbolic_parses(prefix))))
    return s;
  if (prefix.size() >= 3 && prefix.compare(prefix.size() - 3, 3, "\\pi") == 0 && space.empty())
    return s;  // "\pir" is no unit after \pi
  // "7 more cookies", "7 fewer", "7 more apples than Bob" answer "how many more": the comparison
  // goes, unless it makes an expression ("7 more than x", "7 more than twice the number") or a
  // bound ("7 more or less").
  static const RE2 comparison_re(
      R"((?i)^(?:more|fewer|less)\b\s*((?:[A-Za-z]+\s*)*?)(?:\bthan\s+((?:[A-Za-z]+\s*)+))?$)");
  static const RE2 expression_re(
      R"((?i)(?:^|\s)(?:[a-z]|twice|thrice|double|triple|half|times|number|sum|product|square|)"
      R"(cube|difference|quotient|itself)(?:\s|$))");
  std::string counted, target;
  if (RE2::FullMatch(words, comparison_re, &counted, &target)) {
    if (!target.empty() && RE2::PartialMatch(target, expression_re)) return s;
    if (trim(counted).empty()) return prefix;
    words = counted;
    space = " ";
  }
  // A fraction or percent of a whole: "\frac34 of the pizza", "25% of the class" (never a count,
  // "3 of 4 students").
  static const RE2 of_whole_re(
      R"((?i)^of\s+(?:the|a|an|his|her|their|its|my|our|your|this|that)\s+[A-Za-z]+(?:\s+[A-Za-z]+){0,3}$)");
  bool fraction = prefix.find("\\frac") != std::string::npos || prefix.back() == '%' ||
                  prefix.find('/') != std::string::npos;
  if (fraction && !space.empty() && RE2::FullMatch(trim(words), of_whole_re) &&
      !RE2::PartialMatch(words, bound_words_re()))
    return prefix;
  // What was counted, then where or of what: "7 bags of flour", "15 marbles in each box", "9
  // pieces left over"; or a rate, "18 an hour", "5 per person". Never a bound ("5 apples or more",
  // "5 apples at least") or a variable ("5 groups of x").
  static const RE2 counted_re(
      R"((?i)^(?:[A-Za-z]{3,}\s+(?:of|in|on|at|for|from|left|per|to)|a|an|per|each)\s+)"
      R"(((?:[A-Za-z]+\s*){1,5})$)");
  const RE2& bound_re = bound_words_re();
  std::string phrase;
  if (!space.empty() && RE2::FullMatch(words, counted_re, &phrase) &&
      !RE2::PartialMatch(words, bound_re)) {
    std::string first = lower(words.substr(0, words.find_first_of(" \t")));
    if (!is_qualifier_word(first) && !is_operation_word(first)) return prefix;
  }
  bool compound = words.find('/') != std::string::npos;
  bool all_units = true;
  size_t i = 0, count = 0;
  while (i < words.size()) {
    while (i < words.size() && !is_alpha(words[i])) i++;
    size_t j = i;
    while (j < words.size() && is_alpha(words[j])) j++;
    if (j > i) {
      std::string w = lower(words.substr(i, j - i));
      if (is_qualifier_word(w) || is_operation_word(w)) return s;
      if (compound && (w == "h" || w == "s")) {  // hours and seconds only in "km/h", "m/s"
        count++;
        i = j;
        continue;
      }
      if (!is_unit_word(w)) {
        if (w.size() < 3) return s;  // "5 x" is 5x, not 5 with a unit
        all_units = false;
      }
      count++;
    }
    i = j;
  }
  // Known units may touch the number ("5cm"); other words must be set apart by a space.
  if (all_units || (!space.empty() && count <= 3)) return prefix;
  return s;
}

// Drops spaces except between two letters or digits ("1 0" stays apart from "10").
std::string nospace(const std::string& s) {
  std::string t;
  for (size_t i = 0; i < s.size(); i++) {
    if (!is_space(s[i])) {
      t += s[i];
      continue;
    }
    size_t nx = i;
    while (nx < s.size() && is_space(s[nx])) nx++;
    if (!t.empty() && nx < s.size() && std::isalnum(static_cast<unsigned char>(t.back())) &&
        std::isalnum(static_cast<unsigned char>(s[nx])))
      t += ' ';
    i = nx - 1;
  }
  return t;
}

// ---------------------------------------------------------------- numbers

// A number written plainly: sign, digits, optional decimals, optional exponent, optional %.
// Exact: the value is sign * digits * 10^exp10 with no trailing zeros in digits.
struct Number {
  bool percent = false;
  bool decimal = false;  // a terminating decimal / integer / scientific number
  bool neg = false;
  std::string digits;  // decimal: significant digits, no leading or trailing zeros ("" = 0)
  long exp10 = 0;      // decimal: value = digits * 10^exp10
  std::string expr;    // the value as an expression for the exact / symbolic comparison
};

// Parses "12", "-1.50", ".5", "3e5", "1.5e-3", "3\times10^{4}", "2.5\cdot10^-2", "1/2",
// "\frac{1}{2}",
// "\frac12", "2\frac{1}{2}" (mixed), each optionally followed by "%".
std::optional<Number> parse_number(const std::string& in) {
  // A mixed number in plain text, "2 1/3" (a proper fraction after the whole part).
  static const RE2 mixed_re(R"(^\s*([+-]?)(\d{1,18}) +(\d{1,18})/(\d{1,18})\s*$)");
  std::string msign, mwhole, mnum, mden;
  if (RE2::FullMatch(in, mixed_re, &msign, &mwhole, &mnum, &mden) &&
      std::stoull(mnum) < std::stoull(mden)) {
    Number n;
    n.expr = (msign == "-" ? "-(" : "(") + mwhole + "+" + mnum + "/" + mden + ")";
    return n;
  }
  std::string s;
  for (size_t k = 0; k < in.size(); k++) {
    if (in[k] != ' ') {
      s += in[k];
      continue;
    }
    // "1 0" is not ten: a space between two digits makes it no number.
    size_t nx = in.find_first_not_of(' ', k);
    if (!s.empty() && is_digit(s.back()) && nx != std::string::npos && is_digit(in[nx]))
      return std::nullopt;
  }
  if (s.empty() || s.size() > 200) return std::nullopt;
  Number n;
  if (s.back() == '%') {
    n.percent = true;
    s.pop_back();
  }
  static const RE2 dec_re(
      R"(([+-]?)(\d*)\.?(\d*)(?:[eE]([+-]?\d{1,7})|(?:\\times|\\cdot|\*)(?:10|\{10\})\^(?:\{([+-]?\d{1,7})\}|([+-]?\d)))?)");
  std::string sign, ip, fp, e1, e2, e3;
  if (RE2::FullMatch(s, dec_re, &sign, &ip, &fp, &e1, &e2, &e3) && !(ip.empty() && fp.empty()) &&
      (s.find('.') == std::string::npos || !fp.empty())) {
    n.decimal = true;
    n.neg = sign == "-";
    std::string exps = !e1.empty() ? e1 : !e2.empty() ? e2 : e3;
    long ex = exps.empty() ? 0 : std::stol(exps);
    std::string digits = ip + fp;
    ex -= static_cast<long>(fp.size());
    size_t first = digits.find_first_not_of('0');
    if (first == std::string::npos) {
      digits.clear();
      ex = 0;
      n.neg = false;
    } else {
      digits = digits.substr(first);
      while (!digits.empty() && digits.back() == '0') {
        digits.pop_back();
        ex++;
      }
    }
    n.digits = digits;
    n.exp10 = ex;
    std::string lit = ip + (fp.empty() ? "" : "." + fp);
    if (lit[0] == '.') lit = "0" + lit;
    n.expr = (n.neg ? "-" : "") + lit;
    if (!exps.empty()) n.expr += "*10^{" + exps + "}";
    return n;
  }
  // Fractions and mixed numbers: only digits inside.
  static const RE2 frac_re(
      R"(([+-]?)(?:(\d+)\\frac(?:\{(\d+)\}|(\d))(?:\{(\d+)\}|(\d))|\\frac(?:\{([+-]?\d+(?:\.\d+)?)\}|(\d))(?:\{(\d+(?:\.\d+)?)\}|(\d))|(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)))");
  std::string whole, a1, a2, b1, b2, c1, c2, d1, d2, s1, s2;
  if (RE2::FullMatch(s, frac_re, &sign, &whole, &a1, &a2, &b1, &b2, &c1, &c2, &d1, &d2, &s1, &s2)) {
    std::string sg = sign == "-" ? "-" : "";
    if (!whole.empty()) {
      std::string a = a1 + a2, b = b1 + b2;
      n.expr = sg + "(" + whole + "+" + a + "/" + b + ")";
    } else if (!s1.empty()) {
      n.expr = sg + "(" + s1 + ")/(" + s2 + ")";
    } else {
      n.expr = sg + "(" + c1 + c2 + ")/(" + d1 + d2 + ")";
    }
    return n;
  }
  return std::nullopt;
}

bool looks_numeric(const std::string& s) {
  return parse_number(s).has_value();
}

// Exact value "p/q" of a number's expression (false for huge exponents).
bool number_value(const Number& n, bool scaled_percent, std::string* q) {
  std::string e = scaled_percent ? "(" + n.expr + ")/100" : n.expr;
  MathExpr x;
  if (parse_math_expr(e, 400, &x) != ExprParse::kOk) return false;
  return expr_rational(x, q);
}

enum class Cmp { kEqual, kDifferent, kUnknown };

Cmp same_number(const Number& a, bool a_scaled, const Number& b, bool b_scaled) {
  if (a.decimal && b.decimal) {
    // Exact on the decimal form: 1e9999 and 1e5000 differ without computing either.
    long ea = a.exp10 - (a_scaled ? 2 : 0), eb = b.exp10 - (b_scaled ? 2 : 0);
    if (a.digits.empty() || b.digits.empty())
      return a.digits.empty() && b.digits.empty() ? Cmp::kEqual : Cmp::kDifferent;
    return a.neg == b.neg && a.digits == b.digits && ea == eb ? Cmp::kEqual : Cmp::kDifferent;
  }
  std::string qa, qb;
  if (!number_value(a, a_scaled, &qa) || !number_value(b, b_scaled, &qb)) return Cmp::kUnknown;
  return qa == qb ? Cmp::kEqual : Cmp::kDifferent;
}

long double approx(const Number& n) {
  if (n.decimal)
    return (n.neg ? -1.0L : 1.0L) *
           std::strtold(n.digits.empty() ? "0" : n.digits.c_str(), nullptr) *
           std::pow(10.0L, static_cast<long double>(n.exp10));
  std::string q;
  if (!number_value(n, false, &q)) return NAN;
  size_t slash = q.find('/');
  if (slash == std::string::npos) return std::strtold(q.c_str(), nullptr);
  return std::strtold(q.substr(0, slash).c_str(), nullptr) /
         std::strtold(q.substr(slash + 1).c_str(), nullptr);
}

Cmp numbers_equal(const Number& g, const Number& p, double rel_tol) {
  auto same = [&](bool gs, bool ps) {
    Cmp c = same_number(g, gs, p, ps);
    if (c != Cmp::kEqual && rel_tol > 0) {  // opt-in tolerance for measured quantities
      long double a = approx(g) / (gs ? 100 : 1), b = approx(p) / (ps ? 100 : 1);
      if (std::isfinite(a) && std::isfinite(b) &&
          std::fabs(a - b) <= rel_tol * std::max(std::fabs(a), std::fabs(b)))
        return Cmp::kEqual;
    }
    return c;
  };
  if (g.percent == p.percent) return same(false, false);
  // Exactly one side wrote a percent sign: "50%" matches "50" (sign dropped) and "0.5" (its value).
  // Two plain numbers are never scaled by 100 (50 vs 0.5 is a known false positive).
  Cmp c = same(false, false);
  if (c == Cmp::kEqual) return c;
  Cmp d = same(g.percent, p.percent);
  if (d == Cmp::kEqual) return d;
  return c == Cmp::kUnknown || d == Cmp::kUnknown ? Cmp::kUnknown : Cmp::kDifferent;
}

// ---------------------------------------------------------------- structure

// Updates `depth` for the bracket at s[i] ((, [, { and \{ open; ), ], } and \} close) and returns
// how many characters it spans (2 for \{ and \}, else 1).
size_t bracket_step(const std::string& s, size_t i, int& depth) {
  char c = s[i];
  if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
    depth += s[i + 1] == '{' ? 1 : -1;
    return 2;
  }
  if (c == '(' || c == '[' || c == '{') depth++;
  if (c == ')' || c == ']' || c == '}') depth--;
  return 1;
}

// Splits at top-level occurrences of sep (outside (), [], {}), tracking \{ \} as braces.
std::vector<std::string> split_top(const std::string& s, const std::string& sep) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = bracket_step(s, i, depth);
    if (n == 1 && depth == 0 && s.compare(i, sep.size(), sep) == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + sep.size();
      n = sep.size();
    }
    i += n;
  }
  parts.push_back(s.substr(start));
  return parts;
}

// True when the opening bracket at 0 closes exactly at the last character.
bool wraps_whole(const std::string& s, size_t open_len) {
  int depth = 0;
  for (size_t i = 0; i < s.size();) {
    i += bracket_step(s, i, depth);  // i: past the bracket
    if (depth == 0 && i < s.size() && i >= open_len) return false;
  }
  return depth == 0;
}

struct Structure {
  enum Kind { kScalar, kTuple, kSet, kList, kUnion, kMatrix } kind = kScalar;
  std::string open, close;  // bracket types kept: "(", "]", ...
  std::vector<std::string> elems;
  size_t rows = 0, cols = 0;  // matrices: elems row-major
};

// "(\begin{array}{c} 1 \\ 2 \end{array})" (what \left( \right) leave) is the array inside.
std::string bracketed_array(const std::string& t) {
  static const RE2 re(R"(^[(\[]\s*(\\begin\{array\}.*\\end\{array\})\s*[)\]]$)");
  std::string inner;
  if (RE2::FullMatch(t, re, &inner) && inner.find("\\end{array}") + 11 == inner.size())
    return inner;
  return t;
}

Structure parse_structure(const std::string& s) {
  Structure st;
  std::string t = trim(s);
  // Matrices: \begin{pmatrix} a & b \\ c & d \end{pmatrix} (bmatrix, matrix, vmatrix, array too)
  static const RE2 mat_re(
      R"(^\\begin\{([pbvB]?matrix|array)\}(?:\{[lcr| ]*\})?(.*)\\end\{([pbvB]?matrix|array)\}$)");
  std::string kind1, body, kind2;
  t = bracketed_array(t);
  if (RE2::FullMatch(t, mat_re, &kind1, &body, &kind2) && kind1 == kind2) {
    st.kind = Structure::kMatrix;
    std::vector<std::string> rows = split_top(body, "\\\\");
    while (!rows.empty() && trim(rows.back()).empty()) rows.pop_back();
    st.rows = rows.size();
    for (size_t r = 0; r < rows.size(); r++) {
      std::vector<std::string> cells = split_top(rows[r], "&");
      if (r == 0) st.cols = cells.size();
      if (cells.size() != st.cols) st.cols = 0;  // ragged: never equal to a proper matrix
      for (auto& c : cells) st.elems.push_back(trim(c));
    }
    return st;
  }
  std::vector<std::string> unions = split_top(t, "\\cup");
  if (unions.size() > 1) {
    st.kind = Structure::kUnion;
    for (auto& u : unions) st.elems.push_back(trim(u));
    return st;
  }
  if (t.size() >= 4 && t.compare(0, 2, "\\{") == 0 && t.compare(t.size() - 2, 2, "\\}") == 0 &&
      wraps_whole(t, 2)) {
    st.kind = Structure::kSet;
    st.open = "{";
    st.close = "}";
    std::string inner = t.substr(2, t.size() - 4);
    for (auto& e : split_top(inner, ",")) st.elems.push_back(trim(e));
    return st;
  }
  if (t.size() >= 2 && (t[0] == '(' || t[0] == '[') && (t.back() == ')' || t.back() == ']') &&
      wraps_whole(t, 1)) {
    std::string inner = t.substr(1, t.size() - 2);
    std::vector<std::string> parts = split_top(inner, ",");
    if (parts.size() >= 2) {
      st.kind = Structure::kTuple;
      st.open = std::string(1, t[0]);
      st.close = std::string(1, t.back());
      for (auto& e : parts) st.elems.push_back(trim(e));
      return st;
    }
  }
  std::vector<std::string> parts = split_top(t, ",");
  if (parts.size() >= 2) {
    st.kind = Structure::kList;
    for (auto& e : parts) st.elems.push_back(trim(e));
    return st;
  }
  st.elems.push_back(t);
  return st;
}

bool is_simple_variable(const std::string& s) {
  static const RE2 var_re(
      R"(^([A-Za-z](_\{?[A-Za-z0-9]+\}?)?|\\[a-z]+|[A-Za-z]\([A-Za-z]\)|\([A-Za-z](,[A-Za-z])+\))$)");
  return RE2::FullMatch(nospace(s), var_re);
}

// Relational operators at top level, canonical ASCII after normalisation: <=, >=, !=, <, >, =.
struct Relation {
  std::vector<std::string> sides;
  std::vector<std::string> ops;
};

Relation split_relations(const std::string& s) {
  Relation r;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    size_t n = bracket_step(s, i, depth);
    if (n == 2) i++;
    if (n == 2 || depth != 0) continue;
    std::string op;
    if (s.compare(i, 2, "<=") == 0 || s.compare(i, 2, ">=") == 0 || s.compare(i, 2, "!=") == 0) {
      op = s.substr(i, 2);
    } else if (c == '<' || c == '>' || c == '=') {
      op = std::string(1, c);
    } else if (s.compare(i, 3, "\\in") == 0 && (i + 3 >= s.size() || !is_alpha(s[i + 3]))) {
      op = "in";
    } else if (s.compare(i, 7, "\\approx") == 0 && (i + 7 >= s.size() || !is_alpha(s[i + 7]))) {
      op = "~=";
    }
    if (op.empty()) continue;
    r.sides.push_back(trim(s.substr(start, i - start)));
    r.ops.push_back(op);
    i += (op == "in" ? 3 : op == "~=" ? 7 : op.size()) - 1;
    start = i + 1;
  }
  r.sides.push_back(trim(s.substr(start)));
  return r;
}

// "x >= 5", "5 <= x", "2 < x <= 5", "x \in [2,5]" -> the interval ("[5,\infty)", "(2,5]", ...) and
// the variable; nullopt for anything else.
std::optional<std::string> relation_interval(const Relation& r, std::string* var) {
  auto flip = [](const std::string& op) {
    if (op == "<") return std::string(">");
    if (op == ">") return std::string("<");
    if (op == "<=") return std::string(">=");
    if (op == ">=") return std::string("<=");
    return op;
  };
  if (r.ops.size() == 1) {
    std::string v = r.sides[0], a = r.sides[1], op = r.ops[0];
    if (op == "in") {
      if (!is_simple_variable(v)) return std::nullopt;
      *var = nospace(v);
      return a;
    }
    if (!is_simple_variable(v) && is_simple_variable(a)) {
      std::swap(v, a);
      op = flip(op);
    }
    // |x| < a and |x| > a for a number a: one interval, or two joined.
    static const RE2 abs_re(R"(^\|([A-Za-z])\|$)");
    static const RE2 num_re(R"(^\d+(\.\d+)?$)");
    std::string x;
    if (RE2::FullMatch(nospace(a), abs_re) && !RE2::FullMatch(nospace(v), abs_re)) {
      std::swap(v, a);
      op = flip(op);
    }
    if (RE2::FullMatch(nospace(v), abs_re, &x) && RE2::FullMatch(nospace(a), num_re) && op != "=" &&
        op != "!=") {
      *var = x;
      std::string n = nospace(a);
      if (op == "<") return "(-" + n + "," + n + ")";
      if (op == "<=") return "[-" + n + "," + n + "]";
      if (op == ">") return "(-\\infty,-" + n + ")\\cup(" + n + ",\\infty)";
      if (op == ">=") return "(-\\infty,-" + n + "]\\cup[" + n + ",\\infty)";
    }
    if (!is_simple_variable(v) || a.empty()) return std::nullopt;
    *var = nospace(v);
    // "x \neq 0" is every real but 0 (a constant only: "x \neq y" stays a relation).
    if (op == "!=" && !has_letters(a)) return "(-\\infty," + a + ")\\cup(" + a + ",\\infty)";
    if (op == ">=") return "[" + a + ",\\infty)";
    if (op == ">") return "(" + a + ",\\infty)";
    if (op == "<=") return "(-\\infty," + a + "]";
    if (op == "<") return "(-\\infty," + a + ")";
    return std::nullopt;
  }
  if (r.ops.size() == 2 && is_simple_variable(r.sides[1]) && !r.sides[0].empty() &&
      !r.sides[2].empty()) {
    std::string o1 = r.ops[0], o2 = r.ops[1], a = r.sides[0], b = r.sides[2];
    if ((o1 == ">" || o1 == ">=") && (o2 == ">" || o2 == ">=")) {
      std::swap(a, b);
      std::string t = flip(o2);
      o2 = flip(o1);
      o1 = t;
    }
    if ((o1 != "<" && o1 != "<=") || (o2 != "<" && o2 != "<=")) return std::nullopt;
    *var = nospace(r.sides[1]);
    return (o1 == "<" ? "(" : "[") + a + "," + b + (o2 == "<" ? ")" : "]");
  }
  return std::nullopt;
}

// Top-level "a \pm b" -> "a+b, a-b" (also "\mp"); unchanged when absent.
std::string expand_pm(const std::string& s) {
  for (const char* pm : {"\\pm", "\\mp"}) {
    std::vector<std::string> parts = split_top(s, pm);
    if (parts.size() != 2) continue;
    std::string a = trim(parts[0]), b = trim(parts[1]);
    bool plus_first = std::string(pm) == "\\pm";
    std::string x = a + (plus_first ? "+" : "-") + "(" + b + ")";
    std::string y = a + (plus_first ? "-" : "+") + "(" + b + ")";
    if (a.empty()) {
      x = plus_first ? b : "-(" + b + ")";
      y = plus_first ? "-(" + b + ")" : b;
    }
    return x + ", " + y;
  }
  // One \pm inside a group ("\frac{-1 \pm \sqrt5}{2}"): the two expressions with + and with -.
  for (const char* pm : {"\\pm", "\\mp"}) {
    size_t at = find_command(s, pm, 0);
    if (at == std::string::npos) continue;
    size_t len = std::string(pm).size();
    if (find_command(s, "\\pm", at + len) != std::string::npos ||
        find_command(s, "\\mp", at + len) != std::string::npos ||
        (std::string(pm) == "\\pm" && find_command(s, "\\mp", 0) != std::string::npos))
      return s;
    bool plus_first = std::string(pm) == "\\pm";
    std::string x = s, y = s;
    x.replace(at, len, plus_first ? "+" : "-");
    y.replace(at, len, plus_first ? "-" : "+");
    return x + ", " + y;
  }
  return s;
}

// Splits "a or b", "a and b", "a; b" (top level, whole words) into a list "a, b".
std::string words_to_list(const std::string& s) {
  std::string t = s;
  for (const char* w : {" or ", " and ", ";"}) {
    std::vector<std::string> parts = split_top(t, w);
    if (parts.size() < 2) continue;
    std::string out;
    for (auto& p : parts) {
      std::string e = trim(p);
      while (!e.empty() && e.back() == ',') e = trim(e.substr(0, e.size() - 1));  // "a, or b"
      out += (out.empty() ? "" : ", ") + e;
    }
    t = out;
  }
  return t;
}

MathVerdict scalar_equal(const std::string& g, const std::string& p, const MathOptions& opt);

// True when s names a variable (a letter outside LaTeX command names): "4! = 24" has none.
bool has_letters(const std::string& s) {
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\') {
      while (i + 1 < s.size() && is_alpha(s[i + 1])) i++;
      continue;
    }
    if (is_alpha(s[i])) return true;
  }
  return false;
}

// A left side after which "= value" gives the value: a variable, a function value f(3), a word
// (Area), or a computation without letters (2 \cdot 3, 4!).
bool chain_head(const std::string& lhs) {
  // Also f^{-1}(x), f'(x), g(f(2)), |AB|, \overline{AB}, \angle A, m\angle ABC.
  static const RE2 head_re(
      R"(^([A-Za-z]+|[A-Za-z]{2,}(?: [A-Za-z]{2,}){1,4}|)"
      R"([A-Za-z](_\{?[A-Za-z0-9]+\}?)?('+|\^\{?-1\}?)?\(([^()=]|\([^()=]*\))*\)|)"
      R"(\|[A-Za-z]+\||\\overline\{[A-Za-z]+\}|m?\\angle ?[A-Za-z]+)$)");
  if (is_simple_variable(lhs) || !has_letters(lhs) || RE2::FullMatch(nospace(lhs), head_re))
    return true;
  // A computation with no free letter: "\det A", "lcm(4, 6)", a determinant of numbers, a sum
  // over its own index ("\sum_{k=1}^{10} k").
  static const RE2 det_re(R"(^\\det\s*\(?\s*[A-Z]\s*\)?$)");
  if (RE2::FullMatch(trim(lhs), det_re)) return true;
  std::string t = lhs;
  static const RE2 env_re(R"(\\(?:begin|end)\{[a-z]*\*?\})");
  static const RE2 func_re(R"((^|[^A-Za-z\\])(?:lcm|gcd|max|min)\s*\()");
  RE2::GlobalReplace(&t, env_re, "");
  RE2::GlobalReplace(&t, func_re, "\\1(");
  static const RE2 index_re(R"(^\s*\\(?:sum|prod)_\{?\s*([a-z])\s*=)");
  std::string v;
  if (RE2::PartialMatch(t, index_re, &v)) {
    const RE2 letter_re("(^|[^A-Za-z\\\\])" + v + "([^A-Za-z]|$)");
    for (int k = 0; k < 2; k++) RE2::GlobalReplace(&t, letter_re, "\\1 1\\2");
  }
  return t != lhs && !has_letters(t);
}

// The letter of a multiple-choice answer: "B", "(B)", or "(B) 12" (the choice with its value, no
// second choice after it); "" for anything else.
std::string choice_letter(const std::string& s, std::string* value = nullptr) {
  static const RE2 bare_re(R"(^(?:(?i:option|choice) *)?\(?([A-J])\)?$)");
  static const RE2 valued_re(
      R"(^(?:\(([A-J])\)|([A-J])[):]|(?i:option|choice) +\(?([A-J])\)?)[\s:.]*(.*)$)");
  static const RE2 other_re(R"(\([A-J]\)|\b[A-J]\b|(?i)\b(?:or|and)\b)");
  std::string letter, l1, l2, l3, rest;
  if (RE2::FullMatch(s, bare_re, &letter)) return letter;
  if (RE2::FullMatch(s, valued_re, &l1, &l2, &l3, &rest) && !RE2::PartialMatch(rest, other_re)) {
    if (value) *value = trim(rest);
    return l1 + l2 + l3;
  }
  return "";
}

MathVerdict equal_normalized(const std::string& g_in, const std::string& p_in,
                             const MathOptions& opt, int depth) {
  if (depth > 6) return {false, "nested too deeply"};
  std::string g = trim(g_in), p = trim(p_in);
  if (p.empty()) return {false, "empty answer"};
  if (nospace(g) == nospace(p) && !g.empty()) return {true, "exact"};
  // Clock times: "3:45 pm" = "3:45 PM" = "3:45 p.m."; a gold time without am / pm takes either,
  // one with it needs the same.
  static const RE2 time_re(R"((?i)^(\d{1,2}:\d{2})(?:\s*([ap])\.?\s*m\.?)?$)");
  std::string gt, ga, pt, pa;
  if (RE2::FullMatch(g, time_re, &gt, &ga) && RE2::FullMatch(p, time_re, &pt, &pa)) {
    bool same = gt == pt && (ga.empty() || lower(ga) == lower(pa));
    return {same, same ? "time" : "different time"};
  }
  // Fast path: two plain decimals need none of the splitting below.
  static const RE2 plain_re(R"(^-?\d+(\.\d+)?$)");
  if (RE2::FullMatch(g, plain_re) && RE2::FullMatch(p, plain_re)) return scalar_equal(g, p, opt);
  // Words compare without case ("Yes" = "yes", "TRUE" = "True"); letters of two are symbols.
  static const RE2 words_re(R"(^[A-Za-z][A-Za-z ]*[A-Za-z]$)");
  if (RE2::FullMatch(g, words_re) && RE2::FullMatch(p, words_re) && lower(g) == lower(p) &&
      (g.size() >= 3 || lower(g) == "no"))
    return {true, "same words"};
  // A choice letter followed by its value, "(B) 12", answers the choice "B".
  std::string g_value;
  std::string gc = choice_letter(g, &g_value), pc = choice_letter(p);
  if (!gc.empty() && !pc.empty()) return {gc == pc, gc == pc ? "choice" : "different choice"};
  // A gold "(D) \frac32" is answered by its value too.
  if (!gc.empty() && !g_value.empty()) return equal_normalized(g_value, p, opt, depth + 1);
  // A rounded decimal gold may be answered "approximately": "\approx 28.27", "A = \pi r^2 \approx
  // 28.27"; an exact gold never is ("about 12" is not 12).
  static const RE2 rounded_re(R"(^-?\d*\.\d+$)");
  bool rounded_gold = RE2::FullMatch(g, rounded_re);
  static const RE2 approx_word_re(
      R"((?i)^(?:approximately|approx\.?|about|roughly|around)\s+(.+)$)");
  std::string approx_rest;
  if (rounded_gold && RE2::FullMatch(p, approx_word_re, &approx_rest))
    return equal_normalized(g, "\\approx " + approx_rest, opt, depth + 1);
  // Several answers written with words; \pm as two answers.
  std::string g2 = expand_pm(words_to_list(g)), p2 = expand_pm(words_to_list(p));
  if (g2 != g || p2 != p) return equal_normalized(g2, p2, opt, depth + 1);
  // A value restated in brackets, "1/2 (0.5)", "25% (1/4)", "8 (2^3)", "10 (or 10.0)": two
  // alternatives, never a product.
  static const RE2 restated_re(
      R"(^(.*[^\s(])\s+\((?:\s*(?:or|i\.e\.,?|that is,?)\s+)?([^()]+)\)$)");
  std::string first, second;
  if (RE2::FullMatch(p, restated_re, &first, &second) && !has_letters(first) &&
      !has_letters(second) && !trim(second).empty() &&
      (is_digit(first.back()) || first.back() == '}' || first.back() == '%'))  // not "\sin (x)"
    return equal_normalized(g, first + ", " + trim(second), opt, depth + 1);
  // One value said several ways ("0.5 or 50%", "3/4, or 0.75") answers a single gold value when
  // every alternative equals every other; alternatives that differ ("2 or -2") stay a list.
  std::vector<std::string> alternatives = split_top(p, ",");
  if (alternatives.size() >= 2 && alternatives.size() <= 4 && split_top(g, ",").size() == 1 &&
      parse_structure(g).kind == Structure::kScalar) {
    bool same = true;
    std::string var;  // "x = \frac12, 0.5": the value of one variable said twice
    for (auto& a : alternatives) {
      a = trim(a);
      Relation r = split_relations(a);
      if (r.ops.size() == 1 && r.ops[0] == "=" && is_simple_variable(r.sides[0]) &&
          (var.empty() || var == nospace(r.sides[0]))) {
        var = nospace(r.sides[0]);
        a = r.sides[1];
        r = split_relations(a);
      }
      same = same && !a.empty() && !has_letters(a) && r.ops.empty();
    }
    for (size_t i = 0; i < alternatives.size() && same; i++)
      for (size_t j = i + 1; j < alternatives.size() && same; j++)
        same = equal_normalized(alternatives[i], alternatives[j], opt, depth + 1).equal;
    if (same) {
      for (const auto& a : alternatives)
        if (equal_normalized(g, a, opt, depth + 1).equal) return {true, "one value restated"};
      return {false, "restated value differs"};
    }
  }
  // "x \in \{1, 3\}" answers the values 1, 3.
  for (int side = 0; side < 2; side++) {
    Relation r = split_relations(side == 0 ? p : g);
    if (r.ops.size() == 1 && r.ops[0] == "in" && is_simple_variable(r.sides[0]) &&
        parse_structure(r.sides[1]).kind == Structure::kSet &&
        split_relations(side == 0 ? g : p).ops.empty())
      return side == 0 ? equal_normalized(g, r.sides[1], opt, depth + 1)
                       : equal_normalized(r.sides[1], p, opt, depth + 1);
  }
  // Relations and equations ("x=1, y=2" is a list of them: the structure below handles it).
  bool lists = split_top(g, ",").size() > 1 || split_top(p, ",").size() > 1;
  Relation gr = split_relations(g), pr = split_relations(p);
  // "7 = x" gives its value first.
  for (Relation* r : {&gr, &pr})
    if (r->ops.size() == 1 && r->ops[0] == "=" && is_simple_variable(r->sides[1]) &&
        !has_letters(r->sides[0]) && !r->sides[0].empty())
      std::swap(r->sides[0], r->sides[1]);
  bool g_rel = !lists && gr.ops.size() > 0, p_rel = !lists && pr.ops.size() > 0;
  if (g_rel || p_rel) {
    auto all_eq = [rounded_gold](const Relation& r) {
      return std::all_of(r.ops.begin(), r.ops.end(), [rounded_gold](const std::string& o) {
        return o == "=" || (o == "~=" && rounded_gold);
      });
    };
    // "\frac{\sqrt3}{2} \approx 0.866" answers an exact gold by the constant before the "\approx".
    size_t first_approx = std::find(pr.ops.begin(), pr.ops.end(), "~=") - pr.ops.begin();
    if (p_rel && !g_rel && !rounded_gold && first_approx < pr.ops.size() &&
        !pr.sides[first_approx].empty() && !has_letters(pr.sides[first_approx]) &&
        std::all_of(pr.ops.begin(), pr.ops.begin() + first_approx,
                    [](const std::string& o) { return o == "="; }) &&
        (first_approx == 0 || chain_head(pr.sides[0]))) {
      // The approximation must round or cut the value at its last place ("12 \approx 13" is
      // false).
      auto exact = parse_number(nospace(pr.sides[first_approx]));
      auto near = parse_number(nospace(strip_units(pr.sides[first_approx + 1])));
      if (exact && near) {
        std::string digits = nospace(strip_units(pr.sides[first_approx + 1]));
        size_t dot = digits.find('.');
        int places = dot == std::string::npos ? 0 : static_cast<int>(digits.size() - dot - 1);
        if (std::fabs(static_cast<double>(approx(*exact) - approx(*near))) >=
            std::pow(10.0, -places))
          return {false, "a false approximation"};
      }
      return equal_normalized(g, pr.sides[first_approx], opt, depth + 1);
    }
    if (p_rel && !g_rel && pr.ops.size() == 1 && pr.ops[0] == "~=" && pr.sides[0].empty())
      return rounded_gold ? equal_normalized(g, pr.sides[1], opt, depth + 1)  // "\approx 28.27"
                          : MathVerdict{false, "an approximation of an exact answer"};
    std::string gv, pv;
    std::optional<std::string> gi = g_rel ? relation_interval(gr, &gv) : std::nullopt;
    std::optional<std::string> pi = p_rel ? relation_interval(pr, &pv) : std::nullopt;
    if (gi || pi) {
      if (gi && pi && gv != pv) return {false, "different variables"};
      return equal_normalized(gi ? *gi : g, pi ? *pi : p, opt, depth + 1);
    }
    if (g_rel && !all_eq(gr)) {  // x != 3 and other relations: same operator, same sides
      if (gr.ops != pr.ops) return {false, "different relation"};
      bool same = true;
      for (size_t k = 0; k < gr.sides.size() && same; k++)
        same = equal_normalized(gr.sides[k], pr.sides[k], opt, depth + 1).equal;
      if (!same && gr.ops.size() == 1 && gr.ops[0] == "!=")  // b != a for a != b
        same = equal_normalized(gr.sides[0], pr.sides[1], opt, depth + 1).equal &&
               equal_normalized(gr.sides[1], pr.sides[0], opt, depth + 1).equal;
      return {same, same ? "relation" : "different relation"};
    }
    if (p_rel && !all_eq(pr)) return {false, "different relation"};
    // Equations and assignment chains: "x = 5", "x = 5+5+1 = 11" (the final side answers).
    bool g_simple = g_rel && is_simple_variable(gr.sides[0]);
    if (g_rel && !g_simple && gr.sides.size() == 2 && has_letters(g)) {
      // An equation is the answer ("x^2+y^2=1"): the same equation, sides moved or not.
      if (pr.sides.size() != 2) return {false, "not an equation"};
      std::string gd = "(" + gr.sides[0] + ")-(" + gr.sides[1] + ")";
      std::string pd = "(" + pr.sides[0] + ")-(" + pr.sides[1] + ")";
      if (scalar_equal(gd, pd, opt).equal || scalar_equal(gd, "-(" + pd + ")", opt).equal)
        return {true, "equation"};
      return {false, "different equation"};
    }
    if (g_simple && p_rel && is_simple_variable(pr.sides[0]) &&
        nospace(gr.sides[0]) != nospace(pr.sides[0]))
      return {false, "different variables"};
    // "y = 2x + 3" answered by "2x - y + 3 = 0": the same equation with its sides moved.
    if (g_simple && p_rel && gr.sides.size() == 2 && pr.sides.size() == 2 && all_eq(pr) &&
        pr.ops[0] == "=" && !is_simple_variable(pr.sides[0]) && has_letters(pr.sides[0]) &&
        !chain_head(pr.sides[0])) {
      std::string gd = "(" + gr.sides[0] + ")-(" + gr.sides[1] + ")";
      std::string pd = "(" + pr.sides[0] + ")-(" + pr.sides[1] + ")";
      if (scalar_equal(gd, pd, opt).equal || scalar_equal(gd, "-(" + pd + ")", opt).equal)
        return {true, "equation"};
      return {false, "different equation"};
    }
    // The final side answers only when the chain starts with what was asked (x, f(3), a word) or
    // with a computation (2 \cdot 3 = 6): "x^2 = 5" does not answer 5.
    if (p_rel && !g_rel && !chain_head(pr.sides[0])) return {false, "an equation, not a value"};
    // A false equation answers nothing: every side without letters must equal the final one
    // ("13 = 12", "x = 6 + 7 = 12" hold a value that is not the answer).
    if (p_rel) {
      if (pr.sides.size() > 16) return {false, "an equation chain of over 16 sides"};
      // A side of arithmetic on numbers only: digits, + - * / ( ), \frac, \cdot, \times, \div
      // (never a power: a congruence "13^{-1} \equiv 17 \pmod{20}" reads "13^{-1} = 17").
      static const RE2 command_re(R"(\\(?:[dt]?frac|cdot|times|div|left|right)\b)");
      static const RE2 arithmetic_re(R"([\d\s+\-*/().,{}]+)");
      auto constant = [](std::string side) {
        RE2::GlobalReplace(&side, command_re, "");
        return !trim(side).empty() && RE2::FullMatch(side, arithmetic_re);
      };
      for (size_t k = 0; k < pr.ops.size(); k++) {
        std::string a = strip_units(pr.sides[k]), b = strip_units(pr.sides[k + 1]);
        if (pr.ops[k] == "=" && constant(a) && constant(b) && !scalar_equal(a, b, opt).equal)
          return {false, "a false equation"};
      }
    }
    // The final side may carry a unit ("5 - 3 = 2 apples").
    std::string gf = g_rel ? strip_units(gr.sides.back()) : g;
    std::string pf = p_rel ? strip_units(pr.sides.back()) : p;
    if (gf.empty() || pf.empty()) return {false, "empty side"};
    return equal_normalized(gf, pf, opt, depth + 1);
  }
  // Decimal comma against a decimal gold: "3,14" for 3.14 (not "1,500", a thousands separator).
  static const RE2 comma_re(R"(^(-?\d+),(\d{1,2}|\d{4,})$)");
  std::string ip, fp;
  if (RE2::FullMatch(nospace(p), comma_re, &ip, &fp) && g.find('.') != std::string::npos &&
      looks_numeric(g))
    return equal_normalized(g, ip + "." + fp, opt, depth + 1);
  Structure gs = parse_structure(g), ps = parse_structure(p);
  if (gs.kind == Structure::kScalar && ps.kind == Structure::kScalar)
    return scalar_equal(g, p, opt);
  // A set of one element is that element: "\{42\}" answers 42.
  if (gs.kind == Structure::kSet && gs.elems.size() == 1 && ps.kind != Structure::kSet)
    return equal_normalized(gs.elems[0], p, opt, depth + 1);
  if (ps.kind == Structure::kSet && ps.elems.size() == 1 && gs.kind != Structure::kSet)
    return equal_normalized(g, ps.elems[0], opt, depth + 1);
  // Relations in one variable joined by "or" against a union: "x < 3 or x > 5".
  auto relations_to_union = [](Structure& st) {
    if (st.kind != Structure::kList) return;
    std::string var;
    std::vector<std::string> intervals;
    for (const auto& e : st.elems) {
      Relation r = split_relations(e);
      std::string v;
      std::optional<std::string> iv = r.ops.empty() ? std::nullopt : relation_interval(r, &v);
      if (!iv || (!var.empty() && v != var)) return;
      var = v;
      intervals.push_back(*iv);
    }
    st.kind = Structure::kUnion;
    st.elems = intervals;
  };
  if (gs.kind == Structure::kUnion) relations_to_union(ps);
  if (ps.kind == Structure::kUnion) relations_to_union(gs);
  // Named coordinates "x=1, y=2" answer the point (1,2), in the order written.
  auto coordinates_to_tuple = [](Structure& st) {
    if (st.kind != Structure::kList) return;
    std::vector<std::string> names;
    for (const auto& e : st.elems) {
      Relation r = split_relations(e);
      if (r.ops.size() != 1 || r.ops[0] != "=" || !is_simple_variable(r.sides[0])) return;
      std::string v = nospace(r.sides[0]);
      if (std::find(names.begin(), names.end(), v) != names.end()) return;
      names.push_back(v);
    }
    st.kind = Structure::kTuple;
    st.open = "(";
    st.close = ")";
  };
  if (gs.kind == Structure::kTuple && gs.open == "(" && gs.close == ")") coordinates_to_tuple(ps);
  if (ps.kind == Structure::kTuple && ps.open == "(" && ps.close == ")") coordinates_to_tuple(gs);
  // A list of equations "x=1, y=2" compares by values.
  auto strip_eqs = [](Structure& st) {
    for (auto& e : st.elems) {
      Relation r = split_relations(e);
      if (r.ops.size() == 1 && r.ops[0] == "=" && is_simple_variable(r.sides[0])) e = r.sides[1];
    }
  };
  // Named values "a=2, b=3" compare by name when both sides name them (b=3, a=2 is the same, a=3,
  // b=2 is not), and in order against plain values.
  auto names = [](const Structure& st) {
    std::vector<std::string> out;
    for (const auto& e : st.elems) {
      Relation r = split_relations(e);
      if (r.ops.size() != 1 || r.ops[0] != "=" || !is_simple_variable(r.sides[0])) return out;
      out.push_back(nospace(r.sides[0]));
    }
    std::vector<std::string> sorted = out;
    std::sort(sorted.begin(), sorted.end());
    bool repeated = std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
    if (repeated || out.size() < 2) out.clear();  // x=1, x=2 are roots: values, unordered
    return out;
  };
  std::vector<std::string> gn = names(gs), pn = names(ps);
  if (!gn.empty() && gs.kind == Structure::kList) {
    std::vector<std::string> gsorted = gn, psorted = pn;
    std::sort(gsorted.begin(), gsorted.end());
    std::sort(psorted.begin(), psorted.end());
    if (!pn.empty() && gsorted == psorted) {
      for (size_t i = 0; i < gn.size(); i++) {
        size_t j = std::find(pn.begin(), pn.end(), gn[i]) - pn.begin();
        if (!equal_normalized(gs.elems[i], ps.elems[j], opt, depth + 1).equal)
          return {false, "value of " + gn[i] + " differs"};
      }
      return {true, "named values"};
    }
    if (!pn.empty()) return {false, "different names"};
    if (ps.kind == Structure::kList) {  // plain values in the order of the names
      ps.kind = gs.kind = Structure::kTuple;
      gs.open = ps.open = "(";
      gs.close = ps.close = ")";
    }
  }
  if (gs.kind == Structure::kList || gs.kind == Structure::kTuple) strip_eqs(gs);
  if (ps.kind == Structure::kList || ps.kind == Structure::kTuple) strip_eqs(ps);
  bool unordered_g = gs.kind == Structure::kSet || gs.kind == Structure::kList;
  bool unordered_p = ps.kind == Structure::kSet || ps.kind == Structure::kList;
  if (gs.kind != ps.kind && !(unordered_g && unordered_p)) return {false, "different structure"};
  if (gs.elems.size() != ps.elems.size()) return {false, "different number of elements"};
  if (gs.kind == Structure::kTuple && (gs.open != ps.open || gs.close != ps.close))
    return {false, "different brackets"};
  if (gs.kind == Structure::kMatrix && (gs.rows != ps.rows || gs.cols != ps.cols || gs.cols == 0))
    return {false, "different matrix shape"};
  const char* how = gs.kind == Structure::kMatrix  ? "matrix"
                    : gs.kind == Structure::kTuple ? "tuple"
                    : gs.kind == Structure::kUnion ? "union"
                                                   : "set";
  if (unordered_g || gs.kind == Structure::kUnion) {
    // Unordered: every gold element matched by a distinct predicted one (greedy is exact for
    // an equivalence relation).
    std::vector<bool> used(ps.elems.size(), false);
    for (const auto& ge : gs.elems) {
      bool found = false;
      for (size_t j = 0; j < ps.elems.size() && !found; j++) {
        if (used[j]) continue;
        if (equal_normalized(ge, ps.elems[j], opt, depth + 1).equal) {
          used[j] = true;
          found = true;
        }
      }
      if (!found) return {false, std::string(how) + " elements differ"};
    }
    return {true, how};
  }
  for (size_t i = 0; i < gs.elems.size(); i++) {
    MathVerdict v = equal_normalized(gs.elems[i], ps.elems[i], opt, depth + 1);
    if (!v.equal)
      return {false, std::string(how) + " element " + std::to_string(i + 1) + " differs"};
  }
  return {true, how};
}

MathVerdict scalar_equal(const std::string& g, const std::string& p, const MathOptions& opt) {
  std::optional<Number> gn = parse_number(g), pn = parse_number(p);
  if (gn && pn) {
    Cmp c = numbers_equal(*gn, *pn, opt.rel_tol);
    if (c == Cmp::kEqual) return {true, "numeric"};
    // A long decimal may still round a fraction with no finite decimal (0.333333 for 1/3).
    if (gn->decimal || !pn->decimal || pn->percent || gn->percent || !opt.symbolic)
      return {false, c == Cmp::kUnknown ? "number too large" : "different number"};
  }
  if (!opt.symbolic) return {false, "no match"};
  std::string ge = gn ? gn->expr : g, pe = pn ? pn->expr : p;
  SymbolicVerdict sv = symbolic_equal(ge, pe, opt.symbolic_timeout_s, opt.max_symbolic_chars);
  switch (sv) {
    case SymbolicVerdict::kEqual:
      return {true, "symbolic"};
    case SymbolicVerdict::kNotEqual:
      return {false, "not equivalent"};
    case SymbolicVerdict::kTimeout:
      return {false, "symbolic timeout"};
    case SymbolicVerdict::kTooLarge:
      return {false, "too large for symbolic check"};
    case SymbolicVerdict::kUnparsable:
      return {false, "no match"};
  }
  return {false, "no match"};
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    std::string t = trim(s.substr(b, e - b));
    if (!t.empty()) out.push_back(t);
    b = e + 1;
  }
  return out;
}

// A reference that reads like a sentence or a worked solution, not a bare answer.
bool reads_like_text(const std::string& s) {
  if (s.find('\n') != std::string::npos || s.find('$') != std::string::npos) return true;
  std::string t = s;
  int words = 0;
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i] == '\\') {  // a command is not a word
      while (i + 1 < t.size() && is_alpha(t[i + 1])) i++;
      continue;
    }
    if (!is_alpha(t[i])) continue;
    size_t j = i;
    while (j < t.size() && is_alpha(t[j])) j++;
    if (j - i >= 2) words++;
    i = j - 1;
  }
  return words >= 3;
}

// Thousands written with spaces or LaTeX spacing in prose ("1 000 000", "1\,000", "1{,}000",
// "1,\!000", "12 345") as "1,000,000", which last_number reads.
std::string prose_thousands(const std::string& s) {
  static const char* seps[] = {"\\,",      "{,}",          ",\\!",         "\\ ",
                               "\xc2\xa0", "\xe2\x80\xaf", "\xe2\x80\x89", " "};
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    bool starts = is_digit(s[i]) && (i == 0 || !(is_digit(s[i - 1]) || is_alpha(s[i - 1]) ||
                                                 s[i - 1] == '.' || s[i - 1] == ','));
    size_t j = i;
    while (starts && j < s.size() && is_digit(s[j])) j++;
    if (!starts || j - i > 3) {
      size_t stop = starts ? j : i + 1;
      out.append(s, i, stop - i);
      i = stop;
      continue;
    }
    std::string joined = s.substr(i, j - i);
    int groups = 0;
    bool latex = false;
    for (;;) {
      bool more = false;
      for (const char* sep : seps) {
        size_t n = std::strlen(sep), d = j + n;
        if (s.compare(j, n, sep) != 0 || d + 3 > s.size()) continue;
        if (!is_digit(s[d]) || !is_digit(s[d + 1]) || !is_digit(s[d + 2])) continue;
        if (d + 3 < s.size() && is_digit(s[d + 3])) continue;
        joined += "," + s.substr(d, 3);
        latex = latex || std::string(sep) != " ";
        groups++;
        j = d + 3;
        more = true;
        break;
      }
      if (!more) break;
    }
    // "2 100-meter races" stays two numbers
    bool joins = groups >= 2 ||
                 (groups == 1 && (latex || j == s.size() || !(is_alpha(s[j]) || s[j] == '-')));
    out += joins ? joined : s.substr(i, j - i);
    i = j;
  }
  return out;
}

// The last sentence of prose cut after its answer where the rest only describes it: a reason or a
// circumstance after a comma ("9 buses, because 8 would hold 400", "180 miles, at 60 mph for 3
// hours", "14, twice as old as her brother who is 7", "42, which is 70% of the 60") or what follows
// a result word ("15 cookies remain for the 3 children"); never when the rest concludes ("so",
// "total", "gives", "=", "is 12").
std::string answer_clause(const std::string& text) {
  std::string t = mask_latex(text);
  size_t end = t.size();
  while (end > 0 && (is_space(t[end - 1]) || t[end - 1] == '.' || t[end - 1] == '!')) end--;
  size_t sb = end;
  while (
      sb > 0 && t[sb - 1] != '\n' &&
      !(is_space(t[sb - 1]) && sb >= 2 && std::string(".!?").find(t[sb - 2]) != std::string::npos))
    sb--;
  static const RE2 cut_re(
      R"((?i)\d%?(?:\s+[a-z'-]+){0,4}?(\s*,\s*(?:since|because|as|using|at|given|twice|thrice|who|whose|)"
      R"(half)\b|\s*,\s*which is (?:\d+(?:\.\d+)?\s*(?:%|percent\b)|(?:twice|half|\w+ times)\b)|)"
      R"(\s*,\s*(?:i\.e\.|that is)|)"
      R"(\s+(?:since|because|using)\b|)"
      R"(\s+(?:remain|remains|remaining|left|in total|in all|altogether)\b()))");
  static const RE2 concludes_re(
      R"((?i)\b(?:so|thus|therefore|hence|total|totals|in all|altogether|sum|answer|result|)"
      R"(giving|gives?|makes?|making|leaves|leaving|left|remains?|remaining|equals?|yields?|)"
      R"(comes? to|gets?)\b|=|\b(?:is|are|was|were)\s+\$?\d|'s\s+\$?\d)");
  // A reason may compute ("3 more, because 7 + 3 = 10"); only a new conclusion ends it.
  static const RE2 reason_re(R"((?i)^\s*,?\s*(?:since|because)\b)");
  static const RE2 reason_concludes_re(R"((?i)\b(?:so|thus|therefore|hence|answer)\b)");
  static const RE2 who_re(R"((?i)\b(?:who|which|that)\s+((?:is|are|was|were))\b)");
  // The sentence once, "who is 7" with its verb blanked; where its last digit and its last
  // conclusion of either kind start, so that each cut is decided without reading the rest again
  // (copying the rest at every cut was quadratic: "1, which is 5% so " repeated took 24 s).
  std::string w = t.substr(sb, end - sb);
  re2::StringPiece who_in(w), verb;
  while (RE2::FindAndConsume(&who_in, who_re, &verb))
    std::fill_n(w.begin() + (verb.data() - w.data()), verb.size(), ' ');
  auto last_start = [&w](const RE2& captured) {
    size_t last = std::string::npos;
    re2::StringPiece scan(w), m;
    while (RE2::FindAndConsume(&scan, captured, &m))
      last = static_cast<size_t>(m.data() - w.data());
    return last;
  };
  static const RE2 concludes_cap("(" + concludes_re.pattern() + ")");
  static const RE2 reason_concludes_cap("(" + reason_concludes_re.pattern() + ")");
  const size_t conclusion = last_start(concludes_cap);
  const size_t reason_conclusion = last_start(reason_concludes_cap);
  const size_t digit = w.find_last_of("0123456789");
  re2::StringPiece in(t.data() + sb, end - sb), clause, after;
  while (RE2::FindAndConsume(&in, cut_re, &clause, &after)) {
    size_t at = static_cast<size_t>(clause.data() - t.data());
    size_t cut = after.data() ? static_cast<size_t>(after.data() - t.data()) : at;
    size_t rel = cut - sb;
    if (digit == std::string::npos || digit < rel) return text;
    bool reason = RE2::PartialMatch(re2::StringPiece(w).substr(rel), reason_re);
    size_t last = reason ? reason_conclusion : conclusion;
    if (last != std::string::npos && last >= rel) continue;
    return text.substr(0, cut);
  }
  return text;
}

// Answers to parts closing the text, "(a) 12 (b) 15", "a) $12$, b) $15$" (one per line too): the
// list of them, never the last part alone; nullopt unless the last paragraph is only that.
std::optional<std::string> part_answers(const std::string& text) {
  size_t para = text.rfind("\n\n", text.find_last_not_of(" \t\r\n"));
  std::string p = text.substr(para == std::string::npos ? 0 : para + 2);
  if (p.size() > 400) return std::nullopt;
  // Also one part per list item: "- Part (a): $12$", "* (b) 15".
  // Or one per row of a Markdown table: "| (a) | 12 |".
  static const RE2 lead_re(R"((?i)^[\s*\-\x{2022}]*(?:(?:final\s+)?answers?\s*:)?[\s*\-\x{2022}]*)"
                           R"((?:\|[^\n]*\n\s*\|[-:| \t]+\n)?[\s|]*$)");
  static const RE2 gap_re(R"(^[\s,;.*|]*(?:\n[\s*]*[\-\x{2022}][\s*]*)?$)");
  re2::StringPiece in(p), whole, letter, value;
  std::vector<std::string> values;
  size_t prev_end = 0;
  static const RE2 wrapped_re(
      R"(((?:[Pp]art\s+)?\(?([a-h])\)\s*[:|]?\s*(\$[^$]{1,80}\$|-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?%?)))");
  while (RE2::FindAndConsume(&in, wrapped_re, &whole, &letter, &value)) {
    size_t at = static_cast<size_t>(whole.data() - p.data());
    re2::StringPiece gap = re2::StringPiece(p).substr(prev_end, at - prev_end);
    if (letter[0] != static_cast<char>('a' + values.size())) return std::nullopt;
    if (!RE2::FullMatch(gap, values.empty() ? lead_re : gap_re)) return std::nullopt;
    std::string v(value);
    if (v.size() >= 2 && v.front() == '$') v = v.substr(1, v.size() - 2);
    values.push_back(trim(v));
    prev_end = at + whole.size();
  }
  if (values.size() < 2 || !RE2::FullMatch(re2::StringPiece(p).substr(prev_end), gap_re))
    return std::nullopt;
  std::string out;
  for (const std::string& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

// A committed answer (a box, a tag, "####", a stated answer) with a hedge around it or a second
// value offered beside it: "likely $\boxed{12}$", "$\boxed{12}$ or so", "$\boxed{12}$, or possibly
// 13", "$\boxed{12}$ (13 if the ends count)", "12. Alternatively, 13" is the hedged answer or both
// values, never the committed one alone; nullopt when nothing hedges it.
std::optional<std::string> hedged_around(const std::string& text, const std::string& answer) {
  std::string a = trim(answer);
  // Only a short answer is looked for (rfind of a long one in a long text is quadratic).
  size_t p = a.empty() || a.size() > kLook ? std::string::npos : text.rfind(a);
  if (p == std::string::npos) return std::nullopt;
  size_t b = p, e = p + a.size();
  // The answer's own delimiters: \boxed{ }, $ $, \( \), ** **, <answer> </answer>.
  static const RE2 open_re(R"(((?:\\boxed\s*\{|\\fbox\s*\{|<answer>|\$|\\\(|\\\[|\*\*|\s)+)$)");
  static const RE2 close_re(R"(^((?:\}|</answer>|\$|\\\)|\\\]|\*\*|[ \t])+))");
  re2::StringPiece before =
      re2::StringPiece(text).substr(b > kLook ? b - kLook : 0, b > kLook ? kLook : b);
  re2::StringPiece m;
  if (RE2::PartialMatch(before, open_re, &m)) b -= m.size();
  re2::StringPiece after = re2::StringPiece(text).substr(e, kLook);
  if (RE2::PartialMatch(after, close_re, &m)) e += m.size();
  std::string q_before, q_after;
  match_before(text, b, qualifier_before_re(), &q_before);
  match_after(text, e, qualifier_after_re(), &q_after);
  if (q_after.empty()) match_after(text, e, hedge_after_re(), &q_after);
  if (!q_before.empty() || !q_after.empty()) return trim(q_before + " " + a + " " + q_after);
  // A question mark after it, a guess or doubt before it in its sentence, "is my best guess".
  static const RE2 question_re(R"(^\s*\?)");
  static const RE2 doubt_before_re(
      R"((?i)\b(?:not sure|unsure|not certain|uncertain|i guess|guessing|(?:my|a|an|our)\s+)"
      R"((?:best\s+|rough\s+|wild\s+|educated\s+)?guess)\b[^.!?\n]{0,60}$)");
  static const RE2 guess_after_re(
      R"((?i)^\s*(?:is|was)\s+(?:my|a|an|our|just a)\s+(?:best\s+|rough\s+|wild\s+|educated\s+)?)"
      R"((?:guess|estimate)\b)");
  if (match_after(text, e, question_re) || match_before(text, b, doubt_before_re) ||
      match_after(text, e, guess_after_re))
    return "maybe " + a;
  // Another reading's answer after it: "If the problem meant 4 bags, the answer would be 16." (a
  // counterfactual that goes on, "..., it would be 15, but she ate 3", offers nothing).
  static const RE2 would_re(
      R"((?i)\b(?:if|had|were|assuming|suppose)\b[^.\n]{0,120}\b(?:answer|result|total|it)\s+)"
      R"(would\s+(?:instead\s+)?(?:be|have\s+been)\s+\$?(-?\d+(?:\.\d+)?)\$?\s*(?:[.!]|$))");
  std::string other;
  if (RE2::PartialMatch(re2::StringPiece(text).substr(e, 2 * kLook), would_re, &other) &&
      other != a)
    return a + ", " + other;
  // The next value after it, and what stands between.
  static const RE2 value_re(R"(((?:\$|\\\(|\\boxed\{)?\s*-?\d+(?:\.\d+)?(?:\s*(?:\$|\\\)|\}))?))");
  re2::StringPiece window = re2::StringPiece(text).substr(e, kLook), rest = window, value;
  if (!RE2::FindAndConsume(&rest, value_re, &value)) return std::nullopt;
  re2::StringPiece between = window.substr(0, value.data() - window.data());
  static const RE2 or_offer_re(
      R"((?i)^[\s.,;:]*\(?\s*(?:or|and/or)(?:\s+(?:possibly|maybe|perhaps|else|even|rather|)"
      R"(alternatively))?\s*$|^[\s.,;:]*\(?\s*(?:maybe|perhaps|possibly|probably)\s*,?\s*$)");
  static const RE2 condition_re(
      R"((?i)^\s*(?:if|when|depending|assuming|under|for some|in case)\b)");
  static const RE2 also_re(
      R"((?i)^\s*(?:is|would|could|might|may)\s+(?:also\s+)?(?:be\s+)?(?:also\s+)?(?:possible|)"
      R"(valid|acceptable|accepted|correct|right|fine|an? (?:option|answer|possibility|alternative))\b|)"
      R"(^\s*(?:also works|works too|works as well))");
  static const RE2 unless_re(
      R"((?i)^[\s.,;:(]*(?:unless|otherwise|or else|or if|except (?:if|when)|alternatively)\b[^.\n]{0,40}$)");
  static const RE2 bracket_re(R"(^[\s.,;:]*\(\s*$)");
  static const RE2 concludes_re(R"((?i)\b(?:so|therefore|thus|hence|answer|final|not|no)\b)");
  // "$\boxed{12}$, which could also be written as $2^2 \cdot 3$": both, for the one-value rule.
  if (between.size() <= 80 && RE2::PartialMatch(between, written_as_re())) {
    size_t v = static_cast<size_t>(value.data() - text.data());
    size_t close = text[v] == '$' ? text.find('$', v + 1) : std::string::npos;
    if (close != std::string::npos && close - v <= kLook)
      return a + ", " + trim(text.substr(v + 1, close - v - 1));
  }
  bool offered = hedged_between(between) || RE2::FullMatch(between, or_offer_re) ||
                 RE2::FullMatch(between, unless_re) ||
                 (RE2::FullMatch(between, bracket_re) && RE2::PartialMatch(rest, condition_re)) ||
                 (between.size() <= 40 && !RE2::PartialMatch(between, concludes_re) &&
                  RE2::PartialMatch(rest, also_re));
  if (!offered) return std::nullopt;
  // Offered as math: the whole of it ("(alternatively, $3 \times 4$)"), so that the one-value rule
  // reads a restatement of the same value as one answer.
  size_t vb = static_cast<size_t>(value.data() - text.data());
  if (text[vb] == '$' && vb + 1 < text.size() && text[vb + 1] != '$') {
    size_t close = text.find('$', vb + 1);
    if (close != std::string::npos && close - vb <= kLook)
      return a + ", " + trim(text.substr(vb + 1, close - vb - 1));
  }
  std::string v(value);
  static const RE2 strip_re(R"(\$|\\\(|\\\)|\\boxed\{|\})");
  RE2::GlobalReplace(&v, strip_re, "");
  return a + ", " + trim(v);
}

// The text with every box emptied ("\boxed{12}" becomes "\boxed{}"), in one pass.
std::string without_boxes(const std::string& text) {
  std::string out;
  Braces braces(text);
  size_t pos = 0;
  for (size_t b = text.find("\\boxed{"); b != std::string::npos; b = text.find("\\boxed{", pos)) {
    size_t e = braces.close(b + 6);
    if (e == std::string::npos) break;
    out.append(text, pos, b + 7 - pos);
    out += '}';
    pos = e;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

// The answer in text by the first of methods that finds one.
std::optional<std::string> extract_by(const std::string& text,
                                      const std::vector<std::string>& methods,
                                      std::string* method) {
  // A box, an answer tag and "####" each commit to an answer: different ones are several answers
  // ("#### 13" and "\boxed{12}"), as two different boxes are.
  auto marked = [&text](const std::string& m) -> std::optional<std::string> {
    if (m == "boxed") {
      std::vector<std::string> boxes = all_boxed(text);
      // "\boxed{\text{She has 12 apples.}}": the sentence's one number.
      static const RE2 text_re(R"(^\s*\\text\{([^{}]*)\}\s*$)");
      std::string inner;
      for (std::string& b : boxes)
        if (b.size() <= kLook && RE2::FullMatch(b, text_re, &inner))
          if (auto n = sentence_value(trim(inner))) b = *n;
      if (!boxes.empty()) return join_answers(boxes);
      return std::nullopt;
    }
    if (m == "answer_tag") return answer_tag(text);
    return gsm8k_all(text);
  };
  auto is_marked = [](const std::string& m) {
    return m == "boxed" || m == "answer_tag" || m == "gsm8k";
  };
  for (const std::string& m : methods) {
    std::optional<std::string> a;
    if (is_marked(m)) {
      a = marked(m);
      if (a && !trim(*a).empty()) {
        std::vector<std::string> all = {*a};
        for (const std::string& other : methods)
          if (other != m && is_marked(other))
            if (auto b = marked(other); b && !trim(*b).empty() && !reads_like_text(*b))
              all.push_back(*b);
        // A final answer stated beside a box ("$\boxed{12}$. Final answer: 13") is one more
        // answer (read with the boxes emptied: "\boxed{\text{The answer is } 5}" states none).
        static const RE2 word_re(R"((?:^|[^\\A-Za-z])[A-Za-z]{2,})");
        static const RE2 final_re(R"((?i)\bfinal answer|\banswer\s*:)");
        if (std::find(methods.begin(), methods.end(), "answer_is") != methods.end()) {
          std::string emptied = without_boxes(text);
          if (RE2::PartialMatch(emptied, final_re))
            if (auto st = answer_is(emptied);
                st && st->size() <= 64 && !trim(*st).empty() && !RE2::PartialMatch(*st, word_re))
              all.push_back(*st);
        }
        if (all.size() > 1) a = join_answers(all);
      }
    } else if (m == "answer_is") {
      // Two different stated answers ("The answer is 13. The answer is 12.") are both, as two
      // different boxes are; a retraction between them was handled before (only its tail is read).
      size_t at = std::string::npos;
      a = answer_is(text, &at);
      if (a && at != std::string::npos && at > 0) {
        std::string plain = text;
        replace_all(plain, "**", "");
        static const RE2 word_re(R"((?:^|[^\\A-Za-z])[A-Za-z]{2,})");
        auto prev = answer_is(plain.substr(0, at));
        if (prev && prev->size() <= 64 && !RE2::PartialMatch(*prev, word_re) &&
            !math_equal(*prev, *a, MathOptions{}).equal)
          a = *prev + ", " + *a;
      }
    } else if (m == "latex") {
      a = part_answers(text);
      if (!a) a = last_math(text);
    } else if (m == "last_number") {
      a = part_answers(text);
      if (!a) a = last_number(answer_clause(prose_thousands(text)));
    } else {
      throw std::invalid_argument(
          "math: unknown extraction method '" + m +
          "' (known: boxed, answer_tag, gsm8k, answer_is, latex, last_number)");
    }
    if (a && !trim(*a).empty()) {
      if (is_marked(m) || m == "answer_is")
        if (auto h = hedged_around(text, *a)) a = *h;
      if (method) *method = m;
      return a;
    }
  }
  return std::nullopt;
}

// Whether the text ends with a value: after its last digit or math segment, a few words at most.
bool value_closes(const std::string& text) {
  size_t last = text.find_last_of("0123456789$");
  for (const char* close : {"\\)", "\\]"}) {
    size_t c = text.rfind(close);
    if (c != std::string::npos && (last == std::string::npos || c > last)) last = c;
  }
  if (last == std::string::npos) return false;
  int words = 0;
  for (size_t i = last + 1; i < text.size(); i++)
    if (is_alpha(text[i]) && !is_alpha(text[i - 1])) words++;
  return words <= 4;
}

// A tuple written as plain equations at the end of prose, "x = 3, y = 4", "x = 3 and y = 4" or
// "x is 3 and y is 4": n named values joined by ",", ";", "and" or a line break, in the order to
// compare (x, y, z sorted, other names as written); with roots, n values of one variable ("x = 2
// or x = 3"); n = 0 takes any number of them from 2; lines: one per line only; nullopt for anything
// else.
std::optional<std::string> plain_equations(const std::string& text, size_t n, bool roots,
                                           bool lines = false) {
  std::string t = mask_latex(text);
  replace_all(t, "\xe2\x88\x92", "  -");
  dashes_to_minus(t, true);
  replace_all(t, "**", "  ");  // Markdown bold: "**x = 3**, **y = 4**"
  // A subscript names one root of several ("x_1 = 2", "x_2 = 3"); one per list item is a line too.
  static const RE2 eq_re(
      R"(([A-Za-z](?:_\{?\d\}?)?)(?:\s*=\s*|\s+(?:is|equals)\s+)(-?\d+(?:\.\d+)?(?:/\d+)?))");
  static const RE2 joiner_re(R"(^\s*(?:,|;|,?\s*and|\n[ \t]*(?:[-*\x{2022}]|\d\.)?)\s*$)");
  static const RE2 roots_joiner_re(
      R"(^\s*(?:,|;|,?\s*(?:and|or)|\n[ \t]*(?:[-*\x{2022}]|\d\.)?)\s*$)");
  static const RE2 lines_joiner_re(R"(^[ \t]*\n[ \t]*(?:[-*\x{2022}]|\d\.)?\s*$)");
  std::vector<std::pair<std::string, std::string>> run;
  size_t run_end = 0;
  re2::StringPiece in(t), var, val;
  while (RE2::FindAndConsume(&in, eq_re, &var, &val)) {
    size_t b = static_cast<size_t>(var.data() - t.data());
    size_t e = static_cast<size_t>(val.data() - t.data()) + val.size();
    char before = b > 0 ? t[b - 1] : ' ', after = e < t.size() ? t[e] : ' ';
    // "2x = 6", "x = 3y", "x = 3^2" are no plain values
    bool plain = !is_alpha(before) && !is_digit(before) &&
                 std::string("_^{\\'").find(before) == std::string::npos && !is_alpha(after) &&
                 std::string("_^{(*").find(after) == std::string::npos;
    if (!plain) {
      run.clear();
      continue;
    }
    if (!run.empty() && !RE2::FullMatch(t.substr(run_end, b - run_end), lines   ? lines_joiner_re
                                                                        : roots ? roots_joiner_re
                                                                                : joiner_re))
      run.clear();
    std::string name(var);
    if (roots) name = name.substr(0, 1);  // "x_1", "x_2": the roots of x
    run.emplace_back(name, std::string(val));
    run_end = e;
  }
  if ((n == 0 ? run.size() < 2 : run.size() != n || n < 2) || !value_closes(t.substr(run_end - 1)))
    return std::nullopt;
  if (t.find_first_of("0123456789", run_end) != std::string::npos) return std::nullopt;
  std::vector<std::string> names;
  for (const auto& [v, x] : run) names.push_back(v);
  std::sort(names.begin(), names.end());
  if (roots) {  // "x = 2 or x = 3": one variable, n values
    if (names.front() != names.back()) return std::nullopt;
  } else if (std::adjacent_find(names.begin(), names.end()) != names.end()) {
    return std::nullopt;
  }
  if (std::all_of(names.begin(), names.end(),
                  [](const std::string& v) { return v == "x" || v == "y" || v == "z"; }))
    std::sort(run.begin(), run.end());
  std::string out;
  for (const auto& [v, x] : run) out += (out.empty() ? "" : ", ") + v + " = " + x;
  return out;
}

// The text with math segments that hold one plain equation ("$x = 2$", "$x_1 = -1$") unwrapped,
// so that plain_equations reads them as prose.
std::string unwrap_plain_math(const std::string& text) {
  static const RE2 plain_re(R"(^\s*[A-Za-z](?:_\{?\d\}?)?\s*=\s*-?\d+(?:\.\d+)?(?:/\d+)?\s*$)");
  std::string out;
  size_t pos = 0;
  for (const Segment& seg : math_segments(text)) {
    if (!RE2::FullMatch(seg.body, plain_re)) continue;
    out.append(text, pos, seg.begin - pos);
    out += " " + trim(seg.body) + " ";
    pos = seg.end;
  }
  return out + text.substr(pos);
}

struct Retraction {
  size_t end;   // the text after it is what the completion says instead
  bool strong;  // it declares what precedes it wrong ("wait, no"); weak ones only re-examine it
};

// Places where a completion takes back or re-examines what it said before, in order.
std::vector<Retraction> retractions(const std::string& text) {
  // "no" counts only next to "wait" or after a dash ("41 — no, 42"), never "no more" or "no 42s";
  // "actually" only before "it's", "the answer" (not "actually, 42 = 6 * 7"); "not 41 but 42" only
  // around a number or math.
  static const RE2 strong_re(
      R"((?i)((?:\bwait[\s,.!…]*no(?:pe)?\s*[,.:;!…—–-]|\bno[\s,.!…]*wait\b|)"
      R"((?:—|–|\s--?|\.\.\.|…|\(|\bhmm+,?)\s*no\s*[,.:;!—–-]|)"
      R"(\boops\b|\bwhoops\b|\bscratch that\b|)"
      R"(\bon (?:second|further) thought\b|\bon (?:further |second )?reflection\b|\bcorrection\s*:|)"
      R"((?:^|[.!?]\s)\s*no\s*[,:.!]\s*(?:the answer|it'?s|it is)\b|)"
      R"(\blet me correct\b|\bi made (?:a|an) (?:\w+ )?(?:mistake|error)\b|\bmy (?:mistake|bad)\b|)"
      R"(\bi (?:miscalculated|miscounted|misread)\b|)"
      R"(\b(?:that|this)(?:'s| is| was) (?:wrong|incorrect|not right|not correct|a mistake|an error)\b|)"
      R"(\bthat can'?t be right\b|\blet me (?:recompute|recalculate|redo|re-do|start over)\b|)"
      R"(\b(?:recomputing|recalculating)\b|\bbut actually\b|\bactually,?\s|)"
      R"(\bnot\s+(?:\$[^$]{1,40}\$|\\boxed\{[^{}]*\}|-?\d[\d,.]*%?)\s*,?\s*but\b)))"
      R"((it'?s|it is|it should be|it was|the (?:correct|right|real|true|actual|final) |the answer|)"
      R"(that'?s|no\b)?)");
  static const RE2 weak_re(
      R"((?i)(\bwait\b|\bhmm+\b|\blet me (?:double[- ]?check|check|verify|reconsider|re-?examine|)"
      R"(re-?check|re-?think|think again)\b|\bdouble[- ]check(?:ing)?\b))");
  std::vector<Retraction> out;
  re2::StringPiece in(text), marker, next;
  while (RE2::FindAndConsume(&in, strong_re, &marker, &next)) {
    // "actually" retracts only before the value it gives instead: "actually, it's 42".
    if (lower(std::string(marker)).rfind("actually", 0) == 0 && next.empty()) continue;
    out.push_back({static_cast<size_t>(marker.data() - text.data()) + marker.size(), true});
  }
  // "41 if we count the first day. Since we don't, 42.": a conditional answer, then a short clause
  // that settles the condition ("since we don't", "as it is not") before the value that holds.
  static const RE2 resolved_re(
      R"((?i)\bif\b[^.;\n]{1,120}[.;]\s+(?:but\s+)?(?:since|as|because)\s+)"
      R"((?:we|you|it|they|he|she|that|this|there)\s+(?:do|does|did|is|are|was|were|can|should|)"
      R"(have|has|had)(?:n'?t|\s+not)?(?:\s+[a-z]+){0,4}\s*,)");
  // "41 – wait, 42": a dash and "wait" retract only right before a number.
  static const RE2 dash_wait_re(R"((?i)(?:—|–|\s--?)\s*wait\s*[,.:;!]\s*(-?\d))");
  in = re2::StringPiece(text);
  while (RE2::FindAndConsume(&in, dash_wait_re, &next))
    out.push_back({static_cast<size_t>(next.data() - text.data()), true});
  in = re2::StringPiece(text);
  while (RE2::FindAndConsume(&in, resolved_re))
    out.push_back({static_cast<size_t>(in.data() - text.data()), true});
  in = re2::StringPiece(text);
  while (RE2::FindAndConsume(&in, weak_re, &marker))
    out.push_back({static_cast<size_t>(marker.data() - text.data()) + marker.size(), false});
  // "\boxed{5} is wrong, the answer is 6", "41 is incorrect; the correct answer is 42": only with
  // the stated answer right after it ("41, is incorrect because 41 is odd" gives nothing new).
  static const RE2 wrong_re(
      R"((?i)(?:\}\$?|\$|\d|\banswer|\bresult)\s*,?\s+(?:is|was)\s+)"
      R"((?:wrong|incorrect|not (?:right|correct))\s*[,;:.]?\s*(?:so\s+|and\s+|instead\s*,?\s*)?)"
      R"(((?:the (?:correct |right |real |actual |final )?answer is|\$?\\boxed)))");
  in = re2::StringPiece(text);
  while (RE2::FindAndConsume(&in, wrong_re, &next))
    out.push_back({static_cast<size_t>(next.data() - text.data()), false});
  std::sort(out.begin(), out.end(),
            [](const Retraction& a, const Retraction& b) { return a.end < b.end; });
  return out;
}

// Whether a sentence speaks about the solving, not the problem: how it was found or checked ("It
// took 3 steps to find.", "I checked it 3 ways.", "Solved in 3 lines.", "(see step 3)", "That was
// problem 3."); with bare, also "That took 3 steps." (true only for that form).
bool about_solution(const std::string& sentence, bool bare) {
  static const RE2 bare_re(
      R"((?i)^\W*(?:that|this)\s+(?:only\s+)?(?:took|takes|needed|required|was done in)\s+)"
      R"((?:me\s+|us\s+)?(?:only\s+|just\s+|about\s+)?[#\w]+\s+(?:steps?|lines?|tries|)"
      R"(attempts?)\W*$)");
  if (bare) return RE2::PartialMatch(sentence, bare_re);
  static const RE2 meta_re(
      R"((?i)(?:^\W*(?:i|we|i've|we've|i have|we have)\s+(?:\w+\s+){0,2}(?:checked|verified|)"
      R"(double[- ]checked|confirmed|used|tried|solved|computed|calculated|derived|found|worked|)"
      R"(got|did)\b.*\b(?:ways?|methods?|approach(?:es)?|times|twice|thrice|steps?|equations?|)"
      R"(lines?|tries|attempts?|checks?|techniques?|strategies|formulas?|minutes|seconds)\b|)"
      R"(\bto (?:find|solve|compute|calculate|work out|figure out|check|verify|confirm|derive))"
      R"((?:\s+(?:it|this|that|the answer|the result|the solution|this answer|this result|)"
      R"(it out|this out))?\W*$|)"
      R"(\bto (?:get|obtain|reach|arrive at)\s+(?:this|the answer|the result|this answer|)"
      R"(this result|that answer)\W*$|)"
      R"(^\W*(?:this|that|it)(?:'s| is| was| completes| concludes| finishes| ends)\s+)"
      R"((?:the (?:answer|solution) (?:to|for|of)\s+)?(?:problem|question|exercise|part|item|task))"
      R"(\s+#?[#\d]|)"
      R"(\b(?:problem|question|exercise|part|task)\s+#?[#\d]+\s+(?:is\s+)?(?:done|complete|)"
      R"(completed|solved|finished)\b|)"
      R"(^\W*(?:see|from|as in|like in|by|using|per) (?:step|problem|question|equation|eq\.|line|)"
      R"(part|example|method)\s+\(?[#\d]|)"
      R"(^\W*(?:solved|done|computed|found|calculated|worked out|finished|completed|checked|)"
      R"(verified|double[- ]checked|confirmed)\s+(?:it\s+|this\s+)?(?:in|with|using|by|after|)"
      R"(via|twice|thrice|[#\d])\b|)"
      R"(^\W*(?:the|this|my|our)\s+(?:solution|calculation|computation|derivation|working|)"
      R"(method|proof|process|reasoning)\s+(?:has|had|took|takes|needed|used|required|involves|)"
      R"(involved|uses|needs)\b|)"
      R"(^\W*(?:not counting|excluding|ignoring|without counting)\b))");
  return RE2::PartialMatch(sentence, meta_re);
}

// Whether a sentence compares a value with another: "That's 2 more than last week.", "This is 3
// times as many as Tom's 8." (after a concluding line, a remark on the answer).
bool compares(const std::string& sentence) {
  static const RE2 compare_re(
      R"((?i)^\W*(?:that|this|which|it)(?:'s|\s+is|\s+was|\s+are)\s+(?:only\s+|just\s+|exactly\s+)?)"
      R"((?:\$?[#\d.]+|twice|half|double|triple)\s*(?:%\s*|percent\s+)?(?:[a-z]+\s+)?)"
      R"((?:(?:more|less|fewer|greater|higher|lower|larger|smaller|cheaper)\s+than|)"
      R"(times\s+(?:as|more|less|bigger)|as\s+(?:many|much|large|long|old)\s+as)\b)");
  return RE2::PartialMatch(sentence, compare_re);
}

// Whether a sentence concludes: "Total: 12 apples.", "So she has 12.", "Hence, 12.", "=> 12".
bool concludes(const std::string& sentence) {
  static const RE2 re(
      R"((?i)^[\s*#>|-]*(?:so|thus|hence|therefore|overall|altogether|in total|in all|finally|)"
      R"(=>|->|\x{21D2}|\x{2192}|\x{2234}|\$?\\therefore)(?:\W|$)|)"
      R"(\b(?:total|result|answer|final|finally|solution|ans|altogether|overall)\b|)"
      R"(\d\S*(?:\s+[A-Za-z]+){0,3}\s+(?:left|remain|remains|remaining|in all)\W*$)");
  return RE2::PartialMatch(sentence, re);
}

// Where the closing part of a completion starts that states no answer: sign-off sentences
// addressed to the reader ("Hope this helps!", "Good luck with the other 9 problems!"), a remark
// sentence in brackets ("(This is part 1.)") and a trailing check of the answer ("Verification:
// $2(5)+3 = 13$ ✓") that neither concludes nor finds a fault; text.size() when there is none.
size_t closing_start(const std::string& text, bool* check) {
  // Math blanked out, so that sentence stops and words inside it do not count.
  std::string t = text;
  for (const Segment& seg : math_segments(text))
    for (size_t k = seg.begin; k < seg.end; k++) t[k] = '#';
  // The start of the sentence that ends at e (exclusive): after ". ", "! ", "? " or a line break.
  auto sentence_begin = [&t](size_t e) {
    size_t b = e;
    while (b > 0) {
      char c = t[b - 1];
      if (c == '\n') break;
      if ((c == ' ' || c == '\t') && b >= 2 &&
          std::string(".!?").find(t[b - 2]) != std::string::npos && b < e && !is_space(t[b]))
        break;
      b--;
    }
    return b;
  };
  static const RE2 signoff_re(
      R"((?i)\b(?:i hope|hope (?:this|that|it|you)|let me know|feel free|good luck|best of luck|)"
      R"(happy to help|glad to help|if you have (?:any|more|other|further)|)"
      R"((?:any|more|other|further) questions|happy (?:studying|learning|solving))\b)");
  static const RE2 remark_re(R"(^\(\s*[A-Z][^()]*\)\s*[.!]?$)");
  static const RE2 lower_remark_re(R"(^\(\s*[a-z][^()]*\)\s*[.!]?$)");
  static const RE2 stated_re(
      R"((?i)answer\s*(?:is|:)|=|\b(?:total|in all|altogether|sum|result)\b)");
  size_t end = t.size();
  for (int k = 0; k < 8; k++) {
    size_t e = end;
    while (e > 0 && is_space(t[e - 1])) e--;
    if (e == 0) break;
    size_t b = sentence_begin(e);
    // A bracketed remark may hold sentence stops: start at its opening bracket.
    if (t[e - 1] == ')' || (e >= 2 && t[e - 2] == ')')) {
      size_t open = t.rfind('(', e);
      if (open != std::string::npos && open < b) b = open;
    }
    std::string sentence = t.substr(b, e - b);
    bool signoff = RE2::PartialMatch(sentence, signoff_re);
    // A remark in brackets closing the sentence: "12 apples (I checked it 3 ways)."
    size_t close = t[e - 1] == ')'               ? e - 1
                   : (e >= 2 && t[e - 2] == ')') ? e - 2
                                                 : std::string::npos;
    size_t open = close == std::string::npos ? close : t.rfind('(', close);
    auto is_remark = [&](const std::string& ts) {
      return (RE2::FullMatch(ts, remark_re) ||
              (RE2::FullMatch(ts, lower_remark_re) &&
               (about_solution(ts, false) || about_solution(ts, true)))) &&
             !RE2::PartialMatch(ts, stated_re) && !open_bracket(ts);
    };
    if (open != std::string::npos && open > b && t.find(')', open) == close &&
        is_remark(trim(t.substr(open, e - open)))) {
      end = open;
      continue;
    }
    std::string ts = trim(sentence);
    bool remark = is_remark(ts);
    // A sentence about the solution itself ("It took 3 steps to find.", "I checked it 3 ways.");
    // "That took 3 steps." only after a concluding line ("Total: 12 apples.", "So ... 12.").
    size_t pe = b;
    while (pe > 0 && is_space(t[pe - 1])) pe--;
    size_t pb = sentence_begin(pe);
    static const RE2 letter_re(R"([A-Za-z])");
    if (pb > 0 && !RE2::PartialMatch(t.substr(pb, pe - pb), letter_re)) {
      // "Ans. 12", "Final Answer\n12": the label sits one sentence or line before the value
      size_t qe = pb;
      while (qe > 0 && is_space(t[qe - 1])) qe--;
      pb = sentence_begin(qe);
    }
    bool concluded = concludes(text.substr(pb, pe - pb));
    bool meta = !RE2::PartialMatch(sentence, stated_re) &&
                ((!open_bracket(ts) &&
                  (about_solution(ts, false) || (about_solution(ts, true) && concluded))) ||
                 (compares(ts) && concluded));
    if (!signoff && !remark && !meta) break;
    end = b;
  }
  // "Check: ...", "Verification: ...", "Let's verify: ...", "To double-check, ..." opening a
  // sentence, with nothing after it that concludes ("so", "the answer") or finds a fault ("≠",
  // "not", "wrong"): what precedes it answers.
  static const RE2 check_re(
      R"((?i)(?:^|\n|[.!?]\s+)[\s*#>-]*((?:verification|verifying|check|checking|sanity check|)"
      R"(double[- ]check(?:ing)?|let'?s (?:verify|check|double[- ]check)|let me (?:verify|check|)"
      R"(double[- ]check)|to (?:verify|check|double[- ]check|confirm)|we can (?:verify|check))\b))"
      R"([^.:\n]{0,40}[:,])");
  static const RE2 concludes_re(
      R"((?i)(?:\b(?:so|therefore|thus|hence|answer|final|instead|actually|wrong|incorrect|)"
      R"(mistake|error|not|fails?|but|however|wait|hmm|redo|recompute|mismatch)\b|n't\b|)"
      R"(\\neq?\b|!=|\x{2260}|\\boxed|<answer>|####|)"
      R"(\b(?:is|are|was|were|equals|gives|get|gets|makes|becomes)\s+(?:-?\d|\$|\\\()))");
  re2::StringPiece in(t.data(), end), marker;
  size_t check_at = std::string::npos;
  while (RE2::FindAndConsume(&in, check_re, &marker))
    check_at = static_cast<size_t>(marker.data() - t.data());
  if (check_at != std::string::npos &&
      !RE2::PartialMatch(text.substr(check_at, end - check_at), concludes_re)) {
    end = check_at;
    *check = true;
  }
  return end;
}

// The unit of time the reference writes after its answer ("150 minutes", "takes 2.5 hours.\n####
// 2.5") in seconds; 0 when it writes none or two different ones.
long duration_unit(const std::string& reference, const std::string& gold) {
  static const RE2 plain_re(R"(^\d+(?:\.\d+)?$)");
  if (!RE2::FullMatch(gold, plain_re)) return 0;
  const RE2 re("(?i)(?:^|[^\\d.])" + RE2::QuoteMeta(gold) +
               R"(\s*(?:\\text\{\s*|\\mathrm\{\s*)?(hours?|hrs?|minutes?|mins?|seconds?|secs?)\b)");
  re2::StringPiece in(reference);
  std::string unit;
  long found = 0;
  while (RE2::FindAndConsume(&in, re, &unit)) {
    if (found != 0 && found != seconds_in(unit)) return 0;
    found = seconds_in(unit);
  }
  return found;
}

// The extracted answer with "$" and "\text{}" gone, for reading words in it.
std::string math_normalize_words(const std::string& s) {
  std::string t = s;
  replace_all(t, "$", "");
  unwrap_command(t, "\\text");
  unwrap_command(t, "\\mathrm");
  return t;
}

// What a reader of the rendered completion sees: text a policy can hide from the reader (an HTML
// comment, \iffalse, \phantom, white text, an element styled hidden, struck text, a LaTeX comment
// in math) goes, and so do Markdown decorations around an answer (a footnote mark, a footnote, a
// link's target, code fences). Every step is one pass; an unclosed group hides the rest.
std::string visible_text(const std::string& in) {
  std::string s = in;
  // Pairs of open / close markers, the hidden text between them (the markers too). With line, a
  // Markdown pair ("~~"): on one line, outside math ("$x~~=~~1$" is spacing, never struck).
  auto drop_between = [](const std::string& t, const char* open, const char* close, bool line) {
    std::string out;
    size_t pos = 0, olen = std::strlen(open), clen = std::strlen(close);
    size_t nl = t.find('\n');  // the next line break at or after b, searched again once passed
    std::vector<Segment> math;
    if (line) math = math_segments(t);
    auto in_math = [&math](size_t at) {
      auto it = std::upper_bound(math.begin(), math.end(), at,
                                 [](size_t a, const Segment& g) { return a < g.begin; });
      return it != math.begin() && at < std::prev(it)->end;
    };
    for (size_t b = t.find(open); b != std::string::npos; b = t.find(open, pos)) {
      size_t e = t.find(close, b + olen);
      if (line && e == std::string::npos) break;  // no pair anywhere after it
      if (nl != std::string::npos && nl < b) nl = t.find('\n', b);
      if (line && ((nl != std::string::npos && nl < e) || in_math(b) || in_math(e))) {
        out.append(t, pos, b + olen - pos);
        pos = b + olen;
        continue;
      }
      out.append(t, pos, b - pos);
      out += ' ';
      pos = e == std::string::npos ? t.size() : e + clen;
    }
    out.append(t, pos, std::string::npos);
    return out;
  };
  if (s.find("<!--") != std::string::npos) s = drop_between(s, "<!--", "-->", false);
  if (s.find("\\iffalse") != std::string::npos) s = drop_between(s, "\\iffalse", "\\fi", false);
  if (s.find("\\begin{comment}") != std::string::npos)
    s = drop_between(s, "\\begin{comment}", "\\end{comment}", false);
  if (s.find("~~") != std::string::npos) s = drop_between(s, "~~", "~~", true);
  // Never "<s>": it is also a tokenizer's sequence marker ("<s>… 12</s>").
  for (const char* tag : {"del", "strike"}) {
    std::string open = std::string("<") + tag + ">", close = std::string("</") + tag + ">";
    if (s.find(open) != std::string::npos) s = drop_between(s, open.c_str(), close.c_str(), false);
  }
  // An element out of sight: <style>, <script>, <template>, or one styled display:none, visibility
  // hidden, white, or marked hidden.
  static const RE2 tag_re(R"(<([A-Za-z]+)\b([^<>]*)>)");
  static const RE2 hidden_attr_re(
      R"((?i)display\s*:\s*none|visibility\s*:\s*hidden|(?:^|\s)hidden\b|)"
      R"(color\s*[:=]\s*["']?\s*(?:white|#fff(?:fff)?\b))");
  if (s.find('<') != std::string::npos) {
    std::string out;
    re2::StringPiece rest(s), tag, attrs;
    size_t pos = 0;
    while (RE2::FindAndConsume(&rest, tag_re, &tag, &attrs)) {
      std::string name = lower(std::string(tag));
      if (name != "style" && name != "script" && name != "template" &&
          !RE2::PartialMatch(attrs, hidden_attr_re))
        continue;
      size_t at = static_cast<size_t>(tag.data() - s.data()) - 1;  // the '<'
      size_t open_end = static_cast<size_t>(rest.data() - s.data());
      size_t e = s.find("</" + name + ">", open_end);
      if (e == std::string::npos) e = s.find("</" + std::string(tag) + ">", open_end);
      if (at < pos) continue;
      out.append(s, pos, at - pos);
      out += ' ';
      pos = e == std::string::npos ? s.size() : s.find('>', e) + 1;
      rest = re2::StringPiece(s).substr(pos);
    }
    out.append(s, pos, std::string::npos);
    s = out;
  }
  // A tokenizer's special tokens left in the text are never shown: "12.</s>", "12<|im_end|>". Each
  // stands between words: "9}<|bos|>4" ends in the number 4.
  if (s.find('<') != std::string::npos) {
    static const RE2 special_re(R"(</?s>|<\|[A-Za-z_]{1,30}\|>|<(?:eos|bos|pad|eot)>)");
    RE2::GlobalReplace(&s, special_re, " ");
  }
  // Formatting tags around a shown answer go, their text stays: "<b>12</b>" is 12, "<p>" a line.
  if (s.find('<') != std::string::npos) {
    static const RE2 format_tag_re(
        R"((?i)</?(?:b|i|strong|em|u|mark|span|font|code|small|big)\b[^<>]*>)");
    static const RE2 block_tag_re(R"((?i)</?(?:div|p|br)\b[^<>]*>)");  // a line break
    RE2::GlobalReplace(&s, format_tag_re, "");
    RE2::GlobalReplace(&s, block_tag_re, "\n");
  }
  // White in LaTeX's color models: {white}, {White}, {#FFF}, [HTML]{FFFFFF}, [rgb]{1,1,1},
  // [RGB]{255,255,255}, [gray]{1}.
  static constexpr const char* kWhite =
      R"((?:\[(?i:html|rgb|gray)\])?\s*\{\s*(?i:white|#?fff(?:fff)?|1\s*,\s*1\s*,\s*1|)"
      R"(255\s*,\s*255\s*,\s*255|1)\s*\})";
  // LaTeX commands whose argument is not shown: \phantom{12}, \textcolor{white}{12}, \sout{13};
  // "\color{white}" hides the rest of its group.
  static const RE2 hide_cmd_re(R"((\\(?:(?:[hv]?phantom|sout|xout|st)\b|textcolor\s*)" +
                               std::string(kWhite) +
                               R"(|)"
                               R"((color)\s*)" +
                               kWhite + R"()\s*))");
  if (s.find('\\') != std::string::npos) {
    std::string out;
    re2::StringPiece rest(s), whole, color;
    size_t pos = 0;
    Braces braces(s);
    while (RE2::FindAndConsume(&rest, hide_cmd_re, &whole, &color)) {
      size_t at = static_cast<size_t>(whole.data() - s.data());
      size_t end = at + whole.size();
      if (at < pos) continue;
      size_t stop;
      if (end < s.size() && s[end] == '{') {
        stop = braces.close(end);  // the hidden argument
      } else if (!color.empty()) {
        // No argument: the rest of the enclosing group, or of the math it stands in.
        stop = end;
        int depth = 0;
        while (stop < s.size() && s[stop] != '$' && s.compare(stop, 2, "\\]") != 0 &&
               s.compare(stop, 2, "\\)") != 0 && !(s[stop] == '}' && depth == 0)) {
          if (s[stop] == '{') depth++;
          if (s[stop] == '}') depth--;
          stop++;
        }
      } else {
        continue;  // "\st" and friends with no argument hide nothing
      }
      if (stop == std::string::npos) stop = s.size();
      out.append(s, pos, at - pos);
      out += ' ';
      pos = stop;
      rest = re2::StringPiece(s).substr(pos);
    }
    out.append(s, pos, std::string::npos);
    s = out;
  }
  // A LaTeX comment inside math: "%" (never a percent sign after a number or "\%") to the line's
  // end, or to the end of the math.
  if (s.find('%') != std::string::npos) {
    std::string t = s;
    for (const Segment& seg : math_segments(s)) {
      size_t close = seg.end - seg.begin - seg.body.size();
      size_t body_at = close == 0 ? seg.begin : seg.begin + close / 2;
      size_t body_end = body_at + seg.body.size();
      for (size_t k = body_at; k < body_end; k++) {
        if (s[k] != '%' || (k > 0 && s[k - 1] == '\\')) continue;
        size_t b = k;
        while (b > body_at && is_space(s[b - 1])) b--;
        if (b > body_at && (is_digit(s[b - 1]) || s[b - 1] == '.')) continue;
        size_t e = k;
        while (e < body_end && s[e] != '\n') t[e++] = ' ';
        k = e;
      }
    }
    s = t;
  }
  // Markdown: a footnote mark "12[^1]" and the footnote's own line go, a link keeps its text, a
  // code fence line goes (the code stays).
  // Markdown's comment idioms are never shown: "[//]: # (The answer is 12.)", "[comment]: <> (…)",
  // nor is a link definition to an address. "[Answer]: 12" stays: models write it as a label.
  if (s.find("]:") != std::string::npos) {
    static const RE2 definition_re(
        R"((?m)^[ \t]*\[[^\]\n]{1,200}\]:[ \t]*(?:#\S*|<[^>\n]*>|(?:https?://|www\.|/)\S*)(?:[ \t].*)?$)");
    RE2::GlobalReplace(&s, definition_re, "");
  }
  if (s.find("[^") != std::string::npos) {
    static const RE2 footnote_line_re(R"((?m)^[ \t]*\[\^[^\]\n]{1,40}\]:.*$)");
    static const RE2 footnote_mark_re(R"(\[\^[^\]\n]{1,40}\])");
    RE2::GlobalReplace(&s, footnote_line_re, "");
    RE2::GlobalReplace(&s, footnote_mark_re, "");
  }
  if (s.find("](") != std::string::npos) {
    static const RE2 link_re(R"(\[([^\[\]\n]{1,200})\]\((?:https?://|www\.|/)[^()\s]{0,400}\))");
    RE2::GlobalReplace(&s, link_re, "\\1");
  }
  if (s.find("```") != std::string::npos) {
    static const RE2 fence_re(R"((?m)^[ \t]*```[A-Za-z0-9_+-]*[ \t]*$)");
    RE2::GlobalReplace(&s, fence_re, "");
  }
  return s;
}

// The part of a completion that answers: after a reasoning block, what follows it (a box tried
// inside <think> is not one); after an echoed dialogue ("User: ... Assistant: ..."), the last
// assistant turn, and after an echoed problem ("Problem: ... Solution: ..."), the last solution
// (an answer stated in an echoed question is not the completion's).
std::string own_turn(const std::string& read) {
  std::string text = read;
  size_t think_end = text.rfind("</think>");
  if (think_end != std::string::npos && !trim(text.substr(think_end + 8)).empty())
    text = text.substr(think_end + 8);
  static const RE2 user_re(R"((?m)^[ \t]*(?:User|Human)\s*:)");
  size_t turn = text.rfind("Assistant:");
  if (turn != std::string::npos && (turn == 0 || text[turn - 1] == '\n') &&
      RE2::PartialMatch(re2::StringPiece(text).substr(0, turn), user_re))
    text = text.substr(turn + 10);
  // An echoed problem ("Problem: … (The answer is 12.)\nSolution: …"): the solution answers.
  static const RE2 problem_re(R"((?m)^[ \t*#]*(?:Problem|Question)\b[^\n:]{0,12}:)");
  static const RE2 solution_re(R"((?m)^([ \t*#]*Solution\s*\**\s*:))");
  if (text.find("Solution") != std::string::npos) {
    re2::StringPiece in(text), mark;
    size_t after = std::string::npos;
    while (RE2::FindAndConsume(&in, solution_re, &mark))
      after = static_cast<size_t>(mark.data() - text.data()) + mark.size();
    if (after != std::string::npos &&
        RE2::PartialMatch(re2::StringPiece(text).substr(0, after), problem_re))
      text = text.substr(after);
  }
  return text;
}

// A macro definition anywhere in the completion can change what any later command shows
// ("\def\boxed#1{13}\boxed{12}" renders 13): such a completion states no answer it can be held to.
bool defines_macro(const std::string& s) {
  if (s.find('\\') == std::string::npos) return false;
  static const RE2 def_re(
      R"(\\(?:[gex]?def\s*\\|let\s*\\|(?:re)?newcommand\b|providecommand\b|DeclareMathOperator\b|)"
      R"((?:re)?newenvironment\b|catcode\b))");
  return RE2::PartialMatch(s, def_re);
}

}  // namespace

// An end-of-proof mark closing the text ("$12$. $\blacksquare$", "n = 12. \qed", "$x = 12 \quad
// \square$", "∎") is no answer: it goes, the math it closes stays.
std::string drop_end_mark(const std::string& text) {
  static const RE2 alone(
      R"((?:\\hfill\s*)?\$\s*\\(?:blacksquare|square|Box|qedsymbol|qed)\s*\$[\s.]*$)");
  static const RE2 inside(
      R"((?:\\hfill|\\quad|\\qquad|\s)*(?:\\(?:blacksquare|square|Box|qedsymbol|qed)\b|\x{220E})\s*((?:\$|\\\)|\\\])?)[\s.]*$)");
  std::string t = text;
  if (!RE2::Replace(&t, alone, "")) RE2::Replace(&t, inside, "\\1");
  return t;
}

std::string math_extract(const std::string& full_text, const MathOptions& opt,
                         std::string* method) {
  // After a reasoning block, only what follows it answers (a box tried inside <think> is not one).
  // Other languages and scripts read as the English the rules below know ("答案是１２。").
  // Only what a reader sees answers; a completion that redefines commands answers nothing.
  if (defines_macro(full_text)) {
    if (method) method->clear();
    return "";
  }
  const std::string read = visible_text(math_from_language(full_text));
  std::string text = own_turn(read);
  text = drop_end_mark(text);
  // A sign-off or a check after the answer states no answer, when what precedes it does.
  // A check must name the answer it checks (each of its numbers): "x = 5. Check: 2(5) + 3 = 13".
  bool check = false;
  size_t closing = closing_start(text, &check);
  if (closing < text.size()) {
    std::optional<std::string> before = extract_by(text.substr(0, closing), opt.extract, nullptr);
    static const RE2 digits_re(R"((\d+))");
    std::string answer = before ? *before : "";
    re2::StringPiece in(answer), run;
    bool named = before.has_value();
    if (!check) in = re2::StringPiece();
    std::string tail = " " + text.substr(closing) + " ";
    while (named && RE2::FindAndConsume(&in, digits_re, &run)) {
      named = false;
      for (size_t at = tail.find(run.data(), 0, run.size()); at != std::string::npos && !named;
           at = tail.find(run.data(), at + 1, run.size()))
        named = !is_digit(tail[at - 1]) && !is_digit(tail[at + run.size()]);
    }
    if (named) text = text.substr(0, closing);
  }
  // The last committed answer wins: a retraction marker discards what precedes it when an answer
  // follows it (after "wait" or "let me check" only a boxed or stated one).
  std::vector<std::string> committed;
  for (const std::string& m : opt.extract)
    if (m == "boxed" || m == "answer_tag" || m == "gsm8k" || m == "answer_is")
      committed.push_back(m);
  std::vector<Retraction> marks = retractions(text);
  size_t tried = 0;
  for (auto r = marks.rbegin(); r != marks.rend() && tried < 64; ++r, ++tried) {
    std::string tail = text.substr(r->end), m;
    auto a = extract_by(tail, r->strong ? opt.extract : committed, &m);
    if (!a) continue;
    // A re-check's "the answer is supposed to be an integer" is a sentence, not a new answer.
    if (!r->strong && reads_like_text(*a)) continue;
    // An unstated value replaces the answer only where it closes the text ("... is 42 apples."),
    // never a number inside a remark ("(wrote 3 for 4), but it does not change the result").
    if ((m == "latex" || m == "last_number") && !value_closes(tail)) continue;
    if (method) *method = m;
    return *a;
  }
  if (auto a = extract_by(text, opt.extract, method)) return *a;
  if (method) method->clear();
  return "";
}

std::string math_gold(const std::string& reference) {
  if (auto a = gsm8k_hashes(reference)) return *a;
  std::vector<std::string> boxes = all_boxed(reference);
  if (!boxes.empty()) return boxes.back();  // a solution's answer is its last box
  if (reads_like_text(reference)) {
    MathOptions o;
    o.extract = {"answer_is", "latex", "last_number"};
    std::string a = math_extract(reference, o, nullptr);
    if (!a.empty()) return a;
  }
  return trim(reference);
}

// Only digits with a sign, a decimal point or thousands commas (most GSM8K answers).
bool plain_decimal(const std::string& s) {
  if (s.empty() || s.size() > 40) return false;
  for (char c : s)
    if (!is_digit(c) && c != '.' && c != ',' && c != '-') return false;
  return true;
}

// "\mathbb{R} \setminus \{0\}", the reals less some numbers, as the union of open intervals
// between them: "(-\infty,0)\cup(0,\infty)".
std::string reals_minus_points(const std::string& s) {
  static const RE2 re(
      R"(^\(-\\infty,\s*\\infty\)\s*(?:\\setminus|\\backslash|-)\s*\\\{([^{}]*)\\\}$)");
  std::string inner;
  if (!RE2::FullMatch(s, re, &inner)) return s;
  std::vector<std::pair<long double, std::string>> points;
  for (const auto& e : split_top(inner, ",")) {
    std::optional<Number> n = parse_number(trim(e));
    if (!n || n->percent) return s;
    points.push_back({approx(*n), trim(e)});
  }
  std::sort(points.begin(), points.end());
  std::string out = "(-\\infty";
  for (const auto& pt : points) out += "," + pt.second + ")\\cup(" + pt.second;
  return out + ",\\infty)";
}

// A numeral in a base, "1011_2", "A3_16", with its base braced as "1011_{2}" is written.
std::string braced_base(const std::string& s) {
  static const RE2 re(R"((^|[^\\A-Za-z0-9])([0-9A-F]+)_(\d+))");
  std::string t = s;
  RE2::GlobalReplace(&t, re, "\\1\\2_{\\3}");
  return t;
}

std::string math_normalize(const std::string& in) {
  if (plain_decimal(in)) {  // fast path: nothing to unwrap, only separators to drop
    std::string t = trim(in);
    while (!t.empty() && (t.back() == '.' || t.back() == ',')) t.pop_back();
    static const RE2 plain_thousands(R"(^-?\d{1,3}(,\d{3})+(\.\d+)?$)");
    if (t.find(',') == std::string::npos) return t;
    if (!RE2::FullMatch(t, plain_thousands)) return t;
    std::string out;
    for (char c : t)
      if (c != ',') out += c;
    return out;
  }
  std::string s = in;
  if (s.size() > kMaxAnswer) s = s.substr(0, kMaxAnswer);
  replace_all(s, "\n", " ");
  replace_all(s, "\\\\", "\x01");  // keep matrix row breaks "\\\\" apart from "\\ "
  replace_all(s, "\\$", "");
  replace_all(s, "$", "");
  // An answer wrapped whole in math delimiters or Markdown bold: "\(\frac12\)", "**5**".
  for (const char* w : {"\\(\\)", "\\[\\]", "****"}) {
    std::string t = trim(s);
    if (t.size() >= 4 && t.compare(0, 2, w, 2) == 0 && t.compare(t.size() - 2, 2, w + 2, 2) == 0)
      s = t.substr(2, t.size() - 4);
  }
  for (const char* c :
       {"\\left", "\\right", "\\middle", "\\displaystyle", "\\big", "\\Big", "\\bigg", "\\Bigg"})
    remove_command(s, c);
  for (const char* c : {"\\dfrac", "\\tfrac", "\\cfrac", "\\nicefrac", "\\sfrac"})
    replace_command(s, c, "\\frac");
  // Colour: "\color{red}{40}", "\textcolor{red}{40}", "\color{blue}40".
  static const RE2 color_re(R"(\\(?:color|textcolor)\s*\{[A-Za-z!0-9]*\})");
  RE2::GlobalReplace(&s, color_re, "");
  // Conclusions: "\therefore x = 5", "2x = 10 \implies x = 5" give what follows the last arrow.
  for (const char* c : {"\\therefore", "\\because"}) remove_command(s, c);
  // Equation labels and tags: "x = 5 \label{eq:1}", "\tag{3}".
  static const RE2 label_re(R"(\\(?:label|tag\*?)\s*\{[^{}]*\})");
  RE2::GlobalReplace(&s, label_re, "");
  for (const char* c : {"\\nonumber", "\\notag"}) remove_command(s, c);
  for (const char* c : {"\\implies", "\\Rightarrow", "\\Longrightarrow"}) {
    size_t at = std::string::npos;
    for (size_t p = find_command(s, c, 0); p != std::string::npos; p = find_command(s, c, p + 1))
      at = p;
    if (at != std::string::npos) s = s.substr(at + std::string(c).size());
  }
  // Unicode fractions and currency signs: "12 ½", "€12.50".
  static const char* vulgar[][2] = {
      {"\xc2\xbd", " \\frac{1}{2}"},     {"\xc2\xbc", " \\frac{1}{4}"},
      {"\xc2\xbe", " \\frac{3}{4}"},     {"\xe2\x85\x93", " \\frac{1}{3}"},
      {"\xe2\x85\x94", " \\frac{2}{3}"}, {"\xe2\x85\x9b", " \\frac{1}{8}"}};
  for (const auto& v : vulgar) replace_all(s, v[0], v[1]);
  for (const char* c : {"\xe2\x82\xac", "\xc2\xa3", "\xc2\xa5", "\xe2\x82\xb9"})
    replace_all(s, c, "");
  // Plain-text math: "2 pi", "sqrt(3)".
  static const RE2 plain_pi(R"((^|[^\\A-Za-z])pi\b)");
  RE2::GlobalReplace(&s, plain_pi, "\\1\\\\pi ");
  static const RE2 plain_sqrt(R"((^|[^\\A-Za-z])sqrt\b)");
  RE2::GlobalReplace(&s, plain_sqrt, "\\1\\\\sqrt");
  static const RE2 currency_code(R"(^\s*(?:USD|EUR|GBP|US\$)\s*)");
  RE2::Replace(&s, currency_code, "");
  replace_all(s, "\\!", "");
  for (const char* space : {"\\,", "\\;", "\\:", "\\ "}) replace_all(s, space, " ");
  remove_command(s, "\\qquad");
  remove_command(s, "\\quad");
  replace_all(s, "~", " ");
  replace_all(s, "\xc2\xb0", "^\\circ");  // the degree sign
  // Degrees inside a trigonometric function are an angle: "\sin 30^\circ" is 1/2.
  static const RE2 trig_re(R"(\\(?:sin|cos|tan|sec|csc|cot)\b)");
  static const RE2 trig_degrees(R"((\d+(?:\.\d+)?)\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ))");
  if (RE2::PartialMatch(s, trig_re)) RE2::GlobalReplace(&s, trig_degrees, "(\\1\\\\pi/180)");
  // Degrees Celsius / Fahrenheit: the scale letter goes with the degree sign.
  static const RE2 temp_re(
      R"((\^\{?\\circ\}?|\\degree)\s*(\\text\{\s*[CF]\s*\}|\\mathrm\{\s*[CF]\s*\}|[CF]\b))");
  RE2::GlobalReplace(&s, temp_re, "");
  replace_all(s, "^{\\circ}", "");
  replace_all(s, "^\\circ", "");
  replace_all(s, "\\circ", "");
  remove_command(s, "\\degree");
  replace_all(s, "\\%", "%");
  // Relations in one spelling: <=, >=, != (\le is whole: \left is gone already).
  for (const char* c : {"\\leqslant", "\\leq", "\\le"}) replace_command(s, c, "<=");
  for (const char* c : {"\\geqslant", "\\geq", "\\ge"}) replace_command(s, c, ">=");
  for (const char* c : {"\\neq", "\\ne"}) replace_command(s, c, "!=");
  replace_command(s, "\\lt", "<");
  replace_command(s, "\\gt", ">");
  replace_all(s, "\xe2\x89\xa4", "<=");       // ≤
  replace_all(s, "\xe2\x89\xa5", ">=");       // ≥
  replace_all(s, "\xe2\x89\xa0", "!=");       // ≠
  replace_all(s, "\xc3\x97", "\\times");      // ×
  replace_all(s, "\xe2\x88\x9e", "\\infty");  // ∞
  replace_all(s, "\xcf\x80", "\\pi");         // π
  replace_all(s, "\xe2\x88\x92", "-");        // the minus sign
  dashes_to_minus(s, false);
  replace_command(s, "\\mathbb{R}", "(-\\infty,\\infty)");
  // Unicode math as LaTeX: √2, x², ·, ÷, ∅.
  static const RE2 root_digits(R"(\x{221A}(\d+(?:\.\d+)?))");
  RE2::GlobalReplace(&s, root_digits, "\\\\sqrt{\\1}");
  replace_all(s, "\xe2\x88\x9a", "\\sqrt ");
  replace_all(s, "\xe2\x89\x88", "\\approx ");  // ≈
  superscripts_to_caret(s);
  replace_all(s, "\xc2\xb7", "\\cdot ");
  replace_all(s, "\xc3\xb7", "\\div ");
  replace_all(s, "\xe2\x88\x85", "\\emptyset");
  for (const char* c : {"\\dbinom", "\\tbinom"}) replace_command(s, c, "\\binom");
  replace_command(s, "\\varnothing", "\\emptyset");
  static const RE2 empty_set(R"(\\\{\s*\\\})");
  RE2::GlobalReplace(&s, empty_set, "\\\\emptyset");
  replace_command(s, "\\lbrace", "\\{");
  replace_command(s, "\\rbrace", "\\}");
  // "{5 \over 2}" is \frac{5}{2}.
  static const RE2 over_re(R"(\{([^{}]*)\\over\b([^{}]*)\})");
  RE2::GlobalReplace(&s, over_re, "\\\\frac{\\1}{\\2}");
  replace_command(s, "\\langle", "(");
  replace_command(s, "\\rangle", ")");
  // A congruence gives its residue: "n \equiv 3 \pmod{7}" answers 3.
  static const RE2 pmod_re(R"(\s*(?:\\pmod\s*(?:\{[^{}]*\}|\d+)|\(\s*\\(?:bmod|mod)\s*\d+\s*\)))");
  RE2::GlobalReplace(&s, pmod_re, "");
  replace_command(s, "\\equiv", "=");
  // "1.5 x 10^3", "2 x 3": a spaced x between numbers is a times sign.
  static const RE2 times_x(R"((\d)\s+x\s+(\d))");
  RE2::GlobalReplace(&s, times_x, "\\1 \\\\times \\2");
  static const RE2 times_ten(R"((\d)x(10\^))");  // "2x10^3" too
  RE2::GlobalReplace(&s, times_ten, "\\1\\\\times \\2");
  // A repeating decimal "0.1\overline{6}" as the fraction it is.
  static const RE2 repeating(R"((\d{0,12})\.(\d{0,12})\\overline\{(\d{1,12})\})");
  std::string whole, fixed, period;
  for (int k = 0; k < 8 && RE2::PartialMatch(s, repeating, &whole, &fixed, &period); k++) {
    std::string w = whole.empty() ? "0" : whole;
    std::string frac = "\\frac{" + w + fixed + period + "-" + w + fixed + "}{" +
                       std::string(period.size(), '9') + std::string(fixed.size(), '0') + "}";
    std::string rewrite;  // RE2 rewrites read backslashes as escapes
    for (char c : "(" + frac + ")") rewrite += c == '\\' ? std::string("\\\\") : std::string(1, c);
    RE2::Replace(&s, repeating, rewrite);
  }
  // {,} is a thousands separator before exactly three digits, else a decimal comma.
  static const RE2 brace_thousands(R"(\{,\}(\d{3})(\D|$))");
  for (int k = 0; k < 64 && RE2::Replace(&s, brace_thousands, "\\1\\2"); k++) {
  }
  replace_all(s, "{,}", ".");
  for (const char* cmd :
       {"\\text",          "\\textbf", "\\textit",       "\\textrm",     "\\textnormal",
        "\\textsf",        "\\mathrm", "\\mathbf",       "\\mathit",     "\\mathsf",
        "\\mbox",          "\\hbox",   "\\operatorname", "\\boldsymbol", "\\bm",
        "\\boxed",         "\\fbox",   "\\underline",    "\\emph",       "\\vec",
        "\\overrightarrow"})
    unwrap_command(s, cmd);
  s = trim(s);
  // Sentence punctuation after the answer ("$40,$ as computed", "5;") is not part of it.
  while (!s.empty() && (s.back() == '.' || s.back() == ',' || s.back() == ';' || s.back() == ' '))
    s.pop_back();
  s = trim(s);
  // Thousands separators in a whole number: 1,234,567.5 and 1 234 567
  static const RE2 thousands(R"(^-?\d{1,3}(,\d{3})+(\.\d+)?%?$)");
  static const RE2 space_thousands(R"(^-?\d{1,3}( \d{3})+(\.\d+)?%?$)");
  std::string compact = nospace(s);
  if (RE2::FullMatch(compact, thousands) || RE2::FullMatch(compact, space_thousands)) {
    s.clear();
    for (char c : compact)
      if (c != ',' && c != ' ') s += c;
  }
  static const RE2 answer_words(R"((?i)^(?:the\s+)?(?:final\s+)?answer\s*(?:is\s*:?|:)\s*)");
  RE2::Replace(&s, answer_words, "");
  // "x = 5 (answer)", "7 (the smallest such n)": words only, the first one not a letter name.
  // A note that hedges ("(give or take)", "(maybe)") stays: it is no remark.
  static const RE2 trailing_note(R"(\s+(\([A-Za-z]{3,}(?:\s+[A-Za-z]+)*\))$)");
  std::string note;
  if (RE2::PartialMatch(s, trailing_note, &note) && !open_bracket(note))
    RE2::Replace(&s, trailing_note, "");
  // Set-builder notation "\{x \mid x > 2\}" is its condition, read as a relation.
  static const RE2 set_builder(R"(^\\\{\s*([a-z])\s*(?:\\mid|\||:)\s*(.+)\\\}$)");
  std::string sb_var, sb_cond;
  if (RE2::FullMatch(s, set_builder, &sb_var, &sb_cond) &&
      sb_cond.find(sb_var) != std::string::npos && sb_cond.find_first_of("<>") != std::string::npos)
    s = trim(sb_cond);
  static const RE2 all_reals(R"((?i)^(?:all real numbers|all reals|every real number)$)");
  if (RE2::FullMatch(s, all_reals)) s = "(-\\infty,\\infty)";
  s = reals_minus_points(s);
  s = braced_base(s);
  s = number_words(s);
  static const RE2 infinity_word(R"((?i)^(?:(positive|plus)\s+|(negative|minus)\s+)?infinity$)");
  std::string pos_inf, neg_inf;
  if (RE2::FullMatch(s, infinity_word, &pos_inf, &neg_inf))
    s = neg_inf.empty() ? "\\infty" : "-\\infty";
  static const RE2 ratio_words(R"(^(\d+)\s+to\s+(\d+)$)");  // "3 to 4" as an answer is 3:4
  RE2::Replace(&s, ratio_words, "\\1:\\2");
  static const RE2 percent_word(R"((?i)(\d)\s*(?:percent|per cent)\b)");  // "25 percent" is 25%
  RE2::GlobalReplace(&s, percent_word, "\\1%");
  // "1.2 million" is 1.2 \times 10^{6}; the rest of the words may still be units.
  static const RE2 scale_re(
      R"((?i)^(-?\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion)\b(.*)$)");
  std::string mant, scale, tail;
  if (RE2::FullMatch(s, scale_re, &mant, &scale, &tail)) {
    std::string l = lower(scale);
    const char* e = l == "thousand" ? "3" : l == "million" ? "6" : l == "billion" ? "9" : "12";
    s = mant + "\\times10^{" + e + "}" + tail;
  }
  s = dollars_and_cents(s);
  static const RE2 below_zero(
      R"((?i)^(\d+(?:\.\d+)?)\s*(?:degrees?|\^\\circ|\^\{\\circ\})?\s*(?:[CF]\s+)?below\s+zero$)");
  RE2::Replace(&s, below_zero, "-\\1");  // "5 degrees below zero" is -5
  static const RE2 exactly_re(R"((?i)^(?:exactly|precisely)\s+)");
  RE2::Replace(&s, exactly_re, "");  // "exactly 12 apples" is 12
  s = strip_units(s);
  compact = nospace(s);  // "1,500 dollars" once the unit is gone
  if (RE2::FullMatch(compact, thousands) || RE2::FullMatch(compact, space_thousands)) {
    s.clear();
    for (char c : compact)
      if (c != ',' && c != ' ') s += c;
  }
  replace_all(s, "\x01", "\\\\");
  // Collapse runs of spaces.
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  return trim(out);
}

MathVerdict math_equal(const std::string& gold, const std::string& pred, const MathOptions& opt) {
  // Normalising reads the first kMaxAnswer bytes: a longer answer would be judged by its prefix.
  if (pred.size() > kMaxAnswer)
    return {false, "answer too long (" + std::to_string(pred.size()) + " bytes, over " +
                       std::to_string(kMaxAnswer) + ")"};
  std::string g = math_normalize(gold), p = math_normalize(pred);
  if (p.empty()) return {false, "empty answer"};
  return equal_normalized(g, p, opt, 0);
}

RewardResult check_math(const std::string& completion, const nlohmann::json& reference,
                        const CheckerOptions& options) {
  MathOptions opt;
  if (options.has("extract")) opt.extract = split_list(options.get_string("extract", ""));
  opt.rel_tol = options.get_double("rel_tol", opt.rel_tol);
  opt.symbolic = options.get_bool("symbolic", opt.symbolic);
  opt.symbolic_timeout_s = options.get_double("symbolic_timeout_s", opt.symbolic_timeout_s);
  std::string field = options.get_string("answer_field", "answer");
  if (!reference.is_object() || !reference.contains(field))
    throw std::invalid_argument("math: reference has no field '" + field + "'");
  const auto& ref = reference.at(field);
  // A gold answer that says nothing is a data error, never a silent 0 for every completion.
  if (ref.is_null() || ref.is_object() || (ref.is_array() && ref.empty()) ||
      (ref.is_string() && trim(ref.get<std::string>()).empty()))
    throw std::invalid_argument(
        "math: reference field '" + field + "' holds no answer (" +
        ref.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).substr(0, 40) + ")");
  std::string gold_text = ref.is_string() ? ref.get<std::string>() : ref.dump();
  if (ref.is_array()) {  // [2, 3] lists the answers (roots, say): "2, 3", never the interval [2,3]
    gold_text.clear();
    for (const auto& v : ref) {
      if (!gold_text.empty()) gold_text += ", ";
      gold_text += v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  gold_text = math_from_language(gold_text);
  std::string gold = math_gold(gold_text);
  RewardResult r;
  // Cut inside <think>: no answer, as for every checker (a number in the draft is not one).
  const std::optional<std::string> part = answer_part(completion);
  if (!part) {
    r.reason = kEndsInThink;
    r.components = {{"correct", 0.0}};
    return r;
  }
  std::string method;
  r.extracted = math_extract(*part, opt, &method);
  if (r.extracted.empty()) {
    r.reason = "no answer found";
    r.components = {{"correct", 0.0}};
    return r;
  }
  // Only the last number was found, but the text ends with "x = 3, y = 4" and the gold answer is a
  // tuple of that length (or "x = 2 or x = 3" and a list): those values are the answer (never for
  // a scalar gold answer).
  // The same for math read as the answer when it is the last of such equations, one per list item
  // too: "1. $x = 2$\n2. $x = 3$".
  static const RE2 one_eq_re(R"(^\s*[A-Za-z](?:_\{?\d\}?)?\s*=\s*(\S+)\s*$)");
  std::string last_value;
  bool math_eq = (method == "latex" || method == "answer_is") && r.extracted.size() <= 64 &&
                 RE2::FullMatch(r.extracted, one_eq_re, &last_value);
  if (method == "last_number" || math_eq) {
    Structure gs = parse_structure(math_normalize(gold));
    std::string text = own_turn(visible_text(math_from_language(*part)));
    if (math_eq) text = unwrap_plain_math(text);
    // How often the math read holds among the equations found (they may come sorted).
    auto holds_last = [&](const std::string& eqs) {
      std::string all = eqs + ",", one = "= " + last_value + ",";
      size_t count = 0;
      for (size_t p = all.find(one); p != std::string::npos; p = all.find(one, p + 1)) count++;
      return count;
    };
    if (gs.kind == Structure::kTuple || gs.kind == Structure::kList) {
      if (auto eqs = plain_equations(text, gs.elems.size(), gs.kind == Structure::kList))
        if (!math_eq || holds_last(*eqs) > 0) r.extracted = *eqs;
    } else if (math_eq) {
      // Against one value, "1. $x = 2$\n2. $x = 3$" offers two: both, never the last alone.
      if (auto eqs = plain_equations(text, 0, true, true); eqs && holds_last(*eqs) == 1)
        r.extracted = *eqs;
    }
  }
  MathVerdict v;
  long long duration =
      r.extracted.size() > kMaxAnswer ? -1 : compound_duration(math_normalize_words(r.extracted));
  if (duration >= 0) {
    // "2 hours and 30 minutes" is one duration: it answers 150 or 2.5 only in the unit the
    // reference writes after its answer ("150 minutes", "= 2.5 hours\n#### 2.5"), else nothing.
    long unit = duration_unit(gold_text, math_normalize(gold));
    if (unit > 0)
      v = math_equal(gold, std::to_string(duration) + "/" + std::to_string(unit), opt);
    else
      v = {false, "a duration in two units, the reference's unit unknown"};
  } else {
    v = math_equal(gold, r.extracted, opt);
  }
  r.score = v.equal ? 1.0 : 0.0;
  r.components = {{"correct", r.score}};
  r.reason = (v.equal ? "correct (" : "wrong (") + v.how + ", from " + method + ")";
  return r;
}

}  // namespace aha
