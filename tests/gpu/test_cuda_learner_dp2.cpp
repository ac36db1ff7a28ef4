// Two data-parallel CUDA learner ranks (threads of this process, one GPU each, an in-process NCCL
// communicator), each given the whole step and training its half, against one rank training the
// whole step on one GPU. Skipped (77) with fewer than two devices.
// What must hold:
// - both ranks end with bit-identical weights and AdamW state (the summed gradients are the same
//   on every rank, and so is everything after them);
// - against one rank, the bounds of test_cuda_learner (the same fixture), all derived from bf16:
//   the ranks' micro-batches are packed differently from the whole step's, so GEMM shapes and the
//   gradient sums' order differ, and a difference can only come from rounding;
//   per-token log-probs within b = 1e-3 + |logp|·2⁻⁸, so the mean log-probs and entropy within b,
//   the loss within (e^{2b} - 1)·Σ|w·A|, the KL within 2b, the gradient norm within 2⁻⁷
//   relative, token counts equal; weights after one AdamW step equal to fp32 rounding where the
//   gradient is clearly signed, else within 2·lr; after three steps within twice AdamW's largest
//   move; the router bias (±gamma per step from the loads) within 2·gamma·steps.
#define AHA_GPU_MIN_DEVICES 2
#define AHA_GPU_NEEDS_NCCL 1
#include <cmath>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
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

constexpr int kRanks = 2;

struct Run {
  std::vector<UpdateMetrics> metrics;
  std::vector<float> weights, adam_m, adam_v;
  std::vector<float> grads;  // the device gradients of the last mini-batch (summed over ranks)
  std::string error;         // what a rank thread threw
};

// Runs on the calling thread's selected device; dp null: one rank, the whole step.
Run run(Collective* dp, int steps, int num_minibatches) {
  Model m;
  model_build(m, tiny_moe());
  model_init(m, 3);
  Learner l;
  learner_init(l, m, learner_config(Device::kCuda, num_minibatches));
  const std::vector<Sample> samples = make_samples(m.cfg.vocab_size);
  Run r;
  for (int s = 0; s < steps; s++) r.metrics.push_back(learner_update(l, samples, dp));
  learner_sync_host(l);
  r.weights = l.policy.params;
  r.adam_m = l.adam_m;
  r.adam_v = l.adam_v;
  r.grads = l.cuda.policy.grads;
  return r;
}

// kRanks threads, rank r on device r. No doctest macro runs on them (not thread-safe).
std::vector<Run> run_ranks(int steps, int num_minibatches) {
  const std::vector<uint8_t> id = collective_nccl_unique_id();
  std::vector<Run> out(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; r++)
    threads.emplace_back([&, r] {
      try {
        Collective c;
        collective_init_in_process(c, id, r, kRanks, r);
        out[r] = run(&c, steps, num_minibatches);
        collective_finalize(c);
      } catch (const std::exception& e) {
        out[r].error = e.what();
      }
    });
  for (std::thread& t : threads) t.join();
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_dp(int steps, int num_minibatches) {
  REQUIRE_MESSAGE(ops_without_cuda_twin().empty(), "ops without a CUDA twin in this build");
  cuda_select_device(0);
  const Run one = run(nullptr, steps, num_minibatches);
  const std::vector<Run> ranks = run_ranks(steps, num_minibatches);
  for (int r = 0; r < kRanks; r++) {
    INFO("rank " << r);
    REQUIRE(ranks[r].error.empty());
  }
  // Every rank applied the same update.
  CHECK(same_bits(ranks[1].weights, ranks[0].weights));
  CHECK(same_bits(ranks[1].adam_m, ranks[0].adam_m));
  CHECK(same_bits(ranks[1].adam_v, ranks[0].adam_v));
  for (int s = 0; s < steps; s++) {
    INFO("update " << s + 1);
    CHECK(std::memcmp(&ranks[1].metrics[s].loss, &ranks[0].metrics[s].loss, sizeof(double)) == 0);
    CHECK(std::memcmp(&ranks[1].metrics[s].grad_norm, &ranks[0].metrics[s].grad_norm,
                      sizeof(double)) == 0);
    check_update_metrics(ranks[0].metrics[s], one.metrics[s]);
  }
  check_updated_weights(ranks[0].weights, one.weights, one.grads, steps * num_minibatches);
}

}  // namespace

TEST_CASE("two CUDA learner ranks (NCCL, one GPU each) match one rank: one update") {
  check_dp(1, 1);
}

TEST_CASE(
    "two CUDA learner ranks (NCCL, one GPU each) match one rank: three updates of two "
    "mini-batches") {
  check_dp(3, 2);
}
