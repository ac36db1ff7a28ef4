// Residual adds, row copies and MLA's per-head expansion on the device (kernels/cuda/rows.h).
#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/rows.h"

namespace aha {

__global__ static void add_kernel(float* x, const float* y, long n) {
  long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i < n) x[i] += y[i];
}

std::string cuda_kernels_unrunnable_reason() {
  cudaFuncAttributes attr{};
  const cudaError_t err = cudaFuncGetAttributes(&attr, add_kernel);
  if (err == cudaSuccess) return "";
  cudaGetLastError();  // not sticky: clear it
  int dev = 0, major = 0, minor = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  const std::string sm = std::to_string(major) + std::to_string(minor);
  return "device " + std::to_string(dev) + " is sm_" + sm +
         " and this aha has no kernels for it (" + cudaGetErrorString(err) +
         "): rebuild with -DCMAKE_CUDA_ARCHITECTURES=" + sm;
}

void add_inplace_cuda(float* x, const float* y, long n, cudaStream_t stream) {
  if (n == 0) return;
  add_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(x, y, n);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void copy_rows_cuda(float* dst, int ld_dst, const float* src, int ld_src, int rows, int cols,
                    cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  AHA_CUDA_CHECK(cudaMemcpy2DAsync(dst, sizeof(float) * ld_dst, src, sizeof(float) * ld_src,
                                   sizeof(float) * cols, rows, cudaMemcpyDeviceToDevice, stream));
}

// One thread per (token, head, dim of DN+DR+DV).
__global__ static void expand_kernel(float* k, float* v, const float* kv, const float* kv_a, int N,
                                     int NH, int DN, int DR, int DV, int R) {
  const int W = DN + DR + DV;
  long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(N) * NH * W) return;
  const int j = static_cast<int>(i % W);
  const long nh = i / W;  // n * NH + h
  const long n = nh / NH;
  const int h = static_cast<int>(nh % NH);
  const float* src = kv + n * NH * (DN + DV) + static_cast<long>(h) * (DN + DV);
  if (j < DN)
    k[nh * (DN + DR) + j] = src[j];
  else if (j < DN + DR)
    k[nh * (DN + DR) + j] = kv_a[n * (R + DR) + R + (j - DN)];
  else
    v[nh * DV + (j - DN - DR)] = src[DN + (j - DN - DR)];
}

void mla_expand_kv_cuda(float* k, float* v, const float* kv, const float* kv_a, int N, int NH,
                        int DN, int DR, int DV, int R, cudaStream_t stream) {
  const long n = static_cast<long>(N) * NH * (DN + DR + DV);
  if (n == 0) return;
  expand_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(k, v, kv, kv_a, N, NH, DN, DR, DV, R);
  AHA_CUDA_CHECK(cudaGetLastError());
}

// One thread per (token, column of dkv's NH*(DN+DV) or of the DR rope dims).
__global__ static void expand_backward_kernel(float* dkv, float* dkv_a, const float* dk,
                                              const float* dv, int N, int NH, int DN, int DR,
                                              int DV, int R) {
  const int KVW = NH * (DN + DV), W = KVW + DR;
  long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(N) * W) return;
  const long n = i / W;
  const int j = static_cast<int>(i % W);
  if (j < KVW) {
    const int h = j / (DN + DV), c = j % (DN + DV);
    const long nh = n * NH + h;
    dkv[n * KVW + j] = c < DN ? dk[nh * (DN + DR) + c] : dv[nh * DV + (c - DN)];
    return;
  }
  const int r = j - KVW;  // the shared k_rope: heads summed in order
  float acc = 0.0f;
  for (int h = 0; h < NH; h++) acc += dk[(n * NH + h) * (DN + DR) + DN + r];
  dkv_a[n * (R + DR) + R + r] += acc;
}

void mla_expand_kv_backward_cuda(float* dkv, float* dkv_a, const float* dk, const float* dv, int N,
                                 int NH, int DN, int DR, int DV, int R, cudaStream_t stream) {
  const long n = static_cast<long>(N) * (NH * (DN + DV) + DR);
  if (n == 0) return;
  expand_backward_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(dkv, dkv_a, dk, dv, N, NH, DN, DR,
                                                                 DV, R);
  AHA_CUDA_CHECK(cudaGetLastError());
}

// One thread per (source row, column); rows outside [0, num_dst_rows) are skipped.
__global__ static void scatter_bf16_kernel(bf16* dst, int ld_dst, const int* dst_rows,
                                           int num_dst_rows, const float* src, int ld_src, int rows,
                                           int cols) {
  long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(rows) * cols) return;
  const long r = i / cols;
  const int c = static_cast<int>(i % cols);
  const int d = dst_rows[r];
  if (d < 0 || d >= num_dst_rows) return;
  dst[static_cast<long>(d) * ld_dst + c] = __float2bfloat16_rn(src[r * ld_src + c]);
}

void scatter_rows_bf16_cuda(bf16* dst, int ld_dst, const int* dst_rows, int num_dst_rows,
                            const float* src, int ld_src, int rows, int cols, cudaStream_t stream) {
  const long n = static_cast<long>(rows) * cols;
  if (n == 0) return;
  scatter_bf16_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(dst, ld_dst, dst_rows, num_dst_rows,
                                                              src, ld_src, rows, cols);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
