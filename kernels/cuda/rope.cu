// CUDA RoPE (kernels/rope.h): one thread per (token, head, pair); angles, cos and sin in double
// as on the CPU (positions reach 1e5 and a float angle would lose the low frequencies' phase).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

__global__ static void rope_kernel(float* x, const int* positions, int N, int NH, int token_stride,
                                   int head_stride, int D, const double* inv_freq,
                                   float attn_factor, bool interleaved, double sign) {
  const int P = D / 2;
  const long idx = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (idx >= static_cast<long>(N) * NH * P) return;
  const int i = static_cast<int>(idx % P);
  const int h = static_cast<int>((idx / P) % NH);
  const int n = static_cast<int>(idx / (static_cast<long>(P) * NH));
  double s, c;
  sincos(positions[n] * inv_freq[i], &s, &c);
  const float cs = static_cast<float>(c * attn_factor);
  const float sn = static_cast<float>(sign * s * attn_factor);
  float* v = x + static_cast<long>(n) * token_stride + static_cast<long>(h) * head_stride;
  float* a = interleaved ? v + 2 * i : v + i;
  float* b = interleaved ? v + 2 * i + 1 : v + i + P;
  const float x0 = *a, x1 = *b;
  *a = x0 * cs - x1 * sn;
  *b = x0 * sn + x1 * cs;
}

static void rope_launch(float* x, const int* positions, int N, int NH, int token_stride,
                        int head_stride, int D, const double* inv_freq, float attn_factor,
                        bool interleaved, double sign, cudaStream_t stream) {
  AHA_CHECK(D > 0 && D % 2 == 0, "rope_cuda: D must be positive and even");
  const long total = static_cast<long>(N) * NH * (D / 2);
  if (total == 0) return;
  rope_kernel<<<num_blocks(total, 256), 256, 0, stream>>>(
      x, positions, N, NH, token_stride, head_stride, D, inv_freq, attn_factor, interleaved, sign);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void rope_forward_cuda(float* x, const int* positions, int N, int NH, int token_stride,
                       int head_stride, int D, const double* inv_freq, float attn_factor,
                       bool interleaved, cudaStream_t stream) {
  rope_launch(x, positions, N, NH, token_stride, head_stride, D, inv_freq, attn_factor, interleaved,
              1.0, stream);
}

void rope_backward_cuda(float* dx, const int* positions, int N, int NH, int token_stride,
                        int head_stride, int D, const double* inv_freq, float attn_factor,
                        bool interleaved, cudaStream_t stream) {
  rope_launch(dx, positions, N, NH, token_stride, head_stride, D, inv_freq, attn_factor,
              interleaved, -1.0, stream);
}

}  // namespace aha
