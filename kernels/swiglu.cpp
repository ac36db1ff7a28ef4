#include "kernels/swiglu.h"

#include <algorithm>
#include <cmath>

#include "kernels/parallel.h"

namespace aha {

// Elements per parallel item (elementwise: results do not depend on the split).
static constexpr long kChunk = 16384;

void swiglu_forward(float* out, const float* gate, const float* up, long N) {
  parallel_for(static_cast<int>((N + kChunk - 1) / kChunk), [&](int item) {
    for (long i = item * kChunk; i < std::min(N, (item + 1) * kChunk); i++) {
      float g = gate[i];
      out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  });
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, long N) {
  parallel_for(static_cast<int>((N + kChunk - 1) / kChunk), [&](int item) {
    for (long i = item * kChunk; i < std::min(N, (item + 1) * kChunk); i++) {
      float g = gate[i];
      float sig = 1.0f / (1.0f + std::exp(-g));
      float silu = g * sig;
      // d silu/dg = sig * (1 + g * (1 - sig))
      dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
      dup[i] += dout[i] * silu;
    }
  });
}

}  // namespace aha
