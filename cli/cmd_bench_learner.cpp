// `aha bench learner`: seconds per GRPO learner update (forward, backward, AdamW) on a synthetic
// batch of the built-in run's shape, so it can be set beside PyTorch's on the same batch
// (experiments/peers/).
#include <chrono>
#include <cstdio>

#include "cli/command.h"
#include "cli/run/trainer.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "kernels/rng.h"
#include "learner/learner.h"
#include "policy/checkpoint.h"

namespace aha::cli {

namespace {

void cmd_bench_learner(std::string model_dir, int S, int P, int C, int threads, double seconds) {
  if (model_dir.empty()) model_dir = builtin_base_model_dir();
  Model m;
  model_load(m, model_dir);
  LearnerConfig lc;  // the built-in run's learner settings (lr 2e-4, clip 0.2/0.28 aside)
  Learner l;
  learner_init(l, m, lc);
  std::vector<TrainSample> batch(S);
  Rng rng{5};
  const int V = m.cfg.vocab_size;
  for (int i = 0; i < S; i++) {
    for (int t = 0; t < P; t++) batch[i].prompt.push_back(static_cast<int>(rng.next_u64() % V));
    for (int t = 0; t < C; t++) batch[i].completion.push_back(static_cast<int>(rng.next_u64() % V));
    batch[i].advantage = (i % 2) ? 1.0f : -1.0f;
  }
  set_compute_threads(threads);
  std::printf("model %s, %d sequences x (%d prompt + %d completion) tokens, %d compute threads\n",
              model_dir.c_str(), S, P, C, compute_threads());
  learner_update(l, batch);  // warm-up: activation buffers
  int iters = 0;
  auto t0 = std::chrono::steady_clock::now();
  double el = 0;
  while (el < seconds || iters < 3) {
    learner_update(l, batch);
    iters++;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::printf("learner update: %.4f s (%d updates, %.0f tokens/s)\n", el / iters, iters,
              static_cast<double>(S) * (P + C) * iters / el);
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
  c->add_option("--model", *model, "Model directory (default: the built-in base model)");
  c->add_option("--sequences", *S, "Sequences per update")->capture_default_str();
  c->add_option("--prompt-len", *P, "Prompt tokens per sequence")->capture_default_str();
  c->add_option("--completion-len", *C, "Completion tokens per sequence")->capture_default_str();
  c->add_option("--threads", *threads, "Compute threads")->capture_default_str();
  c->add_option("--seconds", *seconds, "Minimum timed seconds")->capture_default_str();
  auto precision = std::make_shared<std::string>("fp32");
  add_gemm_precision_option(c, precision);
  c->callback([=] {
    apply_gemm_precision(*precision, true);
    cmd_bench_learner(*model, *S, *P, *C, *threads, *seconds);
  });
}

}  // namespace

AHA_COMMAND(add_bench_learner);

}  // namespace aha::cli
