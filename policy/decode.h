// Incremental decoding with a per-token cache whose rows depend on the attention variant:
// - MLA (DeepSeek): the normalised c_kv (R values) and the rope-rotated k_rope (DR values),
//   R+DR values per token per layer where a multi-head cache would hold NH*(DQK+DV). W_uk is
//   absorbed into the query and W_uv into the output, so decode attention runs in the latent
//   space (kernels/attention.h: mla_decode_attention).
// - GQA (Qwen): k (normed, rope applied) and v of the NKV key/value heads, 2*NKV*HD values.
//
// Invariants: the cache is paged (policy/kv_pages.h): a token owns one cache row,
// page * kPageTokens + slot, the same row in every layer. A sequence's context is its page table
// (pages in position order and a length); pages may be shared between sequences (a prompt
// prefilled once for the G samples of a group), and a shared page is never written: a sequence
// about to write into its shared, partially filled last page first copies the filled slots into a
// page of its own (cache_append_token: copy-on-write; the last holder writes in place). Pages are
// handed out and returned through the cache's pool; the cache never frees a page by itself.
// The cache lives where the model runs: fp32 rows on the CPU (the reference), bf16 rows on CUDA,
// fp32 in CUDA's fp32 test mode (kernels/ops.h: cache_elem_bytes). Page tables and the pool are host data on both; a CUDA
// step uploads its index arrays once and returns logits on the device.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "policy/kv_pages.h"
#include "policy/model.h"

namespace aha {

struct KvCache {
  int L = 0;           // layers
  int W = 0;           // elements per row per layer (cache_row_width)
  int num_rows = 0;    // pool.num_pages * kPageTokens
  Ctx ctx;             // the model's: where data lives; copy-on-write copies run on its stream
  int elem_bytes = 4;  // cache_elem_bytes(ctx): 4 (fp32) or 2 (bf16)
  // [L, num_rows, W] elements of elem_bytes; row = page * kPageTokens + slot
  Buffer<char> data;
  KvPagePool pool;
  Buffer<int> prefill_rows;  // CUDA: [N] the cache rows of the prompts being prefilled
  // CUDA, the batch-invariant mode: mla_cache_write's scratch for N tokens' expanded keys and
  // values, [N, NH*(DN+DV) + NH*(DN+DR+DV)] floats (grown, never shrunk).
  Buffer<float> expand;
};

// Elements one token takes per layer: R+DR (MLA) or 2*NKV*HD (GQA).
int cache_row_width(const ModelConfig& cfg);
void cache_init(KvCache& cache, const ModelConfig& cfg, int num_pages, const Ctx& ctx = Ctx{});
inline int cache_num_free_pages(const KvCache& cache) {
  return page_pool_num_free(cache.pool);
}
// Layer l's rows, where the cache lives (elem_bytes each: float, or bf16 on CUDA).
inline void* cache_layer(KvCache& cache, int l) {
  return cache.data.data() + static_cast<size_t>(l) * cache.num_rows * cache.W * cache.elem_bytes;
}
// The same for a CPU cache, as floats (fails for a cache elsewhere).
float* cache_layer_f32(KvCache& cache, int l);
// Makes room for position t.len of sequence t and returns its cache row (t.len grows by one), or
// -1 when a page is needed and none is free (t unchanged). Takes a new page at a page boundary;
// copies a shared, partially filled last page into a new page of t's own (all layers, the filled
// slots; on CUDA a device-to-device copy on the cache's stream) before t writes into it.
int cache_append_token(KvCache& cache, KvPageTable& t);
// Cache bytes per token on device d (its usual element type: cache_default_elem_bytes), and what
// a multi-head cache of the same heads would take in the same type.
long cache_bytes_per_token(const ModelConfig& cfg, Device d = Device::kCpu);
long mha_cache_bytes_per_token(const ModelConfig& cfg, Device d = Device::kCpu);

// The CUDA graphs of a scratch's decode steps, one per batch size B (captured the second time a
// B is seen, the first run warming every lazily made buffer), each with the buffer addresses and
// the attention's launch values (FlashInfer's plan info) it baked in: a step replays its graph
// only when they are all the same. Move-only; owns the graphs.
struct DecodeGraphs {
  struct Entry {
    int B = 0;
    std::vector<const void*> buffers;  // addresses the captured launches point into
    DecodeLaunchKey launch;            // the attention's launch values it baked in (its plan)
    unsigned long generation = 0;      // cuda_buffers_generation at capture
    CudaGraph* graph = nullptr;
  };
  std::vector<Entry> entries;
  std::vector<int> seen;  // B values run once eagerly
  bool off = false;       // disabled (by the caller, or after a capture failed)
  std::string why_off;
  long replays = 0, captures = 0;
  DecodeGraphs() = default;
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;
  DecodeGraphs(DecodeGraphs&& o) noexcept { swap(o); }
  DecodeGraphs& operator=(DecodeGraphs&& o) noexcept {
    swap(o);
    return *this;
  }
  ~DecodeGraphs() { clear(); }
  void clear() {
    for (Entry& e : entries) cuda_graph_destroy(e.graph);
    entries.clear();
  }
  void swap(DecodeGraphs& o) {
    entries.swap(o.entries);
    seen.swap(o.seen);
    std::swap(off, o.off);
    why_off.swap(o.why_off);
    std::swap(replays, o.replays);
    std::swap(captures, o.captures);
  }
};

// Scratch of the decode path for up to B rows, views into one arena on the model's device
// (decode_scratch_reserve sizes it up front; a larger B reallocates).
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
  // CUDA: the step's index arrays packed on the host, then in one device buffer:
  // tokens [B], page_indptr [B+1], seq_lens [B], positions [B], new_rows [B], page_ids [P].
  std::vector<int> ints_host;
  Buffer<int> ints_dev;
  Buffer<int> topk_dev;  // CUDA: [num_moe_layers, B, K] the step's routing before its one copy back
  DecodeGraphs graphs;   // CUDA: the steps' graphs (graphs.off = true: every step eager)
  std::vector<const void*> graph_buffers;  // CUDA: the addresses a step's graph is keyed on
};

// decode_step runs a larger batch in slices of this many rows over the compute threads.
constexpr int kDecodeSliceRows = 32;

// Lays out s for steps of up to B rows.
void decode_scratch_reserve(const Model& m, DecodeScratch& s, int B);

// Prefill n prompts in one forward over the packed batch (prompt b is tokens[seq_start[b] ..
// seq_start[b+1]) at positions 0 ..), writing each token's cache row into its table
// (tables[b]->len == its length, the pages held by the caller). logits_last[n, V] (where the
// model runs) gets each prompt's last-position logits. topk_out[b], when topk_out and it are not
// null, receives prompt b's routed experts [num_moe_layers][T_b, K] (a host array). On CUDA the
// forward reads the GEMMs' bf16 weight copy as it is (the caller keeps it current:
// cuda_ctx_sync_weights).
void decode_prefill(Model& m, Acts& acts, KvCache& cache, const int* tokens, const int* seq_start,
                    int n, const KvPageTable* const* tables, float* logits_last,
                    std::vector<int>* const* topk_out);

// One step for B sequences over their page tables in FlashInfer's paged format: sequence b has
// seq_lens[b] >= 1 positions on the pages page_ids[page_indptr[b] .. page_indptr[b+1]) (exactly
// ceil(seq_lens[b] / kPageTokens) of them); tokens[b] is its last position, seq_lens[b] - 1,
// whose row the caller made room for (cache_append_token) and which this step writes.
// The index arrays and topk_out are host arrays; logits[B, V] is where the model runs (on CUDA
// the step is queued on the model's stream and returns without waiting, unless topk_out is
// asked for). topk_out, when not null, is [num_moe_layers][B, K].
void decode_step(Model& m, DecodeScratch& s, KvCache& cache, const int* tokens,
                 const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
                 float* logits, int* topk_out);

}  // namespace aha
