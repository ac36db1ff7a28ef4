// The whole policy on CUDA against the CPU model: loss, per-token log-probs and every parameter's
// gradient of a tiny DeepSeek-V3 (MLA, sigmoid noaux_tc router, shared expert) and a tiny
// Qwen3-MoE (GQA with QK-norm, softmax router) agree within bf16 tolerances
// (atol + |ref| * 2^-8, atol from the tensor's scale), and two GPU runs are bit-identical.
// Top-k routing is a step function of the router's scores: where two experts nearly tie, bf16
// roundings upstream may pick the other one, and that one token moves the gradients of the
// experts and router by far more than any tolerance (the tiny Qwen3-MoE has such a tie: token 38
// of layer 1, experts 1 and 0, 4.6e-4 apart in logits). So the GPU's own routing must agree with
// the CPU's except at near-ties, and the gradients are compared with the CPU's routing replayed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "kernels/rng.h"
#include "policy/config_presets.h"
#include "policy/model.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/model_fixture.h"

using namespace aha;
using namespace model_fixture;

namespace {

struct Result {
  float loss = 0;
  std::vector<float> logp, grads;
  std::vector<int> topk;      // [num_moe_layers][N, K] the routing the forward used
  std::vector<float> scores;  // [num_moe_layers][N, E] the router's scores
};

Result run(const ModelConfig& cfg, Device dev, const Batch& batch,
           const int* replay_topk_idx = nullptr) {
  Model m;
  model_build(m, cfg, dev);
  model_init(m, 3);
  const int N = batch_num_tokens(batch);
  Acts acts;
  acts_reserve(m, acts, N, batch_num_seqs(batch), true, true);
  ForwardOptions opt;
  opt.need_entropy = true;
  opt.replay_topk_idx = replay_topk_idx;
  Result r;
  r.loss = model_forward(m, acts, batch, opt);
  const int K = cfg.num_experts_per_tok, E = cfg.n_routed_experts;
  for (int l = 0; l < cfg.num_hidden_layers; l++) {
    if (!cfg_layer_is_moe(cfg, l)) continue;
    const size_t t0 = r.topk.size(), s0 = r.scores.size();
    r.topk.resize(t0 + static_cast<size_t>(N) * K);
    r.scores.resize(s0 + static_cast<size_t>(N) * E);
    device_copy(m.ctx, r.topk.data() + t0, Device::kCpu, acts.layers[l].topk_idx.data(), dev,
                static_cast<size_t>(N) * K * sizeof(int));
    device_copy(m.ctx, r.scores.data() + s0, Device::kCpu, acts.layers[l].scores.data(), dev,
                static_cast<size_t>(N) * E * sizeof(float));
  }
  std::vector<float> dlogp_host(N);
  for (int n = 0; n < N; n++) dlogp_host[n] = -0.5f + 0.03f * static_cast<float>(n % 11);
  Buffer<float> dlogp;
  dlogp.alloc(dev, N);
  device_copy(m.ctx, dlogp.data(), dev, dlogp_host.data(), Device::kCpu, N * sizeof(float));
  model_zero_grads(m);
  model_backward(m, acts, batch, dlogp.data(), opt);
  ctx_sync(m.ctx);
  r.logp.resize(N);
  device_copy(m.ctx, r.logp.data(), Device::kCpu, acts.logp.data(), dev, N * sizeof(float));
  r.grads = m.grads;  // a host copy
  return r;
}

// The GPU may route a token to other experts than the CPU only where the CPU's scores of the
// experts swapped tie to within 2^-6 of the token's largest score.
void check_routing(const ModelConfig& cfg, const Result& cpu, const Result& gpu) {
  REQUIRE(gpu.topk.size() == cpu.topk.size());
  const int K = cfg.num_experts_per_tok, E = cfg.n_routed_experts;
  const size_t rows = K > 0 ? cpu.topk.size() / K : 0;
  int moved = 0;
  for (size_t n = 0; n < rows; n++) {
    const int* a = &cpu.topk[n * K];
    const int* g = &gpu.topk[n * K];
    const float* sc = &cpu.scores[n * E];
    float top = 0;
    for (int e = 0; e < E; e++) top = std::fmax(top, std::fabs(sc[e]));
    for (int i = 0; i < K; i++) {
      if (std::find(a, a + K, g[i]) != a + K) continue;  // an expert the CPU picked too
      moved++;
      double closest = INFINITY;  // to an expert the CPU picked and the GPU did not
      for (int j = 0; j < K; j++)
        if (std::find(g, g + K, a[j]) == g + K)
          closest = std::fmin(closest, std::fabs(static_cast<double>(sc[g[i]]) - sc[a[j]]));
      INFO("routing row ", n, " (moe layer ", n / (rows / std::max(1, cfg_num_moe_layers(cfg))),
           "): the GPU picked expert ", g[i], ", ", closest, " from a CPU pick in score");
      CHECK(closest <= std::ldexp(static_cast<double>(top), -6));
    }
  }
  std::printf("%s: %d of %zu routing choices differ from the CPU's (near-ties)\n",
              cfg.model_type.c_str(), moved, rows * K);
}

void compare(const ModelConfig& cfg) {
  REQUIRE_MESSAGE(ops_without_cuda_twin().empty(),
                  "the CUDA model cannot run: ops without a CUDA twin in this build");
  const Batch batch = make_batch(cfg.vocab_size);
  const Result cpu = run(cfg, Device::kCpu, batch);
  const Result own = run(cfg, Device::kCuda, batch);  // the GPU's own routing
  check_routing(cfg, cpu, own);
  const Result gpu = run(cfg, Device::kCuda, batch, cpu.topk.empty() ? nullptr : cpu.topk.data());
  const double rel = std::ldexp(1.0, -8);
  for (const Result* r : {&own, &gpu}) {
    CHECK(std::fabs(r->loss - cpu.loss) <= 1e-3 + rel * std::fabs(cpu.loss));
    for (size_t n = 0; n < cpu.logp.size(); n++)
      CHECK(std::fabs(r->logp[n] - cpu.logp[n]) <= 1e-3 + rel * std::fabs(cpu.logp[n]));
  }
  // Gradients: every GEMM rounds both operands to bf16 (2^-9 each), and a gradient's error grows
  // with the roundings on its path, forward and back through L layers of about six GEMMs each
  // (four projections and attention's Q·Kᵀ and P·V, bf16 tensor-core products too) and the head:
  // (6L + 1) * 2^-8 of the tensor's largest gradient, element by element. The tensor as a whole
  // must also agree to 2^-6 in norm, which no wrong index or stale buffer meets.
  const double path = (6.0 * cfg.num_hidden_layers + 1) * rel;
  Model table;
  model_build_table(table, cfg);
  double worst_units = 0;
  std::string worst_name;
  for (const TensorSpec& s : table.specs) {
    if (!s.trainable) continue;
    double scale = 0, err2 = 0, ref2 = 0, units = 0;
    for (long i = 0; i < s.numel; i++) scale = std::fmax(scale, std::fabs(cpu.grads[s.offset + i]));
    const double atol = 1e-6 + path * scale;
    long bad = 0;
    for (long i = 0; i < s.numel; i++) {
      const double ref = cpu.grads[s.offset + i], got = gpu.grads[s.offset + i];
      const double err = std::fabs(got - ref);
      bad += err > atol + rel * std::fabs(ref);
      err2 += err * err;
      ref2 += ref * ref;
      units = std::fmax(units, err / (1e-6 + rel * scale + rel * std::fabs(ref)));
    }
    if (units > worst_units) worst_units = units, worst_name = s.name;
    const double norm_err = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
    INFO(s.name, ": ", bad, " of ", s.numel, " gradients outside tolerance; worst ", units,
         " x 2^-8 of the largest; norm error ", norm_err);
    CHECK(bad == 0);
    CHECK(norm_err <= std::ldexp(1.0, -6) + 1e-6);
  }
  // For the record: how close the tightest element came, in units of 2^-8 of its tensor's largest.
  std::printf("%s: largest gradient error %.2f x 2^-8 of its tensor's largest (%s), bound %.0f\n",
              cfg.model_type.c_str(), worst_units, worst_name.c_str(), path / rel);
  // Deterministic mode: the same run twice gives the same bits.
  const Result again = run(cfg, Device::kCuda, batch, cpu.topk.empty() ? nullptr : cpu.topk.data());
  CHECK(std::memcmp(&again.loss, &gpu.loss, sizeof(float)) == 0);
  CHECK(std::memcmp(again.grads.data(), gpu.grads.data(), gpu.grads.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("CUDA model: tiny DeepSeek-V3 loss and gradients match the CPU model") {
  compare(tiny_deepseek_v3());
}

TEST_CASE("CUDA model: tiny Qwen3-MoE loss and gradients match the CPU model") {
  compare(tiny_qwen3_moe(2));
}
