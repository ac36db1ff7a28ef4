#include "rollout/engine.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "kernels/check.h"

namespace aha {

struct EngineSeq {
  EngineGroup* group = nullptr;
  int sample_idx = 0;
  std::vector<int> rows;  // own cache rows (generated tokens fed so far)
  Sample out;
  std::string text_tail;  // recent text for stop strings
  bool done = false;
};

struct EngineGroup {
  EngineRequest req;
  std::vector<int> prompt_rows;
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
  cache_init(e.cache, model.cfg, opt.max_tokens_in_flight);
}

void engine_submit(Engine& e, EngineRequest req) {
  AHA_CHECK(!req.prompt.empty(), "empty prompt");
  AHA_CHECK(req.group_size >= 1, "group_size must be >= 1");
  AHA_CHECK(req.params.max_new_tokens >= 1, "max_new_tokens must be >= 1");
  const ModelConfig& c = e.model->cfg;
  for (int id : req.prompt) AHA_CHECK(id >= 0 && id < c.vocab_size, "prompt token out of range");
  long need = static_cast<long>(req.prompt.size()) +
              static_cast<long>(req.group_size) * req.params.max_new_tokens;
  AHA_CHECK(need <= e.cache.num_rows, "request needs " + std::to_string(need) +
                                          " cache rows, the engine has " +
                                          std::to_string(e.cache.num_rows));
  AHA_CHECK(
      static_cast<long>(req.prompt.size()) + req.params.max_new_tokens <= c.max_position_embeddings,
      "prompt + max_new_tokens exceeds max_position_embeddings");
  // A dense model routes nothing: there is no routing to return.
  if (cfg_num_moe_layers(c) == 0) req.return_routing = false;
  e.waiting.push_back(std::move(req));
}

bool engine_idle(const Engine& e) {
  return e.waiting.empty() && e.groups.empty();
}

void engine_set_weights(Engine& e, const float* params, long num_params, uint64_t version) {
  AHA_CHECK(num_params == e.model->num_params, "weights of another shape");
  if (params != e.model->params.data())
    std::memcpy(e.model->params.data(), params, static_cast<size_t>(num_params) * sizeof(float));
  e.model->version = version;
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

void finish_seq(Engine& e, EngineSeq& s) {
  s.done = true;
  s.group->num_done++;
  for (int r : s.rows) cache_free_row(e.cache, r);
  // Rows promised but never used go back to the pool of admissible rows.
  long used = static_cast<long>(s.rows.size());
  e.reserved_rows -= s.group->req.params.max_new_tokens - used;
  s.rows.clear();
}

void admit(Engine& e) {
  const ModelConfig& c = e.model->cfg;
  while (!e.waiting.empty()) {
    const EngineRequest& front = e.waiting.front();
    const long T = static_cast<long>(front.prompt.size());
    long need = T + static_cast<long>(front.group_size) * front.params.max_new_tokens;
    if (need > cache_num_free(e.cache) - e.reserved_rows) break;
    auto* g = new EngineGroup();
    g->req = std::move(e.waiting.front());
    e.waiting.pop_front();
    g->t0 = std::chrono::steady_clock::now();
    g->version = e.model->version;
    e.reserved_rows += static_cast<long>(g->req.group_size) * g->req.params.max_new_tokens;
    for (long i = 0; i < T; i++) g->prompt_rows.push_back(cache_alloc_row(e.cache));
    std::vector<float> logits(c.vocab_size);
    decode_prefill(*e.model, e.prefill_acts, e.cache, g->req.prompt.data(), static_cast<int>(T),
                   g->prompt_rows.data(), logits.data(),
                   g->req.return_routing ? &g->prompt_routing : nullptr);
    e.stats.prefill_tokens += T;
    e.stats.prefill_tokens_saved += T * (g->req.group_size - 1);
    g->seqs.resize(g->req.group_size);
    e.groups.push_back(g);
    for (int i = 0; i < g->req.group_size; i++) {
      EngineSeq& s = g->seqs[i];
      s.group = g;
      s.sample_idx = i;
      SampledToken t = sample_token(logits.data(), c.vocab_size, g->req.params, g->req.seed, i, 0,
                                    e.sort_scratch);
      if (accept_token(e, s, t)) finish_seq(e, s);
    }
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
    std::vector<int> tokens(B), positions(B), new_rows(B), ctx_start(B + 1, 0), ctx_rows;
    for (int b = 0; b < B; b++) {
      EngineSeq& s = *active[b];
      const int T = static_cast<int>(s.group->req.prompt.size());
      int row = cache_alloc_row(e.cache);
      AHA_CHECK(row >= 0, "latent cache exhausted despite the admission reserve");
      e.reserved_rows--;
      s.rows.push_back(row);
      tokens[b] = s.out.completion.back();
      positions[b] = T + static_cast<int>(s.out.completion.size()) - 1;
      new_rows[b] = row;
      ctx_rows.insert(ctx_rows.end(), s.group->prompt_rows.begin(), s.group->prompt_rows.end());
      ctx_rows.insert(ctx_rows.end(), s.rows.begin(), s.rows.end());
      ctx_start[b + 1] = static_cast<int>(ctx_rows.size());
    }
    std::vector<float> logits(static_cast<size_t>(B) * c.vocab_size);
    std::vector<int> topk(static_cast<size_t>(std::max(Lm, 1)) * B * K);
    decode_step(*e.model, e.scratch, e.cache, tokens.data(), positions.data(), new_rows.data(),
                ctx_rows.data(), ctx_start.data(), B, logits.data(),
                Lm > 0 ? topk.data() : nullptr);
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
      SampledToken t =
          sample_token(&logits[static_cast<size_t>(b) * c.vocab_size], c.vocab_size, req.params,
                       req.seed, s.sample_idx, s.out.completion.size(), e.sort_scratch);
      if (accept_token(e, s, t)) finish_seq(e, s);
    }
  }

  // Hand back finished groups and free their prompt rows.
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
    for (int row : g->prompt_rows) cache_free_row(e.cache, row);
    done.push_back(std::move(r));
    delete g;
    e.groups.erase(e.groups.begin() + i);
  }
  return in_flight + static_cast<int>(e.waiting.size());
}

void engine_run(Engine& e, std::vector<EngineResult>& done) {
  while (!engine_idle(e)) engine_step(e, done);
}

}  // namespace aha
