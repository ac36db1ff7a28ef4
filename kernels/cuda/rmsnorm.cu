// CUDA RMSNorm (kernels/rmsnorm.h), one warp per row; also QK-norm (rows = tokens * heads).
// dweight: per-block partial sums over 32 rows into the workspace, then over blocks in order.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

namespace {

constexpr int kRowsPerPartial = 32;

__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* inp,
                                       const float* weight, int N, int C, float eps) {
  const int n = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (n >= N) return;
  const float* x = inp + static_cast<long>(n) * C;
  double ss = 0.0;  // double, as on the CPU: C can be 7168
  for (int c = lane; c < C; c += 32) ss += static_cast<double>(x[c]) * x[c];
  ss = warp_sum(ss);
  const float r = static_cast<float>(1.0 / sqrt(ss / C + eps));
  float* o = out + static_cast<long>(n) * C;
  for (int c = lane; c < C; c += 32) o[c] = x[c] * r * weight[c];
  if (rstd && lane == 0) rstd[n] = r;
}

__global__ void rmsnorm_backward_dinp_kernel(float* dinp, const float* dout, const float* inp,
                                             const float* weight, const float* rstd, int N, int C) {
  const int n = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (n >= N) return;
  const float* x = inp + static_cast<long>(n) * C;
  const float* d = dout + static_cast<long>(n) * C;
  const float r = rstd[n];
  double dot = 0.0;
  for (int c = lane; c < C; c += 32) dot += static_cast<double>(d[c]) * weight[c] * x[c];
  dot = warp_sum(dot);
  const float k = static_cast<float>(dot * r * r / C);
  float* dx = dinp + static_cast<long>(n) * C;
  for (int c = lane; c < C; c += 32) dx[c] += r * (d[c] * weight[c] - x[c] * k);
}

__global__ void rmsnorm_dweight_partial_kernel(float* partial, const float* dout, const float* inp,
                                               const float* rstd, int N, int C) {
  const int n0 = blockIdx.x * kRowsPerPartial;  // row blocks on x: N*heads rows can be millions
  const int n1 = min(N, n0 + kRowsPerPartial);
  const int c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float acc = 0.0f;
  for (int n = n0; n < n1; n++)
    acc += dout[static_cast<long>(n) * C + c] * inp[static_cast<long>(n) * C + c] * rstd[n];
  partial[static_cast<long>(blockIdx.x) * C + c] = acc;
}

__global__ void sum_partials_kernel(float* dweight, const float* partial, int P, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float acc = 0.0f;
  for (int p = 0; p < P; p++) acc += partial[static_cast<long>(p) * C + c];
  dweight[c] += acc;
}

}  // namespace

void rmsnorm_forward_cuda(float* out, float* rstd, const float* inp, const float* weight, int N,
                          int C, float eps, cudaStream_t stream) {
  if (N == 0) return;
  rmsnorm_forward_kernel<<<num_blocks(N, 4), 128, 0, stream>>>(out, rstd, inp, weight, N, C, eps);
  AHA_CUDA_CHECK(cudaGetLastError());
}

size_t rmsnorm_backward_workspace_size(int N, int C) {
  return sizeof(float) * static_cast<size_t>(num_blocks(N, kRowsPerPartial)) * C;
}

void rmsnorm_backward_cuda(float* dinp, float* dweight, const float* dout, const float* inp,
                           const float* weight, const float* rstd, int N, int C, void* workspace,
                           size_t workspace_bytes, cudaStream_t stream) {
  AHA_CHECK(rstd != nullptr, "rmsnorm_backward_cuda needs rstd from the forward");
  if (N == 0) return;
  if (dinp) {
    rmsnorm_backward_dinp_kernel<<<num_blocks(N, 4), 128, 0, stream>>>(dinp, dout, inp, weight,
                                                                       rstd, N, C);
    AHA_CUDA_CHECK(cudaGetLastError());
  }
  if (dweight) {
    AHA_CHECK(workspace_bytes >= rmsnorm_backward_workspace_size(N, C),
              "rmsnorm_backward_cuda: workspace too small");
    float* partial = static_cast<float*>(workspace);
    const unsigned P = num_blocks(N, kRowsPerPartial);
    rmsnorm_dweight_partial_kernel<<<dim3(P, num_blocks(C, 128)), 128, 0, stream>>>(
        partial, dout, inp, rstd, N, C);
    AHA_CUDA_CHECK(cudaGetLastError());
    sum_partials_kernel<<<num_blocks(C, 128), 128, 0, stream>>>(dweight, partial,
                                                                static_cast<int>(P), C);
    AHA_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace aha
