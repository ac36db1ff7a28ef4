// Checksums of bytes, for data that travels or is stored (weights on the wire, safetensors files
// aha writes): FNV-1a, and its word-wise variant, 8x faster.
//
// Invariants:
// - checksum64 applies FNV-1a's step (h ^= x; h *= prime) to 64-bit little-endian words, then to
//   the remaining n % 8 bytes one by one; for n < 8 it equals fnv1a64.
// - Each step is a bijection of h (and of x), so a change of one word always changes the result.
// - checksum64_chain over consecutive pieces whose sizes are multiples of 8 (the last need not be)
//   equals checksum64 over their concatenation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace aha {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

// FNV-1a 64-bit hash of bytes; `h` chains a previous result (start with the offset basis).
inline uint64_t fnv1a64(const void* data, size_t n, uint64_t h = kFnvOffset) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}

inline uint64_t checksum64_chain(const void* data, size_t n, uint64_t h) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  const size_t num_words = n / 8;
  for (size_t i = 0; i < num_words; ++i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    h ^= w;
    h *= kFnvPrime;
  }
  return fnv1a64(p + 8 * num_words, n % 8, h);
}

inline uint64_t checksum64(const void* data, size_t n) {
  return checksum64_chain(data, n, kFnvOffset);
}

}  // namespace aha
