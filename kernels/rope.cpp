#include "kernels/rope.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/check.h"

namespace aha {

double rope_yarn_mscale(double scale, double m) {
  return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
}

double rope_frequencies(double* inv_freq, int D, double theta, const RopeScaling& s) {
  AHA_CHECK(D > 0 && D % 2 == 0, "rope: D must be positive and even");
  const int P = D / 2;
  for (int i = 0; i < P; i++) inv_freq[i] = std::pow(theta, -2.0 * i / D);
  if (s.type == RopeType::kNone) return 1.0;
  AHA_CHECK(s.factor > 0, "rope scaling: factor must be > 0");
  if (s.type == RopeType::kLinear) {
    for (int i = 0; i < P; i++) inv_freq[i] /= s.factor;
    return 1.0;
  }
  AHA_CHECK(s.original_max_position_embeddings > 0,
            "yarn: original_max_position_embeddings must be > 0");
  // The dim whose pair turns `rot` times over the original context (YaRN's inverse formula).
  const double orig = s.original_max_position_embeddings;
  auto correction_dim = [&](double rot) {
    return D * std::log(orig / (rot * 2.0 * M_PI)) / (2.0 * std::log(theta));
  };
  double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(D - 1));
  if (low == high) high += 0.001;  // avoids 0/0 in the ramp
  for (int i = 0; i < P; i++) {
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    // ramp 0: high-frequency pairs keep their frequency; ramp 1: interpolated by the factor.
    inv_freq[i] = inv_freq[i] / s.factor * ramp + inv_freq[i] * (1.0 - ramp);
  }
  if (s.attention_factor > 0) return s.attention_factor;
  if (s.mscale != 0 && s.mscale_all_dim != 0)
    return rope_yarn_mscale(s.factor, s.mscale) / rope_yarn_mscale(s.factor, s.mscale_all_dim);
  return rope_yarn_mscale(s.factor, 1.0);
}

// Rotates every pair by +angle (sign = 1) or -angle (sign = -1). Angles in double: positions
// reach 1e5 and a float angle would lose the low frequencies' phase.
static void rope_apply(float* x, const int* positions, int N, int NH, int token_stride,
                       int head_stride, int D, const double* inv_freq, float attn_factor,
                       bool interleaved, double sign) {
  AHA_CHECK(D % 2 == 0, "rope: D must be even");
  const int P = D / 2;
  std::vector<float> cs(P), sn(P);
  for (int n = 0; n < N; n++) {
    for (int i = 0; i < P; i++) {
      const double a = positions[n] * inv_freq[i];
      cs[i] = static_cast<float>(std::cos(a) * attn_factor);
      sn[i] = static_cast<float>(sign * std::sin(a) * attn_factor);
    }
    for (int h = 0; h < NH; h++) {
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

void rope_forward(float* x, const int* positions, int N, int NH, int token_stride, int head_stride,
                  int D, const double* inv_freq, float attn_factor, bool interleaved) {
  rope_apply(x, positions, N, NH, token_stride, head_stride, D, inv_freq, attn_factor, interleaved,
             1.0);
}

void rope_backward(float* dx, const int* positions, int N, int NH, int token_stride,
                   int head_stride, int D, const double* inv_freq, float attn_factor,
                   bool interleaved) {
  rope_apply(dx, positions, N, NH, token_stride, head_stride, D, inv_freq, attn_factor, interleaved,
             -1.0);
}

}  // namespace aha
