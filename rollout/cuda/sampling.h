// CUDA twin of sample_token (rollout/sampling.h), batched: B rows of logits sampled in one launch,
// one thread block per row, so a row's token never depends on the other rows (batch-invariant,
// bitwise) nor on B. The CPU op is the spec; this twin follows it step by step:
//   - the random number is rng_uniform(seed, stream, counter) from kernels/rng.h, the same
//     function compiled for the device, hence the same double as the CPU's;
//   - temperature 0: argmax, lowest id on ties; logp under the untempered softmax, logp_trunc 0;
//   - nothing truncated: inverse CDF over token ids in id order (as the CPU);
//   - truncated: top-k, then top-p within it, then min-p, then the inverse CDF over the kept set in
//     probability order (descending, then id), as the CPU's stable sort orders it.
// clang-format off
// Where the arithmetic differs (documented, and what test_cuda_sampling allows):
//   - probabilities in fp32 (CPU: double): p = expf(fmaf(logit, 1/T, -lse)), the exp's terms
//     summed in double in a fixed order, lse = max + log(sum) in double (logp = logit / T - lse
//     in double, as the CPU), rounded to fp32 inside p;
//   - masses in fixed point: each p as an integer of 2^-60 units (truncated), sums of them exact
//     and associative, so no float atomics and one result on every run;
//   - min-p's threshold min_p * p_max in fp32.
//   p is then within ~1e-6 (relative) of the CPU's, and the CDF the draw walks within ~1e-6
//   (absolute): a token equals the CPU's unless the uniform draw, or a top-k / top-p / min-p cut,
//   lies that close to a boundary; logp and logp_trunc agree to ~1e-6 (the test allows 2e-5).
// Truncation without a sort: each cut is a radix select on a 64-bit key per token,
//   key = float bits of p (non-negative, so they order as p) << 32 | (0xFFFFFFFF - id),
// whose descending order is the CPU's sorted order; the kept set is {key >= K_cut}. A select finds
// the key at which the count (top-k) or the fixed-point mass (top-p, the draw) summed in
// descending key order reaches a target, one 8-bit digit per pass over the row (at most 8 passes,
// stopping early once the chosen bucket holds one token), with shared-memory histograms fed by
// warp-aggregated integer atomics. Each pass recomputes p from the logits, so there is no
// workspace: the launch needs only logits, rows and out (and is safe to capture in a CUDA graph).
// Cost: greedy reads a row twice, plain sampling four times, truncated sampling up to ~30 times
// (one read per select pass; the row stays in L2 while its block works). Not yet timed on a GPU.
// clang-format on
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "rollout/sampling.h"

namespace aha {

// logits[B, V] (device, fp32, row-major), rows[B] (device; SamplingRow: rollout/sampling.h),
// out[B] (device). Asynchronous on `stream`; launch errors are checked.
void sample_tokens_cuda(const float* logits, int B, int V, const SamplingRow* rows,
                        SampledToken* out, cudaStream_t stream);

}  // namespace aha
