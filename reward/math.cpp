// Math checker: extraction, LaTeX normalisation, structured / numeric / symbolic comparison.
#include "reward/math.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "reward/math_symbolic.h"
#include "reward/reward.h"

namespace aha {

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) e--;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
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

// Content of the last \boxed{...} or \fbox{...} (nested braces), or of "\boxed 5".
std::optional<std::string> last_boxed(const std::string& s) {
  size_t best = std::string::npos, name_len = 0;
  for (const char* name : {"\\boxed", "\\fbox"}) {
    size_t p = s.rfind(name);
    if (p != std::string::npos && (best == std::string::npos || p > best)) {
      best = p;
      name_len = std::string(name).size();
    }
  }
  if (best == std::string::npos) return std::nullopt;
  size_t i = best + name_len;
  if (i < s.size() && s[i] == '{') {
    size_t end = match_brace(s, i);
    if (end == std::string::npos) return std::nullopt;
    return s.substr(i + 1, end - i - 2);
  }
  if (i < s.size() && s[i] == ' ') {
    size_t b = i + 1, e = b;
    while (e < s.size() && s[e] != '$' && !std::isspace(static_cast<unsigned char>(s[e]))) e++;
    if (e > b) return s.substr(b, e - b);
  }
  return std::nullopt;
}

std::optional<std::string> answer_tag(const std::string& s) {
  size_t close = s.rfind("</answer>");
  if (close == std::string::npos) return std::nullopt;
  size_t open = s.rfind("<answer>", close);
  if (open == std::string::npos) return std::nullopt;
  std::string inner = s.substr(open + 8, close - open - 8);
  if (auto b = last_boxed(inner)) return b;
  inner = trim(inner);
  if (inner.empty()) return std::nullopt;
  return inner;
}

std::optional<std::string> gsm8k_hashes(const std::string& s) {
  size_t p = s.rfind("####");
  if (p == std::string::npos) return std::nullopt;
  size_t e = s.find('\n', p);
  std::string a = trim(s.substr(p + 4, e == std::string::npos ? std::string::npos : e - p - 4));
  if (a.empty()) return std::nullopt;
  return a;
}

std::optional<std::string> answer_is(const std::string& s) {
  std::string low = lower(s);
  size_t best = std::string::npos, len = 0;
  for (const char* key : {"the answer is", "final answer is", "answer:"}) {
    size_t p = low.rfind(key);
    if (p != std::string::npos &&
        (best == std::string::npos || p + std::string(key).size() > best + len)) {
      best = p;
      len = std::string(key).size();
    }
  }
  if (best == std::string::npos) return std::nullopt;
  std::string rest = s.substr(best + len);
  size_t nl = rest.find('\n');
  if (nl != std::string::npos) rest = rest.substr(0, nl);
  if (auto b = last_boxed(rest)) return b;
  rest = trim(rest);
  if (!rest.empty() && rest[0] == ':') rest = trim(rest.substr(1));
  // A sentence ends at ". " (a period followed by a space), never at a decimal point.
  size_t stop = rest.find(". ");
  if (stop != std::string::npos) rest = rest.substr(0, stop);
  while (!rest.empty() && (rest.back() == '.' || rest.back() == ' ')) rest.pop_back();
  if (rest.size() >= 2 && rest.front() == '$' && rest.back() == '$')
    rest = rest.substr(1, rest.size() - 2);
  if (rest.empty()) return std::nullopt;
  return rest;
}

std::optional<std::string> last_number(const std::string& s) {
  static const RE2 re(R"((-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:/\d+)?|-?\.\d+))");
  re2::StringPiece in(s);
  std::string m, last;
  while (RE2::FindAndConsume(&in, re, &m)) last = m;
  if (last.empty()) return std::nullopt;
  return last;
}

// Replaces \name{X} by X for text-like commands (nested braces kept).
void unwrap_command(std::string& s, const std::string& name) {
  size_t pos = 0;
  while ((pos = s.find(name, pos)) != std::string::npos) {
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

// Removes "\left" / "\right" only as whole commands (keeps \rightarrow etc.).
void remove_command(std::string& s, const std::string& name) {
  size_t pos = 0;
  while ((pos = s.find(name, pos)) != std::string::npos) {
    size_t after = pos + name.size();
    if (after < s.size() && std::isalpha(static_cast<unsigned char>(s[after]))) {
      pos = after;
      continue;
    }
    s.erase(pos, name.size());
  }
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
      "points",  "times",   "items",  "pieces",  "boxes",  "hrs",     "mins"};
  for (const char* u : units)
    if (w == u) return true;
  return false;
}

bool is_plain_number(const std::string& s);

// Strips trailing unit words after a number: "5 cm", "12 square feet", "30 dollars", "5 cm^2".
std::string strip_units(const std::string& s) {
  static const RE2 re(R"(^(.*?[0-9%}])(\s*)((?:[A-Za-z]+(?:\^[23])?\s*)+)$)");
  std::string prefix, space, words;
  if (!RE2::FullMatch(s, re, &prefix, &space, &words)) return s;
  prefix = trim(prefix);
  if (prefix.empty() || !is_plain_number(prefix)) return s;
  bool all_units = true;
  size_t i = 0;
  while (i < words.size()) {
    while (i < words.size() && !std::isalpha(static_cast<unsigned char>(words[i]))) i++;
    size_t j = i;
    while (j < words.size() && std::isalpha(static_cast<unsigned char>(words[j]))) j++;
    if (j > i && !is_unit_word(lower(words.substr(i, j - i)))) all_units = false;
    i = j;
  }
  // Known units may touch the number ("5cm"); other words must be set apart by a space.
  if (all_units || !space.empty()) return prefix;
  return s;
}

struct Number {
  long double value = 0;
  bool percent = false;
  bool integer = false;  // written as an integer (compared exactly)
  long long int_value = 0;
};

// Parses an unsigned decimal "12", "1.5", ".5", "3e5", "1.5e-3". Returns characters used (0 if
// none).
size_t parse_decimal(const std::string& s, size_t i, long double* out, bool* is_int) {
  size_t start = i;
  bool digits = false, dot = false;
  while (i < s.size() &&
         (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
    if (s[i] == '.') {
      dot = true;
    } else {
      digits = true;
    }
    i++;
  }
  if (!digits) return 0;
  if (s[i - 1] == '.') return 0;  // "5." is not a number here (trailing period was stripped)
  bool exp = false;
  if (i + 1 < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) j++;
    size_t k = j;
    while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) k++;
    if (k > j) {
      i = k;
      exp = true;
    }
  }
  std::string t = s.substr(start, i - start);
  if (t.size() > 40) return 0;
  *out = std::strtold(t.c_str(), nullptr);
  *is_int = !dot && !exp;
  return i - start;
}

// Number forms: [-]decimal, a/b, \frac{a}{b}, \frac ab, mixed 2\frac{1}{2}, d\times10^{k}, trailing
// %.
std::optional<Number> parse_number(const std::string& in) {
  std::string s;
  for (size_t k = 0; k < in.size(); k++) {
    if (in[k] != ' ') {
      s += in[k];
      continue;
    }
    // "1 0" is not ten: a space between two digits makes it no number.
    size_t nx = in.find_first_not_of(' ', k);
    if (!s.empty() && std::isdigit(static_cast<unsigned char>(s.back())) &&
        nx != std::string::npos && std::isdigit(static_cast<unsigned char>(in[nx])))
      return std::nullopt;
  }
  if (s.empty() || s.size() > 80) return std::nullopt;
  Number n;
  if (s.back() == '%') {
    n.percent = true;
    s.pop_back();
  }
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    neg = s[i] == '-';
    i++;
  }
  auto read_frac = [&](size_t& k, long double* v) -> bool {
    // \frac{a}{b} or \frac ab with a, b decimals
    if (s.compare(k, 5, "\\frac") != 0) return false;
    k += 5;
    long double a = 0, b = 0;
    bool ia = false, ib = false;
    if (k < s.size() && s[k] == '{') {
      size_t e = match_brace(s, k);
      if (e == std::string::npos) return false;
      std::string inner = s.substr(k + 1, e - k - 2);
      if (parse_decimal(inner, 0, &a, &ia) != inner.size() || inner.empty()) return false;
      k = e;
    } else if (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) {
      a = s[k] - '0';
      k++;
    } else {
      return false;
    }
    if (k < s.size() && s[k] == '{') {
      size_t e = match_brace(s, k);
      if (e == std::string::npos) return false;
      std::string inner = s.substr(k + 1, e - k - 2);
      if (parse_decimal(inner, 0, &b, &ib) != inner.size() || inner.empty()) return false;
      k = e;
    } else if (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) {
      b = s[k] - '0';
      k++;
    } else {
      return false;
    }
    if (b == 0) return false;
    *v = a / b;
    return true;
  };
  long double v = 0;
  bool is_int = false;
  if (read_frac(i, &v)) {
    if (i != s.size()) return std::nullopt;
  } else {
    size_t used = parse_decimal(s, i, &v, &is_int);
    if (used == 0) return std::nullopt;
    i += used;
    if (i < s.size()) {
      long double w = 0;
      bool wi = false;
      if (s[i] == '/') {
        size_t used2 = parse_decimal(s, i + 1, &w, &wi);
        if (used2 == 0 || i + 1 + used2 != s.size() || w == 0) return std::nullopt;
        v /= w;
        is_int = false;
        i = s.size();
      } else if (s.compare(i, 5, "\\frac") == 0 && is_int) {  // mixed number 2\frac{1}{2}
        size_t k = i;
        if (!read_frac(k, &w) || k != s.size() || w >= 1) return std::nullopt;
        v += w;
        is_int = false;
        i = k;
      } else {
        // d\times10^{k} or d\cdot10^k
        for (const char* times : {"\\times10^", "\\cdot10^", "*10^", "\\times{10}^"}) {
          size_t tl = std::string(times).size();
          if (s.compare(i, tl, times) == 0) {
            size_t k = i + tl;
            std::string e;
            if (k < s.size() && s[k] == '{') {
              size_t end = match_brace(s, k);
              if (end == std::string::npos) return std::nullopt;
              e = s.substr(k + 1, end - k - 2);
              k = end;
            } else {
              size_t b = k;
              if (k < s.size() && s[k] == '-') k++;
              while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) k++;
              e = s.substr(b, k - b);
            }
            if (k != s.size() || e.empty() || e.size() > 4) return std::nullopt;
            char* endp = nullptr;
            long ev = std::strtol(e.c_str(), &endp, 10);
            if (*endp != '\0') return std::nullopt;
            v *= std::pow(10.0L, static_cast<long double>(ev));
            is_int = false;
            i = s.size();
            break;
          }
        }
        if (i != s.size()) return std::nullopt;
      }
    }
  }
  n.value = neg ? -v : v;
  if (is_int) {
    std::string digits = s.substr(neg || s[0] == '+' ? 1 : 0);
    if (digits.size() <= 18) {
      n.integer = true;
      n.int_value = std::stoll(digits) * (neg ? -1 : 1);
    }
  }
  return n;
}

bool is_plain_number(const std::string& s) {
  return parse_number(s).has_value();
}

bool close_enough(long double a, long double b, double rel_tol) {
  if (a == b) return true;
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  long double scale = std::max(std::fabs(a), std::fabs(b));
  return std::fabs(a - b) <= rel_tol * scale;
}

bool numbers_equal(const Number& g, const Number& p, double rel_tol) {
  auto same = [&](const Number& a, const Number& b) {
    if (a.integer && b.integer) return a.int_value == b.int_value;
    return close_enough(a.value, b.value, rel_tol);
  };
  if (g.percent == p.percent) return same(g, p);
  // Exactly one side wrote a percent sign: "50%" matches "50" (sign dropped) and "0.5" (its value).
  // Two plain numbers are never scaled by 100 (50 vs 0.5 is a known false positive).
  const Number& pc = g.percent ? g : p;
  const Number& plain = g.percent ? p : g;
  if (same(pc, plain)) return true;
  Number scaled = pc;
  scaled.value = pc.value / 100;
  scaled.integer = false;
  return close_enough(scaled.value, plain.value, rel_tol);
}

// Drops spaces except between two letters or digits ("1 0" stays apart from "10").
std::string nospace(const std::string& s) {
  std::string t;
  for (size_t i = 0; i < s.size(); i++) {
    if (!std::isspace(static_cast<unsigned char>(s[i]))) {
      t += s[i];
      continue;
    }
    size_t nx = i;
    while (nx < s.size() && std::isspace(static_cast<unsigned char>(s[nx]))) nx++;
    if (!t.empty() && nx < s.size() && std::isalnum(static_cast<unsigned char>(t.back())) &&
        std::isalnum(static_cast<unsigned char>(s[nx])))
      t += ' ';
    i = nx - 1;
  }
  return t;
}

// Splits at top-level occurrences of sep (outside (), [], {}), tracking \{ \} as braces.
std::vector<std::string> split_top(const std::string& s, const std::string& sep) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      depth += s[i + 1] == '{' ? 1 : -1;
      i++;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') depth++;
    if (c == ')' || c == ']' || c == '}') depth--;
    if (depth == 0 && s.compare(i, sep.size(), sep) == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + sep.size();
      i += sep.size() - 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

// True when the opening bracket at 0 closes exactly at the last character.
bool wraps_whole(const std::string& s, size_t open_len) {
  int depth = 0;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      depth += s[i + 1] == '{' ? 1 : -1;
      i++;
    } else if (c == '(' || c == '[' || c == '{') {
      depth++;
    } else if (c == ')' || c == ']' || c == '}') {
      depth--;
    }
    if (depth == 0 && i + 1 < s.size() && i >= open_len - 1) return false;
  }
  return depth == 0;
}

struct Structure {
  enum Kind { kScalar, kTuple, kSet, kList, kUnion, kMatrix } kind = kScalar;
  std::string open, close;  // bracket types kept: "(", "]", ...
  std::vector<std::string> elems;
  size_t rows = 0, cols = 0;  // matrices: elems row-major
};

Structure parse_structure(const std::string& s) {
  Structure st;
  std::string t = trim(s);
  // Matrices: \begin{pmatrix} a & b \\ c & d \end{pmatrix} (also bmatrix / matrix / vmatrix kept
  // apart)
  static const RE2 mat_re(R"(^\\begin\{([pbvB]?matrix)\}(.*)\\end\{([pbvB]?matrix)\}$)");
  std::string kind1, body, kind2;
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

// "x = 5" -> "5" when the left side is a plain variable name; otherwise unchanged.
std::string rhs_of_simple_equation(const std::string& s, bool* was_equation) {
  std::vector<std::string> sides = split_top(s, "=");
  *was_equation = false;
  if (sides.size() != 2) return s;
  std::string lhs = trim(sides[0]);
  static const RE2 var_re(R"(^([A-Za-z](_\{?[A-Za-z0-9]+\}?)?|\\[a-z]+|[A-Za-z]\([A-Za-z]\))$)");
  if (!RE2::FullMatch(lhs, var_re)) return s;
  *was_equation = true;
  return trim(sides[1]);
}

MathVerdict scalar_equal(const std::string& g, const std::string& p, const MathOptions& opt);

MathVerdict equal_normalized(const std::string& g, const std::string& p, const MathOptions& opt,
                             int depth) {
  if (depth > 4) return {false, "nested too deeply"};
  if (nospace(g) == nospace(p) && !g.empty()) return {true, "exact"};
  // Equations: "x = 5" against "5" (either side); several "x=1, y=2" become a list of values.
  bool geq = false, peq = false;
  std::string g2 = rhs_of_simple_equation(g, &geq);
  std::string p2 = rhs_of_simple_equation(p, &peq);
  if (geq && peq) {
    std::vector<std::string> gs = split_top(g, "="), ps = split_top(p, "=");
    if (nospace(gs[0]) != nospace(ps[0])) return {false, "different variables"};
  }
  if (geq || peq) return equal_normalized(g2, p2, opt, depth + 1);
  Structure gs = parse_structure(g), ps = parse_structure(p);
  if (gs.kind == Structure::kScalar && ps.kind == Structure::kScalar)
    return scalar_equal(g, p, opt);
  // A list of equations "x=1, y=2" compares by values.
  auto strip_eqs = [](Structure& st) {
    for (auto& e : st.elems) {
      bool eq = false;
      e = rhs_of_simple_equation(e, &eq);
    }
  };
  if (gs.kind == Structure::kList) strip_eqs(gs);
  if (ps.kind == Structure::kList) strip_eqs(ps);
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
  if (unordered_g) {
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
      if (!found) return {false, "set elements differ"};
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
    if (numbers_equal(*gn, *pn, opt.rel_tol)) return {true, "numeric"};
    return {false, "different number"};
  }
  if (gn && !pn && p.find_first_of("0123456789\\") == std::string::npos && p.size() <= 2 &&
      p.find('%') == std::string::npos)
    return {false, "not a number"};
  if (!opt.symbolic) return {false, "no match"};
  SymbolicVerdict sv =
      symbolic_equal(g, p, opt.rel_tol, opt.symbolic_timeout_s, opt.max_symbolic_chars);
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

}  // namespace

std::string math_extract(const std::string& text, const MathOptions& opt, std::string* method) {
  for (const std::string& m : opt.extract) {
    std::optional<std::string> a;
    if (m == "boxed") {
      a = last_boxed(text);
    } else if (m == "answer_tag") {
      a = answer_tag(text);
    } else if (m == "gsm8k") {
      a = gsm8k_hashes(text);
    } else if (m == "answer_is") {
      a = answer_is(text);
    } else if (m == "last_number") {
      a = last_number(text);
    } else {
      throw std::invalid_argument("math: unknown extraction method '" + m +
                                  "' (known: boxed, answer_tag, gsm8k, answer_is, last_number)");
    }
    if (a && !trim(*a).empty()) {
      if (method) *method = m;
      return *a;
    }
  }
  if (method) method->clear();
  return "";
}

std::string math_gold(const std::string& reference) {
  if (auto a = gsm8k_hashes(reference)) return *a;
  if (auto b = last_boxed(reference)) return *b;
  return trim(reference);
}

std::string math_normalize(const std::string& in) {
  std::string s = in;
  if (s.size() > 4096) s = s.substr(0, 4096);
  replace_all(s, "\n", " ");
  replace_all(s, "\\\\", "\x01");  // keep matrix row breaks "\\\\" apart from "\\ "
  replace_all(s, "\\$", "");
  replace_all(s, "$", "");
  remove_command(s, "\\left");
  remove_command(s, "\\right");
  remove_command(s, "\\displaystyle");
  remove_command(s, "\\big");
  remove_command(s, "\\Big");
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\tfrac", "\\frac");
  replace_all(s, "\\!", "");
  replace_all(s, "\\,", " ");
  replace_all(s, "\\;", " ");
  replace_all(s, "\\:", " ");
  replace_all(s, "\\ ", " ");
  remove_command(s, "\\qquad");
  remove_command(s, "\\quad");
  replace_all(s, "~", " ");
  replace_all(s, "^{\\circ}", "");
  replace_all(s, "^\\circ", "");
  replace_all(s, "\\circ", "");
  replace_all(s, "\xc2\xb0", "");  // the degree sign
  remove_command(s, "\\degree");
  replace_all(s, "\\%", "%");
  replace_all(s, "{,}", "");
  for (const char* cmd :
       {"\\text", "\\textbf", "\\textit", "\\mathrm", "\\mathbf", "\\mbox", "\\operatorname"})
    unwrap_command(s, cmd);
  s = trim(s);
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.pop_back();
  s = trim(s);
  // Thousands separators in a whole number: 1,234,567.5
  static const RE2 thousands(R"(^-?\d{1,3}(,\d{3})+(\.\d+)?%?$)");
  std::string compact = nospace(s);
  if (RE2::FullMatch(compact, thousands)) {
    s.clear();
    for (char c : compact)
      if (c != ',') s += c;
  }
  s = strip_units(s);
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
  std::string gold_text = ref.is_string() ? ref.get<std::string>() : ref.dump();
  std::string gold = math_gold(gold_text);
  RewardResult r;
  std::string method;
  r.extracted = math_extract(completion, opt, &method);
  if (r.extracted.empty()) {
    r.reason = "no answer found";
    r.components = {{"correct", 0.0}};
    return r;
  }
  MathVerdict v = math_equal(gold, r.extracted, opt);
  r.score = v.equal ? 1.0 : 0.0;
  r.components = {{"correct", r.score}};
  r.reason = (v.equal ? "correct (" : "wrong (") + v.how + ", from " + method + ")";
  return r;
}

}  // namespace aha
