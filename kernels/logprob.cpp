#include "kernels/logprob.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/check.h"
#include "kernels/parallel.h"
#include "kernels/vec.h"

namespace aha {

// Rows per parallel item: rows are independent, each item writes only its own.
static constexpr int kRows = 64;
// Elements whose exps are summed in float lanes before the lanes are added into double: each
// lane adds 64 terms in (0, 1], so the float partial sums lose nothing that matters at V ~ 1e5.
static constexpr int kBlock = 64 * kVec;

namespace {

// Lanes [m, kVec) of x set to zero.
AHA_VEC_INLINE void vec_keep_first(vfloat& x, long m) {
  const vint lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  x = lane < static_cast<int>(m) ? x : 0.0f;
}

// Σ of the 16 lanes in double, in a fixed order.
AHA_VEC_INLINE double vec_sum_double(const vfloat& x) {
  vfloat8 lo, hi;
  std::memcpy(&lo, &x, sizeof lo);
  std::memcpy(&hi, reinterpret_cast<const char*>(&x) + sizeof lo, sizeof hi);
  return vec_sum(__builtin_convertvector(lo, vdouble) + __builtin_convertvector(hi, vdouble));
}

// z = m (<= kVec) logits from x, scaled and shifted: x * inv_temp - shift (lanes past m undefined).
AHA_VEC_INLINE void load_shifted(vfloat& z, const float* x, long m, float inv_temp, float shift) {
  if (m == kVec)
    vec_load(z, x);
  else
    vec_load_part(z, x, m);
  z = z * inv_temp - shift;
}

// One row: max of the scaled logits, then Σ e^z and Σ e^z z over z = x * inv_temp - max, the
// exps vectorised (vec_exp) and the sums kept in double across blocks.
AHA_VEC_CLONES void row_forward(const float* x, int V, float inv_temp, float* mx_out,
                                double* sum_out, double* zsum_out) {
  vfloat vmx = {};
  for (long j = 0; j < V; j += kVec) {
    const long m = std::min<long>(kVec, V - j);
    vfloat v;
    if (m == kVec) {
      vec_load(v, x + j);
    } else {
      vec_load_part(v, x + j, m);
      // Padding lanes repeat the row's first logit so they cannot raise the max.
      const vint lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
      v = lane < static_cast<int>(m) ? v : x[0];
    }
    v *= inv_temp;
    vmx = j == 0 ? v : (v > vmx ? v : vmx);
  }
  float mx = vmx[0];
  for (int i = 1; i < kVec; i++) mx = std::fmax(mx, vmx[i]);
  double sum = 0.0, zsum = 0.0;
  for (long b = 0; b < V; b += kBlock) {
    const long end = std::min<long>(V, b + kBlock);
    vfloat s = {}, zs = {};
    for (long j = b; j < end; j += kVec) {
      const long m = std::min<long>(kVec, end - j);
      vfloat z;
      load_shifted(z, x + j, m, inv_temp, mx);
      vfloat e = z;
      vec_exp(e);
      if (m < kVec) vec_keep_first(e, m);
      s += e;
      zs += e * z;
    }
    sum += vec_sum_double(s);
    zsum += vec_sum_double(zs);
  }
  *mx_out = mx;
  *sum_out = sum;
  *zsum_out = zsum;
}

// dx = -g * softmax(x * inv_temp) (lse the row's log-sum-exp), written, not accumulated.
AHA_VEC_CLONES void row_backward(float* dx, const float* x, int V, float inv_temp, float g,
                                 float lse) {
  for (long j = 0; j < V; j += kVec) {
    const long m = std::min<long>(kVec, V - j);
    vfloat z;
    load_shifted(z, x + j, m, inv_temp, lse);
    vec_exp(z);
    const vfloat d = -g * z;
    if (m == kVec)
      vec_store(dx + j, d);
    else
      vec_store_part(dx + j, d, m);
  }
}

}  // namespace

// A target < 0 gives logp 0, but lse and entropy are still those of the full distribution.
void logprob_forward(float* logp, float* lse, float* entropy, const float* logits,
                     const int* targets, int N, int V, float inv_temp) {
  AHA_CHECK(V > 0, "logprob_forward: V must be positive");
  for (int n = 0; n < N; n++)
    AHA_CHECK(targets[n] < V, "logprob_forward: target " + std::to_string(targets[n]) +
                                  " at position " + std::to_string(n) +
                                  " >= V = " + std::to_string(V));
  parallel_for((N + kRows - 1) / kRows, [&](int item) {
    for (int n = item * kRows; n < std::min(N, (item + 1) * kRows); n++) {
      const float* x = logits + (long)n * V;
      const int t = targets[n];
      float mx;
      double sum, zsum;
      row_forward(x, V, inv_temp, &mx, &sum, &zsum);
      // The log in double: the result feeds importance ratios exp(logp - logp_old).
      const double log_sum = std::log(sum);
      const double l = mx + log_sum;
      lse[n] = (float)l;
      logp[n] = t >= 0 ? (float)((double)(x[t] * inv_temp) - l) : 0.0f;
      // H = -Σ p log p = log Σe - Σ e z / Σ e, with z the max-shifted scaled logits.
      if (entropy) entropy[n] = (float)(log_sum - zsum / sum);
    }
  });
}

void logprob_backward(float* dlogits, const float* dlogp, const float* logits, const float* lse,
                      const int* targets, int N, int V, float inv_temp) {
  logprob_backward_cols(dlogits, dlogp, logits, lse, targets, N, V, 0, V, inv_temp);
}

void logprob_backward_cols(float* dlogits_cols, const float* dlogp, const float* logits,
                           const float* lse, const int* targets, int N, int V, int v0, int vc,
                           float inv_temp) {
  AHA_CHECK(v0 >= 0 && vc >= 0 && v0 + vc <= V, "logprob_backward: columns outside [0, V)");
  for (int n = 0; n < N; n++) AHA_CHECK(targets[n] < V, "logprob_backward: target >= V");
  parallel_for((N + kRows - 1) / kRows, [&](int item) {
    for (int n = item * kRows; n < std::min(N, (item + 1) * kRows); n++) {
      const int t = targets[n];
      float* dx = dlogits_cols + (long)n * vc;
      if (t < 0) {
        std::memset(dx, 0, sizeof(float) * vc);
        continue;
      }
      const float g = dlogp[n] * inv_temp;
      row_backward(dx, logits + (long)n * V + v0, vc, inv_temp, g, lse[n]);
      if (t >= v0 && t < v0 + vc) dx[t - v0] += g;
    }
  });
}

float logprob_mean_nll(const float* logp, const int* targets, int N) {
  double loss = 0;
  int count = 0;
  for (int n = 0; n < N; n++) {
    if (targets[n] < 0) continue;
    loss -= logp[n];
    count++;
  }
  return count > 0 ? static_cast<float>(loss / count) : 0.0f;
}

}  // namespace aha
