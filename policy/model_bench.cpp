// `aha bench model` and experiments/gpu/bench_model: forward + backward of a model config on the
// CPU or a GPU, timed.
#include "policy/model_bench.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "kernels/rng.h"
#include "policy/model.h"

namespace aha {

// CPU seconds of this process so far (every thread): on a shared machine the wall time of a
// step also counts the time other jobs held the cores, its CPU time much less so.
static double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void bench_model_config(const char* name, const ModelConfig& cfg, int B, int T, double peak_gflops,
                        Device dev, int steps, bool recompute) {
  const int N = B * T;
  Model m;
  if (dev == Device::kCuda) {  // refuse before allocating what does not fit
    model_build_table(m, cfg);
    memory_plan_check(model_memory_plan(m, N, B, false, recompute), dev,
                      std::string("config ") + name);
  }
  model_build(m, cfg, dev);
  model_init(m, 1);
  Batch batch;
  Rng rng{2};
  for (int b = 0; b < B; b++) {
    std::vector<int> ids(T);
    for (int& id : ids) id = static_cast<int>(rng.next_u64() % cfg.vocab_size);
    batch_add_sequence(batch, ids, 0);
  }
  Acts acts;
  acts_reserve(m, acts, N, B, true, true, recompute);
  ForwardOptions opt;
  opt.recompute = recompute;
  Buffer<float> dlogp;  // where the model runs
  dlogp.alloc(dev, N);
  const std::vector<float> dlogp_host(N, -1.0f / N);
  device_copy(m.ctx, dlogp.data(), dev, dlogp_host.data(), Device::kCpu, N * sizeof(float));
  model_zero_grads(m);
  auto step = [&] {
    model_forward(m, acts, batch, opt);
    model_backward(m, acts, batch, dlogp.data(), opt);
  };
  step();  // warm-up
  // As the learner runs it: the weights' bf16 copy made once (above), not at every forward.
  opt.sync_weights = false;
  ctx_sync(m.ctx);
  cuda_ctx_profile_report(m.ctx);  // with AHA_CUDA_PROFILE: drop the warm-up's times
  int iters = 0;
  auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = process_cpu_seconds();
  double el = 0;
  while (steps > 0 ? iters < steps : el < 2.0 || iters < 2) {
    step();
    ctx_sync(m.ctx);
    iters++;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  double tok_s = static_cast<double>(N) * iters / el;
  // Per CPU second as well: on a shared machine wall time mostly measures waiting for a core.
  const double tok_cpu_s = static_cast<double>(N) * iters / (process_cpu_seconds() - cpu0);
  // Forward + backward is about three forwards.
  double gflops = 3.0 * model_forward_flops(m, N, (T + 1) / 2.0) * iters / el / 1e9;
  // The share of the peak, or "-" when there is none to compare with.
  char share[32] = "-";
  if (peak_gflops > 0) std::snprintf(share, sizeof share, "%.1f%%", 100.0 * gflops / peak_gflops);
  std::printf("%-6s %12ld %12ld %6d %10.0f %10.1f %10s %10.0f %6d\n", name, model_num_params(m),
              model_num_active_params(m), N, tok_s, gflops, share, tok_cpu_s, iters);
  // AHA_CUDA_PROFILE=1: where the timed steps' device time went, op by op.
  const std::string profile = cuda_ctx_profile_report(m.ctx);
  if (!profile.empty()) std::printf("%s", profile.c_str());
  if (recompute) {
    const double with = static_cast<double>(acts_bytes(m, N, B, true, true));
    const double without = static_cast<double>(acts_bytes(m, N, B, true, false));
    std::printf("       activations %.1f MiB with recompute, %.1f MiB without (x%.2f)\n",
                with / (1 << 20), without / (1 << 20), with / without);
  }
  if (dev == Device::kCuda) {
    size_t free_bytes = 0, total_bytes = 0;
    cuda_mem_info(&free_bytes, &total_bytes);
    std::printf(
        "       device memory in use %.2f GiB (plan %.2f GiB)\n",
        static_cast<double>(total_bytes - free_bytes) / (1ull << 30),
        static_cast<double>(model_memory_plan(m, N, B, false, recompute).total()) / (1ull << 30));
  }
}

void bench_model_header(Device dev) {
  std::printf("%-6s %12s %12s %6s %10s %10s %10s %10s %6s\n", "config", "params", "active",
              "tokens", "tok/s", "GFLOP/s", dev == Device::kCpu ? "of sgemm" : "of peak",
              "tok/CPU-s", "steps");
}

}  // namespace aha
