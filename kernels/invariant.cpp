// Compiled with -ffp-contract=off (kernels/CMakeLists.txt): the compiler fuses no multiply-add
// behind our back; the GEMM's fused multiply-adds are explicit, one rounding each, so every
// instruction set below gives the same bits.
#include "kernels/invariant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/parallel.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace aha {

namespace {

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx512f")
namespace isa_avx512 {
struct VF {
  __m512 v;
};
inline VF vf_zero() {
  return {_mm512_setzero_ps()};
}
inline VF vf_load(const float* p) {
  return {_mm512_loadu_ps(p)};
}
// Masked: lanes n.. are neither read nor faulted on.
inline VF vf_load_part(const float* p, int n) {
  return {_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p)};
}
inline VF vf_fma(VF acc, VF a, VF b) {
  return {_mm512_fmadd_ps(a.v, b.v, acc.v)};
}
// (l + l+8), then (+4), then (s0 + s2) + (s1 + s3): lane_sum's tree.
inline float vf_sum(VF x) {
  alignas(64) float l[16];
  _mm512_store_ps(l, x.v);
  const __m256 s8 = _mm256_add_ps(_mm256_load_ps(l), _mm256_load_ps(l + 8));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}
constexpr int kMr = 4, kNr = 4;  // 16 accumulators of 32 registers
#include "kernels/invariant_isa.inc"
}  // namespace isa_avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace isa_avx2 {
struct VF {
  __m256 lo, hi;
};
inline VF vf_zero() {
  return {_mm256_setzero_ps(), _mm256_setzero_ps()};
}
inline VF vf_load(const float* p) {
  return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
}
// Masked: lanes n.. are neither read nor faulted on.
inline VF vf_load_part(const float* p, int n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
  const __m256i hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lane);
  return {_mm256_maskload_ps(p, lo), _mm256_maskload_ps(p + 8, hi)};
}
inline VF vf_fma(VF acc, VF a, VF b) {
  return {_mm256_fmadd_ps(a.lo, b.lo, acc.lo), _mm256_fmadd_ps(a.hi, b.hi, acc.hi)};
}
// lane_sum's tree: (l + l+8) is lo + hi, then as for AVX-512.
inline float vf_sum(VF x) {
  const __m256 s8 = _mm256_add_ps(x.lo, x.hi);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}
constexpr int kMr = 2, kNr = 2;  // 8 accumulators (16 registers) of 16
#include "kernels/invariant_isa.inc"
}  // namespace isa_avx2
#pragma GCC pop_options
#endif

// Any CPU: the same lanes with std::fma (exact, so the same bits; slow without hardware FMA).
namespace isa_generic {
struct VF {
  float x[16];
};
inline VF vf_zero() {
  return VF{};
}
inline VF vf_load(const float* p) {
  VF v;
  std::memcpy(v.x, p, sizeof v.x);
  return v;
}
inline VF vf_load_part(const float* p, int n) {
  VF v{};
  std::memcpy(v.x, p, sizeof(float) * n);
  return v;
}
inline VF vf_fma(VF acc, VF a, VF b) {
  for (int l = 0; l < 16; l++) acc.x[l] = std::fma(a.x[l], b.x[l], acc.x[l]);
  return acc;
}
// (l + l+8), then (+4), then (s0 + s2) + (s1 + s3).
inline float vf_sum(VF v) {
  float s8[8], s4[4];
  for (int i = 0; i < 8; i++) s8[i] = v.x[i] + v.x[i + 8];
  for (int i = 0; i < 4; i++) s4[i] = s8[i] + s8[i + 4];
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}
constexpr int kMr = 2, kNr = 2;
#include "kernels/invariant_isa.inc"
}  // namespace isa_generic

// The instruction set's kernels, chosen once from the CPU.
struct Isa {
  const char* name;
  void (*gemm_block)(const float*, long, const float*, long, int, int, int, int, int, float, float,
                     float*, long);
  float (*dot)(const float*, const float*, int);
  void (*attention_row)(float*, float*, const float*, const float*, const long*, const float*,
                        const long*, int, int, int, int, int, float, float*);
};

Isa isa_named(const std::string& name, bool* ok) {
  *ok = true;
#if defined(__x86_64__)
  if (name == "avx512" && __builtin_cpu_supports("avx512f"))
    return Isa{"avx512", isa_avx512::gemm_block, isa_avx512::dot, isa_avx512::attention_row};
  if (name == "avx2" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return Isa{"avx2", isa_avx2::gemm_block, isa_avx2::dot, isa_avx2::attention_row};
#endif
  *ok = name == "generic";
  return Isa{"generic", isa_generic::gemm_block, isa_generic::dot, isa_generic::attention_row};
}

// The best set this CPU runs, chosen at the first call (invariant_use_isa may change it).
Isa& isa() {
  static Isa chosen = [] {
    bool ok = false;
    for (const char* name : {"avx512", "avx2"}) {
      Isa i = isa_named(name, &ok);
      if (ok) return i;
    }
    return isa_named("generic", &ok);
  }();
  return chosen;
}

// Calls under this many multiply-adds run on the calling thread.
constexpr long kMinSplitFlops = 1L << 21;
constexpr int kSplitRows = 4;  // a row split's parts are multiples of this

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

bool invariant_use_isa(const std::string& name) {
  bool ok = false;
  Isa i = isa_named(name, &ok);
  if (ok) isa() = i;
  return ok;
}

const char* invariant_isa_name() {
  return isa().name;
}

float dot_invariant(const float* a, const float* b, int n) {
  return isa().dot(a, b, n);
}

void attention_row_invariant(float* out, float* lse, const float* q, const float* k,
                             const long* koff, const float* v, const long* voff, int L, int NH,
                             int NKV, int DQK, int DV, float scale, float* sc) {
  isa().attention_row(out, lse, q, k, koff, v, voff, L, NH, NKV, DQK, DV, scale, sc);
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
    isa().gemm_block(a, sa, b, sb, 0, M, 0, N, K, alpha, beta, C, ldc);
    return;
  }
  // Any split gives the same bits; rows when there are enough of them, else columns.
  if (M >= T * 2 * kSplitRows) {
    const int step = (M / T + kSplitRows - 1) / kSplitRows * kSplitRows;
    parallel_for((M + step - 1) / step, [&](int p) {
      isa().gemm_block(a, sa, b, sb, p * step, std::min(M, (p + 1) * step), 0, N, K, alpha, beta, C,
                       ldc);
    });
  } else {
    const int step = std::max(4, (N / T + 4 - 1) / 4 * 4);
    parallel_for((N + step - 1) / step, [&](int p) {
      isa().gemm_block(a, sa, b, sb, 0, M, p * step, std::min(N, (p + 1) * step), K, alpha, beta, C,
                       ldc);
    });
  }
}

}  // namespace aha
