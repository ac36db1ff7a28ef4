// SwiGLU activation: out = silu(gate) * up, silu(x) = x * sigmoid(x). Backward accumulates (+=).
#pragma once

namespace aha {

// out[N] = silu(gate[N]) * up[N]   (N = rows * width, elementwise)
void swiglu_forward(float* out, const float* gate, const float* up, long N);
// dgate[N] +=, dup[N] +=
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, long N);

#ifdef AHA_HAVE_CUDA
// Same as swiglu_forward on device pointers (kernels/cuda/swiglu.cu).
void swiglu_forward_cuda(float* out, const float* gate, const float* up, long N);
#endif

}  // namespace aha
