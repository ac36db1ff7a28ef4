// Equivalence of two LaTeX expressions: exact rationals first (GMP, parallel), then GiNaC.
// Invariants: parsing, size bounds and rational arithmetic run outside any lock; GiNaC is not
// thread-safe, so every GiNaC object lives and dies under one global mutex, and only expressions
// that pass expr_within_bounds (math_expr.h) ever reach it, which keeps every hold of the mutex
// short; waiting for the mutex does not count against a check's own time limit (up to a generous
// cap), the check's own work does, and running out of either is "not equal". No identity is ever
// decided by agreement at sample points.
#pragma once
#include <cstddef>
#include <string>

namespace aha {

enum class SymbolicVerdict { kEqual, kNotEqual, kUnparsable, kTimeout, kTooLarge };

// Compares gold and pred:
// - both rational numbers: exactly (GMP);
// - pred a decimal with at least 6 significant digits, gold a constant without symbols: equal when
//   pred is gold rounded (half a unit) or truncated (under one unit) at its last written place
//   (0.333333 or 0.666667 for 1/3 and 2/3, never 1.414
//   for sqrt 2, never 4.9999999 for 5);
// - constants (no symbols): GiNaC evaluation at 50 digits, equal within 1e-40 relative;
// - otherwise normal(g - p) == 0 in GiNaC, with sin/cos of integer multiples of one symbol written
//   as polynomials in sin x, cos x and reduced by sin^2 x + cos^2 x = 1.
SymbolicVerdict symbolic_equal(const std::string& gold, const std::string& pred, double timeout_s,
                               size_t max_chars);

// True when text parses in the LaTeX subset (for tests).
bool symbolic_parses(const std::string& text);

}  // namespace aha
