// The CUDA emulator's cub::BlockScan (tests/cuda_emu): sums over the block's threads in thread
// order, through shared storage and two barriers, as every thread of the block must call it.
#pragma once
#include "cuemu.h"

namespace cub {

template <typename T, int kThreads>
struct BlockScan {
  struct TempStorage {
    T in[kThreads];
    T excl[kThreads];
    T total;
  };
  TempStorage& s;
  explicit BlockScan(TempStorage& storage) : s(storage) {}

  void ExclusiveSum(T input, T& output, T& aggregate) {
    const int t = static_cast<int>(threadIdx.x);
    s.in[t] = input;
    __syncthreads();
    if (t == 0) {
      T run{};
      for (int i = 0; i < kThreads; i++) {
        s.excl[i] = run;
        run = run + s.in[i];
      }
      s.total = run;
    }
    __syncthreads();
    output = s.excl[t];
    aggregate = s.total;
    __syncthreads();
  }
  void ExclusiveSum(T input, T& output) {
    T aggregate;
    ExclusiveSum(input, output, aggregate);
  }
  void InclusiveSum(T input, T& output, T& aggregate) {
    ExclusiveSum(input, output, aggregate);
    output = output + input;
  }
  void InclusiveSum(T input, T& output) {
    T aggregate;
    InclusiveSum(input, output, aggregate);
  }
};

}  // namespace cub
