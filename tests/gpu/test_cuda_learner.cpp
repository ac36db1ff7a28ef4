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
//   elsewhere the sign may flip: within 2·lr. After three steps every weight is within twice the
//   largest move AdamW can make in those steps (Σ_t lr·max|m̂/√v̂|, a Cauchy–Schwarz bound), and
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

void check_metrics(const UpdateMetrics& gpu, const UpdateMetrics& cpu) {
  double max_logp = 0;  // per-token log-probs spread about their sample means: + 1
  for (float x : cpu.sample_mean_logp) max_logp = std::fmax(max_logp, std::fabs(x) + 1);
  const double b = 1e-3 + kRel * max_logp;
  const double wa = sum_abs_wa(make_samples(tiny_moe().vocab_size));
  INFO("loss cpu " << cpu.loss << " gpu " << gpu.loss << "; grad norm cpu " << cpu.grad_norm
                   << " gpu " << gpu.grad_norm);
  CHECK(std::fabs(gpu.loss - cpu.loss) <= std::expm1(2 * b) * wa + 1e-6);
  CHECK(std::fabs(gpu.kl - cpu.kl) <= 2 * b);
  CHECK(std::fabs(gpu.entropy - cpu.entropy) <= 1e-3 + kRel * std::fabs(cpu.entropy));
  CHECK(std::fabs(gpu.grad_norm - cpu.grad_norm) <= std::ldexp(1.0, -7) * cpu.grad_norm + 1e-9);
  CHECK(gpu.num_tokens == cpu.num_tokens);
  CHECK(gpu.lr == cpu.lr);
  REQUIRE(gpu.sample_mean_logp.size() == cpu.sample_mean_logp.size());
  for (size_t i = 0; i < cpu.sample_mean_logp.size(); i++)
    CHECK(std::fabs(gpu.sample_mean_logp[i] - cpu.sample_mean_logp[i]) <= b);
}

void check_weights(const Run& gpu, const Run& cpu, int steps) {
  const LearnerConfig lc = learner_config(Device::kCpu, 1);
  Model table;
  model_build_table(table, tiny_moe());
  double bound = 0;
  for (int t = 1; t <= steps; t++) bound += lc.lr * adam_max_ratio(lc, t);
  for (const TensorSpec& s : table.specs) {
    double scale = 0;
    for (long i = 0; i < s.numel; i++) scale = std::fmax(scale, std::fabs(cpu.grads[s.offset + i]));
    const double atol = 1e-6 + kRel * scale;  // the tensor's gradient tolerance
    long bad = 0, exact = 0;
    for (long i = 0; i < s.numel; i++) {
      const long j = s.offset + i;
      const double diff = std::fabs(static_cast<double>(gpu.weights[j]) - cpu.weights[j]);
      const double rounding = 1e-6 * std::fabs(cpu.weights[j]) + 1e-3 * lc.lr;
      double tol;
      if (!s.trainable)
        tol = 2 * lc.bias_gamma * steps + rounding;
      else if (steps == 1 && std::fabs(cpu.grads[j]) > 2 * (atol + kRel * std::fabs(cpu.grads[j])))
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

}  // namespace

TEST_CASE("CUDA learner: one GRPO update matches the CPU learner") {
  REQUIRE_MESSAGE(ops_without_cuda_twin().empty(), "ops without a CUDA twin in this build");
  const Run cpu = run(Device::kCpu, 1, 1);
  const Run gpu = run(Device::kCuda, 1, 1);
  check_metrics(gpu.metrics[0], cpu.metrics[0]);
  check_weights(gpu, cpu, 1);
}

TEST_CASE("CUDA learner: three updates of two mini-batches match the CPU; two runs bit-identical") {
  REQUIRE_MESSAGE(ops_without_cuda_twin().empty(), "ops without a CUDA twin in this build");
  const Run cpu = run(Device::kCpu, 3, 2);
  const Run gpu = run(Device::kCuda, 3, 2);
  for (int s = 0; s < 3; s++) {
    INFO("update " << s + 1);
    check_metrics(gpu.metrics[s], cpu.metrics[s]);
  }
  check_weights(gpu, cpu, 3);
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
