// Math answer checking, exposed piece by piece for tests and tools. Invariants: every function is
// pure; GiNaC (not thread-safe) is only touched under one global mutex and only for inputs within a
// size limit, with a deadline checked between steps; running out of time counts as "not equal".
#pragma once
#include <string>
#include <vector>

namespace aha {

struct MathOptions {
  // Extraction methods tried in order: boxed, answer_tag, gsm8k, answer_is, last_number.
  std::vector<std::string> extract = {"boxed", "answer_tag", "gsm8k", "answer_is", "last_number"};
  double rel_tol = 1e-9;  // relative tolerance between numbers
  bool symbolic = true;   // try GiNaC equivalence after the cheaper rules
  double symbolic_timeout_s = 1.0;
  size_t max_symbolic_chars = 256;  // longer answers are not parsed symbolically (counts as wrong)
};

// The answer in a completion by the first method that finds one; empty when none does.
// method receives the name of the method that found it.
std::string math_extract(const std::string& text, const MathOptions& opt, std::string* method);

// The gold answer of a reference string: after the last "####", else the last \boxed{}, else all.
std::string math_gold(const std::string& reference);

// LaTeX normalisation: \left/\right, spacing commands, \dfrac/\tfrac, \text{} and units, degrees,
// dollars, trailing period, thousands separators. Keeps "%" as a percent marker.
std::string math_normalize(const std::string& s);

struct MathVerdict {
  bool equal = false;
  std::string how;  // "exact", "numeric", "symbolic", "tuple", ..., or why not ("symbolic timeout")
};

// Compares a predicted answer with the gold answer (the gold answer decides the kind of
// comparison).
MathVerdict math_equal(const std::string& gold, const std::string& pred, const MathOptions& opt);

}  // namespace aha
