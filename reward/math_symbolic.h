// Symbolic equivalence of two LaTeX expressions with GiNaC. Invariants: GiNaC is not thread-safe,
// so every GiNaC object lives and dies under one global mutex; inputs over a size limit, with large
// exponents or deep nesting are refused before GiNaC sees them; the deadline is checked between
// steps (each step is bounded by the size limits), and waiting for the mutex counts against it.
#pragma once
#include <cstddef>
#include <string>

namespace aha {

enum class SymbolicVerdict { kEqual, kNotEqual, kUnparsable, kTimeout, kTooLarge };

// Parses both (normalised LaTeX subset: \frac, \sqrt[n]{}, ^, \pi, e, \cdot, \times, \div, implicit
// multiplication, \sin.. \arctan, \ln, \log, \log_b, \exp, |x|) and compares: numbers within
// rel_tol, expressions by normal(g - p) == 0 or, failing that, by agreement at three fixed sample
// points.
SymbolicVerdict symbolic_equal(const std::string& gold, const std::string& pred, double rel_tol,
                               double timeout_s, size_t max_chars);

// True when text parses in the LaTeX subset (for tests); under the same mutex.
bool symbolic_parses(const std::string& text);

}  // namespace aha
