// CUDA linear layers (kernels/linear.h) through cuBLASLt: bf16 operands, fp32 accumulation and
// fp32 output. Row-major [rows, cols] buffers are column-major [cols, rows] to cuBLAS, so
// out[N,OC] = inp · weightᵀ is the column-major outᵀ = weightᵀ(op T) · inpᵀ.
// The chosen algorithm is cached per (shape, transposes, beta, operand alignments). When cuBLASLt
// offers none (odd leading dimensions), cublasGemmEx does the same product.
#include <cublasLt.h>
#include <cublas_v2.h>

#include <cstdint>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

#define AHA_CUBLAS_CHECK(expr)                                                         \
  do {                                                                                 \
    cublasStatus_t aha_st_ = (expr);                                                   \
    AHA_CHECK(aha_st_ == CUBLAS_STATUS_SUCCESS,                                        \
              std::string(#expr) + ": cuBLAS status " + std::to_string((int)aha_st_)); \
  } while (0)

namespace aha {

struct Blas {
  cublasLtHandle_t lt = nullptr;
  cublasHandle_t cublas = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  struct Algo {
    int m, n, k, ta, tb, accumulate, align_a, align_b, align_c;
    bool found;  // false: cuBLASLt had none, use cublasGemmEx
    cublasLtMatmulAlgo_t algo;
  };
  std::vector<Algo> cache;
};

Blas* blas_create(size_t workspace_bytes) {
  Blas* b = new Blas;
  AHA_CUBLAS_CHECK(cublasLtCreate(&b->lt));
  AHA_CUBLAS_CHECK(cublasCreate(&b->cublas));
  // Tensor-core math on bf16 inputs with fp32 accumulation is the default in CUBLAS_COMPUTE_32F.
  b->workspace_bytes = workspace_bytes;
  AHA_CUDA_CHECK(cudaMalloc(&b->workspace, workspace_bytes));
  AHA_CUBLAS_CHECK(cublasSetWorkspace(b->cublas, b->workspace, workspace_bytes));
  return b;
}

void blas_destroy(Blas* b) {
  if (!b) return;
  cublasLtDestroy(b->lt);
  cublasDestroy(b->cublas);
  cudaFree(b->workspace);
  delete b;
}

namespace {

// cublasSetStream resets cuBLAS's workspace to its default pool (which allocates, also inside a
// CUDA graph capture): ours is set again every time.
void set_stream(Blas* b, cudaStream_t stream) {
  AHA_CUBLAS_CHECK(cublasSetStream(b->cublas, stream));
  AHA_CUBLAS_CHECK(cublasSetWorkspace(b->cublas, b->workspace, b->workspace_bytes));
}

int alignment_of(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  int al = 256;
  while (al > 1 && a % al != 0) al /= 2;
  return al;
}

// Column-major C[m,n] (ldc) = op(A)[m,k] · op(B)[k,n] + beta * C, A and B bf16, C fp32.
void gemm(Blas* b, bool ta, bool tb, int m, int n, int k, const bf16* A, int lda, const bf16* B,
          int ldb, float* C, int ldc, bool accumulate, cudaStream_t stream) {
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int al_a = alignment_of(A), al_b = alignment_of(B), al_c = alignment_of(C);

  cublasLtMatmulDesc_t desc;
  AHA_CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  AHA_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof(opa)));
  AHA_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof(opb)));
  cublasLtMatrixLayout_t la, lb, lc;
  AHA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, ta ? k : m, ta ? m : k, lda));
  AHA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, tb ? n : k, tb ? k : n, ldb));
  AHA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, m, n, ldc));

  Blas::Algo* hit = nullptr;
  for (Blas::Algo& a : b->cache)
    if (a.m == m && a.n == n && a.k == k && a.ta == ta && a.tb == tb &&
        a.accumulate == accumulate && a.align_a == al_a && a.align_b == al_b && a.align_c == al_c)
      hit = &a;
  if (!hit) {
    Blas::Algo a{m, n, k, ta, tb, accumulate, al_a, al_b, al_c, false, {}};
    cublasLtMatmulPreference_t pref;
    AHA_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t ws = b->workspace_bytes;
    uint32_t ua = al_a, ub = al_b, uc = al_c;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                         sizeof(ws));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &ua,
                                         sizeof(ua));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ub,
                                         sizeof(ub));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &uc,
                                         sizeof(uc));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &uc,
                                         sizeof(uc));
    cublasLtMatmulHeuristicResult_t res;
    int count = 0;
    cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(b->lt, desc, la, lb, lc, lc, pref, 1, &res, &count);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st == CUBLAS_STATUS_SUCCESS && count > 0) {
      a.found = true;
      a.algo = res.algo;
    }
    b->cache.push_back(a);
    hit = &b->cache.back();
  }
  if (hit->found) {
    AHA_CUBLAS_CHECK(cublasLtMatmul(b->lt, desc, &alpha, A, la, B, lb, &beta, C, lc, C, lc,
                                    &hit->algo, b->workspace, b->workspace_bytes, stream));
  } else {
    set_stream(b, stream);
    AHA_CUBLAS_CHECK(cublasGemmEx(b->cublas, opa, opb, m, n, k, &alpha, A, CUDA_R_16BF, lda, B,
                                  CUDA_R_16BF, ldb, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
                                  CUBLAS_GEMM_DEFAULT));
  }
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(desc);
}

__global__ void bias_forward_kernel(float* out, const float* bias, int N, int OC) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i < static_cast<long>(N) * OC) out[i] += bias[i % OC];
}

__global__ void bias_backward_kernel(float* dbias, const float* dout, int N, int OC) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= OC) return;
  float acc = 0.0f;
  for (int n = 0; n < N; n++) acc += dout[static_cast<long>(n) * OC + j];
  dbias[j] += acc;
}

}  // namespace

void linear_forward_cuda(Blas* b, float* out, const bf16* inp, const bf16* weight, int N, int IC,
                         int OC, cudaStream_t stream) {
  if (N == 0 || OC == 0) return;
  gemm(b, true, false, OC, N, IC, weight, IC, inp, IC, out, OC, false, stream);
}

void linear_backward_cuda(Blas* b, float* dinp, float* dweight, const bf16* dout, const bf16* inp,
                          const bf16* weight, int N, int IC, int OC, cudaStream_t stream) {
  if (N == 0) return;
  // dinpᵀ[IC,N] += weightᵀ-as-stored[IC,OC] · doutᵀ[OC,N]
  if (dinp) gemm(b, false, false, IC, N, OC, weight, IC, dout, OC, dinp, IC, true, stream);
  // dweightᵀ[IC,OC] += inpᵀ[IC,N] · dout[N,OC]
  if (dweight) gemm(b, false, true, IC, OC, N, inp, IC, dout, OC, dweight, IC, true, stream);
}

void bias_forward_cuda(float* out, const float* bias, int N, int OC, cudaStream_t stream) {
  const long n = static_cast<long>(N) * OC;
  if (n == 0) return;
  bias_forward_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(out, bias, N, OC);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void bias_backward_cuda(float* dbias, const float* dout, int N, int OC, cudaStream_t stream) {
  if (OC == 0) return;
  bias_backward_kernel<<<num_blocks(OC, 128), 128, 0, stream>>>(dbias, dout, N, OC);
  AHA_CUDA_CHECK(cudaGetLastError());
}

// MLA's absorbed decode (kernels/mla.h) as one strided-batched fp32 GEMM over the heads each:
// decode reads W_uk / W_uv from the fp32 weights, so the latent query and the value
// up-projection keep fp32 (no TF32: cuBLAS's default math mode) like the CPU op.
void mla_absorb_q_cuda(Blas* b, float* q_lat, float* q_rope, const float* q, const float* kv_b,
                       int B, int NH, int DN, int DR, int DV, int R, cudaStream_t stream) {
  if (B == 0) return;
  const int DQK = DN + DR;
  const float alpha = 1.0f, beta = 0.0f;
  set_stream(b, stream);
  // Per head h: q_latᵀ[R,B] = W_uk_hᵀ (row-major [DN,R] is column-major [R,DN]) · q_hᵀ[DN,B].
  AHA_CUBLAS_CHECK(cublasSgemmStridedBatched(b->cublas, CUBLAS_OP_N, CUBLAS_OP_N, R, B, DN, &alpha,
                                             kv_b, R, static_cast<long long>(DN + DV) * R, q,
                                             NH * DQK, DQK, &beta, q_lat, NH * R, R, NH));
  // q_rope[b,h,:] = q[b,h,DN:DN+DR]
  AHA_CUDA_CHECK(cudaMemcpy2DAsync(q_rope, sizeof(float) * DR, q + DN, sizeof(float) * DQK,
                                   sizeof(float) * DR, static_cast<size_t>(B) * NH,
                                   cudaMemcpyDeviceToDevice, stream));
}

void mla_absorb_out_cuda(Blas* b, float* att, const float* out_lat, const float* kv_b, int B,
                         int NH, int DN, int DV, int R, cudaStream_t stream) {
  if (B == 0) return;
  const float alpha = 1.0f, beta = 0.0f;
  set_stream(b, stream);
  // Per head h: attᵀ[DV,B] = W_uv_h[DV,R] (column-major [R,DV], op T) · out_lat_hᵀ[R,B].
  AHA_CUBLAS_CHECK(cublasSgemmStridedBatched(
      b->cublas, CUBLAS_OP_T, CUBLAS_OP_N, DV, B, R, &alpha, kv_b + static_cast<size_t>(DN) * R, R,
      static_cast<long long>(DN + DV) * R, out_lat, NH * R, R, &beta, att, NH * DV, DV, NH));
}

}  // namespace aha
