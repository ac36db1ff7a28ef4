#include "kernels/embedding.h"

#include <cstring>
#include <string>

#include "kernels/check.h"

namespace aha {

void embedding_forward(float* out, const int* tokens, const float* wte, int N, int V, int C) {
  for (int n = 0; n < N; n++) {
    int t = tokens[n];
    AHA_CHECK(t >= 0 && t < V, "embedding: token " + std::to_string(t) + " at position " +
                                   std::to_string(n) + " outside [0, " + std::to_string(V) + ")");
    std::memcpy(out + (long)n * C, wte + (long)t * C, sizeof(float) * C);
  }
}

void embedding_backward(float* dwte, const float* dout, const int* tokens, int N, int C) {
  for (int n = 0; n < N; n++) {
    AHA_CHECK(tokens[n] >= 0, "embedding_backward: negative token id");
    float* dw = dwte + (long)tokens[n] * C;
    const float* d = dout + (long)n * C;
    for (int c = 0; c < C; c++) dw[c] += d[c];
  }
}

}  // namespace aha
