// Times the policy's forward + backward (the learner's work, without the GRPO terms) for one
// model config on the CPU or a GPU: `aha bench model` and, in a GPU-only build without the
// Debian packages, experiments/gpu/bench_model.
//
// Invariants:
// - Random weights (seed 1) and B random sequences of T tokens (seed 2): the same work every run.
// - One warm-up step, then exactly `steps` timed steps (steps <= 0: at least 2 s and 2 steps),
//   each ending with a device sync, so GPU time is counted.
// - FLOPs are three forwards' (model_forward_flops); the share is of `peak_gflops`.
#pragma once
#include "kernels/device.h"
#include "policy/config.h"

namespace aha {

// The column names of bench_model_config's row; the share column is "of sgemm" on the CPU and
// "of peak" on a GPU.
void bench_model_header(Device dev);

// One row: params, active params, tokens, tok/s, GFLOP/s, share of peak_gflops, tok/CPU-s, steps.
// On CUDA a config whose memory plan does not fit is refused before allocating (what it needs),
// and a line with the device memory in use follows. recompute: per-layer activation
// recomputation, with a line giving the activation bytes with and without it.
void bench_model_config(const char* name, const ModelConfig& cfg, int B, int T, double peak_gflops,
                        Device dev, int steps, bool recompute);

}  // namespace aha
