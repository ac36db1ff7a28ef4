// Math answer checking, exposed piece by piece for tests and tools. Invariants: every function is
// pure and thread-safe; integers, decimals and fractions compare exactly (never through floating
// point unless rel_tol > 0 asks for it); several different answers in one completion are a list,
// never "the last one", unless a retraction ("wait, no") stands between them; a symbolic check is bounded in size before it starts and in time while it
// runs (math_symbolic.h), and running out of either counts as "not equal".
#pragma once
#include <string>
#include <vector>

namespace aha {

struct MathOptions {
  // Extraction methods tried in order: boxed, answer_tag, gsm8k, answer_is, latex, last_number.
  std::vector<std::string> extract = {"boxed",     "answer_tag", "gsm8k",
                                      "answer_is", "latex",      "last_number"};
  double rel_tol = 0;    // > 0: plain numbers may also differ by this relative amount
  bool symbolic = true;  // try GiNaC equivalence after the cheaper rules
  double symbolic_timeout_s = 1.0;
  size_t max_symbolic_chars = 256;  // longer answers are not parsed symbolically (counts as wrong)
};

// The answer in a completion by the first method that finds one; empty when none does.
// method receives the name of the method that found it. Several boxes (or math segments joined by
// "and", ",", "or") come back as one list "a, b" (repeats count once). After a retraction ("wait,
// no", "actually, it's", "41 — no, 42") only the text after it answers, when it holds an answer.
std::string math_extract(const std::string& text, const MathOptions& opt, std::string* method);

// The gold answer of a reference string: after the last "####", else the last \boxed{}, else, for
// a reference that reads like a sentence or a solution, what math_extract finds in it, else all.
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
