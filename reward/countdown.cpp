// Countdown checker: the answer is an arithmetic expression over the given numbers (+ - * / and
// parentheses, also x, the Unicode signs and LaTeX's \times, \cdot, \div; brackets group too) that
// must equal the target in exact rational arithmetic; sides after an "=" must state its value. Each given number may be used at most once (or exactly once with option
// exactly_once).
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "reward/reward.h"

namespace aha {

namespace {

// Exact rational with 64-bit parts; every operation checks for overflow in 128-bit arithmetic.
struct Rational {
  int64_t num = 0, den = 1;
};

struct EvalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Rational make(__int128 n, __int128 d) {
  if (d == 0) throw EvalError("division by zero");
  if (d < 0) {
    n = -n;
    d = -d;
  }
  __int128 a = n < 0 ? -n : n, b = d;
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) {
    n /= a;
    d /= a;
  }
  const __int128 lim = static_cast<__int128>(INT64_MAX);
  if (n > lim || n < -lim || d > lim) throw EvalError("number too large");
  return {static_cast<int64_t>(n), static_cast<int64_t>(d)};
}

struct Expr {
  const std::string& s;
  size_t i = 0;
  int depth = 0;
  std::vector<int64_t> used;

  explicit Expr(const std::string& text) : s(text) {}

  void skip() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
  }
  // Operators: ASCII plus the UTF-8 signs for times, divide and minus.
  int op(const char* const* alts) {
    skip();
    for (int k = 0; alts[k]; k++) {
      size_t n = std::char_traits<char>::length(alts[k]);
      if (s.compare(i, n, alts[k]) == 0) {
        i += n;
        return k;
      }
    }
    return -1;
  }
  Rational expr() {
    if (++depth > 100) throw EvalError("expression nested too deeply");
    static const char* const addsub[] = {"+", "-", "\xe2\x88\x92", nullptr};
    Rational a = term();
    for (int k; (k = op(addsub)) >= 0;) {
      Rational b = term();
      __int128 n = static_cast<__int128>(a.num) * b.den +
                   (k == 0 ? 1 : -1) * static_cast<__int128>(b.num) * a.den;
      a = make(n, static_cast<__int128>(a.den) * b.den);
    }
    depth--;
    return a;
  }
  Rational term() {
    static const char* const muldiv[] = {"*",      "x", "X",        "\xc3\x97", "\\times",
                                         "\\cdot", "/", "\xc3\xb7", "\\div",    nullptr};
    Rational a = primary();
    for (int k; (k = op(muldiv)) >= 0;) {
      Rational b = primary();
      if (k <= 5)
        a = make(static_cast<__int128>(a.num) * b.num, static_cast<__int128>(a.den) * b.den);
      else
        a = make(static_cast<__int128>(a.num) * b.den, static_cast<__int128>(a.den) * b.num);
    }
    return a;
  }
  Rational primary() {
    skip();
    // Brackets and braces group like parentheses: "[(25 - 5) * 4]", LaTeX's "{25 - 5}".
    static const char kOpen[] = "([{", kClose[] = ")]}";
    if (i < s.size() && s[i] != '\0' && std::strchr(kOpen, s[i])) {
      const char close = kClose[std::strchr(kOpen, s[i]) - kOpen];
      i++;
      Rational r = expr();
      skip();
      if (i >= s.size() || s[i] != close)
        throw EvalError(std::string("malformed expression: missing '") + close + "'");
      i++;
      return r;
    }
    size_t b = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
    if (i == b) {
      throw EvalError(i < s.size()
                          ? "malformed expression: unexpected '" + std::string(1, s[i]) + "'"
                          : "malformed expression: unexpected end");
    }
    if (i - b > 12) throw EvalError("number too large");
    int64_t v = std::stoll(s.substr(b, i - b));
    used.push_back(v);
    return {v, 1};
  }
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string unwrap_math(std::string a);

// The expression: inside the last <answer>...</answer>, else the last \boxed{}, else the last line
// ("expr = 80" whole: the checker reads its sides).
std::string extract_expression(const std::string& c) {
  std::string a;
  size_t close = c.rfind("</answer>");
  size_t open = close == std::string::npos ? std::string::npos : c.rfind("<answer>", close);
  if (open != std::string::npos) {
    a = c.substr(open + 8, close - open - 8);
  } else if (size_t bx = c.rfind("\\boxed{"); bx != std::string::npos) {
    int depth = 0;
    size_t k = bx + 6;
    for (; k < c.size(); k++) {
      if (c[k] == '{') depth++;
      if (c[k] == '}' && --depth == 0) break;
    }
    a = c.substr(bx + 7, k - bx - 7);
  } else {
    std::string t = trim(c);
    size_t nl = t.rfind('\n');
    a = nl == std::string::npos ? t : t.substr(nl + 1);
  }
  return unwrap_math(a);
}

// The answer without LaTeX's math delimiters and sizing ("$(25-5) \cdot 4$", "\((25-5)\times
// 4\)", "\left( ... \right)") or a closing period: notation, not a different expression.
std::string unwrap_math(std::string a) {
  a = trim(a);
  if (!a.empty() && a.back() == '.') a = trim(a.substr(0, a.size() - 1));
  for (const auto& [open, close] : {std::pair<std::string, std::string>{"$$", "$$"},
                                    {"$", "$"},
                                    {"\\(", "\\)"},
                                    {"\\[", "\\]"}}) {
    if (a.size() >= open.size() + close.size() && a.compare(0, open.size(), open) == 0 &&
        a.compare(a.size() - close.size(), close.size(), close) == 0) {
      a = trim(a.substr(open.size(), a.size() - open.size() - close.size()));
      break;
    }
  }
  for (const char* sizing : {"\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr"})
    for (size_t k; (k = a.find(sizing)) != std::string::npos;) a.erase(k, std::strlen(sizing));
  return a;
}

std::vector<int64_t> int_list(const nlohmann::json& ref, const char* field) {
  if (!ref.contains(field) || !ref.at(field).is_array())
    throw std::invalid_argument(std::string("countdown: reference field '") + field +
                                "' must be a list");
  std::vector<int64_t> v;
  for (const auto& x : ref.at(field)) {
    // An unsigned value past int64 (18446744073709551615) would wrap to -1 in get<int64_t>().
    if (!x.is_number_integer() || (x.is_number_unsigned() && x.get<uint64_t>() > INT64_MAX))
      throw std::invalid_argument(std::string("countdown: reference field '") + field +
                                  "' must hold 64-bit signed integers");
    v.push_back(x.get<int64_t>());
  }
  return v;
}

}  // namespace

RewardResult check_countdown(const std::string& completion, const nlohmann::json& reference,
                             const CheckerOptions& options) {
  bool exactly_once = options.get_bool("exactly_once", false);
  std::vector<int64_t> numbers = int_list(reference, "numbers");
  if (!reference.contains("target") || !reference.at("target").is_number_integer() ||
      (reference.at("target").is_number_unsigned() &&
       reference.at("target").get<uint64_t>() > INT64_MAX))
    throw std::invalid_argument(
        "countdown: reference field 'target' must be a 64-bit signed integer");
  int64_t target = reference.at("target").get<int64_t>();

  RewardResult r;
  r.components = {{"correct", 0.0}, {"valid", 0.0}};
  const std::optional<std::string> part = answer_part(completion);
  if (!part) {
    r.reason = kEndsInThink;
    return r;
  }
  r.extracted = extract_expression(*part);
  if (r.extracted.empty()) {
    r.reason = "no expression found";
    return r;
  }
  if (r.extracted.size() > 1000) {
    r.reason = "expression too long";
    return r;
  }
  // "expr = 80" or "(25 - 5) * 4 = 20 * 4 = 80": the first side is the expression over the given
  // numbers; every later side is a claim about its value and must equal it ("= 81" is wrong even
  // where the expression reaches the target).
  std::vector<std::string> sides;
  for (size_t b = 0;;) {
    size_t eq = r.extracted.find('=', b);
    sides.push_back(trim(r.extracted.substr(b, eq == std::string::npos ? eq : eq - b)));
    if (eq == std::string::npos) break;
    b = eq + 1;
  }
  auto evaluate = [](const std::string& text, std::vector<int64_t>* used) {
    Expr e(text);
    Rational v = e.expr();
    e.skip();
    if (e.i != text.size())
      throw EvalError("malformed expression: unexpected '" + std::string(1, text[e.i]) + "'");
    if (used) *used = std::move(e.used);
    return v;
  };
  Rational value;
  std::vector<int64_t> used;
  try {
    value = evaluate(sides[0], &used);
    for (size_t k = 1; k < sides.size(); k++) {
      Rational claim = evaluate(sides[k], nullptr);
      if (claim.num != value.num || claim.den != value.den) {
        r.reason = "states " + sides[k] + " but the expression evaluates to " +
                   std::to_string(value.num) +
                   (value.den == 1 ? "" : "/" + std::to_string(value.den));
        return r;
      }
    }
  } catch (const EvalError& err) {
    r.reason = err.what();
    return r;
  }
  std::vector<int64_t> avail = numbers;
  std::sort(avail.begin(), avail.end());
  std::sort(used.begin(), used.end());
  // Multiset inclusion: every used number must come from a distinct given number.
  std::vector<int64_t> left;
  std::set_difference(used.begin(), used.end(), avail.begin(), avail.end(),
                      std::back_inserter(left));
  if (!left.empty()) {
    r.reason =
        "uses " + std::to_string(left[0]) + " which is not available (or more often than given)";
    return r;
  }
  if (exactly_once && used.size() != avail.size()) {
    r.reason = "must use every number exactly once (used " + std::to_string(used.size()) + " of " +
               std::to_string(avail.size()) + ")";
    return r;
  }
  r.components[1].second = 1.0;
  if (value.den == 1 && value.num == target) {
    r.score = 1.0;
    r.components[0].second = 1.0;
    r.reason = "reaches the target";
  } else {
    r.reason = "evaluates to " + std::to_string(value.num) +
               (value.den == 1 ? "" : "/" + std::to_string(value.den)) + ", target " +
               std::to_string(target);
  }
  return r;
}

}  // namespace aha
