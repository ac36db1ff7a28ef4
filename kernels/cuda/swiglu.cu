// CUDA SwiGLU (kernels/swiglu.h), elementwise.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

__global__ static void swiglu_forward_kernel(float* out, const float* gate, const float* up,
                                             long N) {
  long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i < N) {
    float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

__global__ static void swiglu_backward_kernel(float* dgate, float* dup, const float* dout,
                                              const float* gate, const float* up, long N) {
  long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i < N) {
    float g = gate[i];
    float sig = 1.0f / (1.0f + expf(-g));
    dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    dup[i] += dout[i] * (g * sig);
  }
}

void swiglu_forward_cuda(float* out, const float* gate, const float* up, long N,
                         cudaStream_t stream) {
  if (N == 0) return;
  swiglu_forward_kernel<<<num_blocks(N, 256), 256, 0, stream>>>(out, gate, up, N);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void swiglu_backward_cuda(float* dgate, float* dup, const float* dout, const float* gate,
                          const float* up, long N, cudaStream_t stream) {
  if (N == 0) return;
  swiglu_backward_kernel<<<num_blocks(N, 256), 256, 0, stream>>>(dgate, dup, dout, gate, up, N);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
