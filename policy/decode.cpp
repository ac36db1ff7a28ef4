#include "policy/decode.h"

#include <algorithm>
#include <cstring>

#include "kernels/check.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "policy/family.h"

namespace aha {

int cache_row_width(const ModelConfig& c) {
  return attention_ops(c).cache_row_width(c);
}

void cache_init(KvCache& cache, const ModelConfig& cfg, int num_rows, Device device) {
  cache.L = cfg.num_hidden_layers;
  cache.W = cache_row_width(cfg);
  cache.num_rows = num_rows;
  cache.data.alloc(device, static_cast<size_t>(cache.L) * num_rows * cache.W);
  cache.free_rows.clear();
  // Handed out lowest first.
  for (int r = num_rows - 1; r >= 0; r--) cache.free_rows.push_back(r);
}

int cache_alloc_row(KvCache& cache) {
  if (cache.free_rows.empty()) return -1;
  int r = cache.free_rows.back();
  cache.free_rows.pop_back();
  return r;
}

void cache_free_row(KvCache& cache, int row) {
  AHA_CHECK(row >= 0 && row < cache.num_rows, "cache row out of range");
  cache.free_rows.push_back(row);
}

long cache_bytes_per_token(const ModelConfig& c) {
  return static_cast<long>(c.num_hidden_layers) * cache_row_width(c) *
         static_cast<long>(sizeof(float));
}

long mha_cache_bytes_per_token(const ModelConfig& c) {
  return static_cast<long>(c.num_hidden_layers) * c.num_attention_heads *
         (cfg_qk_head_dim(c) + cfg_v_head_dim(c)) * static_cast<long>(sizeof(float));
}

void decode_prefill(Model& m, Acts& acts, KvCache& cache, const int* tokens, int T, const int* rows,
                    float* logits_last, std::vector<int>* topk_out) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  AHA_CHECK(ctx.device == Device::kCpu, "decode runs on the CPU only");
  Batch batch;
  batch.tokens.assign(tokens, tokens + T);
  batch.targets.assign(T, -1);
  batch.seq_start = {0, T};
  ForwardOptions opt;
  opt.need_logits = false;
  model_forward(m, acts, batch, opt);
  for (int l = 0; l < c.num_hidden_layers; l++)
    m.attn->cache_write(m, cache, l, acts.layers[l], rows, T);
  linear_forward(ctx, logits_last, &acts.lnf[static_cast<size_t>(T - 1) * c.hidden_size],
                 m.w.lm_head, 1, c.hidden_size, c.vocab_size);
  if (topk_out) {
    topk_out->clear();
    for (int l = 0; l < c.num_hidden_layers; l++) {
      if (!cfg_layer_is_moe(c, l)) continue;
      const View<int>& t = acts.layers[l].topk_idx;
      topk_out->insert(topk_out->end(), t.begin(),
                       t.begin() + static_cast<long>(T) * c.num_experts_per_tok);
    }
  }
}

void decode_scratch_reserve(const Model& m, DecodeScratch& s, int B) {
  const ModelConfig& c = m.cfg;
  const int L = c.num_hidden_layers;
  s.layers.resize(L);
  for (int l = 0; l < L; l++) layer_acts_reserve(m, l, s.layers[l], B);
  const size_t b = B, C = c.hidden_size;
  arena_plan(s.arena, m.ctx.device, [&](ArenaPlan& p) {
    p.take(s.x, b * C);
    p.take(s.tmp, b * C);
    m.attn->plan_decode(c, s, p, B);
    p.take(s.lnf, b * C);
  });
  s.B = B;
  if (s.expert_load.size() != static_cast<size_t>(L))
    s.expert_load.assign(L, std::vector<long>(c.n_routed_experts, 0));
}

namespace {

// decode_step over B rows with one scratch; topk_out rows are topk_ld apart per MoE layer.
void decode_rows(Model& m, DecodeScratch& s, KvCache& cache, const int* tokens,
                 const int* positions, const int* new_rows, const int* ctx_rows,
                 const int* ctx_start, int B, float* logits, int* topk_out, int topk_ld) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const int C = c.hidden_size, K = c.num_experts_per_tok;
  decode_scratch_reserve(m, s, B);
  float* x = s.x.data();
  float* tmp = s.tmp.data();
  embedding_forward(ctx, x, tokens, m.w.embed, B, c.vocab_size, C);

  int moe_l = 0;
  for (int l = 0; l < c.num_hidden_layers; l++) {
    LayerActs& la = s.layers[l];
    layer_attn_inputs(m, l, la, x, positions, B);
    m.attn->cache_write(m, cache, l, la, new_rows, B);
    m.attn->decode(m, l, la, s, cache, ctx_rows, ctx_start, B, tmp);
    add_inplace(ctx, x, tmp, static_cast<long>(B) * C);
    long* load = cfg_layer_is_moe(c, l) ? s.expert_load[l].data() : nullptr;
    layer_ffn_forward(m, l, la, x, tmp, B, nullptr, load);
    if (cfg_layer_is_moe(c, l)) {
      if (topk_out)
        std::memcpy(topk_out + static_cast<size_t>(moe_l) * topk_ld * K, la.topk_idx.data(),
                    static_cast<size_t>(B) * K * sizeof(int));
      moe_l++;
    }
  }
  rmsnorm_forward(ctx, s.lnf.data(), nullptr, x, m.w.norm, B, C, c.rms_norm_eps);
  linear_forward(ctx, logits, s.lnf.data(), m.w.lm_head, B, C, c.vocab_size);
}

}  // namespace

void decode_step(Model& m, DecodeScratch& s, KvCache& cache, const int* tokens,
                 const int* positions, const int* new_rows, const int* ctx_rows,
                 const int* ctx_start, int B, float* logits, int* topk_out) {
  const ModelConfig& c = m.cfg;
  AHA_CHECK(m.ctx.device == Device::kCpu, "decode runs on the CPU only");
  for (int b = 0; b < B; b++)
    AHA_CHECK(ctx_start[b + 1] > ctx_start[b] && ctx_rows[ctx_start[b + 1] - 1] == new_rows[b],
              "a sequence's context must end with its new row");
  if (B <= kDecodeSliceRows) {
    decode_rows(m, s, cache, tokens, positions, new_rows, ctx_rows, ctx_start, B, logits, topk_out,
                B);
    return;
  }
  // The step runs in slices of kDecodeSliceRows rows, the compute threads taking slices: one
  // fork-join per step instead of one per op, and every op of a slice (small GEMMs included)
  // keeps its core busy. Slices depend on B only, so results do not depend on the thread count.
  // Rows of a slice touch only their own cache rows and outputs.
  const int parts = (B + kDecodeSliceRows - 1) / kDecodeSliceRows;
  if (s.parts.size() < static_cast<size_t>(parts)) s.parts.resize(parts);
  const int L = c.num_hidden_layers, V = c.vocab_size, K = c.num_experts_per_tok;
  parallel_for(parts, [&](int i) {
    const int b0 = i * kDecodeSliceRows, b1 = std::min(B, b0 + kDecodeSliceRows);
    DecodeScratch& ps = s.parts[i];
    ps.ctx_start.resize(b1 - b0 + 1);
    for (int b = b0; b <= b1; b++) ps.ctx_start[b - b0] = ctx_start[b] - ctx_start[b0];
    decode_rows(m, ps, cache, tokens + b0, positions + b0, new_rows + b0, ctx_rows + ctx_start[b0],
                ps.ctx_start.data(), b1 - b0, logits + static_cast<size_t>(b0) * V,
                topk_out ? topk_out + static_cast<size_t>(b0) * K : nullptr, B);
  });
  if (s.expert_load.size() != static_cast<size_t>(L))
    s.expert_load.assign(L, std::vector<long>(c.n_routed_experts, 0));
  for (int i = 0; i < parts; i++)
    for (int l = 0; l < L; l++)
      for (size_t e = 0; e < s.parts[i].expert_load[l].size(); e++) {
        s.expert_load[l][e] += s.parts[i].expert_load[l][e];
        s.parts[i].expert_load[l][e] = 0;
      }
}

}  // namespace aha
