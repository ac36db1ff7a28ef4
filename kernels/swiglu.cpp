#include "kernels/swiglu.h"

#include <algorithm>

#include "kernels/parallel.h"
#include "kernels/vec.h"

namespace aha {

// Elements per parallel item (elementwise: results do not depend on the split).
static constexpr long kChunk = 16384;

namespace {

AHA_VEC_CLONES void swiglu_forward_range(float* out, const float* gate, const float* up, long n) {
  for (long i = 0; i < n; i += kVec) {
    const long m = std::min<long>(kVec, n - i);
    vfloat g, u;
    if (m == kVec) {
      vec_load(g, gate + i);
      vec_load(u, up + i);
    } else {
      vec_load_part(g, gate + i, m);
      vec_load_part(u, up + i, m);
    }
    vfloat e = -g;
    vec_exp(e);
    const vfloat o = g / (1.0f + e) * u;  // silu(g) * up
    if (m == kVec)
      vec_store(out + i, o);
    else
      vec_store_part(out + i, o, m);
  }
}

AHA_VEC_CLONES void swiglu_backward_range(float* dgate, float* dup, const float* dout,
                                          const float* gate, const float* up, long n) {
  for (long i = 0; i < n; i += kVec) {
    const long m = std::min<long>(kVec, n - i);
    vfloat g, u, d, dg, du;
    if (m == kVec) {
      vec_load(g, gate + i);
      vec_load(u, up + i);
      vec_load(d, dout + i);
      vec_load(dg, dgate + i);
      vec_load(du, dup + i);
    } else {
      vec_load_part(g, gate + i, m);
      vec_load_part(u, up + i, m);
      vec_load_part(d, dout + i, m);
      vec_load_part(dg, dgate + i, m);
      vec_load_part(du, dup + i, m);
    }
    vfloat e = -g;
    vec_exp(e);
    const vfloat sig = 1.0f / (1.0f + e);
    // d silu/dg = sig * (1 + g * (1 - sig))
    dg += d * u * sig * (1.0f + g * (1.0f - sig));
    du += d * (g * sig);
    if (m == kVec) {
      vec_store(dgate + i, dg);
      vec_store(dup + i, du);
    } else {
      vec_store_part(dgate + i, dg, m);
      vec_store_part(dup + i, du, m);
    }
  }
}

}  // namespace

void swiglu_forward(float* out, const float* gate, const float* up, long N) {
  parallel_for(static_cast<int>((N + kChunk - 1) / kChunk), [&](int item) {
    const long i0 = item * kChunk;
    swiglu_forward_range(out + i0, gate + i0, up + i0, std::min(N, i0 + kChunk) - i0);
  });
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, long N) {
  parallel_for(static_cast<int>((N + kChunk - 1) / kChunk), [&](int item) {
    const long i0 = item * kChunk;
    swiglu_backward_range(dgate + i0, dup + i0, dout + i0, gate + i0, up + i0,
                          std::min(N, i0 + kChunk) - i0);
  });
}

}  // namespace aha
