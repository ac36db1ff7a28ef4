// LaTeX subset -> expression tree; cost bounds; exact rational evaluation with GMP (thread-safe).
#include "reward/math_expr.h"

#include <gmp.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace aha {

namespace {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct TooLarge : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr int kMaxDepth = 40;
constexpr size_t kMaxNodes = 2000;

struct Parser {
  const std::string& s;
  MathExpr& out;
  size_t i = 0;
  int depth = 0;

  Parser(const std::string& text, MathExpr& e) : s(text), out(e) {}

  int add(ExprKind k, std::string text, std::vector<int> kids) {
    if (out.nodes.size() >= kMaxNodes) throw TooLarge("too many nodes");
    out.nodes.push_back({k, std::move(text), std::move(kids)});
    return static_cast<int>(out.nodes.size()) - 1;
  }
  int num(long v) { return add(ExprKind::kNum, std::to_string(v), {}); }

  void skip() {
    while (i < s.size() && s[i] == ' ') i++;
  }
  bool at_end() {
    skip();
    return i >= s.size();
  }
  bool peek(const char* t) {
    skip();
    size_t n = std::strlen(t);
    if (s.compare(i, n, t) != 0) return false;
    // A command must not continue with letters (\pi vs \pitchfork).
    if (t[0] == '\\' && std::isalpha(static_cast<unsigned char>(t[n - 1])) && i + n < s.size() &&
        std::isalpha(static_cast<unsigned char>(s[i + n])))
      return false;
    return true;
  }
  bool eat(const char* t) {
    if (!peek(t)) return false;
    i += std::strlen(t);
    return true;
  }
  void expect(const char* t) {
    if (!eat(t)) throw ParseError(std::string("expected ") + t);
  }
  struct Depth {
    Parser& p;
    explicit Depth(Parser& q) : p(q) {
      if (++p.depth > kMaxDepth) throw TooLarge("nested too deeply");
    }
    ~Depth() { p.depth--; }
  };

  int neg(int a) { return add(ExprKind::kNeg, "", {a}); }

  int expr() {
    Depth d(*this);
    std::vector<int> terms;
    if (eat("-")) {
      terms.push_back(neg(term()));
    } else {
      eat("+");
      terms.push_back(term());
    }
    for (;;) {
      if (eat("+")) {
        terms.push_back(term());
      } else if (eat("-")) {
        terms.push_back(neg(term()));
      } else {
        break;
      }
    }
    return terms.size() == 1 ? terms[0] : add(ExprKind::kAdd, "", terms);
  }

  bool starts_primary() {
    skip();
    if (i >= s.size()) return false;
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        std::isalpha(static_cast<unsigned char>(c)) || c == '(' || c == '{' || c == '.')
      return true;
    if (c == '\\') {
      for (const char* op : {"\\cdot", "\\times", "\\div", "\\end", "\\cup", "\\pm", "\\mp"})
        if (peek(op)) return false;
      return true;
    }
    return false;
  }

  int term() {
    Depth d(*this);
    std::vector<int> f{factor()};
    for (;;) {
      if (eat("*") || eat("\\cdot") || eat("\\times")) {
        f.push_back(factor());
      } else if (eat("/") || eat("\\div")) {
        f.push_back(add(ExprKind::kInv, "", {factor()}));
      } else if (starts_primary()) {
        // Two numbers set apart by a space are no product: "1 0" is not 0, "2 1/2" is not 1.
        if (std::isdigit(static_cast<unsigned char>(s[i])) && i > 0 && s[i - 1] == ' ') {
          size_t k = i - 1;
          while (k > 0 && s[k] == ' ') k--;
          if (std::isdigit(static_cast<unsigned char>(s[k])) || s[k] == '.')
            throw ParseError("numbers apart");
        }
        f.push_back(power());  // implicit multiplication: 2x, 3(x+1), x\sqrt{2}
      } else {
        break;
      }
    }
    return f.size() == 1 ? f[0] : add(ExprKind::kMul, "", f);
  }

  int factor() {
    Depth d(*this);
    if (eat("-")) return neg(factor());
    if (eat("+")) return factor();
    return power();
  }

  int exponent() {
    Depth d(*this);
    skip();
    if (peek("{")) return group();
    if (eat("-")) return neg(exponent());
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) return num(s[i++] - '0');
    return primary();
  }

  int power() {
    Depth d(*this);
    int base = primary();
    while (eat("!")) base = add(ExprKind::kFact, "", {base});
    if (eat("^")) {
      int e = exponent();
      // 9^9^9 is ambiguous in LaTeX (a double superscript error): refuse it.
      if (peek("^")) throw ParseError("double superscript");
      return add(ExprKind::kPow, "", {base, e});
    }
    return base;
  }

  int group() {
    Depth d(*this);
    expect("{");
    int e = expr();
    expect("}");
    return e;
  }

  // Argument of \frac / \sqrt: a group or one character ("\frac12").
  int arg() {
    skip();
    if (peek("{")) return group();
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) return num(s[i++] - '0');
    if (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) return letter();
    return primary();
  }

  int number() {
    size_t b = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
    if (i < s.size() && s[i] == '.' && i + 1 < s.size() &&
        std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      i++;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
    }
    if (i == b) throw ParseError("expected a number");
    if (i - b > 60) throw TooLarge("number too long");
    return add(ExprKind::kNum, s.substr(b, i - b), {});
  }

  int letter() {
    std::string name(1, s[i++]);
    if (i < s.size() && s[i] == '_') {  // x_1, a_{n}: a_{n} and a_n are the same name
      i++;
      name += '_';
      if (i < s.size() && s[i] == '{') {
        size_t e = s.find('}', i);
        if (e == std::string::npos || e - i > 20) throw ParseError("bad subscript");
        name += s.substr(i + 1, e - i - 1);
        i = e + 1;
      } else if (i < s.size()) {
        name += s[i++];
      }
    }
    if (name == "e") return add(ExprKind::kConst, "e", {});
    return add(ExprKind::kSym, name, {});
  }

  // Argument of a function written without parentheses: "\sin x", "\sin 2x" (stops at the next
  // operator or function).
  int func_arg() {
    skip();
    if (peek("(") || peek("{") || peek("[")) return power();
    std::vector<int> f{power()};
    for (;;) {
      skip();
      if (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) ||
                           std::isalpha(static_cast<unsigned char>(s[i]))))
        f.push_back(power());
      else
        break;
    }
    return f.size() == 1 ? f[0] : add(ExprKind::kMul, "", f);
  }

  int primary() {
    Depth d(*this);
    skip();
    if (i >= s.size()) throw ParseError("unexpected end");
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return number();
    if (eat("(")) {
      int e = expr();
      expect(")");
      return e;
    }
    if (eat("[")) {
      int e = expr();
      expect("]");
      return e;
    }
    if (peek("{")) return group();
    if (eat("|")) {
      int e = expr();
      expect("|");
      return add(ExprKind::kAbs, "", {e});
    }
    if (std::isalpha(static_cast<unsigned char>(c))) return letter();
    if (eat("\\frac")) {
      int a = arg();
      int b = arg();
      return add(ExprKind::kMul, "", {a, add(ExprKind::kInv, "", {b})});
    }
    if (eat("\\binom")) {  // n! / (k! (n-k)!): exact for numbers, refused for symbols
      int n = arg();
      int k = arg();
      int nk = add(ExprKind::kAdd, "", {n, neg(k)});
      int den =
          add(ExprKind::kMul, "", {add(ExprKind::kFact, "", {k}), add(ExprKind::kFact, "", {nk})});
      return add(ExprKind::kMul, "",
                 {add(ExprKind::kFact, "", {n}), add(ExprKind::kInv, "", {den})});
    }
    if (eat("\\sqrt")) {
      int n = -1;
      if (eat("[")) {
        n = expr();
        expect("]");
      }
      int x = arg();
      int inv = add(ExprKind::kInv, "", {n < 0 ? num(2) : n});
      return add(ExprKind::kPow, "", {x, inv});
    }
    if (eat("\\pi")) return add(ExprKind::kConst, "pi", {});
    if (eat("\\infty")) return add(ExprKind::kConst, "infty", {});
    static const char* fns[] = {"arcsin", "arccos", "arctan", "sin", "cos", "tan",
                                "sec",    "csc",    "cot",    "ln",  "exp"};
    for (const char* f : fns) {
      std::string cmd = std::string("\\") + f;
      if (!eat(cmd.c_str())) continue;
      int pw = -1;
      if (eat("^")) pw = exponent();  // \sin^2 x
      int fx = add(ExprKind::kFunc, f, {func_arg()});
      return pw < 0 ? fx : add(ExprKind::kPow, "", {fx, pw});
    }
    if (eat("\\log")) {
      int b = -1;  // \log without a base: base 10 (the MATH convention); \ln is natural
      if (eat("_")) b = arg();
      int x = func_arg();
      return add(ExprKind::kFunc, "log", {x, b < 0 ? num(10) : b});
    }
    // Greek letters and other one-word commands as symbols (\alpha, \theta).
    static const char* greek[] = {"alpha", "beta",  "gamma", "delta", "theta", "lambda", "mu",
                                  "sigma", "omega", "phi",   "rho",   "tau",   "epsilon"};
    for (const char* g : greek) {
      std::string cmd = std::string("\\") + g;
      if (eat(cmd.c_str())) return add(ExprKind::kSym, cmd, {});
    }
    throw ParseError("unsupported input");
  }
};

// ---- exact rationals (GMP) ----

struct Q {
  mpq_t v;
  Q() { mpq_init(v); }
  ~Q() { mpq_clear(v); }
  Q(const Q&) = delete;
  Q& operator=(const Q&) = delete;
};

size_t qdigits(const mpq_t v) {
  return mpz_sizeinbase(mpq_numref(v), 10) + mpz_sizeinbase(mpq_denref(v), 10);
}

}  // namespace

DecimalDigits decimal_digits(const std::string& literal) {
  DecimalDigits d;
  bool after = false;
  for (char c : literal) {
    if (c == '.') {
      after = true;
      continue;
    }
    d.digits += c;
    if (after) d.decimals++;
  }
  return d;
}

namespace {

// Sets out to the exact value of node n, or returns false.
bool eval_q(const MathExpr& e, int n, mpq_t out) {
  const ExprNode& node = e.nodes[n];
  switch (node.kind) {
    case ExprKind::kNum: {
      DecimalDigits d = decimal_digits(node.text);
      mpz_set_str(mpq_numref(out), d.digits.c_str(), 10);
      mpz_ui_pow_ui(mpq_denref(out), 10, d.decimals);
      mpq_canonicalize(out);
      return true;
    }
    case ExprKind::kAdd:
    case ExprKind::kMul: {
      bool add = node.kind == ExprKind::kAdd;
      mpq_set_si(out, add ? 0 : 1, 1);
      Q t;
      for (int k : node.kids) {
        if (!eval_q(e, k, t.v)) return false;
        if (add) {
          mpq_add(out, out, t.v);
        } else {
          mpq_mul(out, out, t.v);
        }
        if (qdigits(out) > kMaxDigits) return false;
      }
      return true;
    }
    case ExprKind::kNeg:
      if (!eval_q(e, node.kids[0], out)) return false;
      mpq_neg(out, out);
      return true;
    case ExprKind::kInv:
      if (!eval_q(e, node.kids[0], out) || mpq_sgn(out) == 0) return false;
      mpq_inv(out, out);
      return true;
    case ExprKind::kAbs:
      if (!eval_q(e, node.kids[0], out)) return false;
      mpq_abs(out, out);
      return true;
    case ExprKind::kFact: {
      if (!eval_q(e, node.kids[0], out)) return false;
      if (mpz_cmp_ui(mpq_denref(out), 1) != 0 || mpz_sgn(mpq_numref(out)) < 0 ||
          mpz_cmp_ui(mpq_numref(out), 1000) > 0)
        return false;  // 1000! has 2568 digits: the largest factorial computed
      unsigned long k = mpz_get_ui(mpq_numref(out));
      mpz_fac_ui(mpq_numref(out), k);
      return true;
    }
    case ExprKind::kPow: {
      Q ex;
      if (!eval_q(e, node.kids[0], out) || !eval_q(e, node.kids[1], ex.v)) return false;
      // exponent p/q: (out^(1/q))^p, the root only when exact
      if (mpz_cmpabs_ui(mpq_denref(ex.v), 12) > 0 || mpz_cmpabs_ui(mpq_numref(ex.v), 100000) > 0)
        return false;
      long p = mpz_get_si(mpq_numref(ex.v));
      unsigned long q = mpz_get_ui(mpq_denref(ex.v));
      if (mpq_sgn(out) == 0) return p > 0;  // 0^p = 0; 0^0 and 0^-p are not numbers here
      if (q > 1) {
        if (mpq_sgn(out) < 0 && q % 2 == 0) return false;
        Q r;
        if (!mpz_root(mpq_numref(r.v), mpq_numref(out), q)) return false;
        if (!mpz_root(mpq_denref(r.v), mpq_denref(out), q)) return false;
        mpq_set(out, r.v);
      }
      unsigned long ap = static_cast<unsigned long>(p < 0 ? -p : p);
      if (static_cast<double>(qdigits(out)) * static_cast<double>(ap) > kMaxDigits + 10)
        return false;
      mpz_pow_ui(mpq_numref(out), mpq_numref(out), ap);
      mpz_pow_ui(mpq_denref(out), mpq_denref(out), ap);
      if (p < 0) mpq_inv(out, out);
      return true;
    }
    case ExprKind::kFunc:
      if (node.text == "log") {  // log_b x exact only for x = b^k (|k| <= 64)
        Q x, b;
        if (!eval_q(e, node.kids[0], x.v) || !eval_q(e, node.kids[1], b.v)) return false;
        if (mpq_sgn(x.v) <= 0 || mpq_sgn(b.v) <= 0 || mpq_cmp_ui(b.v, 1, 1) == 0) return false;
        int sign = 1;
        if (mpq_cmp_ui(b.v, 1, 1) < 0) {  // log_b x = -log_{1/b} x
          mpq_inv(b.v, b.v);
          sign = -sign;
        }
        if (mpq_cmp_ui(x.v, 1, 1) < 0) {  // log_b x = -log_b (1/x)
          mpq_inv(x.v, x.v);
          sign = -sign;
        }
        Q acc;
        mpq_set_ui(acc.v, 1, 1);
        for (int k = 0; k <= 64 && mpq_cmp(acc.v, x.v) <= 0; k++) {
          if (mpq_equal(acc.v, x.v)) {
            mpq_set_si(out, sign * k, 1);
            return true;
          }
          mpq_mul(acc.v, acc.v, b.v);
        }
      }
      return false;
    case ExprKind::kSym:
    case ExprKind::kConst:
      return false;
  }
  return false;
}

bool has_symbols(const MathExpr& e, int n) {
  const ExprNode& node = e.nodes[n];
  if (node.kind == ExprKind::kSym) return true;
  if (node.kind == ExprKind::kConst && node.text == "infty") return true;
  for (int k : node.kids)
    if (has_symbols(e, k)) return true;
  return false;
}

double binom_capped(double n, double k) {  // C(n, k), capped at 1e18
  k = std::min(k, n - k);
  double r = 1;
  for (double j = 1; j <= k; j++) {
    r = r * (n - k + j) / j;
    if (r > 1e18) return 1e18;
  }
  return r;
}

constexpr double kHuge = 1e18;

ExprCost refused() {
  ExprCost c;
  c.terms = c.degree = c.digits = kHuge;
  return c;
}

double cap(double x) {
  return std::min(x, kHuge);
}

ExprCost cost(const MathExpr& e, int n) {
  const ExprNode& node = e.nodes[n];
  ExprCost c;
  switch (node.kind) {
    case ExprKind::kNum:
      c.digits = static_cast<double>(node.text.size());
      return c;
    case ExprKind::kSym:
      c.degree = 1;
      return c;
    case ExprKind::kConst:  // pi, e: no degree, but powers of them count digits
      c.degree = node.text == "infty" ? 1 : 0;
      return c;
    case ExprKind::kAdd: {
      // a/b + c/d = (ad + cb) / bd
      std::vector<ExprCost> k;
      for (int kid : node.kids) k.push_back(cost(e, kid));
      c.terms = 0;
      c.digits = 0;
      for (const ExprCost& a : k) {
        c.den_terms = cap(c.den_terms * a.den_terms);
        c.den_degree += a.den_degree;
        c.digits = std::max(c.digits, a.digits);
      }
      for (const ExprCost& a : k) {
        c.terms = cap(c.terms + a.terms * (c.den_terms / std::max(1.0, a.den_terms)));
        c.degree = std::max(c.degree, a.degree + c.den_degree - a.den_degree);
      }
      c.digits += std::log10(static_cast<double>(k.size())) + 1;
      return c;
    }
    case ExprKind::kMul:
      c.digits = 0;
      for (int kid : node.kids) {
        ExprCost a = cost(e, kid);
        c.terms = cap(c.terms * a.terms);
        c.den_terms = cap(c.den_terms * a.den_terms);
        c.degree += a.degree;
        c.den_degree += a.den_degree;
        c.digits += a.digits;
      }
      return c;
    case ExprKind::kNeg:
      return cost(e, node.kids[0]);
    case ExprKind::kInv: {
      ExprCost a = cost(e, node.kids[0]);
      std::swap(a.terms, a.den_terms);
      std::swap(a.degree, a.den_degree);
      return a;
    }
    case ExprKind::kAbs:
    case ExprKind::kFunc: {
      // Opaque to expansion, but a trigonometric function of k*x is expanded in sin x, cos x
      // (degree k <= 12), and its argument must fit on its own.
      for (int kid : node.kids) {
        ExprCost b = cost(e, kid);
        if (b.terms + b.den_terms > kMaxExpandedTerms || b.degree + b.den_degree > kMaxDegree ||
            b.digits > kMaxDigits)
          return refused();
        c.digits = std::max(c.digits, b.digits);
      }
      // sin(k x) as a polynomial in sin x, cos x: about k+1 terms of degree k.
      double k = 1;
      if (node.kind == ExprKind::kFunc && node.text != "log" && node.text != "ln" &&
          node.text != "exp" && node.text.compare(0, 3, "arc") != 0) {
        const ExprNode& a = e.nodes[node.kids[0]];
        if (a.kind == ExprKind::kMul && a.kids.size() == 2 &&
            e.nodes[a.kids[0]].kind == ExprKind::kNum && e.nodes[a.kids[1]].kind == ExprKind::kSym)
          k = std::min(13.0, std::atof(e.nodes[a.kids[0]].text.c_str()));
        bool quotient = node.text != "sin" && node.text != "cos";
        c.terms = k + 1;
        c.degree = k;
        c.den_terms = quotient ? k + 1 : 1;
        c.den_degree = quotient ? k : 0;
      } else {
        c.degree = 1;
      }
      return c;
    }
    case ExprKind::kFact: {
      Q v;
      if (!eval_q(e, node.kids[0], v.v)) return refused();  // only factorials of numbers
      if (mpz_cmp_ui(mpq_denref(v.v), 1) != 0 || mpz_cmp_ui(mpq_numref(v.v), 1000) > 0)
        return refused();
      double k = mpz_get_d(mpq_numref(v.v));
      c.digits = std::max(1.0, std::lgamma(k + 1) / std::log(10.0) + 1);
      return c;
    }
    case ExprKind::kPow: {
      ExprCost b = cost(e, node.kids[0]);
      ExprCost x = cost(e, node.kids[1]);
      Q ex;
      if (!eval_q(e, node.kids[1], ex.v)) {
        // A symbolic or irrational exponent: opaque, but its own size counts, and a tower
        // (e^{e^{64}}) grows its digits tenfold per level, so deep ones are refused.
        if ((x.degree > 0 || x.den_degree > 0) && (b.degree > 0 || b.den_degree > 0))
          return refused();  // x^x
        c.terms = std::max(b.terms, x.terms);
        c.den_terms = std::max(b.den_terms, x.den_terms);
        c.degree = std::max(b.degree, x.degree) + 1;
        c.digits = 10 * std::max(b.digits, x.digits);
        return c;
      }
      if (mpz_cmpabs_ui(mpq_numref(ex.v), 1000000) > 0 || mpz_cmpabs_ui(mpq_denref(ex.v), 12) > 0)
        return refused();
      double p = std::fabs(mpz_get_d(mpq_numref(ex.v)));
      double q = mpz_get_d(mpq_denref(ex.v));
      double k = std::ceil(p / q);
      // Multinomial count: monomials of degree k in `terms` unknowns.
      auto grow = [&](double t) { return t <= 1 ? 1.0 : binom_capped(t + k - 1, k); };
      c.terms = grow(b.terms);
      c.den_terms = grow(b.den_terms);
      c.degree = b.degree * k + (q > 1 ? 1 : 0);  // a root stays a power of its own
      c.den_degree = b.den_degree * k;
      c.digits = b.digits * k + k * std::log10(std::max(2.0, b.terms));
      if (mpq_sgn(ex.v) < 0) {
        std::swap(c.terms, c.den_terms);
        std::swap(c.degree, c.den_degree);
      }
      return c;
    }
  }
  return c;
}

}  // namespace

ExprParse parse_math_expr(const std::string& text, size_t max_chars, MathExpr* out) {
  out->nodes.clear();
  out->root = -1;
  if (text.size() > max_chars) return ExprParse::kTooLarge;
  try {
    Parser p(text, *out);
    int r = p.expr();
    if (!p.at_end()) return ExprParse::kUnparsable;
    out->root = r;
    return ExprParse::kOk;
  } catch (const TooLarge&) {
    return ExprParse::kTooLarge;
  } catch (const ParseError&) {
    return ExprParse::kUnparsable;
  }
}

ExprCost expr_cost(const MathExpr& e) {
  return cost(e, e.root);
}

bool expr_within_bounds(const MathExpr& a, const MathExpr& b) {
  ExprCost ca = expr_cost(a), cb = expr_cost(b);
  // a - b over a common denominator, as normal() forms it.
  double num = ca.terms * cb.den_terms + cb.terms * ca.den_terms;
  double den = ca.den_terms * cb.den_terms;
  double deg = std::max(ca.degree + cb.den_degree, cb.degree + ca.den_degree);
  return num + den <= kMaxExpandedTerms && deg <= kMaxDegree &&
         ca.den_degree + cb.den_degree <= kMaxDegree && ca.digits <= kMaxDigits &&
         cb.digits <= kMaxDigits;
}

bool expr_rational(const MathExpr& e, std::string* value) {
  Q v;
  if (e.root < 0 || !eval_q(e, e.root, v.v)) return false;
  char* str = mpq_get_str(nullptr, 10, v.v);
  *value = str;
  void (*freefunc)(void*, size_t);
  mp_get_memory_functions(nullptr, nullptr, &freefunc);
  freefunc(str, std::strlen(str) + 1);
  return true;
}

bool expr_has_symbols(const MathExpr& e) {
  return e.root >= 0 && has_symbols(e, e.root);
}

}  // namespace aha
