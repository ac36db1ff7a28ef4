// The two backends behind collective.h, one file each: collective_mpi.cpp (built when CMake
// finds MPI: AHA_HAVE_MPI) and collective_nccl.cu (built when it finds CUDA and NCCL:
// AHA_HAVE_NCCL). collective.cpp dispatches; callers use collective.h only.
#pragma once
#include <cstddef>
#include <cstdint>

namespace aha {

// MPI over MPI_COMM_WORLD; host buffers; counts above INT_MAX go in chunks.
void mpi_init(int* rank, int* size);
void mpi_finalize();
[[noreturn]] void mpi_abort(int code);
void mpi_allreduce_sum_f32(float* x, size_t n);
void mpi_allreduce_sum_f64(double* x, size_t n);
void mpi_allreduce_max_f64(double* x, size_t n);
void mpi_broadcast(void* data, size_t bytes, int root);
// Non-blocking broadcast, polled with a short sleep (bytes < 2^31).
void mpi_broadcast_idle(void* data, size_t bytes, int root);
void mpi_barrier();

// NCCL: one communicator over all ranks, one stream and one device scratch buffer per rank.
constexpr size_t kNcclIdBytes = 128;  // sizeof(ncclUniqueId)
void nccl_get_unique_id(uint8_t id[kNcclIdBytes]);
// Joins the communicator on device `device` (already selected: cuda_select_device); returns an
// opaque NcclState*.
void* nccl_init(const uint8_t id[kNcclIdBytes], int rank, int size, int device);
void nccl_finalize(void* state);
// Host buffers, staged through the device: copy in, reduce on the stream, copy out.
void nccl_allreduce_sum_f32(void* state, float* x, size_t n);
void nccl_allreduce_sum_f64(void* state, double* x, size_t n);
void nccl_allreduce_max_f64(void* state, double* x, size_t n);
// A device buffer, in place, queued on `stream` (cudaStream_t of the communicator's device).
void nccl_allreduce_sum_f32_device(void* state, float* x, size_t n, void* stream);

}  // namespace aha
