#include "rollout/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/gemm.h"
#include "kernels/logprob.h"
#include "kernels/rng.h"

namespace aha {

namespace {

// Tempered log-softmax pieces: z = logits / T, lse = logsumexp(z) (in double).
double tempered_lse(const float* logits, int V, float inv_t) {
  double mx = -INFINITY;
  for (int i = 0; i < V; i++) mx = std::max(mx, static_cast<double>(logits[i]) * inv_t);
  double s = 0;
  for (int i = 0; i < V; i++) s += std::exp(static_cast<double>(logits[i]) * inv_t - mx);
  return mx + std::log(s);
}

// Fills probs[V] with the kept set's renormalised probabilities; order gets the kept ids
// sorted by probability (descending, then id). Returns the kept mass under the full distribution.
double kept_distribution(const float* logits, int V, const SamplingParams& p, double lse,
                         std::vector<double>& probs, std::vector<int>& order) {
  const double inv_t = 1.0 / p.temperature;
  probs.assign(V, 0.0);
  for (int i = 0; i < V; i++) probs[i] = std::exp(logits[i] * inv_t - lse);
  order.resize(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return probs[a] > probs[b]; });
  int keep = V;
  if (p.top_k > 0) keep = std::min(keep, p.top_k);
  if (p.top_p < 1.0f) {
    double mass = 0;
    for (int i = 0; i < keep; i++) mass += probs[order[i]];
    double acc = 0;
    int n = 0;
    while (n < keep) {
      acc += probs[order[n]];
      n++;
      if (acc >= p.top_p * mass) break;
    }
    keep = n;
  }
  if (p.min_p > 0.0f) {
    double thresh = p.min_p * probs[order[0]];
    int n = 1;  // the most likely token always stays
    while (n < keep && probs[order[n]] >= thresh) n++;
    keep = n;
  }
  double kept = 0;
  for (int i = 0; i < keep; i++) kept += probs[order[i]];
  std::vector<double> out(V, 0.0);
  for (int i = 0; i < keep; i++) out[order[i]] = probs[order[i]] / kept;
  probs.swap(out);
  order.resize(keep);
  return kept;
}

// In the batch-invariant mode a token's reported log-prob is the learner's arithmetic
// (logprob_forward over the row), so rollout and learner agree to the bit; the truncated
// log-prob keeps its offset log(kept).
SampledToken with_learner_logp(SampledToken out, const float* logits, int V, float inv_t,
                               bool greedy = false) {
  if (!gemm_batch_invariant()) return out;
  float logp = 0.0f, lse = 0.0f;
  logprob_forward(&logp, &lse, nullptr, logits, &out.token, 1, V, inv_t);
  const float log_kept = out.logp - out.logp_trunc;
  out.logp = logp;
  out.logp_trunc = greedy ? 0.0f : logp - log_kept;
  return out;
}

}  // namespace

void sampling_distribution(const float* logits, int V, const SamplingParams& p,
                           std::vector<double>& probs) {
  if (p.temperature <= 0) {
    int best = static_cast<int>(std::max_element(logits, logits + V) - logits);
    probs.assign(V, 0.0);
    probs[best] = 1.0;
    return;
  }
  std::vector<int> order;
  kept_distribution(logits, V, p, tempered_lse(logits, V, 1.0f / p.temperature), probs, order);
}

SampledToken sample_token(const float* logits, int V, const SamplingParams& p, uint64_t seed,
                          uint64_t stream, uint64_t counter, std::vector<int>& scratch) {
  SampledToken out;
  if (p.temperature <= 0) {
    out.token = static_cast<int>(std::max_element(logits, logits + V) - logits);
    double lse = tempered_lse(logits, V, 1.0f);
    out.logp = static_cast<float>(logits[out.token] - lse);
    out.logp_trunc = 0.0f;
    return with_learner_logp(out, logits, V, 1.0f, true);
  }
  const float inv_t = 1.0f / p.temperature;
  const double lse = tempered_lse(logits, V, inv_t);
  const double u = rng_uniform(seed, stream, counter);
  if (!sampling_truncates(p)) {
    // Inverse CDF over token ids in order; no sort needed.
    double acc = 0;
    int tok = V - 1;
    for (int i = 0; i < V; i++) {
      acc += std::exp(static_cast<double>(logits[i]) * inv_t - lse);
      if (u < acc) {
        tok = i;
        break;
      }
    }
    out.token = tok;
    out.logp = static_cast<float>(static_cast<double>(logits[tok]) * inv_t - lse);
    out.logp_trunc = out.logp;
    return with_learner_logp(out, logits, V, inv_t);
  }
  std::vector<double> probs;
  double kept = kept_distribution(logits, V, p, lse, probs, scratch);
  // Inverse CDF over the kept ids in probability order.
  double acc = 0;
  int tok = scratch.back();
  for (int id : scratch) {
    acc += probs[id];
    if (u < acc) {
      tok = id;
      break;
    }
  }
  out.token = tok;
  out.logp = static_cast<float>(static_cast<double>(logits[tok]) * inv_t - lse);
  out.logp_trunc = static_cast<float>(out.logp - std::log(kept));
  return with_learner_logp(out, logits, V, inv_t);
}

}  // namespace aha
