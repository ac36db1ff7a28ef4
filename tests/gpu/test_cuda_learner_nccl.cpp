// The data-parallel CUDA learner through a one-rank NCCL communicator against the CUDA learner with
// no collective: the gradients go through ncclAllReduce on the policy's stream (a sum over one
// rank changes no bit), so weights, AdamW state and metrics must be bit-identical, over one update
// and over three updates of two mini-batches. Exercises the rank's device selection, the
// communicator and the device all-reduce on a single GPU (the two-GPU test needs two).
#define AHA_GPU_NEEDS_NCCL 1
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/device.h"
#include "kernels/ops.h"
#include "learner/collective.h"
#include "learner/learner.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/learner_fixture.h"

using namespace aha;
using namespace learner_fixture;

namespace {

struct Run {
  std::vector<UpdateMetrics> metrics;
  std::vector<float> weights, adam_m, adam_v;
  uint64_t bytes_reduced = 0;  // through the communicator
};

Run run(bool nccl, int steps, int num_minibatches) {
  Collective c;
  if (nccl) collective_init_in_process(c, collective_nccl_unique_id(), 0, 1, 0);
  Model m;
  model_build(m, tiny_moe());
  model_init(m, 3);
  Learner l;
  learner_init(l, m, learner_config(Device::kCuda, num_minibatches));
  REQUIRE((l.device == Device::kCuda));
  const std::vector<Sample> samples = make_samples(m.cfg.vocab_size);
  Run r;
  for (int s = 0; s < steps; s++)
    r.metrics.push_back(learner_update(l, samples, nccl ? &c : nullptr));
  learner_sync_host(l);
  r.weights = l.policy.params;
  r.adam_m = l.adam_m;
  r.adam_v = l.adam_v;
  r.bytes_reduced = c.bytes_reduced;
  collective_finalize(c);
  return r;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_same(const Run& dp, const Run& one, int steps) {
  CHECK(same_bits(dp.weights, one.weights));
  CHECK(same_bits(dp.adam_m, one.adam_m));
  CHECK(same_bits(dp.adam_v, one.adam_v));
  for (int s = 0; s < steps; s++) {
    INFO("update " << s + 1);
    const UpdateMetrics &a = dp.metrics[s], &b = one.metrics[s];
    CHECK(std::memcmp(&a.loss, &b.loss, sizeof(double)) == 0);
    CHECK(std::memcmp(&a.grad_norm, &b.grad_norm, sizeof(double)) == 0);
    CHECK(std::memcmp(&a.kl, &b.kl, sizeof(double)) == 0);
    CHECK(std::memcmp(&a.entropy, &b.entropy, sizeof(double)) == 0);
    CHECK(a.num_tokens == b.num_tokens);
    CHECK(a.expert_load == b.expert_load);
    CHECK(same_bits(a.sample_mean_logp, b.sample_mean_logp));
  }
  CHECK(dp.bytes_reduced >= dp.weights.size() * sizeof(float) * steps);  // through NCCL
}

}  // namespace

TEST_CASE(
    "CUDA learner on a one-rank NCCL communicator: one update, the same bits as no collective") {
  REQUIRE_MESSAGE(ops_without_cuda_twin().empty(), "ops without a CUDA twin in this build");
  const Run one = run(false, 1, 1);
  const Run dp = run(true, 1, 1);
  check_same(dp, one, 1);
}

TEST_CASE("CUDA learner on a one-rank NCCL communicator: three updates of two mini-batches") {
  REQUIRE_MESSAGE(ops_without_cuda_twin().empty(), "ops without a CUDA twin in this build");
  const Run one = run(false, 3, 2);
  const Run dp = run(true, 3, 2);
  check_same(dp, one, 3);
}
