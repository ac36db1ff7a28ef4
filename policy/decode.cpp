#include "policy/decode.h"

#include <cblas.h>

#include <cmath>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/check.h"
#include "kernels/embedding.h"
#include "kernels/linear.h"
#include "kernels/rmsnorm.h"

namespace aha {

void cache_init(LatentCache& cache, const ModelConfig& cfg, int num_rows) {
  cache.L = cfg.num_hidden_layers;
  cache.R = cfg.kv_lora_rank;
  cache.DR = cfg.qk_rope_head_dim;
  cache.num_rows = num_rows;
  cache.data.assign(static_cast<size_t>(cache.L) * num_rows * (cache.R + cache.DR), 0.0f);
  cache.free_rows.clear();
  // Handed out lowest first.
  for (int r = num_rows - 1; r >= 0; r--) cache.free_rows.push_back(r);
}

int cache_alloc_row(LatentCache& cache) {
  if (cache.free_rows.empty()) return -1;
  int r = cache.free_rows.back();
  cache.free_rows.pop_back();
  return r;
}

void cache_free_row(LatentCache& cache, int row) {
  AHA_CHECK(row >= 0 && row < cache.num_rows, "cache row out of range");
  cache.free_rows.push_back(row);
}

long cache_bytes_per_token(const ModelConfig& c) {
  return static_cast<long>(c.num_hidden_layers) * (c.kv_lora_rank + c.qk_rope_head_dim) *
         static_cast<long>(sizeof(float));
}

long mha_cache_bytes_per_token(const ModelConfig& c) {
  return static_cast<long>(c.num_hidden_layers) * c.num_attention_heads *
         (cfg_qk_head_dim(c) + c.v_head_dim) * static_cast<long>(sizeof(float));
}

static void write_latents(LatentCache& cache, int l, const LayerActs& la, const int* rows, int N) {
  const int R = cache.R, DR = cache.DR, W = R + DR;
  float* base = cache_layer(cache, l);
  for (int n = 0; n < N; n++) {
    AHA_CHECK(rows[n] >= 0 && rows[n] < cache.num_rows, "cache row out of range");
    float* dst = base + static_cast<size_t>(rows[n]) * W;
    std::memcpy(dst, &la.ckv[static_cast<size_t>(n) * R], R * sizeof(float));
    std::memcpy(dst + R, &la.kv_a[static_cast<size_t>(n) * W + R], DR * sizeof(float));
  }
}

void decode_prefill(Model& m, Acts& acts, LatentCache& cache, const int* tokens, int T,
                    const int* rows, float* logits_last, std::vector<int>* topk_out) {
  const ModelConfig& c = m.cfg;
  Batch batch;
  batch.tokens.assign(tokens, tokens + T);
  batch.targets.assign(T, -1);
  batch.seq_start = {0, T};
  ForwardOptions opt;
  opt.need_logits = false;
  model_forward(m, acts, batch, opt);
  for (int l = 0; l < c.num_hidden_layers; l++) write_latents(cache, l, acts.layers[l], rows, T);
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

void decode_step(Model& m, DecodeScratch& s, LatentCache& cache, const int* tokens,
                 const int* positions, const int* new_rows, const int* ctx_rows,
                 const int* ctx_start, int B, float* logits, int* topk_out) {
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, R = c.kv_lora_rank,
            DR = c.qk_rope_head_dim, DN = c.qk_nope_head_dim, DV = c.v_head_dim;
  const int DQK = DN + DR, K = c.num_experts_per_tok;
  const float scale = 1.0f / std::sqrt(static_cast<float>(DQK));
  for (int b = 0; b < B; b++)
    AHA_CHECK(ctx_start[b + 1] > ctx_start[b] && ctx_rows[ctx_start[b + 1] - 1] == new_rows[b],
              "a sequence's context must end with its new row");
  s.layers.resize(c.num_hidden_layers);
  if (s.expert_load.size() != static_cast<size_t>(c.num_hidden_layers))
    s.expert_load.assign(c.num_hidden_layers, std::vector<long>(c.n_routed_experts, 0));
  s.x.resize(static_cast<size_t>(B) * C);
  s.tmp.resize(static_cast<size_t>(B) * C);
  s.q_lat.resize(static_cast<size_t>(B) * NH * R);
  s.q_rope.resize(static_cast<size_t>(B) * NH * DR);
  s.out_lat.resize(static_cast<size_t>(B) * NH * R);
  s.att.resize(static_cast<size_t>(B) * NH * DV);
  embedding_forward(s.x.data(), tokens, m.w.embed, B, c.vocab_size, C);

  int moe_l = 0;
  for (int l = 0; l < c.num_hidden_layers; l++) {
    const LayerParams& w = m.w.layers[l];
    LayerActs& la = s.layers[l];
    layer_attn_inputs(m, l, la, s.x.data(), positions, B);
    write_latents(cache, l, la, new_rows, B);
    // Absorb W_uk into the query: q_lat[b,h] = W_uk_hᵀ q_nope[b,h], W_uk_h = kv_b rows of head h.
    for (int h = 0; h < NH; h++) {
      const float* wuk = w.kv_b_proj + static_cast<size_t>(h) * (DN + DV) * R;  // [DN, R]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, R, DN, 1.0f,
                  la.q.data() + static_cast<size_t>(h) * DQK, NH * DQK, wuk, R, 0.0f,
                  s.q_lat.data() + static_cast<size_t>(h) * R, NH * R);
      for (int b = 0; b < B; b++)
        std::memcpy(&s.q_rope[(static_cast<size_t>(b) * NH + h) * DR],
                    &la.q[(static_cast<size_t>(b) * NH + h) * DQK + DN], DR * sizeof(float));
    }
    mla_decode_attention(s.out_lat.data(), s.q_lat.data(), s.q_rope.data(), cache_layer(cache, l),
                         ctx_rows, ctx_start, B, NH, R, DR, scale);
    // Absorb W_uv into the output: att[b,h] = W_uv_h out_lat[b,h], W_uv_h [DV, R].
    for (int h = 0; h < NH; h++) {
      const float* wuv = w.kv_b_proj + (static_cast<size_t>(h) * (DN + DV) + DN) * R;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, DV, R, 1.0f,
                  s.out_lat.data() + static_cast<size_t>(h) * R, NH * R, wuv, R, 0.0f,
                  s.att.data() + static_cast<size_t>(h) * DV, NH * DV);
    }
    linear_forward(s.tmp.data(), s.att.data(), w.o_proj, B, NH * DV, C);
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
