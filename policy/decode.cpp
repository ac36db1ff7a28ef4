#include "policy/decode.h"

#include <algorithm>
#include <string>

#include "kernels/check.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "policy/family.h"

namespace aha {

int cache_row_width(const ModelConfig& c) {
  return attention_ops(c).cache_row_width(c);
}

void cache_init(KvCache& cache, const ModelConfig& cfg, int num_pages, const Ctx& ctx) {
  AHA_CHECK(num_pages >= 1 && num_pages <= (1 << 30) / kPageTokens,
            "cache_init: " + std::to_string(num_pages) + " pages out of range");
  cache.L = cfg.num_hidden_layers;
  cache.W = cache_row_width(cfg);
  cache.num_rows = num_pages * kPageTokens;
  cache.ctx = ctx;
  cache.elem_bytes = static_cast<int>(cache_elem_bytes(ctx));
  cache.data.alloc(ctx.device,
                   static_cast<size_t>(cache.L) * cache.num_rows * cache.W * cache.elem_bytes);
  page_pool_init(cache.pool, num_pages);
}

float* cache_layer_f32(KvCache& cache, int l) {
  AHA_CHECK(cache.ctx.device == Device::kCpu, "cache_layer_f32: the cache is not on the CPU");
  return static_cast<float*>(cache_layer(cache, l));
}

int cache_append_token(KvCache& cache, KvPageTable& t) {
  const int slot = t.len % kPageTokens;
  if (slot == 0) {
    const int p = page_alloc(cache.pool);
    if (p < 0) return -1;
    t.pages.push_back(p);
  } else if (cache.pool.refcount[t.pages.back()] > 1) {
    // Copy-on-write: the filled slots of the shared last page, every layer, into a page of ours.
    const int p = page_alloc(cache.pool);
    if (p < 0) return -1;
    const int old = t.pages.back();
    const size_t row_bytes = static_cast<size_t>(cache.W) * cache.elem_bytes;
    for (int l = 0; l < cache.L; l++) {
      char* base = static_cast<char*>(cache_layer(cache, l));
      device_copy(cache.ctx, base + static_cast<size_t>(p) * kPageTokens * row_bytes,
                  cache.ctx.device, base + static_cast<size_t>(old) * kPageTokens * row_bytes,
                  cache.ctx.device, slot * row_bytes);
    }
    page_unref(cache.pool, old);
    t.pages.back() = p;
  }
  t.len++;
  return t.pages.back() * kPageTokens + slot;
}

long cache_bytes_per_token(const ModelConfig& c, Device d) {
  return static_cast<long>(c.num_hidden_layers) * cache_row_width(c) *
         static_cast<long>(cache_default_elem_bytes(d));
}

long mha_cache_bytes_per_token(const ModelConfig& c, Device d) {
  return static_cast<long>(c.num_hidden_layers) * c.num_attention_heads *
         (cfg_qk_head_dim(c) + cfg_v_head_dim(c)) * static_cast<long>(cache_default_elem_bytes(d));
}

void decode_prefill(Model& m, Acts& acts, KvCache& cache, const int* tokens, const int* seq_start,
                    int n, const KvPageTable* const* tables, float* logits_last,
                    std::vector<int>* const* topk_out) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  AHA_CHECK(
      cache.ctx.device == ctx.device && cache.elem_bytes == static_cast<int>(cache_elem_bytes(ctx)),
      "decode_prefill: the cache is not where the model is, or of another element type");
  AHA_CHECK(n >= 1 && seq_start[0] == 0, "decode_prefill: no prompts");
  const int N = seq_start[n];
  std::vector<int> rows_host(N);
  Batch batch;
  batch.tokens.assign(tokens, tokens + N);
  batch.targets.assign(N, -1);
  batch.seq_start.assign(seq_start, seq_start + n + 1);
  for (int b = 0; b < n; b++) {
    const int T = seq_start[b + 1] - seq_start[b];
    const KvPageTable& table = *tables[b];
    AHA_CHECK(
        T >= 1 && table.len == T && static_cast<int>(table.pages.size()) == pages_for_tokens(T),
        "decode_prefill: the page table of prompt " + std::to_string(b) + " does not hold its " +
            std::to_string(T) + " positions");
    for (int t = 0; t < T; t++)
      rows_host[seq_start[b] + t] = static_cast<int>(page_table_row(table, t));
  }
  const int* rows = rows_host.data();
  if (ctx.device != Device::kCpu) {
    if (cache.prefill_rows.size() < static_cast<size_t>(N)) cache.prefill_rows.alloc(ctx.device, N);
    device_copy(ctx, cache.prefill_rows.data(), ctx.device, rows, Device::kCpu,
                static_cast<size_t>(N) * sizeof(int));
    rows = cache.prefill_rows.data();
  }
  ForwardOptions opt;
  opt.need_logits = false;
  opt.sync_weights = false;
  model_forward(m, acts, batch, opt);
  for (int l = 0; l < c.num_hidden_layers; l++)
    m.attn->cache_write(m, cache, l, acts.layers[l], rows, N);
  const int C = c.hidden_size, V = c.vocab_size, K = c.num_experts_per_tok;
  for (int b = 0; b < n; b++)
    linear_forward(ctx, logits_last + static_cast<size_t>(b) * V,
                   acts.lnf.data() + static_cast<size_t>(seq_start[b + 1] - 1) * C, m.w.lm_head, 1,
                   C, V);
  bool want = false;
  for (int b = 0; b < n; b++) want = want || (topk_out && topk_out[b]);
  if (!want) return;
  const int Lm = cfg_num_moe_layers(c);
  for (int b = 0; b < n; b++)
    if (topk_out[b])
      topk_out[b]->assign(static_cast<size_t>(Lm) * (seq_start[b + 1] - seq_start[b]) * K, 0);
  std::vector<int> layer(static_cast<size_t>(N) * K);  // [N, K] of one MoE layer, on the host
  int moe_l = 0;
  for (int l = 0; l < c.num_hidden_layers; l++) {
    if (!cfg_layer_is_moe(c, l)) continue;
    device_copy(ctx, layer.data(), Device::kCpu, acts.layers[l].topk_idx.data(), ctx.device,
                layer.size() * sizeof(int));
    for (int b = 0; b < n; b++) {
      if (!topk_out[b]) continue;
      const size_t TK = static_cast<size_t>(seq_start[b + 1] - seq_start[b]) * K;
      std::copy(layer.begin() + static_cast<size_t>(seq_start[b]) * K,
                layer.begin() + static_cast<size_t>(seq_start[b]) * K + TK,
                topk_out[b]->begin() + moe_l * TK);
    }
    moe_l++;
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

// decode_step over B rows with one scratch, every pointer where the model runs: positions[B] and
// new_rows[B] as decode_step derives them; topk_out rows are topk_ld apart per MoE layer.
void decode_rows(Model& m, DecodeScratch& s, KvCache& cache, const int* tokens,
                 const int* page_indptr, const int* page_ids, const int* seq_lens,
                 const int* positions, const int* new_rows, int B, float* logits, int* topk_out,
                 int topk_ld) {
  const ModelConfig& c = m.cfg;
  const Ctx& ctx = m.ctx;
  const bool host = ctx.device == Device::kCpu;
  const int C = c.hidden_size, K = c.num_experts_per_tok;
  float* x = s.x.data();
  float* tmp = s.tmp.data();
  embedding_forward(ctx, x, tokens, m.w.embed, B, c.vocab_size, C);

  int moe_l = 0;
  for (int l = 0; l < c.num_hidden_layers; l++) {
    LayerActs& la = s.layers[l];
    layer_attn_inputs(m, l, la, x, positions, B);
    m.attn->cache_write(m, cache, l, la, new_rows, B);
    m.attn->decode(m, l, la, s, cache, page_indptr, page_ids, seq_lens, B, tmp);
    add_inplace(ctx, x, tmp, static_cast<long>(B) * C);
    // Expert load is counted on the CPU path only (a CUDA step keeps no host statistics).
    long* load = host && cfg_layer_is_moe(c, l) ? s.expert_load[l].data() : nullptr;
    layer_ffn_forward(m, l, la, x, tmp, B, nullptr, load);
    if (cfg_layer_is_moe(c, l)) {
      if (topk_out)
        device_copy(ctx, topk_out + static_cast<size_t>(moe_l) * topk_ld * K, ctx.device,
                    la.topk_idx.data(), ctx.device, static_cast<size_t>(B) * K * sizeof(int));
      moe_l++;
    }
  }
  rmsnorm_forward(ctx, s.lnf.data(), nullptr, x, m.w.norm, B, C, c.rms_norm_eps);
  linear_forward(ctx, logits, s.lnf.data(), m.w.lm_head, B, C, c.vocab_size);
}

// positions[b] = seq_lens[b] - 1 and new_rows[b] = its cache row, on the host.
void step_rows(const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
               int* positions, int* new_rows) {
  for (int b = 0; b < B; b++) {
    const int pos = seq_lens[b] - 1;
    positions[b] = pos;
    new_rows[b] = page_ids[page_indptr[b] + pos / kPageTokens] * kPageTokens + pos % kPageTokens;
  }
}

// Turns a scratch's graphs off for good, keeping the reason (every later step runs eagerly, the
// path the CPU-checked twins take one launch at a time).
void graphs_off(DecodeGraphs& G, const std::string& why) {
  G.clear();
  G.off = true;
  G.why_off = why;
}

// The graph of this step's B over these buffers, replayed or captured and launched (DecodeGraphs);
// false when the caller must run the step eagerly instead: the first sight of B, a capture that
// failed (graphs then go off) or was spoilt by a buffer moving (dropped, captured again later).
// A template on the step (a lambda), so a decode step runs through no std::function.
template <typename Step>
bool replay_or_capture(const Ctx& ctx, DecodeGraphs& G, int B,
                       const std::vector<const void*>& buffers, const DecodeLaunchKey& launch,
                       const Step& step) {
  const unsigned long gen = cuda_buffers_generation(ctx);
  for (const DecodeGraphs::Entry& e : G.entries)
    if (e.B == B && e.generation == gen && e.buffers == buffers && e.launch == launch) {
      try {
        cuda_graph_launch(ctx, e.graph);
      } catch (const std::exception& ex) {
        graphs_off(G, std::string("replaying a decode step's graph failed: ") + ex.what());
        return false;
      }
      G.replays++;
      return true;
    }
  if (std::find(G.seen.begin(), G.seen.end(), B) == G.seen.end()) {
    G.seen.push_back(B);  // the first run of a B makes every lazily allocated buffer
    return false;
  }
  // Graphs of this B over other buffers are stale; past a bound, all go (a long run's B's come
  // back, and capturing them again is cheap).
  for (size_t i = 0; i < G.entries.size();)
    if (G.entries[i].B == B || G.entries[i].generation != gen) {
      cuda_graph_destroy(G.entries[i].graph);
      G.entries.erase(G.entries.begin() + static_cast<long>(i));
    } else {
      i++;
    }
  if (G.entries.size() >= 64) G.clear();
  try {
    if (!cuda_graph_begin(ctx)) {
      graphs_off(G, "this ctx cannot capture (AHA_CUDA_PROFILE)");
      return false;
    }
  } catch (const std::exception& ex) {
    graphs_off(G, std::string("starting a capture failed: ") + ex.what());
    return false;
  }
  std::string why;
  try {
    step();
  } catch (const std::exception& ex) {
    why = ex.what();
  }
  std::string why_end;
  CudaGraph* g = cuda_graph_end(ctx, &why_end);
  if (!why.empty() || !g) {
    cuda_graph_destroy(g);
    graphs_off(G, "capturing a decode step failed: " + (!why.empty() ? why : why_end));
    return false;
  }
  if (cuda_buffers_generation(ctx) != gen) {  // a buffer moved while capturing: not this graph
    cuda_graph_destroy(g);
    return false;
  }
  G.entries.push_back({B, buffers, launch, gen, g});
  G.captures++;
  try {
    cuda_graph_launch(ctx, g);
  } catch (const std::exception& ex) {
    graphs_off(G, std::string("launching a captured decode step failed: ") + ex.what());
    return false;
  }
  return true;
}

// A CUDA step: the index arrays go up in one copy, the attention plans its schedule from the host
// copies, and the whole batch runs as one set of launches on the model's stream, replayed from a
// CUDA graph when this B has been seen before over the same buffers (the launches of a step at
// small B cost more than its memory traffic).
void decode_step_device(Model& m, DecodeScratch& s, KvCache& cache, const int* tokens,
                        const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
                        float* logits, int* topk_out) {
  const Ctx& ctx = m.ctx;
  const int P = page_indptr[B];
  std::vector<int>& h = s.ints_host;
  h.resize(5 * static_cast<size_t>(B) + 1 + P);
  int* h_tokens = h.data();
  int* h_indptr = h_tokens + B;
  int* h_lens = h_indptr + B + 1;
  int* h_pos = h_lens + B;
  int* h_rows = h_pos + B;
  int* h_ids = h_rows + B;
  std::copy(tokens, tokens + B, h_tokens);
  std::copy(page_indptr, page_indptr + B + 1, h_indptr);
  std::copy(seq_lens, seq_lens + B, h_lens);
  std::copy(page_ids, page_ids + P, h_ids);
  step_rows(page_indptr, page_ids, seq_lens, B, h_pos, h_rows);
  if (s.ints_dev.size() < h.size()) {
    // Room for B sequences of the longest context the model allows: the buffer (which a graph
    // points into) does not move as this B's sequences grow.
    const size_t most = 5 * static_cast<size_t>(B) + 1 +
                        static_cast<size_t>(B) * pages_for_tokens(m.cfg.max_position_embeddings);
    s.ints_dev.alloc(ctx.device, std::max(h.size(), most));
  }
  int* d = s.ints_dev.data();
  device_copy(ctx, d, ctx.device, h.data(), Device::kCpu, h.size() * sizeof(int));
  decode_scratch_reserve(m, s, B);
  DecodeLaunchKey launch;
  const bool replayable = m.attn->decode_plan(m, page_indptr, seq_lens, B, &launch);
  const long off_indptr = B, off_lens = off_indptr + B + 1, off_pos = off_lens + B,
             off_rows = off_pos + B, off_ids = off_rows + B;
  // Routing goes to the device first, every step (so a step's graph does not depend on whether
  // routing is asked for), and comes back in one copy when it is.
  const size_t topk_n =
      static_cast<size_t>(cfg_num_moe_layers(m.cfg)) * B * m.cfg.num_experts_per_tok;
  if (topk_n > 0 && s.topk_dev.size() < topk_n) s.topk_dev.alloc(ctx.device, topk_n);
  int* topk_dev = topk_n > 0 ? s.topk_dev.data() : nullptr;
  const auto step = [&] {
    decode_rows(m, s, cache, d, d + off_indptr, d + off_ids, d + off_lens, d + off_pos,
                d + off_rows, B, logits, topk_dev, B);
  };
  bool done = false;
  if (!s.graphs.off && replayable) {
    std::vector<const void*>& buffers = s.graph_buffers;  // reused: no allocation per step
    buffers.assign({s.arena.mem.data(), d, topk_dev, logits, cache.data.data(), m.params.data()});
    for (const LayerActs& la : s.layers) buffers.push_back(la.arena.mem.data());
    done = replay_or_capture(ctx, s.graphs, B, buffers, launch, step);
  }
  if (!done) step();
  if (topk_out && topk_n > 0)
    device_copy(ctx, topk_out, Device::kCpu, topk_dev, ctx.device, topk_n * sizeof(int));
}

}  // namespace

void decode_step(Model& m, DecodeScratch& s, KvCache& cache, const int* tokens,
                 const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
                 float* logits, int* topk_out) {
  const ModelConfig& c = m.cfg;
  AHA_CHECK(cache.ctx.device == m.ctx.device &&
                cache.elem_bytes == static_cast<int>(cache_elem_bytes(m.ctx)),
            "decode_step: the cache is not where the model is, or of another element type");
  AHA_CHECK(page_indptr[0] == 0, "decode_step: page_indptr[0] must be 0");
  for (int b = 0; b < B; b++) {
    const int n = page_indptr[b + 1] - page_indptr[b];
    AHA_CHECK(seq_lens[b] >= 1 && n == pages_for_tokens(seq_lens[b]),
              "decode_step: sequence " + std::to_string(b) + " has " + std::to_string(n) +
                  " pages for " + std::to_string(seq_lens[b]) + " positions");
    for (int i = page_indptr[b]; i < page_indptr[b + 1]; i++)
      AHA_CHECK(page_ids[i] >= 0 && page_ids[i] < cache.pool.num_pages,
                "decode_step: page id out of range");
  }
  if (m.ctx.device != Device::kCpu)
    return decode_step_device(m, s, cache, tokens, page_indptr, page_ids, seq_lens, B, logits,
                              topk_out);
  const int L = c.num_hidden_layers, V = c.vocab_size, K = c.num_experts_per_tok;
  auto run_slice = [&](DecodeScratch& ps, int b0, int b1, const int* indptr) {
    const int n = b1 - b0;
    decode_scratch_reserve(m, ps, n);
    ps.positions.resize(n);
    ps.new_rows.resize(n);
    step_rows(indptr, page_ids + page_indptr[b0], seq_lens + b0, n, ps.positions.data(),
              ps.new_rows.data());
    decode_rows(m, ps, cache, tokens + b0, indptr, page_ids + page_indptr[b0], seq_lens + b0,
                ps.positions.data(), ps.new_rows.data(), n, logits + static_cast<size_t>(b0) * V,
                topk_out ? topk_out + static_cast<size_t>(b0) * K : nullptr, B);
  };
  if (B <= kDecodeSliceRows) {
    run_slice(s, 0, B, page_indptr);
    return;
  }
  // The step runs in slices of kDecodeSliceRows rows, the compute threads taking slices: one
  // fork-join per step instead of one per op, and every op of a slice (small GEMMs included)
  // keeps its core busy. Slices depend on B only, so results do not depend on the thread count.
  // Rows of a slice write only their own new cache rows and outputs.
  const int parts = (B + kDecodeSliceRows - 1) / kDecodeSliceRows;
  if (s.parts.size() < static_cast<size_t>(parts)) s.parts.resize(parts);
  parallel_for(parts, [&](int i) {
    const int b0 = i * kDecodeSliceRows, b1 = std::min(B, b0 + kDecodeSliceRows);
    DecodeScratch& ps = s.parts[i];
    ps.page_indptr.resize(b1 - b0 + 1);
    for (int b = b0; b <= b1; b++) ps.page_indptr[b - b0] = page_indptr[b] - page_indptr[b0];
    run_slice(ps, b0, b1, ps.page_indptr.data());
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
