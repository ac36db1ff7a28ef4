// Counter-based random numbers: a value depends only on (seed, stream, counter), never on call
// order or thread, so a sample draws the same numbers alone or batched with others.
#pragma once
#include <cstdint>

// The stateless functions below are compiled for host and device alike (one definition: the CUDA
// sampler, rollout/cuda/sampling.cu, draws the CPU sampler's numbers).
#if defined(__CUDACC__)
#define AHA_HOST_DEVICE __host__ __device__
#else
#define AHA_HOST_DEVICE
#endif

namespace aha {

AHA_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// 64 random bits for (seed, stream, counter).
AHA_HOST_DEVICE inline uint64_t rng_bits(uint64_t seed, uint64_t stream, uint64_t counter) {
  return splitmix64(splitmix64(seed ^ splitmix64(stream + 0x632BE59BD9B4E019ull)) + counter);
}

// Uniform double in [0, 1) with 53 random bits.
AHA_HOST_DEVICE inline double rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  return static_cast<double>(rng_bits(seed, stream, counter) >> 11) * 0x1.0p-53;
}

// Sequential generator over the same mixing (for initialisation and data generation).
struct Rng {
  uint64_t seed = 0;
  uint64_t counter = 0;
  uint64_t next_u64() { return rng_bits(seed, 0, counter++); }
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Standard normal by Box-Muller (one value per two uniforms, deterministic).
  double normal();
};

}  // namespace aha
