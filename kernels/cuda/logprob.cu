// CUDA log-probabilities (kernels/logprob.h): one block per row reads the vocabulary in chunks of
// blockDim (a max pass, then the exp sums in double), so no row is ever held in shared memory.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

namespace {

constexpr int kBlock = 256;

__global__ void logprob_forward_kernel(float* logp, float* lse, float* entropy, const float* logits,
                                       const int* targets, int V, float inv_temp) {
  __shared__ float fshared[32];
  __shared__ double dshared[32];
  const int n = blockIdx.x;
  const float* x = logits + static_cast<long>(n) * V;
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, x[j] * inv_temp);
  mx = block_max(mx, fshared);
  double sum = 0.0, zsum = 0.0;
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    const float z = x[j] * inv_temp - mx;
    const double e = expf(z);
    sum += e;
    zsum += e * z;
  }
  sum = block_sum(sum, dshared);
  zsum = block_sum(zsum, dshared);
  if (threadIdx.x == 0) {
    const double log_sum = log(sum);
    const double l = mx + log_sum;
    lse[n] = static_cast<float>(l);
    const int t = targets[n];
    logp[n] = t >= 0 && t < V ? static_cast<float>(static_cast<double>(x[t] * inv_temp) - l) : 0.0f;
    if (entropy) entropy[n] = static_cast<float>(log_sum - zsum / sum);
  }
}

__global__ void logprob_backward_kernel(float* dlogits, const float* dlogp, const float* logits,
                                        const float* lse, const int* targets, int V,
                                        float inv_temp) {
  const int n = blockIdx.x;
  const int t = targets[n];
  float* dx = dlogits + static_cast<long>(n) * V;
  if (t < 0 || t >= V) {  // written, not accumulated: a row without a target gets zeros
    for (int j = threadIdx.x; j < V; j += blockDim.x) dx[j] = 0.0f;
    return;
  }
  const float* x = logits + static_cast<long>(n) * V;
  const float g = dlogp[n] * inv_temp;
  const float l = lse[n];
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    float d = -g * expf(x[j] * inv_temp - l);
    if (j == t) d += g;
    dx[j] = d;
  }
}

}  // namespace

void logprob_forward_cuda(float* logp, float* lse, float* entropy, const float* logits,
                          const int* targets, int N, int V, float inv_temp, cudaStream_t stream) {
  AHA_CHECK(V > 0, "logprob_forward_cuda: V must be positive");
  if (N == 0) return;
  logprob_forward_kernel<<<N, kBlock, 0, stream>>>(logp, lse, entropy, logits, targets, V,
                                                   inv_temp);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void logprob_backward_cuda(float* dlogits, const float* dlogp, const float* logits,
                           const float* lse, const int* targets, int N, int V, float inv_temp,
                           cudaStream_t stream) {
  if (N == 0) return;
  logprob_backward_kernel<<<N, kBlock, 0, stream>>>(dlogits, dlogp, logits, lse, targets, V,
                                                    inv_temp);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
