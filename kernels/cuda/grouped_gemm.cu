// Grouped expert GEMM: CUTLASS's Hopper kernels (grouped_gemm_sm90a.cu) when available, else a
// SIMT kernel with the same operations (other GPUs, sizes TMA cannot take, a build without the
// CUTLASS headers). Both read the per-expert row counts on the device.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/ops.h"
#ifdef AHA_HAVE_CUTLASS
#include "kernels/cuda/grouped_gemm_sm90a.h"
#endif

namespace aha {

namespace {

// Expert owning dispatched row m: the last e with expert_offsets[e] <= m.
__device__ int expert_of_row(const int* expert_offsets, int E, int m) {
  int lo = 0, hi = E - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (expert_offsets[mid] <= m)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// kForward / kBackwardData: thread (m, n) of D[M, Nout], the sum over k in order.
__global__ void simt_rows_kernel(int op, float* D, const bf16* A, const bf16* B,
                                 const int* expert_offsets, int E, int M, int IC, int OC) {
  const int n = blockIdx.y * blockDim.x + threadIdx.x;
  const int m = blockIdx.x;  // rows on x: M = N*K exceeds gridDim.y's 65535
  const int Nout = op == 0 ? OC : IC, K = op == 0 ? IC : OC;
  if (m >= M || n >= Nout) return;
  if (m < expert_offsets[0] || m >= expert_offsets[E]) return;
  const int e = expert_of_row(expert_offsets, E, m);
  const bf16* a = A + static_cast<long>(m) * K;
  const bf16* w = B + static_cast<long>(e) * OC * IC;
  float acc = 0.0f;
  if (op == 0) {
    const bf16* wr = w + static_cast<long>(n) * IC;
    for (int k = 0; k < K; k++) acc += __bfloat162float(a[k]) * __bfloat162float(wr[k]);
    D[static_cast<long>(m) * Nout + n] = acc;
  } else {
    for (int k = 0; k < K; k++)
      acc += __bfloat162float(a[k]) * __bfloat162float(w[static_cast<long>(k) * IC + n]);
    D[static_cast<long>(m) * Nout + n] += acc;
  }
}

// kBackwardWeight: thread (oc, ic) of expert blockIdx.y sums its rows in order.
__global__ void simt_weight_kernel(float* D, const bf16* A, const bf16* B,
                                   const int* expert_offsets, int IC, int OC) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  const int e = blockIdx.y;
  if (i >= static_cast<long>(OC) * IC) return;
  const int oc = static_cast<int>(i / IC), ic = static_cast<int>(i % IC);
  const int r0 = expert_offsets[e], r1 = expert_offsets[e + 1];
  float acc = 0.0f;
  for (int r = r0; r < r1; r++)
    acc += __bfloat162float(A[static_cast<long>(r) * OC + oc]) *
           __bfloat162float(B[static_cast<long>(r) * IC + ic]);
  D[static_cast<long>(e) * OC * IC + i] += acc;
}

}  // namespace

GroupedGemm* grouped_gemm_create(int E) {
  AHA_CHECK(E > 0, "grouped_gemm_create: E must be positive");
  GroupedGemm* g = new GroupedGemm;
  g->E = E;
#ifdef AHA_HAVE_CUTLASS
  int device = 0, major = 0, minor = 0;
  AHA_CUDA_CHECK(cudaGetDevice(&device));
  AHA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  AHA_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  if (major == 9 && minor == 0) {  // sm_90a code runs on exactly this architecture
    g->scratch_bytes = grouped_gemm_sm90a_scratch_bytes(E);
    AHA_CUDA_CHECK(cudaMalloc(&g->scratch, g->scratch_bytes));
    g->use_cutlass = true;
  }
#endif
  return g;
}

void grouped_gemm_destroy(GroupedGemm* g) {
  if (!g) return;
  if (g->scratch) cudaFree(g->scratch);
  delete g;
}

void grouped_gemm_cuda(GroupedGemm* g, GroupedGemmOp op, float* D, const bf16* A, const bf16* B,
                       const int* expert_offsets, int M, int IC, int OC, cudaStream_t stream) {
  const int E = g->E;
  if (M == 0 && op != GroupedGemmOp::kBackwardWeight) return;
#ifdef AHA_HAVE_CUTLASS
  // TMA reads and writes only 16-byte aligned rows: a model's packed parameters can put an
  // expert tensor anywhere (after a 4-element bias, say), and such a call takes the SIMT kernel.
  auto aligned16 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (g->use_cutlass && IC % 8 == 0 && OC % 8 == 0 && aligned16(A) && aligned16(B) &&
      aligned16(D)) {
    grouped_gemm_sm90a(op, D, A, B, expert_offsets, E, IC, OC, g->scratch, g->scratch_bytes,
                       stream);
    return;
  }
#endif
  if (op == GroupedGemmOp::kBackwardWeight) {
    const long n = static_cast<long>(OC) * IC;
    dim3 grid(static_cast<unsigned>((n + 255) / 256), static_cast<unsigned>(E));
    simt_weight_kernel<<<grid, 256, 0, stream>>>(D, A, B, expert_offsets, IC, OC);
  } else {
    const int Nout = op == GroupedGemmOp::kForward ? OC : IC;
    dim3 grid(static_cast<unsigned>(M), static_cast<unsigned>((Nout + 127) / 128));
    simt_rows_kernel<<<grid, 128, 0, stream>>>(static_cast<int>(op), D, A, B, expert_offsets, E, M,
                                               IC, OC);
  }
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
