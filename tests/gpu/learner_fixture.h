// The GRPO learner fixture of the CUDA learner tests: a tiny DeepSeek-V3 MoE, a step of twelve
// samples (several micro-batches, a masked sample, a one-token completion, rollout log-probs), a
// learner config with every loss term on, and the bounds the comparisons derive from bf16.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/rng.h"
#include "learner/learner.h"
#include "policy/config_presets.h"
#include "tests/gpu/model_fixture.h"

namespace learner_fixture {

using namespace aha;

const double kRel = std::ldexp(1.0, -8);

inline ModelConfig tiny_moe() {
  return model_fixture::tiny_deepseek_v3();
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

// Metrics of an update against a reference update of the same step, within the bf16-derived
// bounds: log-probs to b, the loss to what b moves in the ratios times Σ|w·A|.
inline void check_update_metrics(const UpdateMetrics& got, const UpdateMetrics& ref) {
  double max_logp = 0;  // per-token log-probs spread about their sample means: + 1
  for (float x : ref.sample_mean_logp) max_logp = std::fmax(max_logp, std::fabs(x) + 1);
  const double b = 1e-3 + kRel * max_logp;
  const double wa = sum_abs_wa(make_samples(tiny_moe().vocab_size));
  INFO("loss ref " << ref.loss << " got " << got.loss << "; grad norm ref " << ref.grad_norm
                   << " got " << got.grad_norm);
  CHECK(std::fabs(got.loss - ref.loss) <= std::expm1(2 * b) * wa + 1e-6);
  CHECK(std::fabs(got.kl - ref.kl) <= 2 * b);
  CHECK(std::fabs(got.entropy - ref.entropy) <= 1e-3 + kRel * std::fabs(ref.entropy));
  CHECK(std::fabs(got.grad_norm - ref.grad_norm) <= std::ldexp(1.0, -7) * ref.grad_norm + 1e-9);
  CHECK(got.num_tokens == ref.num_tokens);
  CHECK(got.lr == ref.lr);
  REQUIRE(got.sample_mean_logp.size() == ref.sample_mean_logp.size());
  for (size_t i = 0; i < ref.sample_mean_logp.size(); i++)
    CHECK(std::fabs(got.sample_mean_logp[i] - ref.sample_mean_logp[i]) <= b);
}

// Weights after `steps` optimiser steps (updates times mini-batches) against a reference run's
// (its weights and its last step's gradients). Router biases move by at most bias_gamma a step; at step 1 a weight whose gradient is
// clearly outside its tolerance took the same lr-sized AdamW step (fp32 rounding apart); every
// other weight is within twice the largest steps AdamW can take.
inline void check_updated_weights(const std::vector<float>& got, const std::vector<float>& ref,
                                  const std::vector<float>& ref_grads, int steps) {
  const LearnerConfig lc = learner_config(Device::kCpu, 1);
  Model table;
  model_build_table(table, tiny_moe());
  double bound = 0;
  for (int t = 1; t <= steps; t++) bound += lc.lr * adam_max_ratio(lc, t);
  for (const TensorSpec& s : table.specs) {
    double scale = 0;
    for (long i = 0; i < s.numel; i++) scale = std::fmax(scale, std::fabs(ref_grads[s.offset + i]));
    const double atol = 1e-6 + kRel * scale;  // the tensor's gradient tolerance
    long bad = 0, exact = 0;
    for (long i = 0; i < s.numel; i++) {
      const long j = s.offset + i;
      const double diff = std::fabs(static_cast<double>(got[j]) - ref[j]);
      const double rounding = 1e-6 * std::fabs(ref[j]) + 1e-3 * lc.lr;
      const double g = std::fabs(ref_grads[j]);
      double tol;
      if (!s.trainable)
        tol = 2 * lc.bias_gamma * steps + rounding;
      else if (steps == 1 && g > 2 * (atol + kRel * g))
        tol = rounding, exact++;
      else
        tol = 2 * bound + rounding;
      bad += !(diff <= tol);
    }
    INFO(s.name << ": " << bad << " of " << s.numel << " weights outside tolerance (" << exact
                << " held to fp32 rounding)");
    CHECK(bad == 0);
  }
}

}  // namespace learner_fixture
