// The GRPO learner fixture of the CUDA learner tests: a tiny DeepSeek-V3 MoE, a step of twelve
// samples (several micro-batches, a masked sample, a one-token completion, rollout log-probs), a
// learner config with every loss term on, and the bounds the comparisons derive from bf16.
#pragma once
#include <cmath>
#include <vector>

#include "kernels/rng.h"
#include "learner/learner.h"
#include "policy/config_presets.h"

namespace learner_fixture {

using namespace aha;

const double kRel = std::ldexp(1.0, -8);

inline ModelConfig tiny_moe() {
  ModelConfig c = config_tiny();  // 2 layers (the first dense), MLA, 4 routed + 1 shared, top-2
  c.n_group = 2;                  // group-limited selection too
  c.topk_group = 1;
  return c;
}

inline std::vector<Sample> make_samples(int V) {
  Rng rng{23};
  std::vector<Sample> out;
  for (int i = 0; i < 12; i++) {
    Sample x;
    const int T = 3 + static_cast<int>(rng.next_u64() % 6);
    const int n = i == 5 ? 1 : 1 + static_cast<int>(rng.next_u64() % 20);  // one single token
    for (int t = 0; t < T; t++) x.prompt.push_back(static_cast<int>(rng.next_u64() % V));
    for (int t = 0; t < n; t++) {
      x.completion.push_back(static_cast<int>(rng.next_u64() % V));
      x.rollout_logp.push_back(static_cast<float>(-std::log(V) + 0.3 * rng.normal()));
    }
    x.advantage = static_cast<float>(rng.normal());
    x.masked = i == 7;
    out.push_back(x);
  }
  return out;
}

inline LearnerConfig learner_config(Device dev, int num_minibatches) {
  LearnerConfig c;
  c.device = dev == Device::kCuda ? "cuda" : "cpu";
  c.lr = 1e-3f;
  c.micro_batch_tokens = 64;  // several micro-batches
  c.num_minibatches = num_minibatches;
  c.loss.eps_high = 0.28f;
  c.loss.beta = 0.04f;
  c.loss.kl = KlEstimator::kK3;
  c.loss.tis_cap = 2.0f;
  c.need_ref = true;
  c.bias_gamma = 0.01f;
  c.inv_temp = 1.0f / 0.9f;
  c.max_len = 20;
  c.lanes = 1;
  return c;
}

// Σ|w·A| over the step's tokens (token-mean weights: 1 / unmasked completion tokens).
inline double sum_abs_wa(const std::vector<Sample>& samples) {
  double num = 0, den = 0;
  for (const Sample& x : samples)
    if (!x.masked) {
      num += static_cast<double>(x.completion.size()) * std::fabs(x.advantage);
      den += static_cast<double>(x.completion.size());
    }
  return num / den;
}

// The largest |m̂/√v̂| AdamW can reach at step t (Cauchy–Schwarz over the gradient history).
inline double adam_max_ratio(const LearnerConfig& c, int t) {
  double s = 0;
  for (int k = 0; k < t; k++) {
    const double a = (1 - c.beta1) * std::pow(c.beta1, k) / (1 - std::pow(c.beta1, t));
    const double bk = (1 - c.beta2) * std::pow(c.beta2, k) / (1 - std::pow(c.beta2, t));
    s += a * a / bk;
  }
  return std::sqrt(s);
}

}  // namespace learner_fixture
