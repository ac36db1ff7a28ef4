// The CUDA inference core (rollout/engine.h over a CUDA model: bf16 paged cache, the decode path's
// CUDA twins, the CUDA sampler) against the CPU engine and the GPU learner's forward, on the
// built-in model (experiments/base-arith: a trained 3-layer DeepSeek-V3, MLA with a 48 + 8 latent,
// so our decode kernel rather than FlashInfer's 512 + 64 one) and a tiny Qwen3-MoE (GQA):
// - the decode path's new twins equal their CPU ops: mla_absorb_q / mla_absorb_out (fp32 cuBLAS
//   against the CPU's fp32 GEMMs) and the cache write (bf16 of the CPU's rows, exactly);
// - greedy tokens equal the CPU engine's up to the first position where the CPU's top two logits
//   lie within the bf16 bound of the whole model ((6L+1) 2^-8 of the row's largest logit, as
//   test_cuda_model bounds gradients): there bf16 GEMMs may order the two either way;
// - sampled log-probs agree with the GPU learner's forward over the finished sequences (max and
//   mean |delta| printed, and bounded);
// - two runs give the same bits; after requests of random lengths with cancels the pool is whole.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/mla.h"
#include "kernels/ops.h"
#include "kernels/rng.h"
#include "kernels/rows.h"
#include "policy/checkpoint.h"
#include "policy/config_presets.h"
#include "policy/decode.h"
#include "policy/tiny_tokenizer.h"
#include "rollout/engine.h"
#include "tests/engine_run_all.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/gpu_util.h"
#include "tests/gpu/model_fixture.h"

using namespace aha;
using gpu_test::Dev;

namespace {

const std::string kBaseArith = std::string(AHA_SOURCE_DIR) + "/experiments/base-arith";

// |got - ref| <= tol * (1 + |ref|) everywhere (fp32 against fp32: summation order only).
void check_fp32(const std::vector<float>& got, const std::vector<float>& ref, double tol,
                const char* what) {
  REQUIRE(got.size() == ref.size());
  double worst = 0;
  for (size_t i = 0; i < ref.size(); i++)
    worst =
        std::max(worst, std::fabs(static_cast<double>(got[i]) - ref[i]) / (1 + std::fabs(ref[i])));
  INFO(what << ": worst relative error " << worst);
  CHECK(worst <= tol);
}

// "a+b=" in the tiny tokenizer (policy/tiny_tokenizer.h: BOS, then one id per character).
std::vector<int> arith_prompt(int a, int b) {
  const std::string text = std::to_string(a) + "+" + std::to_string(b) + "=";
  std::vector<int> ids = {kTinyBos};
  for (char ch : text) ids.push_back(8 + (ch - 32));
  return ids;
}

std::vector<EngineRequest> arith_requests(int n, int G, float temperature, uint64_t seed) {
  std::vector<EngineRequest> reqs;
  Rng rng{seed};
  for (int i = 0; i < n; i++) {
    EngineRequest r;
    r.request_id = static_cast<uint64_t>(i);
    r.prompt = arith_prompt(static_cast<int>(rng.next_u64() % 100),
                            static_cast<int>(rng.next_u64() % 100));
    r.group_size = G;
    r.params.temperature = temperature;
    r.params.max_new_tokens = 24;
    r.params.stop_token_ids = {kTinyEos};
    r.seed = seed * 1000 + static_cast<uint64_t>(i);
    r.return_routing = true;
    reqs.push_back(r);
  }
  return reqs;
}

// The first position (prompt and completion, over the positions both samples have) whose routed
// experts differ between samples a and b of the same prompt of T tokens, or -1. Routing is
// [Lm][T + completion][K] per sample.
int first_routing_flip(const Sample& a, const Sample& b, int T, int Lm, int K) {
  const int n = static_cast<int>(std::min(a.completion.size(), b.completion.size()));
  int flip = -1;
  for (int l = 0; l < Lm; l++)
    for (int t = 0; t < T + n; t++)
      for (int e = 0; e < K; e++) {
        const size_t ai = (static_cast<size_t>(l) * (T + a.completion.size()) + t) * K + e;
        const size_t bi = (static_cast<size_t>(l) * (T + b.completion.size()) + t) * K + e;
        if (ai < a.routing.size() && bi < b.routing.size() && a.routing[ai] != b.routing[bi] &&
            (flip < 0 || t < flip))
          flip = t;
      }
  return flip;
}

std::vector<EngineResult> run(Model& m, const std::vector<EngineRequest>& reqs, int max_batch = 64,
                              bool graphs = true, long* replays = nullptr) {
  Engine e;
  EngineOptions eo;
  eo.max_tokens_in_flight = 1 << 13;
  eo.max_batch = max_batch;
  eo.cuda_graphs = graphs;
  engine_init(e, m, eo);
  std::vector<EngineResult> done = test::engine_run_all(e, reqs);
  CHECK(page_pool_whole(e.cache.pool));
  CHECK(e.reserved_pages == 0);
  if (graphs) {
    INFO("graphs off: " << e.scratch.graphs.why_off);
    CHECK(!e.scratch.graphs.off);  // a failed capture falls back to eager steps, but is a defect
  }
  if (replays) *replays = e.scratch.graphs.replays;
  return done;
}

// Every sample's prompt + completion as one packed batch, the completion scored.
Batch sample_batch(const std::vector<EngineRequest>& reqs, const std::vector<EngineResult>& done,
                   std::vector<int>* first_logp) {
  Batch b;
  for (size_t i = 0; i < done.size(); i++)
    for (const Sample& s : done[i].samples) {
      std::vector<int> ids = reqs[i].prompt;
      ids.insert(ids.end(), s.completion.begin(), s.completion.end());
      first_logp->push_back(static_cast<int>(b.tokens.size() + reqs[i].prompt.size()) - 1);
      batch_add_sequence(b, ids, static_cast<int>(reqs[i].prompt.size()) - 1);
    }
  return b;
}

// The learner's forward log-probs of batch b on m (wherever m runs), on the host.
std::vector<float> forward_logp(Model& m, const Batch& b, std::vector<float>* logits = nullptr) {
  Acts acts;
  ForwardOptions opt;
  model_forward(m, acts, b, opt);
  const size_t N = b.tokens.size(), V = m.cfg.vocab_size;
  std::vector<float> logp(N);
  device_copy(m.ctx, logp.data(), Device::kCpu, acts.logp.data(), m.ctx.device, N * sizeof(float));
  if (logits) {
    logits->resize(N * V);
    device_copy(m.ctx, logits->data(), Device::kCpu, acts.logits.data(), m.ctx.device,
                N * V * sizeof(float));
  }
  return logp;
}

Model load_to(Device d) {
  Model m;
  model_load(m, kBaseArith);
  model_to_device(m, d);
  return m;
}

// The tiny Qwen3-MoE of the model tests (GQA), random weights, on the GPU.
Model tiny_qwen_on_gpu(uint64_t seed) {
  Model m;
  model_build(m, model_fixture::tiny_qwen3_moe(2));
  model_init(m, seed);
  model_to_device(m, Device::kCuda);
  return m;
}

// arith_requests with ids folded into m's vocabulary and no stop token: every sample runs to its
// length (a random model rarely stops), so B stays constant for many steps.
std::vector<EngineRequest> requests_for(const Model& m, int n, int G, uint64_t seed) {
  std::vector<EngineRequest> reqs = arith_requests(n, G, 1.0f, seed);
  for (EngineRequest& r : reqs) {
    for (int& id : r.prompt) id %= m.cfg.vocab_size;
    r.params.stop_token_ids.clear();
  }
  return reqs;
}

}  // namespace

TEST_CASE("mla_absorb_q / mla_absorb_out on CUDA equal the CPU ops (fp32)") {
  const int B = 5, NH = 3, DN = 16, DR = 8, DV = 12, R = 40, DQK = DN + DR;
  const std::vector<float> q = gpu_test::randn(static_cast<size_t>(B) * NH * DQK, 1);
  const std::vector<float> kv_b = gpu_test::randn(static_cast<size_t>(NH) * (DN + DV) * R, 2, 0.2);
  const std::vector<float> out_lat = gpu_test::randn(static_cast<size_t>(B) * NH * R, 3);
  std::vector<float> q_lat(static_cast<size_t>(B) * NH * R),
      q_rope(static_cast<size_t>(B) * NH * DR);
  std::vector<float> att(static_cast<size_t>(B) * NH * DV);
  mla_absorb_q(q_lat.data(), q_rope.data(), q.data(), kv_b.data(), B, NH, DN, DR, DV, R);
  mla_absorb_out(att.data(), out_lat.data(), kv_b.data(), B, NH, DN, DV, R);

  Ctx ctx = cuda_ctx_create();
  for (bool fp32_mode : {false, true}) {  // cuBLAS, then the fp32 test mode's plain kernels
    INFO("fp32 test mode " << fp32_mode);
    cuda_ctx_set_fp32(ctx, fp32_mode);
    Dev<float> d_q(q), d_kv(kv_b), d_out(out_lat), d_ql(q_lat.size()), d_qr(q_rope.size()),
        d_att(att.size());
    mla_absorb_q(ctx, d_ql.p, d_qr.p, d_q.p, d_kv.p, B, NH, DN, DR, DV, R);
    mla_absorb_out(ctx, d_att.p, d_out.p, d_kv.p, B, NH, DN, DV, R);
    check_fp32(d_ql.download(), q_lat, 1e-5, "q_lat");
    CHECK(d_qr.download() == q_rope);  // a copy
    check_fp32(d_att.download(), att, 1e-5, "att");
  }
  cuda_ctx_destroy(ctx);
}

TEST_CASE("cache_write_rows on CUDA writes the bf16 of the CPU's rows, nothing else") {
  const int W = 20, col = 5, cols = 7, num_rows = 10, N = 4, ld_src = 9;
  const std::vector<int> rows = {3, 9, 0, 6};
  const std::vector<float> src = gpu_test::randn(static_cast<size_t>(N) * ld_src, 4);
  std::vector<float> cache(static_cast<size_t>(num_rows) * W, 0.0f);
  cache_write_rows(Ctx{}, cache.data(), W, col, rows.data(), num_rows, src.data(), ld_src, N, cols);

  Ctx ctx = cuda_ctx_create();
  cuda_ctx_set_fp32(ctx, false);  // a bf16 cache even under AHA_CUDA_FP32=1
  Dev<__nv_bfloat16> d_cache(static_cast<size_t>(num_rows) * W);
  Dev<int> d_rows(rows);
  Dev<float> d_src(src);
  cache_write_rows(ctx, d_cache.p, W, col, d_rows.p, num_rows, d_src.p, ld_src, N, cols);
  const std::vector<__nv_bfloat16> got = d_cache.download();
  for (size_t i = 0; i < cache.size(); i++) {
    INFO("element " << i);
    CHECK(__bfloat162float(got[i]) == gpu_test::round_bf16(cache[i]));
  }
  cuda_ctx_destroy(ctx);
}

TEST_CASE("greedy decode on CUDA gives the CPU engine's tokens wherever the CPU is not at a tie") {
  Model cpu = load_to(Device::kCpu);
  Model gpu = load_to(Device::kCuda);
  const std::vector<EngineRequest> reqs = arith_requests(24, 1, 0.0f, 11);
  const std::vector<EngineResult> ref = run(cpu, reqs);
  const std::vector<EngineResult> got = run(gpu, reqs);
  REQUIRE(ref.size() == reqs.size());
  REQUIRE(got.size() == reqs.size());

  // The CPU's logits at every completion position, for the tie rule.
  std::vector<int> first;
  const Batch b = sample_batch(reqs, ref, &first);
  std::vector<float> logits;
  forward_logp(cpu, b, &logits);
  const int V = cpu.cfg.vocab_size, L = cpu.cfg.num_hidden_layers;
  const int Lm = cfg_num_moe_layers(cpu.cfg), K = cpu.cfg.num_experts_per_tok;
  long compared = 0, total = 0, ties = 0, flips = 0;
  double max_dlogp = 0;
  for (size_t i = 0; i < reqs.size(); i++) {
    const Sample& c = ref[i].samples[0];
    const Sample& g = got[i].samples[0];
    total += static_cast<long>(c.completion.size());
    // The first position whose routed experts differ: in bf16 a router near-tie flips an expert,
    // which moves the logits by more than rounding does, with no near-tie in the logits.
    const int T = static_cast<int>(reqs[i].prompt.size());
    const int flip = first_routing_flip(c, g, T, Lm, K);
    bool tie = false;
    for (size_t j = 0; j < c.completion.size(); j++) {
      if (flip >= 0 && flip <= T - 1 + static_cast<int>(j)) {
        tie = true;  // token j comes from another expert's output
        flips++;
        break;
      }
      const float* row = &logits[(static_cast<size_t>(first[i]) + j) * V];
      std::vector<float> sorted(row, row + V);
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
      float largest = 0;
      for (int v = 0; v < V; v++) largest = std::max(largest, std::fabs(row[v]));
      if (sorted[0] - sorted[1] <= (6 * L + 1) * std::ldexp(largest, -8)) {
        tie = true;  // beyond here the two runs may follow different tokens
        ties++;
        break;
      }
      INFO("request " << i << ", token " << j);
      REQUIRE(j < g.completion.size());
      CHECK(g.completion[j] == c.completion[j]);
      max_dlogp = std::max(max_dlogp,
                           std::fabs(static_cast<double>(g.rollout_logp[j]) - c.rollout_logp[j]));
      compared++;
    }
    if (!tie) CHECK(g.completion.size() == c.completion.size());
  }
  std::printf(
      "greedy: %ld of %ld CPU tokens compared (%ld samples stopped at a near-tie, %ld at a "
      "router flip), max |logp CUDA - CPU| %.4g\n",
      compared, total, ties, flips, max_dlogp);
  CHECK(compared * 2 >= total);  // a trained model is rarely at a tie: the test is not vacuous
}

TEST_CASE("in the fp32 test mode the CUDA engine gives the CPU engine's tokens") {
  // Everything in fp32 on the GPU (cuda_ctx_set_fp32: fp32 GEMMs, attention, experts and cache):
  // only expf and summation order differ from the CPU, so tokens must be the same except where
  // the CPU's top two logits (greedy) lie within 1e-3 or a router's two experts within rounding
  // (the routing records show it), and log-probs agree to 1e-4. With temperature, a draw may also
  // land within ~1e-6 of a CDF boundary (the CUDA sampler's fp32 probabilities;
  // rollout/cuda/sampling.h): nearly every sample must still be the CPU's.
  Model cpu = load_to(Device::kCpu);
  Model gpu;
  model_load(gpu, kBaseArith);
  Model dev;
  model_build(dev, gpu.cfg, Device::kCuda);
  cuda_ctx_set_fp32(dev.ctx, true);
  device_copy(dev.ctx, dev.params.data(), Device::kCuda, gpu.params.data(), Device::kCpu,
              static_cast<size_t>(gpu.num_params) * sizeof(float));
  for (float temperature : {0.0f, 1.0f}) {
    const std::vector<EngineRequest> reqs =
        arith_requests(24, temperature > 0 ? 4 : 1, temperature, 16);
    const std::vector<EngineResult> ref = run(cpu, reqs);
    const std::vector<EngineResult> got = run(dev, reqs);
    std::vector<int> first;
    const Batch b = sample_batch(reqs, ref, &first);
    std::vector<float> logits;
    forward_logp(cpu, b, &logits);
    const int V = cpu.cfg.vocab_size;
    const int Lm = cfg_num_moe_layers(cpu.cfg), K = cpu.cfg.num_experts_per_tok;
    long samples = 0, same = 0, ties = 0, flips = 0;
    double max_dlogp = 0;
    size_t k = 0;
    for (size_t i = 0; i < reqs.size(); i++)
      for (size_t g = 0; g < ref[i].samples.size(); g++, k++) {
        const Sample& c = ref[i].samples[g];
        const Sample& x = got[i].samples[g];
        samples++;
        // The first differing token j and the first position whose routed experts differ: a
        // router near-tie (two experts' scores within fp32 rounding) flips an expert, which then
        // moves the logits by far more than rounding does.
        const int T = static_cast<int>(reqs[i].prompt.size());
        size_t j = 0;
        while (j < c.completion.size() && j < x.completion.size() &&
               c.completion[j] == x.completion[j])
          j++;
        const int flip = first_routing_flip(c, x, T, Lm, K);
        if (flip >= 0 && flip <= T - 1 + static_cast<int>(j)) {
          flips++;  // the tokens after the flip follow another expert
          continue;
        }
        if (x.completion == c.completion) {
          same++;
          for (size_t t = 0; t < c.completion.size(); t++)
            max_dlogp = std::max(
                max_dlogp, std::fabs(static_cast<double>(x.rollout_logp[t]) - c.rollout_logp[t]));
          continue;
        }
        if (temperature > 0) continue;  // counted: a draw at a boundary
        // Greedy: the first differing token must sit at a CPU near-tie.
        REQUIRE(j < c.completion.size());
        const float* row = &logits[(static_cast<size_t>(first[k]) + j) * V];
        std::vector<float> sorted(row, row + V);
        std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
        INFO("request " << i << " differs at token " << j);
        CHECK(sorted[0] - sorted[1] <= 1e-3f);
        ties++;
      }
    std::printf(
        "fp32 test mode, temperature %.0f: %ld of %ld samples the CPU's (%ld greedy "
        "near-ties, %ld router near-ties), max |logp CUDA - CPU| %.3g\n",
        temperature, same, samples, ties, flips, max_dlogp);
    CHECK(max_dlogp <= 1e-4);
    CHECK(same * 10 >= samples * 9);
  }
}

TEST_CASE("sampled log-probs agree with the GPU learner's forward over the finished samples") {
  Model gpu = load_to(Device::kCuda);
  Model cpu = load_to(Device::kCpu);
  const std::vector<EngineRequest> reqs = arith_requests(16, 4, 1.0f, 12);
  const std::vector<EngineResult> done = run(gpu, reqs);
  std::vector<int> first;
  const Batch b = sample_batch(reqs, done, &first);
  const std::vector<float> learner = forward_logp(gpu, b);
  const std::vector<float> reference = forward_logp(cpu, b);
  double max_d = 0, sum_d = 0, max_cpu = 0;
  long n = 0, far = 0;
  size_t k = 0;
  for (const EngineResult& r : done)
    for (const Sample& s : r.samples) {
      for (size_t j = 0; j < s.completion.size(); j++) {
        const double d = std::fabs(static_cast<double>(s.rollout_logp[j]) - learner[first[k] + j]);
        max_d = std::max(max_d, d);
        sum_d += d;
        far += d > 0.1;
        max_cpu = std::max(
            max_cpu, std::fabs(static_cast<double>(s.rollout_logp[j]) - reference[first[k] + j]));
        n++;
      }
      k++;
    }
  REQUIRE(n > 0);
  std::printf(
      "log-probs of %ld sampled tokens: |engine - GPU learner| max %.4g mean %.4g, %ld over 0.1; "
      "|engine - CPU fp32 forward| max %.4g\n",
      n, max_d, sum_d / n, far, max_cpu);
  // bf16 GEMM operands and a bf16 cache on one side, bf16 tensor-core attention on the other;
  // a router near-tie may send a token to another expert on one side (1% of tokens allowed).
  CHECK(far * 100 <= n);
  CHECK(sum_d / n <= 0.01);
}

TEST_CASE("batch-invariant mode on CUDA: rollout log-probs are the GPU learner's, to the bit") {
  // The mode runs CUDA on the fp32 mode's kernels (one thread per GEMM element, one block per
  // (token, head) with the same attention code for the learner and paged decode), MLA from
  // expanded cache rows, and the learner's log-softmax for the drawn tokens.
  struct Scope {
    Scope() { gemm_set_batch_invariant(true); }
    ~Scope() { gemm_set_batch_invariant(false); }
  } mode;
  Model mla = load_to(Device::kCuda);  // contexts made in the mode run fp32
  Model gqa = tiny_qwen_on_gpu(3);
  for (Model* m : {&mla, &gqa}) {
    INFO(m->cfg.model_type);
    REQUIRE(cuda_ctx_fp32(m->ctx));
    const std::vector<EngineRequest> reqs =
        m == &mla ? arith_requests(12, 3, 1.0f, 17) : requests_for(*m, 12, 3, 17);
    const std::vector<EngineResult> res = run(*m, reqs, 64, false);
    REQUIRE(res.size() == reqs.size());
    std::vector<int> first;
    const Batch b = sample_batch(reqs, res, &first);
    const std::vector<float> learner = forward_logp(*m, b);
    long n = 0, differ = 0;
    size_t k = 0;
    for (const EngineResult& r : res)
      for (const Sample& x : r.samples) {
        for (size_t j = 0; j < x.completion.size(); j++, n++)
          differ += x.rollout_logp[j] != learner[first[k] + j];
        k++;
      }
    std::printf(
        "%s, batch-invariant mode: %ld of %ld rollout log-probs differ from the learner's\n",
        m->cfg.model_type.c_str(), differ, n);
    REQUIRE(n > 0);
    CHECK(differ == 0);
    // Batches of 5 rows and each request alone: the same tokens, log-probs and routing.
    const std::vector<EngineResult> small = run(*m, reqs, 5, false);
    for (size_t i = 0; i < reqs.size(); i++) {
      const std::vector<EngineResult> alone = run(*m, {reqs[i]}, 64, false);
      for (size_t g = 0; g < res[i].samples.size(); g++)
        for (const Sample* o : {&small[i].samples[g], &alone[0].samples[g]}) {
          CHECK(o->completion == res[i].samples[g].completion);
          CHECK(o->rollout_logp == res[i].samples[g].rollout_logp);
          CHECK(o->routing == res[i].samples[g].routing);
        }
    }
  }
}

TEST_CASE("two CUDA engine runs give the same bits, with routing, for MLA and GQA models") {
  Model mla = load_to(Device::kCuda);
  Model gqa = tiny_qwen_on_gpu(3);
  for (Model* m : {&mla, &gqa}) {
    std::vector<EngineRequest> reqs = requests_for(*m, 12, 3, 13);
    for (EngineRequest& r : reqs) r.params.top_p = 0.9f;
    // Run to run at the same max_batch (another batch size may pick other GEMM kernels: the
    // engine does not promise the same bits across batch compositions on CUDA).
    const std::vector<EngineResult> a = run(*m, reqs);
    const std::vector<EngineResult> b = run(*m, reqs);
    const int Lm = cfg_num_moe_layers(m->cfg), K = m->cfg.num_experts_per_tok;
    for (size_t i = 0; i < a.size(); i++)
      for (size_t s = 0; s < a[i].samples.size(); s++) {
        const Sample& x = a[i].samples[s];
        CHECK(x.completion == b[i].samples[s].completion);
        CHECK(x.rollout_logp == b[i].samples[s].rollout_logp);
        const size_t positions = reqs[i].prompt.size() + x.completion.size();
        CHECK(x.routing.size() == static_cast<size_t>(Lm) * positions * K);
        for (int e : x.routing) CHECK((e >= 0 && e < m->cfg.n_routed_experts));
      }
  }
}

TEST_CASE("weights from a colocated learner's device buffer: the samples of the same weights") {
  // The handoff of aha train (rollout/weight_handoff.h): the engine copies the learner's device
  // parameters device to device instead of the host bytes.
  Model from_device = load_to(Device::kCuda);
  Model from_host = load_to(Device::kCuda);
  const size_t n = static_cast<size_t>(from_host.num_params);
  std::vector<float> w = from_host.params;  // the host copy
  for (size_t i = 0; i < n; i++) w[i] *= 1.0f + 0.05f * std::sin(static_cast<float>(i));
  Buffer<float> learner;  // the learner's parameters, its own allocation
  learner.alloc(Device::kCuda, n);
  device_copy(from_device.ctx, learner.data(), Device::kCuda, w.data(), Device::kCpu,
              n * sizeof(float));
  const std::vector<EngineRequest> reqs = arith_requests(8, 2, 1.0f, 21);
  std::vector<EngineResult> got[2];
  for (int i = 0; i < 2; i++) {
    Model& m = i == 0 ? from_device : from_host;
    Engine e;
    EngineOptions eo;
    eo.max_tokens_in_flight = 1 << 13;
    engine_init(e, m, eo);
    if (i == 0)
      engine_set_weights(e, learner.data(), m.num_params, 2, Device::kCuda);
    else
      engine_set_weights(e, w.data(), m.num_params, 2, Device::kCpu);
    CHECK(std::vector<float>(m.params) == w);
    got[i] = test::engine_run_all(e, reqs);
  }
  REQUIRE(got[0].size() == got[1].size());
  for (size_t r = 0; r < got[0].size(); r++) {
    CHECK(got[0][r].weight_version == 2);
    for (size_t s = 0; s < got[0][r].samples.size(); s++) {
      CHECK(got[0][r].samples[s].completion == got[1][r].samples[s].completion);
      CHECK(got[0][r].samples[s].rollout_logp == got[1][r].samples[s].rollout_logp);
    }
  }
}

TEST_CASE("decode steps replayed from CUDA graphs give the eager steps' samples") {
  Model mla = load_to(Device::kCuda);
  Model gqa = tiny_qwen_on_gpu(5);
  for (Model* m : {&mla, &gqa}) {
    const std::vector<EngineRequest> reqs = requests_for(*m, 6, 2, 14);
    long replays = 0;
    const std::vector<EngineResult> eager = run(*m, reqs, 64, false);
    const std::vector<EngineResult> graphed = run(*m, reqs, 64, true, &replays);
    std::printf("%s: %ld decode steps replayed from graphs\n", m->cfg.model_type.c_str(), replays);
    CHECK(replays > 0);
    long differ = 0;
    for (size_t i = 0; i < eager.size(); i++)
      for (size_t g = 0; g < eager[i].samples.size(); g++) {
        const Sample& a = eager[i].samples[g];
        const Sample& b = graphed[i].samples[g];
        CHECK(b.completion == a.completion);
        CHECK(b.routing == a.routing);
        for (size_t t = 0; t < a.rollout_logp.size() && t < b.rollout_logp.size(); t++)
          differ += a.rollout_logp[t] != b.rollout_logp[t];
      }
    // The same kernels on the same buffers: the same bits (cuBLAS picks its kernels per shape).
    CHECK(differ == 0);
  }
}

TEST_CASE("MLA at DeepSeek's latent dims (512 + 64) decodes through FlashInfer's kernel") {
  // A 2-layer model with DeepSeek-V3's latent and rope widths (the dims FlashInfer's MLA kernel is
  // built for; our kernel takes the others), weights scaled up so the log-probs are not flat.
  // clang-format off
  const ModelConfig cfg = config_deepseek({.V = 103, .C = 128, .L = 2, .NH = 4, .q_lora_rank = 0,
      .kv_lora_rank = 512, .qk_nope_head_dim = 32, .qk_rope_head_dim = 64, .v_head_dim = 32,
      .FF = 192, .moe_FF = 64, .E = 4, .shared = 1, .K = 2, .first_dense = 1,
      .max_position_embeddings = 256});
  // clang-format on
  Model m;
  model_build(m, cfg);
  model_init(m, 9);
  for (float& p : m.params) p *= 4.0f;
  Model cpu;  // the fp32 reference both GPU sides are measured against
  model_build(cpu, cfg);
  cpu.params.copy_from(m.params);
  model_to_device(m, Device::kCuda);
  const std::vector<EngineRequest> reqs = arith_requests(8, 3, 1.0f, 15);
  // Graphs replay FlashInfer's launch with each step's schedule planned into its workspace
  // beforehand: the eager steps' bits.
  long replays = 0;
  const std::vector<EngineResult> a = run(m, reqs, 64, true, &replays);
  const std::vector<EngineResult> b = run(m, reqs, 64, false);
  std::printf("FlashInfer MLA: %ld decode steps replayed from graphs\n", replays);
  CHECK(replays > 0);
  std::vector<int> first;
  const Batch batch = sample_batch(reqs, a, &first);
  const std::vector<float> learner = forward_logp(m, batch);
  const std::vector<float> reference = forward_logp(cpu, batch);
  double max_d = 0, sum_d = 0, sum_engine_cpu = 0, sum_learner_cpu = 0;
  long n = 0, far = 0;
  size_t k = 0;
  for (size_t i = 0; i < a.size(); i++)
    for (size_t g = 0; g < a[i].samples.size(); g++, k++) {
      const Sample& x = a[i].samples[g];
      CHECK(x.completion == b[i].samples[g].completion);
      CHECK(x.rollout_logp == b[i].samples[g].rollout_logp);
      for (size_t j = 0; j < x.completion.size(); j++) {
        const double d = std::fabs(static_cast<double>(x.rollout_logp[j]) - learner[first[k] + j]);
        max_d = std::max(max_d, d);
        sum_d += d;
        far += d > 0.1;
        n++;
        sum_engine_cpu += std::fabs(x.rollout_logp[j] - reference[first[k] + j]);
        sum_learner_cpu += std::fabs(learner[first[k] + j] - reference[first[k] + j]);
      }
    }
  REQUIRE(n > 0);
  std::printf(
      "512 + 64 latent: mean |engine - CPU fp32| %.4g, mean |GPU learner - CPU fp32| %.4g\n",
      sum_engine_cpu / n, sum_learner_cpu / n);
  std::printf(
      "512 + 64 latent (FlashInfer when built): |engine - GPU learner| max %.4g mean %.4g, %ld of "
      "%ld over 0.1\n",
      max_d, sum_d / n, far, n);
  // Sharp weights (x4) make attention nearly one-hot, so bf16 roundings move some log-probs by
  // O(0.1): the learner's as much as the engine's (the emulator measured both at a mean of 0.08
  // from the CPU's fp32 forward, and 12% of the engine's tokens over 0.1 from the learner's). A
  // wrong kernel (a stride, a page) moves the mean by O(1): the engine must stay as close to the
  // learner, and to fp32, as the learner is to fp32.
  CHECK(sum_d / n <= std::max(0.03, sum_learner_cpu / n));
  CHECK(sum_engine_cpu / n <= 1.5 * sum_learner_cpu / n + 0.01);
}

TEST_CASE("after requests of random lengths with cancels, the CUDA engine's pool is whole") {
  Model m = load_to(Device::kCuda);
  Engine e;
  EngineOptions eo;
  eo.max_tokens_in_flight = 1 << 12;
  eo.max_batch = 32;
  engine_init(e, m, eo);
  Rng rng{21};
  std::vector<EngineResult> done;
  long submitted = 0, cancelled = 0;
  const int rounds = gpu_test::emulated() ? 4 : 20;  // the emulator's steps take seconds
  for (int round = 0; round < rounds; round++) {
    for (int i = 0; i < 8; i++) {
      EngineRequest r;
      r.request_id = static_cast<uint64_t>(submitted++);
      const int T = 1 + static_cast<int>(rng.next_u64() % 150);
      for (int t = 0; t < T; t++) r.prompt.push_back(8 + static_cast<int>(rng.next_u64() % 95));
      r.group_size = 1 + static_cast<int>(rng.next_u64() % 4);
      r.params.max_new_tokens = 1 + static_cast<int>(rng.next_u64() % 80);
      r.seed = r.request_id;
      engine_submit(e, r);
    }
    for (int s = 0; s < 3; s++) engine_step(e, done);
    for (uint64_t id = static_cast<uint64_t>(submitted) - 8; id < static_cast<uint64_t>(submitted);
         id += 3)
      cancelled += engine_cancel(e, id) ? 1 : 0;
  }
  engine_run(e, done);
  std::printf("%ld requests, %ld cancelled, %zu finished\n", submitted, cancelled, done.size());
  CHECK(static_cast<long>(done.size()) + cancelled == submitted);
  CHECK(page_pool_whole(e.cache.pool));
  CHECK(e.reserved_pages == 0);
}
