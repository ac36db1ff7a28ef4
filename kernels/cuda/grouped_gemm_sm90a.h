// The CUTLASS Hopper path of the grouped expert GEMM (kernels/cuda/grouped_gemm_sm90a.cu, built
// for sm_90a only when the CUTLASS headers were fetched: AHA_HAVE_CUTLASS). Called by
// grouped_gemm_cuda (kernels/cuda/grouped_gemm.cu), which documents the operations.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace aha {

enum class GroupedGemmOp : int;

// Device scratch for E groups: problem sizes, pointer and stride arrays, CUTLASS's workspace.
size_t grouped_gemm_sm90a_scratch_bytes(int E);
// Same arguments as grouped_gemm_cuda; IC and OC multiples of 8, 16-byte aligned base pointers.
void grouped_gemm_sm90a(GroupedGemmOp op, float* D, const __nv_bfloat16* A, const __nv_bfloat16* B,
                        const int* expert_offsets, int E, int IC, int OC, void* scratch,
                        size_t scratch_bytes, cudaStream_t stream);

}  // namespace aha
