// The Qwen family (qwen2, qwen3, qwen3_moe): config fields and grouped-query attention.
// q = W_q x (+b), k = W_k x (+b), v = W_v x (+b) over NH query and NKV key/value heads of HD
// dims; qwen3* rmsnorms each q and k head (q_norm, k_norm over HD) before a rotate-half rope on
// all HD dims. The decode cache keeps k (rope applied) and v of the NKV heads.
#include <cmath>
#include <cstring>

#include "kernels/check.h"
#include "kernels/ops.h"
#include "policy/family.h"

namespace aha {

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

namespace {

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

int gqa_cache_row_width(const ModelConfig& c) {
  return 2 * c.num_key_value_heads * c.head_dim;
}

void gqa_plan_acts(const ModelConfig& c, LayerActs& la, ArenaPlan& p, int N) {
  const size_t n = N, NH = c.num_attention_heads, NKV = c.num_key_value_heads, HD = c.head_dim;
  const size_t norm = c.qk_norm ? 1 : 0;
  p.take(la.q, n * NH * HD);
  p.take(la.k, n * NKV * HD);
  p.take(la.v, n * NKV * HD);
  // With QK-norm the projections land in q_raw/k_raw (kept for the norm's backward).
  p.take(la.q_raw, norm * n * NH * HD);
  p.take(la.k_raw, norm * n * NKV * HD);
  p.take(la.q_rstd, norm * n * NH);
  p.take(la.k_rstd, norm * n * NKV);
  p.take(la.att, n * NH * HD);
  p.take(la.lse, n * NH);
}

void gqa_plan_grads(const ModelConfig& c, GradScratch& g, ArenaPlan& p, int N) {
  const size_t n = N, NH = c.num_attention_heads, NKV = c.num_key_value_heads, HD = c.head_dim;
  const size_t norm = c.qk_norm ? 1 : 0;
  p.take(g.datt, n * NH * HD);
  p.take(g.dq, n * NH * HD);
  p.take(g.dk, n * NKV * HD);
  p.take(g.dv, n * NKV * HD);
  p.take(g.dq_raw, norm * n * NH * HD);
  p.take(g.dk_raw, norm * n * NKV * HD);
}

void gqa_plan_decode(const ModelConfig& c, DecodeScratch& s, ArenaPlan& p, int B) {
  p.take(s.att, static_cast<size_t>(B) * c.num_attention_heads * c.head_dim);
}

void gqa_inputs(const Model& m, int l, LayerActs& la, const int* positions, int N) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int C = c.hidden_size, NH = c.num_attention_heads, NKV = c.num_key_value_heads,
            HD = c.head_dim;
  const LayerParams& w = m.w.layers[l];
  float* q = c.qk_norm ? la.q_raw.data() : la.q.data();
  float* k = c.qk_norm ? la.k_raw.data() : la.k.data();
  linear_forward(ctx, q, la.ln1.data(), w.q_proj, N, C, NH * HD);
  linear_forward(ctx, k, la.ln1.data(), w.k_proj, N, C, NKV * HD);
  linear_forward(ctx, la.v.data(), la.ln1.data(), w.v_proj, N, C, NKV * HD);
  if (c.qkv_bias) {
    bias_forward(ctx, q, w.q_bias, N, NH * HD);
    bias_forward(ctx, k, w.k_bias, N, NKV * HD);
    bias_forward(ctx, la.v.data(), w.v_bias, N, NKV * HD);
  }
  if (c.qk_norm) {
    rmsnorm_forward(ctx, la.q.data(), la.q_rstd.data(), q, w.q_norm, N * NH, HD, c.rms_norm_eps);
    rmsnorm_forward(ctx, la.k.data(), la.k_rstd.data(), k, w.k_norm, N * NKV, HD, c.rms_norm_eps);
  }
  const double* inv_freq = m.rope_inv_freq.data();
  rope_forward(ctx, la.q.data(), positions, N, NH, NH * HD, HD, HD, inv_freq, m.rope_attn_factor,
               c.rope_interleave);
  rope_forward(ctx, la.k.data(), positions, N, NKV, NKV * HD, HD, HD, inv_freq, m.rope_attn_factor,
               c.rope_interleave);
}

void gqa_forward(const Model& m, int l, LayerActs& la, const int* seq_start, int B, int N,
                 float* out) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int C = c.hidden_size, NH = c.num_attention_heads, NKV = c.num_key_value_heads,
            HD = c.head_dim;
  const LayerParams& w = m.w.layers[l];
  attention_forward(ctx, la.att.data(), la.lse.data(), la.q.data(), la.k.data(), la.v.data(),
                    seq_start, B, N, NH, NKV, HD, HD, m.attn_scale);
  linear_forward(ctx, out, la.att.data(), w.o_proj, N, NH * HD, C);
  if (c.o_bias) bias_forward(ctx, out, w.o_bias, N, C);
}

void gqa_backward(Model& m, int l, LayerActs& la, GradScratch& gs, const int* positions,
                  const int* seq_start, int B, int N, const float* dout, float* dln) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int C = c.hidden_size, NH = c.num_attention_heads, NKV = c.num_key_value_heads,
            HD = c.head_dim;
  const LayerParams& w = m.w.layers[l];
  const LayerParams& g = m.g.layers[l];
  const long nq = static_cast<long>(N) * NH * HD, nk = static_cast<long>(N) * NKV * HD;
  float* datt = gs.datt.data();
  float* dq = gs.dq.data();
  float* dk = gs.dk.data();
  float* dv = gs.dv.data();
  if (c.o_bias) bias_backward(ctx, g.o_bias, dout, N, C);
  zero(ctx, datt, nq);
  linear_backward(ctx, datt, g.o_proj, dout, la.att.data(), w.o_proj, N, NH * HD, C);
  zero(ctx, dq, nq);
  zero(ctx, dk, nk);
  zero(ctx, dv, nk);
  attention_backward(ctx, dq, dk, dv, datt, la.att.data(), la.lse.data(), la.q.data(), la.k.data(),
                     la.v.data(), seq_start, B, N, NH, NKV, HD, HD, m.attn_scale);
  const double* inv_freq = m.rope_inv_freq.data();
  rope_backward(ctx, dq, positions, N, NH, NH * HD, HD, HD, inv_freq, m.rope_attn_factor,
                c.rope_interleave);
  rope_backward(ctx, dk, positions, N, NKV, NKV * HD, HD, HD, inv_freq, m.rope_attn_factor,
                c.rope_interleave);
  float* dq_raw = dq;
  float* dk_raw = dk;
  if (c.qk_norm) {
    dq_raw = gs.dq_raw.data();
    dk_raw = gs.dk_raw.data();
    zero(ctx, dq_raw, nq);
    zero(ctx, dk_raw, nk);
    rmsnorm_backward(ctx, dq_raw, g.q_norm, dq, la.q_raw.data(), w.q_norm, la.q_rstd.data(), N * NH,
                     HD);
    rmsnorm_backward(ctx, dk_raw, g.k_norm, dk, la.k_raw.data(), w.k_norm, la.k_rstd.data(),
                     N * NKV, HD);
  }
  if (c.qkv_bias) {
    bias_backward(ctx, g.q_bias, dq_raw, N, NH * HD);
    bias_backward(ctx, g.k_bias, dk_raw, N, NKV * HD);
    bias_backward(ctx, g.v_bias, dv, N, NKV * HD);
  }
  linear_backward(ctx, dln, g.q_proj, dq_raw, la.ln1.data(), w.q_proj, N, C, NH * HD);
  linear_backward(ctx, dln, g.k_proj, dk_raw, la.ln1.data(), w.k_proj, N, C, NKV * HD);
  linear_backward(ctx, dln, g.v_proj, dv, la.ln1.data(), w.v_proj, N, C, NKV * HD);
}

void gqa_cache_write(const Model& m, KvCache& cache, int l, const LayerActs& la, const int* rows,
                     int N) {
  const int KW = m.cfg.num_key_value_heads * m.cfg.head_dim, W = 2 * KW;
  AHA_CHECK(cache.W == W, "cache rows are not the k/v heads of this model");
  void* base = cache_layer(cache, l);
  cache_write_rows(m.ctx, base, W, 0, rows, cache.num_rows, la.k.data(), KW, N, KW);
  cache_write_rows(m.ctx, base, W, KW, rows, cache.num_rows, la.v.data(), KW, N, KW);
}

// Our GQA decode kernel needs no schedule and reads the indices on the device.
bool gqa_decode_plan(const Model&, const int*, const int*, int, DecodeLaunchKey* key) {
  *key = DecodeLaunchKey{};
  return true;
}

void gqa_decode(const Model& m, int l, const LayerActs& la, DecodeScratch& s, KvCache& cache,
                const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
                float* out) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int C = c.hidden_size, NH = c.num_attention_heads, NKV = c.num_key_value_heads,
            HD = c.head_dim;
  const LayerParams& w = m.w.layers[l];
  gqa_decode_attention(ctx, s.att.data(), la.q.data(), cache_layer(cache, l), kPageTokens,
                       page_indptr, page_ids, seq_lens, B, NH, NKV, HD, m.attn_scale);
  linear_forward(ctx, out, s.att.data(), w.o_proj, B, NH * HD, C);
  if (c.o_bias) bias_forward(ctx, out, w.o_bias, B, C);
}

}  // namespace

const AttentionOps kGqaOps = {
    "gqa",          gqa_add_specs,   gqa_softmax_scale, gqa_cache_row_width, gqa_plan_acts,
    gqa_plan_grads, gqa_inputs,      gqa_forward,       gqa_backward,        gqa_cache_write,
    gqa_decode,     gqa_plan_decode, gqa_decode_plan,
};

}  // namespace aha
