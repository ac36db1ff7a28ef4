// The rollout engine against the learner's forward and against a naive multi-head decode.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"
#include "kernels/rmsnorm.h"
#include "kernels/rng.h"
#include "policy/config_presets.h"
#include "policy/decode.h"
#include "rollout/engine.h"
#include "tests/engine_run_all.h"
#include "tests/unit/model_test_util.h"

using namespace aha;

namespace {

ModelConfig engine_config(int q_lora_rank) {
  ModelConfig c = config_tiny();
  c.vocab_size = 29;
  c.q_lora_rank = q_lora_rank;
  c.num_hidden_layers = 3;
  c.first_k_dense_replace = 1;
  c.max_position_embeddings = 128;
  return c;
}

// The Qwen family on the same vocabulary: GQA 4/2 heads of 8 dims, layer 0 dense.
ModelConfig engine_qwen_config(const std::string& model_type) {
  // clang-format off
  return config_qwen(model_type, {.V = 29, .C = 32, .L = 3, .NH = 4, .NKV = 2, .head_dim = 8,
      .FF = 48, .moe_FF = 16, .E = 4, .K = 2, .max_position_embeddings = 128});
  // clang-format on
}

Model make_model(const ModelConfig& cfg, uint64_t seed) {
  return test::sharp_model(cfg, seed, 10.0f);
}

Model make_model(int q_lora_rank, uint64_t seed) {
  return make_model(engine_config(q_lora_rank), seed);
}

std::vector<EngineResult> run_requests(Model& m, const std::vector<EngineRequest>& reqs,
                                       int max_batch = 256, int prefill_prompts = 0) {
  Engine e;
  EngineOptions opt;
  opt.max_tokens_in_flight = 4096;
  opt.max_batch = max_batch;
  opt.prefill_prompts = prefill_prompts;
  engine_init(e, m, opt);
  return test::engine_run_all(e, reqs);
}

std::vector<EngineRequest> mixed_requests(int num_prompts, int G, bool routing) {
  std::vector<EngineRequest> reqs;
  Rng rng{5};
  for (int i = 0; i < num_prompts; i++) {
    EngineRequest r;
    r.request_id = 100 + i;
    int T = 1 + static_cast<int>(rng.next_u64() % 12);
    for (int t = 0; t < T; t++) r.prompt.push_back(static_cast<int>(rng.next_u64() % 29));
    r.group_size = G;
    r.params.temperature = 0.8f + 0.1f * (i % 3);
    r.params.max_new_tokens = 4 + static_cast<int>(rng.next_u64() % 20);
    r.params.stop_token_ids = {0};
    r.seed = 1000 + i;
    r.return_routing = routing;
    reqs.push_back(r);
  }
  return reqs;
}

// The largest |rollout log-prob - learner log-prob| over every completion token of res, the
// learner running one packed batch of all the sequences per temperature class.
double learner_logp_gap(Model& m, const std::vector<EngineRequest>& reqs,
                        const std::vector<EngineResult>& res, bool mixed_lengths = true) {
  const int G = reqs.empty() ? 1 : reqs[0].group_size;
  // One packed learner batch holding all sequences; targets only on completion tokens.
  Batch b;
  std::vector<const Sample*> samples;
  std::vector<int> starts;
  std::vector<float> inv_temps;
  int num_lengths_seen = 0, last_len = -1;
  for (size_t i = 0; i < res.size(); i++) {
    for (const Sample& s : res[i].samples) {
      std::vector<int> ids = reqs[i].prompt;
      ids.insert(ids.end(), s.completion.begin(), s.completion.end());
      starts.push_back(batch_num_tokens(b));
      batch_add_sequence(b, ids, static_cast<int>(reqs[i].prompt.size()) - 1);
      samples.push_back(&s);
      inv_temps.push_back(1.0f / reqs[i].params.temperature);
      num_lengths_seen += static_cast<int>(s.completion.size()) != last_len;
      last_len = static_cast<int>(s.completion.size());
    }
  }
  REQUIRE(samples.size() == reqs.size() * G);
  if (mixed_lengths) CHECK(num_lengths_seen > 10);
  // The learner forward per temperature class (logp depends on the temperature).
  double max_diff = 0;
  for (float inv_t : {1.0f / 0.8f, 1.0f / 0.9f, 1.0f / 1.0f}) {
    Acts a;
    ForwardOptions opt;
    opt.inv_temp = inv_t;
    model_forward(m, a, b, opt);
    for (size_t j = 0; j < samples.size(); j++) {
      if (inv_temps[j] != inv_t) continue;
      int T = static_cast<int>(reqs[j / G].prompt.size());
      for (size_t t = 0; t < samples[j]->completion.size(); t++) {
        float learner = a.logp[starts[j] + T - 1 + t];
        max_diff = std::fmax(max_diff, std::fabs(learner - samples[j]->rollout_logp[t]));
      }
    }
  }
  return max_diff;
}

// One config of each attention and MoE variant.
std::vector<std::pair<std::string, ModelConfig>> every_family() {
  ModelConfig ds_yarn = engine_config(16);
  ds_yarn.rope_scaling.type = RopeType::kYarn;
  ds_yarn.rope_scaling.factor = 4.0;
  ds_yarn.rope_scaling.original_max_position_embeddings = 8;
  ds_yarn.rope_scaling.mscale = ds_yarn.rope_scaling.mscale_all_dim = 1.0;
  ModelConfig qwen2 = engine_qwen_config("qwen2");
  qwen2.tie_word_embeddings = true;
  return {{"deepseek q_proj", engine_config(0)},
          {"deepseek q_lora", engine_config(16)},
          {"deepseek q_lora + yarn", ds_yarn},
          {"qwen3_moe", engine_qwen_config("qwen3_moe")},
          {"qwen2 dense, tied", qwen2}};
}

// A sharp model of cfg and 16 mixed requests (G = 4, routing on) run through the engine.
struct MixedRun {
  Model m;
  std::vector<EngineRequest> reqs;
  std::vector<EngineResult> res;
};

MixedRun run_mixed(const ModelConfig& cfg) {
  MixedRun r{make_model(cfg, 11), mixed_requests(16, 4, true), {}};
  r.res = run_requests(r.m, r.reqs);
  REQUIRE(r.res.size() == 16);
  return r;
}

// The batch-invariant mode for the life of a scope.
struct BatchInvariantScope {
  BatchInvariantScope() { gemm_set_batch_invariant(true); }
  ~BatchInvariantScope() { gemm_set_batch_invariant(false); }
};

}  // namespace

TEST_CASE("cached decode log-probs equal the learner's full forward (64 samples, every family)") {
  for (const auto& [name, cfg] : every_family()) {
    CAPTURE(name);
    MixedRun run = run_mixed(cfg);
    auto& [m, reqs, res] = run;
    const double max_diff = learner_logp_gap(m, reqs, res);
    INFO(name, " max |dlogp|=", max_diff);
    // Float rounding only: the engine's GEMMs run on slices of kDecodeSliceRows rows, the
    // learner's on all tokens, and BLAS sums in another order for another row count.
    CHECK(max_diff <= 2e-5);

    // Routing replay: the learner forward with the rollout's experts gives the same log-probs.
    for (size_t i = 0; i < 2; i++) {
      const Sample& s = res[i].samples[0];
      Batch one;
      std::vector<int> ids = reqs[i].prompt;
      ids.insert(ids.end(), s.completion.begin(), s.completion.end());
      batch_add_sequence(one, ids, 0);
      Acts a1, a2;
      ForwardOptions opt;
      opt.inv_temp = 1.0f / reqs[i].params.temperature;
      model_forward(m, a1, one, opt);
      ForwardOptions rep = opt;
      REQUIRE(s.routing.size() == static_cast<size_t>(cfg_num_moe_layers(m.cfg)) * ids.size() *
                                      m.cfg.num_experts_per_tok);
      rep.replay_topk_idx = s.routing.empty() ? nullptr : s.routing.data();
      model_forward(m, a2, one, rep);
      for (size_t t = 0; t + 1 < ids.size(); t++)
        CHECK(a1.logp[t] == doctest::Approx(a2.logp[t]).epsilon(1e-6));
    }
  }
}

// A naive decode: per layer a cache of full per-head keys and values (no latent absorption).
TEST_CASE("latent-cache decode equals a naive multi-head-cache decode") {
  Model m = make_model(16, 21);
  const ModelConfig& c = m.cfg;
  const int C = c.hidden_size, NH = c.num_attention_heads, DN = c.qk_nope_head_dim,
            DR = c.qk_rope_head_dim, DV = c.v_head_dim, R = c.kv_lora_rank, DQK = DN + DR;
  std::vector<int> seq = {3, 14, 15, 9, 26, 5, 3, 5, 8, 9, 7, 9};
  const int T = static_cast<int>(seq.size());
  // Latent path: prefill the first token, then decode token by token.
  KvCache cache;
  cache_init(cache, c, 1);
  DecodeScratch ds;
  KvPageTable table;
  std::vector<std::vector<float>> latent_logits;
  for (int t = 0; t < T; t++) {
    const int row = cache_append_token(cache, table);
    REQUIRE(row == page_table_row(table, t));
    std::vector<float> logits(c.vocab_size);
    int indptr[2] = {0, static_cast<int>(table.pages.size())};
    decode_step(m, ds, cache, &seq[t], indptr, table.pages.data(), &table.len, 1, logits.data(),
                nullptr);
    latent_logits.push_back(logits);
  }
  // Naive path.
  std::vector<std::vector<float>> kcache(c.num_hidden_layers), vcache(c.num_hidden_layers);
  double max_diff = 0;
  std::vector<LayerActs> las(c.num_hidden_layers);
  for (int t = 0; t < T; t++) {
    std::vector<float> x(C), tmp(C);
    embedding_forward(x.data(), &seq[t], m.w.embed, 1, c.vocab_size, C);
    for (int l = 0; l < c.num_hidden_layers; l++) {
      LayerActs& la = las[l];
      layer_attn_inputs(m, l, la, x.data(), &t, 1);
      std::vector<float> kv(NH * (DN + DV));
      linear_forward(kv.data(), la.ckv.data(), m.w.layers[l].kv_b_proj, 1, R, NH * (DN + DV));
      for (int h = 0; h < NH; h++) {
        for (int i = 0; i < DN; i++) kcache[l].push_back(kv[h * (DN + DV) + i]);
        for (int i = 0; i < DR; i++) kcache[l].push_back(la.kv_a[R + i]);
        for (int i = 0; i < DV; i++) vcache[l].push_back(kv[h * (DN + DV) + DN + i]);
      }
      std::vector<float> att(NH * DV, 0.0f);
      for (int h = 0; h < NH; h++) {
        std::vector<double> sc(t + 1);
        double mx = -1e300;
        for (int j = 0; j <= t; j++) {
          double s = 0;
          for (int i = 0; i < DQK; i++)
            s += static_cast<double>(la.q[h * DQK + i]) *
                 kcache[l][(static_cast<size_t>(j) * NH + h) * DQK + i];
          sc[j] = s / std::sqrt(static_cast<double>(DQK));
          mx = std::max(mx, sc[j]);
        }
        double z = 0;
        for (int j = 0; j <= t; j++) z += std::exp(sc[j] - mx);
        for (int j = 0; j <= t; j++)
          for (int i = 0; i < DV; i++)
            att[h * DV + i] += static_cast<float>(
                std::exp(sc[j] - mx) / z * vcache[l][(static_cast<size_t>(j) * NH + h) * DV + i]);
      }
      linear_forward(tmp.data(), att.data(), m.w.layers[l].o_proj, 1, NH * DV, C);
      for (int i = 0; i < C; i++) x[i] += tmp[i];
      layer_ffn_forward(m, l, la, x.data(), tmp.data(), 1, nullptr, nullptr);
    }
    std::vector<float> lnf(C), logits(c.vocab_size);
    rmsnorm_forward(lnf.data(), nullptr, x.data(), m.w.norm, 1, C, c.rms_norm_eps);
    linear_forward(logits.data(), lnf.data(), m.w.lm_head, 1, C, c.vocab_size);
    for (int v = 0; v < c.vocab_size; v++)
      max_diff = std::fmax(max_diff, std::fabs(logits[v] - latent_logits[t][v]));
  }
  INFO("max |dlogit| = ", max_diff);
  CHECK(max_diff < 1e-4);
  // tiny heads: (R + DR) = 40 floats against NH * (DQK + DV) = 160.
  CHECK(cache_bytes_per_token(c) * 4 == mha_cache_bytes_per_token(c));
}

TEST_CASE("packed prefill (CUDA's default) gives the one-prompt-at-a-time prefill's samples") {
  // The packing's bookkeeping (rows of each prompt's pages, its last row's logits, its share of
  // the routing, the first draws per group) checked on the CPU, where both ways run.
  for (const ModelConfig& cfg : {engine_config(0), engine_qwen_config("qwen3_moe")}) {
    Model m = make_model(cfg, 41);
    const std::vector<EngineRequest> reqs = mixed_requests(10, 3, true);
    const std::vector<EngineResult> one = run_requests(m, reqs);
    const std::vector<EngineResult> packed = run_requests(m, reqs, 256, 4);
    REQUIRE(packed.size() == one.size());
    for (size_t i = 0; i < one.size(); i++)
      for (int g = 0; g < 3; g++) {
        const Sample& a = one[i].samples[g];
        const Sample& b = packed[i].samples[g];
        INFO(cfg.model_type << " request " << i << " sample " << g);
        CHECK(b.completion == a.completion);
        CHECK(b.routing == a.routing);
        REQUIRE(b.rollout_logp.size() == a.rollout_logp.size());
        for (size_t t = 0; t < a.rollout_logp.size(); t++)
          CHECK(std::fabs(b.rollout_logp[t] - a.rollout_logp[t]) <= 1e-4f);
      }
  }
}

TEST_CASE("same seed gives the same tokens alone and batched") {
  Model m = make_model(0, 31);
  std::vector<EngineRequest> reqs = mixed_requests(12, 3, false);
  std::vector<EngineResult> batched = run_requests(m, reqs);
  std::vector<EngineResult> small_batches = run_requests(m, reqs, 2);
  for (size_t i = 0; i < reqs.size(); i++) {
    std::vector<EngineResult> alone = run_requests(m, {reqs[i]});
    for (int g = 0; g < 3; g++) {
      CHECK(alone[0].samples[g].completion == batched[i].samples[g].completion);
      CHECK(small_batches[i].samples[g].completion == batched[i].samples[g].completion);
    }
  }
  // Different samples of a group differ (they have their own random streams).
  int differ = 0;
  for (const EngineResult& r : batched)
    differ += r.samples[0].completion != r.samples[1].completion;
  CHECK(differ > 6);
}

TEST_CASE("a step split over threads in slices of rows equals the whole step on one thread") {
  Model m = make_model(0, 37);
  // 96 rows: slices of kDecodeSliceRows, taken by one thread or by two.
  std::vector<EngineRequest> reqs = mixed_requests(24, 4, true);
  set_compute_threads(1);
  std::vector<EngineResult> one = run_requests(m, reqs);
  set_compute_threads(2);
  std::vector<EngineResult> two = run_requests(m, reqs);
  set_compute_threads(1);
  REQUIRE(one.size() == two.size());
  double max_diff = 0;
  for (size_t i = 0; i < one.size(); i++)
    for (size_t g = 0; g < one[i].samples.size(); g++) {
      const Sample &a = one[i].samples[g], &b = two[i].samples[g];
      CHECK(a.completion == b.completion);
      CHECK(a.routing == b.routing);
      REQUIRE(a.rollout_logp.size() == b.rollout_logp.size());
      for (size_t t = 0; t < a.rollout_logp.size(); t++)
        max_diff = std::fmax(max_diff, std::fabs(a.rollout_logp[t] - b.rollout_logp[t]));
    }
  INFO("max |dlogp| = ", max_diff);
  CHECK(max_diff == 0.0);
}

TEST_CASE("continuous batching frees pages and respects the cache budget") {
  Model m = make_model(0, 41);
  Engine e;
  EngineOptions opt;
  // A group (prompt <= 12 tokens, G = 2, 20 new tokens) needs 1 prompt page + 2 own pages:
  // 6 pages fit two groups at once.
  opt.max_tokens_in_flight = 6 * kPageTokens;
  engine_init(e, m, opt);
  std::vector<EngineRequest> reqs = mixed_requests(10, 2, false);
  for (auto& r : reqs) r.params.max_new_tokens = 20;
  for (auto& r : reqs) engine_submit(e, r);
  std::vector<EngineResult> done;
  int steps = 0;
  while (!engine_idle(e)) {
    engine_step(e, done);
    CHECK(e.groups.size() <= 2);
    CHECK(e.reserved_pages >= 0);
    CHECK(cache_num_free_pages(e.cache) >= e.reserved_pages);
    steps++;
  }
  CHECK(done.size() == 10);
  CHECK(page_pool_whole(e.cache.pool));  // every page returned
  CHECK(e.reserved_pages == 0);
  CHECK(e.stats.prefill_tokens_saved > 0);
  for (const EngineResult& r : done)
    for (const Sample& s : r.samples) {
      CHECK((s.finish_reason == "stop" || s.finish_reason == "length"));
      if (s.finish_reason == "stop")
        CHECK(s.completion.back() == 0);
      else
        CHECK(s.completion.size() == 20);
    }
}

TEST_CASE("batch-invariant mode: rollout log-probs are the learner's bits, alone or batched") {
  BatchInvariantScope invariant;
  for (const auto& [name, cfg] : every_family()) {
    CAPTURE(name);
    MixedRun run = run_mixed(cfg);
    auto& [m, reqs, res] = run;
    // The learner over one packed batch of all 64 sequences: not one bit apart.
    CHECK(learner_logp_gap(m, reqs, res) == 0.0);
    // Batches of 3 rows, packed prefill of 8 prompts, 2 compute threads, and each request
    // alone: every token and log-prob the same bits.
    set_compute_threads(2);
    std::vector<EngineResult> small = run_requests(m, reqs, 3);
    std::vector<EngineResult> packed = run_requests(m, reqs, 256, 8);
    set_compute_threads(1);
    for (size_t i = 0; i < reqs.size(); i++) {
      std::vector<EngineResult> alone = run_requests(m, {reqs[i]});
      for (const std::vector<EngineResult>* other : {&small, &packed, &alone}) {
        const EngineResult& o = other == &alone ? alone[0] : (*other)[i];
        REQUIRE(o.samples.size() == res[i].samples.size());
        for (size_t g = 0; g < o.samples.size(); g++) {
          CHECK(o.samples[g].completion == res[i].samples[g].completion);
          CHECK(o.samples[g].rollout_logp == res[i].samples[g].rollout_logp);
          CHECK(o.samples[g].routing == res[i].samples[g].routing);
        }
      }
    }
  }
}

TEST_CASE("batch-invariant mode: a 300-token prompt (expanded MLA rows written in chunks)") {
  BatchInvariantScope invariant;
  ModelConfig cfg = engine_config(16);
  cfg.max_position_embeddings = 512;
  Model m = make_model(cfg, 13);
  std::vector<EngineRequest> reqs = mixed_requests(2, 2, false);
  Rng rng{9};
  reqs[0].prompt.clear();
  for (int t = 0; t < 300; t++) reqs[0].prompt.push_back(static_cast<int>(rng.next_u64() % 29));
  std::vector<EngineResult> res = run_requests(m, reqs);
  REQUIRE(res.size() == 2);
  CHECK(learner_logp_gap(m, reqs, res, false) == 0.0);
}
