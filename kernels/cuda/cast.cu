// fp32 <-> bf16 conversions for GEMM operands and the bf16 weight copy.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

__global__ static void to_bf16_kernel(bf16* out, const float* inp, long n) {
  long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = __float2bfloat16(inp[i]);
}

__global__ static void to_f32_kernel(float* out, const bf16* inp, long n) {
  long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = __bfloat162float(inp[i]);
}

void cast_to_bf16_cuda(bf16* out, const float* inp, long n, cudaStream_t stream) {
  if (n == 0) return;
  to_bf16_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(out, inp, n);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void cast_to_f32_cuda(float* out, const bf16* inp, long n, cudaStream_t stream) {
  if (n == 0) return;
  to_f32_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(out, inp, n);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
