// The CUDA emulator's cub::DeviceRadixSort (tests/cuda_emu): SortPairs as a stable sort by key
// on the stream, with the same temporary-storage protocol (a null buffer asks for its size).
#pragma once
#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

#include "cuemu.h"

namespace cub {

struct DeviceRadixSort {
  template <typename K, typename V>
  static cudaError_t SortPairs(void* temp, size_t& temp_bytes, const K* keys_in, K* keys_out,
                               const V* values_in, V* values_out, long n, int begin_bit = 0,
                               int end_bit = sizeof(K) * 8, cudaStream_t stream = 0) {
    if (!temp) {
      temp_bytes = 256;
      return cudaSuccess;
    }
    if (begin_bit != 0 || end_bit != static_cast<int>(sizeof(K) * 8)) return cudaErrorNotSupported;
    return cuemu::on_stream_public(stream, [=] {
      std::vector<long> idx(static_cast<size_t>(n));
      std::iota(idx.begin(), idx.end(), 0L);
      std::stable_sort(idx.begin(), idx.end(),
                       [&](long a, long b) { return keys_in[a] < keys_in[b]; });
      std::vector<K> k(static_cast<size_t>(n));
      std::vector<V> v(static_cast<size_t>(n));
      for (long i = 0; i < n; i++) {
        k[i] = keys_in[idx[i]];
        v[i] = values_in[idx[i]];
      }
      std::copy(k.begin(), k.end(), keys_out);
      std::copy(v.begin(), v.end(), values_out);
    });
  }
};

}  // namespace cub
