// `aha bench rollout`: decode tokens/s of the engine (CPU or CUDA) at several batch sizes, cache
// bytes per token (MLA latents or GQA k/v) against a multi-head cache, and what sharing a prompt's
// prefill saves. On CUDA each row also gives the bytes a decode step must read (the bf16 weights
// it touches and the cache) over its time, against the device's copy bandwidth measured in the
// same run: a decode step is memory-bound, so that share is its efficiency.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
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

struct EngineRun {
  double seconds = 0, cpu_seconds = 0;  // the whole run: prefill, decode, draws
  double decode_seconds = 0;            // decode steps and their draws only
  long decode_tokens = 0, decode_steps = 0;
  long graph_replays = 0;  // CUDA: steps replayed from a captured graph
  std::string graphs_off;  // why graphs were off, if they were
};

EngineRun run_engine(Model& m, std::vector<EngineRequest> reqs, int max_batch) {
  Engine e;
  EngineOptions eo;
  eo.max_tokens_in_flight = 1 << 17;
  eo.max_batch = max_batch;
  engine_init(e, m, eo);
  for (EngineRequest& r : reqs) engine_submit(e, std::move(r));
  std::vector<EngineResult> done;
  EngineRun out;
  auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  engine_run(e, done);
  out.cpu_seconds = cpu_seconds() - c0;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.decode_seconds = e.stats.decode_seconds;
  out.decode_tokens = e.stats.decode_tokens;
  out.decode_steps = e.stats.decode_steps;
  out.graph_replays = e.scratch.graphs.replays;
  out.graphs_off = e.scratch.graphs.off ? e.scratch.graphs.why_off : "";
  return out;
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

// Bytes one decode step of B rows of mean context ctx must read on CUDA: every bf16 weight once
// (the embedding only for its B rows; a routed expert's only when a token is routed to it, taken
// as 1 - (1 - K/E)^B under uniform routing) and each row's cache.
double decode_step_bytes(const Model& m, int B, double ctx) {
  const double weight_bytes = cuda_ctx_fp32(m.ctx) ? 4 : 2;  // the fp32 test mode reads fp32
  const ModelConfig& c = m.cfg;
  const double touched =
      c.n_routed_experts > 0
          ? 1.0 - std::pow(1.0 - static_cast<double>(c.num_experts_per_tok) / c.n_routed_experts, B)
          : 1.0;
  double bytes = 0;
  for (const TensorSpec& s : m.specs) {
    double n = static_cast<double>(s.numel);
    if (s.name == "model.embed_tokens.weight")
      n = static_cast<double>(B) * c.hidden_size;
    else if (s.name.find(".mlp.experts.") != std::string::npos)
      n *= touched;
    bytes += weight_bytes * n;
  }
  return bytes + B * ctx * c.num_hidden_layers * cache_row_width(c) *
                     static_cast<double>(cache_elem_bytes(m.ctx));
}

void cmd_bench_rollout(const std::string& model_dir, const std::string& config, int prompt_len,
                       int max_new, int threads, const std::vector<int>& batches,
                       const std::string& device) {
  set_compute_threads(threads);
  Model m;
  std::string what = model_dir;
  if (!config.empty()) {  // random weights (seed 1): the same work every run
    model_build(m, resolve_model_config(config));
    model_init(m, 1);
    what = "config " + config + " (random weights)";
  } else {
    model_load(m, model_dir);
  }
  const Device dev = device_choose(device);
  model_to_device(m, dev);
  const bool cuda = dev == Device::kCuda;
  std::printf("engine: %s\n", cuda ? ("cuda, " + cuda_device_description()).c_str() : "cpu");
  const ModelConfig& c = m.cfg;
  const int V = c.vocab_size;
  std::printf("model %s: %ld parameters, %d layers\n", what.c_str(), model_num_params(m),
              c.num_hidden_layers);
  // The element type of the engine's cache (fp32 on the CPU and in CUDA's fp32 test mode).
  const long elem_b = static_cast<long>(cache_elem_bytes(m.ctx));
  const long cache_b =
      cache_bytes_per_token(c, dev) / static_cast<long>(cache_default_elem_bytes(dev)) * elem_b;
  const long mha_b =
      mha_cache_bytes_per_token(c, dev) / static_cast<long>(cache_default_elem_bytes(dev)) * elem_b;
  const char* elem = elem_b == 4 ? "fp32" : "bf16";
  if (cfg_is_mla(c))
    std::printf(
        "cache bytes per token (%s): latent %ld (kv_lora_rank %d + rope %d per layer), "
        "multi-head %ld: %.1f%%\n",
        elem, cache_b, c.kv_lora_rank, c.qk_rope_head_dim, mha_b, 100.0 * cache_b / mha_b);
  else
    std::printf(
        "cache bytes per token (%s): k/v of %d key-value heads %ld, multi-head (%d heads) %ld: "
        "%.1f%%\n",
        elem, c.num_key_value_heads, cache_b, c.num_attention_heads, mha_b,
        100.0 * cache_b / mha_b);
  double copy_gbs = 0;
  if (cuda) {
    copy_gbs = cuda_copy_bandwidth_gbs(m.ctx, size_t{1} << 30);
    std::printf("device copy bandwidth (1 GiB device-to-device, read + write): %.0f GB/s\n",
                copy_gbs);
  } else {
    std::printf("compute threads: %d\n", compute_threads());
  }
  // decode tok/s: over the decode steps' time (their draws included); with prefill: over the
  // whole run (each request's prompt of --prompt-len tokens prefilled once).
  std::printf("\n%8s %14s %12s %14s %10s", "batch", "decode tok/s", "per row", "with prefill",
              "step ms");
  if (cuda)
    std::printf(" %10s %9s\n", "GB/s", "of copy");
  else
    std::printf(" %12s\n", "tok/CPU s");
  for (int B : batches) {
    std::vector<EngineRequest> reqs;
    for (int b = 0; b < B; b++) reqs.push_back(request(b, prompt_len, 1, max_new, V));
    if (cuda) run_engine(m, reqs, B);  // warm-up: cuBLAS heuristics, workspaces, first launches
    const EngineRun r = run_engine(m, reqs, B);
    const double tok_s = r.decode_tokens / r.decode_seconds;
    const double step_s = r.decode_seconds / std::max(1L, r.decode_steps);
    std::printf("%8d %14.0f %12.0f %14.0f %10.3f", B, tok_s, tok_s / B, r.decode_tokens / r.seconds,
                1e3 * step_s);
    if (cuda) {
      const double gbs = decode_step_bytes(m, B, prompt_len + max_new / 2.0) / step_s / 1e9;
      std::printf(" %10.0f %8.1f%%  (%ld of %ld steps from CUDA graphs%s%s)\n", gbs,
                  100.0 * gbs / copy_gbs, r.graph_replays, r.decode_steps,
                  r.graphs_off.empty() ? "" : "; off: ", r.graphs_off.c_str());
    } else {
      std::printf(" %12.0f\n", r.decode_tokens / r.cpu_seconds);
    }
  }
  // A group of G sharing one prefill against G separate prompts.
  const int G = 8, T = 128;
  const double shared = run_engine(m, {request(1, T, G, 1, V)}, 256).seconds;
  std::vector<EngineRequest> separate;
  for (int g = 0; g < G; g++) separate.push_back(request(1, T, 1, 1, V));
  for (int g = 0; g < G; g++) separate[g].request_id = g;
  const double apart = run_engine(m, separate, 256).seconds;
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
  auto config = std::make_shared<std::string>();
  auto prompt_len = std::make_shared<int>(16);
  auto max_new = std::make_shared<int>(64);
  c->add_option("--model", *model, "Model directory")->capture_default_str();
  c->add_option("--config", *config,
                "Instead of --model: a built-in config (tiny, 100m, 100m-qwen, 1b) or a "
                "config.json, with random weights");
  c->add_option("--prompt-len", *prompt_len, "Prompt tokens per sequence")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 1 << 20));
  c->add_option("--max-new-tokens", *max_new, "Decode steps per sequence")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 1 << 20));
  auto threads = std::make_shared<int>(hardware_threads());
  c->add_option("--threads", *threads, "Compute threads")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 4096));
  auto precision = std::make_shared<std::string>("fp32");
  add_gemm_precision_option(c, precision);
  auto batches = std::make_shared<std::vector<int>>(std::vector<int>{1, 16, 64, 256});
  c->add_option("--batch", *batches, "Batch sizes to time (one run each)")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 1 << 20));
  auto device = std::make_shared<std::string>("cpu");
  add_rollout_device_option(c, device);
  c->callback([=] {
    apply_gemm_precision(*precision, true);
    cmd_bench_rollout(*model, *config, *prompt_len, *max_new, *threads, *batches, *device);
  });
}

}  // namespace

AHA_COMMAND(add_bench_rollout);

}  // namespace aha::cli
