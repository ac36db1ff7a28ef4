// NCCL backend of collective.h (built with AHA_HAVE_NCCL; see collective_backends.h). Host
// buffers (a CPU learner's gradients, the step's scalars) are staged through one device buffer,
// grown on demand, on the rank's own stream; the CUDA learner's gradients go straight to
// ncclAllReduce on the model's stream (nccl_allreduce_sum_f32_device).
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "learner/collective_backends.h"

namespace aha {

namespace {

struct NcclState {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  void* scratch = nullptr;  // [scratch_bytes] device staging buffer
  size_t scratch_bytes = 0;
  int device = 0;
};

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess)
    throw std::runtime_error(std::string("NCCL ") + what + ": " + ncclGetErrorString(r));
}

void* scratch(NcclState& s, size_t bytes) {
  if (bytes > s.scratch_bytes) {
    if (s.scratch) check_cuda(cudaFree(s.scratch), "free");
    check_cuda(cudaMalloc(&s.scratch, bytes), "malloc");
    s.scratch_bytes = bytes;
  }
  return s.scratch;
}

void allreduce(void* state, void* x, size_t n, size_t elem, ncclDataType_t type, ncclRedOp_t op) {
  NcclState& s = *static_cast<NcclState*>(state);
  check_cuda(cudaSetDevice(s.device), "set device");
  void* d = scratch(s, n * elem);
  check_cuda(cudaMemcpyAsync(d, x, n * elem, cudaMemcpyHostToDevice, s.stream), "copy in");
  check_nccl(ncclAllReduce(d, d, n, type, op, s.comm, s.stream), "all-reduce");
  check_cuda(cudaMemcpyAsync(x, d, n * elem, cudaMemcpyDeviceToHost, s.stream), "copy out");
  check_cuda(cudaStreamSynchronize(s.stream), "synchronize");
}

}  // namespace

void nccl_get_unique_id(uint8_t id[kNcclIdBytes]) {
  static_assert(sizeof(ncclUniqueId) == kNcclIdBytes, "ncclUniqueId size");
  ncclUniqueId u;
  check_nccl(ncclGetUniqueId(&u), "unique id");
  std::memcpy(id, &u, kNcclIdBytes);
}

void* nccl_init(const uint8_t id[kNcclIdBytes], int rank, int size, int device) {
  int num_devices = 0;
  check_cuda(cudaGetDeviceCount(&num_devices), "device count");
  if (device < 0 || device >= num_devices)
    throw std::runtime_error("NCCL rank " + std::to_string(rank) + " needs CUDA device " +
                             std::to_string(device) + " but " + std::to_string(num_devices) +
                             " visible (one GPU per rank)");
  auto* s = new NcclState;
  s->device = device;
  check_cuda(cudaSetDevice(s->device), "set device");
  check_cuda(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), "stream");
  ncclUniqueId u;
  std::memcpy(&u, id, kNcclIdBytes);
  check_nccl(ncclCommInitRank(&s->comm, size, u, rank), "communicator");
  return s;
}

void nccl_finalize(void* state) {
  auto* s = static_cast<NcclState*>(state);
  if (!s) return;
  cudaSetDevice(s->device);
  if (s->comm) ncclCommDestroy(s->comm);
  if (s->scratch) cudaFree(s->scratch);
  if (s->stream) cudaStreamDestroy(s->stream);
  delete s;
}

void nccl_allreduce_sum_f32(void* state, float* x, size_t n) {
  allreduce(state, x, n, sizeof(float), ncclFloat32, ncclSum);
}
void nccl_allreduce_sum_f64(void* state, double* x, size_t n) {
  allreduce(state, x, n, sizeof(double), ncclFloat64, ncclSum);
}
void nccl_allreduce_max_f64(void* state, double* x, size_t n) {
  allreduce(state, x, n, sizeof(double), ncclFloat64, ncclMax);
}

void nccl_allreduce_sum_f32_device(void* state, float* x, size_t n, void* stream) {
  NcclState& s = *static_cast<NcclState*>(state);
  check_nccl(
      ncclAllReduce(x, x, n, ncclFloat32, ncclSum, s.comm, static_cast<cudaStream_t>(stream)),
      "all-reduce (device)");
}

}  // namespace aha
