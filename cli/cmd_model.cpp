// `aha init`, `aha inspect`, `aha convert` and `aha bench model`: make, look at, re-save and time
// a policy. `aha bench sgemm`: the GEMM backend's GFLOP/s with each OpenBLAS core type the CPU
// runs, so `aha bench model` divides by the machine's best sgemm, not by whatever was loaded.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/command.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/rng.h"
#include "policy/checkpoint.h"
#include "policy/config_presets.h"
#include "policy/decode.h"
#include "policy/hf_checkpoint.h"
#include "policy/model.h"
#include "policy/model_bench.h"
#include "policy/tiny_tokenizer.h"
#include "policy/tokenizer.h"

namespace aha::cli {

namespace {

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot write");
  f << j.dump(2) << "\n";
}

std::string shape_str(const std::vector<int64_t>& s) {
  return st_shape_str(s);
}

void cmd_init(const std::string& config, const std::string& out, uint64_t seed,
              const std::string& dtype, const std::string& tokenizer_dir) {
  ModelOut o(out, "--out");
  Model m;
  ModelConfig cfg = resolve_model_config(config);
  // A tokenizer given by hand must fit the embedding table: an id past the vocabulary would
  // read outside it at the first prompt.
  Tokenizer tok;
  if (!tokenizer_dir.empty()) {
    tok = tokenizer_load(tokenizer_dir);
    if (tok.vocab_size > cfg.vocab_size)
      throw std::runtime_error("--tokenizer " + tokenizer_dir + ": its ids reach " +
                               std::to_string(tok.vocab_size - 1) +
                               " but the config's vocab_size is " + std::to_string(cfg.vocab_size));
  }
  // The built-in tokenizer serves any vocabulary it fits in (ids past 102 stay unused).
  bool tiny_vocab = tokenizer_dir.empty() && cfg.vocab_size >= kTinyVocabSize;
  if (tiny_vocab && cfg.bos_token_id < 0) {
    cfg.bos_token_id = kTinyBos;
    cfg.eos_token_id = kTinyEos;
  }
  model_build(m, cfg);
  model_init(m, seed);
  model_save(m, o.dir(), dtype);
  if (!tokenizer_dir.empty()) {
    namespace fs = std::filesystem;
    const fs::path src = fs::is_directory(tokenizer_dir) ? fs::path(tokenizer_dir)
                                                         : fs::path(tokenizer_dir).parent_path();
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      if (fs::exists(src / f))
        fs::copy_file(src / f, fs::path(o.dir()) / f, fs::copy_options::overwrite_existing);
  } else if (tiny_vocab) {
    write_json(o.dir() + "/tokenizer.json", tiny_tokenizer_json());
    write_json(o.dir() + "/tokenizer_config.json", tiny_tokenizer_config_json());
  } else {
    std::printf(
        "note: no tokenizer written (vocab_size %d is below the built-in tokenizer's %d); "
        "give one with --tokenizer DIR\n",
        cfg.vocab_size, kTinyVocabSize);
  }
  o.commit();
  std::printf("wrote %s: %ld parameters (%ld active per token), seed %llu\n", out.c_str(),
              model_num_params(m), model_num_active_params(m),
              static_cast<unsigned long long>(seed));
}

// A model directory (config, tensor table checked against the checkpoint's headers, no weights
// read, so it works on models larger than memory) or a bare config.json.
void cmd_inspect(const std::string& path) {
  const bool dir = std::filesystem::is_directory(path);
  const ModelConfig c = config_load(dir ? path + "/config.json" : path);
  Model m;
  model_build_table(m, c);
  std::printf("model %s (%s)\n", path.c_str(), c.model_type.c_str());
  std::printf("  layers %d, hidden %d, vocab %d, max positions %d, rope theta %g%s\n",
              c.num_hidden_layers, c.hidden_size, c.vocab_size, c.max_position_embeddings,
              c.rope_theta,
              c.rope_scaling.type == RopeType::kYarn     ? ", YaRN"
              : c.rope_scaling.type == RopeType::kLinear ? ", linear scaling"
                                                         : "");
  if (cfg_is_mla(c))
    std::printf("  MLA: %d heads, q_lora_rank %d, kv_lora_rank %d, rope/nope/v dims %d/%d/%d\n",
                c.num_attention_heads, c.q_lora_rank, c.kv_lora_rank, c.qk_rope_head_dim,
                c.qk_nope_head_dim, c.v_head_dim);
  else
    std::printf("  GQA: %d query / %d key-value heads of %d dims%s%s\n", c.num_attention_heads,
                c.num_key_value_heads, c.head_dim, c.qk_norm ? ", QK-norm" : "",
                c.qkv_bias ? ", q/k/v biases" : "");
  if (c.n_routed_experts > 0)
    std::printf(
        "  MoE: %d MoE layers, %d routed + %d shared experts, top-%d, width %d; dense width %d, "
        "%s router%s, scaling %.3g\n",
        cfg_num_moe_layers(c), c.n_routed_experts, c.n_shared_experts, c.num_experts_per_tok,
        c.moe_intermediate_size, c.intermediate_size, c.scoring_func.c_str(),
        c.norm_topk_prob ? " (renormalised)" : "", c.routed_scaling_factor);
  else
    std::printf("  dense FFN width %d\n", c.intermediate_size);
  std::printf("  parameters: %ld total, %ld active per token; cache %ld bytes per token (f32)\n",
              model_num_params(m), model_num_active_params(m), cache_bytes_per_token(c));
  if (!dir) return;
  HfCheckpoint ck = hf_open(path);
  model_check_tensors(m, ck);  // every tensor present with its shape, none extra
  std::printf("\n  %-64s %-8s %-16s %12s\n", "tensor", "dtype", "shape", "bytes");
  size_t total = 0;
  for (const std::string& name : hf_tensor_names(ck)) {
    const StTensor* t = hf_find(ck, name);
    std::printf("  %-64s %-8s %-16s %12zu\n", name.c_str(), t->dtype.c_str(),
                shape_str(t->shape).c_str(), t->nbytes);
    total += t->nbytes;
  }
  std::printf("  %zu tensors in %zu file(s), %.2f MB; every tensor matches the config\n",
              ck.tensors.size(), ck.shards.size(), total / 1e6);
}

// Load (any supported dtype, FP8 dequantised) and save in the HF layout, with the tokenizer files.
void cmd_convert(const std::string& in, const std::string& out, const std::string& dtype,
                 double shard_mb) {
  if (dtype != "F32" && dtype != "BF16" && dtype != "F16")
    throw std::runtime_error("--dtype '" + dtype + "': F32, BF16 or F16");
  ModelOut o(out, "--out");
  Model m;
  model_load(m, in);
  model_save(m, o.dir(), dtype, shard_mb > 0 ? static_cast<size_t>(shard_mb * 1e6) : 0);
  for (const char* f :
       {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "tasks.toml"})
    if (std::filesystem::exists(in + "/" + f))
      std::filesystem::copy_file(in + "/" + f, o.dir() + "/" + f);
  o.commit();
  std::printf("wrote %s: %ld parameters as %s\n", out.c_str(), model_num_params(m), dtype.c_str());
}

double time_sgemm_gflops(int n) {
  std::vector<float> a(static_cast<size_t>(n) * n, 0.5f), b(a), c(a);
  auto run = [&] {
    sgemm(false, true, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  };
  run();
  int iters = 0;
  auto t0 = std::chrono::steady_clock::now();
  double el = 0;
  while (el < 0.5) {
    run();
    iters++;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return 2.0 * n * n * n * iters / el / 1e9;
}

// GFLOP/s of `aha bench sgemm` in a child process whose OpenBLAS loads with core type `core`
// ("library": OpenBLAS's own choice); 0 when the child fails.
double child_sgemm_gflops(const std::string& core, int n, int threads, std::string* corename) {
  std::string env = core == "library" ? "-u OPENBLAS_CORETYPE AHA_BLAS_CORETYPE=library"
                                      : "OPENBLAS_CORETYPE=" + core;
  // This binary by its path: /proc/self/exe inside the command would name the shell's child.
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  // AHA_GEMM_FP32=openblas: the child measures OpenBLAS with that core type, not oneDNN.
  std::string cmd = "env " + env + " AHA_GEMM_FP32=openblas '" + exe + "' bench sgemm --n " +
                    std::to_string(n) + " --threads " + std::to_string(threads) +
                    " --plain 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  char buf[256] = {0};
  double g = 0;
  char name[64] = {0};
  if (std::fgets(buf, sizeof buf, p)) std::sscanf(buf, "%lf %63s", &g, name);
  pclose(p);
  if (corename) *corename = name;
  return g;
}

// The best sgemm GFLOP/s over the core types this CPU runs; prints one line per candidate.
double best_sgemm_gflops(int n, int threads) {
  std::vector<std::string> cores = {"library", "Haswell", "SkylakeX"};
  const std::string mine = gemm_coretype_for_cpu();
  if (mine != "SkylakeX") cores.pop_back();
  if (mine.empty()) cores.pop_back();
  double best = 0;
  std::printf("sgemm %dx%dx%d:", n, n, n);
  for (const std::string& core : cores) {
    std::string name;
    double g = child_sgemm_gflops(core, n, threads, &name);
    std::printf("  %s%s %.1f", core == "library" ? "OpenBLAS's choice " : "",
                name.empty() ? core.c_str() : name.c_str(), g);
    best = std::max(best, g);
  }
  std::printf(" GFLOP/s\n");
  return best;
}

void cmd_bench_model(const std::string& which, int B, int T, int threads, const std::string& device,
                     int steps, double reference, bool recompute) {
  const Device dev = device_choose(device);
  // On CUDA the mode runs the fp32 mode's forward-only kernels: nothing to train with.
  if (dev == Device::kCuda && gemm_batch_invariant())
    throw std::runtime_error(
        "--batch-invariant with --device cuda: the mode's CUDA kernels run the engine and the "
        "forward only (aha bench rollout --device cuda --batch-invariant); the learner's "
        "forward+backward runs it on the CPU");
  set_compute_threads(threads);
  double sgemm = 0;
  if (dev == Device::kCpu) {
    std::printf("compute threads: %d\n", compute_threads());
    if (reference > 0) {
      std::printf("sgemm reference: %.1f GFLOP/s (given)\n", reference);
      sgemm = reference;
    } else {
      const double in_use = time_sgemm_gflops(1024);
      const double best = std::max(in_use, best_sgemm_gflops(1024, compute_threads()));
      std::printf("sgemm in use: %.1f GFLOP/s; best on this machine %.1f GFLOP/s (the reference)\n",
                  in_use, best);
      sgemm = best;
    }
  } else {
    // The share is of the GPU's dense bf16 peak (H100/H200 SXM: 989 TFLOP/s).
    sgemm = 989e3;
    std::printf("device: cuda; the last column is the share of a 989 TFLOP/s bf16 peak\n");
  }
  bench_model_header(dev);
  if (which == "all" || which == "tiny")
    bench_model_config("tiny", config_tiny(), B, T, sgemm, dev, steps, recompute);
  if (which == "all" || which == "100m")
    bench_model_config("100m", config_100m(), B, T, sgemm, dev, steps, recompute);
  if (which == "all" || which == "100m-qwen")
    bench_model_config("100m-q", config_100m_qwen(), B, T, sgemm, dev, steps, recompute);
  if (which == "1b")
    bench_model_config("1b", config_1b(), B, T, sgemm, dev, steps, recompute);  // not in all
}

void add_model_commands(CLI::App& app) {
  {
    auto* c = app.add_subcommand("init", "Write a randomly initialised model directory");
    auto config = std::make_shared<std::string>("tiny");
    auto out = std::make_shared<std::string>();
    auto seed = std::make_shared<uint64_t>(0);
    auto dtype = std::make_shared<std::string>("F32");
    c->add_option("--config", *config,
                  "config.json path, or a built-in name: tiny, 100m, 100m-qwen, 1b")
        ->capture_default_str();
    c->add_option("--out", *out, "Output model directory")->required();
    c->add_option("--seed", *seed, "Initialisation seed")->capture_default_str();
    c->add_option("--dtype", *dtype, "Stored dtype: F32, BF16, F16")
        ->capture_default_str()
        ->check(CLI::IsMember({"F32", "BF16", "F16"}));
    auto tokenizer = std::make_shared<std::string>();
    c->add_option("--tokenizer", *tokenizer,
                  "Copy tokenizer.json (+ tokenizer_config.json) from this directory (default: the "
                  "built-in character tokenizer when the vocabulary fits it)");
    c->callback([=] { cmd_init(*config, *out, *seed, *dtype, *tokenizer); });
  }
  {
    auto* c = app.add_subcommand(
        "inspect", "Print a model's config, sizes and tensors (checked, no weights loaded)");
    auto dir = std::make_shared<std::string>();
    c->add_option("dir", *dir, "Model directory or config.json")->required();
    c->callback([=] { cmd_inspect(*dir); });
  }
  {
    auto* c = app.add_subcommand("convert", "Re-save a model directory (dtype, shards; FP8 in)");
    auto in = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto dtype = std::make_shared<std::string>("BF16");
    auto shard_mb = std::make_shared<double>(5000);
    c->add_option("--model", *in, "Source model directory")->required();
    c->add_option("--out", *out, "Output model directory (new or empty)")->required();
    c->add_option("--dtype", *dtype, "F32, BF16 or F16")
        ->capture_default_str()
        ->check(CLI::IsMember({"F32", "BF16", "F16"}));
    c->add_option("--shard-mb", *shard_mb, "Max MB per shard (0 = one file)")
        ->capture_default_str()
        ->check(in_range(0, 1e9));
    c->callback([=] { cmd_convert(*in, *out, *dtype, *shard_mb); });
  }
  {
    CLI::App* bench = subcommand(app, "bench", "Benchmarks");
    auto* c = bench->add_subcommand("model", "Forward+backward tokens/s and GFLOP/s of the policy");
    auto which = std::make_shared<std::string>("all");
    auto B = std::make_shared<int>(4);
    auto T = std::make_shared<int>(128);
    c->add_option("--config", *which, "tiny, 100m, 100m-qwen, all (these three) or 1b (GPU)")
        ->capture_default_str()
        ->check(CLI::IsMember({"tiny", "100m", "100m-qwen", "all", "1b"}));
    c->add_option("--batch", *B, "Sequences per step")
        ->capture_default_str()
        ->check(in_range(1, 1 << 20));
    c->add_option("--seq-len", *T, "Tokens per sequence")
        ->capture_default_str()
        ->check(in_range(2, 1 << 20));
    auto threads = std::make_shared<int>(hardware_threads());
    c->add_option("--threads", *threads, "Compute threads")
        ->capture_default_str()
        ->check(in_range(1, 4096));
    auto device = std::make_shared<std::string>("auto");
    c->add_option("--device", *device, "cpu, cuda or auto (cuda when it runs the whole model)")
        ->capture_default_str();
    auto steps = std::make_shared<int>(0);
    c->add_option("--steps", *steps, "Timed steps (0: at least 2 s and 2 steps)")
        ->capture_default_str();
    auto reference = std::make_shared<double>(0);
    c->add_option("--sgemm-ref", *reference,
                  "GFLOP/s to divide by instead of probing the best sgemm (0: probe)")
        ->capture_default_str();
    auto recompute = std::make_shared<bool>(false);
    c->add_flag("--recompute", *recompute,
                "Recompute each layer's activations in the backward; prints the activation bytes "
                "with and without");
    auto precision = std::make_shared<std::string>("fp32");
    add_gemm_precision_option(c, precision);
    c->callback([=] {
      apply_gemm_precision(*precision, true);
      cmd_bench_model(*which, *B, *T, *threads, *device, *steps, *reference, *recompute);
    });
    auto* g = bench->add_subcommand("sgemm", "sgemm GFLOP/s of the GEMM backend (n x n x n)");
    auto n = std::make_shared<int>(1024);
    auto plain = std::make_shared<bool>(false);
    g->add_option("--n", *n, "Matrix size")->capture_default_str();
    auto gthreads = std::make_shared<int>(hardware_threads());
    g->add_flag("--plain", *plain, "Print only 'GFLOP/s corename'");
    g->add_option("--threads", *gthreads, "BLAS threads")
        ->capture_default_str()
        ->check(in_range(1, 4096));
    auto gprecision = std::make_shared<std::string>("fp32");
    add_gemm_precision_option(g, gprecision);
    g->callback([=] {
      apply_gemm_precision(*gprecision, !*plain);
      set_compute_threads(*gthreads);
      const double gf = time_sgemm_gflops(std::max(1, *n));
      if (*plain) {
        // "[oneDNN 2.6.3 fp32 (brg:avx512_core) + ]OpenBLAS 0.3.21 SkylakeX (...)": the core.
        std::string backend = gemm_backend();
        const size_t ob = backend.find("OpenBLAS ");
        backend = ob == std::string::npos ? backend : backend.substr(ob);
        size_t a = backend.find(' ', backend.find(' ') + 1) + 1;
        std::printf("%.1f %s\n", gf, backend.substr(a, backend.find(' ', a) - a).c_str());
      } else {
        std::printf("sgemm %dx%dx%d: %.1f GFLOP/s\n", *n, *n, *n, gf);
      }
    });
  }
}

}  // namespace

AHA_COMMAND(add_model_commands);

}  // namespace aha::cli
