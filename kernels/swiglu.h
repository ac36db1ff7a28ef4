// SwiGLU activation: out = silu(gate) * up, silu(x) = x * sigmoid(x). Backward accumulates (+=).
#pragma once

namespace aha {

// out[N] = silu(gate[N]) * up[N]   (N = rows * width, elementwise)
void swiglu_forward(float* out, const float* gate, const float* up, long N);
// dgate[N] +=, dup[N] +=
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, long N);

}  // namespace aha
