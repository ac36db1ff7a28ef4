// Sampling against hand-derived distributions: 100k draws per setting, chi-square test.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "rollout/sampling.h"

using namespace aha;

namespace {

// Base probabilities, distinct and sorted descending by id for easy hand reasoning.
const std::vector<double> kBase = {0.30, 0.20, 0.15, 0.12, 0.10, 0.07, 0.04, 0.02};

std::vector<float> logits_of(const std::vector<double>& p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x) + 1.7));  // shift is irrelevant
  return l;
}

// Expected distribution written out independently: temper, then keep ids [0, keep), renormalise.
std::vector<double> expected(double temperature, int keep) {
  std::vector<double> q(kBase.size(), 0.0);
  double z = 0;
  for (size_t i = 0; i < kBase.size(); i++) z += std::pow(kBase[i], 1.0 / temperature);
  double kept = 0;
  for (int i = 0; i < keep; i++) kept += std::pow(kBase[i], 1.0 / temperature) / z;
  for (int i = 0; i < keep; i++) q[i] = std::pow(kBase[i], 1.0 / temperature) / z / kept;
  return q;
}

// Draws n tokens and returns the chi-square statistic against q (cells with q = 0 must be empty).
double chi_square(const SamplingParams& p, const std::vector<double>& q, int n, bool* leaked) {
  std::vector<float> logits = logits_of(kBase);
  std::vector<long> counts(q.size(), 0);
  std::vector<int> scratch;
  for (int i = 0; i < n; i++) {
    SampledToken t = sample_token(logits.data(), static_cast<int>(logits.size()), p, 42, 0,
                                  static_cast<uint64_t>(i), scratch);
    counts[t.token]++;
  }
  double chi = 0;
  *leaked = false;
  for (size_t i = 0; i < q.size(); i++) {
    if (q[i] == 0) {
      *leaked |= counts[i] > 0;
      continue;
    }
    double e = q[i] * n;
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

// Critical values of chi-square at p = 0.001 for df = 1..7.
const double kCrit[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32};

}  // namespace

TEST_CASE("temperature, top-k, top-p and min-p frequencies match (chi-square, 100k draws)") {
  const int n = 100000;
  struct Case {
    const char* name;
    SamplingParams p;
    std::vector<double> q;
  };
  std::vector<Case> cases;
  SamplingParams p;
  p.temperature = 1.0f;
  cases.push_back({"plain", p, expected(1.0, 8)});
  p.temperature = 0.5f;
  cases.push_back({"temperature 0.5", p, expected(0.5, 8)});
  p.temperature = 1.5f;
  cases.push_back({"temperature 1.5", p, expected(1.5, 8)});
  p = SamplingParams{};
  p.top_k = 3;
  cases.push_back({"top-k 3", p, expected(1.0, 3)});
  p = SamplingParams{};
  p.top_p = 0.6f;  // 0.30 + 0.20 = 0.50 < 0.6 <= 0.65: keeps three
  cases.push_back({"top-p 0.6", p, expected(1.0, 3)});
  p = SamplingParams{};
  p.min_p = 0.3f;  // threshold 0.09: keeps 0.30 .. 0.10, five tokens
  cases.push_back({"min-p 0.3", p, expected(1.0, 5)});
  p = SamplingParams{};
  p.top_k = 6;
  p.top_p = 0.5f;  // renormalised over six (mass 0.94): 0.30/0.94 + 0.20/0.94 = 0.532 >= 0.5 -> two
  cases.push_back({"top-k 6 then top-p 0.5", p, expected(1.0, 2)});
  for (const Case& c : cases) {
    bool leaked = false;
    int df = -1;
    for (double x : c.q) df += x > 0;
    double chi = chi_square(c.p, c.q, n, &leaked);
    INFO(c.name, ": chi2=", chi, " df=", df);
    CHECK_FALSE(leaked);
    CHECK(chi < kCrit[df]);
  }
}

TEST_CASE("log-probs: full tempered and truncated") {
  std::vector<float> logits = logits_of(kBase);
  std::vector<int> scratch;
  SamplingParams p;
  p.temperature = 0.5f;
  p.top_k = 3;
  std::vector<double> full = expected(0.5, 8), trunc = expected(0.5, 3);
  for (int i = 0; i < 200; i++) {
    SampledToken t = sample_token(logits.data(), 8, p, 9, 3, i, scratch);
    REQUIRE(t.token < 3);
    CHECK(t.logp == doctest::Approx(std::log(full[t.token])).epsilon(1e-5));
    CHECK(t.logp_trunc == doctest::Approx(std::log(trunc[t.token])).epsilon(1e-5));
  }
}

TEST_CASE("greedy and reproducibility") {
  std::vector<float> logits = logits_of(kBase);
  std::vector<int> scratch;
  SamplingParams g;
  g.temperature = 0.0f;
  CHECK(sample_token(logits.data(), 8, g, 1, 2, 3, scratch).token == 0);
  SamplingParams p;
  for (int i = 0; i < 50; i++) {
    CHECK(sample_token(logits.data(), 8, p, 77, 5, i, scratch).token ==
          sample_token(logits.data(), 8, p, 77, 5, i, scratch).token);
  }
}
