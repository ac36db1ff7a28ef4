#include "policy/decode.h"

#include <cstring>

#include "kernels/check.h"
#include "kernels/embedding.h"
#include "kernels/linear.h"
#include "kernels/rmsnorm.h"
#include "policy/family.h"

namespace aha {

int cache_row_width(const ModelConfig& c) {
  return cfg_is_mla(c) ? c.kv_lora_rank + c.qk_rope_head_dim
                       : 2 * c.num_key_value_heads * c.head_dim;
}

void cache_init(KvCache& cache, const ModelConfig& cfg, int num_rows) {
  cache.L = cfg.num_hidden_layers;
  cache.W = cache_row_width(cfg);
  cache.num_rows = num_rows;
  cache.data.assign(static_cast<size_t>(cache.L) * num_rows * cache.W, 0.0f);
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

static void cache_write(const Model& m, KvCache& cache, int l, const LayerActs& la, const int* rows,
                        int N) {
  if (cfg_is_mla(m.cfg))
    mla_cache_write(m, cache, l, la, rows, N);
  else
    gqa_cache_write(m, cache, l, la, rows, N);
}

void decode_prefill(Model& m, Acts& acts, KvCache& cache, const int* tokens, int T, const int* rows,
                    float* logits_last, std::vector<int>* topk_out) {
  const ModelConfig& c = m.cfg;
  Batch batch;
  batch.tokens.assign(tokens, tokens + T);
  batch.targets.assign(T, -1);
  batch.seq_start = {0, T};
  ForwardOptions opt;
  opt.need_logits = false;
  model_forward(m, acts, batch, opt);
  for (int l = 0; l < c.num_hidden_layers; l++) cache_write(m, cache, l, acts.layers[l], rows, T);
  linear_forward(logits_last, &acts.lnf[static_cast<size_t>(T - 1) * c.hidden_size], m.w.lm_head, 1,
                 c.hidden_size, c.vocab_size);
  if (topk_out) {
    topk_out->clear();
    for (int l = 0; l < c.num_hidden_layers; l++) {
      if (!cfg_layer_is_moe(c, l)) continue;
      const std::vector<int>& t = acts.layers[l].topk_idx;
      topk_out->insert(topk_out->end(), t.begin(),
                       t.begin() + static_cast<long>(T) * c.num_experts_per_tok);
    }
  }
}

void decode_step(Model& m, DecodeScratch& s, KvCache& cache, const int* tokens,
                 const int* positions, const int* new_rows, const int* ctx_rows,
                 const int* ctx_start, int B, float* logits, int* topk_out) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, K = c.num_experts_per_tok;
  const bool mla = cfg_is_mla(c);
  for (int b = 0; b < B; b++)
    AHA_CHECK(ctx_start[b + 1] > ctx_start[b] && ctx_rows[ctx_start[b + 1] - 1] == new_rows[b],
              "a sequence's context must end with its new row");
  s.layers.resize(c.num_hidden_layers);
  if (s.expert_load.size() != static_cast<size_t>(c.num_hidden_layers))
    s.expert_load.assign(c.num_hidden_layers, std::vector<long>(c.n_routed_experts, 0));
  s.x.resize(static_cast<size_t>(B) * C);
  s.tmp.resize(static_cast<size_t>(B) * C);
  embedding_forward(s.x.data(), tokens, m.w.embed, B, c.vocab_size, C);

  int moe_l = 0;
  for (int l = 0; l < c.num_hidden_layers; l++) {
    LayerActs& la = s.layers[l];
    layer_attn_inputs(m, l, la, s.x.data(), positions, B);
    cache_write(m, cache, l, la, new_rows, B);
    if (mla)
      mla_decode(m, l, la, s, cache, ctx_rows, ctx_start, B, s.tmp.data());
    else
      gqa_decode(m, l, la, s, cache, ctx_rows, ctx_start, B, s.tmp.data());
    for (size_t i = 0; i < s.x.size(); i++) s.x[i] += s.tmp[i];
    long* load = cfg_layer_is_moe(c, l) ? s.expert_load[l].data() : nullptr;
    layer_ffn_forward(m, l, la, s.x.data(), s.tmp.data(), B, nullptr, load);
    if (cfg_layer_is_moe(c, l)) {
      if (topk_out)
        std::memcpy(topk_out + static_cast<size_t>(moe_l) * B * K, la.topk_idx.data(),
                    static_cast<size_t>(B) * K * sizeof(int));
      moe_l++;
    }
  }
  s.lnf.resize(static_cast<size_t>(B) * C);
  rmsnorm_forward(s.lnf.data(), nullptr, s.x.data(), m.w.norm, B, C, c.rms_norm_eps);
  linear_forward(logits, s.lnf.data(), m.w.lm_head, B, C, c.vocab_size);
}

}  // namespace aha
