#include "kernels/rmsnorm.h"

#include <algorithm>
#include <cmath>

#include "kernels/check.h"
#include "kernels/parallel.h"

namespace aha {

// Rows per parallel item: each item writes only its rows, so results do not depend on threads.
static constexpr int kRows = 64;

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                     float eps) {
  parallel_for((N + kRows - 1) / kRows, [&](int item) {
    for (int n = item * kRows; n < std::min(N, (item + 1) * kRows); n++) {
      const float* x = inp + (long)n * C;
      float* o = out + (long)n * C;
      double ss = 0.0;  // double: C can be 7168 and the mean feeds every output
      for (int c = 0; c < C; c++) ss += (double)x[c] * x[c];
      float r = (float)(1.0 / std::sqrt(ss / C + eps));
      for (int c = 0; c < C; c++) o[c] = x[c] * r * weight[c];
      if (rstd) rstd[n] = r;
    }
  });
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C) {
  AHA_CHECK(rstd != nullptr, "rmsnorm_backward needs rstd from the forward");
  if (dinp)  // rows in parallel
    parallel_for((N + kRows - 1) / kRows, [&](int item) {
      for (int n = item * kRows; n < std::min(N, (item + 1) * kRows); n++) {
        const float* x = inp + (long)n * C;
        const float* d = dout + (long)n * C;
        float r = rstd[n];
        // out_c = x_c r w_c with r = (mean(x^2)+eps)^(-1/2), so dr/dx_j = -r^3 x_j / C.
        double dot = 0.0;  // Σ_c dout_c w_c x_c
        for (int c = 0; c < C; c++) dot += (double)d[c] * weight[c] * x[c];
        float k = (float)(dot * r * r / C);
        float* dx = dinp + (long)n * C;
        for (int c = 0; c < C; c++) dx[c] += r * (d[c] * weight[c] - x[c] * k);
      }
    });
  if (dweight)  // a sum over rows: one thread, rows in order
    for (int n = 0; n < N; n++) {
      const float* x = inp + (long)n * C;
      const float* d = dout + (long)n * C;
      for (int c = 0; c < C; c++) dweight[c] += d[c] * x[c] * rstd[n];
    }
}

}  // namespace aha
