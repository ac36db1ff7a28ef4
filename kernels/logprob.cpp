#include "kernels/logprob.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/check.h"
#include "kernels/parallel.h"

namespace aha {

// Rows per parallel item: rows are independent, each item writes only its own.
static constexpr int kRows = 64;

// A target < 0 gives logp 0, but lse and entropy are still those of the full distribution.
void logprob_forward(float* logp, float* lse, float* entropy, const float* logits,
                     const int* targets, int N, int V, float inv_temp) {
  AHA_CHECK(V > 0, "logprob_forward: V must be positive");
  for (int n = 0; n < N; n++)
    AHA_CHECK(targets[n] < V, "logprob_forward: target " + std::to_string(targets[n]) +
                                  " at position " + std::to_string(n) +
                                  " >= V = " + std::to_string(V));
  parallel_for((N + kRows - 1) / kRows, [&](int item) {
    for (int n = item * kRows; n < std::min(N, (item + 1) * kRows); n++) {
      const float* x = logits + (long)n * V;
      int t = targets[n];
      float mx = x[0] * inv_temp;
      for (int j = 1; j < V; j++) mx = std::fmax(mx, x[j] * inv_temp);
      // Double sums: V is ~1e5 and the result feeds importance ratios exp(logp - logp_old).
      double sum = 0.0, zsum = 0.0;
      for (int j = 0; j < V; j++) {
        double z = (double)(x[j] * inv_temp) - mx;
        double e = std::exp(z);
        sum += e;
        zsum += e * z;
      }
      double log_sum = std::log(sum);
      double l = mx + log_sum;
      lse[n] = (float)l;
      logp[n] = t >= 0 ? (float)((double)(x[t] * inv_temp) - l) : 0.0f;
      // H = -Σ p log p = log Σe - Σ e z / Σ e, with z the max-shifted scaled logits.
      if (entropy) entropy[n] = (float)(log_sum - zsum / sum);
    }
  });
}

void logprob_backward(float* dlogits, const float* dlogp, const float* logits, const float* lse,
                      const int* targets, int N, int V, float inv_temp) {
  for (int n = 0; n < N; n++) AHA_CHECK(targets[n] < V, "logprob_backward: target >= V");
  parallel_for((N + kRows - 1) / kRows, [&](int item) {
    for (int n = item * kRows; n < std::min(N, (item + 1) * kRows); n++) {
      int t = targets[n];
      if (t < 0) continue;
      const float* x = logits + (long)n * V;
      float* dx = dlogits + (long)n * V;
      float g = dlogp[n] * inv_temp;
      double l = lse[n];
      for (int j = 0; j < V; j++) dx[j] -= g * (float)std::exp((double)(x[j] * inv_temp) - l);
      dx[t] += g;
    }
  });
}

float logprob_mean_nll(const float* logp, const int* targets, int N) {
  double loss = 0;
  int count = 0;
  for (int n = 0; n < N; n++) {
    if (targets[n] < 0) continue;
    loss -= logp[n];
    count++;
  }
  return count > 0 ? static_cast<float>(loss / count) : 0.0f;
}

}  // namespace aha
