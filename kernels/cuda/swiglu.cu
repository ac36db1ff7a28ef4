// CUDA SwiGLU forward: same arguments as the CPU reference in kernels/swiglu.h, device pointers.
#include <cuda_runtime.h>

#include "kernels/check.h"
#include "kernels/swiglu.h"

namespace aha {

__global__ static void swiglu_forward_kernel(float* out, const float* gate, const float* up,
                                             long N) {
  long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i < N) {
    float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

void swiglu_forward_cuda(float* out, const float* gate, const float* up, long N) {
  const int block = 256;
  long grid = (N + block - 1) / block;
  swiglu_forward_kernel<<<static_cast<unsigned>(grid), block>>>(out, gate, up, N);
  cudaError_t err = cudaGetLastError();
  AHA_CHECK(err == cudaSuccess, cudaGetErrorString(err));
}

}  // namespace aha
