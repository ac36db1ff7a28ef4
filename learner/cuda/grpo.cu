// CUDA GRPO loss terms (learner/cuda/grpo.h): one thread per token, the same branches as
// grpo_loss on the CPU, statistics summed per block and then over blocks in a fixed order.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "learner/cuda/grpo.h"

namespace aha {

namespace {

constexpr int kBlock = 256;

struct Cfg {
  float eps_low, eps_high, dual_clip, beta, tis_cap;
  int kl;  // 0 k1, 1 k2, 2 k3
};

__global__ void grpo_kernel(GrpoTokens t, Cfg cfg, float* dlogp, double* partial) {
  __shared__ double shared[32];
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  double st[kGrpoStatsFields] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (n < t.N) {
    dlogp[n] = 0.0f;
    const double w = t.weight[n];
    if (w > 0) {
      const double A = t.adv[n];
      const double diff = fmin(fmax(static_cast<double>(t.logp[n]) - t.logp_old[n], -20.0), 20.0);
      const double ratio = exp(diff);
      const double lo = 1.0 - cfg.eps_low, hi = 1.0 + cfg.eps_high;
      const double clipped = fmin(fmax(ratio, lo), hi);
      const double unclipped_loss = -A * ratio, clipped_loss = -A * clipped;
      double loss, dl;
      if (unclipped_loss >= clipped_loss) {
        loss = unclipped_loss;
        dl = -A * ratio;
      } else {
        loss = clipped_loss;
        dl = 0;
        if (A > 0)
          st[3] += w;
        else
          st[2] += w;
      }
      if (cfg.dual_clip > 0 && A < 0 && loss > -cfg.dual_clip * A) {
        loss = -cfg.dual_clip * A;
        dl = 0;
        st[4] += w;
      }
      double kl = 0, dkl = 0;
      if (t.logp_ref) {
        const double d = static_cast<double>(t.logp_ref[n]) - t.logp[n];
        if (cfg.kl == 0) {
          kl = -d;
          dkl = 1;
        } else if (cfg.kl == 1) {
          kl = 0.5 * d * d;
          dkl = -d;
        } else {
          const double ed = exp(fmin(d, 20.0));
          kl = ed - d - 1;
          dkl = 1 - ed;
        }
      }
      double tis = 1.0;
      if (cfg.tis_cap > 0 && t.logp_rollout)
        tis = fmin(
            exp(fmin(fmax(static_cast<double>(t.logp_old[n]) - t.logp_rollout[n], -20.0), 20.0)),
            static_cast<double>(cfg.tis_cap));
      st[0] += w * (tis * loss + cfg.beta * kl);
      st[1] += w * kl;
      st[5] += w * ratio;
      st[6] += w * tis;
      st[7] += w;
      dlogp[n] = static_cast<float>(w * (tis * dl + cfg.beta * dkl));
    }
  }
  for (int f = 0; f < kGrpoStatsFields; f++) {
    const double v = block_sum(st[f], shared);
    if (threadIdx.x == 0) partial[blockIdx.x * kGrpoStatsFields + f] = v;
  }
}

__global__ void grpo_stats_kernel(double* stats, const double* partial, int P) {
  const int f = threadIdx.x;
  if (f >= kGrpoStatsFields) return;
  double acc = 0.0;
  for (int p = 0; p < P; p++) acc += partial[p * kGrpoStatsFields + f];
  stats[f] += acc;
}

}  // namespace

size_t grpo_loss_workspace_size(int N) {
  return sizeof(double) * kGrpoStatsFields * num_blocks(N, kBlock);
}

void grpo_loss_cuda(const GrpoTokens& t, const GrpoLossConfig& cfg, float* dlogp, double* stats,
                    void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  AHA_CHECK(cfg.beta == 0 || t.logp_ref != nullptr,
            "grpo_loss_cuda: beta > 0 needs reference log-probs");
  AHA_CHECK(workspace_bytes >= grpo_loss_workspace_size(t.N),
            "grpo_loss_cuda: workspace too small");
  if (t.N == 0) return;
  Cfg c{cfg.eps_low,   cfg.eps_high,
        cfg.dual_clip, cfg.beta,
        cfg.tis_cap,   cfg.kl == KlEstimator::kK1 ? 0 : cfg.kl == KlEstimator::kK2 ? 1 : 2};
  const unsigned P = num_blocks(t.N, kBlock);
  double* partial = static_cast<double*>(workspace);
  grpo_kernel<<<P, kBlock, 0, stream>>>(t, c, dlogp, partial);
  AHA_CUDA_CHECK(cudaGetLastError());
  grpo_stats_kernel<<<1, 32, 0, stream>>>(stats, partial, static_cast<int>(P));
  AHA_CUDA_CHECK(cudaGetLastError());
}

GrpoStats grpo_stats_from_device(const double* stats, cudaStream_t stream) {
  double h[kGrpoStatsFields];
  AHA_CUDA_CHECK(cudaMemcpyAsync(h, stats, sizeof(h), cudaMemcpyDeviceToHost, stream));
  AHA_CUDA_CHECK(cudaStreamSynchronize(stream));
  GrpoStats s;
  s.loss = h[0];
  s.kl = h[1];
  s.clip_low = h[2];
  s.clip_high = h[3];
  s.clip_dual = h[4];
  s.ratio_mean = h[5];
  s.tis_mean = h[6];
  s.weight_sum = h[7];
  return s;
}

}  // namespace aha
