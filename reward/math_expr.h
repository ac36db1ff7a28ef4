// A LaTeX math expression as a plain tree, parsed without GiNaC, so that parsing, size bounds and
// exact rational arithmetic run on any thread in parallel. Invariants: parse_math_expr never
// allocates more than a fixed multiple of its input (depth and length are capped); an expression
// that passes expr_within_bounds can be expanded by a computer algebra system without blowing up
// (the estimate of expanded terms, degree and digits is an upper bound for sums, products and
// integer powers); exact evaluation (GMP) refuses any result over a digit limit instead of
// computing it.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace aha {

enum class ExprKind {
  kNum,    // text: decimal literal "12", "1.25"
  kSym,    // text: name "x", "x_1", "\\alpha"
  kConst,  // text: "pi", "e", "infty"
  kAdd,    // kids: operands
  kMul,    // kids: operands
  kNeg,    // kids: one
  kInv,    // kids: one (1 / kid)
  kPow,    // kids: base, exponent
  kFunc,   // text: "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "ln",
           // "exp", "log" (kids: argument, base)
  kAbs,    // kids: one
  kFact,   // kids: one (n!)
};

struct ExprNode {
  ExprKind kind;
  std::string text;
  std::vector<int> kids;  // indices into MathExpr::nodes
};

struct MathExpr {
  std::vector<ExprNode> nodes;
  int root = -1;
};

enum class ExprParse { kOk, kUnparsable, kTooLarge };

// Parses the normalised LaTeX subset: numbers, letters (with subscripts), \frac (also \frac12),
// \sqrt[n]{}, ^, !, \pi, e, \infty, + - * / \cdot \times \div, implicit multiplication,
// ( ) [ ] { }, |x|, \sin..\cot, \arcsin..\arctan, \ln, \log, \log_b, \exp. Inputs over max_chars
// or nested more than 40 deep are kTooLarge.
ExprParse parse_math_expr(const std::string& text, size_t max_chars, MathExpr* out);

// Upper bounds on what expanding the expression can produce.
// Over the normal form numerator / denominator (a sum of fractions counts its common denominator).
struct ExprCost {
  double terms = 1, den_terms = 1;    // monomials after full expansion
  double degree = 0, den_degree = 0;  // total degree in the symbols and opaque functions
  double digits = 1;                  // decimal digits of the largest coefficient
};
ExprCost expr_cost(const MathExpr& e);

// The bounds every symbolic check must fit (counted over both sides of a comparison).
constexpr double kMaxExpandedTerms = 1500;
constexpr double kMaxDegree = 64;
constexpr double kMaxDigits = 3000;
bool expr_within_bounds(const MathExpr& a, const MathExpr& b);

// Exact value when the expression is a rational number (no symbols or irrational functions; roots
// only of perfect powers). Returns false when it is not, or when a number would exceed kMaxDigits.
// The value is written as "p/q" (q > 0, reduced) or "p".
bool expr_rational(const MathExpr& e, std::string* value);

// A kNum literal as its digits without the point and the count of digits after it:
// "1.25" -> ("125", 2), so that its value is digits / 10^decimals.
struct DecimalDigits {
  std::string digits;
  size_t decimals = 0;
};
DecimalDigits decimal_digits(const std::string& literal);

// True when the expression contains a symbol (a letter other than e, or \infty).
bool expr_has_symbols(const MathExpr& e);

}  // namespace aha
