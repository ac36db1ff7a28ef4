// main() for GPU tests: exits 77 (CTest SKIP_RETURN_CODE) when no CUDA device is present, so a
// machine without a GPU reports the test skipped, never passed. A test that needs more devices
// (data-parallel ranks, one GPU each) defines AHA_GPU_MIN_DEVICES before including this; one
// that needs NCCL defines AHA_GPU_NEEDS_NCCL (skipped in a build without it).
#pragma once
#define DOCTEST_CONFIG_IMPLEMENT
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdio>

#ifdef AHA_GPU_NEEDS_NCCL
#include "learner/collective.h"
#endif

#ifndef AHA_GPU_MIN_DEVICES
#define AHA_GPU_MIN_DEVICES 1
#endif

int main(int argc, char** argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("no CUDA device: skipped\n");
    return 77;
  }
  if (count < AHA_GPU_MIN_DEVICES) {
    std::printf("%d CUDA device(s), this test needs %d: skipped\n", count, AHA_GPU_MIN_DEVICES);
    return 77;
  }
#ifdef AHA_GPU_NEEDS_NCCL
  if (!aha::collective_have_nccl()) {
    std::printf("this build has no NCCL: skipped\n");
    return 77;
  }
#endif
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
