// The Qwen family (qwen2, qwen3, qwen3_moe): config fields and grouped-query attention.
// q = W_q x (+b), k = W_k x (+b), v = W_v x (+b) over NH query and NKV key/value heads of HD
// dims; qwen3* rmsnorms each q and k head (q_norm, k_norm over HD) before a rotate-half rope on
// all HD dims. The decode cache keeps k (rope applied) and v of the NKV heads.
#include <cmath>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/check.h"
#include "kernels/linear.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "policy/family.h"

namespace aha {

namespace {

void grow(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Config

void qwen_config_read(const nlohmann::json& j, ModelConfig& c, const std::string& where) {
  auto refuse = [&](const char* key, const nlohmann::json& v) {
    config_fail(where, std::string("field '") + key + "' = " + v.dump() +
                           " changes the model's math and is not supported by aha");
  };
  if (j.contains("use_sliding_window") && j["use_sliding_window"].is_boolean() &&
      j["use_sliding_window"].get<bool>())
    refuse("use_sliding_window", j["use_sliding_window"]);
  if (j.contains("layer_types") && j["layer_types"].is_array())
    for (const auto& t : j["layer_types"])
      if (t != "full_attention") refuse("layer_types", t);
  if (j.contains("partial_rotary_factor") && j["partial_rotary_factor"].is_number() &&
      j["partial_rotary_factor"].get<double>() != 1.0)
    refuse("partial_rotary_factor", j["partial_rotary_factor"]);
  c.rope_interleave = false;
  // transformers' defaults when head_dim is absent: 128 for Qwen3, hidden / heads otherwise.
  if (c.model_type == "qwen3")
    c.head_dim = 128;
  else
    c.head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
  config_read(j, "head_dim", c.head_dim, where);
  if (c.model_type == "qwen2") {
    c.qkv_bias = true;  // Qwen2's q/k/v projections always carry biases, o_proj never
  } else {
    c.qk_norm = true;
    bool bias = false;
    config_read(j, "attention_bias", bias, where);
    c.qkv_bias = c.o_bias = bias;
  }
  c.n_shared_experts = 0;
  c.n_group = c.topk_group = 1;
  c.scoring_func = "softmax";
  c.topk_method = "greedy";
  c.routed_scaling_factor = 1.0f;
  c.norm_topk_prob = false;  // Qwen3MoeConfig's default
  c.n_routed_experts = 0;
  if (c.model_type != "qwen3_moe") return;
  config_read(j, "num_experts", c.n_routed_experts, where);
  config_read(j, "num_experts_per_tok", c.num_experts_per_tok, where);
  config_read(j, "moe_intermediate_size", c.moe_intermediate_size, where);
  config_read(j, "decoder_sparse_step", c.decoder_sparse_step, where);
  config_read(j, "mlp_only_layers", c.mlp_only_layers, where);
  config_read(j, "norm_topk_prob", c.norm_topk_prob, where);
}

void qwen_config_validate(const ModelConfig& c, const std::string& where) {
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) config_fail(where, "invalid config: " + what);
  };
  need(c.head_dim > 0 && c.head_dim % 2 == 0, "head_dim must be positive and even");
  need(c.decoder_sparse_step >= 1, "decoder_sparse_step must be >= 1");
  need(c.n_shared_experts == 0, "Qwen MoE layers have no shared experts");
  need(c.scoring_func == "softmax" && c.n_group == 1, "Qwen routers are softmax top-k");
  for (int l : c.mlp_only_layers)
    need(l >= 0 && l < c.num_hidden_layers, "mlp_only_layers lists a layer that does not exist");
}

void qwen_config_write(const ModelConfig& c, nlohmann::json& j) {
  const char* arch = c.model_type == "qwen2"   ? "Qwen2ForCausalLM"
                     : c.model_type == "qwen3" ? "Qwen3ForCausalLM"
                                               : "Qwen3MoeForCausalLM";
  j["architectures"] = {arch};
  j["head_dim"] = c.head_dim;
  if (c.model_type != "qwen2") j["attention_bias"] = c.o_bias;
  j["use_sliding_window"] = false;
  j["sliding_window"] = nullptr;
  if (c.model_type != "qwen3_moe") return;
  j["num_experts"] = c.n_routed_experts;
  j["num_experts_per_tok"] = c.num_experts_per_tok;
  j["moe_intermediate_size"] = c.moe_intermediate_size;
  j["decoder_sparse_step"] = c.decoder_sparse_step;
  j["mlp_only_layers"] = c.mlp_only_layers;
  j["norm_topk_prob"] = c.norm_topk_prob;
}

// ----------------------------------------------------------------------------------------------
// Grouped-query attention

void gqa_add_specs(Model& m, const std::string& pre) {
  const ModelConfig& c = m.cfg;
  const int64_t C = c.hidden_size, NH = c.num_attention_heads, NKV = c.num_key_value_heads,
                HD = c.head_dim;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    model_add_spec(m, pre + name, std::move(shape), true);
  };

  add("self_attn.q_proj.weight", {NH * HD, C});
  if (c.qkv_bias) add("self_attn.q_proj.bias", {NH * HD});
  add("self_attn.k_proj.weight", {NKV * HD, C});
  if (c.qkv_bias) add("self_attn.k_proj.bias", {NKV * HD});
  add("self_attn.v_proj.weight", {NKV * HD, C});
  if (c.qkv_bias) add("self_attn.v_proj.bias", {NKV * HD});
  add("self_attn.o_proj.weight", {C, NH * HD});
  if (c.o_bias) add("self_attn.o_proj.bias", {C});
  if (c.qk_norm) {
    add("self_attn.q_norm.weight", {HD});
    add("self_attn.k_norm.weight", {HD});
  }
}

float gqa_softmax_scale(const ModelConfig& c) {
  return 1.0f / std::sqrt(static_cast<float>(c.head_dim));
}

void gqa_inputs(const Model& m, int l, LayerActs& la, const int* positions, int N) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, NKV = c.num_key_value_heads,
            HD = c.head_dim;
  const LayerParams& w = m.w.layers[l];
  grow(la.q, static_cast<size_t>(N) * NH * HD);
  grow(la.k, static_cast<size_t>(N) * NKV * HD);
  grow(la.v, static_cast<size_t>(N) * NKV * HD);
  // With QK-norm the projections land in q_raw/k_raw (kept for the norm's backward).
  float* q = la.q.data();
  float* k = la.k.data();
  if (c.qk_norm) {
    grow(la.q_raw, static_cast<size_t>(N) * NH * HD);
    grow(la.k_raw, static_cast<size_t>(N) * NKV * HD);
    q = la.q_raw.data();
    k = la.k_raw.data();
  }
  linear_forward(q, la.ln1.data(), w.q_proj, N, C, NH * HD);
  linear_forward(k, la.ln1.data(), w.k_proj, N, C, NKV * HD);
  linear_forward(la.v.data(), la.ln1.data(), w.v_proj, N, C, NKV * HD);
  if (c.qkv_bias) {
    bias_forward(q, w.q_bias, N, NH * HD);
    bias_forward(k, w.k_bias, N, NKV * HD);
    bias_forward(la.v.data(), w.v_bias, N, NKV * HD);
  }
  if (c.qk_norm) {
    grow(la.q_rstd, static_cast<size_t>(N) * NH);
    grow(la.k_rstd, static_cast<size_t>(N) * NKV);
    rmsnorm_forward(la.q.data(), la.q_rstd.data(), q, w.q_norm, N * NH, HD, c.rms_norm_eps);
    rmsnorm_forward(la.k.data(), la.k_rstd.data(), k, w.k_norm, N * NKV, HD, c.rms_norm_eps);
  }
  const double* inv_freq = m.rope_inv_freq.data();
  rope_forward(la.q.data(), positions, N, NH, NH * HD, HD, HD, inv_freq, m.rope_attn_factor,
               c.rope_interleave);
  rope_forward(la.k.data(), positions, N, NKV, NKV * HD, HD, HD, inv_freq, m.rope_attn_factor,
               c.rope_interleave);
}

void gqa_forward(const Model& m, int l, LayerActs& la, const int* seq_start, int B, int N,
                 float* out) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, NKV = c.num_key_value_heads,
            HD = c.head_dim;
  const LayerParams& w = m.w.layers[l];
  grow(la.att, static_cast<size_t>(N) * NH * HD);
  grow(la.lse, static_cast<size_t>(N) * NH);
  attention_forward(la.att.data(), la.lse.data(), la.q.data(), la.k.data(), la.v.data(), seq_start,
                    B, NH, NKV, HD, HD, m.attn_scale);
  linear_forward(out, la.att.data(), w.o_proj, N, NH * HD, C);
  if (c.o_bias) bias_forward(out, w.o_bias, N, C);
}

void gqa_backward(Model& m, int l, LayerActs& la, const int* positions, const int* seq_start, int B,
                  int N, const float* dout, float* dln) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, NKV = c.num_key_value_heads,
            HD = c.head_dim;
  const LayerParams& w = m.w.layers[l];
  const LayerParams& g = m.g.layers[l];
  const size_t nq = static_cast<size_t>(N) * NH * HD, nk = static_cast<size_t>(N) * NKV * HD;
  if (c.o_bias) bias_backward(g.o_bias, dout, N, C);
  std::vector<float> datt(nq, 0.0f);
  linear_backward(datt.data(), g.o_proj, dout, la.att.data(), w.o_proj, N, NH * HD, C);
  std::vector<float> dq(nq, 0.0f), dk(nk, 0.0f), dv(nk, 0.0f);
  attention_backward(dq.data(), dk.data(), dv.data(), datt.data(), la.att.data(), la.lse.data(),
                     la.q.data(), la.k.data(), la.v.data(), seq_start, B, NH, NKV, HD, HD,
                     m.attn_scale);
  const double* inv_freq = m.rope_inv_freq.data();
  rope_backward(dq.data(), positions, N, NH, NH * HD, HD, HD, inv_freq, m.rope_attn_factor,
                c.rope_interleave);
  rope_backward(dk.data(), positions, N, NKV, NKV * HD, HD, HD, inv_freq, m.rope_attn_factor,
                c.rope_interleave);
  std::vector<float> dq_raw, dk_raw;
  if (c.qk_norm) {
    dq_raw.assign(nq, 0.0f);
    dk_raw.assign(nk, 0.0f);
    rmsnorm_backward(dq_raw.data(), g.q_norm, dq.data(), la.q_raw.data(), w.q_norm,
                     la.q_rstd.data(), N * NH, HD);
    rmsnorm_backward(dk_raw.data(), g.k_norm, dk.data(), la.k_raw.data(), w.k_norm,
                     la.k_rstd.data(), N * NKV, HD);
  } else {
    dq_raw.swap(dq);
    dk_raw.swap(dk);
  }
  if (c.qkv_bias) {
    bias_backward(g.q_bias, dq_raw.data(), N, NH * HD);
    bias_backward(g.k_bias, dk_raw.data(), N, NKV * HD);
    bias_backward(g.v_bias, dv.data(), N, NKV * HD);
  }
  linear_backward(dln, g.q_proj, dq_raw.data(), la.ln1.data(), w.q_proj, N, C, NH * HD);
  linear_backward(dln, g.k_proj, dk_raw.data(), la.ln1.data(), w.k_proj, N, C, NKV * HD);
  linear_backward(dln, g.v_proj, dv.data(), la.ln1.data(), w.v_proj, N, C, NKV * HD);
}

void gqa_cache_write(const Model& m, KvCache& cache, int l, const LayerActs& la, const int* rows,
                     int N) {
  const int KW = m.cfg.num_key_value_heads * m.cfg.head_dim, W = 2 * KW;
  AHA_CHECK(cache.W == W, "cache rows are not the k/v heads of this model");
  float* base = cache_layer(cache, l);
  for (int n = 0; n < N; n++) {
    AHA_CHECK(rows[n] >= 0 && rows[n] < cache.num_rows, "cache row out of range");
    float* dst = base + static_cast<size_t>(rows[n]) * W;
    std::memcpy(dst, &la.k[static_cast<size_t>(n) * KW], KW * sizeof(float));
    std::memcpy(dst + KW, &la.v[static_cast<size_t>(n) * KW], KW * sizeof(float));
  }
}

void gqa_decode(const Model& m, int l, const LayerActs& la, DecodeScratch& s, KvCache& cache,
                const int* ctx_rows, const int* ctx_start, int B, float* out) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, NKV = c.num_key_value_heads,
            HD = c.head_dim;
  const LayerParams& w = m.w.layers[l];
  s.att.resize(static_cast<size_t>(B) * NH * HD);
  gqa_decode_attention(s.att.data(), la.q.data(), cache_layer(cache, l), ctx_rows, ctx_start, B, NH,
                       NKV, HD, m.attn_scale);
  linear_forward(out, s.att.data(), w.o_proj, B, NH * HD, C);
  if (c.o_bias) bias_forward(out, w.o_bias, B, C);
}

}  // namespace aha
