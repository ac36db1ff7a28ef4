// Token sampling from one row of logits. The random number of a draw depends only on
// (seed, stream, counter): a request's seed, the sample's index in its group and the token's
// index in the completion, so a sample gets the same tokens alone or batched with others.
//
// The distribution: p = softmax(logits / temperature); then, in this order, top-k keeps the k most
// likely tokens, top-p keeps the smallest most-likely prefix whose renormalised mass reaches p,
// min-p keeps tokens with p >= min_p * p_max. The draw is from the renormalised kept set.
// temperature == 0 means greedy (argmax, lowest id on ties). Log-probs are returned both under the
// full tempered distribution (what the learner recomputes) and under the truncated one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace aha {

struct SamplingParams {
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;  // 0 = off
  float min_p = 0.0f;
  int max_new_tokens = 64;
  std::vector<int> stop_token_ids;
  std::vector<std::string> stop_strings;
};

inline bool sampling_truncates(const SamplingParams& p) {
  return p.temperature > 0 && (p.top_p < 1.0f || p.top_k > 0 || p.min_p > 0.0f);
}

// One draw as plain data (what the CUDA sampler, rollout/cuda/sampling.h, reads per row): the
// request's parameters and the draw's (seed, stream, counter).
struct SamplingRow {
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;  // 0 = off
  float min_p = 0.0f;
  uint64_t seed = 0;
  uint64_t stream = 0;
  uint64_t counter = 0;
};

inline SamplingRow sampling_row(const SamplingParams& p, uint64_t seed, uint64_t stream,
                                uint64_t counter) {
  return {p.temperature, p.top_p, p.top_k, p.min_p, seed, stream, counter};
}

struct SampledToken {
  int token = -1;
  float logp = 0.0f;        // under the full tempered distribution
  float logp_trunc = 0.0f;  // under the truncated distribution (== logp when nothing truncated)
};

// logits[V]; scratch is resized as needed (index buffer for sorting).
SampledToken sample_token(const float* logits, int V, const SamplingParams& p, uint64_t seed,
                          uint64_t stream, uint64_t counter, std::vector<int>& scratch);

// The kept set's probabilities as sample_token draws from them (for tests): probs[V], zeros
// outside the kept set, summing to 1.
void sampling_distribution(const float* logits, int V, const SamplingParams& p,
                           std::vector<double>& probs);

}  // namespace aha
