#include "kernels/adamw.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/check.h"
#include "kernels/parallel.h"

namespace aha {

// Elements per parallel item: elementwise, or a partial sum combined in item order, so results
// do not depend on the thread count.
static constexpr long kChunk = 1 << 15;

static int num_chunks(long n) {
  return static_cast<int>((n + kChunk - 1) / kChunk);
}

void adamw_update(float* params, const float* grads, float* m, float* v, long n, int step,
                  const AdamWParams& p) {
  AHA_CHECK(step >= 1, "adamw_update: step counts from 1");
  // Bias corrections in double: 1 - beta2^t is tiny for small t and would lose digits in float.
  float bc1 = (float)(1.0 - std::pow((double)p.beta1, step));
  float bc2 = (float)(1.0 - std::pow((double)p.beta2, step));
  float decay = 1.0f - p.lr * p.weight_decay;  // decoupled: p -= lr * wd * p
  parallel_for(num_chunks(n), [&](int c) {
    for (long i = c * kChunk; i < std::min(n, (c + 1) * kChunk); i++) {
      float g = grads[i];
      m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * g;
      v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
      float mhat = m[i] / bc1;
      float vhat = v[i] / bc2;
      params[i] = params[i] * decay - p.lr * mhat / (std::sqrt(vhat) + p.eps);
    }
  });
}

double grad_norm(const float* grads, long n) {
  std::vector<double> part(num_chunks(n), 0.0);
  parallel_for(num_chunks(n), [&](int c) {
    double ss = 0.0;
    for (long i = c * kChunk; i < std::min(n, (c + 1) * kChunk); i++)
      ss += (double)grads[i] * grads[i];
    part[c] = ss;
  });
  double ss = 0.0;
  for (double x : part) ss += x;
  return std::sqrt(ss);
}

}  // namespace aha
