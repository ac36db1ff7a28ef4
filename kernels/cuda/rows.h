// CUDA twins of kernels/rows.h and kernels/mla.h's reshapes (kernels/cuda/rows.cu): the same
// arguments as device pointers, plus the stream. Elementwise, no reductions across threads but
// mla_expand_kv_backward's sum over heads, which each thread does in head order.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace aha {

void add_inplace_cuda(float* x, const float* y, long n, cudaStream_t stream);
void copy_rows_cuda(float* dst, int ld_dst, const float* src, int ld_src, int rows, int cols,
                    cudaStream_t stream);
// scatter_rows (kernels/rows.h) into a bf16 destination (the decode cache): dst[dst_rows[r], :cols]
// = bf16(src[r, :cols]), rounded to nearest even; a row outside [0, num_dst_rows) is skipped.
void scatter_rows_bf16_cuda(__nv_bfloat16* dst, int ld_dst, const int* dst_rows, int num_dst_rows,
                            const float* src, int ld_src, int rows, int cols, cudaStream_t stream);
void mla_expand_kv_cuda(float* k, float* v, const float* kv, const float* kv_a, int N, int NH,
                        int DN, int DR, int DV, int R, cudaStream_t stream);
void mla_expand_kv_backward_cuda(float* dkv, float* dkv_a, const float* dk, const float* dv, int N,
                                 int NH, int DN, int DR, int DV, int R, cudaStream_t stream);

}  // namespace aha
