// `aha bench rollout`: decode tokens/s of the CPU engine at several batch sizes, cache bytes per
// token (MLA latents or GQA k/v) against a multi-head cache, and what sharing a prompt's prefill
// saves.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "cli/command.h"
#include "kernels/linear.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "policy/checkpoint.h"
#include "policy/decode.h"
#include "rollout/engine.h"

namespace aha::cli {

namespace {

// User + system CPU seconds of the process so far: on a shared machine the work done, where wall
// time also counts the waits for a core.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double run_engine(Model& m, std::vector<EngineRequest> reqs, long* decode_tokens,
                  double* cpu_s = nullptr) {
  Engine e;
  EngineOptions eo;
  eo.max_tokens_in_flight = 1 << 17;
  eo.max_batch = 1024;
  engine_init(e, m, eo);
  for (EngineRequest& r : reqs) engine_submit(e, std::move(r));
  std::vector<EngineResult> done;
  auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  engine_run(e, done);
  if (cpu_s) *cpu_s = cpu_seconds() - c0;
  if (decode_tokens) *decode_tokens = e.stats.decode_tokens;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

EngineRequest request(uint64_t id, int prompt_len, int G, int max_new, int V) {
  EngineRequest r;
  r.request_id = id;
  for (int t = 0; t < prompt_len; t++) r.prompt.push_back(static_cast<int>((id * 31 + t * 7) % V));
  r.group_size = G;
  r.params.max_new_tokens = max_new;  // no stop tokens: every sample runs to the end
  r.seed = id;
  return r;
}

void cmd_bench_rollout(const std::string& model_dir, int max_new, int threads,
                       const std::vector<int>& batches, const std::string& device) {
  set_compute_threads(threads);
  Model m;
  model_load(m, model_dir);
  const Device dev = device_choose(device);
  model_to_device(m, dev);
  std::printf("engine: %s\n", dev == Device::kCuda
                                   ? ("cuda, " + cuda_device_description()).c_str()
                                   : "cpu");
  const ModelConfig& c = m.cfg;
  const int V = c.vocab_size;
  std::printf("model %s: %ld parameters, %d layers\n", model_dir.c_str(), model_num_params(m),
              c.num_hidden_layers);
  if (cfg_is_mla(c))
    std::printf(
        "cache bytes per token: latent %ld (kv_lora_rank %d + rope %d per layer), "
        "multi-head %ld: %.1f%%\n",
        cache_bytes_per_token(c, dev), c.kv_lora_rank, c.qk_rope_head_dim,
        mha_cache_bytes_per_token(c, dev),
        100.0 * cache_bytes_per_token(c, dev) / mha_cache_bytes_per_token(c, dev));
  else
    std::printf(
        "cache bytes per token: k/v of %d key-value heads %ld, multi-head (%d heads) %ld: "
        "%.1f%%\n",
        c.num_key_value_heads, cache_bytes_per_token(c, dev), c.num_attention_heads,
        mha_cache_bytes_per_token(c, dev),
        100.0 * cache_bytes_per_token(c, dev) / mha_cache_bytes_per_token(c, dev));
  std::printf("compute threads: %d\n", compute_threads());
  std::printf("\n%8s %14s %12s %14s\n", "batch", "decode tok/s", "per row", "tok/CPU s");
  for (int B : batches) {
    std::vector<EngineRequest> reqs;
    for (int b = 0; b < B; b++) reqs.push_back(request(b, 16, 1, max_new, V));
    long tokens = 0;
    double cpu = 0;
    double s = run_engine(m, reqs, &tokens, &cpu);
    std::printf("%8d %14.0f %12.0f %14.0f\n", B, tokens / s, tokens / s / B, tokens / cpu);
  }
  // A group of G sharing one prefill against G separate prompts.
  const int G = 8, T = 128;
  double shared = run_engine(m, {request(1, T, G, 1, V)}, nullptr);
  std::vector<EngineRequest> separate;
  for (int g = 0; g < G; g++) separate.push_back(request(1, T, 1, 1, V));
  for (int g = 0; g < G; g++) separate[g].request_id = g;
  double apart = run_engine(m, separate, nullptr);
  std::printf(
      "\nprefill of a %d-token prompt for G = %d: shared %.2f ms, separate %.2f ms "
      "(%.1fx; %d of %d prompt tokens not recomputed)\n",
      T, G, 1e3 * shared, 1e3 * apart, apart / shared, (G - 1) * T, G * T);
}

void add_bench_rollout(CLI::App& app) {
  CLI::App* bench = subcommand(app, "bench", "Benchmarks");
  auto* c = bench->add_subcommand("rollout", "Engine decode tokens/s, cache size, prefill sharing");
  auto model =
      std::make_shared<std::string>(std::string(AHA_SOURCE_DIR) + "/experiments/base-arith");
  auto max_new = std::make_shared<int>(64);
  c->add_option("--model", *model, "Model directory")->capture_default_str();
  c->add_option("--max-new-tokens", *max_new, "Decode steps per sequence")->capture_default_str();
  auto threads = std::make_shared<int>(hardware_threads());
  c->add_option("--threads", *threads, "Compute threads")->capture_default_str();
  auto precision = std::make_shared<std::string>("fp32");
  add_gemm_precision_option(c, precision);
  auto batches = std::make_shared<std::vector<int>>(std::vector<int>{1, 16, 64, 256});
  c->add_option("--batch", *batches, "Batch sizes to time (one run each)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto device = std::make_shared<std::string>("cpu");
  add_rollout_device_option(c, device);
  c->callback([=] {
    apply_gemm_precision(*precision, true);
    cmd_bench_rollout(*model, *max_new, *threads, *batches, *device);
  });
}

}  // namespace

AHA_COMMAND(add_bench_rollout);

}  // namespace aha::cli
