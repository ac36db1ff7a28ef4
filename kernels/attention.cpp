#include "kernels/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/check.h"

namespace aha {

// Queries are processed in blocks of kBlock rows: the score tile is kBlock x (keys up to the
// block's last query), so memory stays O(kBlock * T) and most of the masked half is skipped.
static constexpr int kBlock = 64;

static void check_shapes(const int* seq_start, int B, int NH, int NKV) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "attention: NH must be a multiple of NKV");
  AHA_CHECK(seq_start[0] == 0, "attention: seq_start[0] must be 0");
  for (int b = 0; b < B; b++)
    AHA_CHECK(seq_start[b + 1] >= seq_start[b], "attention: seq_start must be non-decreasing");
}

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int* seq_start, int B, int NH, int NKV, int DQK, int DV, float scale) {
  check_shapes(seq_start, B, NH, NKV);
  const int group = NH / NKV;
  const long qs = (long)NH * DQK, ks = (long)NKV * DQK, vs = (long)NKV * DV, os = (long)NH * DV;
  std::vector<float> S;
  for (int b = 0; b < B; b++) {
    const int s0 = seq_start[b], T = seq_start[b + 1] - s0;
    if (T == 0) continue;
    S.resize((size_t)kBlock * T);
    for (int h = 0; h < NH; h++) {
      const int kvh = h / group;
      const float* qh = q + s0 * qs + (long)h * DQK;
      const float* kh = k + s0 * ks + (long)kvh * DQK;
      const float* vh = v + s0 * vs + (long)kvh * DV;
      float* oh = out + s0 * os + (long)h * DV;
      for (int t0 = 0; t0 < T; t0 += kBlock) {
        const int bq = std::min(kBlock, T - t0), nk = t0 + bq;
        // S[bq, nk] = scale * Q[t0:t0+bq] · K[0:nk]ᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, nk, DQK, scale, qh + t0 * qs, qs,
                    kh, ks, 0.0f, S.data(), nk);
        for (int i = 0; i < bq; i++) {
          const int t = t0 + i;  // query t sees keys [0, t]
          float* row = S.data() + (long)i * nk;
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
          lse[(long)(s0 + t) * NH + h] = (float)(mx + std::log(sum));
        }
        // O[t0:t0+bq] = P[bq, nk] · V[0:nk]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, DV, nk, 1.0f, S.data(), nk, vh,
                    vs, 0.0f, oh + t0 * os, os);
      }
    }
  }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v,
                        const int* seq_start, int B, int NH, int NKV, int DQK, int DV,
                        float scale) {
  check_shapes(seq_start, B, NH, NKV);
  const int group = NH / NKV;
  const long qs = (long)NH * DQK, ks = (long)NKV * DQK, vs = (long)NKV * DV, os = (long)NH * DV;
  std::vector<float> P, dS;
  for (int b = 0; b < B; b++) {
    const int s0 = seq_start[b], T = seq_start[b + 1] - s0;
    if (T == 0) continue;
    P.resize((size_t)kBlock * T);
    dS.resize((size_t)kBlock * T);
    for (int h = 0; h < NH; h++) {
      const int kvh = h / group;
      const float* qh = q + s0 * qs + (long)h * DQK;
      const float* kh = k + s0 * ks + (long)kvh * DQK;
      const float* vh = v + s0 * vs + (long)kvh * DV;
      const float* oh = out + s0 * os + (long)h * DV;
      const float* doh = dout + s0 * os + (long)h * DV;
      float* dqh = dq + s0 * qs + (long)h * DQK;
      float* dkh = dk + s0 * ks + (long)kvh * DQK;
      float* dvh = dv + s0 * vs + (long)kvh * DV;
      for (int t0 = 0; t0 < T; t0 += kBlock) {
        const int bq = std::min(kBlock, T - t0), nk = t0 + bq;
        // Recompute P = exp(scale * Q Kᵀ - lse), masked.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, nk, DQK, scale, qh + t0 * qs, qs,
                    kh, ks, 0.0f, P.data(), nk);
        // dP[bq, nk] = dO · Vᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, nk, DV, 1.0f, doh + t0 * os, os,
                    vh, vs, 0.0f, dS.data(), nk);
        for (int i = 0; i < bq; i++) {
          const int t = t0 + i;
          // D_t = Σ_j P_tj dP_tj = dO_t · O_t
          double d = 0.0;
          for (int c = 0; c < DV; c++) d += (double)doh[(t0 + i) * os + c] * oh[(t0 + i) * os + c];
          const float l = lse[(long)(s0 + t) * NH + h];
          float* prow = P.data() + (long)i * nk;
          float* dsrow = dS.data() + (long)i * nk;
          for (int j = 0; j <= t; j++) {
            prow[j] = std::exp(prow[j] - l);
            // dS = P ∘ (dP - D), times scale for the chain through the scores.
            dsrow[j] = scale * prow[j] * (dsrow[j] - (float)d);
          }
          for (int j = t + 1; j < nk; j++) prow[j] = dsrow[j] = 0.0f;
        }
        // dQ[t0:] += dS · K ;  dK[0:nk] += dSᵀ · Q[t0:] ;  dV[0:nk] += Pᵀ · dO[t0:]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bq, DQK, nk, 1.0f, dS.data(), nk, kh,
                    ks, 1.0f, dqh + t0 * qs, qs);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, DQK, bq, 1.0f, dS.data(), nk,
                    qh + t0 * qs, qs, 1.0f, dkh, ks);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, DV, bq, 1.0f, P.data(), nk,
                    doh + t0 * os, os, 1.0f, dvh, vs);
      }
    }
  }
}

void mla_decode_attention(float* out_lat, const float* q_lat, const float* q_rope,
                          const float* cache, const int* rows, const int* row_start, int B, int NH,
                          int R, int DR, float scale) {
  AHA_CHECK(row_start[0] == 0, "mla_decode_attention: row_start[0] must be 0");
  const int W = R + DR;
  std::vector<float> sc;
  std::vector<double> acc(R);
  for (int b = 0; b < B; b++) {
    const int r0 = row_start[b], L = row_start[b + 1] - r0;
    AHA_CHECK(L >= 0, "mla_decode_attention: row_start must be non-decreasing");
    sc.resize(std::max(L, 1));
    for (int h = 0; h < NH; h++) {
      const float* ql = q_lat + ((long)b * NH + h) * R;
      const float* qr = q_rope + ((long)b * NH + h) * DR;
      float* o = out_lat + ((long)b * NH + h) * R;
      if (L == 0) {  // nothing to attend to: a zero output rather than 0/0
        for (int c = 0; c < R; c++) o[c] = 0.0f;
        continue;
      }
      float mx = -std::numeric_limits<float>::infinity();
      for (int i = 0; i < L; i++) {
        const float* row = cache + (long)rows[r0 + i] * W;
        float s = 0.0f;
        for (int c = 0; c < R; c++) s += ql[c] * row[c];
        for (int c = 0; c < DR; c++) s += qr[c] * row[R + c];
        sc[i] = s * scale;
        mx = std::max(mx, sc[i]);
      }
      double sum = 0.0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int i = 0; i < L; i++) {
        const float* row = cache + (long)rows[r0 + i] * W;
        const double p = std::exp((double)sc[i] - mx);
        sum += p;
        for (int c = 0; c < R; c++) acc[c] += p * row[c];
      }
      for (int c = 0; c < R; c++) o[c] = (float)(acc[c] / sum);
    }
  }
}

void gqa_decode_attention(float* out, const float* q, const float* cache, const int* rows,
                          const int* row_start, int B, int NH, int NKV, int D, float scale) {
  AHA_CHECK(row_start[0] == 0, "gqa_decode_attention: row_start[0] must be 0");
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "gqa_decode_attention: NH must be a multiple of NKV");
  const int group = NH / NKV;
  const long W = 2L * NKV * D;
  std::vector<float> sc;
  std::vector<double> acc(D);
  for (int b = 0; b < B; b++) {
    const int r0 = row_start[b], L = row_start[b + 1] - r0;
    AHA_CHECK(L >= 0, "gqa_decode_attention: row_start must be non-decreasing");
    sc.resize(std::max(L, 1));
    for (int h = 0; h < NH; h++) {
      const float* qh = q + ((long)b * NH + h) * D;
      const long ko = (long)(h / group) * D, vo = (long)NKV * D + ko;
      float* o = out + ((long)b * NH + h) * D;
      if (L == 0) {  // nothing to attend to: a zero output rather than 0/0
        for (int c = 0; c < D; c++) o[c] = 0.0f;
        continue;
      }
      float mx = -std::numeric_limits<float>::infinity();
      for (int i = 0; i < L; i++) {
        const float* kr = cache + (long)rows[r0 + i] * W + ko;
        float s = 0.0f;
        for (int c = 0; c < D; c++) s += qh[c] * kr[c];
        sc[i] = s * scale;
        mx = std::max(mx, sc[i]);
      }
      double sum = 0.0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int i = 0; i < L; i++) {
        const float* vr = cache + (long)rows[r0 + i] * W + vo;
        const double p = std::exp((double)sc[i] - mx);
        sum += p;
        for (int c = 0; c < D; c++) acc[c] += p * vr[c];
      }
      for (int c = 0; c < D; c++) o[c] = (float)(acc[c] / sum);
    }
  }
}

}  // namespace aha
