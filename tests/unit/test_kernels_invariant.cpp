// The batch-invariant kernels (kernels/invariant.h): the GEMM against fp64 and, bit for bit,
// against a scalar writing of its documented order; rows and columns the same bits in any
// slab, tile or thread count; the per-token attention against fp64 and the same bits packed or
// alone; the mode's switches.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/invariant.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "kernels/rng.h"

using namespace aha;

namespace {

std::vector<float> randn(size_t n, uint64_t seed) {
  Rng r{seed};
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(r.normal());
  return v;
}

float op(const std::vector<float>& m, bool t, int ld, int r, int c) {
  return t ? m[static_cast<size_t>(c) * ld + r] : m[static_cast<size_t>(r) * ld + c];
}

// The documented order, written out: lane k mod 16 sums its products in k order (a fused
// multiply-add each), then (l + l+8), (+4), and ((s0 + s2) + (s1 + s3)); then alpha * dot
// + beta * C.
float spec_element(const std::vector<float>& A, bool ta, int lda, const std::vector<float>& B,
                   bool tb, int ldb, int i, int j, int K, float alpha, float beta, float c) {
  float lane[16] = {};
  for (int k = 0; k < K; k++) {
    lane[k % 16] = std::fma(op(A, ta, lda, i, k), op(B, tb, ldb, k, j), lane[k % 16]);
  }
  float s8[8], s4[4];
  for (int l = 0; l < 8; l++) s8[l] = lane[l] + lane[l + 8];
  for (int l = 0; l < 4; l++) s4[l] = s8[l] + s8[l + 4];
  const float dot = (s4[0] + s4[2]) + (s4[1] + s4[3]);
  volatile float out = alpha * dot;
  if (beta == 0.0f) return out;
  volatile float bc = beta * c;
  return out + bc;
}

struct ModeScope {
  ModeScope() { gemm_set_batch_invariant(true); }
  ~ModeScope() { gemm_set_batch_invariant(false); }
};

}  // namespace

TEST_CASE("invariant sgemm: the documented order bit for bit, fp64 within float, every transpose") {
  ModeScope mode;
  const int shapes[][3] = {{1, 1, 1},   {1, 7, 15},  {3, 5, 16},   {5, 9, 17},
                           {17, 4, 33}, {9, 70, 64}, {33, 3, 100}, {6, 65, 0}};
  for (auto [M, N, K] : shapes)
    for (int t = 0; t < 4; t++)
      for (float beta : {0.0f, 0.5f}) {
        const bool ta = t & 1, tb = t & 2;
        CAPTURE(M);
        CAPTURE(N);
        CAPTURE(K);
        CAPTURE(ta);
        CAPTURE(tb);
        CAPTURE(beta);
        const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
        std::vector<float> A = randn(static_cast<size_t>(ta ? K : M) * lda + 1, 1 + M);
        std::vector<float> B = randn(static_cast<size_t>(tb ? N : K) * ldb + 1, 2 + N);
        std::vector<float> C0 = randn(static_cast<size_t>(M) * ldc, 3 + K);
        // beta == 0 must not read C: NaN there must not leak.
        if (beta == 0.0f) std::fill(C0.begin(), C0.end(), std::numeric_limits<float>::quiet_NaN());
        std::vector<float> C = C0;
        const float alpha = 1.25f;
        sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
        int num_bits_off = 0;
        double worst = 0;
        for (int i = 0; i < M; i++)
          for (int j = 0; j < N; j++) {
            const float c0 = C0[static_cast<size_t>(i) * ldc + j];
            const float got = C[static_cast<size_t>(i) * ldc + j];
            const float spec = spec_element(A, ta, lda, B, tb, ldb, i, j, K, alpha, beta, c0);
            num_bits_off += std::memcmp(&got, &spec, 4) != 0;
            double ref = 0, mag = 0;
            for (int k = 0; k < K; k++) {
              const double p = static_cast<double>(op(A, ta, lda, i, k)) * op(B, tb, ldb, k, j);
              ref += p;
              mag += std::fabs(p);
            }
            ref = alpha * ref + (beta == 0.0f ? 0.0 : beta * static_cast<double>(c0));
            worst = std::fmax(worst, std::fabs(got - ref) / (alpha * mag + std::fabs(c0) + 1e-30));
          }
        CHECK(num_bits_off == 0);
        CHECK(worst < 1e-5);
      }
}

TEST_CASE("invariant sgemm: a row or column is the same bits in any slab, tile or thread count") {
  ModeScope mode;
  // 2.4 M multiply-adds: large enough to be split over two threads.
  const int M = 96, N = 130, K = 200;
  for (bool tb : {true, false}) {
    CAPTURE(tb);
    std::vector<float> A = randn(static_cast<size_t>(M) * K, 7);
    std::vector<float> B = randn(static_cast<size_t>(N) * K, 8);
    const int ldb = tb ? K : N;
    set_compute_threads(1);
    std::vector<float> whole(static_cast<size_t>(M) * N);
    sgemm(false, tb, M, N, K, 1.0f, A.data(), K, B.data(), ldb, 0.0f, whole.data(), N);
    set_compute_threads(2);
    std::vector<float> two(whole.size());
    sgemm(false, tb, M, N, K, 1.0f, A.data(), K, B.data(), ldb, 0.0f, two.data(), N);
    set_compute_threads(1);
    CHECK(std::memcmp(two.data(), whole.data(), whole.size() * sizeof(float)) == 0);
    // Slabs of 1, 3, 5 and 13 rows, and a block of 7 columns at an odd offset.
    for (int rows : {1, 3, 5, 13}) {
      std::vector<float> part(static_cast<size_t>(M) * N);
      for (int i0 = 0; i0 < M; i0 += rows) {
        const int m = std::min(rows, M - i0);
        sgemm(false, tb, m, N, K, 1.0f, A.data() + static_cast<size_t>(i0) * K, K, B.data(), ldb,
              0.0f, part.data() + static_cast<size_t>(i0) * N, N);
      }
      CHECK(std::memcmp(part.data(), whole.data(), whole.size() * sizeof(float)) == 0);
    }
    std::vector<float> cols(static_cast<size_t>(M) * 7);
    const float* B5 = tb ? B.data() + 5L * K : B.data() + 5;
    sgemm(false, tb, M, 7, K, 1.0f, A.data(), K, B5, ldb, 0.0f, cols.data(), 7);
    int num_off = 0;
    for (int i = 0; i < M; i++)
      for (int j = 0; j < 7; j++)
        num_off +=
            cols[static_cast<size_t>(i) * 7 + j] != whole[static_cast<size_t>(i) * N + 5 + j];
    CHECK(num_off == 0);
  }
}

TEST_CASE(
    "invariant attention: fp64 within float; a sequence's rows the same bits packed or alone") {
  ModeScope mode;
  const int NH = 4, NKV = 2, DQK = 24, DV = 20;
  const int lens[] = {1, 5, 19, 40};
  std::vector<int> seq_start = {0};
  for (int T : lens) seq_start.push_back(seq_start.back() + T);
  const int B = 4, N = seq_start.back();
  std::vector<float> q = randn(static_cast<size_t>(N) * NH * DQK, 11);
  std::vector<float> k = randn(static_cast<size_t>(N) * NKV * DQK, 12);
  std::vector<float> v = randn(static_cast<size_t>(N) * NKV * DV, 13);
  const float scale = 0.3f;
  std::vector<float> out(static_cast<size_t>(N) * NH * DV), lse(static_cast<size_t>(N) * NH);
  set_compute_threads(2);
  attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), seq_start.data(), B, NH,
                    NKV, DQK, DV, scale);
  set_compute_threads(1);
  double worst = 0, worst_lse = 0;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < lens[b]; t++)
      for (int h = 0; h < NH; h++) {
        const int n = seq_start[b] + t, g = h / (NH / NKV);
        std::vector<double> s(t + 1);
        double mx = -1e300;
        for (int j = 0; j <= t; j++) {
          double d = 0;
          for (int c = 0; c < DQK; c++)
            d += static_cast<double>(q[(static_cast<size_t>(n) * NH + h) * DQK + c]) *
                 k[(static_cast<size_t>(seq_start[b] + j) * NKV + g) * DQK + c];
          s[j] = scale * d;
          mx = std::fmax(mx, s[j]);
        }
        double sum = 0;
        for (double& x : s) sum += (x = std::exp(x - mx));
        worst_lse = std::fmax(
            worst_lse, std::fabs(lse[static_cast<size_t>(n) * NH + h] - (mx + std::log(sum))));
        for (int c = 0; c < DV; c++) {
          double o = 0;
          for (int j = 0; j <= t; j++)
            o += s[j] / sum * v[(static_cast<size_t>(seq_start[b] + j) * NKV + g) * DV + c];
          worst = std::fmax(worst, std::fabs(out[(static_cast<size_t>(n) * NH + h) * DV + c] - o));
        }
      }
  CHECK(worst < 1e-5);
  CHECK(worst_lse < 1e-5);
  // The last sequence alone gives the same bits as packed after the others.
  const int b = 3, s0 = seq_start[b], T = lens[b];
  std::vector<int> one = {0, T};
  std::vector<float> out1(static_cast<size_t>(T) * NH * DV), lse1(static_cast<size_t>(T) * NH);
  attention_forward(out1.data(), lse1.data(), q.data() + static_cast<size_t>(s0) * NH * DQK,
                    k.data() + static_cast<size_t>(s0) * NKV * DQK,
                    v.data() + static_cast<size_t>(s0) * NKV * DV, one.data(), 1, NH, NKV, DQK, DV,
                    scale);
  CHECK(std::memcmp(out1.data(), out.data() + static_cast<size_t>(s0) * NH * DV,
                    out1.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(lse1.data(), lse.data() + static_cast<size_t>(s0) * NH,
                    lse1.size() * sizeof(float)) == 0);
}

TEST_CASE("batch-invariant mode: fp32 only, named by the backend") {
  CHECK_FALSE(gemm_batch_invariant());
  gemm_set_batch_invariant(true);
  CHECK(gemm_batch_invariant());
  CHECK(gemm_backend().find("batch-invariant") != std::string::npos);
  CHECK_THROWS_WITH_AS(gemm_set_precision(GemmPrecision::kBf16),
                       doctest::Contains("batch-invariant"), std::runtime_error);
  CHECK(gemm_precision() == GemmPrecision::kFp32);
  gemm_set_batch_invariant(false);
  CHECK_FALSE(gemm_batch_invariant());
}

TEST_CASE("invariant kernels: AVX-512, AVX2 and portable versions give the same bits") {
  ModeScope mode;
  const int M = 13, N = 37, K = 75, NH = 4, NKV = 2, D = 19, L = 23;
  std::vector<float> A = randn(static_cast<size_t>(M) * K, 21),
                     B = randn(static_cast<size_t>(N) * K, 22);
  std::vector<float> q = randn(static_cast<size_t>(NH) * D, 23);
  std::vector<float> kv = randn(static_cast<size_t>(L) * 2 * NKV * D, 24);
  std::vector<long> koff(L), voff(L);
  for (int i = 0; i < L; i++) {
    koff[i] = static_cast<long>(i) * 2 * NKV * D;
    voff[i] = koff[i] + NKV * D;
  }
  std::vector<float> ref_c, ref_o;
  int num_isas = 0;
  for (const char* name : {"generic", "avx2", "avx512"}) {
    if (!invariant_use_isa(name)) continue;
    CAPTURE(name);
    num_isas++;
    std::vector<float> C(static_cast<size_t>(M) * N), o(static_cast<size_t>(NH) * D), lse(NH),
        sc(L);
    sgemm(false, true, M, N, K, 0.75f, A.data(), K, B.data(), K, 0.0f, C.data(), N);
    attention_row_invariant(o.data(), lse.data(), q.data(), kv.data(), koff.data(), kv.data(),
                            voff.data(), L, NH, NKV, D, D, 0.25f, sc.data());
    o.insert(o.end(), lse.begin(), lse.end());
    if (ref_c.empty()) {
      ref_c = C;
      ref_o = o;
      continue;
    }
    CHECK(std::memcmp(C.data(), ref_c.data(), C.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(o.data(), ref_o.data(), o.size() * sizeof(float)) == 0);
  }
  CHECK(num_isas >= 1);  // generic runs everywhere
  MESSAGE("instruction sets compared: ", num_isas);
  // Back to the best one (the order above ends on it where the CPU has it).
  for (const char* name : {"avx512", "avx2", "generic"})
    if (invariant_use_isa(name)) break;
}
