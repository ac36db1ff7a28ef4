// Linear layer through sgemm (kernels/gemm.h), weights in the HF layout [OC, IC]: out = inp ·
// weightᵀ. Backward accumulates (+=) into dinp and dweight; either may be null to skip it.
#pragma once
#include "kernels/gemm.h"  // blas_set_threads, for callers of the linear layer

namespace aha {

// out[N,OC] = inp[N,IC] · weight[OC,IC]ᵀ  (overwrites out)
void linear_forward(float* out, const float* inp, const float* weight, int N, int IC, int OC);
// dinp[N,IC] += dout[N,OC] · weight[OC,IC];  dweight[OC,IC] += dout[N,OC]ᵀ · inp[N,IC]
void linear_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                     const float* weight, int N, int IC, int OC);

// out[N,OC] += bias[OC] (HF Linear with bias=True); dbias[OC] += Σ_n dout[n,:]
void bias_forward(float* out, const float* bias, int N, int OC);
void bias_backward(float* dbias, const float* dout, int N, int OC);

}  // namespace aha
