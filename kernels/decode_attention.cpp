// Decode attention (one query token per batch row over a paged cache: per row a list of pages),
// declared in kernels/attention.h. Rows are independent: parallel_for over rows, each writing its
// own outputs, so results do not depend on the thread count or on the other rows of the batch.
//
// Per row, every head reads the same cache rows, so the loops run row-major over the context:
// each cache row is loaded once for all heads' scores and once for all heads' outputs, with float
// accumulators: 8-float vectors for the scores (GCC vector extensions), `omp simd` loops over a
// value row for the outputs (-fopenmp-simd, no OpenMP runtime).
// Built for AVX2+FMA and AVX-512 beside the baseline (target_clones): the machine picks at load.
// Not under ASan or TSan: the loader runs the clones' instrumented resolvers before they are set up.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/check.h"
#include "kernels/gemm.h"
#include "kernels/invariant.h"
#include "kernels/parallel.h"

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && \
    !defined(__clang__)
#define AHA_DECODE_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define AHA_DECODE_CLONES
#endif

namespace aha {

namespace {

// One batch row: sc[NH, L] scratch. q[h] is q_a[h*qa_stride .. +A] ; q_b[h*qb_stride .. +Bd],
// keys are cache[row][ko .. ko+A) ; cache[row][ko+A .. ko+A+Bd) (Bd may be 0), values
// cache[row][vo .. vo+D). Head h reads key/value group h / group (group offsets kstep, vstep).
// Position i of the row is at cache row pages[i / P] * P + i % P; off[L] is scratch for the
// positions' offsets into the cache, laid out once per call so that the loops below divide nothing.
AHA_DECODE_CLONES void decode_row(float* out, const float* q_a, const float* q_b, int A, int Bd,
                                  const float* cache, long W, const int* pages, int P, int L,
                                  int NH, int group, long ko, long kstep, long vo, long vstep,
                                  int D, float scale, float* sc, long* off) {
  // Scores: 8-float partial sums per head in a vector, summed as a tree once per (row, head) --
  // a horizontal sum per dot would cost more than the dot. Heads go four at a time so that each
  // key chunk is loaded once for four heads.
  using v8 = float __attribute__((vector_size(32)));
  const int A8 = A & ~7, B8 = Bd & ~7;
  for (int i0 = 0, j = 0; i0 < L; i0 += P, j++) {
    const long base = static_cast<long>(pages[j]) * P * W;
    for (int i = i0; i < std::min(L, i0 + P); i++) off[i] = base + (i - i0) * W;
  }
  auto row_at = [&](int i) { return cache + off[i]; };
  // Pages of a sequence lie far apart in the cache: fetch ahead.
  constexpr int kAhead = 4;
  for (int i = 0; i < std::min(L, kAhead); i++)
    for (long c = 0; c < W; c += 16) __builtin_prefetch(row_at(i) + c);
  for (int i = 0; i < L; i++) {
    const float* row = row_at(i);
    if (i + kAhead < L) {
      const float* next = row_at(i + kAhead);
      for (long c = 0; c < W; c += 16) __builtin_prefetch(next + c);
      __builtin_prefetch(next + W - 1);
    }
    for (int h0 = 0; h0 < NH; h0 += 4) {
      const int nh = std::min(4, NH - h0);
      v8 acc[4] = {};
      float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (int j = 0; j < nh; j++) {
        const int h = h0 + j;
        const float* qa = q_a + static_cast<long>(h) * A;
        const float* qb = q_b + static_cast<long>(h) * Bd;
        const float* k = row + ko + (h / group) * kstep;
        v8 a = {}, kv, qv;
        for (int c = 0; c < A8; c += 8) {
          __builtin_memcpy(&kv, k + c, sizeof(v8));
          __builtin_memcpy(&qv, qa + c, sizeof(v8));
          a += qv * kv;
        }
        for (int c = 0; c < B8; c += 8) {
          __builtin_memcpy(&kv, k + A + c, sizeof(v8));
          __builtin_memcpy(&qv, qb + c, sizeof(v8));
          a += qv * kv;
        }
        acc[j] = a;
        float t = 0.0f;
        for (int c = A8; c < A; c++) t += qa[c] * k[c];
        for (int c = B8; c < Bd; c++) t += qb[c] * k[A + c];
        tail[j] = t;
      }
      for (int j = 0; j < nh; j++) {
        const v8 a = acc[j];
        const float s = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
        sc[static_cast<long>(h0 + j) * L + i] = (s + tail[j]) * scale;
      }
    }
  }
  float inv_sum[64];
  for (int h0 = 0; h0 < NH; h0 += 64) {
    const int nh = std::min(64, NH - h0);
    for (int h = h0; h < h0 + nh; h++) {
      float* p = sc + static_cast<long>(h) * L;
      float mx = -std::numeric_limits<float>::infinity();
      for (int i = 0; i < L; i++) mx = std::max(mx, p[i]);
      double sum = 0.0;
      for (int i = 0; i < L; i++) {
        p[i] = std::exp(p[i] - mx);
        sum += p[i];
      }
      inv_sum[h - h0] = static_cast<float>(1.0 / sum);
      float* o = out + static_cast<long>(h) * D;
      for (int c = 0; c < D; c++) o[c] = 0.0f;
    }
    for (int i = 0; i < L; i++) {
      const float* row = row_at(i);
      for (int h = h0; h < h0 + nh; h++) {
        const float w = sc[static_cast<long>(h) * L + i];
        const float* v = row + vo + (h / group) * vstep;
        float* o = out + static_cast<long>(h) * D;
#pragma omp simd
        for (int c = 0; c < D; c++) o[c] += w * v[c];
      }
    }
    for (int h = h0; h < h0 + nh; h++) {
      float* o = out + static_cast<long>(h) * D;
      const float r = inv_sum[h - h0];
#pragma omp simd
      for (int c = 0; c < D; c++) o[c] *= r;
    }
  }
}

void check_pages(const char* name, int P, const int* page_indptr, const int* seq_lens, int B) {
  AHA_CHECK(P >= 1, std::string(name) + ": page_tokens must be >= 1");
  AHA_CHECK(page_indptr[0] == 0, std::string(name) + ": page_indptr[0] must be 0");
  for (int b = 0; b < B; b++) {
    const long n = page_indptr[b + 1] - page_indptr[b];
    AHA_CHECK(n >= 0 && seq_lens[b] >= 0 && seq_lens[b] <= n * P,
              std::string(name) + ": row " + std::to_string(b) + " has " + std::to_string(n) +
                  " pages for " + std::to_string(seq_lens[b]) + " positions");
  }
}

}  // namespace

void mla_decode_attention(float* out_lat, const float* q_lat, const float* q_rope,
                          const float* cache, int page_tokens, const int* page_indptr,
                          const int* page_ids, const int* seq_lens, int B, int NH, int R, int DR,
                          float scale) {
  check_pages("mla_decode_attention", page_tokens, page_indptr, seq_lens, B);
  const long W = R + DR;
  parallel_for(B, [&](int b) {
    const int L = seq_lens[b];
    float* o = out_lat + static_cast<long>(b) * NH * R;
    if (L == 0) {  // nothing to attend to: a zero output rather than 0/0
      std::fill(o, o + static_cast<long>(NH) * R, 0.0f);
      return;
    }
    thread_local std::vector<float> sc;
    thread_local std::vector<long> off;
    if (sc.size() < static_cast<size_t>(NH) * L) sc.resize(static_cast<size_t>(NH) * L);
    if (off.size() < static_cast<size_t>(L)) off.resize(L);
    // Keys [c_kv ; k_rope] and values c_kv, one group of all NH heads.
    decode_row(o, q_lat + static_cast<long>(b) * NH * R, q_rope + static_cast<long>(b) * NH * DR, R,
               DR, cache, W, page_ids + page_indptr[b], page_tokens, L, NH, NH, 0, 0, 0, 0, R,
               scale, sc.data(), off.data());
  });
}

void gqa_decode_attention(float* out, const float* q, const float* cache, int page_tokens,
                          const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
                          int NH, int NKV, int D, float scale) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "gqa_decode_attention: NH must be a multiple of NKV");
  check_pages("gqa_decode_attention", page_tokens, page_indptr, seq_lens, B);
  const long W = 2L * NKV * D;
  if (gemm_batch_invariant())  // as the learner's forward computes each token
    return paged_attention_invariant(out, q, cache, page_tokens, page_indptr, page_ids, seq_lens, B,
                                     NH, NKV, D, D, W, 0, static_cast<long>(NKV) * D, scale);
  parallel_for(B, [&](int b) {
    const int L = seq_lens[b];
    float* o = out + static_cast<long>(b) * NH * D;
    if (L == 0) {
      std::fill(o, o + static_cast<long>(NH) * D, 0.0f);
      return;
    }
    thread_local std::vector<float> sc;
    thread_local std::vector<long> off;
    if (sc.size() < static_cast<size_t>(NH) * L) sc.resize(static_cast<size_t>(NH) * L);
    if (off.size() < static_cast<size_t>(L)) off.resize(L);
    // Keys at [0, NKV*D), values at [NKV*D, 2*NKV*D); head h reads kv head h / (NH / NKV).
    decode_row(o, q + static_cast<long>(b) * NH * D, nullptr, D, 0, cache, W,
               page_ids + page_indptr[b], page_tokens, L, NH, NH / NKV, 0, D,
               static_cast<long>(NKV) * D, D, D, scale, sc.data(), off.data());
  });
}

void paged_attention_invariant(float* out, const float* q, const float* cache, int page_tokens,
                               const int* page_indptr, const int* page_ids, const int* seq_lens,
                               int B, int NH, int NKV, int DQK, int DV, long W, long k_col,
                               long v_col, float scale) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "paged_attention_invariant: NH must be a multiple of NKV");
  check_pages("paged_attention_invariant", page_tokens, page_indptr, seq_lens, B);
  parallel_for(B, [&](int b) {
    const int L = seq_lens[b];
    const int* pages = page_ids + page_indptr[b];
    thread_local std::vector<float> sc;
    thread_local std::vector<long> koff, voff;
    sc.resize(L);
    koff.resize(L);
    voff.resize(L);
    for (int i = 0; i < L; i++) {
      const long row = static_cast<long>(pages[i / page_tokens]) * page_tokens + i % page_tokens;
      koff[i] = row * W + k_col;
      voff[i] = row * W + v_col;
    }
    attention_row_invariant(out + static_cast<long>(b) * NH * DV, nullptr,
                            q + static_cast<long>(b) * NH * DQK, cache, koff.data(), cache,
                            voff.data(), L, NH, NKV, DQK, DV, scale, sc.data());
  });
}

}  // namespace aha
