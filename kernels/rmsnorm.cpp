#include "kernels/rmsnorm.h"

#include <algorithm>
#include <cmath>

#include "kernels/check.h"
#include "kernels/parallel.h"
#include "kernels/vec.h"

namespace aha {

// Rows per parallel item: each item writes only its rows, so results do not depend on threads.
static constexpr int kRows = 64;

namespace {

// Σ_c a_c b_c (c_c) over one row, in double (C can be 7168 and the sum feeds every output);
// eight partial sums, combined in a fixed order.
AHA_VEC_INLINE double dot_double(const float* a, const float* b, const float* c, int C) {
  vdouble acc = {};
  for (int i = 0; i < C; i += kVecD) {
    const long m = std::min(kVecD, C - i);
    vdouble x, y;
    vec_load_double(x, a + i, m);
    vec_load_double(y, b + i, m);
    if (c) {
      vdouble z;
      vec_load_double(z, c + i, m);
      acc += x * y * z;
    } else {
      acc += x * y;
    }
  }
  return vec_sum(acc);
}

AHA_VEC_CLONES void forward_rows(float* out, float* rstd, const float* inp, const float* weight,
                                 int n0, int n1, int C, float eps) {
  for (int n = n0; n < n1; n++) {
    const float* x = inp + (long)n * C;
    float* o = out + (long)n * C;
    const float r = (float)(1.0 / std::sqrt(dot_double(x, x, nullptr, C) / C + eps));
    for (int c = 0; c < C; c += kVec) {
      const long m = std::min(kVec, C - c);
      vfloat xv, wv;
      if (m == kVec) {
        vec_load(xv, x + c);
        vec_load(wv, weight + c);
        vec_store(o + c, xv * r * wv);
      } else {
        vec_load_part(xv, x + c, m);
        vec_load_part(wv, weight + c, m);
        vec_store_part(o + c, xv * r * wv, m);
      }
    }
    if (rstd) rstd[n] = r;
  }
}

AHA_VEC_CLONES void backward_rows(float* dinp, const float* dout, const float* inp,
                                  const float* weight, const float* rstd, int n0, int n1, int C) {
  for (int n = n0; n < n1; n++) {
    const float* x = inp + (long)n * C;
    const float* d = dout + (long)n * C;
    const float r = rstd[n];
    // out_c = x_c r w_c with r = (mean(x^2)+eps)^(-1/2), so dr/dx_j = -r^3 x_j / C.
    const float k = (float)(dot_double(d, weight, x, C) * r * r / C);  // Σ_c dout_c w_c x_c
    float* dx = dinp + (long)n * C;
    for (int c = 0; c < C; c += kVec) {
      const long m = std::min(kVec, C - c);
      vfloat xv, dv, wv, gv;
      if (m == kVec) {
        vec_load(xv, x + c);
        vec_load(dv, d + c);
        vec_load(wv, weight + c);
        vec_load(gv, dx + c);
        vec_store(dx + c, gv + r * (dv * wv - xv * k));
      } else {
        vec_load_part(xv, x + c, m);
        vec_load_part(dv, d + c, m);
        vec_load_part(wv, weight + c, m);
        vec_load_part(gv, dx + c, m);
        vec_store_part(dx + c, gv + r * (dv * wv - xv * k), m);
      }
    }
  }
}

// dweight_c += Σ_n dout_nc x_nc rstd_n, rows in order (vectors run across c).
AHA_VEC_CLONES void weight_grad(float* dweight, const float* dout, const float* inp,
                                const float* rstd, int N, int C) {
  for (int c = 0; c < C; c += kVec) {
    const long m = std::min(kVec, C - c);
    vfloat acc, xv, dv;
    if (m == kVec) {
      vec_load(acc, dweight + c);
      for (int n = 0; n < N; n++) {
        vec_load(xv, inp + (long)n * C + c);
        vec_load(dv, dout + (long)n * C + c);
        acc += dv * xv * rstd[n];
      }
      vec_store(dweight + c, acc);
    } else {
      vec_load_part(acc, dweight + c, m);
      for (int n = 0; n < N; n++) {
        vec_load_part(xv, inp + (long)n * C + c, m);
        vec_load_part(dv, dout + (long)n * C + c, m);
        acc += dv * xv * rstd[n];
      }
      vec_store_part(dweight + c, acc, m);
    }
  }
}

}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                     float eps) {
  parallel_for((N + kRows - 1) / kRows, [&](int item) {
    forward_rows(out, rstd, inp, weight, item * kRows, std::min(N, (item + 1) * kRows), C, eps);
  });
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C) {
  AHA_CHECK(rstd != nullptr, "rmsnorm_backward needs rstd from the forward");
  if (dinp)  // rows in parallel
    parallel_for((N + kRows - 1) / kRows, [&](int item) {
      backward_rows(dinp, dout, inp, weight, rstd, item * kRows, std::min(N, (item + 1) * kRows),
                    C);
    });
  if (dweight)  // a sum over rows: one thread, rows in order
    weight_grad(dweight, dout, inp, rstd, N, C);
}

}  // namespace aha
