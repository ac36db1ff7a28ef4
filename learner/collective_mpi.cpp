// MPI backend of collective.h (built with AHA_HAVE_MPI; see collective_backends.h).
#include "learner/collective_backends.h"

#if AHA_HAVE_MPI
// The C API only: no MPI C++ bindings (deprecated, and a second library to link).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace aha {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw std::runtime_error(std::string("MPI ") + what + ": " + std::string(msg, len));
}

// MPI counts are int: large buffers go in chunks of at most 2^30 elements.
constexpr size_t kChunk = size_t{1} << 30;

template <class T>
void allreduce(T* x, size_t n, MPI_Datatype type, MPI_Op op, const char* what) {
  for (size_t i = 0; i < n; i += kChunk) {
    int count = static_cast<int>(std::min(kChunk, n - i));
    check(MPI_Allreduce(MPI_IN_PLACE, x + i, count, type, op, MPI_COMM_WORLD), what);
  }
}

}  // namespace

void mpi_init(int* rank, int* size) {
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    // Only the main thread calls MPI; worker threads never do.
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
  }
  // Errors come back as codes (and become exceptions) instead of killing the process silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, rank), "rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, size), "size");
}

void mpi_finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void mpi_abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();
}

void mpi_allreduce_sum_f32(float* x, size_t n) {
  allreduce(x, n, MPI_FLOAT, MPI_SUM, "all-reduce");
}
void mpi_allreduce_sum_f64(double* x, size_t n) {
  allreduce(x, n, MPI_DOUBLE, MPI_SUM, "all-reduce");
}
void mpi_allreduce_max_f64(double* x, size_t n) {
  allreduce(x, n, MPI_DOUBLE, MPI_MAX, "all-reduce");
}

void mpi_broadcast(void* data, size_t bytes, int root) {
  char* p = static_cast<char*>(data);
  for (size_t i = 0; i < bytes; i += kChunk) {
    int count = static_cast<int>(std::min(kChunk, bytes - i));
    check(MPI_Bcast(p + i, count, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
  }
}

void mpi_broadcast_idle(void* data, size_t bytes, int root) {
  MPI_Request req;
  check(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD, &req),
        "broadcast");
  for (int done = 0;;) {
    check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "broadcast");
    if (done) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void mpi_barrier() {
  check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
}

}  // namespace aha
#endif  // AHA_HAVE_MPI
