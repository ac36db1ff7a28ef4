// The whole policy against independent references: finite differences of the loss for every
// tensor (directional derivatives), determinism, and the parameter table.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "kernels/rng.h"
#include "policy/config_presets.h"
#include "policy/model.h"
#include "tests/unit/model_test_util.h"

using namespace aha;

namespace {

ModelConfig micro_config(int q_lora_rank, const std::string& scoring) {
  // Layer 0 dense, layer 1 MoE.
  // clang-format off
  ModelConfig c = config_deepseek({.V = 19, .C = 16, .L = 2, .NH = 2, .q_lora_rank = q_lora_rank,
      .kv_lora_rank = 8, .qk_nope_head_dim = 6, .qk_rope_head_dim = 4, .v_head_dim = 5, .FF = 24,
      .moe_FF = 12, .E = 4, .shared = 1, .K = 2, .first_dense = 1, .max_position_embeddings = 64});
  // clang-format on
  c.scoring_func = scoring;
  c.topk_method = scoring == "sigmoid" ? "noaux_tc" : "greedy";
  c.norm_topk_prob = scoring == "sigmoid";
  c.routed_scaling_factor = 1.5f;
  return c;
}

// Qwen family: GQA with 4 query and 2 key/value heads of 6 dims; layer 0 dense (mlp_only_layers).
ModelConfig micro_qwen(const std::string& model_type) {
  // clang-format off
  return config_qwen(model_type, {.V = 19, .C = 16, .L = 2, .NH = 4, .NKV = 2, .head_dim = 6,
      .FF = 24, .moe_FF = 12, .E = 4, .K = 2, .max_position_embeddings = 64});
  // clang-format on
}

// Each named tensor exists with its shape.
void check_shapes(const Model& m,
                  const std::vector<std::pair<std::string, std::vector<int64_t>>>& want) {
  for (const auto& [name, shape] : want) {
    const TensorSpec* t = model_find_tensor(m, name);
    REQUIRE_MESSAGE(t != nullptr, name);
    CHECK_MESSAGE(t->shape == shape, name);
  }
}

// L = Σ_n r_n logp_n in double, with routing replayed so the loss is smooth in the weights.
double weighted_loss(Model& m, Acts& a, const Batch& b, const std::vector<float>& r,
                     const ForwardOptions& opt) {
  model_forward(m, a, b, opt);
  double l = 0;
  for (size_t n = 0; n < r.size(); n++) l += static_cast<double>(r[n]) * a.logp[n];
  return l + a.balance_loss;
}

std::vector<int> routing_of(const Model& m, const Acts& a) {
  std::vector<int> out;
  for (int l = 0; l < m.cfg.num_hidden_layers; l++)
    if (cfg_layer_is_moe(m.cfg, l))
      out.insert(out.end(), a.layers[l].topk_idx.begin(),
                 a.layers[l].topk_idx.begin() + static_cast<long>(a.N) * m.cfg.num_experts_per_tok);
  return out;
}

void check_gradients(const ModelConfig& cfg, float balance_alpha = 0.0f) {
  Model m;
  model_build(m, cfg);
  model_init(m, 1234);
  // Larger weights than the default init make every path's gradient visible above fp32 noise.
  for (float& p : m.params) p *= 8.0f;
  for (const TensorSpec& s : m.specs)
    if (s.shape.size() == 1) {
      Rng rng{static_cast<uint64_t>(s.offset)};
      for (long i = 0; i < s.numel; i++)
        m.params[s.offset + i] = s.trainable ? 1.0f + 0.3f * static_cast<float>(rng.normal())
                                             : 0.1f * static_cast<float>(rng.normal());
    }
  Batch b = test::micro_batch();
  Acts a;
  ForwardOptions opt;
  opt.inv_temp = 0.7f;
  opt.balance_alpha = balance_alpha;
  model_forward(m, a, b, opt);
  if (balance_alpha > 0) CHECK(a.balance_loss > 0);
  std::vector<int> routing = routing_of(m, a);
  ForwardOptions replay = opt;
  replay.replay_topk_idx = routing.data();

  const int N = batch_num_tokens(b);
  std::vector<float> r(N);
  Rng rng{99};
  for (int n = 0; n < N; n++) r[n] = b.targets[n] >= 0 ? static_cast<float>(rng.normal()) : 0.0f;
  model_zero_grads(m);
  weighted_loss(m, a, b, r, replay);
  model_backward(m, a, b, r.data(), replay);

  // Directional derivative per tensor: (L(θ+hu) − L(θ−hu)) / 2h against g·u. fp32 forward noise is
  // about 1e-7 relative per value; with h = 1e-3 on O(1) weights the central difference's
  // truncation error is O(h²) ≈ 1e-6 and its rounding error ≈ 1e-7·|L|/h ≈ 1e-3 absolute, so
  // relative errors of a few 1e-3 are expected and 2e-2 (or an absolute 2e-3 for near-zero
  // directions) is the bound.
  for (const TensorSpec& s : m.specs) {
    if (!s.trainable) continue;
    std::vector<float> u(s.numel);
    double gu = 0;
    for (long i = 0; i < s.numel; i++) {
      u[i] = static_cast<float>(rng.normal());
      gu += static_cast<double>(u[i]) * m.grads[s.offset + i];
    }
    const float h = 1e-3f;
    std::vector<float> saved(m.params.begin() + s.offset, m.params.begin() + s.offset + s.numel);
    for (long i = 0; i < s.numel; i++) m.params[s.offset + i] = saved[i] + h * u[i];
    double lp = weighted_loss(m, a, b, r, replay);
    for (long i = 0; i < s.numel; i++) m.params[s.offset + i] = saved[i] - h * u[i];
    double lm = weighted_loss(m, a, b, r, replay);
    std::copy(saved.begin(), saved.end(), m.params.begin() + s.offset);
    double fd = (lp - lm) / (2.0 * h);
    double err = std::fabs(fd - gu);
    INFO(s.name, ": fd=", fd, " analytic=", gu);
    CHECK((err < 2e-2 * std::fabs(fd) || err < 2e-3));
  }
}

}  // namespace

TEST_CASE("model gradients match finite differences (plain q_proj, sigmoid router)") {
  check_gradients(micro_config(0, "sigmoid"));
}

TEST_CASE("model gradients match finite differences (q_lora_rank, softmax router)") {
  check_gradients(micro_config(6, "softmax"));
}

TEST_CASE("the sequence-wise balance loss's router gradient matches finite differences") {
  check_gradients(micro_config(0, "sigmoid"), 2.0f);
  check_gradients(micro_config(6, "softmax"), 2.0f);
}

TEST_CASE("model gradients match finite differences (Qwen3-MoE: GQA, QK-norm, softmax top-k)") {
  check_gradients(micro_qwen("qwen3_moe"));
}

TEST_CASE("model gradients match finite differences (Qwen2: q/k/v biases, tied embeddings)") {
  ModelConfig c = micro_qwen("qwen2");
  c.tie_word_embeddings = true;
  check_gradients(c);
}

TEST_CASE("model gradients match finite differences (Qwen3 with o_proj bias and YaRN)") {
  ModelConfig c = micro_qwen("qwen3");
  c.qkv_bias = c.o_bias = true;
  c.rope_scaling = test::yarn(4.0, 4, 0, 0);
  check_gradients(c);
}

TEST_CASE("model gradients match finite differences (DeepSeek with YaRN mscale)") {
  ModelConfig c = micro_config(6, "sigmoid");
  c.rope_scaling = test::yarn(8.0, 4, 1.0, 0.707);
  check_gradients(c);
}

TEST_CASE("balance loss by hand: uniform scores and selection give alpha") {
  // E = 4, K = 2, one sequence of 2 tokens, scores all 0.5: P_i = 1/4 each; tokens pick {0,1} and
  // {2,3}: f_i = 4 / (2 * 2) * 1 = 1 each. sum f_i P_i = 1.
  std::vector<float> scores(8, 0.5f);
  std::vector<int> topk = {0, 1, 2, 3};
  int seq[2] = {0, 2};
  RouterParams p;
  p.E = 4;
  p.K = 2;
  CHECK(moe_balance_loss(scores.data(), topk.data(), seq, 1, p, 0.1f, nullptr) ==
        doctest::Approx(0.1));
  // All tokens on expert 0 and 1 with scores concentrated there: f = (2, 2, 0, 0), P =
  // (.4,.4,.1,.1).
  std::vector<float> s2 = {0.8f, 0.8f, 0.2f, 0.2f, 0.8f, 0.8f, 0.2f, 0.2f};
  std::vector<int> t2 = {0, 1, 0, 1};
  CHECK(moe_balance_loss(s2.data(), t2.data(), seq, 1, p, 1.0f, nullptr) ==
        doctest::Approx(2 * 0.4 + 2 * 0.4));
}

TEST_CASE("parameter table follows the HF DeepSeek-V3 names and counts") {
  Model m;
  model_build(m, micro_config(6, "sigmoid"));
  CHECK(model_find_tensor(m, "model.layers.0.mlp.gate_proj.weight") != nullptr);
  check_shapes(m, {{"model.layers.1.mlp.gate.weight", {4, 16}},
                   {"model.layers.1.mlp.experts.3.down_proj.weight", {16, 12}},
                   {"model.layers.1.self_attn.q_b_proj.weight", {2 * 10, 6}},
                   {"model.layers.1.self_attn.kv_b_proj.weight", {2 * (6 + 5), 8}}});
  CHECK_FALSE(model_find_tensor(m, "model.layers.1.mlp.gate.e_score_correction_bias")->trainable);
  // Active per token: all but (E - K) routed experts of the one MoE layer.
  CHECK(model_num_params(m) - model_num_active_params(m) == 2L * 3 * 12 * 16);
  long sum = 0;
  for (const TensorSpec& s : m.specs) sum += s.numel;
  CHECK(sum == m.num_params);
}

TEST_CASE("parameter table follows the HF Qwen3-MoE and Qwen2 names") {
  Model m;
  model_build(m, micro_qwen("qwen3_moe"));
  check_shapes(m, {{"model.layers.0.mlp.gate_proj.weight", {24, 16}},
                   {"model.layers.1.mlp.experts.3.up_proj.weight", {12, 16}},
                   {"model.layers.1.self_attn.q_proj.weight", {4 * 6, 16}},
                   {"model.layers.1.self_attn.k_proj.weight", {2 * 6, 16}},
                   {"model.layers.1.self_attn.o_proj.weight", {16, 4 * 6}},
                   {"model.layers.1.self_attn.q_norm.weight", {6}}});
  CHECK(model_find_tensor(m, "model.layers.1.mlp.gate.e_score_correction_bias") == nullptr);
  CHECK(model_find_tensor(m, "model.layers.1.mlp.shared_experts.up_proj.weight") == nullptr);
  CHECK(model_find_tensor(m, "model.layers.1.self_attn.q_proj.bias") == nullptr);
  Model q2;
  ModelConfig c2 = micro_qwen("qwen2");
  c2.tie_word_embeddings = true;
  model_build(q2, c2);
  check_shapes(q2, {{"model.layers.0.self_attn.v_proj.bias", {2 * 6}}});
  CHECK(model_find_tensor(q2, "model.layers.0.self_attn.q_norm.weight") == nullptr);
  CHECK(model_find_tensor(q2, "model.layers.0.self_attn.o_proj.bias") == nullptr);
  CHECK(model_find_tensor(q2, "lm_head.weight") == nullptr);
  CHECK(q2.w.lm_head == q2.w.embed);
}

TEST_CASE("two forward+backward runs with the same seed are bit-identical") {
  std::vector<float> grads[2], logp[2];
  for (int run = 0; run < 2; run++) {
    Model m = test::random_model(micro_config(0, "sigmoid"), 7);
    Batch b = test::micro_batch();
    Acts a;
    ForwardOptions opt;
    model_forward(m, a, b, opt);
    std::vector<float> dlogp(batch_num_tokens(b), -0.1f);
    model_zero_grads(m);
    model_backward(m, a, b, dlogp.data(), opt);
    grads[run] = m.grads;
    logp[run].assign(a.logp.begin(), a.logp.begin() + batch_num_tokens(b));
  }
  CHECK(std::memcmp(grads[0].data(), grads[1].data(), grads[0].size() * sizeof(float)) == 0);
  CHECK(std::memcmp(logp[0].data(), logp[1].data(), logp[0].size() * sizeof(float)) == 0);
}

TEST_CASE("packed sequences do not see each other") {
  Model m = test::random_model(micro_config(0, "sigmoid"), 3);
  Batch both = test::micro_batch();
  Batch alone;
  batch_add_sequence(alone, {4, 4, 18, 0}, 1);
  Acts a1, a2;
  ForwardOptions opt;
  model_forward(m, a1, both, opt);
  model_forward(m, a2, alone, opt);
  for (int i = 0; i < 4; i++) CHECK(a1.logp[7 + i] == doctest::Approx(a2.logp[i]).epsilon(1e-5));
}

TEST_CASE("host params moved into locked memory keep their values, and the views follow them") {
  Model m = test::random_model(micro_config(0, "sigmoid"), 5);
  Batch b = test::micro_batch();
  Acts a1, a2;
  ForwardOptions opt;
  model_forward(m, a1, b, opt);
  const std::vector<float> before = m.params;
  model_lock_host_params(m);
  // Locked only where a CUDA device answers; either way the same values behind the same views.
  CHECK(m.params.host_locked() == cuda_available());
  const std::vector<float> after = m.params;
  CHECK(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)) == 0);
  CHECK(m.w.embed == m.params.data() + model_find_tensor(m, "model.embed_tokens.weight")->offset);
  model_forward(m, a2, b, opt);
  const int N = batch_num_tokens(b);
  CHECK(std::memcmp(a1.logp.data(), a2.logp.data(), N * sizeof(float)) == 0);
}
