// The DeepSeek family (deepseek_v2, deepseek_v3): config fields and Multi-head Latent Attention.
// Per head h: q_h = [q_nope ; q_rope], k_h = [W_uk_h c_kv ; k_rope (shared)], v_h = W_uv_h c_kv,
// with [c_kv ; k_rope] = W_dkv x, c_kv rmsnorm'd, rope interleaved on the DR dims. The decode
// cache keeps c_kv and k_rope only; W_uk is absorbed into the query and W_uv into the output.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/check.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "policy/family.h"

namespace aha {

namespace {

// q_a_layernorm and kv_a_layernorm use RMSNorm's default eps in DeepSeek's code, whatever
// rms_norm_eps says.
constexpr float kLatentNormEps = 1e-6f;

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

namespace {

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

// In the batch-invariant mode a row also keeps the token's expanded per-head keys [NH, DN + DR]
// and values [NH, DV], computed once when it is written (mla_expanded_rows).
int mla_cache_row_width(const ModelConfig& c) {
  const int latent = c.kv_lora_rank + c.qk_rope_head_dim;
  if (!gemm_batch_invariant()) return latent;
  const int NH = c.num_attention_heads;
  return latent + NH * (c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim);
}

void mla_plan_acts(const ModelConfig& c, LayerActs& la, ArenaPlan& p, int N) {
  const size_t n = N, NH = c.num_attention_heads, QR = c.q_lora_rank, R = c.kv_lora_rank,
               DN = c.qk_nope_head_dim, DR = c.qk_rope_head_dim, DV = c.v_head_dim;
  p.take(la.q_a, n * QR);
  p.take(la.q_a_ln, n * QR);
  p.take(la.q_a_rstd, QR > 0 ? n : 0);
  p.take(la.q, n * NH * (DN + DR));
  p.take(la.kv_a, n * (R + DR));
  p.take(la.ckv_raw, n * R);
  p.take(la.ckv, n * R);
  p.take(la.ckv_rstd, n);
  p.take(la.kv, n * NH * (DN + DV));
  p.take(la.k, n * NH * (DN + DR));
  p.take(la.v, n * NH * DV);
  p.take(la.att, n * NH * DV);
  p.take(la.lse, n * NH);
}

void mla_plan_grads(const ModelConfig& c, GradScratch& g, ArenaPlan& p, int N) {
  const size_t n = N, NH = c.num_attention_heads, QR = c.q_lora_rank, R = c.kv_lora_rank,
               DN = c.qk_nope_head_dim, DR = c.qk_rope_head_dim, DV = c.v_head_dim;
  p.take(g.datt, n * NH * DV);
  p.take(g.dq, n * NH * (DN + DR));
  p.take(g.dk, n * NH * (DN + DR));
  p.take(g.dv, n * NH * DV);
  p.take(g.dkv, n * NH * (DN + DV));
  p.take(g.dkv_a, n * (R + DR));
  p.take(g.dckv, n * R);
  p.take(g.dckv_raw, n * R);
  p.take(g.dq_a_ln, n * QR);
  p.take(g.dq_a, n * QR);
}

void mla_plan_decode(const ModelConfig& c, DecodeScratch& s, ArenaPlan& p, int B) {
  const size_t b = B, NH = c.num_attention_heads, R = c.kv_lora_rank, DR = c.qk_rope_head_dim,
               DV = c.v_head_dim;
  p.take(s.q_lat, b * NH * R);
  p.take(s.q_rope, b * NH * DR);
  p.take(s.out_lat, b * NH * R);
  p.take(s.att, b * NH * DV);
}

void mla_inputs(const Model& m, int l, LayerActs& la, const int* positions, int N) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int C = c.hidden_size, NH = c.num_attention_heads, QR = c.q_lora_rank, R = c.kv_lora_rank,
            DN = c.qk_nope_head_dim, DR = c.qk_rope_head_dim;
  const int DQK = DN + DR, KA = R + DR;
  const LayerParams& w = m.w.layers[l];
  const double* inv_freq = m.rope_inv_freq.data();
  const bool inter = c.rope_interleave;
  if (QR > 0) {
    linear_forward(ctx, la.q_a.data(), la.ln1.data(), w.q_a_proj, N, C, QR);
    rmsnorm_forward(ctx, la.q_a_ln.data(), la.q_a_rstd.data(), la.q_a.data(), w.q_a_layernorm, N,
                    QR, kLatentNormEps);
    linear_forward(ctx, la.q.data(), la.q_a_ln.data(), w.q_b_proj, N, QR, NH * DQK);
  } else {
    linear_forward(ctx, la.q.data(), la.ln1.data(), w.q_proj, N, C, NH * DQK);
  }
  rope_forward(ctx, la.q.data() + DN, positions, N, NH, NH * DQK, DQK, DR, inv_freq,
               m.rope_attn_factor, inter);
  linear_forward(ctx, la.kv_a.data(), la.ln1.data(), w.kv_a_proj_with_mqa, N, C, KA);
  rope_forward(ctx, la.kv_a.data() + R, positions, N, 1, KA, 0, DR, inv_freq, m.rope_attn_factor,
               inter);
  // The latent part of each row, contiguous for the norm (and kept for its backward).
  copy_rows(ctx, la.ckv_raw.data(), R, la.kv_a.data(), KA, N, R);
  rmsnorm_forward(ctx, la.ckv.data(), la.ckv_rstd.data(), la.ckv_raw.data(), w.kv_a_layernorm, N, R,
                  kLatentNormEps);
}

void mla_forward(const Model& m, int l, LayerActs& la, const int* seq_start, int B, int N,
                 float* out) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int C = c.hidden_size, NH = c.num_attention_heads, R = c.kv_lora_rank,
            DN = c.qk_nope_head_dim, DR = c.qk_rope_head_dim, DV = c.v_head_dim;
  const int DQK = DN + DR, KVW = NH * (DN + DV);
  const LayerParams& w = m.w.layers[l];
  linear_forward(ctx, la.kv.data(), la.ckv.data(), w.kv_b_proj, N, R, KVW);
  // Expand per head: k = [k_nope_h ; k_rope (shared)], v = v_h.
  mla_expand_kv(ctx, la.k.data(), la.v.data(), la.kv.data(), la.kv_a.data(), N, NH, DN, DR, DV, R);
  attention_forward(ctx, la.att.data(), la.lse.data(), la.q.data(), la.k.data(), la.v.data(),
                    seq_start, B, N, NH, NH, DQK, DV, m.attn_scale);
  linear_forward(ctx, out, la.att.data(), w.o_proj, N, NH * DV, C);
}

void mla_backward(Model& m, int l, LayerActs& la, GradScratch& gs, const int* positions,
                  const int* seq_start, int B, int N, const float* dout, float* dln) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int C = c.hidden_size, NH = c.num_attention_heads, QR = c.q_lora_rank, R = c.kv_lora_rank,
            DN = c.qk_nope_head_dim, DR = c.qk_rope_head_dim, DV = c.v_head_dim;
  const int DQK = DN + DR, KVW = NH * (DN + DV), KA = R + DR;
  const long n = N;
  const LayerParams& w = m.w.layers[l];
  const LayerParams& g = m.g.layers[l];
  const double* inv_freq = m.rope_inv_freq.data();
  const bool inter = c.rope_interleave;
  float* datt = gs.datt.data();
  float* dq = gs.dq.data();
  float* dk = gs.dk.data();
  float* dv = gs.dv.data();
  zero(ctx, datt, n * NH * DV);
  linear_backward(ctx, datt, g.o_proj, dout, la.att.data(), w.o_proj, N, NH * DV, C);
  zero(ctx, dq, n * NH * DQK);
  zero(ctx, dk, n * NH * DQK);
  zero(ctx, dv, n * NH * DV);
  attention_backward(ctx, dq, dk, dv, datt, la.att.data(), la.lse.data(), la.q.data(), la.k.data(),
                     la.v.data(), seq_start, B, N, NH, NH, DQK, DV, m.attn_scale);
  // Un-expand: per-head k_nope and v go back to kv; the shared k_rope sums over heads.
  zero(ctx, gs.dkv_a.data(), n * KA);
  mla_expand_kv_backward(ctx, gs.dkv.data(), gs.dkv_a.data(), dk, dv, N, NH, DN, DR, DV, R);
  rope_backward(ctx, gs.dkv_a.data() + R, positions, N, 1, KA, 0, DR, inv_freq, m.rope_attn_factor,
                inter);
  zero(ctx, gs.dckv.data(), n * R);
  linear_backward(ctx, gs.dckv.data(), g.kv_b_proj, gs.dkv.data(), la.ckv.data(), w.kv_b_proj, N, R,
                  KVW);
  // The norm's input is the raw latent; its gradient goes to kv_a's first R of each row.
  zero(ctx, gs.dckv_raw.data(), n * R);
  rmsnorm_backward(ctx, gs.dckv_raw.data(), g.kv_a_layernorm, gs.dckv.data(), la.ckv_raw.data(),
                   w.kv_a_layernorm, la.ckv_rstd.data(), N, R);
  copy_rows(ctx, gs.dkv_a.data(), KA, gs.dckv_raw.data(), R, N, R);
  linear_backward(ctx, dln, g.kv_a_proj_with_mqa, gs.dkv_a.data(), la.ln1.data(),
                  w.kv_a_proj_with_mqa, N, C, KA);
  rope_backward(ctx, dq + DN, positions, N, NH, NH * DQK, DQK, DR, inv_freq, m.rope_attn_factor,
                inter);
  if (QR > 0) {
    zero(ctx, gs.dq_a_ln.data(), n * QR);
    zero(ctx, gs.dq_a.data(), n * QR);
    linear_backward(ctx, gs.dq_a_ln.data(), g.q_b_proj, dq, la.q_a_ln.data(), w.q_b_proj, N, QR,
                    NH * DQK);
    rmsnorm_backward(ctx, gs.dq_a.data(), g.q_a_layernorm, gs.dq_a_ln.data(), la.q_a.data(),
                     w.q_a_layernorm, la.q_a_rstd.data(), N, QR);
    linear_backward(ctx, dln, g.q_a_proj, gs.dq_a.data(), la.ln1.data(), w.q_a_proj, N, C, QR);
  } else {
    linear_backward(ctx, dln, g.q_proj, dq, la.ln1.data(), w.q_proj, N, C, NH * DQK);
  }
}

void mla_cache_write(const Model& m, KvCache& cache, int l, const LayerActs& la, const int* rows,
                     int N) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int NH = c.num_attention_heads, R = c.kv_lora_rank, DR = c.qk_rope_head_dim,
            DN = c.qk_nope_head_dim, DV = c.v_head_dim;
  const int W = R + DR, DQK = DN + DR, KVW = NH * (DN + DV);
  const bool expanded = cache.W == W + NH * (DQK + DV);
  AHA_CHECK(cache.W == W || expanded, "cache rows are not MLA latents of this model");
  void* base = cache_layer(cache, l);
  cache_write_rows(ctx, base, cache.W, 0, rows, cache.num_rows, la.ckv.data(), R, N, R);
  cache_write_rows(ctx, base, cache.W, R, rows, cache.num_rows, la.kv_a.data() + R, W, N, DR);
  if (!expanded || N == 0) return;
  // The batch-invariant mode (mla_cache_row_width): the tokens' keys and values expanded as the
  // learner's forward expands them (kv_b_proj, then mla_expand_kv: the same kernels, the same
  // bits, row by row), kept beside the latent, kExpandRows tokens at a time. Scratch
  // [kExpandRows, KVW + NH*(DQK + DV)]: the calling thread's on the CPU (decode slices write in
  // parallel), the cache's on CUDA.
  constexpr int kExpandRows = 256;
  const int n_max = std::min(N, kExpandRows);
  const size_t need = static_cast<size_t>(n_max) * (KVW + NH * (DQK + DV));
  thread_local std::vector<float> host_scratch;
  float* kv = nullptr;
  if (ctx.device == Device::kCpu) {
    host_scratch.resize(need);
    kv = host_scratch.data();
  } else {
    if (cache.expand.size() < need) cache.expand.alloc(ctx.device, need);
    kv = cache.expand.data();
  }
  float* k = kv + static_cast<size_t>(n_max) * KVW;
  float* v = k + static_cast<size_t>(n_max) * NH * DQK;
  for (int n0 = 0; n0 < N; n0 += kExpandRows) {
    const int n = std::min(kExpandRows, N - n0);
    linear_forward(ctx, kv, la.ckv.data() + static_cast<size_t>(n0) * R, m.w.layers[l].kv_b_proj, n,
                   R, KVW);
    mla_expand_kv(ctx, k, v, kv, la.kv_a.data() + static_cast<size_t>(n0) * W, n, NH, DN, DR, DV,
                  R);
    cache_write_rows(ctx, base, cache.W, W, rows + n0, cache.num_rows, k, NH * DQK, n, NH * DQK);
    cache_write_rows(ctx, base, cache.W, W + NH * DQK, rows + n0, cache.num_rows, v, NH * DV, n,
                     NH * DV);
  }
}

bool mla_decode_plan(const Model& m, const int* page_indptr_host, const int* seq_lens_host, int B,
                     DecodeLaunchKey* key) {
  const ModelConfig& c = m.cfg;
  return decode_attention_plan(m.ctx, page_indptr_host, seq_lens_host, B, c.num_attention_heads,
                               c.kv_lora_rank, c.qk_rope_head_dim, key);
}

void mla_decode(const Model& m, int l, const LayerActs& la, DecodeScratch& s, KvCache& cache,
                const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
                float* out) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int C = c.hidden_size, NH = c.num_attention_heads, R = c.kv_lora_rank,
            DR = c.qk_rope_head_dim, DN = c.qk_nope_head_dim, DV = c.v_head_dim;
  const LayerParams& w = m.w.layers[l];
  if (cache.W != R + DR) {
    // Rows made in the batch-invariant mode (mla_cache_row_width): attend to the expanded keys
    // and values with the learner's per-token arithmetic instead of absorbing W_uk and W_uv
    // (whose roundings differ from the learner's), so the row's log-prob is the learner's bits.
    const int DQK = DN + DR;
    paged_attention_invariant(ctx, s.att.data(), la.q.data(), cache_layer(cache, l), kPageTokens,
                              page_indptr, page_ids, seq_lens, B, NH, NH, DQK, DV, cache.W, R + DR,
                              R + DR + static_cast<long>(NH) * DQK, m.attn_scale);
    linear_forward(ctx, out, s.att.data(), w.o_proj, B, NH * DV, C);
    return;
  }
  // W_uk absorbed into the query, W_uv into the output: attention runs in the latent space.
  mla_absorb_q(ctx, s.q_lat.data(), s.q_rope.data(), la.q.data(), w.kv_b_proj, B, NH, DN, DR, DV,
               R);
  mla_decode_attention(ctx, s.out_lat.data(), s.q_lat.data(), s.q_rope.data(),
                       cache_layer(cache, l), kPageTokens, page_indptr, page_ids, seq_lens, B, NH,
                       R, DR, m.attn_scale);
  mla_absorb_out(ctx, s.att.data(), s.out_lat.data(), w.kv_b_proj, B, NH, DN, DV, R);
  linear_forward(ctx, out, s.att.data(), w.o_proj, B, NH * DV, C);
}

}  // namespace

const AttentionOps kMlaOps = {
    "mla",          mla_add_specs,   mla_softmax_scale, mla_cache_row_width, mla_plan_acts,
    mla_plan_grads, mla_inputs,      mla_forward,       mla_backward,        mla_cache_write,
    mla_decode,     mla_plan_decode, mla_decode_plan,
};

}  // namespace aha
