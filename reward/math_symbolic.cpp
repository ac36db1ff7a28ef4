// Expression trees (math_expr.h) -> exact rational comparison, or GiNaC under one short lock.
#include "reward/math_symbolic.h"

#include <ginac/ginac.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>

#include "reward/math_expr.h"

namespace aha {

namespace {

std::timed_mutex g_ginac_mutex;  // GiNaC's reference counts and caches are not thread-safe

// Waiting for the mutex is not the row's own work: every hold is bounded (sizes checked before),
// so a wait longer than this means something is wrong, and the row counts as a timeout.
constexpr double kMaxLockWaitS = 30.0;

struct Deadline {
  std::chrono::steady_clock::time_point at;
  bool passed() const { return std::chrono::steady_clock::now() > at; }
};

struct TimedOut : std::runtime_error {
  TimedOut() : std::runtime_error("timeout") {}
};

// Builds GiNaC expressions from trees, sharing symbols between gold and prediction. A sine or
// cosine of k*x (k an integer, |k| <= 12) becomes a polynomial in the real symbols sin x, cos x.
struct Builder {
  std::map<std::string, GiNaC::symbol> symbols;
  std::map<std::string, std::pair<GiNaC::realsymbol, GiNaC::realsymbol>> trig;  // x -> (s, c)
  const Deadline& deadline;

  explicit Builder(const Deadline& d) : deadline(d) {}

  GiNaC::ex sym(const std::string& name) {
    auto it = symbols.find(name);
    if (it == symbols.end()) it = symbols.emplace(name, GiNaC::symbol(name)).first;
    return it->second;
  }

  // (sin(k x), cos(k x)) when arg == k * x for a symbol x; false otherwise.
  bool trig_multiple(const GiNaC::ex& arg, GiNaC::ex* sin_out, GiNaC::ex* cos_out) {
    for (auto& [name, x] : symbols) {
      if (!arg.has(x)) continue;
      GiNaC::ex k = GiNaC::normal(arg / x);
      if (!GiNaC::is_a<GiNaC::numeric>(k)) return false;
      GiNaC::numeric kn = GiNaC::ex_to<GiNaC::numeric>(k);
      if (!kn.is_integer() || GiNaC::abs(kn) > 12 || kn.is_zero()) return false;
      auto t = trig.find(name);
      if (t == trig.end())
        t = trig.emplace(name, std::make_pair(GiNaC::realsymbol("sin_" + name),
                                              GiNaC::realsymbol("cos_" + name)))
                .first;
      const GiNaC::realsymbol& s = t->second.first;
      const GiNaC::realsymbol& c = t->second.second;
      // de Moivre: cos kx + i sin kx = (cos x + i sin x)^k
      int kk = kn.to_int();
      GiNaC::ex z = GiNaC::expand(GiNaC::pow(c + GiNaC::I * s, kk < 0 ? -kk : kk));
      GiNaC::ex re = z.real_part(), im = z.imag_part();
      *cos_out = re;
      *sin_out = kk < 0 ? -im : im;
      return true;
    }
    return false;
  }

  GiNaC::ex build(const MathExpr& e, int n) {
    if (deadline.passed()) throw TimedOut();
    const ExprNode& node = e.nodes[n];
    switch (node.kind) {
      case ExprKind::kNum: {
        DecimalDigits d = decimal_digits(node.text);
        return GiNaC::numeric(d.digits.c_str()) /
               GiNaC::pow(GiNaC::numeric(10), GiNaC::numeric(static_cast<long>(d.decimals)));
      }
      case ExprKind::kSym:
        return sym(node.text);
      case ExprKind::kConst:
        if (node.text == "pi") return GiNaC::Pi;
        if (node.text == "e") return GiNaC::exp(GiNaC::ex(1));
        return sym("\\infty");
      case ExprKind::kAdd: {
        GiNaC::ex r = 0;
        for (int k : node.kids) r += build(e, k);
        return r;
      }
      case ExprKind::kMul: {
        GiNaC::ex r = 1;
        for (int k : node.kids) r *= build(e, k);
        return r;
      }
      case ExprKind::kNeg:
        return -build(e, node.kids[0]);
      case ExprKind::kInv: {
        GiNaC::ex d = build(e, node.kids[0]);
        if (d.is_zero()) throw std::domain_error("division by zero");
        return 1 / d;
      }
      case ExprKind::kAbs:
        return GiNaC::abs(build(e, node.kids[0]));
      case ExprKind::kFact:
        return GiNaC::factorial(build(e, node.kids[0]));
      case ExprKind::kPow:
        return GiNaC::pow(build(e, node.kids[0]), build(e, node.kids[1]));
      case ExprKind::kFunc: {
        GiNaC::ex x = build(e, node.kids[0]);
        const std::string& f = node.text;
        if (f == "log") return GiNaC::log(x) / GiNaC::log(build(e, node.kids[1]));
        if (f == "ln") return GiNaC::log(x);
        if (f == "exp") return GiNaC::exp(x);
        if (f == "arcsin") return GiNaC::asin(x);
        if (f == "arccos") return GiNaC::acos(x);
        if (f == "arctan") return GiNaC::atan(x);
        GiNaC::ex s, c;
        if (!trig_multiple(x, &s, &c)) {
          s = GiNaC::sin(x);
          c = GiNaC::cos(x);
        }
        if (f == "sin") return s;
        if (f == "cos") return c;
        if (f == "tan") return s / c;
        if (f == "sec") return 1 / c;
        if (f == "csc") return 1 / s;
        if (f == "cot") return c / s;
        throw std::invalid_argument("unknown function");
      }
    }
    throw std::invalid_argument("unknown node");
  }
};

// p reduced modulo s^2 + c^2 - 1 (s^k -> s^(k mod 2) (1 - c^2)^(k div 2)), expanded.
GiNaC::ex reduce_pythagoras(const GiNaC::ex& p, const GiNaC::realsymbol& s,
                            const GiNaC::realsymbol& c) {
  GiNaC::ex q = GiNaC::expand(p);
  int deg = q.degree(s);
  GiNaC::ex r = 0;
  for (int k = q.ldegree(s); k <= deg; k++) {
    GiNaC::ex coef = q.coeff(s, k);
    r += coef * GiNaC::pow(s, k % 2) * GiNaC::pow(1 - c * c, k / 2);
  }
  return GiNaC::expand(r);
}

// The value as a GiNaC numeric at the current Digits, or false.
bool as_number(const GiNaC::ex& e, GiNaC::numeric* out) {
  GiNaC::ex v = e.evalf();
  if (!GiNaC::is_a<GiNaC::numeric>(v)) return false;
  *out = GiNaC::ex_to<GiNaC::numeric>(v);
  return true;
}

// A decimal literal (optionally negated) with at least 6 significant digits: its value and the size
// of one unit in its last place.
bool long_decimal(const MathExpr& e, GiNaC::numeric* value, GiNaC::numeric* unit) {
  int n = e.root;
  bool neg = false;
  if (e.nodes[n].kind == ExprKind::kNeg) {
    neg = true;
    n = e.nodes[n].kids[0];
  }
  const ExprNode& node = e.nodes[n];
  if (node.kind != ExprKind::kNum) return false;
  size_t dot = node.text.find('.');
  if (dot == std::string::npos) return false;
  std::string digits = node.text.substr(0, dot) + node.text.substr(dot + 1);
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos || digits.size() - first < 6) return false;
  long decimals = static_cast<long>(node.text.size() - dot - 1);
  GiNaC::numeric scale = GiNaC::pow(GiNaC::numeric(10), GiNaC::numeric(decimals));
  *value = GiNaC::numeric(digits.c_str()) / scale;
  if (neg) *value = -*value;
  *unit = 1 / scale;
  return true;
}

bool exact_rational(const GiNaC::ex& e) {
  return GiNaC::is_a<GiNaC::numeric>(e) && GiNaC::ex_to<GiNaC::numeric>(e).is_rational();
}

struct DigitsGuard {  // GiNaC::Digits is global: set under the mutex, restored before release
  long saved;
  explicit DigitsGuard(long d) : saved(GiNaC::Digits) { GiNaC::Digits = d; }
  ~DigitsGuard() { GiNaC::Digits = saved; }
};

// Whether two constants, gv and pv at 50 digits, are equal: 1 or 0; -1 when they are too large to
// evaluate far enough (then only exact simplification decides). Equal at 50 digits (relative
// 1e-40) is trusted only when more digits give the same values: sin(10^100) and sin(10^100 + 1)
// agree at 50 digits, where both arguments round to one number. Past 1e6 the digits grow with the
// integer part, which 50 digits only hold the start of (2^{1200}\sqrt3 and 2^{1200}\sqrt3 + 1 agree
// there), and the tolerance stays 1e-30 absolute past 1e10.
int numbers_close(const GiNaC::ex& ge, const GiNaC::ex& pe, const GiNaC::numeric& gv,
                  const GiNaC::numeric& pv) {
  GiNaC::numeric scale = std::max(GiNaC::abs(gv), GiNaC::abs(pv));
  GiNaC::numeric tol = GiNaC::numeric(1) / GiNaC::pow(GiNaC::numeric(10), GiNaC::numeric(40));
  GiNaC::numeric tol50 = tol * (scale > 1 ? scale : GiNaC::numeric(1));
  if (GiNaC::abs(gv - pv) > tol50) return 0;
  long extra = 0;
  if (scale > GiNaC::numeric(1000000)) {
    double magnitude = GiNaC::log(scale).to_double() / std::log(10.0);
    if (!(magnitude <= kMaxDigits)) return -1;
    extra = static_cast<long>(magnitude);
  }
  GiNaC::numeric cap(10000000000L);
  GiNaC::numeric tol_more = tol * (scale > 1 ? std::min(scale, cap) : GiNaC::numeric(1));
  DigitsGuard more(120 + extra);
  GiNaC::numeric gv2, pv2;
  const bool stable = as_number(ge, &gv2) && as_number(pe, &pv2) &&
                      GiNaC::abs(gv2 - pv2) <= tol_more && GiNaC::abs(gv2 - gv) <= tol50 &&
                      GiNaC::abs(pv2 - pv) <= tol50;
  return stable ? 1 : 0;
}

SymbolicVerdict ginac_equal(const MathExpr& g, const MathExpr& p, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::timed_mutex> lock(g_ginac_mutex, std::defer_lock);
  if (!lock.try_lock_for(std::chrono::duration<double>(kMaxLockWaitS)))
    return SymbolicVerdict::kTimeout;
  Deadline deadline{Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(timeout_s))};
  DigitsGuard digits(50);
  try {
    Builder b(deadline);
    GiNaC::ex ge = b.build(g, g.root);
    GiNaC::ex pe = b.build(p, p.root);
    if (deadline.passed()) return SymbolicVerdict::kTimeout;
    bool has_syms = false;
    for (auto& [name, s] : b.symbols)
      if (ge.has(s) || pe.has(s)) has_syms = true;
    if (!has_syms && b.trig.empty()) {
      GiNaC::numeric gv, pv, unit;
      if (long_decimal(p, &pv, &unit) && as_number(ge, &gv)) {
        // Rounded (within half a unit) or truncated (toward zero, less than a unit short).
        GiNaC::numeric d = GiNaC::abs(gv - pv);
        bool rounded = d <= unit / 2;
        bool truncated = d < unit && GiNaC::abs(pv) <= GiNaC::abs(gv) &&
                         (gv.is_zero() || pv.is_zero() || (gv > 0) == (pv > 0));
        return rounded || truncated ? SymbolicVerdict::kEqual : SymbolicVerdict::kNotEqual;
      }
      // Exact values past the GMP bound (2^{2019} - 1, 1/2^{2019}) are compared exactly, never
      // within a tolerance that cannot tell 2^{2019} - 1 from 2^{2019} + 1.
      if (exact_rational(ge) && exact_rational(pe))
        return GiNaC::ex_to<GiNaC::numeric>(ge) == GiNaC::ex_to<GiNaC::numeric>(pe)
                   ? SymbolicVerdict::kEqual
                   : SymbolicVerdict::kNotEqual;
      if (as_number(ge, &gv) && as_number(pe, &pv)) {
        int verdict = numbers_close(ge, pe, gv, pv);
        if (verdict >= 0) return verdict ? SymbolicVerdict::kEqual : SymbolicVerdict::kNotEqual;
      }
    }
    GiNaC::ex diff = GiNaC::normal(ge - pe);
    if (deadline.passed()) return SymbolicVerdict::kTimeout;
    if (diff.is_zero()) return SymbolicVerdict::kEqual;
    if (!b.trig.empty()) {
      GiNaC::ex num = GiNaC::numer(diff);
      for (auto& [name, sc] : b.trig) {
        num = reduce_pythagoras(num, sc.first, sc.second);
        if (deadline.passed()) return SymbolicVerdict::kTimeout;
      }
      if (GiNaC::normal(num).is_zero()) return SymbolicVerdict::kEqual;
    }
    return SymbolicVerdict::kNotEqual;
  } catch (const TimedOut&) {
    return SymbolicVerdict::kTimeout;
  } catch (const std::exception&) {
    return SymbolicVerdict::kNotEqual;
  }
}

}  // namespace

SymbolicVerdict symbolic_equal(const std::string& gold, const std::string& pred, double timeout_s,
                               size_t max_chars) {
  MathExpr g, p;
  ExprParse pg = parse_math_expr(gold, max_chars, &g);
  ExprParse pp = parse_math_expr(pred, max_chars, &p);
  if (pg == ExprParse::kTooLarge || pp == ExprParse::kTooLarge) return SymbolicVerdict::kTooLarge;
  if (pg != ExprParse::kOk || pp != ExprParse::kOk) return SymbolicVerdict::kUnparsable;
  // Exact rationals decide on their own, with no lock.
  std::string gq, pq;
  bool g_rational = expr_rational(g, &gq);
  bool p_rational = expr_rational(p, &pq);
  if (g_rational && p_rational) {
    if (gq == pq) return SymbolicVerdict::kEqual;
    // Only the last-place rule is left (a long decimal rounding 1/3): GiNaC only for a decimal.
    bool decimal = false;
    for (const ExprNode& n : p.nodes)
      if (n.kind == ExprKind::kNum && n.text.find('.') != std::string::npos) decimal = true;
    if (!decimal || p.nodes.size() > 2) return SymbolicVerdict::kNotEqual;
  }
  if (!expr_within_bounds(g, p)) return SymbolicVerdict::kTooLarge;
  return ginac_equal(g, p, timeout_s);
}

bool symbolic_parses(const std::string& text) {
  MathExpr e;
  return parse_math_expr(text, 4096, &e) == ExprParse::kOk;
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
