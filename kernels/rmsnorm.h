// RMSNorm: out = inp / sqrt(mean(inp^2) + eps) * weight, per row of C values.
// rstd[N] keeps 1/sqrt(mean+eps) from the forward for the backward. Backward accumulates (+=).
#pragma once

namespace aha {

// out[N,C], rstd[N] (may be null), inp[N,C], weight[C]
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                     float eps);
// dinp[N,C] +=, dweight[C] +=; dout[N,C], inp[N,C], weight[C], rstd[N]
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C);

}  // namespace aha
