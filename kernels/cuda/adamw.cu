// CUDA AdamW over all parameters in one launch, and the global gradient norm (kernels/adamw.h).
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

namespace {

constexpr int kNormBlocks = 1024;  // fixed, so the summation order depends on n only
constexpr int kBlock = 256;

__global__ void adamw_kernel(float* params, bf16* params_bf16, const float* grads, float* m,
                             float* v, long n, const AdamWSegment* seg, int S, float lr,
                             float beta1, float beta2, float eps, float bc1, float bc2,
                             const double* grad_norm, float max_norm) {
  float clip = 1.0f;
  if (grad_norm && max_norm > 0 && *grad_norm > max_norm)
    clip = static_cast<float>(max_norm / (*grad_norm + 1e-12));
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    // The last segment starting at or before i.
    int lo = 0, hi = S - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) / 2;
      if (seg[mid].offset <= i)
        lo = mid;
      else
        hi = mid - 1;
    }
    if (seg[lo].offset > i || i >= seg[lo].offset + seg[lo].numel) continue;
    const float decay = 1.0f - lr * seg[lo].weight_decay;
    const float g = clip == 1.0f ? grads[i] : grads[i] * clip;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = params[i] * decay - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    params[i] = p;
    if (params_bf16) params_bf16[i] = __float2bfloat16(p);
  }
}

__global__ void sumsq_partial_kernel(double* partial, const float* grads, long n) {
  __shared__ double shared[32];
  double ss = 0.0;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    ss += static_cast<double>(grads[i]) * grads[i];
  ss = block_sum(ss, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = ss;
}

__global__ void norm_final_kernel(double* norm, const double* partial, int P) {
  __shared__ double shared[32];
  double ss = 0.0;
  for (int p = threadIdx.x; p < P; p += blockDim.x) ss += partial[p];
  ss = block_sum(ss, shared);
  if (threadIdx.x == 0) *norm = sqrt(ss);
}

}  // namespace

void adamw_update_cuda(float* params, bf16* params_bf16, const float* grads, float* m, float* v,
                       long n, const AdamWSegment* segments, int num_segments, int step,
                       const AdamWParams& p, const double* grad_norm, float max_norm,
                       cudaStream_t stream) {
  AHA_CHECK(step >= 1, "adamw_update_cuda: step counts from 1");
  if (n == 0 || num_segments == 0) return;
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta1), step));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta2), step));
  const unsigned grid = std::min(num_blocks(n, kBlock), 65535u);
  adamw_kernel<<<grid, kBlock, 0, stream>>>(params, params_bf16, grads, m, v, n, segments,
                                            num_segments, p.lr, p.beta1, p.beta2, p.eps, bc1, bc2,
                                            grad_norm, max_norm);
  AHA_CUDA_CHECK(cudaGetLastError());
}

size_t grad_norm_workspace_size(long) {
  return sizeof(double) * kNormBlocks;
}

void grad_norm_cuda(double* norm, const float* grads, long n, void* workspace,
                    size_t workspace_bytes, cudaStream_t stream) {
  AHA_CHECK(workspace_bytes >= grad_norm_workspace_size(n), "grad_norm_cuda: workspace too small");
  double* partial = static_cast<double*>(workspace);
  sumsq_partial_kernel<<<kNormBlocks, kBlock, 0, stream>>>(partial, grads, n);
  AHA_CUDA_CHECK(cudaGetLastError());
  norm_final_kernel<<<1, kBlock, 0, stream>>>(norm, partial, kNormBlocks);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
