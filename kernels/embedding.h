// Token embedding lookup. Invariant: every token id is in [0, V); a bad id fails an AHA_CHECK.
// Backward functions in kernels/ ACCUMULATE (+=) into their gradient outputs, as in llm.c.
#pragma once

namespace aha {

// out[N,C] = wte[tokens[n], :]
void embedding_forward(float* out, const int* tokens, const float* wte, int N, int V, int C);
// dwte[tokens[n], :] += dout[n, :]
void embedding_backward(float* dwte, const float* dout, const int* tokens, int N, int C);

}  // namespace aha
