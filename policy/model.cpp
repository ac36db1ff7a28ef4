#include "policy/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/check.h"
#include "kernels/embedding.h"
#include "kernels/linear.h"
#include "kernels/logprob.h"
#include "kernels/rmsnorm.h"
#include "kernels/rng.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"
#include "policy/family.h"

namespace aha {

namespace {

struct Dims {
  int V, C, L, FF, H, E, K, SH;
};

Dims dims_of(const ModelConfig& c) {
  Dims d;
  d.V = c.vocab_size;
  d.C = c.hidden_size;
  d.L = c.num_hidden_layers;
  d.FF = c.intermediate_size;
  d.H = c.moe_intermediate_size;
  d.E = c.n_routed_experts;
  d.K = c.num_experts_per_tok;
  d.SH = c.n_shared_experts * c.moe_intermediate_size;
  return d;
}

void resize(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}
void resize(std::vector<int>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

void zero(std::vector<float>& v, size_t n) {
  resize(v, n);
  std::memset(v.data(), 0, n * sizeof(float));
}

}  // namespace

RouterParams model_router_params(const ModelConfig& c) {
  RouterParams p;
  p.E = c.n_routed_experts;
  p.K = c.num_experts_per_tok;
  p.scoring = c.scoring_func == "softmax" ? ScoringFunc::kSoftmax : ScoringFunc::kSigmoid;
  p.norm_topk_prob = c.norm_topk_prob;
  p.scaling = c.routed_scaling_factor;
  bool grouped = c.topk_method == "noaux_tc" || c.topk_method == "group_limited_greedy";
  p.num_groups = grouped ? c.n_group : 1;
  p.topk_groups = grouped ? c.topk_group : 1;
  p.group_max = c.topk_method == "group_limited_greedy";
  return p;
}

// ----------------------------------------------------------------------------------------------
// Tensor table

void model_add_spec(Model& m, const std::string& name, std::vector<int64_t> shape, bool trainable) {
  TensorSpec s;
  s.name = name;
  s.shape = std::move(shape);
  s.numel = 1;
  for (int64_t d : s.shape) s.numel *= d;
  s.offset = m.num_params;
  s.trainable = trainable;
  m.num_params += s.numel;
  m.specs.push_back(std::move(s));
}

static ParamPtrs make_ptrs(const Model& m, float* base) {
  const ModelConfig& c = m.cfg;
  ParamPtrs p;
  p.layers.resize(c.num_hidden_layers);
  auto at = [&](const std::string& name) -> float* {
    const TensorSpec* s = model_find_tensor(m, name);
    return s ? base + s->offset : nullptr;
  };
  p.embed = at("model.embed_tokens.weight");
  p.norm = at("model.norm.weight");
  p.lm_head = c.tie_word_embeddings ? p.embed : at("lm_head.weight");
  for (int l = 0; l < c.num_hidden_layers; l++) {
    std::string pre = "model.layers." + std::to_string(l) + ".";
    LayerParams& lp = p.layers[l];
    lp.input_layernorm = at(pre + "input_layernorm.weight");
    lp.q_proj = at(pre + "self_attn.q_proj.weight");
    lp.q_bias = at(pre + "self_attn.q_proj.bias");
    lp.k_proj = at(pre + "self_attn.k_proj.weight");
    lp.k_bias = at(pre + "self_attn.k_proj.bias");
    lp.v_proj = at(pre + "self_attn.v_proj.weight");
    lp.v_bias = at(pre + "self_attn.v_proj.bias");
    lp.q_norm = at(pre + "self_attn.q_norm.weight");
    lp.k_norm = at(pre + "self_attn.k_norm.weight");
    lp.o_bias = at(pre + "self_attn.o_proj.bias");
    lp.q_a_proj = at(pre + "self_attn.q_a_proj.weight");
    lp.q_a_layernorm = at(pre + "self_attn.q_a_layernorm.weight");
    lp.q_b_proj = at(pre + "self_attn.q_b_proj.weight");
    lp.kv_a_proj_with_mqa = at(pre + "self_attn.kv_a_proj_with_mqa.weight");
    lp.kv_a_layernorm = at(pre + "self_attn.kv_a_layernorm.weight");
    lp.kv_b_proj = at(pre + "self_attn.kv_b_proj.weight");
    lp.o_proj = at(pre + "self_attn.o_proj.weight");
    lp.post_attention_layernorm = at(pre + "post_attention_layernorm.weight");
    lp.gate_proj = at(pre + "mlp.gate_proj.weight");
    lp.up_proj = at(pre + "mlp.up_proj.weight");
    lp.down_proj = at(pre + "mlp.down_proj.weight");
    lp.router = at(pre + "mlp.gate.weight");
    lp.router_bias = at(pre + "mlp.gate.e_score_correction_bias");
    lp.experts_gate = at(pre + "mlp.experts.0.gate_proj.weight");
    lp.experts_up = at(pre + "mlp.experts.0.up_proj.weight");
    lp.experts_down = at(pre + "mlp.experts.0.down_proj.weight");
    lp.shared_gate = at(pre + "mlp.shared_experts.gate_proj.weight");
    lp.shared_up = at(pre + "mlp.shared_experts.up_proj.weight");
    lp.shared_down = at(pre + "mlp.shared_experts.down_proj.weight");
  }
  return p;
}

void model_build_table(Model& m, const ModelConfig& cfg) {
  config_validate(cfg, "model config");
  m.cfg = cfg;
  m.specs.clear();
  m.num_params = 0;
  Dims d = dims_of(cfg);
  model_add_spec(m, "model.embed_tokens.weight", {d.V, d.C});
  for (int l = 0; l < d.L; l++) {
    std::string pre = "model.layers." + std::to_string(l) + ".";
    model_add_spec(m, pre + "input_layernorm.weight", {d.C});
    if (cfg_is_mla(cfg))
      mla_add_specs(m, pre);
    else
      gqa_add_specs(m, pre);
    model_add_spec(m, pre + "post_attention_layernorm.weight", {d.C});
    if (!cfg_layer_is_moe(cfg, l)) {
      model_add_spec(m, pre + "mlp.gate_proj.weight", {d.FF, d.C});
      model_add_spec(m, pre + "mlp.up_proj.weight", {d.FF, d.C});
      model_add_spec(m, pre + "mlp.down_proj.weight", {d.C, d.FF});
      continue;
    }
    model_add_spec(m, pre + "mlp.gate.weight", {d.E, d.C});
    if (cfg.topk_method == "noaux_tc")
      model_add_spec(m, pre + "mlp.gate.e_score_correction_bias", {d.E}, false);
    // Each projection kind of all experts is contiguous so expert e is at offset + e*size.
    for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
      for (int e = 0; e < d.E; e++) {
        std::vector<int64_t> shape = std::string(proj) == "down_proj"
                                         ? std::vector<int64_t>{d.C, d.H}
                                         : std::vector<int64_t>{d.H, d.C};
        model_add_spec(m, pre + "mlp.experts." + std::to_string(e) + "." + proj + ".weight", shape);
      }
    }
    if (d.SH > 0) {
      model_add_spec(m, pre + "mlp.shared_experts.gate_proj.weight", {d.SH, d.C});
      model_add_spec(m, pre + "mlp.shared_experts.up_proj.weight", {d.SH, d.C});
      model_add_spec(m, pre + "mlp.shared_experts.down_proj.weight", {d.C, d.SH});
    }
  }
  model_add_spec(m, "model.norm.weight", {d.C});
  if (!cfg.tie_word_embeddings) model_add_spec(m, "lm_head.weight", {d.V, d.C});
  m.params.clear();
  m.grads.clear();
  m.w = m.g = ParamPtrs{};
  m.rope_inv_freq.assign(cfg_rope_dim(cfg) / 2, 0.0);
  m.rope_attn_factor = static_cast<float>(rope_frequencies(
      m.rope_inv_freq.data(), cfg_rope_dim(cfg), cfg.rope_theta, cfg.rope_scaling));
  m.attn_scale = cfg_is_mla(cfg) ? mla_softmax_scale(cfg) : gqa_softmax_scale(cfg);
}

void model_build(Model& m, const ModelConfig& cfg) {
  model_build_table(m, cfg);
  m.params.assign(m.num_params, 0.0f);
  m.w = make_ptrs(m, m.params.data());
  m.g = ParamPtrs{};
}

void model_alloc_grads(Model& m) {
  m.grads.assign(m.num_params, 0.0f);
  m.g = make_ptrs(m, m.grads.data());
}

void model_zero_grads(Model& m) {
  if (m.grads.empty()) model_alloc_grads(m);
  std::fill(m.grads.begin(), m.grads.end(), 0.0f);
}

const TensorSpec* model_find_tensor(const Model& m, const std::string& name) {
  for (const TensorSpec& s : m.specs)
    if (s.name == name) return &s;
  return nullptr;
}

static bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

void model_init(Model& m, uint64_t seed) {
  Rng rng{seed};
  float out_scale = 1.0f / std::sqrt(2.0f * m.cfg.num_hidden_layers);
  for (const TensorSpec& s : m.specs) {
    float* p = m.params.data() + s.offset;
    if (s.shape.size() == 1) {
      // Norm weights start at one; the router bias at zero.
      float v = ends_with(s.name, "e_score_correction_bias") ? 0.0f : 1.0f;
      std::fill(p, p + s.numel, v);
      continue;
    }
    float std = 0.02f;
    if (ends_with(s.name, "o_proj.weight") || ends_with(s.name, "down_proj.weight"))
      std *= out_scale;
    for (long i = 0; i < s.numel; i++) p[i] = static_cast<float>(rng.normal()) * std;
  }
}

long model_num_params(const Model& m) {
  long n = 0;
  for (const TensorSpec& s : m.specs)
    if (s.trainable) n += s.numel;
  return n;
}

long model_num_active_params(const Model& m) {
  const ModelConfig& c = m.cfg;
  long n = model_num_params(m);
  if (c.n_routed_experts == 0) return n;
  long per_expert = 3L * c.moe_intermediate_size * c.hidden_size;
  long inactive = static_cast<long>(c.n_routed_experts - c.num_experts_per_tok) * per_expert;
  return n - inactive * cfg_num_moe_layers(c);
}

void batch_add_sequence(Batch& b, const std::vector<int>& ids, int loss_from) {
  if (b.seq_start.empty()) b.seq_start.push_back(0);
  int n = static_cast<int>(ids.size());
  for (int i = 0; i < n; i++) {
    b.tokens.push_back(ids[i]);
    b.targets.push_back(i + 1 < n && i >= loss_from ? ids[i + 1] : -1);
  }
  b.seq_start.push_back(static_cast<int>(b.tokens.size()));
}

// ----------------------------------------------------------------------------------------------
// Forward

namespace {

// SwiGLU FFN forward: gate/up [N, W], act [N, W]; out[N, C] = act · downᵀ (overwrites out).
void ffn_forward(float* out, float* gate, float* up, float* act, const float* inp,
                 const float* w_gate, const float* w_up, const float* w_down, int N, int C, int W) {
  linear_forward(gate, inp, w_gate, N, C, W);
  linear_forward(up, inp, w_up, N, C, W);
  swiglu_forward(act, gate, up, static_cast<long>(N) * W);
  linear_forward(out, act, w_down, N, W, C);
}

// Backward of ffn_forward. dinp += ; scratch dgate, dup, dact are [N, W] and get overwritten.
void ffn_backward(float* dinp, float* dw_gate, float* dw_up, float* dw_down, const float* dout,
                  const float* gate, const float* up, const float* act, const float* inp,
                  const float* w_gate, const float* w_up, const float* w_down, float* dgate,
                  float* dup, float* dact, int N, int C, int W) {
  size_t n = static_cast<size_t>(N) * W;
  std::memset(dact, 0, n * sizeof(float));
  std::memset(dgate, 0, n * sizeof(float));
  std::memset(dup, 0, n * sizeof(float));
  linear_backward(dact, dw_down, dout, act, w_down, N, W, C);
  swiglu_backward(dgate, dup, dact, gate, up, static_cast<long>(n));
  linear_backward(dinp, dw_gate, dgate, inp, w_gate, N, C, W);
  linear_backward(dinp, dw_up, dup, inp, w_up, N, C, W);
}

}  // namespace

void layer_attn_inputs(const Model& m, int l, LayerActs& la, const float* x, const int* positions,
                       int N) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size;
  resize(la.ln1, static_cast<size_t>(N) * C);
  resize(la.ln1_rstd, N);
  rmsnorm_forward(la.ln1.data(), la.ln1_rstd.data(), x, m.w.layers[l].input_layernorm, N, C,
                  c.rms_norm_eps);
  if (cfg_is_mla(c))
    mla_inputs(m, l, la, positions, N);
  else
    gqa_inputs(m, l, la, positions, N);
}

void layer_ffn_forward(const Model& m, int l, LayerActs& la, float* x, float* tmp, int N,
                       const int* replay_topk_idx, long* expert_load) {
  const ModelConfig& c = m.cfg;
  Dims d = dims_of(c);
  const LayerParams& w = m.w.layers[l];
  const size_t NC = static_cast<size_t>(N) * d.C;
  resize(la.ln2, NC);
  resize(la.ln2_rstd, N);
  rmsnorm_forward(la.ln2.data(), la.ln2_rstd.data(), x, w.post_attention_layernorm, N, d.C,
                  c.rms_norm_eps);
  if (!cfg_layer_is_moe(c, l)) {
    size_t nw = static_cast<size_t>(N) * d.FF;
    resize(la.ff_gate, nw);
    resize(la.ff_up, nw);
    resize(la.ff_act, nw);
    ffn_forward(tmp, la.ff_gate.data(), la.ff_up.data(), la.ff_act.data(), la.ln2.data(),
                w.gate_proj, w.up_proj, w.down_proj, N, d.C, d.FF);
    for (size_t i = 0; i < NC; i++) x[i] += tmp[i];
    return;
  }
  RouterParams rp = model_router_params(c);
  const int M = N * d.K;
  resize(la.router_logits, static_cast<size_t>(N) * d.E);
  resize(la.scores, static_cast<size_t>(N) * d.E);
  resize(la.topk_idx, static_cast<size_t>(N) * d.K);
  resize(la.topk_weights, static_cast<size_t>(N) * d.K);
  linear_forward(la.router_logits.data(), la.ln2.data(), w.router, N, d.C, d.E);
  if (replay_topk_idx)
    std::memcpy(la.topk_idx.data(), replay_topk_idx, static_cast<size_t>(N) * d.K * sizeof(int));
  moe_router_forward(la.scores.data(), la.topk_idx.data(), la.topk_weights.data(),
                     la.router_logits.data(), w.router_bias, N, rp, replay_topk_idx == nullptr);
  resize(la.expert_offsets, d.E + 1);
  resize(la.row_token, M);
  resize(la.row_slot, M);
  moe_dispatch(la.expert_offsets.data(), la.row_token.data(), la.row_slot.data(),
               la.topk_idx.data(), N, d.E, d.K, expert_load);
  resize(la.xe, static_cast<size_t>(M) * d.C);
  resize(la.he_gate, static_cast<size_t>(M) * d.H);
  resize(la.he_up, static_cast<size_t>(M) * d.H);
  resize(la.he_act, static_cast<size_t>(M) * d.H);
  resize(la.ye, static_cast<size_t>(M) * d.C);
  moe_gather(la.xe.data(), la.ln2.data(), la.row_token.data(), M, d.C);
  const size_t esz = static_cast<size_t>(d.H) * d.C;
  for (int e = 0; e < d.E; e++) {
    int r0 = la.expert_offsets[e], Me = la.expert_offsets[e + 1] - r0;
    if (Me == 0) continue;
    size_t oc = static_cast<size_t>(r0) * d.C, oh = static_cast<size_t>(r0) * d.H;
    ffn_forward(&la.ye[oc], &la.he_gate[oh], &la.he_up[oh], &la.he_act[oh], &la.xe[oc],
                w.experts_gate + e * esz, w.experts_up + e * esz, w.experts_down + e * esz, Me, d.C,
                d.H);
  }
  if (d.SH > 0) {
    size_t nw = static_cast<size_t>(N) * d.SH;
    resize(la.ff_gate, nw);
    resize(la.ff_up, nw);
    resize(la.ff_act, nw);
    ffn_forward(tmp, la.ff_gate.data(), la.ff_up.data(), la.ff_act.data(), la.ln2.data(),
                w.shared_gate, w.shared_up, w.shared_down, N, d.C, d.SH);
  } else {
    std::memset(tmp, 0, NC * sizeof(float));
  }
  moe_combine(tmp, la.ye.data(), la.topk_weights.data(), la.row_token.data(), la.row_slot.data(), M,
              d.C);
  for (size_t i = 0; i < NC; i++) x[i] += tmp[i];
}

double moe_balance_loss(const float* scores, const int* topk_idx, const int* seq_start, int B,
                        const RouterParams& p, float alpha, float* dlogits) {
  const int E = p.E, K = p.K;
  double loss = 0;
  std::vector<double> f(E), P(E), g(E);
  for (int b = 0; b < B; b++) {
    const int t0 = seq_start[b], T = seq_start[b + 1] - seq_start[b];
    if (T == 0) continue;
    // f_i = E / (K T) * (tokens selecting i); P_i = mean over tokens of s_i / sum_j s_j.
    std::fill(f.begin(), f.end(), 0.0);
    std::fill(P.begin(), P.end(), 0.0);
    for (int t = t0; t < t0 + T; t++) {
      for (int k = 0; k < K; k++) f[topk_idx[static_cast<size_t>(t) * K + k]] += 1.0;
      const float* s = scores + static_cast<size_t>(t) * E;
      double z = 0;
      for (int i = 0; i < E; i++) z += s[i];
      for (int i = 0; i < E; i++) P[i] += s[i] / z;
    }
    for (int i = 0; i < E; i++) {
      f[i] *= static_cast<double>(E) / (static_cast<double>(K) * T);
      P[i] /= T;
      loss += alpha * f[i] * P[i] / B;
    }
    if (!dlogits) continue;
    // dL/ds'_i = alpha f_i / (T B), then through s' = s / sum(s) and the scoring function.
    for (int t = t0; t < t0 + T; t++) {
      const float* s = scores + static_cast<size_t>(t) * E;
      float* dl = dlogits + static_cast<size_t>(t) * E;
      double z = 0, gs = 0;
      for (int i = 0; i < E; i++) z += s[i];
      for (int i = 0; i < E; i++) {
        g[i] = alpha * f[i] / (static_cast<double>(T) * B);
        gs += g[i] * s[i] / z;
      }
      if (p.scoring == ScoringFunc::kSigmoid) {
        for (int i = 0; i < E; i++)
          dl[i] += static_cast<float>((g[i] - gs) / z * s[i] * (1.0 - s[i]));
      } else {  // softmax scores already sum to one: s' = s
        for (int i = 0; i < E; i++) dl[i] += static_cast<float>(s[i] * (g[i] - gs));
      }
    }
  }
  return loss;
}

float model_forward(Model& m, Acts& a, const Batch& batch, const ForwardOptions& opt) {
  const ModelConfig& c = m.cfg;
  Dims d = dims_of(c);
  const int N = batch_num_tokens(batch);
  const int B = batch_num_seqs(batch);
  AHA_CHECK(N > 0 && B > 0 && batch.seq_start[B] == N, "malformed batch");
  AHA_CHECK(batch.targets.size() == static_cast<size_t>(N), "targets size != tokens size");
  a.N = N;
  a.layers.resize(d.L);
  a.expert_load.assign(d.L, std::vector<long>(std::max(d.E, 0), 0));
  a.balance_loss = 0;

  // Positions restart at every sequence unless the batch gives them (decode continuation).
  resize(a.positions, N);
  if (!batch.positions.empty()) {
    AHA_CHECK(batch.positions.size() == static_cast<size_t>(N), "positions size != tokens size");
    std::copy(batch.positions.begin(), batch.positions.end(), a.positions.begin());
  } else {
    for (int b = 0; b < B; b++)
      for (int i = batch.seq_start[b]; i < batch.seq_start[b + 1]; i++)
        a.positions[i] = i - batch.seq_start[b];
  }

  std::vector<float> x(static_cast<size_t>(N) * d.C);  // [N, C] residual stream
  std::vector<float> tmp(static_cast<size_t>(N) * d.C);
  embedding_forward(x.data(), batch.tokens.data(), m.w.embed, N, d.V, d.C);

  int moe_l = 0;
  for (int l = 0; l < d.L; l++) {
    LayerActs& la = a.layers[l];
    const size_t NC = static_cast<size_t>(N) * d.C;
    resize(la.res_in, NC);
    std::copy(x.begin(), x.end(), la.res_in.begin());

    // --- Attention: MLA (DeepSeek) or GQA (Qwen)
    layer_attn_inputs(m, l, la, x.data(), a.positions.data(), N);
    if (cfg_is_mla(c))
      mla_forward(m, l, la, batch.seq_start.data(), B, N, tmp.data());
    else
      gqa_forward(m, l, la, batch.seq_start.data(), B, N, tmp.data());
    for (size_t i = 0; i < NC; i++) x[i] += tmp[i];
    resize(la.res_mid, NC);
    std::copy(x.begin(), x.end(), la.res_mid.begin());

    // --- FFN: dense or DeepSeekMoE
    const int* replay =
        opt.replay_topk_idx ? opt.replay_topk_idx + static_cast<size_t>(moe_l) * N * d.K : nullptr;
    layer_ffn_forward(m, l, la, x.data(), tmp.data(), N, replay, a.expert_load[l].data());
    if (cfg_layer_is_moe(c, l) && opt.balance_alpha > 0)
      a.balance_loss += moe_balance_loss(a.layers[l].scores.data(), a.layers[l].topk_idx.data(),
                                         batch.seq_start.data(), B, model_router_params(c),
                                         opt.balance_alpha, nullptr);
    moe_l += cfg_layer_is_moe(c, l);
  }

  resize(a.res_final, static_cast<size_t>(N) * d.C);
  std::copy(x.begin(), x.end(), a.res_final.begin());
  resize(a.lnf, static_cast<size_t>(N) * d.C);
  resize(a.lnf_rstd, N);
  rmsnorm_forward(a.lnf.data(), a.lnf_rstd.data(), x.data(), m.w.norm, N, d.C, c.rms_norm_eps);
  if (!opt.need_logits) return 0.0f;
  resize(a.logits, static_cast<size_t>(N) * d.V);
  resize(a.lse, N);
  resize(a.logp, N);
  resize(a.entropy, N);
  linear_forward(a.logits.data(), a.lnf.data(), m.w.lm_head, N, d.C, d.V);
  logprob_forward(a.logp.data(), a.lse.data(), opt.need_entropy ? a.entropy.data() : nullptr,
                  a.logits.data(), batch.targets.data(), N, d.V, opt.inv_temp);
  double loss = 0;
  int count = 0;
  for (int n = 0; n < N; n++) {
    if (batch.targets[n] < 0) continue;
    loss -= a.logp[n];
    count++;
  }
  return count > 0 ? static_cast<float>(loss / count) : 0.0f;
}

// ----------------------------------------------------------------------------------------------
// Backward

void model_backward(Model& m, Acts& a, const Batch& batch, const float* dlogp,
                    const ForwardOptions& opt) {
  const ModelConfig& c = m.cfg;
  Dims d = dims_of(c);
  const int N = a.N;
  const int B = batch_num_seqs(batch);
  AHA_CHECK(N == batch_num_tokens(batch), "backward batch differs from the forward's");
  AHA_CHECK(opt.need_logits, "backward needs the logits of the forward");
  if (m.grads.empty()) model_alloc_grads(m);
  const ParamPtrs& gp = m.g;
  RouterParams rp = model_router_params(c);
  const size_t NC = static_cast<size_t>(N) * d.C;

  // Scratch gradients, reused by every layer.
  std::vector<float> dlogits, dx(NC, 0.0f), dln(NC), dtmp;
  zero(dlogits, static_cast<size_t>(N) * d.V);
  logprob_backward(dlogits.data(), dlogp, a.logits.data(), a.lse.data(), batch.targets.data(), N,
                   d.V, opt.inv_temp);
  std::fill(dln.begin(), dln.end(), 0.0f);
  linear_backward(dln.data(), gp.lm_head, dlogits.data(), a.lnf.data(), m.w.lm_head, N, d.C, d.V);
  rmsnorm_backward(dx.data(), gp.norm, dln.data(), a.res_final.data(), m.w.norm, a.lnf_rstd.data(),
                   N, d.C);

  std::vector<float> s1, s2, s3;  // FFN scratch
  for (int l = d.L - 1; l >= 0; l--) {
    const LayerParams& w = m.w.layers[l];
    const LayerParams& g = gp.layers[l];
    LayerActs& la = a.layers[l];

    // --- FFN (dx is the gradient of the layer output; the residual passes it through)
    std::fill(dln.begin(), dln.end(), 0.0f);
    if (!cfg_layer_is_moe(c, l)) {
      size_t nw = static_cast<size_t>(N) * d.FF;
      resize(s1, nw);
      resize(s2, nw);
      resize(s3, nw);
      ffn_backward(dln.data(), g.gate_proj, g.up_proj, g.down_proj, dx.data(), la.ff_gate.data(),
                   la.ff_up.data(), la.ff_act.data(), la.ln2.data(), w.gate_proj, w.up_proj,
                   w.down_proj, s1.data(), s2.data(), s3.data(), N, d.C, d.FF);
    } else {
      const int M = N * d.K;
      std::vector<float> dye(static_cast<size_t>(M) * d.C), dxe(static_cast<size_t>(M) * d.C, 0.0f);
      std::vector<float> dtopk(static_cast<size_t>(N) * d.K, 0.0f);
      moe_combine_backward(dye.data(), dtopk.data(), dx.data(), la.ye.data(),
                           la.topk_weights.data(), la.row_token.data(), la.row_slot.data(), M, d.C);
      const size_t esz = static_cast<size_t>(d.H) * d.C;
      for (int e = 0; e < d.E; e++) {
        int r0 = la.expert_offsets[e], Me = la.expert_offsets[e + 1] - r0;
        if (Me == 0) continue;
        size_t nw = static_cast<size_t>(Me) * d.H;
        resize(s1, nw);
        resize(s2, nw);
        resize(s3, nw);
        size_t oc = static_cast<size_t>(r0) * d.C, oh = static_cast<size_t>(r0) * d.H;
        ffn_backward(&dxe[oc], g.experts_gate + e * esz, g.experts_up + e * esz,
                     g.experts_down + e * esz, &dye[oc], &la.he_gate[oh], &la.he_up[oh],
                     &la.he_act[oh], &la.xe[oc], w.experts_gate + e * esz, w.experts_up + e * esz,
                     w.experts_down + e * esz, s1.data(), s2.data(), s3.data(), Me, d.C, d.H);
      }
      moe_gather_backward(dln.data(), dxe.data(), la.row_token.data(), M, d.C);
      std::vector<float> dlog(static_cast<size_t>(N) * d.E, 0.0f);
      moe_router_backward(dlog.data(), dtopk.data(), la.scores.data(), la.topk_idx.data(), N, rp);
      if (opt.balance_alpha > 0)
        moe_balance_loss(la.scores.data(), la.topk_idx.data(), batch.seq_start.data(), B, rp,
                         opt.balance_alpha, dlog.data());
      linear_backward(dln.data(), g.router, dlog.data(), la.ln2.data(), w.router, N, d.C, d.E);
      if (d.SH > 0) {
        size_t nw = static_cast<size_t>(N) * d.SH;
        resize(s1, nw);
        resize(s2, nw);
        resize(s3, nw);
        ffn_backward(dln.data(), g.shared_gate, g.shared_up, g.shared_down, dx.data(),
                     la.ff_gate.data(), la.ff_up.data(), la.ff_act.data(), la.ln2.data(),
                     w.shared_gate, w.shared_up, w.shared_down, s1.data(), s2.data(), s3.data(), N,
                     d.C, d.SH);
      }
    }
    rmsnorm_backward(dx.data(), g.post_attention_layernorm, dln.data(), la.res_mid.data(),
                     w.post_attention_layernorm, la.ln2_rstd.data(), N, d.C);

    // --- Attention (dx is now the gradient at res_mid)
    std::fill(dln.begin(), dln.end(), 0.0f);
    if (cfg_is_mla(c))
      mla_backward(m, l, la, a.positions.data(), batch.seq_start.data(), B, N, dx.data(),
                   dln.data());
    else
      gqa_backward(m, l, la, a.positions.data(), batch.seq_start.data(), B, N, dx.data(),
                   dln.data());
    rmsnorm_backward(dx.data(), g.input_layernorm, dln.data(), la.res_in.data(), w.input_layernorm,
                     la.ln1_rstd.data(), N, d.C);
  }
  embedding_backward(gp.embed, dx.data(), batch.tokens.data(), N, d.C);
}

double model_forward_flops(const Model& m, int N, double mean_ctx) {
  const ModelConfig& c = m.cfg;
  double active = static_cast<double>(model_num_active_params(m)) -
                  static_cast<double>(c.vocab_size) * c.hidden_size;  // embedding is a lookup
  if (c.tie_word_embeddings) active += static_cast<double>(c.vocab_size) * c.hidden_size;
  double attn = 2.0 * c.num_hidden_layers * c.num_attention_heads *
                (cfg_qk_head_dim(c) + cfg_v_head_dim(c)) * mean_ctx;
  return N * (2.0 * active + attn);
}

}  // namespace aha
