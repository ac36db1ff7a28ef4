#include "kernels/linear.h"

#include <cstddef>

#include "kernels/gemm.h"

namespace aha {

void linear_forward(float* out, const float* inp, const float* weight, int N, int IC, int OC) {
  if (N == 0 || OC == 0) return;
  if (IC == 0) {  // empty reduction: BLAS would reject lda = 0
    for (long i = 0; i < (long)N * OC; i++) out[i] = 0.0f;
    return;
  }
  sgemm(false, true, N, OC, IC, 1.0f, inp, IC, weight, IC, 0.0f, out, OC);
}

void linear_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC) {
  if (N == 0 || IC == 0 || OC == 0) return;
  if (dinp)  // dinp[N,IC] += dout[N,OC] · weight[OC,IC]
    sgemm_gradient(false, false, N, IC, OC, 1.0f, dout, OC, weight, IC, 1.0f, dinp, IC);
  if (dweight)  // dweight[OC,IC] += dout[N,OC]ᵀ · inp[N,IC]
    sgemm_gradient(true, false, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
}

void bias_forward(float* out, const float* bias, int N, int OC) {
  for (int n = 0; n < N; n++) {
    float* o = out + static_cast<size_t>(n) * OC;
    for (int j = 0; j < OC; j++) o[j] += bias[j];
  }
}

void bias_backward(float* dbias, const float* dout, int N, int OC) {
  for (int n = 0; n < N; n++) {
    const float* d = dout + static_cast<size_t>(n) * OC;
    for (int j = 0; j < OC; j++) dbias[j] += d[j];
  }
}

}  // namespace aha
