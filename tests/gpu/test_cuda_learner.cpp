// The GRPO learner update on CUDA against the CPU learner (the reference): a tiny DeepSeek-V3 MoE
// (MLA, sigmoid group-limited router, shared expert), the same starting weights and batch (several
// micro-batches, a masked sample, rollout log-probs, a KL term to the reference, truncated
// importance sampling, router-bias updates), one update and three updates of two mini-batches.
// Tolerances, from the bf16 GEMM operands:
// - per-token log-probs within b = 1e-3 + |logp|·2⁻⁸ (the whole-model bound of test_cuda_model),
//   so the mean log-probs and entropies within b, and the loss (Σ w·A·ratio with two log-probs per
//   ratio) within (e^{2b} - 1)·Σ|w·A|, the KL (logp_ref - logp) within 2b;
// - the gradient norm within 2⁻⁷ relative (every gradient within atol + |ref|·2⁻⁸);
// - weights after one AdamW step: where the CPU gradient is clearly signed (|g| above twice its
//   tensor's atol), AdamW's first step moves both by lr·sign(g), so they agree to fp32 rounding;
//   elsewhere the sign may flip: within 2·lr. After six steps (three updates of two mini-batches)
//   every weight is within twice the largest move AdamW can make in those steps
//   (Σ_t lr·max|m̂/√v̂|, a Cauchy–Schwarz bound), and
//   the router bias (not trained, ±gamma per step from the expert loads) within 2·gamma·steps.
// Two CUDA runs are bit-identical (weights and metrics).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/ops.h"
#include "kernels/rng.h"
#include "learner/learner.h"
#include "policy/config_presets.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/learner_fixture.h"

using namespace aha;
using namespace learner_fixture;

namespace {

struct Run {
  std::vector<UpdateMetrics> metrics;
  std::vector<float> weights;   // after the last update (the learner's host copy)
  std::vector<float> grads;     // CPU: the last mini-batch's (clipped) gradients
  std::vector<float> weights0;  // before
};

Run run(Device dev, int steps, int num_minibatches) {
  Model m;
  model_build(m, tiny_moe());
  model_init(m, 3);
  Learner l;
  learner_init(l, m, learner_config(dev, num_minibatches));
  REQUIRE((l.device == dev));
  // The CUDA learner's host copy is page-locked (its download every update); the CPU's is not.
  CHECK(l.policy.params.host_locked() == (dev == Device::kCuda));
  CHECK(std::memcmp(l.policy.params.data(), m.params.data(), m.params.size() * sizeof(float)) == 0);
  const std::vector<Sample> samples = make_samples(m.cfg.vocab_size);
  Run r;
  r.weights0 = m.params;
  for (int s = 0; s < steps; s++) r.metrics.push_back(learner_update(l, samples));
  r.weights = l.policy.params;
  if (dev == Device::kCpu) r.grads = l.policy.grads;
  if (dev == Device::kCuda) {  // the host copy is the device's weights
    const std::vector<float> on_device = l.cuda.policy.params;
    CHECK(std::memcmp(on_device.data(), r.weights.data(), r.weights.size() * sizeof(float)) == 0);
  }
  return r;
}

}  // namespace

TEST_CASE("CUDA learner: one GRPO update matches the CPU learner") {
  REQUIRE_MESSAGE(ops_without_cuda_twin().empty(), "ops without a CUDA twin in this build");
  const Run cpu = run(Device::kCpu, 1, 1);
  const Run gpu = run(Device::kCuda, 1, 1);
  check_update_metrics(gpu.metrics[0], cpu.metrics[0]);
  check_updated_weights(gpu.weights, cpu.weights, cpu.grads, 1);
}

TEST_CASE("CUDA learner: three updates of two mini-batches match the CPU; two runs bit-identical") {
  REQUIRE_MESSAGE(ops_without_cuda_twin().empty(), "ops without a CUDA twin in this build");
  const Run cpu = run(Device::kCpu, 3, 2);
  const Run gpu = run(Device::kCuda, 3, 2);
  for (int s = 0; s < 3; s++) {
    INFO("update " << s + 1);
    check_update_metrics(gpu.metrics[s], cpu.metrics[s]);
  }
  check_updated_weights(gpu.weights, cpu.weights, cpu.grads, 3 * 2);  // optimiser steps
  const Run again = run(Device::kCuda, 3, 2);
  CHECK(std::memcmp(again.weights.data(), gpu.weights.data(), gpu.weights.size() * 4) == 0);
  for (int s = 0; s < 3; s++) {
    CHECK(std::memcmp(&again.metrics[s].loss, &gpu.metrics[s].loss, sizeof(double)) == 0);
    CHECK(std::memcmp(&again.metrics[s].grad_norm, &gpu.metrics[s].grad_norm, sizeof(double)) == 0);
  }
}

TEST_CASE("CUDA learner: an SFT step matches the CPU's loss and moves the weights the same way") {
  Model m;
  model_build(m, tiny_moe());
  model_init(m, 4);
  const std::vector<Sample> samples = make_samples(m.cfg.vocab_size);
  double loss[2];
  std::vector<float> w[2];
  for (int d = 0; d < 2; d++) {
    Learner l;
    learner_init(l, m, learner_config(d ? Device::kCuda : Device::kCpu, 1));
    loss[d] = learner_sft_step(l, samples);
    w[d] = l.policy.params;
  }
  CHECK(std::fabs(loss[1] - loss[0]) <= 1e-3 + kRel * std::fabs(loss[0]));
  // One AdamW step moves each weight by at most lr (plus the bias step on the router bias).
  const LearnerConfig lc = learner_config(Device::kCpu, 1);
  long bad = 0;
  for (size_t i = 0; i < w[0].size(); i++)
    bad +=
        !(std::fabs(w[1][i] - w[0][i]) <= 2 * (lc.lr + lc.bias_gamma) + 1e-6 * std::fabs(w[0][i]));
  CHECK(bad == 0);
}
