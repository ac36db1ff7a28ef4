// Compiled with -ffp-contract=off (kernels/CMakeLists.txt): no multiply-add is fused behind our
// back, so the bits of an element do not depend on which tile shape or clone the compiler built.
#include "kernels/invariant.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/parallel.h"
#include "kernels/vec.h"

namespace aha {

namespace {

// Tiles of kMr rows x kNr columns share their operand loads; kNb columns of op(B) (packed rows of
// K floats) are walked by all row tiles before the next block, so they stay in cache.
constexpr int kMr = 4, kNr = 4, kNb = 64;
// Calls under this many multiply-adds run on the calling thread.
constexpr long kMinSplitFlops = 1L << 21;

// The 16 lanes summed in one fixed tree.
AHA_VEC_INLINE float lane_sum(const vfloat& v) {
  float s8[8], s4[4];
  for (int i = 0; i < 8; i++) s8[i] = v[i] + v[i + 8];
  for (int i = 0; i < 4; i++) s4[i] = s8[i] + s8[i + 4];
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

AHA_VEC_INLINE float finish(float s, float alpha, float beta, const float* c) {
  const float out = alpha * s;
  return beta == 0.0f ? out : out + beta * *c;
}

// C[r, c] for r < MR, c < NR from rows a[r] and b[c] of K floats each.
template <int MR, int NR>
AHA_VEC_INLINE void tile(const float* const* a, const float* const* b, int K, float alpha,
                         float beta, float* C, long ldc) {
  // Unrolled so that the MR x NR accumulators stay in registers.
  vfloat acc[MR][NR];
#pragma GCC unroll 4
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) acc[r][c] = vfloat{};
  const int K16 = K & ~(kVec - 1);
  vfloat av[MR], bv;
  for (int k = 0; k < K16; k += kVec) {
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) vec_load(av[r], a[r] + k);
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) {
      vec_load(bv, b[c] + k);
#pragma GCC unroll 4
      for (int r = 0; r < MR; r++) acc[r][c] += av[r] * bv;
    }
  }
  if (K16 < K) {
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) vec_load_part(av[r], a[r] + K16, K - K16);
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) {
      vec_load_part(bv, b[c] + K16, K - K16);
#pragma GCC unroll 4
      for (int r = 0; r < MR; r++) acc[r][c] += av[r] * bv;
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int c = 0; c < NR; c++) {
      float* out = C + r * ldc + c;
      *out = finish(lane_sum(acc[r][c]), alpha, beta, out);
    }
}

template <int MR>
AHA_VEC_INLINE void row_tile(const float* const* a, const float* b, long sb, int n0, int n1, int K,
                             float alpha, float beta, float* C, long ldc) {
  int j = n0;
  for (; j + kNr <= n1; j += kNr) {
    const float* bj[kNr];
    for (int c = 0; c < kNr; c++) bj[c] = b + (j + c) * sb;
    tile<MR, kNr>(a, bj, K, alpha, beta, C + j, ldc);
  }
  for (; j < n1; j++) {
    const float* bj[1] = {b + j * sb};
    tile<MR, 1>(a, bj, K, alpha, beta, C + j, ldc);
  }
}

// Rows [m0, m1) and columns [n0, n1) of C; row i of op(A) at a + i*sa, column j of op(B) at
// b + j*sb, both contiguous in k.
AHA_VEC_CLONES void gemm_block(const float* a, long sa, const float* b, long sb, int m0, int m1,
                               int n0, int n1, int K, float alpha, float beta, float* C, long ldc) {
  for (int nb = n0; nb < n1; nb += kNb) {
    const int ne = std::min(n1, nb + kNb);
    int i = m0;
    for (; i + kMr <= m1; i += kMr) {
      const float* ai[kMr];
      for (int r = 0; r < kMr; r++) ai[r] = a + (i + r) * sa;
      row_tile<kMr>(ai, b, sb, nb, ne, K, alpha, beta, C + i * ldc, ldc);
    }
    for (; i < m1; i++) {
      const float* ai[1] = {a + i * sa};
      row_tile<1>(ai, b, sb, nb, ne, K, alpha, beta, C + i * ldc, ldc);
    }
  }
}

// dst[c * rows + r] = src[r * ld + c]: the transpose of a rows x cols block.
void transpose(float* dst, const float* src, int rows, int cols, long ld) {
  constexpr int kT = 32;
  for (int r0 = 0; r0 < rows; r0 += kT)
    for (int c0 = 0; c0 < cols; c0 += kT)
      for (int c = c0; c < std::min(cols, c0 + kT); c++)
        for (int r = r0; r < std::min(rows, r0 + kT); r++)
          dst[static_cast<long>(c) * rows + r] = src[r * ld + c];
}

}  // namespace

AHA_VEC_CLONES float dot_invariant(const float* a, const float* b, int n) {
  const float* ai[1] = {a};
  const float* bi[1] = {b};
  float out = 0.0f;
  tile<1, 1>(ai, bi, n, 1.0f, 0.0f, &out, 1);
  return out;
}

AHA_VEC_CLONES void attention_row_invariant(float* out, float* lse, const float* q, const float* k,
                                            const long* koff, const float* v, const long* voff,
                                            int L, int NH, int NKV, int DQK, int DV, float scale,
                                            float* sc) {
  const int group = NH / NKV;
  for (int h = 0; h < NH; h++) {
    const float* qh = q + static_cast<long>(h) * DQK;
    const long kg = static_cast<long>(h / group) * DQK, vg = static_cast<long>(h / group) * DV;
    float* o = out + static_cast<long>(h) * DV;
    for (int c = 0; c < DV; c++) o[c] = 0.0f;
    if (L == 0) {
      if (lse) lse[h] = -std::numeric_limits<float>::infinity();
      continue;
    }
    float mx = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < L; i++) {
      const float* ai[1] = {qh};
      const float* bi[1] = {k + koff[i] + kg};
      tile<1, 1>(ai, bi, DQK, scale, 0.0f, sc + i, 1);
      mx = std::max(mx, sc[i]);
    }
    double sum = 0.0;
    for (int i = 0; i < L; i++) {
      sc[i] = std::exp(sc[i] - mx);
      sum += sc[i];
    }
    for (int i = 0; i < L; i++) {
      const float p = sc[i];
      const float* vi = v + voff[i] + vg;
      for (int c = 0; c < DV; c++) o[c] += p * vi[c];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int c = 0; c < DV; c++) o[c] *= inv;
    if (lse) lse[h] = static_cast<float>(mx + std::log(sum));
  }
}

void sgemm_invariant(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                     const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  K = std::max(K, 0);
  thread_local std::vector<float> a_pack, b_pack;
  const float* a = A;
  long sa = lda;
  if (ta) {  // op(A) = Aᵀ: A is [K, M]
    a_pack.resize(static_cast<size_t>(M) * K);
    transpose(a_pack.data(), A, K, M, lda);
    a = a_pack.data();
    sa = K;
  }
  const float* b = B;
  long sb = ldb;
  if (!tb) {  // op(B) = B: [K, N], its columns wanted contiguous
    b_pack.resize(static_cast<size_t>(N) * K);
    transpose(b_pack.data(), B, K, N, ldb);
    b = b_pack.data();
    sb = K;
  }
  const long flops = static_cast<long>(M) * N * std::max(K, 1);
  const int T = compute_threads();
  if (T <= 1 || in_parallel_region() || flops < kMinSplitFlops) {
    gemm_block(a, sa, b, sb, 0, M, 0, N, K, alpha, beta, C, ldc);
    return;
  }
  // Any split gives the same bits; rows when there are enough of them, else columns.
  if (M >= T * 2 * kMr) {
    const int step = (M / T + kMr - 1) / kMr * kMr;
    parallel_for((M + step - 1) / step, [&](int p) {
      gemm_block(a, sa, b, sb, p * step, std::min(M, (p + 1) * step), 0, N, K, alpha, beta, C, ldc);
    });
  } else {
    const int step = std::max(kNr, (N / T + kNr - 1) / kNr * kNr);
    parallel_for((N + step - 1) / step, [&](int p) {
      gemm_block(a, sa, b, sb, 0, M, p * step, std::min(N, (p + 1) * step), K, alpha, beta, C, ldc);
    });
  }
}

}  // namespace aha
