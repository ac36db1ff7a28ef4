// CUDA twin of grpo_loss (learner/grpo.h): the same per-token terms on device pointers.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "learner/grpo.h"

namespace aha {

// GrpoStats's fields, in order, as a device array of doubles that grpo_loss_cuda adds to.
constexpr int kGrpoStatsFields = 8;  // loss, kl, clip_low, clip_high, clip_dual, ratio_mean,
                                     // tis_mean, weight_sum

// t's arrays are device pointers; dlogp[N] overwritten; stats[kGrpoStatsFields] (device) +=.
// Per-block sums in double into the workspace, then over the blocks in order (deterministic).
size_t grpo_loss_workspace_size(int N);
void grpo_loss_cuda(const GrpoTokens& t, const GrpoLossConfig& cfg, float* dlogp, double* stats,
                    void* workspace, size_t workspace_bytes, cudaStream_t stream);

// Copies device stats[kGrpoStatsFields] into a GrpoStats (synchronises with the stream).
GrpoStats grpo_stats_from_device(const double* stats, cudaStream_t stream);

}  // namespace aha
