#include "policy/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/check.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/logprob.h"
#include "kernels/ops.h"
#include "kernels/rng.h"
#include "kernels/rope.h"
#include "policy/family.h"

namespace aha {

// Columns of the vocabulary per step of the CPU head's backward (head_backward_cpu).
constexpr int kHeadVocabChunk = 1024;

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
  m.attn = &attention_ops(cfg);
  m.specs.clear();
  m.num_params = 0;
  Dims d = dims_of(cfg);
  model_add_spec(m, "model.embed_tokens.weight", {d.V, d.C});
  for (int l = 0; l < d.L; l++) {
    std::string pre = "model.layers." + std::to_string(l) + ".";
    model_add_spec(m, pre + "input_layernorm.weight", {d.C});
    m.attn->add_specs(m, pre);
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
  m.params.reset();
  m.grads.reset();
  m.w = m.g = ParamPtrs{};
  std::vector<double> inv_freq(cfg_rope_dim(cfg) / 2, 0.0);
  m.rope_attn_factor = static_cast<float>(
      rope_frequencies(inv_freq.data(), cfg_rope_dim(cfg), cfg.rope_theta, cfg.rope_scaling));
  m.rope_inv_freq.alloc(m.ctx.device, inv_freq.size());
  device_copy(m.ctx, m.rope_inv_freq.data(), m.ctx.device, inv_freq.data(), Device::kCpu,
              inv_freq.size() * sizeof(double));
  m.attn_scale = m.attn->softmax_scale(cfg);
}

void model_build(Model& m, const ModelConfig& cfg, Device device) {
  if (m.ctx.device != device) {
    m.params.reset();
    m.grads.reset();
    m.rope_inv_freq.reset();
    m.ctx = device == Device::kCuda ? cuda_ctx_create() : Ctx{};
    m.ctx_owner = CtxOwner(m.ctx);
  }
  model_build_table(m, cfg);
  m.params.alloc(m.ctx.device, m.num_params);
  m.w = make_ptrs(m, m.params.data());
  if (device == Device::kCuda) cuda_ctx_set_weights(m.ctx, m.params.data(), m.num_params);
  m.g = ParamPtrs{};
}

void model_to_device(Model& m, Device d) {
  if (m.ctx.device == d) return;
  Model dst;
  model_build(dst, m.cfg, d);
  ctx_sync(m.ctx);  // m's pending kernels (on its own stream) have written its weights
  device_copy(dst.ctx, dst.params.data(), d, m.params.data(), m.ctx.device,
              static_cast<size_t>(m.num_params) * sizeof(float));
  if (d == Device::kCuda) cuda_ctx_sync_weights(dst.ctx);
  dst.version = m.version;
  m = std::move(dst);
}

void model_lock_host_params(Model& m) {
  AHA_CHECK(m.ctx.device == Device::kCpu, "model_lock_host_params: a host model only");
  if (m.params.host_locked()) return;
  Buffer<float> locked;
  locked.alloc_host_locked(static_cast<size_t>(m.num_params));
  if (!locked.host_locked()) return;  // no device, or the lock refused: the plain copy stays
  std::memcpy(locked.data(), m.params.data(), static_cast<size_t>(m.num_params) * sizeof(float));
  m.params = std::move(locked);
  m.w = make_ptrs(m, m.params.data());
}

void model_alloc_grads(Model& m) {
  m.grads.alloc(m.ctx.device, m.num_params);
  m.g = make_ptrs(m, m.grads.data());
}

void model_zero_grads(Model& m) {
  if (m.grads.empty()) model_alloc_grads(m);
  zero(m.ctx, m.grads.data(), m.num_params);
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
  // Drawn on the host in table order, then copied where the model lives.
  std::vector<float> host(m.ctx.device == Device::kCpu ? 0 : m.num_params);
  float* base = host.empty() ? m.params.data() : host.data();
  for (const TensorSpec& s : m.specs) {
    float* p = base + s.offset;
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
  if (!host.empty()) m.params = host;
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
// Activation layout

namespace {

// The widest FFN a layer of c runs over N tokens: dense FF, shared SH, or the M = N*K expert rows.
size_t ffn_scratch_size(const ModelConfig& c, int N) {
  Dims d = dims_of(c);
  size_t n = 0;
  for (int l = 0; l < d.L; l++) {
    if (!cfg_layer_is_moe(c, l)) {
      n = std::max(n, static_cast<size_t>(N) * d.FF);
      continue;
    }
    n = std::max(n, static_cast<size_t>(N) * d.SH);
    n = std::max(n, static_cast<size_t>(N) * d.K * d.H);
  }
  return n;
}

void layer_acts_plan(const Model& m, int l, LayerActs& la, ArenaPlan& p, int N) {
  const ModelConfig& c = m.cfg;
  Dims d = dims_of(c);
  const size_t NC = static_cast<size_t>(N) * d.C;
  p.take(la.ln1, NC);
  p.take(la.ln1_rstd, N);
  m.attn->plan_acts(c, la, p, N);
  p.take(la.res_mid, NC);
  p.take(la.ln2, NC);
  p.take(la.ln2_rstd, N);
  const bool moe = cfg_layer_is_moe(c, l);
  const size_t ff = static_cast<size_t>(N) * (moe ? d.SH : d.FF);
  p.take(la.ff_gate, ff);
  p.take(la.ff_up, ff);
  p.take(la.ff_act, ff);
  const size_t M = moe ? static_cast<size_t>(N) * d.K : 0;
  const size_t E = moe ? d.E : 0;
  p.take(la.router_logits, N * E);
  p.take(la.scores, N * E);
  p.take(la.topk_idx, moe ? static_cast<size_t>(N) * d.K : 0);
  p.take(la.topk_weights, moe ? static_cast<size_t>(N) * d.K : 0);
  p.take(la.expert_offsets, moe ? E + 1 : 0);
  p.take(la.row_token, M);
  p.take(la.row_slot, M);
  p.take(la.slot_row, M);
  p.take(la.xe, M * d.C);
  p.take(la.he_gate, M * d.H);
  p.take(la.he_up, M * d.H);
  p.take(la.he_act, M * d.H);
  p.take(la.ye, M * d.C);
}

void acts_plan(const Model& m, Acts& a, ArenaPlan& p, int N, int B, bool need_logits) {
  Dims d = dims_of(m.cfg);
  const size_t NC = static_cast<size_t>(N) * d.C;
  // The batch's ints, copied only when the model runs elsewhere than the host.
  const bool host = m.ctx.device == Device::kCpu;
  p.take(a.tokens, host ? 0 : N);
  p.take(a.targets, host ? 0 : N);
  p.take(a.seq_start, host ? 0 : B + 1);
  p.take(a.positions, N);
  p.take(a.expert_load_dev, host ? 0 : static_cast<size_t>(d.L) * std::max(d.E, 0));
  p.take(a.balance_loss_dev, host ? 0 : 1);
  p.take(a.res_in, static_cast<size_t>(d.L) * NC);
  p.take(a.x, NC);
  p.take(a.tmp, NC);
  p.take(a.res_final, NC);
  p.take(a.lnf, NC);
  p.take(a.lnf_rstd, N);
  const size_t nl = need_logits ? N : 0;
  p.take(a.logits, nl * d.V);
  p.take(a.lse, nl);
  p.take(a.logp, nl);
  p.take(a.entropy, nl);
}

void grads_plan(const Model& m, GradScratch& g, ArenaPlan& p, int N) {
  const ModelConfig& c = m.cfg;
  Dims d = dims_of(c);
  const size_t NC = static_cast<size_t>(N) * d.C;
  const bool any_moe = cfg_num_moe_layers(c) > 0;
  const size_t M = any_moe ? static_cast<size_t>(N) * d.K : 0;
  // The CPU walks the vocabulary in chunks (head_backward_cpu): one chunk's columns at a time.
  const int VC = m.ctx.device == Device::kCpu ? std::min(d.V, kHeadVocabChunk) : d.V;
  p.take(g.dlogits, static_cast<size_t>(N) * VC);
  p.take(g.dx, NC);
  p.take(g.dln, NC);
  const size_t ff = ffn_scratch_size(c, N);
  p.take(g.s1, ff);
  p.take(g.s2, ff);
  p.take(g.s3, ff);
  p.take(g.dye, M * d.C);
  p.take(g.dxe, M * d.C);
  p.take(g.dtopk, any_moe ? static_cast<size_t>(N) * d.K : 0);
  p.take(g.drouter, any_moe ? static_cast<size_t>(N) * d.E : 0);
  m.attn->plan_grads(c, g, p, N);
}

// Bytes of layer l's activation arena for N tokens.
size_t layer_acts_bytes(const Model& m, int l, int N) {
  LayerActs la;
  ArenaPlan p(nullptr);
  layer_acts_plan(m, l, la, p, N);
  return p.bytes();
}

// The layer whose activations take the most bytes for N tokens: an arena laid out for it holds
// any layer's layout for up to N tokens (a plan's bytes grow with N).
int widest_layer(const Model& m, int N) {
  int widest = 0;
  for (int l = 1; l < m.cfg.num_hidden_layers; l++)
    if (layer_acts_bytes(m, l, N) > layer_acts_bytes(m, widest, N)) widest = l;
  return widest;
}

}  // namespace

void layer_acts_reserve(const Model& m, int l, LayerActs& la, int N) {
  arena_plan(la.arena, m.ctx.device, [&](ArenaPlan& p) { layer_acts_plan(m, l, la, p, N); });
  la.N = N;
}

void acts_reserve(const Model& m, Acts& a, int max_tokens, int max_seqs, bool need_logits,
                  bool backward, bool recompute) {
  const int L = m.cfg.num_hidden_layers;
  a.recompute = recompute;
  a.layers.resize(recompute ? 1 : L);
  if (recompute)  // each layer re-plans the shared set for itself as it runs (no reallocation)
    layer_acts_reserve(m, widest_layer(m, max_tokens), a.layers[0], max_tokens);
  else
    for (int l = 0; l < L; l++) layer_acts_reserve(m, l, a.layers[l], max_tokens);
  const bool grew = arena_plan(a.arena, m.ctx.device, [&](ArenaPlan& p) {
    acts_plan(m, a, p, max_tokens, max_seqs, need_logits);
  });
  if (backward)
    arena_plan(a.grad.arena, m.ctx.device,
               [&](ArenaPlan& p) { grads_plan(m, a.grad, p, max_tokens); });
  if (a.expert_load.size() != static_cast<size_t>(L))
    a.expert_load.assign(L, std::vector<long>(std::max(m.cfg.n_routed_experts, 0), 0));
  if (m.ctx.device != Device::kCpu)
    a.expert_load_host.resize(static_cast<size_t>(L) * std::max(m.cfg.n_routed_experts, 0));
  // The GEMMs' bf16 operands and the twins' workspace for as many tokens (once per size).
  if (grew && m.ctx.device == Device::kCuda)
    cuda_ctx_reserve(m.ctx, model_cuda_sizes(m, max_tokens));
}

CudaSizes model_cuda_sizes(const Model& m, int max_tokens) {
  const ModelConfig& c = m.cfg;
  const long N = max_tokens;
  CudaSizes s;
  s.N = max_tokens;
  s.NH = c.num_attention_heads;
  s.NKV = cfg_is_mla(c) ? c.num_attention_heads : c.num_key_value_heads;  // MLA: expanded per head
  s.DQK = cfg_qk_head_dim(c);
  s.DV = cfg_v_head_dim(c);
  s.K = cfg_num_moe_layers(c) > 0 ? c.num_experts_per_tok : 0;
  s.E = cfg_num_moe_layers(c) > 0 ? c.n_routed_experts : 0;
  // A linear layer's bf16 operands: its input [N, IC] (slots 0 and 1) and, backward, the
  // gradient of its output [N, OC] (slot 0); the experts' rows [N*K, C] (slot 0), [N*K, H]
  // (slots 1 and 2). The widest matrix bounds every linear layer.
  long D = 0;
  for (const TensorSpec& t : m.specs) {
    if (t.shape.size() == 2) D = std::max<long>(D, std::max(t.shape[0], t.shape[1]));
    if (t.shape.size() != 1) continue;
    // RMSNorm weights: one row per token, per head for QK-norm.
    const bool q = t.name.find("q_norm.weight") != std::string::npos;
    const bool k = t.name.find("k_norm.weight") != std::string::npos;
    const long rows = N * (q ? c.num_attention_heads : k ? c.num_key_value_heads : 1);
    if (t.trainable) s.norms.push_back({rows, static_cast<int>(t.numel)});
  }
  const long KC = static_cast<long>(s.K) * c.hidden_size;
  const long KH = static_cast<long>(s.K) * c.moe_intermediate_size;
  s.operands[0] = N * std::max(D, KC);
  s.operands[1] = N * std::max(D, KH);
  s.operands[2] = N * KH;
  return s;
}

size_t acts_bytes(const Model& m, int max_tokens, int max_seqs, bool backward, bool recompute) {
  size_t bytes = 0;
  if (recompute)
    bytes += layer_acts_bytes(m, widest_layer(m, max_tokens), max_tokens);
  else
    for (int l = 0; l < m.cfg.num_hidden_layers; l++) bytes += layer_acts_bytes(m, l, max_tokens);
  Acts a;
  ArenaPlan p(nullptr);
  acts_plan(m, a, p, max_tokens, max_seqs, true);
  bytes += p.bytes();
  if (backward) {
    ArenaPlan q(nullptr);
    grads_plan(m, a.grad, q, max_tokens);
    bytes += q.bytes();
  }
  return bytes;
}

MemoryPlan model_memory_plan(const Model& m, int max_tokens, int max_seqs, bool with_optimizer,
                             bool recompute) {
  MemoryPlan p;
  const size_t P = static_cast<size_t>(m.num_params);
  p.weights = P * sizeof(float);
  p.weights_bf16 = P * 2;
  const CudaSizes cs = model_cuda_sizes(m, max_tokens);  // bf16 operands and twins' workspace
  p.operands = cuda_sizes_operand_bytes(cs) + cuda_sizes_workspace_bytes(cs);
  p.grads = P * sizeof(float);
  p.adam = with_optimizer ? 2 * P * sizeof(float) : 0;
  p.activations = acts_bytes(m, max_tokens, max_seqs, true, recompute);
  return p;
}

void memory_plan_check(const MemoryPlan& plan, Device d, const std::string& what) {
  if (d != Device::kCuda) return;
  size_t free_bytes = 0, total_bytes = 0;
  cuda_mem_info(&free_bytes, &total_bytes);
  if (plan.total() <= free_bytes) return;
  auto gib = [](size_t b) { return std::to_string(static_cast<double>(b) / (1ull << 30)); };
  throw std::runtime_error(what + " needs " + gib(plan.total()) + " GiB on the GPU (weights " +
                           gib(plan.weights) + " + bf16 " + gib(plan.weights_bf16) +
                           ", GEMM operands " + gib(plan.operands) + ", gradients " +
                           gib(plan.grads) + ", AdamW " + gib(plan.adam) + ", activations " +
                           gib(plan.activations) + "); the device has " + gib(free_bytes) +
                           " GiB free of " + gib(total_bytes));
}

// ----------------------------------------------------------------------------------------------
// Forward

namespace {

// SwiGLU FFN forward: gate/up [N, W], act [N, W]; out[N, C] = act · downᵀ (overwrites out).
void ffn_forward(const Ctx& ctx, float* out, float* gate, float* up, float* act, const float* inp,
                 const float* w_gate, const float* w_up, const float* w_down, int N, int C, int W) {
  linear_forward(ctx, gate, inp, w_gate, N, C, W);
  linear_forward(ctx, up, inp, w_up, N, C, W);
  swiglu_forward(ctx, act, gate, up, static_cast<long>(N) * W);
  linear_forward(ctx, out, act, w_down, N, W, C);
}

// Backward of ffn_forward. dinp += ; scratch dgate, dup, dact are [N, W] and get overwritten.
void ffn_backward(const Ctx& ctx, float* dinp, float* dw_gate, float* dw_up, float* dw_down,
                  const float* dout, const float* gate, const float* up, const float* act,
                  const float* inp, const float* w_gate, const float* w_up, const float* w_down,
                  float* dgate, float* dup, float* dact, int N, int C, int W) {
  const long n = static_cast<long>(N) * W;
  zero(ctx, dact, n);
  zero(ctx, dgate, n);
  zero(ctx, dup, n);
  linear_backward(ctx, dact, dw_down, dout, act, w_down, N, W, C);
  swiglu_backward(ctx, dgate, dup, dact, gate, up, n);
  linear_backward(ctx, dinp, dw_gate, dgate, inp, w_gate, N, C, W);
  linear_backward(ctx, dinp, dw_up, dup, inp, w_up, N, C, W);
}

}  // namespace

void layer_attn_inputs(const Model& m, int l, LayerActs& la, const float* x, const int* positions,
                       int N) {
  const ModelConfig& c = m.cfg;
  layer_acts_reserve(m, l, la, N);  // same sizes, same layout: a no-op after acts_reserve
  rmsnorm_forward(m.ctx, la.ln1.data(), la.ln1_rstd.data(), x, m.w.layers[l].input_layernorm, N,
                  c.hidden_size, c.rms_norm_eps);
  m.attn->inputs(m, l, la, positions, N);
}

void layer_ffn_forward(const Model& m, int l, LayerActs& la, float* x, float* tmp, int N,
                       const int* replay_topk_idx, long* expert_load) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  Dims d = dims_of(c);
  const LayerParams& w = m.w.layers[l];
  const long NC = static_cast<long>(N) * d.C;
  layer_acts_reserve(m, l, la, N);
  rmsnorm_forward(ctx, la.ln2.data(), la.ln2_rstd.data(), x, w.post_attention_layernorm, N, d.C,
                  c.rms_norm_eps);
  if (!cfg_layer_is_moe(c, l)) {
    ffn_forward(ctx, tmp, la.ff_gate.data(), la.ff_up.data(), la.ff_act.data(), la.ln2.data(),
                w.gate_proj, w.up_proj, w.down_proj, N, d.C, d.FF);
    add_inplace(ctx, x, tmp, NC);
    return;
  }
  RouterParams rp = model_router_params(c);
  const int M = N * d.K;
  linear_forward(ctx, la.router_logits.data(), la.ln2.data(), w.router, N, d.C, d.E);
  if (replay_topk_idx)
    device_copy(ctx, la.topk_idx.data(), ctx.device, replay_topk_idx, Device::kCpu,
                static_cast<size_t>(N) * d.K * sizeof(int));
  moe_router_forward(ctx, la.scores.data(), la.topk_idx.data(), la.topk_weights.data(),
                     la.router_logits.data(), w.router_bias, N, rp, replay_topk_idx == nullptr);
  moe_dispatch(ctx, la.expert_offsets.data(), la.row_token.data(), la.row_slot.data(),
               la.slot_row.data(), la.topk_idx.data(), N, d.E, d.K, expert_load);
  moe_gather(ctx, la.xe.data(), la.ln2.data(), la.row_token.data(), M, d.C);
  moe_experts_forward(ctx, la.ye.data(), la.he_gate.data(), la.he_up.data(), la.he_act.data(),
                      la.xe.data(), w.experts_gate, w.experts_up, w.experts_down,
                      la.expert_offsets.data(), d.E, d.C, d.H, M);
  if (d.SH > 0)
    ffn_forward(ctx, tmp, la.ff_gate.data(), la.ff_up.data(), la.ff_act.data(), la.ln2.data(),
                w.shared_gate, w.shared_up, w.shared_down, N, d.C, d.SH);
  else
    zero(ctx, tmp, NC);
  moe_combine(ctx, tmp, la.ye.data(), la.topk_weights.data(), la.row_token.data(),
              la.row_slot.data(), la.slot_row.data(), N, d.K, d.C);
  add_inplace(ctx, x, tmp, NC);
}

void layer_forward(const Model& m, int l, LayerActs& la, float* x, float* tmp, const int* positions,
                   const int* seq_start, int B, int N, const int* replay_topk_idx,
                   long* expert_load) {
  const Ctx& ctx = m.ctx;
  const long NC = static_cast<long>(N) * m.cfg.hidden_size;
  // --- Attention: the family's (MLA or GQA)
  layer_attn_inputs(m, l, la, x, positions, N);
  m.attn->forward(m, l, la, seq_start, B, N, tmp);
  add_inplace(ctx, x, tmp, NC);
  copy(ctx, la.res_mid.data(), x, NC);
  // --- FFN: dense or DeepSeekMoE
  layer_ffn_forward(m, l, la, x, tmp, N, replay_topk_idx, expert_load);
}

namespace {

// Layer l's rows of opt.replay_topk_idx ([num_moe_layers][N, K], host memory), or null.
const int* layer_replay(const ModelConfig& c, const ForwardOptions& opt, int l, int N) {
  if (!opt.replay_topk_idx || !cfg_layer_is_moe(c, l)) return nullptr;
  int moe_l = 0;
  for (int i = 0; i < l; i++) moe_l += cfg_layer_is_moe(c, i);
  return opt.replay_topk_idx + static_cast<size_t>(moe_l) * N * c.num_experts_per_tok;
}

// The activations layer l runs into: its own, or the one set every layer shares (recompute).
LayerActs& layer_acts(Acts& a, int l) {
  return a.layers[a.recompute ? 0 : l];
}

}  // namespace

float model_forward(Model& m, Acts& a, const Batch& batch, const ForwardOptions& opt) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  Dims d = dims_of(c);
  const int N = batch_num_tokens(batch);
  const int B = batch_num_seqs(batch);
  AHA_CHECK(N > 0 && B > 0 && batch.seq_start[B] == N, "malformed batch");
  AHA_CHECK(batch.targets.size() == static_cast<size_t>(N), "targets size != tokens size");
  AHA_CHECK(batch.positions.empty() || batch.positions.size() == static_cast<size_t>(N),
            "positions size != tokens size");
  acts_reserve(m, a, N, B, opt.need_logits, false, opt.recompute);
  a.N = N;
  // bf16 GEMMs read the weights from one bf16 copy made during this forward (a no-op at fp32).
  const bool host_weights = ctx.device == Device::kCpu;
  GemmWeightScope weights_bf16(host_weights ? m.params.data() : nullptr, m.num_params, true);
  for (std::vector<long>& load : a.expert_load) std::fill(load.begin(), load.end(), 0L);
  a.balance_loss = 0;

  // The batch where the model runs (the host's own arrays on the CPU). Positions restart at
  // every sequence unless the batch gives them (decode continuation).
  const bool host = ctx.device == Device::kCpu;
  const int* tokens = batch.tokens.data();
  const int* seq_start = batch.seq_start.data();
  std::vector<int> pos_host;
  int* pos = host ? a.positions.data() : (pos_host.resize(N), pos_host.data());
  if (!batch.positions.empty()) {
    std::copy(batch.positions.begin(), batch.positions.end(), pos);
  } else {
    for (int b = 0; b < B; b++)
      for (int i = batch.seq_start[b]; i < batch.seq_start[b + 1]; i++)
        pos[i] = i - batch.seq_start[b];
  }
  if (!host) {
    device_zero(ctx, a.expert_load_dev.data(), a.expert_load_dev.size() * sizeof(long));
    device_zero(ctx, a.balance_loss_dev.data(), sizeof(double));
    auto up = [&](View<int> dst, const int* src, size_t n) {
      device_copy(ctx, dst.data(), ctx.device, src, Device::kCpu, n * sizeof(int));
    };
    up(a.positions, pos, N);
    up(a.tokens, tokens, N);
    up(a.targets, batch.targets.data(), N);
    up(a.seq_start, seq_start, B + 1);
    tokens = a.tokens.data();
    seq_start = a.seq_start.data();
    if (opt.sync_weights) cuda_ctx_sync_weights(ctx);  // the bf16 copy the GEMMs read
  }

  float* x = a.x.data();  // [N, C] residual stream
  float* tmp = a.tmp.data();
  const long NC = static_cast<long>(N) * d.C;
  embedding_forward(ctx, x, tokens, m.w.embed, N, d.V, d.C);

  for (int l = 0; l < d.L; l++) {
    LayerActs& la = layer_acts(a, l);
    copy(ctx, a.res_in.data() + static_cast<size_t>(l) * NC, x, NC);
    long* load =
        host ? a.expert_load[l].data() : a.expert_load_dev.data() + static_cast<size_t>(l) * d.E;
    layer_forward(m, l, la, x, tmp, a.positions.data(), seq_start, B, N, layer_replay(c, opt, l, N),
                  load);
    if (cfg_layer_is_moe(c, l) && opt.balance_alpha > 0)
      moe_balance_loss(ctx, host ? &a.balance_loss : a.balance_loss_dev.data(), la.scores.data(),
                       la.topk_idx.data(), seq_start, B, N, model_router_params(c),
                       opt.balance_alpha, nullptr);
  }

  // The loads and the balance loss are metrics: back to the host in one copy, after the last
  // kernel of the forward is queued (a copy waits for the stream).
  auto metrics_to_host = [&] {
    if (host) return;
    device_copy(ctx, a.expert_load_host.data(), Device::kCpu, a.expert_load_dev.data(), ctx.device,
                a.expert_load_host.size() * sizeof(long));
    for (int l = 0; l < d.L; l++)
      std::copy_n(a.expert_load_host.data() + static_cast<size_t>(l) * d.E, d.E,
                  a.expert_load[l].data());
    if (opt.balance_alpha > 0)
      device_copy(ctx, &a.balance_loss, Device::kCpu, a.balance_loss_dev.data(), ctx.device,
                  sizeof(double));
  };
  copy(ctx, a.res_final.data(), x, NC);
  rmsnorm_forward(ctx, a.lnf.data(), a.lnf_rstd.data(), x, m.w.norm, N, d.C, c.rms_norm_eps);
  if (!opt.need_logits) {
    metrics_to_host();
    return 0.0f;
  }
  const int* targets = host ? batch.targets.data() : a.targets.data();
  linear_forward(ctx, a.logits.data(), a.lnf.data(), m.w.lm_head, N, d.C, d.V);
  logprob_forward(ctx, a.logp.data(), a.lse.data(), opt.need_entropy ? a.entropy.data() : nullptr,
                  a.logits.data(), targets, N, d.V, opt.inv_temp);
  metrics_to_host();
  return logprob_mean_nll(ctx, a.logp.data(), targets, N);
}

// ----------------------------------------------------------------------------------------------
// Backward

namespace {

// The head's backward on the CPU, kHeadVocabChunk columns of the vocabulary at a time: the
// chunk's dlogits[N, VC] (dlogits_chunk, the same values as the whole matrix's), then its share
// of dln[N,C] += dlogits·W and its rows of dW[V,C] += dlogitsᵀ·lnf. The chunk stays in cache
// between the three, where [N, V] went to memory and back twice, and dln's GEMM has K = VC, the
// depth oneDNN runs fastest (kernels/gemm.h). Chunks are fixed, so the sums do not depend on the
// thread count.
void head_backward_cpu(float* dln, float* dlm_head, float* dlogits_chunk, const float* dlogp,
                       const float* logits, const float* lse, const int* targets, const float* lnf,
                       const float* lm_head, int N, int C, int V, float inv_temp) {
  for (int v0 = 0; v0 < V; v0 += kHeadVocabChunk) {
    const int vc = std::min(kHeadVocabChunk, V - v0);
    logprob_backward_cols(dlogits_chunk, dlogp, logits, lse, targets, N, V, v0, vc, inv_temp);
    linear_backward(dln, dlm_head + static_cast<size_t>(v0) * C, dlogits_chunk, lnf,
                    lm_head + static_cast<size_t>(v0) * C, N, C, vc);
  }
}

}  // namespace

void model_backward(Model& m, Acts& a, const Batch& batch, const float* dlogp,
                    const ForwardOptions& opt) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  Dims d = dims_of(c);
  const int N = a.N;
  const int B = batch_num_seqs(batch);
  AHA_CHECK(N == batch_num_tokens(batch), "backward batch differs from the forward's");
  AHA_CHECK(opt.need_logits && a.logits.size() == static_cast<size_t>(N) * d.V,
            "backward needs the logits of the forward");
  AHA_CHECK(opt.recompute == a.recompute, "backward recompute differs from the forward's");
  if (m.grads.empty()) model_alloc_grads(m);
  // The bf16 weight copy its forward made (weights do not change between the two).
  GemmWeightScope weights_bf16(ctx.device == Device::kCpu ? m.params.data() : nullptr, m.num_params,
                               false);
  // Laid out once for the largest batch (acts_reserve with backward); a no-op afterwards.
  arena_plan(a.grad.arena, ctx.device, [&](ArenaPlan& p) { grads_plan(m, a.grad, p, N); });
  GradScratch& gs = a.grad;
  const bool host = ctx.device == Device::kCpu;
  const int* tokens = host ? batch.tokens.data() : a.tokens.data();
  const int* targets = host ? batch.targets.data() : a.targets.data();
  const int* seq_start = host ? batch.seq_start.data() : a.seq_start.data();
  const ParamPtrs& gp = m.g;
  RouterParams rp = model_router_params(c);
  const long NC = static_cast<long>(N) * d.C;
  float* dx = gs.dx.data();
  float* dln = gs.dln.data();

  zero(ctx, dln, NC);
  if (host) {
    head_backward_cpu(dln, gp.lm_head, gs.dlogits.data(), dlogp, a.logits.data(), a.lse.data(),
                      targets, a.lnf.data(), m.w.lm_head, N, d.C, d.V, opt.inv_temp);
  } else {
    logprob_backward(ctx, gs.dlogits.data(), dlogp, a.logits.data(), a.lse.data(), targets, N, d.V,
                     opt.inv_temp);
    linear_backward(ctx, dln, gp.lm_head, gs.dlogits.data(), a.lnf.data(), m.w.lm_head, N, d.C,
                    d.V);
  }
  zero(ctx, dx, NC);
  rmsnorm_backward(ctx, dx, gp.norm, dln, a.res_final.data(), m.w.norm, a.lnf_rstd.data(), N, d.C);

  for (int l = d.L - 1; l >= 0; l--) {
    const LayerParams& w = m.w.layers[l];
    const LayerParams& g = gp.layers[l];
    LayerActs& la = layer_acts(a, l);
    const float* res_in = a.res_in.data() + static_cast<size_t>(l) * NC;
    if (a.recompute) {
      // Layer l's activations again from its input, routed as its forward was (the same replay,
      // or the same top-k of the same scores); loads and the balance loss were counted then.
      // a.x and a.tmp are free: the head's backward reads res_final.
      copy(ctx, a.x.data(), res_in, NC);
      layer_forward(m, l, la, a.x.data(), a.tmp.data(), a.positions.data(), seq_start, B, N,
                    layer_replay(c, opt, l, N), nullptr);
    }

    // --- FFN (dx is the gradient of the layer output; the residual passes it through)
    zero(ctx, dln, NC);
    if (!cfg_layer_is_moe(c, l)) {
      ffn_backward(ctx, dln, g.gate_proj, g.up_proj, g.down_proj, dx, la.ff_gate.data(),
                   la.ff_up.data(), la.ff_act.data(), la.ln2.data(), w.gate_proj, w.up_proj,
                   w.down_proj, gs.s1.data(), gs.s2.data(), gs.s3.data(), N, d.C, d.FF);
    } else {
      const int M = N * d.K;
      zero(ctx, gs.dxe.data(), static_cast<long>(M) * d.C);
      zero(ctx, gs.dtopk.data(), static_cast<long>(N) * d.K);
      moe_combine_backward(ctx, gs.dye.data(), gs.dtopk.data(), dx, la.ye.data(),
                           la.topk_weights.data(), la.row_token.data(), la.row_slot.data(), M, d.C);
      moe_experts_backward(ctx, gs.dxe.data(), g.experts_gate, g.experts_up, g.experts_down,
                           gs.dye.data(), la.he_gate.data(), la.he_up.data(), la.he_act.data(),
                           la.xe.data(), w.experts_gate, w.experts_up, w.experts_down,
                           la.expert_offsets.data(), d.E, d.C, d.H, M, gs.s1.data(), gs.s2.data(),
                           gs.s3.data());
      moe_gather_backward(ctx, dln, gs.dxe.data(), la.row_token.data(), la.slot_row.data(), N, d.K,
                          d.C);
      zero(ctx, gs.drouter.data(), static_cast<long>(N) * d.E);
      moe_router_backward(ctx, gs.drouter.data(), gs.dtopk.data(), la.scores.data(),
                          la.topk_idx.data(), N, rp);
      if (opt.balance_alpha > 0)
        moe_balance_loss(ctx, nullptr, la.scores.data(), la.topk_idx.data(), seq_start, B, N, rp,
                         opt.balance_alpha, gs.drouter.data());
      linear_backward(ctx, dln, g.router, gs.drouter.data(), la.ln2.data(), w.router, N, d.C, d.E);
      if (d.SH > 0)
        ffn_backward(ctx, dln, g.shared_gate, g.shared_up, g.shared_down, dx, la.ff_gate.data(),
                     la.ff_up.data(), la.ff_act.data(), la.ln2.data(), w.shared_gate, w.shared_up,
                     w.shared_down, gs.s1.data(), gs.s2.data(), gs.s3.data(), N, d.C, d.SH);
    }
    rmsnorm_backward(ctx, dx, g.post_attention_layernorm, dln, la.res_mid.data(),
                     w.post_attention_layernorm, la.ln2_rstd.data(), N, d.C);

    // --- Attention (dx is now the gradient at res_mid)
    zero(ctx, dln, NC);
    m.attn->backward(m, l, la, gs, a.positions.data(), seq_start, B, N, dx, dln);
    rmsnorm_backward(ctx, dx, g.input_layernorm, dln, res_in, w.input_layernorm, la.ln1_rstd.data(),
                     N, d.C);
  }
  embedding_backward(ctx, gp.embed, dx, tokens, N, d.V, d.C);
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
