// Per-layer activation recomputation (ForwardOptions::recompute) against the plain forward and
// backward: the same bits for losses, log-probs, gradients, expert loads and the balance loss on a
// DeepSeek (MLA + MoE) and a Qwen3-MoE config, with and without routing replay, in the learner
// too; and a memory plan that is what acts_reserve lays out and shrinks by the per-layer sets.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "kernels/rng.h"
#include "learner/learner.h"
#include "policy/config_presets.h"
#include "policy/model.h"
#include "tests/unit/model_test_util.h"

using namespace aha;

namespace {

// 4 layers: layer 0 dense, 1..3 MoE (sigmoid scores, group-limited top-k, a shared expert).
ModelConfig micro_deepseek() {
  // clang-format off
  ModelConfig c = config_deepseek({.V = 19, .C = 16, .L = 4, .NH = 2, .q_lora_rank = 8,
      .kv_lora_rank = 8, .qk_nope_head_dim = 6, .qk_rope_head_dim = 4, .v_head_dim = 5, .FF = 24,
      .moe_FF = 12, .E = 4, .shared = 1, .K = 2, .first_dense = 1, .max_position_embeddings = 64});
  // clang-format on
  c.n_group = 2;
  c.topk_group = 1;
  c.routed_scaling_factor = 1.5f;
  return c;
}

// 4 layers: layer 0 dense (mlp_only_layers), 1..3 MoE with softmax top-k, GQA with QK-norm.
ModelConfig micro_qwen3_moe() {
  // clang-format off
  return config_qwen("qwen3_moe", {.V = 19, .C = 16, .L = 4, .NH = 4, .NKV = 2, .head_dim = 6,
      .FF = 24, .moe_FF = 12, .E = 4, .K = 2, .max_position_embeddings = 64});
  // clang-format on
}

// Distinct experts per token for every MoE layer: [num_moe_layers][N, K], not what the router
// would choose, so that a recomputation ignoring the replay would show.
std::vector<int> random_routing(const ModelConfig& c, int N, uint64_t seed) {
  Rng rng{seed};
  const int E = c.n_routed_experts, K = c.num_experts_per_tok;
  std::vector<int> out;
  std::vector<int> experts(E);
  for (int l = 0; l < cfg_num_moe_layers(c); l++)
    for (int n = 0; n < N; n++) {
      std::iota(experts.begin(), experts.end(), 0);
      for (int k = 0; k < K; k++) {
        std::swap(experts[k], experts[k + static_cast<int>(rng.next_u64() % (E - k))]);
        out.push_back(experts[k]);
      }
    }
  return out;
}

struct StepResult {
  float loss = 0;
  double balance_loss = 0;
  std::vector<float> logp, entropy, grads;
  std::vector<std::vector<long>> expert_load;
};

// One forward+backward of m on b from a fresh Acts laid out as a learner does (acts_reserve with
// the backward), then a second, smaller batch through the same Acts.
StepResult fwd_bwd(const ModelConfig& c, const Batch& b, ForwardOptions opt, bool recompute) {
  Model m = test::sharp_model(c, 31, 4.0f);
  // A non-zero router bias, so the recomputed top-k depends on it as the forward's did.
  for (const TensorSpec& s : m.specs)
    if (!s.trainable) {
      Rng rng{static_cast<uint64_t>(s.offset)};
      for (long i = 0; i < s.numel; i++)
        m.params[s.offset + i] = 0.05f * static_cast<float>(rng.normal());
    }
  opt.recompute = recompute;
  const int N = batch_num_tokens(b);
  Acts a;
  acts_reserve(m, a, N, batch_num_seqs(b), true, true, recompute);
  CHECK(a.layers.size() == (recompute ? 1u : static_cast<size_t>(c.num_hidden_layers)));
  StepResult r;
  r.loss = model_forward(m, a, b, opt);
  std::vector<float> dlogp(N);
  Rng rng{5};
  for (int n = 0; n < N; n++) dlogp[n] = b.targets[n] >= 0 ? static_cast<float>(rng.normal()) : 0;
  model_zero_grads(m);
  model_backward(m, a, b, dlogp.data(), opt);
  r.balance_loss = a.balance_loss;
  r.logp.assign(a.logp.begin(), a.logp.begin() + N);
  r.entropy.assign(a.entropy.begin(), a.entropy.begin() + N);
  r.grads = m.grads;
  r.expert_load = a.expert_load;
  return r;
}

void check_same_bits(const ModelConfig& c, ForwardOptions opt) {
  const Batch b = test::micro_batch();
  opt.need_entropy = true;
  opt.inv_temp = 0.8f;
  const StepResult plain = fwd_bwd(c, b, opt, false);
  const StepResult re = fwd_bwd(c, b, opt, true);
  CHECK(std::memcmp(&plain.loss, &re.loss, sizeof(float)) == 0);
  CHECK(plain.logp == re.logp);
  CHECK(plain.entropy == re.entropy);
  CHECK(plain.balance_loss == re.balance_loss);
  CHECK(plain.expert_load == re.expert_load);
  REQUIRE(plain.grads.size() == re.grads.size());
  CHECK(std::memcmp(plain.grads.data(), re.grads.data(), plain.grads.size() * sizeof(float)) == 0);
  // The check sees something: gradients everywhere, and every routed token counted once.
  long routed = 0;
  for (const std::vector<long>& layer : re.expert_load)
    routed = std::accumulate(layer.begin(), layer.end(), routed);
  CHECK(routed ==
        static_cast<long>(cfg_num_moe_layers(c)) * batch_num_tokens(b) * c.num_experts_per_tok);
  CHECK(std::any_of(re.grads.begin(), re.grads.end(), [](float g) { return g != 0.0f; }));
  if (opt.balance_alpha > 0) CHECK(re.balance_loss > 0);
}

// Bytes of every arena acts_reserve laid out.
size_t arena_bytes(const Acts& a) {
  size_t n = a.arena.mem.size() + a.grad.arena.mem.size();
  for (const LayerActs& la : a.layers) n += la.arena.mem.size();
  return n;
}

}  // namespace

TEST_CASE("recompute: DeepSeek (MLA + MoE, balance loss) gives the same bits") {
  ForwardOptions opt;
  opt.balance_alpha = 0.05f;
  check_same_bits(micro_deepseek(), opt);
}

TEST_CASE("recompute: DeepSeek with routing replay gives the same bits") {
  const ModelConfig c = micro_deepseek();
  const std::vector<int> routing = random_routing(c, batch_num_tokens(test::micro_batch()), 3);
  ForwardOptions opt;
  opt.balance_alpha = 0.05f;
  opt.replay_topk_idx = routing.data();
  check_same_bits(c, opt);
}

TEST_CASE("recompute: Qwen3-MoE (GQA, QK-norm, softmax top-k) gives the same bits") {
  ForwardOptions opt;
  opt.balance_alpha = 0.05f;
  check_same_bits(micro_qwen3_moe(), opt);
  const std::vector<int> routing = random_routing(micro_qwen3_moe(), 16, 4);
  opt.replay_topk_idx = routing.data();
  check_same_bits(micro_qwen3_moe(), opt);
}

TEST_CASE("recompute: the memory plan is what acts_reserve lays out, and it shrinks") {
  for (const ModelConfig& c : {micro_deepseek(), micro_qwen3_moe()}) {
    Model m;
    model_build(m, c);
    const int N = 64, B = 4, L = c.num_hidden_layers;
    const size_t plain = acts_bytes(m, N, B, true, false);
    const size_t re = acts_bytes(m, N, B, true, true);
    Acts a, r;
    acts_reserve(m, a, N, B, true, true, false);
    acts_reserve(m, r, N, B, true, true, true);
    CHECK(arena_bytes(a) == plain);
    CHECK(arena_bytes(r) == re);
    // L per-layer sets become one: what is saved is at least L - 1 of the smallest (dense) set,
    // and the residual inputs [L, N, C] are kept either way.
    size_t smallest = SIZE_MAX, widest = 0;
    for (int l = 0; l < L; l++) {
      LayerActs la;
      layer_acts_reserve(m, l, la, N);
      smallest = std::min(smallest, la.arena.mem.size());
      widest = std::max(widest, la.arena.mem.size());
    }
    CHECK(r.layers[0].arena.mem.size() == widest);
    CHECK(plain - re >= static_cast<size_t>(L - 1) * smallest);
    CHECK(r.res_in.size() == static_cast<size_t>(L) * N * c.hidden_size);
    // Without the backward's scratch (which both keep whole), less than half for L = 4.
    CHECK(2 * acts_bytes(m, N, B, false, true) < acts_bytes(m, N, B, false, false));
    MemoryPlan mp = model_memory_plan(m, N, B, true, true);
    CHECK(mp.activations == re);
    CHECK(model_memory_plan(m, N, B, true, false).activations == plain);
  }
}

TEST_CASE("recompute: a smaller batch than reserved runs without reallocating") {
  const ModelConfig c = micro_deepseek();
  Model m = test::random_model(c, 2);
  Acts a;
  acts_reserve(m, a, 64, 4, true, true, true);
  const char* mem[3] = {a.arena.mem.data(), a.grad.arena.mem.data(), a.layers[0].arena.mem.data()};
  const Batch b = test::micro_batch();
  ForwardOptions opt;
  opt.recompute = true;
  model_forward(m, a, b, opt);
  std::vector<float> dlogp(batch_num_tokens(b), -0.1f);
  model_zero_grads(m);
  model_backward(m, a, b, dlogp.data(), opt);
  CHECK(a.arena.mem.data() == mem[0]);
  CHECK(a.grad.arena.mem.data() == mem[1]);
  CHECK(a.layers[0].arena.mem.data() == mem[2]);
  // The backward refuses options that differ from the forward's layout.
  ForwardOptions plain;
  CHECK_THROWS(model_backward(m, a, b, dlogp.data(), plain));
}

TEST_CASE("recompute: a learner update with learner.recompute gives the same bits") {
  // Reference model (KL), two optimiser steps (a no-grad pass first), the balance loss, the
  // router bias step and routing replay: every forward the learner runs goes through recompute.
  const ModelConfig c = micro_deepseek();
  std::vector<Sample> samples;
  Rng rng{17};
  for (int i = 0; i < 6; i++) {
    Sample x;
    const int T = 2 + static_cast<int>(rng.next_u64() % 4),
              n = 1 + static_cast<int>(rng.next_u64() % 6);
    for (int t = 0; t < T; t++) x.prompt.push_back(static_cast<int>(rng.next_u64() % c.vocab_size));
    for (int t = 0; t < n; t++)
      x.completion.push_back(static_cast<int>(rng.next_u64() % c.vocab_size));
    x.rollout_logp.assign(n, -2.5f);
    x.advantage = static_cast<float>(rng.normal());
    x.routing_num_layers = cfg_num_moe_layers(c);
    x.routing_top_k = c.num_experts_per_tok;
    const std::vector<int> r = random_routing(c, T + n, 100 + i);
    x.routing.assign(r.begin(), r.end());
    samples.push_back(x);
  }
  auto run = [&](bool recompute, UpdateMetrics* mt) {
    LearnerConfig cfg;
    cfg.lr = 1e-2f;
    cfg.micro_batch_tokens = 16;
    cfg.num_minibatches = 2;
    cfg.loss.beta = 0.1f;
    cfg.need_ref = true;
    cfg.balance_alpha = 0.01f;
    cfg.bias_gamma = 0.01f;
    cfg.lanes = 1;
    cfg.recompute = recompute;
    Learner l;
    learner_init(l, test::sharp_model(c, 8, 4.0f), cfg);
    *mt = learner_update(l, samples);
    return std::vector<float>(l.policy.params);
  };
  UpdateMetrics a, b;
  const std::vector<float> pa = run(false, &a);
  const std::vector<float> pb = run(true, &b);
  CHECK(pa == pb);
  CHECK(a.loss == b.loss);
  CHECK(a.kl == b.kl);
  CHECK(a.grad_norm == b.grad_norm);
  CHECK(a.balance_loss == b.balance_loss);
  CHECK(a.balance_loss > 0);
  CHECK(a.expert_load == b.expert_load);
  CHECK(a.sample_mean_logp == b.sample_mean_logp);
}
