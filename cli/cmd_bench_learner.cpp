// `aha bench learner`: seconds per GRPO learner update (forward, backward, AdamW) on a synthetic
// batch of the built-in run's shape, so it can be set beside PyTorch's on the same batch
// (experiments/peers/).
#include <chrono>
#include <cstdio>
#include <ctime>

#include "cli/command.h"
#include "cli/run/trainer.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "kernels/rng.h"
#include "learner/learner.h"
#include "policy/checkpoint.h"

namespace aha::cli {

namespace {

// CPU seconds of the whole process (every compute thread).
double process_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

void cmd_bench_learner(std::string model_dir, int S, int P, int C, int threads, double seconds,
                       int micro_batch_tokens) {
  if (model_dir.empty()) model_dir = builtin_base_model_dir();
  Model m;
  model_load(m, model_dir);
  LearnerConfig lc;  // the built-in run's learner settings (lr 2e-4, clip 0.2/0.28 aside)
  if (micro_batch_tokens > 0) lc.micro_batch_tokens = micro_batch_tokens;
  Learner l;
  learner_init(l, m, lc);
  std::vector<Sample> batch(S);
  Rng rng{5};
  const int V = m.cfg.vocab_size;
  for (int i = 0; i < S; i++) {
    for (int t = 0; t < P; t++) batch[i].prompt.push_back(static_cast<int>(rng.next_u64() % V));
    for (int t = 0; t < C; t++) batch[i].completion.push_back(static_cast<int>(rng.next_u64() % V));
    batch[i].advantage = (i % 2) ? 1.0f : -1.0f;
  }
  set_compute_threads(threads);
  std::printf(
      "model %s, %d sequences x (%d prompt + %d completion) tokens, %d compute threads, "
      "micro-batches of %d tokens\n",
      model_dir.c_str(), S, P, C, compute_threads(), lc.micro_batch_tokens);
  learner_update(l, batch);  // warm-up: activation buffers
  int iters = 0;
  auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = process_cpu_seconds();
  double el = 0;
  while (el < seconds || iters < 3) {
    learner_update(l, batch);
    iters++;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double cpu = process_cpu_seconds() - cpu0;
  // CPU seconds per update: on a shared machine the work done, whatever the wall clock waited.
  std::printf("learner update: %.4f s (%d updates, %.0f tokens/s), %.4f CPU s per update\n",
              el / iters, iters, static_cast<double>(S) * (P + C) * iters / el, cpu / iters);
}

void add_bench_learner(CLI::App& app) {
  CLI::App* bench = subcommand(app, "bench", "Benchmarks");
  auto* c =
      bench->add_subcommand("learner", "Seconds per GRPO learner update on a synthetic batch");
  auto model = std::make_shared<std::string>();
  auto S = std::make_shared<int>(512);
  auto P = std::make_shared<int>(7);
  auto C = std::make_shared<int>(4);
  auto threads = std::make_shared<int>(hardware_threads());
  auto seconds = std::make_shared<double>(3.0);
  auto mbt = std::make_shared<int>(0);
  c->add_option("--model", *model, "Model directory (default: the built-in base model)");
  c->add_option("--sequences", *S, "Sequences per update")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 1 << 20));
  c->add_option("--prompt-len", *P, "Prompt tokens per sequence")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 1 << 20));
  c->add_option("--completion-len", *C, "Completion tokens per sequence")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 1 << 20));
  c->add_option("--threads", *threads, "Compute threads")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 4096));
  c->add_option("--seconds", *seconds, "Minimum timed seconds")
      ->capture_default_str()
      ->check(aha::cli::in_range(0, 1e6));
  c->add_option("--micro-batch-tokens", *mbt,
                "Tokens per micro-batch (default: learner.micro_batch_tokens's default)")
      ->check(aha::cli::in_range(1, 1 << 24));
  auto precision = std::make_shared<std::string>("fp32");
  add_gemm_precision_option(c, precision);
  c->callback([=] {
    apply_gemm_precision(*precision, true);
    cmd_bench_learner(*model, *S, *P, *C, *threads, *seconds, *mbt);
  });
}

}  // namespace

AHA_COMMAND(add_bench_learner);

}  // namespace aha::cli
