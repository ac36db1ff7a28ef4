#include "rollout/engine.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels/check.h"
#include "kernels/gemm.h"

#ifdef AHA_HAVE_CUDA
#include "rollout/cuda/sampling.h"
#endif

namespace aha {

struct EngineSeq {
  EngineGroup* group = nullptr;
  int sample_idx = 0;
  KvPageTable table;  // the prompt's pages (shared) then its own; len = tokens in the cache
  int reserved = 0;   // pages still promised to this sample by admission
  Sample out;
  std::string text_tail;  // recent text for stop strings
  bool done = false;
};

struct EngineGroup {
  EngineRequest req;
  std::vector<EngineSeq> seqs;
  std::vector<int> prompt_routing;  // [num_moe_layers][T, K]
  uint64_t version = 0;
  int num_done = 0;
  std::chrono::steady_clock::time_point t0;
};

Engine::~Engine() {
  for (EngineGroup* g : groups) delete g;
}

void engine_init(Engine& e, Model& model, const EngineOptions& opt) {
  e.model = &model;
  e.opt = opt;
  AHA_CHECK(opt.max_tokens_in_flight >= 1, "max_tokens_in_flight must be >= 1");
  AHA_CHECK(opt.max_batch >= 1, "max_batch must be >= 1");
  AHA_CHECK(opt.prefill_tokens >= 1 && opt.prefill_prompts >= 0,
            "prefill_tokens must be >= 1 and prefill_prompts >= 0");
  // The mode as the engine starts: its cache rows, buffers and graphs are laid out for it.
  e.invariant = gemm_batch_invariant();
  AHA_CHECK(!e.invariant || model.ctx.device == Device::kCpu || cuda_ctx_fp32(model.ctx),
            "the batch-invariant mode on CUDA needs a model moved to the device after the mode "
            "was set (its context then runs the fp32 kernels)");
  if (model.ctx.device != Device::kCpu) {
    // The cache and the step's logits are the engine's device memory beyond the model's.
    const ModelConfig& c = model.cfg;
    const size_t token_bytes =
        static_cast<size_t>(c.num_hidden_layers) * cache_row_width(c) * cache_elem_bytes(model.ctx);
    const size_t need = static_cast<size_t>(pages_for_tokens(opt.max_tokens_in_flight)) *
                            kPageTokens * token_bytes +
                        2 * static_cast<size_t>(opt.max_batch) * c.vocab_size * sizeof(float);
    size_t free_bytes = 0, total_bytes = 0;
    cuda_mem_info(&free_bytes, &total_bytes);
    AHA_CHECK(need <= free_bytes,
              "the CUDA engine needs " + std::to_string(need >> 20) + " MiB (a cache of " +
                  std::to_string(opt.max_tokens_in_flight) + " tokens and logits of " +
                  std::to_string(opt.max_batch) + " rows) and the device has " +
                  std::to_string(free_bytes >> 20) + " MiB free: lower the tokens in flight");
    e.logits_dev.alloc(model.ctx.device, static_cast<size_t>(opt.max_batch) * model.cfg.vocab_size);
    e.prefill_logits_dev.alloc(model.ctx.device,
                               static_cast<size_t>(opt.max_batch) * model.cfg.vocab_size);
    e.rows_dev.alloc(model.ctx.device, opt.max_batch);
    e.drawn_dev.alloc(model.ctx.device, opt.max_batch);
    if (e.invariant) {
      e.tokens_dev.alloc(model.ctx.device, opt.max_batch);
      e.logp_dev.alloc(model.ctx.device, 2L * opt.max_batch);
    }
    cuda_ctx_sync_weights(model.ctx);  // the GEMMs' bf16 copy of the weights as loaded
  }
  cache_init(e.cache, model.cfg, pages_for_tokens(opt.max_tokens_in_flight), model.ctx);
  e.scratch.graphs.off = !opt.cuda_graphs || e.invariant;
  if (!opt.cuda_graphs) e.scratch.graphs.why_off = "EngineOptions::cuda_graphs is false";
  if (e.invariant) e.scratch.graphs.why_off = "the batch-invariant mode runs eagerly";
}

int engine_sample_pages(int prompt_len, int max_new_tokens) {
  // The sample writes positions T .. T + max_new_tokens - 2 (the last sampled token is never
  // fed back), each page of them its own: a new page or its copy of the prompt's last page.
  if (max_new_tokens < 2) return 0;
  return (prompt_len + max_new_tokens - 2) / kPageTokens - prompt_len / kPageTokens + 1;
}

long engine_group_pages(int prompt_len, int group_size, int max_new_tokens) {
  return pages_for_tokens(prompt_len) +
         static_cast<long>(group_size) * engine_sample_pages(prompt_len, max_new_tokens);
}

void engine_submit(Engine& e, EngineRequest req) {
  AHA_CHECK(!req.prompt.empty(), "empty prompt");
  AHA_CHECK(req.group_size >= 1, "group_size must be >= 1");
  AHA_CHECK(req.params.max_new_tokens >= 1, "max_new_tokens must be >= 1");
  const ModelConfig& c = e.model->cfg;
  for (int id : req.prompt) AHA_CHECK(id >= 0 && id < c.vocab_size, "prompt token out of range");
  const long need = engine_group_pages(static_cast<int>(req.prompt.size()), req.group_size,
                                       req.params.max_new_tokens);
  AHA_CHECK(need <= e.cache.pool.num_pages, "request needs " + std::to_string(need) +
                                                " cache pages of " + std::to_string(kPageTokens) +
                                                " tokens, the engine has " +
                                                std::to_string(e.cache.pool.num_pages));
  if (static_cast<long>(req.prompt.size()) + req.params.max_new_tokens > c.max_position_embeddings)
    throw std::runtime_error("a prompt of " + std::to_string(req.prompt.size()) + " tokens + " +
                             std::to_string(req.params.max_new_tokens) +
                             " new tokens is over the model's " +
                             std::to_string(c.max_position_embeddings) + " positions");
  // A dense model routes nothing: there is no routing to return.
  if (cfg_num_moe_layers(c) == 0) req.return_routing = false;
  e.waiting.push_back(std::move(req));
}

bool engine_idle(const Engine& e) {
  return e.waiting.empty() && e.groups.empty();
}

void engine_set_weights(Engine& e, const float* params, long num_params, uint64_t version,
                        Device src) {
  AHA_CHECK(num_params == e.model->num_params, "weights of another shape");
  Model& m = *e.model;
  try {
    if (params != m.params.data())
      device_copy(m.ctx, m.params.data(), m.ctx.device, params, src,
                  static_cast<size_t>(num_params) * sizeof(float));
    if (m.ctx.device != Device::kCpu) cuda_ctx_sync_weights(m.ctx);
    // A device-to-device copy is queued: the source may change once this returns.
    if (src != Device::kCpu) ctx_sync(m.ctx);
  } catch (...) {
    // Whatever was queued ends before the caller lets the source go (its learner may write it).
    if (m.ctx.device != Device::kCpu) {
      try {
        ctx_sync(m.ctx);
      } catch (...) {
      }
    }
    throw;
  }
  m.version = version;
}

namespace {

// Records token t for seq; returns true when the sample is finished.
bool accept_token(Engine& e, EngineSeq& s, const SampledToken& t) {
  const EngineRequest& req = s.group->req;
  s.out.completion.push_back(t.token);
  s.out.rollout_logp.push_back(t.logp);
  if (sampling_truncates(req.params)) s.out.trunc_logp.push_back(t.logp_trunc);
  const SamplingParams& p = req.params;
  if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), t.token) !=
      p.stop_token_ids.end()) {
    s.out.finish_reason = "stop";
    return true;
  }
  if (!p.stop_strings.empty() && t.token < static_cast<int>(e.opt.token_text.size())) {
    s.text_tail += e.opt.token_text[t.token];
    // Only a match that ends inside the new piece is new.
    const size_t piece = e.opt.token_text[t.token].size();
    for (const std::string& stop : p.stop_strings) {
      size_t from = s.text_tail.size() - std::min(s.text_tail.size(), piece + stop.size());
      if (!stop.empty() && s.text_tail.find(stop, from) != std::string::npos) {
        s.out.finish_reason = "stop";
        return true;
      }
    }
    if (s.text_tail.size() > 256) s.text_tail.erase(0, s.text_tail.size() - 128);
  }
  if (static_cast<int>(s.out.completion.size()) >= p.max_new_tokens) {
    s.out.finish_reason = "length";
    return true;
  }
  return false;
}

// Draws e.rows_host[0, B) from rows [0, B) of e.logits_dev into e.drawn_host (CUDA engines).
#ifdef AHA_HAVE_CUDA
// The batch-invariant mode: each drawn token's log-prob as the learner computes it
// (logprob_forward: one block per row, so a row's bits do not depend on the others), over the
// row's logits at its temperature (1 when greedy); the truncated log-prob keeps its offset.
void learner_logps_on_device(Engine& e, int B) {
  const Ctx& ctx = e.model->ctx;
  const int V = e.model->cfg.vocab_size;
  e.tokens_host.resize(B);
  for (int b = 0; b < B; b++) e.tokens_host[b] = e.drawn_host[b].token;
  device_copy(ctx, e.tokens_dev.data(), ctx.device, e.tokens_host.data(), Device::kCpu,
              static_cast<size_t>(B) * sizeof(int));
  for (int b = 0; b < B; b++) {
    const float t = e.rows_host[b].temperature;
    logprob_forward(ctx, e.logp_dev.data() + b, e.logp_dev.data() + e.opt.max_batch + b, nullptr,
                    e.logits_dev.data() + static_cast<size_t>(b) * V, e.tokens_dev.data() + b, 1, V,
                    t > 0 ? 1.0f / t : 1.0f);
  }
  e.logp_host.resize(B);
  device_copy(ctx, e.logp_host.data(), Device::kCpu, e.logp_dev.data(), ctx.device,
              static_cast<size_t>(B) * sizeof(float));
  for (int b = 0; b < B; b++) {
    SampledToken& d = e.drawn_host[b];
    const float log_kept = d.logp - d.logp_trunc;
    d.logp = e.logp_host[b];
    d.logp_trunc = e.rows_host[b].temperature > 0 ? d.logp - log_kept : 0.0f;
  }
}
#endif

void sample_on_device(Engine& e, int B) {
  const Ctx& ctx = e.model->ctx;
#ifdef AHA_HAVE_CUDA
  device_copy(ctx, e.rows_dev.data(), ctx.device, e.rows_host.data(), Device::kCpu,
              static_cast<size_t>(B) * sizeof(SamplingRow));
  sample_tokens_cuda(e.logits_dev.data(), B, e.model->cfg.vocab_size, e.rows_dev.data(),
                     e.drawn_dev.data(), static_cast<cudaStream_t>(ctx.stream));
  e.drawn_host.resize(B);
  device_copy(ctx, e.drawn_host.data(), Device::kCpu, e.drawn_dev.data(), ctx.device,
              static_cast<size_t>(B) * sizeof(SampledToken));
  if (e.invariant) learner_logps_on_device(e, B);
#else
  (void)ctx;
  (void)B;
  AHA_CHECK(false, "a CUDA engine in a build without CUDA");
#endif
}

void finish_seq(Engine& e, EngineSeq& s) {
  s.done = true;
  s.group->num_done++;
  page_table_release(e.cache.pool, s.table);
  // Pages promised but never taken go back to the pool of admissible pages.
  e.reserved_pages -= s.reserved;
  s.reserved = 0;
}

// The first tokens of the n admitted groups, drawn from their prompts' logits (prefill row b is
// group b's). CUDA: each sample gets a copy of its prompt's row in e.logits_dev, drawn in batches
// of its rows.
void sample_first_tokens(Engine& e, const std::vector<EngineGroup*>& batch, const float* logits) {
  const int V = e.model->cfg.vocab_size;
  if (e.model->ctx.device == Device::kCpu) {
    for (size_t b = 0; b < batch.size(); b++) {
      EngineGroup* g = batch[b];
      for (int i = 0; i < g->req.group_size; i++) {
        SampledToken t =
            sample_token(logits + b * V, V, g->req.params, g->req.seed, i, 0, e.sort_scratch);
        if (accept_token(e, g->seqs[i], t)) finish_seq(e, g->seqs[i]);
      }
    }
    return;
  }
  std::vector<EngineSeq*> pending;
  e.rows_host.clear();
  auto flush = [&] {
    sample_on_device(e, static_cast<int>(pending.size()));
    for (size_t k = 0; k < pending.size(); k++)
      if (accept_token(e, *pending[k], e.drawn_host[k])) finish_seq(e, *pending[k]);
    pending.clear();
    e.rows_host.clear();
  };
  for (size_t b = 0; b < batch.size(); b++) {
    EngineGroup* g = batch[b];
    for (int i = 0; i < g->req.group_size; i++) {
      device_copy(e.model->ctx, e.logits_dev.data() + pending.size() * V, Device::kCuda,
                  logits + b * V, Device::kCuda, static_cast<size_t>(V) * sizeof(float));
      e.rows_host.push_back(sampling_row(g->req.params, g->req.seed, i, 0));
      pending.push_back(&g->seqs[i]);
      if (static_cast<int>(pending.size()) == e.opt.max_batch) flush();
    }
  }
  if (!pending.empty()) flush();
}

// Admits the waiting requests that fit, oldest first, prefilling their prompts packed into one
// forward of up to opt.prefill_tokens tokens and max_prefill prompts: by default one at a time on
// the CPU (a prompt's prefill then never depends on other prompts, bit for bit), max_batch on
// CUDA (where a forward's launches, not its arithmetic, dominate short prompts).
void admit(Engine& e) {
  const ModelConfig& c = e.model->cfg;
  const bool host = e.model->ctx.device == Device::kCpu;
  const int max_prefill =
      std::min(e.opt.max_batch,
               e.opt.prefill_prompts > 0 ? e.opt.prefill_prompts : (host ? 1 : e.opt.max_batch));
  std::vector<EngineGroup*> batch;
  std::vector<KvPageTable> prompts;
  std::vector<int> tokens, seq_start;
  while (!e.waiting.empty()) {
    batch.clear();
    prompts.clear();
    tokens.clear();
    seq_start.assign(1, 0);
    while (!e.waiting.empty()) {
      const EngineRequest& front = e.waiting.front();
      const int T = static_cast<int>(front.prompt.size());
      const long need = engine_group_pages(T, front.group_size, front.params.max_new_tokens);
      if (need > cache_num_free_pages(e.cache) - e.reserved_pages) break;
      if (!batch.empty() && (static_cast<long>(tokens.size()) + T > e.opt.prefill_tokens ||
                             static_cast<int>(batch.size()) == max_prefill))
        break;
      auto* g = new EngineGroup();
      g->req = std::move(e.waiting.front());
      e.waiting.pop_front();
      g->t0 = std::chrono::steady_clock::now();
      g->version = e.model->version;
      e.reserved_pages += static_cast<long>(g->req.group_size) *
                          engine_sample_pages(T, g->req.params.max_new_tokens);
      // The prompt's pages, held by the prefill until each sample takes its share.
      KvPageTable prompt;
      for (int i = 0; i < pages_for_tokens(T); i++)
        prompt.pages.push_back(page_alloc(e.cache.pool));
      prompt.len = T;
      prompts.push_back(std::move(prompt));
      tokens.insert(tokens.end(), g->req.prompt.begin(), g->req.prompt.end());
      seq_start.push_back(static_cast<int>(tokens.size()));
      batch.push_back(g);
    }
    if (batch.empty()) break;
    const int n = static_cast<int>(batch.size());
    std::vector<const KvPageTable*> tables(n);
    std::vector<std::vector<int>*> routing(n);
    for (int b = 0; b < n; b++) {
      tables[b] = &prompts[b];
      routing[b] = batch[b]->req.return_routing ? &batch[b]->prompt_routing : nullptr;
    }
    std::vector<float> logits(host ? static_cast<size_t>(n) * c.vocab_size : 0);
    float* lg = host ? logits.data() : e.prefill_logits_dev.data();
    const auto t0 = std::chrono::steady_clock::now();
    try {
      decode_prefill(*e.model, e.prefill_acts, e.cache, tokens.data(), seq_start.data(), n,
                     tables.data(), lg, routing.data());
    } catch (...) {
      // Nothing admitted: the requests wait again, in order, and their pages are free.
      for (int b = n - 1; b >= 0; b--) {
        EngineGroup* g = batch[b];
        page_table_release(e.cache.pool, prompts[b]);
        e.reserved_pages -= static_cast<long>(g->req.group_size) *
                            engine_sample_pages(static_cast<int>(g->req.prompt.size()),
                                                g->req.params.max_new_tokens);
        e.waiting.push_front(std::move(g->req));
        delete g;
      }
      throw;
    }
    e.groups.insert(e.groups.end(), batch.begin(), batch.end());
    for (int b = 0; b < n; b++) {
      EngineGroup* g = batch[b];
      const int T = static_cast<int>(g->req.prompt.size());
      e.stats.prefill_tokens += T;
      e.stats.prefill_tokens_saved += static_cast<long>(T) * (g->req.group_size - 1);
      g->seqs.resize(g->req.group_size);
      const int own = engine_sample_pages(T, g->req.params.max_new_tokens);
      for (int i = 0; i < g->req.group_size; i++) {
        EngineSeq& s = g->seqs[i];
        s.group = g;
        s.sample_idx = i;
        s.reserved = own;
        page_table_share(e.cache.pool, prompts[b], s.table);
      }
      page_table_release(e.cache.pool, prompts[b]);
    }
    sample_first_tokens(e, batch, lg);
    e.stats.prefill_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
}

// Assembles routing [num_moe_layers][T + n, K] from the prompt's and the per-token records.
void finalize_routing(const ModelConfig& c, EngineGroup& g, EngineSeq& s,
                      const std::vector<std::vector<int>>& gen_routing) {
  const int K = c.num_experts_per_tok, Lm = cfg_num_moe_layers(c);
  const int T = static_cast<int>(g.req.prompt.size());
  const int n = static_cast<int>(s.out.completion.size());
  s.out.routing_num_layers = Lm;
  s.out.routing_top_k = K;
  s.out.routing.assign(static_cast<size_t>(Lm) * (T + n) * K, 0);
  for (int l = 0; l < Lm; l++) {
    int* dst = &s.out.routing[static_cast<size_t>(l) * (T + n) * K];
    std::memcpy(dst, &g.prompt_routing[static_cast<size_t>(l) * T * K],
                static_cast<size_t>(T) * K * sizeof(int));
    // gen_routing[i] holds token i's experts for all layers ([Lm, K]); the last token repeats.
    for (int i = 0; i < n; i++) {
      const int src_i = std::min(i, static_cast<int>(gen_routing.size()) - 1);
      const int* src = src_i >= 0 ? &gen_routing[src_i][static_cast<size_t>(l) * K]
                                  : &g.prompt_routing[(static_cast<size_t>(l) * T + T - 1) * K];
      std::memcpy(dst + static_cast<size_t>(T + i) * K, src, K * sizeof(int));
    }
  }
}

}  // namespace

int engine_step(Engine& e, std::vector<EngineResult>& done) {
  const ModelConfig& c = e.model->cfg;
  const int K = c.num_experts_per_tok, Lm = cfg_num_moe_layers(c);
  admit(e);

  // Gather active samples: each feeds its last token to get the next.
  std::vector<EngineSeq*> active;
  for (EngineGroup* g : e.groups)
    for (EngineSeq& s : g->seqs)
      if (!s.done && static_cast<int>(active.size()) < e.opt.max_batch) active.push_back(&s);
  const int B = static_cast<int>(active.size());
  if (B > 0) {
    // Page tables in FlashInfer's format. A sequence's table grows by a page only at a boundary;
    // the flat page_ids is concatenated per step (one id per 64 tokens, as schedulers do).
    std::vector<int>& tokens = e.step_tokens;
    std::vector<int>& page_indptr = e.step_page_indptr;
    std::vector<int>& page_ids = e.step_page_ids;
    std::vector<int>& seq_lens = e.step_seq_lens;
    tokens.resize(B);
    seq_lens.resize(B);
    page_indptr.assign(1, 0);
    page_ids.clear();
    for (int b = 0; b < B; b++) {
      EngineSeq& s = *active[b];
      const int free_before = cache_num_free_pages(e.cache);
      const int row = cache_append_token(e.cache, s.table);
      AHA_CHECK(row >= 0, "KV cache pages exhausted despite the admission reserve");
      const int took = free_before - cache_num_free_pages(e.cache);  // 0 or 1
      s.reserved -= took;
      e.reserved_pages -= took;
      AHA_CHECK(s.reserved >= 0, "a sample took more pages than admission reserved for it");
      tokens[b] = s.out.completion.back();
      seq_lens[b] = s.table.len;
      page_ids.insert(page_ids.end(), s.table.pages.begin(), s.table.pages.end());
      page_indptr.push_back(static_cast<int>(page_ids.size()));
    }
    const bool host = e.model->ctx.device == Device::kCpu;
    std::vector<float> logits(host ? static_cast<size_t>(B) * c.vocab_size : 0);
    bool want_routing = false;
    for (EngineSeq* s : active) want_routing = want_routing || s->group->req.return_routing;
    std::vector<int> topk(static_cast<size_t>(std::max(Lm, 1)) * B * K);
    // The CPU records routing for every step (it is cheap there); CUDA copies it back only when a
    // sample in the batch asks for it.
    int* topk_out = Lm > 0 && (host || want_routing) ? topk.data() : nullptr;
    const auto t0 = std::chrono::steady_clock::now();
    decode_step(*e.model, e.scratch, e.cache, tokens.data(), page_indptr.data(), page_ids.data(),
                seq_lens.data(), B, host ? logits.data() : e.logits_dev.data(), topk_out);
    if (!host) {
      e.rows_host.resize(B);
      for (int b = 0; b < B; b++) {
        const EngineSeq& s = *active[b];
        e.rows_host[b] = sampling_row(s.group->req.params, s.group->req.seed, s.sample_idx,
                                      s.out.completion.size());
      }
      sample_on_device(e, B);
    }
    // On CUDA the draw waited for the step; on the CPU the step is done.
    e.stats.decode_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    e.stats.decode_tokens += B;
    e.stats.decode_steps++;
    for (int b = 0; b < B; b++) {
      EngineSeq& s = *active[b];
      const EngineRequest& req = s.group->req;
      if (req.return_routing) {
        // Routing of the token just fed (the previous sampled one): [Lm, K].
        std::vector<int> r(static_cast<size_t>(Lm) * K);
        for (int l = 0; l < Lm; l++)
          std::memcpy(&r[static_cast<size_t>(l) * K], &topk[(static_cast<size_t>(l) * B + b) * K],
                      K * sizeof(int));
        s.out.routing.insert(s.out.routing.end(), r.begin(), r.end());
      }
      SampledToken t = host ? sample_token(&logits[static_cast<size_t>(b) * c.vocab_size],
                                           c.vocab_size, req.params, req.seed, s.sample_idx,
                                           s.out.completion.size(), e.sort_scratch)
                            : e.drawn_host[b];
      if (accept_token(e, s, t)) finish_seq(e, s);
    }
  }

  // Hand back finished groups (their samples released their pages when they finished).
  int in_flight = 0;
  for (size_t i = 0; i < e.groups.size();) {
    EngineGroup* g = e.groups[i];
    if (g->num_done < g->req.group_size) {
      in_flight += g->req.group_size - g->num_done;
      i++;
      continue;
    }
    EngineResult r;
    r.request_id = g->req.request_id;
    r.weight_version = g->version;
    r.prompt_len = static_cast<int>(g->req.prompt.size());
    r.gen_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - g->t0).count();
    for (EngineSeq& s : g->seqs) {
      if (g->req.return_routing) {
        // s.out.routing holds per fed token [Lm, K] records; reshape to [Lm][T+n, K].
        std::vector<std::vector<int>> gen;
        for (size_t j = 0; j + static_cast<size_t>(Lm) * K <= s.out.routing.size();
             j += static_cast<size_t>(Lm) * K)
          gen.emplace_back(s.out.routing.begin() + j, s.out.routing.begin() + j + Lm * K);
        finalize_routing(c, *g, s, gen);
      }
      r.samples.push_back(std::move(s.out));
    }
    done.push_back(std::move(r));
    delete g;
    e.groups.erase(e.groups.begin() + i);
  }
  return in_flight + static_cast<int>(e.waiting.size());
}

bool engine_cancel(Engine& e, uint64_t request_id) {
  for (auto it = e.waiting.begin(); it != e.waiting.end(); ++it)
    if (it->request_id == request_id) {
      e.waiting.erase(it);
      return true;
    }
  for (size_t i = 0; i < e.groups.size(); i++) {
    EngineGroup* g = e.groups[i];
    if (g->req.request_id != request_id) continue;
    for (EngineSeq& s : g->seqs)
      if (!s.done) finish_seq(e, s);
    delete g;
    e.groups.erase(e.groups.begin() + i);
    return true;
  }
  return false;
}

void engine_run(Engine& e, std::vector<EngineResult>& done) {
  while (!engine_idle(e)) engine_step(e, done);
}

}  // namespace aha
