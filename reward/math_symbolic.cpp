// LaTeX subset -> GiNaC expression, and equivalence by normal form or sample points.
#include "reward/math_symbolic.h"

#include <ginac/ginac.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>

namespace aha {

namespace {

std::timed_mutex g_ginac_mutex;  // GiNaC's reference counts and caches are not thread-safe

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct TooLarge : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Recursive-descent parser over one normalised string. Symbols are shared between the two sides
// through the caller's table so that "x" means the same symbol in gold and prediction.
struct Parser {
  const std::string& s;
  size_t i = 0;
  int depth = 0;
  std::map<std::string, GiNaC::symbol>& symbols;

  Parser(const std::string& text, std::map<std::string, GiNaC::symbol>& table)
      : s(text), symbols(table) {}

  void skip() {
    while (i < s.size() && s[i] == ' ') i++;
  }
  bool at_end() {
    skip();
    return i >= s.size();
  }
  bool peek(const char* t) {
    skip();
    size_t n = std::char_traits<char>::length(t);
    if (s.compare(i, n, t) != 0) return false;
    // A command must not continue with letters (\pi vs \pitchfork).
    if (t[0] == '\\' && std::isalpha(static_cast<unsigned char>(t[n - 1])) && i + n < s.size() &&
        std::isalpha(static_cast<unsigned char>(s[i + n])))
      return false;
    return true;
  }
  bool eat(const char* t) {
    if (!peek(t)) return false;
    i += std::char_traits<char>::length(t);
    return true;
  }
  void expect(const char* t) {
    if (!eat(t)) throw ParseError(std::string("expected ") + t);
  }
  struct Depth {
    Parser& p;
    explicit Depth(Parser& q) : p(q) {
      if (++p.depth > 40) throw TooLarge("nested too deeply");
    }
    ~Depth() { p.depth--; }
  };

  GiNaC::ex parse_all() {
    GiNaC::ex e = expr();
    if (!at_end()) throw ParseError("trailing input at " + std::to_string(i));
    return e;
  }

  GiNaC::ex expr() {
    Depth d(*this);
    GiNaC::ex e;
    if (eat("-")) {
      e = -term();
    } else {
      eat("+");
      e = term();
    }
    for (;;) {
      if (eat("+")) {
        e = e + term();
      } else if (eat("-")) {
        e = e - term();
      } else {
        return e;
      }
    }
  }

  bool starts_primary() {
    skip();
    if (i >= s.size()) return false;
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        std::isalpha(static_cast<unsigned char>(c)) || c == '(' || c == '{' || c == '.')
      return true;
    if (c == '\\') {
      for (const char* op : {"\\cdot", "\\times", "\\div", "\\right", "\\end", "\\cup", "\\pm"})
        if (peek(op)) return false;
      return true;
    }
    return false;
  }

  GiNaC::ex term() {
    Depth d(*this);
    GiNaC::ex e = factor();
    for (;;) {
      if (eat("*") || eat("\\cdot") || eat("\\times")) {
        e = e * factor();
      } else if (eat("/") || eat("\\div")) {
        GiNaC::ex den = factor();
        if (den.is_zero()) throw ParseError("division by zero");
        e = e / den;
      } else if (starts_primary()) {
        e = e * power();  // implicit multiplication: 2x, 3(x+1), x\sqrt{2}
      } else {
        return e;
      }
    }
  }

  GiNaC::ex factor() {
    Depth d(*this);
    if (eat("-")) return -factor();
    if (eat("+")) return factor();
    return power();
  }

  GiNaC::ex exponent() {
    skip();
    if (peek("{")) return group();
    if (eat("-")) return -exponent();
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
      return GiNaC::numeric(s[i++] - '0');
    return primary();
  }

  static GiNaC::ex checked_pow(const GiNaC::ex& base, const GiNaC::ex& ex) {
    if (GiNaC::is_a<GiNaC::numeric>(ex)) {
      GiNaC::numeric n = GiNaC::ex_to<GiNaC::numeric>(ex);
      if (!n.is_real()) throw TooLarge("complex exponent");
      if (GiNaC::abs(n) > 64) throw TooLarge("exponent too large");
      if (n.is_rational() && n.denom() > 12) throw TooLarge("exponent denominator too large");
    }
    return GiNaC::pow(base, ex);
  }

  GiNaC::ex power() {
    Depth d(*this);
    GiNaC::ex base = primary();
    skip();
    if (eat("^")) return checked_pow(base, exponent());
    return base;
  }

  GiNaC::ex group() {
    expect("{");
    GiNaC::ex e = expr();
    expect("}");
    return e;
  }

  // Argument of \frac / \sqrt: a group or one character ("\frac12").
  GiNaC::ex arg() {
    skip();
    if (peek("{")) return group();
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
      return GiNaC::numeric(s[i++] - '0');
    if (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) return letter();
    return primary();
  }

  GiNaC::ex number() {
    size_t b = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
    std::string ip = s.substr(b, i - b), fp;
    if (i < s.size() && s[i] == '.' && i + 1 < s.size() &&
        std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      i++;
      size_t f = i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
      fp = s.substr(f, i - f);
    }
    if (ip.size() + fp.size() > 30) throw TooLarge("number too long");
    if (ip.empty()) ip = "0";
    GiNaC::numeric mant((ip + fp).c_str());
    GiNaC::numeric scale =
        GiNaC::pow(GiNaC::numeric(10), GiNaC::numeric(static_cast<long>(fp.size())));
    return mant / scale;
  }

  GiNaC::ex letter() {
    std::string name(1, s[i++]);
    // Subscripted names: x_1, a_{n}
    if (i < s.size() && s[i] == '_') {
      size_t b = i;
      i++;
      (void)b;
      name += '_';
      if (i < s.size() && s[i] == '{') {  // a_{n} and a_n are the same name
        size_t e = s.find('}', i);
        if (e == std::string::npos) throw ParseError("unclosed subscript");
        name += s.substr(i + 1, e - i - 1);
        i = e + 1;
      } else if (i < s.size()) {
        name += s[i++];
      }
    }
    if (name == "e") return GiNaC::exp(GiNaC::ex(1));
    if (symbols.size() > 8 && !symbols.count(name)) throw TooLarge("too many symbols");
    auto it = symbols.find(name);
    if (it == symbols.end()) it = symbols.emplace(name, GiNaC::symbol(name)).first;
    return it->second;
  }

  // Argument of a function written without parentheses: "\sin x", "\sin 2x" (stops at the next
  // operator or function).
  GiNaC::ex func_arg() {
    skip();
    if (peek("(") || peek("{")) return power();
    GiNaC::ex e = power();
    for (;;) {
      skip();
      if (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) ||
                           std::isalpha(static_cast<unsigned char>(s[i]))))
        e = e * power();
      else
        return e;
    }
  }

  GiNaC::ex primary() {
    Depth d(*this);
    skip();
    if (i >= s.size()) throw ParseError("unexpected end");
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return number();
    if (eat("(")) {
      GiNaC::ex e = expr();
      expect(")");
      return e;
    }
    if (eat("[")) {
      GiNaC::ex e = expr();
      expect("]");
      return e;
    }
    if (peek("{")) return group();
    if (eat("|")) {
      GiNaC::ex e = expr();
      expect("|");
      return GiNaC::abs(e);
    }
    if (std::isalpha(static_cast<unsigned char>(c))) return letter();
    if (eat("\\frac")) {
      GiNaC::ex num = arg();
      GiNaC::ex den = arg();
      if (den.is_zero()) throw ParseError("division by zero");
      return num / den;
    }
    if (eat("\\sqrt")) {
      GiNaC::ex n = 2;
      if (eat("[")) {
        n = expr();
        expect("]");
      }
      GiNaC::ex x = arg();
      if (n.is_zero()) throw ParseError("zeroth root");
      return checked_pow(x, 1 / n);
    }
    if (eat("\\pi")) return GiNaC::Pi;
    struct Fn {
      const char* name;
      GiNaC::ex (*fn)(const GiNaC::ex&);
    };
    static const Fn fns[] = {
        {"\\arcsin", [](const GiNaC::ex& x) -> GiNaC::ex { return GiNaC::asin(x); }},
        {"\\arccos", [](const GiNaC::ex& x) -> GiNaC::ex { return GiNaC::acos(x); }},
        {"\\arctan", [](const GiNaC::ex& x) -> GiNaC::ex { return GiNaC::atan(x); }},
        {"\\sin", [](const GiNaC::ex& x) -> GiNaC::ex { return GiNaC::sin(x); }},
        {"\\cos", [](const GiNaC::ex& x) -> GiNaC::ex { return GiNaC::cos(x); }},
        {"\\tan", [](const GiNaC::ex& x) -> GiNaC::ex { return GiNaC::tan(x); }},
        {"\\sec", [](const GiNaC::ex& x) -> GiNaC::ex { return 1 / GiNaC::cos(x); }},
        {"\\csc", [](const GiNaC::ex& x) -> GiNaC::ex { return 1 / GiNaC::sin(x); }},
        {"\\cot", [](const GiNaC::ex& x) -> GiNaC::ex { return GiNaC::cos(x) / GiNaC::sin(x); }},
        {"\\ln", [](const GiNaC::ex& x) -> GiNaC::ex { return GiNaC::log(x); }},
        {"\\exp", [](const GiNaC::ex& x) -> GiNaC::ex { return GiNaC::exp(x); }},
    };
    for (const Fn& f : fns) {
      if (!eat(f.name)) continue;
      GiNaC::ex pw = 1;
      if (eat("^")) pw = exponent();  // \sin^2 x
      GiNaC::ex x = func_arg();
      return checked_pow(f.fn(x), pw);
    }
    if (eat("\\log")) {
      GiNaC::ex b = 10;  // \log without a base: base 10 (the MATH convention); \ln is natural
      if (eat("_")) b = arg();
      GiNaC::ex x = func_arg();
      return GiNaC::log(x) / GiNaC::log(b);
    }
    throw ParseError(std::string("unsupported input at '") + s.substr(i, 10) + "'");
  }
};

using Clock = std::chrono::steady_clock;

bool numeric_close(const GiNaC::ex& a, const GiNaC::ex& b, double rel_tol) {
  if (!GiNaC::is_a<GiNaC::numeric>(a) || !GiNaC::is_a<GiNaC::numeric>(b)) return false;
  GiNaC::numeric x = GiNaC::ex_to<GiNaC::numeric>(a), y = GiNaC::ex_to<GiNaC::numeric>(b);
  double dx = GiNaC::abs(x - y).to_double();
  double scale = std::max(GiNaC::abs(x).to_double(), GiNaC::abs(y).to_double());
  if (!std::isfinite(dx) || !std::isfinite(scale)) return false;
  return dx <= rel_tol * scale || dx <= 1e-12;
}

}  // namespace

SymbolicVerdict symbolic_equal(const std::string& gold, const std::string& pred, double rel_tol,
                               double timeout_s, size_t max_chars) {
  if (gold.size() > max_chars || pred.size() > max_chars) return SymbolicVerdict::kTooLarge;
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(timeout_s));
  std::unique_lock<std::timed_mutex> lock(g_ginac_mutex, std::defer_lock);
  if (!lock.try_lock_until(deadline)) return SymbolicVerdict::kTimeout;
  try {
    std::map<std::string, GiNaC::symbol> symbols;
    GiNaC::ex g, p;
    try {
      Parser pg(gold, symbols);
      g = pg.parse_all();
      Parser pp(pred, symbols);
      p = pp.parse_all();
    } catch (const TooLarge&) {
      return SymbolicVerdict::kTooLarge;
    } catch (const std::exception&) {
      return SymbolicVerdict::kUnparsable;
    }
    if (Clock::now() > deadline) return SymbolicVerdict::kTimeout;
    GiNaC::lst syms;
    for (auto& [name, sym] : symbols) syms.append(sym);
    bool has_symbols = false;
    for (auto& [name, sym] : symbols)
      if (g.has(sym) || p.has(sym)) has_symbols = true;
    if (!has_symbols) {
      GiNaC::ex ga = g.evalf(), pa = p.evalf();
      if (GiNaC::is_a<GiNaC::numeric>(ga) && GiNaC::is_a<GiNaC::numeric>(pa))
        return numeric_close(ga, pa, rel_tol) ? SymbolicVerdict::kEqual
                                              : SymbolicVerdict::kNotEqual;
    }
    GiNaC::ex diff = GiNaC::normal(g - p);
    if (Clock::now() > deadline) return SymbolicVerdict::kTimeout;
    if (diff.is_zero()) return SymbolicVerdict::kEqual;
    // Identities normal() cannot see (trigonometry, logarithms): agreement at fixed points.
    int valid = 0;
    for (int k = 0; k < 3; k++) {
      GiNaC::exmap m;
      int idx = 0;
      // Points on both sides of 0 so that sqrt(x^2) and x differ.
      static const double base[3] = {0.37, -1.19, 2.03}, step[3] = {0.173, 0.131, 0.217};
      for (auto& [name, sym] : symbols) m[sym] = GiNaC::numeric(base[k] + step[k] * idx++);
      GiNaC::ex gv, pv;
      try {
        gv = g.subs(m).evalf();
        pv = p.subs(m).evalf();
      } catch (const std::exception&) {
        continue;  // a pole at this point: try the next one
      }
      if (Clock::now() > deadline) return SymbolicVerdict::kTimeout;
      if (!GiNaC::is_a<GiNaC::numeric>(gv) || !GiNaC::is_a<GiNaC::numeric>(pv)) continue;
      if (!numeric_close(gv, pv, 1e-9)) return SymbolicVerdict::kNotEqual;
      valid++;
    }
    return valid >= 2 ? SymbolicVerdict::kEqual : SymbolicVerdict::kNotEqual;
  } catch (const std::exception&) {
    return SymbolicVerdict::kNotEqual;
  }
}

bool symbolic_parses(const std::string& text) {
  std::lock_guard<std::timed_mutex> lock(g_ginac_mutex);
  try {
    std::map<std::string, GiNaC::symbol> symbols;
    Parser p(text, symbols);
    p.parse_all();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace aha

#if defined(__SANITIZE_ADDRESS__)
// CLN (GiNaC's number library) keeps one small allocation from its static initialisers for the life
// of the process; LeakSanitizer reports it in every binary that links GiNaC. It is not ours to
// free.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libcln.so\n";
}
#endif
