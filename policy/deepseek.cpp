// The DeepSeek family (deepseek_v2, deepseek_v3): config fields and Multi-head Latent Attention.
// Per head h: q_h = [q_nope ; q_rope], k_h = [W_uk_h c_kv ; k_rope (shared)], v_h = W_uv_h c_kv,
// with [c_kv ; k_rope] = W_dkv x, c_kv rmsnorm'd, rope interleaved on the DR dims. The decode
// cache keeps c_kv and k_rope only; W_uk is absorbed into the query and W_uv into the output.

#include <cmath>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/check.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "policy/family.h"

namespace aha {

namespace {

// q_a_layernorm and kv_a_layernorm use RMSNorm's default eps in DeepSeek's code, whatever
// rms_norm_eps says.
constexpr float kLatentNormEps = 1e-6f;

void grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Config

void deepseek_config_read(const nlohmann::json& j, ModelConfig& c, const std::string& where) {
  for (const char* key : {"attention_bias", "sliding_window", "use_sliding_window"}) {
    auto it = j.find(key);
    if (it != j.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>()))
      config_fail(where, std::string("field '") + key + "' = " + it->dump() +
                             " changes the model's math and is not supported by aha");
  }
  config_read(j, "q_lora_rank", c.q_lora_rank, where);
  config_read(j, "kv_lora_rank", c.kv_lora_rank, where);
  config_read(j, "qk_nope_head_dim", c.qk_nope_head_dim, where);
  config_read(j, "qk_rope_head_dim", c.qk_rope_head_dim, where);
  config_read(j, "v_head_dim", c.v_head_dim, where);
  config_read(j, "moe_intermediate_size", c.moe_intermediate_size, where);
  config_read(j, "n_routed_experts", c.n_routed_experts, where);
  config_read(j, "n_shared_experts", c.n_shared_experts, where);
  config_read(j, "num_experts_per_tok", c.num_experts_per_tok, where);
  config_read(j, "first_k_dense_replace", c.first_k_dense_replace, where);
  config_read(j, "moe_layer_freq", c.moe_layer_freq, where);
  config_read(j, "n_group", c.n_group, where);
  config_read(j, "topk_group", c.topk_group, where);
  if (c.model_type == "deepseek_v2") {  // the V2 code's defaults
    c.scoring_func = "softmax";
    c.topk_method = "greedy";
    c.norm_topk_prob = false;
  }
  config_read(j, "scoring_func", c.scoring_func, where);
  config_read(j, "topk_method", c.topk_method, where);
  config_read(j, "norm_topk_prob", c.norm_topk_prob, where);
  config_read(j, "routed_scaling_factor", c.routed_scaling_factor, where);
  config_read(j, "rope_interleave", c.rope_interleave, where);
  config_read(j, "num_nextn_predict_layers", c.num_nextn_predict_layers, where);
}

void deepseek_config_validate(const ModelConfig& c, const std::string& where) {
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) config_fail(where, "invalid config: " + what);
  };
  need(c.num_key_value_heads == c.num_attention_heads,
       "num_key_value_heads must equal num_attention_heads for MLA");
  need(c.q_lora_rank >= 0, "q_lora_rank must be >= 0");
  need(c.kv_lora_rank > 0, "kv_lora_rank must be > 0");
  need(c.qk_nope_head_dim > 0, "qk_nope_head_dim must be > 0");
  need(c.qk_rope_head_dim > 0 && c.qk_rope_head_dim % 2 == 0,
       "qk_rope_head_dim must be positive and even");
  need(c.v_head_dim > 0, "v_head_dim must be > 0");
  need(c.moe_layer_freq >= 1, "moe_layer_freq must be >= 1");
  need(c.first_k_dense_replace >= 0, "first_k_dense_replace must be >= 0");
}

void deepseek_config_write(const ModelConfig& c, nlohmann::json& j) {
  j["architectures"] = {c.model_type == "deepseek_v2" ? "DeepseekV2ForCausalLM"
                                                      : "DeepseekV3ForCausalLM"};
  j["q_lora_rank"] = c.q_lora_rank > 0 ? nlohmann::json(c.q_lora_rank) : nlohmann::json(nullptr);
  j["kv_lora_rank"] = c.kv_lora_rank;
  j["qk_nope_head_dim"] = c.qk_nope_head_dim;
  j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  j["v_head_dim"] = c.v_head_dim;
  j["moe_intermediate_size"] = c.moe_intermediate_size;
  j["n_routed_experts"] = c.n_routed_experts;
  j["n_shared_experts"] = c.n_shared_experts;
  j["num_experts_per_tok"] = c.num_experts_per_tok;
  j["first_k_dense_replace"] = c.first_k_dense_replace;
  j["moe_layer_freq"] = c.moe_layer_freq;
  j["n_group"] = c.n_group;
  j["topk_group"] = c.topk_group;
  j["scoring_func"] = c.scoring_func;
  j["topk_method"] = c.topk_method;
  j["norm_topk_prob"] = c.norm_topk_prob;
  j["routed_scaling_factor"] = c.routed_scaling_factor;
  j["attention_bias"] = false;
  if (!c.rope_interleave) j["rope_interleave"] = false;
  j["num_nextn_predict_layers"] = 0;  // the MTP layers are not saved
}

// ----------------------------------------------------------------------------------------------
// Multi-head Latent Attention

void mla_add_specs(Model& m, const std::string& pre) {
  const ModelConfig& c = m.cfg;
  const int64_t C = c.hidden_size, NH = c.num_attention_heads, QR = c.q_lora_rank,
                R = c.kv_lora_rank, DN = c.qk_nope_head_dim, DR = c.qk_rope_head_dim,
                DV = c.v_head_dim;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    model_add_spec(m, pre + name, std::move(shape), true);
  };

  if (QR > 0) {
    add("self_attn.q_a_proj.weight", {QR, C});
    add("self_attn.q_a_layernorm.weight", {QR});
    add("self_attn.q_b_proj.weight", {NH * (DN + DR), QR});
  } else {
    add("self_attn.q_proj.weight", {NH * (DN + DR), C});
  }
  add("self_attn.kv_a_proj_with_mqa.weight", {R + DR, C});
  add("self_attn.kv_a_layernorm.weight", {R});
  add("self_attn.kv_b_proj.weight", {NH * (DN + DV), R});
  add("self_attn.o_proj.weight", {C, NH * DV});
}

float mla_softmax_scale(const ModelConfig& c) {
  float scale = 1.0f / std::sqrt(static_cast<float>(c.qk_nope_head_dim + c.qk_rope_head_dim));
  // DeepSeek's YaRN also sharpens the softmax by mscale(factor, mscale_all_dim)^2.
  const RopeScaling& s = c.rope_scaling;
  if (s.type == RopeType::kYarn && s.mscale_all_dim != 0) {
    const double ms = rope_yarn_mscale(s.factor, s.mscale_all_dim);
    scale = static_cast<float>(scale * ms * ms);
  }
  return scale;
}

void mla_inputs(const Model& m, int l, LayerActs& la, const int* positions, int N) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, QR = c.q_lora_rank, R = c.kv_lora_rank,
            DN = c.qk_nope_head_dim, DR = c.qk_rope_head_dim;
  const int DQK = DN + DR, KA = R + DR;
  const LayerParams& w = m.w.layers[l];
  const double* inv_freq = m.rope_inv_freq.data();
  const bool inter = c.rope_interleave;
  grow(la.q, static_cast<size_t>(N) * NH * DQK);
  if (QR > 0) {
    grow(la.q_a, static_cast<size_t>(N) * QR);
    grow(la.q_a_ln, static_cast<size_t>(N) * QR);
    grow(la.q_a_rstd, N);
    linear_forward(la.q_a.data(), la.ln1.data(), w.q_a_proj, N, C, QR);
    rmsnorm_forward(la.q_a_ln.data(), la.q_a_rstd.data(), la.q_a.data(), w.q_a_layernorm, N, QR,
                    kLatentNormEps);
    linear_forward(la.q.data(), la.q_a_ln.data(), w.q_b_proj, N, QR, NH * DQK);
  } else {
    linear_forward(la.q.data(), la.ln1.data(), w.q_proj, N, C, NH * DQK);
  }
  rope_forward(la.q.data() + DN, positions, N, NH, NH * DQK, DQK, DR, inv_freq, m.rope_attn_factor,
               inter);
  grow(la.kv_a, static_cast<size_t>(N) * KA);
  linear_forward(la.kv_a.data(), la.ln1.data(), w.kv_a_proj_with_mqa, N, C, KA);
  rope_forward(la.kv_a.data() + R, positions, N, 1, KA, 0, DR, inv_freq, m.rope_attn_factor, inter);
  // The latent part of each row, contiguous for the norm (kv_a keeps the raw latent for backward).
  std::vector<float> raw(static_cast<size_t>(N) * R);
  for (int n = 0; n < N; n++)
    std::memcpy(&raw[static_cast<size_t>(n) * R], &la.kv_a[static_cast<size_t>(n) * KA],
                R * sizeof(float));
  grow(la.ckv, static_cast<size_t>(N) * R);
  grow(la.ckv_rstd, N);
  rmsnorm_forward(la.ckv.data(), la.ckv_rstd.data(), raw.data(), w.kv_a_layernorm, N, R,
                  kLatentNormEps);
}

void mla_forward(const Model& m, int l, LayerActs& la, const int* seq_start, int B, int N,
                 float* out) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, R = c.kv_lora_rank,
            DN = c.qk_nope_head_dim, DR = c.qk_rope_head_dim, DV = c.v_head_dim;
  const int DQK = DN + DR, KVW = NH * (DN + DV);
  const LayerParams& w = m.w.layers[l];
  grow(la.kv, static_cast<size_t>(N) * KVW);
  linear_forward(la.kv.data(), la.ckv.data(), w.kv_b_proj, N, R, KVW);
  // Expand per head: k = [k_nope_h ; k_rope (shared)], v = v_h.
  grow(la.k, static_cast<size_t>(N) * NH * DQK);
  grow(la.v, static_cast<size_t>(N) * NH * DV);
  for (int n = 0; n < N; n++) {
    const float* kr = &la.kv_a[static_cast<size_t>(n) * (R + DR) + R];
    for (int h = 0; h < NH; h++) {
      const float* src = &la.kv[static_cast<size_t>(n) * KVW + h * (DN + DV)];
      float* kd = &la.k[(static_cast<size_t>(n) * NH + h) * DQK];
      std::memcpy(kd, src, DN * sizeof(float));
      std::memcpy(kd + DN, kr, DR * sizeof(float));
      std::memcpy(&la.v[(static_cast<size_t>(n) * NH + h) * DV], src + DN, DV * sizeof(float));
    }
  }
  grow(la.att, static_cast<size_t>(N) * NH * DV);
  grow(la.lse, static_cast<size_t>(N) * NH);
  attention_forward(la.att.data(), la.lse.data(), la.q.data(), la.k.data(), la.v.data(), seq_start,
                    B, NH, NH, DQK, DV, m.attn_scale);
  linear_forward(out, la.att.data(), w.o_proj, N, NH * DV, C);
}

void mla_backward(Model& m, int l, LayerActs& la, const int* positions, const int* seq_start, int B,
                  int N, const float* dout, float* dln) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, QR = c.q_lora_rank, R = c.kv_lora_rank,
            DN = c.qk_nope_head_dim, DR = c.qk_rope_head_dim, DV = c.v_head_dim;
  const int DQK = DN + DR, KVW = NH * (DN + DV), KA = R + DR;
  const LayerParams& w = m.w.layers[l];
  const LayerParams& g = m.g.layers[l];
  const double* inv_freq = m.rope_inv_freq.data();
  const bool inter = c.rope_interleave;
  std::vector<float> datt(static_cast<size_t>(N) * NH * DV, 0.0f);
  linear_backward(datt.data(), g.o_proj, dout, la.att.data(), w.o_proj, N, NH * DV, C);
  std::vector<float> dq(static_cast<size_t>(N) * NH * DQK, 0.0f);
  std::vector<float> dk(static_cast<size_t>(N) * NH * DQK, 0.0f);
  std::vector<float> dv(static_cast<size_t>(N) * NH * DV, 0.0f);
  attention_backward(dq.data(), dk.data(), dv.data(), datt.data(), la.att.data(), la.lse.data(),
                     la.q.data(), la.k.data(), la.v.data(), seq_start, B, NH, NH, DQK, DV,
                     m.attn_scale);
  // Un-expand: per-head k_nope and v go back to kv; the shared k_rope sums over heads.
  std::vector<float> dkv(static_cast<size_t>(N) * KVW);
  std::vector<float> dkv_a(static_cast<size_t>(N) * KA, 0.0f);
  for (int n = 0; n < N; n++) {
    float* dkr = &dkv_a[static_cast<size_t>(n) * KA + R];
    for (int h = 0; h < NH; h++) {
      float* dst = &dkv[static_cast<size_t>(n) * KVW + h * (DN + DV)];
      const float* dkh = &dk[(static_cast<size_t>(n) * NH + h) * DQK];
      std::memcpy(dst, dkh, DN * sizeof(float));
      std::memcpy(dst + DN, &dv[(static_cast<size_t>(n) * NH + h) * DV], DV * sizeof(float));
      for (int i = 0; i < DR; i++) dkr[i] += dkh[DN + i];
    }
  }
  rope_backward(dkv_a.data() + R, positions, N, 1, KA, 0, DR, inv_freq, m.rope_attn_factor, inter);
  std::vector<float> dckv(static_cast<size_t>(N) * R, 0.0f);
  linear_backward(dckv.data(), g.kv_b_proj, dkv.data(), la.ckv.data(), w.kv_b_proj, N, R, KVW);
  // The norm's input is the raw latent (kv_a before normalisation), kept in kv_a's first R.
  std::vector<float> ckv_raw(static_cast<size_t>(N) * R),
      dckv_raw(static_cast<size_t>(N) * R, 0.0f);
  for (int n = 0; n < N; n++)
    std::memcpy(&ckv_raw[static_cast<size_t>(n) * R], &la.kv_a[static_cast<size_t>(n) * KA],
                R * sizeof(float));
  rmsnorm_backward(dckv_raw.data(), g.kv_a_layernorm, dckv.data(), ckv_raw.data(), w.kv_a_layernorm,
                   la.ckv_rstd.data(), N, R);
  for (int n = 0; n < N; n++)
    for (int i = 0; i < R; i++)
      dkv_a[static_cast<size_t>(n) * KA + i] = dckv_raw[static_cast<size_t>(n) * R + i];
  linear_backward(dln, g.kv_a_proj_with_mqa, dkv_a.data(), la.ln1.data(), w.kv_a_proj_with_mqa, N,
                  C, KA);
  rope_backward(dq.data() + DN, positions, N, NH, NH * DQK, DQK, DR, inv_freq, m.rope_attn_factor,
                inter);
  if (QR > 0) {
    std::vector<float> dqa_ln(static_cast<size_t>(N) * QR, 0.0f),
        dqa(static_cast<size_t>(N) * QR, 0.0f);
    linear_backward(dqa_ln.data(), g.q_b_proj, dq.data(), la.q_a_ln.data(), w.q_b_proj, N, QR,
                    NH * DQK);
    rmsnorm_backward(dqa.data(), g.q_a_layernorm, dqa_ln.data(), la.q_a.data(), w.q_a_layernorm,
                     la.q_a_rstd.data(), N, QR);
    linear_backward(dln, g.q_a_proj, dqa.data(), la.ln1.data(), w.q_a_proj, N, C, QR);
  } else {
    linear_backward(dln, g.q_proj, dq.data(), la.ln1.data(), w.q_proj, N, C, NH * DQK);
  }
}

void mla_cache_write(const Model& m, KvCache& cache, int l, const LayerActs& la, const int* rows,
                     int N) {
  const int R = m.cfg.kv_lora_rank, DR = m.cfg.qk_rope_head_dim, W = R + DR;
  AHA_CHECK(cache.W == W, "cache rows are not MLA latents of this model");
  float* base = cache_layer(cache, l);
  for (int n = 0; n < N; n++) {
    AHA_CHECK(rows[n] >= 0 && rows[n] < cache.num_rows, "cache row out of range");
    float* dst = base + static_cast<size_t>(rows[n]) * W;
    std::memcpy(dst, &la.ckv[static_cast<size_t>(n) * R], R * sizeof(float));
    std::memcpy(dst + R, &la.kv_a[static_cast<size_t>(n) * W + R], DR * sizeof(float));
  }
}

void mla_decode(const Model& m, int l, const LayerActs& la, DecodeScratch& s, KvCache& cache,
                const int* ctx_rows, const int* ctx_start, int B, float* out) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, R = c.kv_lora_rank,
            DR = c.qk_rope_head_dim, DN = c.qk_nope_head_dim, DV = c.v_head_dim;
  const int DQK = DN + DR;
  const LayerParams& w = m.w.layers[l];
  s.q_lat.resize(static_cast<size_t>(B) * NH * R);
  s.q_rope.resize(static_cast<size_t>(B) * NH * DR);
  s.out_lat.resize(static_cast<size_t>(B) * NH * R);
  s.att.resize(static_cast<size_t>(B) * NH * DV);
  // Absorb W_uk into the query: q_lat[b,h] = W_uk_hᵀ q_nope[b,h], W_uk_h = kv_b rows of head h.
  for (int h = 0; h < NH; h++) {
    const float* wuk = w.kv_b_proj + static_cast<size_t>(h) * (DN + DV) * R;  // [DN, R]
    sgemm(false, false, B, R, DN, 1.0f, la.q.data() + static_cast<size_t>(h) * DQK, NH * DQK, wuk,
          R, 0.0f, s.q_lat.data() + static_cast<size_t>(h) * R, NH * R);
    for (int b = 0; b < B; b++)
      std::memcpy(&s.q_rope[(static_cast<size_t>(b) * NH + h) * DR],
                  &la.q[(static_cast<size_t>(b) * NH + h) * DQK + DN], DR * sizeof(float));
  }
  mla_decode_attention(s.out_lat.data(), s.q_lat.data(), s.q_rope.data(), cache_layer(cache, l),
                       ctx_rows, ctx_start, B, NH, R, DR, m.attn_scale);
  // Absorb W_uv into the output: att[b,h] = W_uv_h out_lat[b,h], W_uv_h [DV, R].
  for (int h = 0; h < NH; h++) {
    const float* wuv = w.kv_b_proj + (static_cast<size_t>(h) * (DN + DV) + DN) * R;
    sgemm(false, true, B, DV, R, 1.0f, s.out_lat.data() + static_cast<size_t>(h) * R, NH * R, wuv,
          R, 0.0f, s.att.data() + static_cast<size_t>(h) * DV, NH * DV);
  }
  linear_forward(out, s.att.data(), w.o_proj, B, NH * DV, C);
}

}  // namespace aha
