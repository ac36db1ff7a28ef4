// CUDA embedding (kernels/embedding.h). The backward sorts positions by token with CUB's stable
// radix sort, then each distinct token sums its rows in position order: no atomics.
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

__global__ static void embedding_forward_kernel(float* out, const int* tokens, const float* wte,
                                                int V, int C) {
  const int n = blockIdx.x;
  const int t = tokens[n];
  float* o = out + static_cast<long>(n) * C;
  const bool ok = t >= 0 && t < V;
  const float* w = wte + static_cast<long>(ok ? t : 0) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) o[c] = ok ? w[c] : 0.0f;
}

__global__ static void iota_kernel(int* v, int N) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < N) v[i] = i;
}

// Block i handles the run of equal sorted tokens that starts at i (other blocks exit).
__global__ static void embedding_backward_kernel(float* dwte, const float* dout,
                                                 const int* sorted_tokens, const int* sorted_pos,
                                                 int N, int V, int C) {
  const int i = blockIdx.x;
  const int t = sorted_tokens[i];
  if ((i > 0 && sorted_tokens[i - 1] == t) || t < 0 || t >= V) return;
  int end = i + 1;
  while (end < N && sorted_tokens[end] == t) end++;
  float* dw = dwte + static_cast<long>(t) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float acc = 0.0f;
    for (int j = i; j < end; j++) acc += dout[static_cast<long>(sorted_pos[j]) * C + c];
    dw[c] += acc;
  }
}

void embedding_forward_cuda(float* out, const int* tokens, const float* wte, int N, int V, int C,
                            cudaStream_t stream) {
  if (N == 0) return;
  embedding_forward_kernel<<<N, 256, 0, stream>>>(out, tokens, wte, V, C);
  AHA_CUDA_CHECK(cudaGetLastError());
}

static size_t align256(size_t x) {
  return (x + 255) & ~static_cast<size_t>(255);
}

static size_t sort_temp_bytes(int N) {
  size_t bytes = 0;
  AHA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, bytes, static_cast<const int*>(nullptr), static_cast<int*>(nullptr),
      static_cast<const int*>(nullptr), static_cast<int*>(nullptr), N));
  return bytes;
}

size_t embedding_backward_workspace_size(int N) {
  return 3 * align256(sizeof(int) * static_cast<size_t>(N)) + align256(sort_temp_bytes(N));
}

void embedding_backward_cuda(float* dwte, const float* dout, const int* tokens, int N, int V, int C,
                             void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  if (N == 0) return;
  AHA_CHECK(workspace_bytes >= embedding_backward_workspace_size(N),
            "embedding_backward_cuda: workspace too small");
  char* p = static_cast<char*>(workspace);
  const size_t slot = align256(sizeof(int) * static_cast<size_t>(N));
  int* sorted_tokens = reinterpret_cast<int*>(p);
  int* pos = reinterpret_cast<int*>(p + slot);
  int* sorted_pos = reinterpret_cast<int*>(p + 2 * slot);
  void* temp = p + 3 * slot;
  size_t temp_bytes = workspace_bytes - 3 * slot;
  iota_kernel<<<num_blocks(N, 256), 256, 0, stream>>>(pos, N);
  AHA_CUDA_CHECK(cudaGetLastError());
  AHA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, tokens, sorted_tokens, pos,
                                                 sorted_pos, N, 0, sizeof(int) * 8, stream));
  embedding_backward_kernel<<<N, 256, 0, stream>>>(dwte, dout, sorted_tokens, sorted_pos, N, V, C);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
