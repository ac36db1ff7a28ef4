// Helpers for the kernel tests: random buffers and a central-difference gradient check.
//
// Tolerance: every loss is a random-weighted sum of fp32 outputs, accumulated in double. Forward
// rounding perturbs each output by ~eps32 = 1.2e-7 relative, so a difference quotient with step
// h = 1e-3 carries an absolute error of about eps32 * |L| / h ~ 1e-4 * |L| on O(1)-sized
// problems, while the O(h^2) truncation error is ~1e-6. We compare whole gradient vectors by
// relative L2 error (< 5e-3; measured 1e-6..1e-3, print them with AHA_FD_VERBOSE=1 and -s), plus
// an elementwise bound scaled by the vector norm, so a single wrong entry still fails.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/rng.h"

namespace aha::test {

inline std::vector<float> randn(Rng& rng, size_t n, double scale = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = (float)(rng.normal() * scale);
  return v;
}

inline double weighted_sum(const std::vector<float>& out, const std::vector<float>& w) {
  double s = 0.0;
  for (size_t i = 0; i < out.size(); i++) s += (double)out[i] * w[i];
  return s;
}

// Compares analytic gradient `ana` of loss() with respect to x against central differences.
// loss() must recompute the forward from the current contents of x.
template <class F>
void check_grad(const char* name, std::vector<float>& x, const std::vector<float>& ana, F loss,
                double h = 1e-3, double tol = 5e-3) {
  REQUIRE(x.size() == ana.size());
  std::vector<double> num(x.size());
  for (size_t i = 0; i < x.size(); i++) {
    const float x0 = x[i];
    x[i] = (float)(x0 + h);
    const double xp = x[i], lp = loss();
    x[i] = (float)(x0 - h);
    const double xm = x[i], lm = loss();
    x[i] = x0;
    num[i] = (lp - lm) / (xp - xm);  // the actual float step, not 2h
  }
  double diff2 = 0.0, ana2 = 0.0, num2 = 0.0, maxdiff = 0.0;
  for (size_t i = 0; i < x.size(); i++) {
    const double d = ana[i] - num[i];
    diff2 += d * d;
    ana2 += (double)ana[i] * ana[i];
    num2 += num[i] * num[i];
    maxdiff = std::fmax(maxdiff, std::fabs(d));
  }
  const double scale = std::sqrt(std::fmax(ana2, num2));
  const std::string what = std::string(name) +
                           ": |ana-num|/|num| = " + std::to_string(std::sqrt(diff2) / scale) +
                           ", max |ana-num| = " + std::to_string(maxdiff) +
                           ", |num| = " + std::to_string(std::sqrt(num2));
  INFO(what);
  if (std::getenv("AHA_FD_VERBOSE")) MESSAGE(what);  // shows the margins when all pass (with -s)
  CHECK(scale > 0.0);  // a zero gradient everywhere would make the check vacuous
  CHECK(std::sqrt(diff2) <= tol * scale);
  CHECK(maxdiff <= tol * scale);
}

// Backward kernels accumulate: fill gradient buffers with this, call backward, subtract it back.
constexpr float kPrefill = 0.5f;
inline std::vector<float> prefilled(size_t n) {
  return std::vector<float>(n, kPrefill);
}
inline void unprefill(std::vector<float>& g) {
  for (auto& x : g) x -= kPrefill;
}

}  // namespace aha::test
