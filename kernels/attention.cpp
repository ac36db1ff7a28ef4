#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/check.h"
#include "kernels/gemm.h"
#include "kernels/invariant.h"
#include "kernels/parallel.h"

namespace aha {

// Work is split over (sequence, head) pairs in forward and (sequence, kv head) in backward, so
// each pair writes only its own rows and the result does not depend on the thread count.
// Sequences up to kDirect tokens (GRPO's short completions) run plain loops: their GEMMs are a
// few hundred flops, below a BLAS call's overhead. Longer ones go through sgemm in query blocks
// of kBlock rows: the score tile is kBlock x (keys up to the block's last query), so memory stays
// O(kBlock * T) and most of the masked half is skipped.
static constexpr int kDirect = 32;
static constexpr int kBlock = 64;

static void check_shapes(const int* seq_start, int B, int NH, int NKV) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "attention: NH must be a multiple of NKV");
  AHA_CHECK(seq_start[0] == 0, "attention: seq_start[0] must be 0");
  for (int b = 0; b < B; b++)
    AHA_CHECK(seq_start[b + 1] >= seq_start[b], "attention: seq_start must be non-decreasing");
}

static float dot(const float* a, const float* b, int n) {
  float s = 0.0f;
  for (int c = 0; c < n; c++) s += a[c] * b[c];
  return s;
}

// Scratch of the calling thread (regions run on persistent threads, so it is reused).
static float* scratch(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// Softmax of row[0..t] in place (row[t+1..nk) zeroed); returns the log-sum-exp.
static float softmax_causal(float* row, int t, int nk) {
  float mx = row[0];
  for (int j = 1; j <= t; j++) mx = std::max(mx, row[j]);
  double sum = 0.0;
  for (int j = 0; j <= t; j++) {
    row[j] = std::exp(row[j] - mx);
    sum += row[j];
  }
  const float inv = (float)(1.0 / sum);
  for (int j = 0; j <= t; j++) row[j] *= inv;
  for (int j = t + 1; j < nk; j++) row[j] = 0.0f;
  return (float)(mx + std::log(sum));
}

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int* seq_start, int B, int NH, int NKV, int DQK, int DV, float scale) {
  check_shapes(seq_start, B, NH, NKV);
  const int group = NH / NKV;
  const long qs = (long)NH * DQK, ks = (long)NKV * DQK, vs = (long)NKV * DV, os = (long)NH * DV;
  if (gemm_batch_invariant()) {
    // Each token as decode computes it (kernels/invariant.h): the same bits as a rollout's.
    parallel_for(B, [&](int b) {
      const int s0 = seq_start[b], T = seq_start[b + 1] - s0;
      thread_local std::vector<float> sc_buf;
      thread_local std::vector<long> koff, voff;
      float* sc = scratch(sc_buf, T);
      koff.resize(T);
      voff.resize(T);
      for (int i = 0; i < T; i++) {
        koff[i] = (s0 + i) * ks;
        voff[i] = (s0 + i) * vs;
      }
      for (int t = 0; t < T; t++)
        attention_row_invariant(out + (s0 + t) * os, lse + (long)(s0 + t) * NH, q + (s0 + t) * qs,
                                k, koff.data(), v, voff.data(), t + 1, NH, NKV, DQK, DV, scale, sc);
    });
    return;
  }
  parallel_for(B * NH, [&](int item) {
    const int b = item / NH, h = item % NH;
    const int s0 = seq_start[b], T = seq_start[b + 1] - s0;
    if (T == 0) return;
    const int kvh = h / group;
    const float* qh = q + s0 * qs + (long)h * DQK;
    const float* kh = k + s0 * ks + (long)kvh * DQK;
    const float* vh = v + s0 * vs + (long)kvh * DV;
    float* oh = out + s0 * os + (long)h * DV;
    thread_local std::vector<float> S_buf;
    if (T <= kDirect) {
      float* row = scratch(S_buf, T);
      for (int t = 0; t < T; t++) {
        for (int j = 0; j <= t; j++) row[j] = scale * dot(qh + t * qs, kh + j * ks, DQK);
        lse[(long)(s0 + t) * NH + h] = softmax_causal(row, t, t + 1);
        float* o = oh + t * os;
        for (int c = 0; c < DV; c++) o[c] = 0.0f;
        for (int j = 0; j <= t; j++)
          for (int c = 0; c < DV; c++) o[c] += row[j] * vh[j * vs + c];
      }
      return;
    }
    float* S = scratch(S_buf, (size_t)kBlock * T);
    for (int t0 = 0; t0 < T; t0 += kBlock) {
      const int bq = std::min(kBlock, T - t0), nk = t0 + bq;
      // S[bq, nk] = scale * Q[t0:t0+bq] · K[0:nk]ᵀ
      sgemm(false, true, bq, nk, DQK, scale, qh + t0 * qs, qs, kh, ks, 0.0f, S, nk);
      for (int i = 0; i < bq; i++)  // query t0 + i sees keys [0, t0 + i]
        lse[(long)(s0 + t0 + i) * NH + h] = softmax_causal(S + (long)i * nk, t0 + i, nk);
      // O[t0:t0+bq] = P[bq, nk] · V[0:nk]
      sgemm(false, false, bq, DV, nk, 1.0f, S, nk, vh, vs, 0.0f, oh + t0 * os, os);
    }
  });
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v,
                        const int* seq_start, int B, int NH, int NKV, int DQK, int DV,
                        float scale) {
  check_shapes(seq_start, B, NH, NKV);
  const int group = NH / NKV;
  const long qs = (long)NH * DQK, ks = (long)NKV * DQK, vs = (long)NKV * DV, os = (long)NH * DV;
  // One item owns a sequence's kv head: it alone writes that dk, dv (and its heads' dq).
  parallel_for(B * NKV, [&](int item) {
    const int b = item / NKV, kvh = item % NKV;
    const int s0 = seq_start[b], T = seq_start[b + 1] - s0;
    if (T == 0) return;
    const float* kh = k + s0 * ks + (long)kvh * DQK;
    const float* vh = v + s0 * vs + (long)kvh * DV;
    float* dkh = dk + s0 * ks + (long)kvh * DQK;
    float* dvh = dv + s0 * vs + (long)kvh * DV;
    thread_local std::vector<float> P_buf, dS_buf;
    for (int h = kvh * group; h < (kvh + 1) * group; h++) {
      const float* qh = q + s0 * qs + (long)h * DQK;
      const float* oh = out + s0 * os + (long)h * DV;
      const float* doh = dout + s0 * os + (long)h * DV;
      float* dqh = dq + s0 * qs + (long)h * DQK;
      if (T <= kDirect) {
        float* p = scratch(P_buf, T);
        for (int t = 0; t < T; t++) {
          const float* qt = qh + t * qs;
          const float* dot_t = doh + t * os;
          const float l = lse[(long)(s0 + t) * NH + h];
          // D_t = Σ_j P_tj dP_tj = dO_t · O_t
          double d = 0.0;
          for (int c = 0; c < DV; c++) d += (double)dot_t[c] * oh[t * os + c];
          float* dqt = dqh + t * qs;
          for (int j = 0; j <= t; j++) {
            p[j] = std::exp(scale * dot(qt, kh + j * ks, DQK) - l);
            // dS = P ∘ (dP - D), times scale for the chain through the scores.
            const float ds = scale * p[j] * (dot(dot_t, vh + j * vs, DV) - (float)d);
            const float* kj = kh + j * ks;
            float* dkj = dkh + j * ks;
            float* dvj = dvh + j * vs;
            for (int c = 0; c < DQK; c++) {
              dqt[c] += ds * kj[c];
              dkj[c] += ds * qt[c];
            }
            for (int c = 0; c < DV; c++) dvj[c] += p[j] * dot_t[c];
          }
        }
        continue;
      }
      float* P = scratch(P_buf, (size_t)kBlock * T);
      float* dS = scratch(dS_buf, (size_t)kBlock * T);
      for (int t0 = 0; t0 < T; t0 += kBlock) {
        const int bq = std::min(kBlock, T - t0), nk = t0 + bq;
        // Recompute P = exp(scale * Q Kᵀ - lse), masked.
        sgemm_gradient(false, true, bq, nk, DQK, scale, qh + t0 * qs, qs, kh, ks, 0.0f, P, nk);
        // dP[bq, nk] = dO · Vᵀ
        sgemm_gradient(false, true, bq, nk, DV, 1.0f, doh + t0 * os, os, vh, vs, 0.0f, dS, nk);
        for (int i = 0; i < bq; i++) {
          const int t = t0 + i;
          double d = 0.0;
          for (int c = 0; c < DV; c++) d += (double)doh[t * os + c] * oh[t * os + c];
          const float l = lse[(long)(s0 + t) * NH + h];
          float* prow = P + (long)i * nk;
          float* dsrow = dS + (long)i * nk;
          for (int j = 0; j <= t; j++) {
            prow[j] = std::exp(prow[j] - l);
            dsrow[j] = scale * prow[j] * (dsrow[j] - (float)d);
          }
          for (int j = t + 1; j < nk; j++) prow[j] = dsrow[j] = 0.0f;
        }
        // dQ[t0:] += dS · K ;  dK[0:nk] += dSᵀ · Q[t0:] ;  dV[0:nk] += Pᵀ · dO[t0:]
        sgemm_gradient(false, false, bq, DQK, nk, 1.0f, dS, nk, kh, ks, 1.0f, dqh + t0 * qs, qs);
        sgemm_gradient(true, false, nk, DQK, bq, 1.0f, dS, nk, qh + t0 * qs, qs, 1.0f, dkh, ks);
        sgemm_gradient(true, false, nk, DV, bq, 1.0f, P, nk, doh + t0 * os, os, 1.0f, dvh, vs);
      }
    }
  });
}

}  // namespace aha
