// Helpers for the GPU tests: device buffers, host<->device copies, bf16 rounding on the host,
// and the comparison every CUDA op is held to: |got - ref| <= atol + |ref| * 2^-8.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/ops.h"
#include "kernels/rng.h"

namespace gpu_test {

// Whether the device is the CPU emulator of tests/cuda_emu (an AHA_CUDA_EMU build), where tests
// shrink their largest shapes: those cost minutes there and check nothing the smaller ones miss.
inline bool emulated() {
  cudaDeviceProp p{};
  return cudaGetDeviceProperties(&p, 0) == cudaSuccess && std::strncmp(p.name, "cuemu", 5) == 0;
}

// An owning device buffer of n T's (at least one byte, so empty shapes still get a pointer).
template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) {
    REQUIRE(cudaMalloc(reinterpret_cast<void**>(&p), std::max<size_t>(1, n * sizeof(T))) ==
            cudaSuccess);
    REQUIRE(cudaMemset(p, 0, std::max<size_t>(1, n * sizeof(T))) == cudaSuccess);
    // The legacy stream's memset (and a pageable copy) may still be in flight when kernels on a
    // non-blocking stream (a Ctx's) start: finish them first.
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) { upload(h); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  ~Dev() { cudaFree(p); }
  void upload(const std::vector<T>& h) {
    REQUIRE(h.size() == n);
    if (n) REQUIRE(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> h(n);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    if (n) REQUIRE(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return h;
  }
};

inline std::vector<float> randn(size_t n, uint64_t seed, double scale = 1.0) {
  aha::Rng rng{seed};
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal() * scale);
  return v;
}

// Rounds to bf16 (nearest even), as __float2bfloat16 does.
inline float round_bf16(float x) {
  return __bfloat162float(__float2bfloat16(x));
}
inline std::vector<float> rounded_bf16(std::vector<float> v) {
  for (float& x : v) x = round_bf16(x);
  return v;
}
inline std::vector<__nv_bfloat16> to_bf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> r(v.size());
  for (size_t i = 0; i < v.size(); i++) r[i] = __float2bfloat16(v[i]);
  return r;
}

// Every element within atol + |ref| * 2^-8; reports the worst one.
inline void check_close(const std::vector<float>& got, const std::vector<float>& ref, double atol,
                        const std::string& what) {
  REQUIRE(got.size() == ref.size());
  double worst = 0;  // excess over the bound, relative to it
  size_t worst_i = 0;
  bool ok = true;
  for (size_t i = 0; i < ref.size(); i++) {
    const double bound = atol + std::fabs(ref[i]) * std::ldexp(1.0, -8);
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    if (!(err <= bound)) {  // also catches NaN
      ok = false;
      if (!(err / bound <= worst)) {
        worst = err / bound;
        worst_i = i;
      }
    }
  }
  INFO(what << ": worst element " << worst_i << " got " << (ref.empty() ? 0 : got[worst_i])
            << " want " << (ref.empty() ? 0 : ref[worst_i]));
  CHECK(ok);
}

template <typename T>
inline bool bit_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Page tables for rows of the given lengths: every row owns ceil(len / P) pages drawn from a
// shuffled pool with holes; rows `sharers` reuse the first `shared` pages of row `owner` (whose
// length covers them), as a group's samples share their prompt's pages.
struct Pages {
  int P = 0, num_pages = 0;
  std::vector<int> lens, indptr, ids;
};

inline Pages make_pages(const std::vector<int>& lens, int P, uint64_t seed) {
  Pages pg;
  pg.P = P;
  pg.lens = lens;
  // Two extra rows sharing row 6's (len 1000) first pages: one with 3 shared pages of P tokens
  // and a tail of its own, one sharing 1 page and ending inside its second page.
  const int owner = static_cast<int>(std::find(lens.begin(), lens.end(), 1000) - lens.begin());
  std::vector<std::pair<int, int>> sharers;  // (len, shared pages)
  if (owner < static_cast<int>(lens.size())) {
    sharers = {{3 * P + 37, 3}, {P + 5, 1}};
    for (auto& [len, shared] : sharers) pg.lens.push_back(len);
  }
  int need = 0;
  for (int len : pg.lens) need += (len + P - 1) / P;
  pg.num_pages = need * 2 + 3;  // holes: half the pool unused
  std::vector<int> pool(pg.num_pages);
  std::iota(pool.begin(), pool.end(), 0);
  aha::Rng rng{seed};
  for (int i = pg.num_pages - 1; i > 0; i--) std::swap(pool[i], pool[rng.next_u64() % (i + 1)]);
  int next = 0;
  pg.indptr.assign(1, 0);
  const int B0 = static_cast<int>(lens.size());
  for (int b = 0; b < static_cast<int>(pg.lens.size()); b++) {
    const int n = (pg.lens[b] + P - 1) / P;
    const int shared = b >= B0 ? sharers[b - B0].second : 0;
    for (int i = 0; i < n; i++) {
      const int id = i < shared ? pg.ids[pg.indptr[owner] + i] : pool[next++];
      pg.ids.push_back(id);
    }
    pg.indptr.push_back(static_cast<int>(pg.ids.size()));
  }
  return pg;
}

}  // namespace gpu_test
