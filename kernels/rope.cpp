#include "kernels/rope.h"

#include <cmath>
#include <vector>

#include "kernels/check.h"

namespace aha {

// Rotates every pair by +angle (sign = 1) or -angle (sign = -1). Angles in double: positions
// reach 1e5 and a float angle would lose the low frequencies' phase.
static void rope_apply(float* x, const int* positions, int N, int H, int token_stride,
                       int head_stride, int D, float theta, bool interleaved, double sign) {
  AHA_CHECK(D % 2 == 0, "rope: D must be even");
  int P = D / 2;
  std::vector<double> inv_freq(P);
  for (int i = 0; i < P; i++) inv_freq[i] = std::pow((double)theta, -2.0 * i / D);
  std::vector<float> cs(P), sn(P);
  for (int n = 0; n < N; n++) {
    for (int i = 0; i < P; i++) {
      double a = positions[n] * inv_freq[i];
      cs[i] = (float)std::cos(a);
      sn[i] = (float)(sign * std::sin(a));
    }
    for (int h = 0; h < H; h++) {
      float* v = x + (long)n * token_stride + (long)h * head_stride;
      for (int i = 0; i < P; i++) {
        float* a = interleaved ? v + 2 * i : v + i;
        float* b = interleaved ? v + 2 * i + 1 : v + i + P;
        float x0 = *a, x1 = *b;
        *a = x0 * cs[i] - x1 * sn[i];
        *b = x0 * sn[i] + x1 * cs[i];
      }
    }
  }
}

void rope_forward(float* x, const int* positions, int N, int H, int token_stride, int head_stride,
                  int D, float theta, bool interleaved) {
  rope_apply(x, positions, N, H, token_stride, head_stride, D, theta, interleaved, 1.0);
}

void rope_backward(float* dx, const int* positions, int N, int H, int token_stride, int head_stride,
                   int D, float theta, bool interleaved) {
  rope_apply(dx, positions, N, H, token_stride, head_stride, D, theta, interleaved, -1.0);
}

}  // namespace aha
