// The counter-based generator (kernels/rng.h), which the CPU sampler and its CUDA twin
// (rollout/cuda/sampling.cu) both compile: SplitMix64 against its published reference sequence,
// and rng_bits / rng_uniform pinned to their values, so a change to the shared function (which
// would change every sampled token on both devices) cannot pass unnoticed.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/rng.h"
#include "rollout/sampling.h"

using namespace aha;

TEST_CASE("splitmix64 gives the reference SplitMix64 sequence from state 0") {
  // SplitMix64 (Steele, Lea, Flood 2014) seeded with 0: its first three outputs. splitmix64(x)
  // adds the golden gamma itself, so output n is splitmix64(n * gamma).
  const uint64_t gamma = 0x9E3779B97F4A7C15ull;
  CHECK(splitmix64(0) == 0xe220a8397b1dcdafull);
  CHECK(splitmix64(gamma) == 0x6e789e6aa1b965f4ull);
  CHECK(splitmix64(2 * gamma) == 0x06c45d188009454full);
}

TEST_CASE("rng_bits and rng_uniform are pinned per (seed, stream, counter)") {
  struct Case {
    uint64_t seed, stream, counter, bits;
    double u;
  };
  const Case cases[] = {
      {0ull, 0ull, 0ull, 0x050881f5ff8af325ull, 0.019661066587598475},
      {42ull, 0ull, 7ull, 0x96eb175298bdd09full, 0.58952470556754766},
      {1234567ull, 3ull, 99ull, 0x53aa3204ea3be263ull, 0.32681572551722082},
      {~0ull, 5ull, 1ull << 40, 0xae8bb1b6c9fe9b8full, 0.68181906426070282},
  };
  for (const Case& c : cases) {
    CHECK(rng_bits(c.seed, c.stream, c.counter) == c.bits);
    // 53 random bits scaled exactly: the double is the same wherever it is computed.
    CHECK(rng_uniform(c.seed, c.stream, c.counter) == c.u);
    CHECK(rng_uniform(c.seed, c.stream, c.counter) ==
          std::ldexp(static_cast<double>(c.bits >> 11), -53));
  }
}

TEST_CASE("uniforms stay in [0, 1) and streams differ") {
  int same = 0;
  for (uint64_t i = 0; i < 10000; i++) {
    const double u = rng_uniform(7, 1, i);
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    same += rng_bits(7, 1, i) == rng_bits(7, 2, i);
  }
  CHECK(same == 0);
}

TEST_CASE("sampling_row carries a request's parameters and its draw's coordinates") {
  SamplingParams p;
  p.temperature = 0.7f;
  p.top_p = 0.9f;
  p.top_k = 50;
  p.min_p = 0.05f;
  const SamplingRow r = sampling_row(p, 11, 3, 17);
  CHECK(r.temperature == 0.7f);
  CHECK(r.top_p == 0.9f);
  CHECK(r.top_k == 50);
  CHECK(r.min_p == 0.05f);
  CHECK(r.seed == 11);
  CHECK(r.stream == 3);
  CHECK(r.counter == 17);
}
