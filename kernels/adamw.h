// AdamW (decoupled weight decay) over a flat parameter buffer. step counts from 1.
#pragma once

namespace aha {

struct AdamWParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

// params[n], m[n], v[n] updated in place from grads[n].
void adamw_update(float* params, const float* grads, float* m, float* v, long n, int step,
                  const AdamWParams& p);

// Global L2 norm of grads[n] (accumulated in double, in fixed chunks summed in order).
double grad_norm(const float* grads, long n);

}  // namespace aha
