#include "kernels/swiglu.h"

#include <cmath>

namespace aha {

void swiglu_forward(float* out, const float* gate, const float* up, long N) {
  for (long i = 0; i < N; i++) {
    float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, long N) {
  for (long i = 0; i < N; i++) {
    float g = gate[i];
    float sig = 1.0f / (1.0f + std::exp(-g));
    float silu = g * sig;
    // d silu/dg = sig * (1 + g * (1 - sig))
    dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    dup[i] += dout[i] * silu;
  }
}

}  // namespace aha
