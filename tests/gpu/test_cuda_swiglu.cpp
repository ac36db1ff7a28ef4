// The CUDA SwiGLU forward equals the CPU reference.
#include <cuda_runtime.h>

#include <cmath>
#include <vector>

#include "kernels/rng.h"
#include "kernels/swiglu.h"
#include "tests/gpu/gpu_main.h"

TEST_CASE("swiglu_forward_cuda matches the CPU reference") {
  const long N = 100003;  // not a multiple of the block size
  aha::Rng rng{7};
  std::vector<float> gate(N), up(N), ref(N), got(N);
  for (long i = 0; i < N; i++) {
    gate[i] = static_cast<float>(rng.normal() * 3);
    up[i] = static_cast<float>(rng.normal());
  }
  aha::swiglu_forward(ref.data(), gate.data(), up.data(), N);
  float *d_out, *d_gate, *d_up;
  REQUIRE(cudaMalloc(&d_out, N * sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMalloc(&d_gate, N * sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMalloc(&d_up, N * sizeof(float)) == cudaSuccess);
  cudaMemcpy(d_gate, gate.data(), N * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_up, up.data(), N * sizeof(float), cudaMemcpyHostToDevice);
  aha::swiglu_forward_cuda(d_out, d_gate, d_up, N);
  cudaMemcpy(got.data(), d_out, N * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d_out);
  cudaFree(d_gate);
  cudaFree(d_up);
  double max_err = 0;
  for (long i = 0; i < N; i++) max_err = std::fmax(max_err, std::fabs(ref[i] - got[i]));
  // expf on the device differs from the host's by a few ulp.
  CHECK(max_err < 1e-5);
}
