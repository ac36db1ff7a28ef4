// Sixteen-float vectors for the elementwise CPU kernels (GCC vector extensions), and an exp that
// vectorises (libm's expf is a scalar call per element).
//
// Invariants:
// - A kernel marked AHA_VEC_CLONES is compiled for AVX-512, AVX2+FMA and baseline x86-64, chosen
//   once at load time from the CPU (GCC's target_clones); elsewhere it is compiled once.
// - Every element goes through the same vector code, the last partial block padded with zeros
//   (vec_load_part / vec_store_part), so a result depends only on its inputs, not on where a
//   thread's slice starts.
// - vec_exp: Cephes' expf polynomial, within 2 ulp of exp over [-87, 88]; inputs are clamped to
//   that range (exp(-100) gives ~1.6e-38 rather than 0); NaN stays NaN.
#pragma once
#include <cstring>

namespace aha {

// ThreadSanitizer instruments the clones' resolvers, which the loader runs before TSan is set up
// (every TSan binary crashed at start): a TSan build keeps the default clone only.
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define AHA_VEC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AHA_VEC_CLONES
#endif
#define AHA_VEC_INLINE __attribute__((always_inline)) inline

constexpr int kVec = 16;
typedef float vfloat __attribute__((vector_size(kVec * sizeof(float))));
typedef int vint __attribute__((vector_size(kVec * sizeof(int))));

// Eight doubles, for sums that stay in double (norms over wide rows).
constexpr int kVecD = 8;
typedef float vfloat8 __attribute__((vector_size(kVecD * sizeof(float))));
typedef double vdouble __attribute__((vector_size(kVecD * sizeof(double))));

// Vectors pass by reference: helpers are always inlined, so no ABI of 64-byte arguments arises.
AHA_VEC_INLINE void vec_load(vfloat& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}
AHA_VEC_INLINE void vec_store(float* p, const vfloat& v) {
  std::memcpy(p, &v, sizeof v);
}
// The first n (< kVec) floats of p, the rest zero.
AHA_VEC_INLINE void vec_load_part(vfloat& v, const float* p, long n) {
  float buf[kVec] = {};
  std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
  std::memcpy(&v, buf, sizeof v);
}
AHA_VEC_INLINE void vec_store_part(float* p, const vfloat& v, long n) {
  float buf[kVec];
  std::memcpy(buf, &v, sizeof v);
  std::memcpy(p, buf, static_cast<size_t>(n) * sizeof(float));
}

// The first n (<= kVecD) floats of p as doubles, the rest zero.
AHA_VEC_INLINE void vec_load_double(vdouble& v, const float* p, long n) {
  vfloat8 f = {};
  if (n == kVecD)
    std::memcpy(&f, p, sizeof f);
  else
    std::memcpy(&f, p, static_cast<size_t>(n) * sizeof(float));
  v = __builtin_convertvector(f, vdouble);
}
// Σ v in a fixed order.
AHA_VEC_INLINE double vec_sum(const vdouble& v) {
  return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]));
}

// x = exp(x), elementwise.
AHA_VEC_INLINE void vec_exp(vfloat& x) {
  x = x > 88.0f ? 88.0f : x;  // comparisons with NaN are false: NaN passes through
  x = x < -87.0f ? -87.0f : x;
  // n = round(x / ln 2) (adding 1.5 * 2^23 rounds to an integer), r = x - n ln 2 in two parts.
  const vfloat n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  vfloat r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vfloat y = 1.9875691500e-4f * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const vint bits = (__builtin_convertvector(n, vint) + 127) << 23;  // 2^n
  vfloat scale;
  std::memcpy(&scale, &bits, sizeof scale);
  x = y * scale;
}

}  // namespace aha
