// Per-layer activation recomputation on CUDA: a tiny DeepSeek-V3 and a tiny Qwen3-MoE give the same
// bits with and without ForwardOptions::recompute (loss, log-probs, every gradient, expert loads,
// the balance loss), with the router's own top-k and with routing replay, and the recompute layout
// takes less device memory.
#include <cstring>
#include <vector>

#include "kernels/ops.h"
#include "kernels/rng.h"
#include "policy/config_presets.h"
#include "policy/model.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/model_fixture.h"

using namespace aha;
using namespace model_fixture;

namespace {

// Distinct experts per token, [num_moe_layers][N, K] (host memory, as the learner passes it).
std::vector<int> random_routing(const ModelConfig& c, int N) {
  Rng rng{9};
  const int E = c.n_routed_experts, K = c.num_experts_per_tok;
  std::vector<int> out, experts(E);
  for (int l = 0; l < cfg_num_moe_layers(c); l++)
    for (int n = 0; n < N; n++) {
      for (int e = 0; e < E; e++) experts[e] = e;
      for (int k = 0; k < K; k++) {
        std::swap(experts[k], experts[k + static_cast<int>(rng.next_u64() % (E - k))]);
        out.push_back(experts[k]);
      }
    }
  return out;
}

struct Result {
  float loss = 0;
  double balance_loss = 0;
  std::vector<float> logp, grads;
  std::vector<std::vector<long>> expert_load;
};

Result run(const ModelConfig& cfg, const Batch& batch, const int* replay, bool recompute) {
  Model m;
  model_build(m, cfg, Device::kCuda);
  model_init(m, 3);
  const int N = batch_num_tokens(batch);
  Acts acts;
  acts_reserve(m, acts, N, batch_num_seqs(batch), true, true, recompute);
  ForwardOptions opt;
  opt.need_entropy = true;
  opt.balance_alpha = 0.01f;
  opt.replay_topk_idx = replay;
  opt.recompute = recompute;
  Result r;
  r.loss = model_forward(m, acts, batch, opt);
  r.balance_loss = acts.balance_loss;
  r.expert_load = acts.expert_load;
  std::vector<float> dlogp_host(N);
  for (int n = 0; n < N; n++) dlogp_host[n] = -0.5f + 0.03f * static_cast<float>(n % 11);
  Buffer<float> dlogp;
  dlogp.alloc(Device::kCuda, N);
  device_copy(m.ctx, dlogp.data(), Device::kCuda, dlogp_host.data(), Device::kCpu,
              N * sizeof(float));
  model_zero_grads(m);
  model_backward(m, acts, batch, dlogp.data(), opt);
  ctx_sync(m.ctx);
  r.logp.resize(N);
  device_copy(m.ctx, r.logp.data(), Device::kCpu, acts.logp.data(), Device::kCuda,
              N * sizeof(float));
  r.grads = m.grads;  // a host copy
  return r;
}

void check_same_bits(const ModelConfig& cfg, bool replay) {
  REQUIRE_MESSAGE(ops_without_cuda_twin().empty(),
                  "the CUDA model cannot run: ops without a CUDA twin in this build");
  const Batch batch = make_batch(cfg.vocab_size);
  const std::vector<int> routing = random_routing(cfg, batch_num_tokens(batch));
  const int* r = replay ? routing.data() : nullptr;
  const Result plain = run(cfg, batch, r, false);
  const Result re = run(cfg, batch, r, true);
  CHECK(std::memcmp(&plain.loss, &re.loss, sizeof(float)) == 0);
  CHECK(plain.logp == re.logp);
  CHECK(plain.balance_loss > 0);  // computed on the device and brought back
  CHECK(plain.balance_loss == re.balance_loss);
  CHECK(plain.expert_load == re.expert_load);
  if (replay) {  // the loads that reach the host count the replayed routing, layer by layer
    const int N = batch_num_tokens(batch), E = cfg.n_routed_experts, K = cfg.num_experts_per_tok;
    std::vector<std::vector<long>> want(cfg.num_hidden_layers, std::vector<long>(E, 0));
    for (int l = 0, moe_l = 0; l < cfg.num_hidden_layers; l++) {
      if (!cfg_layer_is_moe(cfg, l)) continue;
      for (int i = 0; i < N * K; i++) want[l][routing[static_cast<size_t>(moe_l) * N * K + i]]++;
      moe_l++;
    }
    CHECK(plain.expert_load == want);
  }
  CHECK(std::memcmp(plain.grads.data(), re.grads.data(), plain.grads.size() * sizeof(float)) == 0);
  Model table;
  model_build_table(table, cfg);
  const int N = batch_num_tokens(batch), B = batch_num_seqs(batch);
  CHECK(acts_bytes(table, N, B, true, true) < acts_bytes(table, N, B, true, false));
}

}  // namespace

TEST_CASE("CUDA recompute: tiny DeepSeek-V3 gives the same bits") {
  check_same_bits(tiny_deepseek_v3(), false);
  check_same_bits(tiny_deepseek_v3(), true);
}

TEST_CASE("CUDA recompute: tiny Qwen3-MoE gives the same bits") {
  check_same_bits(tiny_qwen3_moe(4), false);
  check_same_bits(tiny_qwen3_moe(4), true);
}
