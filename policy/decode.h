// Incremental decoding with a per-token cache whose rows depend on the attention variant:
// - MLA (DeepSeek): the normalised c_kv (R values) and the rope-rotated k_rope (DR values),
//   R+DR floats per token per layer where a multi-head cache would hold NH*(DQK+DV). W_uk is
//   absorbed into the query and W_uv into the output, so decode attention runs in the latent
//   space (kernels/attention.h: mla_decode_attention).
// - GQA (Qwen): k (normed, rope applied) and v of the NKV key/value heads, 2*NKV*HD floats.
//
// Invariants: the cache is paged (policy/kv_pages.h): a token owns one cache row,
// page * kPageTokens + slot, the same row in every layer. A sequence's context is its page table
// (pages in position order and a length); pages may be shared between sequences (a prompt
// prefilled once for the G samples of a group), and a shared page is never written: a sequence
// about to write into its shared, partially filled last page first copies the filled slots into a
// page of its own (cache_append_token: copy-on-write; the last holder writes in place). Pages are
// handed out and returned through the cache's pool; the cache never frees a page by itself.
#pragma once
#include <vector>

#include "policy/kv_pages.h"
#include "policy/model.h"

namespace aha {

struct KvCache {
  int L = 0;           // layers
  int W = 0;           // floats per row per layer (cache_row_width)
  int num_rows = 0;    // pool.num_pages * kPageTokens
  Buffer<float> data;  // [L, num_rows, W] on the model's device; row = page * kPageTokens + slot
  KvPagePool pool;
};

// Floats one token takes per layer: R+DR (MLA) or 2*NKV*HD (GQA).
int cache_row_width(const ModelConfig& cfg);
void cache_init(KvCache& cache, const ModelConfig& cfg, int num_pages,
                Device device = Device::kCpu);
inline int cache_num_free_pages(const KvCache& cache) {
  return page_pool_num_free(cache.pool);
}
inline float* cache_layer(KvCache& cache, int l) {
  return cache.data.data() + static_cast<size_t>(l) * cache.num_rows * cache.W;
}
// Makes room for position t.len of sequence t and returns its cache row (t.len grows by one), or
// -1 when a page is needed and none is free (t unchanged). Takes a new page at a page boundary;
// copies a shared, partially filled last page into a new page of t's own (all layers, the filled
// slots) before t writes into it. CPU caches only.
int cache_append_token(KvCache& cache, KvPageTable& t);
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
  std::vector<int> page_indptr;  // a slice's page_indptr, rebased to 0
  std::vector<int> positions;    // [B] seq_lens - 1
  std::vector<int> new_rows;     // [B] cache row of each sequence's new token
};

// decode_step runs a larger batch in slices of this many rows over the compute threads.
constexpr int kDecodeSliceRows = 32;

// Lays out s for steps of up to B rows.
void decode_scratch_reserve(const Model& m, DecodeScratch& s, int B);

// Prefill one prompt of T tokens at positions 0..T-1 with the learner's forward, writing each
// token's cache row to position t of table (table.len == T, its pages held by the caller);
// logits_last[V] gets the last position's logits. topk_out, when not null, receives the routed
// experts [num_moe_layers][T, K].
void decode_prefill(Model& m, Acts& acts, KvCache& cache, const int* tokens, int T,
                    const KvPageTable& table, float* logits_last, std::vector<int>* topk_out);

// One step for B sequences over their page tables in FlashInfer's paged format: sequence b has
// seq_lens[b] >= 1 positions on the pages page_ids[page_indptr[b] .. page_indptr[b+1]) (exactly
// ceil(seq_lens[b] / kPageTokens) of them); tokens[b] is its last position, seq_lens[b] - 1,
// whose row the caller made room for (cache_append_token) and which this step writes.
// logits[B, V]. topk_out, when not null, is [num_moe_layers][B, K].
void decode_step(Model& m, DecodeScratch& s, KvCache& cache, const int* tokens,
                 const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
                 float* logits, int* topk_out);

}  // namespace aha
