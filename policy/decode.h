// Incremental decoding with a per-token cache whose rows depend on the attention variant:
// - MLA (DeepSeek): the normalised c_kv (R values) and the rope-rotated k_rope (DR values),
//   R+DR floats per token per layer where a multi-head cache would hold NH*(DQK+DV). W_uk is
//   absorbed into the query and W_uv into the output, so decode attention runs in the latent
//   space (kernels/attention.h: mla_decode_attention).
// - GQA (Qwen): k (normed, rope applied) and v of the NKV key/value heads, 2*NKV*HD floats.
//
// Invariants: a token owns one cache row, the same row index in every layer. A sequence's context
// is the list of its rows in position order; rows may be shared between sequences (a prompt
// prefilled once for the G samples of a group). Rows are handed out and returned by the caller
// through cache_alloc_row / cache_free_row; the cache never frees a row by itself.
#pragma once
#include <vector>

#include "policy/model.h"

namespace aha {

struct KvCache {
  int L = 0;  // layers
  int W = 0;  // floats per row per layer (cache_row_width)
  int num_rows = 0;
  Buffer<float> data;  // [L, num_rows, W] on the model's device
  std::vector<int> free_rows;
};

// Floats one token takes per layer: R+DR (MLA) or 2*NKV*HD (GQA).
int cache_row_width(const ModelConfig& cfg);
void cache_init(KvCache& cache, const ModelConfig& cfg, int num_rows, Device device = Device::kCpu);
// A free row, or -1 when the cache is full.
int cache_alloc_row(KvCache& cache);
void cache_free_row(KvCache& cache, int row);
inline int cache_num_free(const KvCache& cache) {
  return static_cast<int>(cache.free_rows.size());
}
inline float* cache_layer(KvCache& cache, int l) {
  return cache.data.data() + static_cast<size_t>(l) * cache.num_rows * cache.W;
}
// Cache bytes per token, and what a multi-head cache of the same heads would take.
long cache_bytes_per_token(const ModelConfig& cfg);
long mha_cache_bytes_per_token(const ModelConfig& cfg);

// Scratch of the decode path for up to B rows, views into one arena (decode_scratch_reserve
// sizes it up front; a larger B reallocates). Decoding runs on the CPU (rollout workers); the
// learner's forward/backward is what runs on a GPU.
struct DecodeScratch {
  std::vector<LayerActs> layers;
  Arena arena;
  int B = 0;                                   // rows the views are laid out for
  View<float> x, tmp;                          // [B, C]
  View<float> q_lat;                           // [B, NH, R]   MLA
  View<float> q_rope;                          // [B, NH, DR]  MLA
  View<float> out_lat;                         // [B, NH, R]   MLA
  View<float> att;                             // [B, NH, DV] (GQA: [B, NH, HD])
  View<float> lnf;                             // [B, C]
  std::vector<std::vector<long>> expert_load;  // [L][E] accumulated over calls
  // A step of more than kDecodeSliceRows rows runs in slices, each with its own scratch.
  std::vector<DecodeScratch> parts;
  std::vector<int> ctx_start;  // a slice's ctx_start, rebased to 0
};

// decode_step runs a larger batch in slices of this many rows over the compute threads.
constexpr int kDecodeSliceRows = 32;

// Lays out s for steps of up to B rows.
void decode_scratch_reserve(const Model& m, DecodeScratch& s, int B);

// Prefill one prompt of T tokens at positions 0..T-1 with the learner's forward, writing each
// token's cache row to rows[t]; logits_last[V] gets the last position's logits. topk_out, when
// not null, receives the routed experts [num_moe_layers][T, K].
void decode_prefill(Model& m, Acts& acts, KvCache& cache, const int* tokens, int T, const int* rows,
                    float* logits_last, std::vector<int>* topk_out);

// One step for B sequences: tokens[b] at positions[b] is written to new_rows[b]; sequence b
// attends to ctx_rows[ctx_start[b] .. ctx_start[b+1]) which must end with new_rows[b].
// logits[B, V]. topk_out, when not null, is [num_moe_layers][B, K].
void decode_step(Model& m, DecodeScratch& s, KvCache& cache, const int* tokens,
                 const int* positions, const int* new_rows, const int* ctx_rows,
                 const int* ctx_start, int B, float* logits, int* topk_out);

}  // namespace aha
