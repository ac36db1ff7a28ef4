#include "learner/collective.h"

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "kernels/device.h"
#include "learner/collective_backends.h"

namespace aha {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (*end)
    throw std::runtime_error(std::string("environment ") + name + "=" + v + ": not a number");
  return static_cast<int>(x);
}

using Clock = std::chrono::steady_clock;

// Adds the time of one collective to c.seconds.
struct Timed {
  Collective& c;
  Clock::time_point t0 = Clock::now();
  explicit Timed(Collective& cc, size_t bytes) : c(cc) { c.bytes_reduced += bytes; }
  ~Timed() { c.seconds += std::chrono::duration<double>(Clock::now() - t0).count(); }
};

[[noreturn]] [[maybe_unused]] void no_backend(const char* what) {
  throw std::runtime_error(std::string("this aha was built without ") + what +
                           " (the data-parallel learner needs it)");
}

}  // namespace

LaunchEnv launch_env_detect() {
  LaunchEnv e;
  if (std::getenv("OMPI_COMM_WORLD_SIZE")) {
    e.launcher = "mpirun";
    e.size = env_int("OMPI_COMM_WORLD_SIZE", 1);
    e.rank = env_int("OMPI_COMM_WORLD_RANK", 0);
    e.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0);
  } else if (std::getenv("SLURM_STEP_NUM_TASKS") && std::getenv("SLURM_PROCID")) {
    e.launcher = "slurm";
    e.size = env_int("SLURM_STEP_NUM_TASKS", 1);
    e.rank = env_int("SLURM_PROCID", 0);
    e.local_rank = env_int("SLURM_LOCALID", 0);
  }
  if (e.size < 1 || e.rank < 0 || e.rank >= e.size)
    throw std::runtime_error(e.launcher + " environment gives rank " + std::to_string(e.rank) +
                             " of " + std::to_string(e.size));
  return e;
}

CollectiveBackend collective_backend_from_env(const LaunchEnv& env) {
  if (env.size <= 1) return CollectiveBackend::kNone;
  const char* v = std::getenv("AHA_COLLECTIVE");
  std::string s = v ? v : "mpi";
  if (s == "mpi") return CollectiveBackend::kMpi;
  if (s == "nccl") return CollectiveBackend::kNccl;
  throw std::runtime_error("AHA_COLLECTIVE=" + s + ": expected mpi or nccl");
}

bool collective_have_mpi() {
#if AHA_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool collective_have_nccl() {
#if AHA_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

void collective_init(Collective& c, const LaunchEnv& env, CollectiveBackend backend) {
  c = Collective{};
  c.backend = backend;
  if (backend == CollectiveBackend::kNone) return;
#if AHA_HAVE_MPI
  // Both backends start MPI: NCCL's unique id travels over it.
  int rank = 0, size = 1;
  mpi_init(&rank, &size);
  if (rank != env.rank || size != env.size)
    throw std::runtime_error(env.launcher + " says rank " + std::to_string(env.rank) + " of " +
                             std::to_string(env.size) + " but MPI says " + std::to_string(rank) +
                             " of " + std::to_string(size) +
                             (env.launcher == "slurm" ? " (launch with srun --mpi=pmix)" : ""));
  c.rank = rank;
  c.size = size;
  c.local_rank = env.local_rank;
  if (backend == CollectiveBackend::kNccl) {
#if AHA_HAVE_NCCL
    cuda_select_device(env.local_rank);  // one GPU per rank; refuses too few
    uint8_t id[kNcclIdBytes] = {};
    if (rank == 0) nccl_get_unique_id(id);
    mpi_broadcast(id, sizeof id, 0);
    c.nccl = nccl_init(id, rank, size, env.local_rank);
#else
    no_backend("NCCL");
#endif
  }
#else
  (void)env;
  no_backend("MPI");
#endif
}

std::vector<uint8_t> collective_nccl_unique_id() {
#if AHA_HAVE_NCCL
  std::vector<uint8_t> id(kNcclIdBytes);
  nccl_get_unique_id(id.data());
  return id;
#else
  no_backend("NCCL");
#endif
}

void collective_init_in_process(Collective& c, const std::vector<uint8_t>& id, int rank, int size,
                                int device) {
  c = Collective{};
#if AHA_HAVE_NCCL
  if (id.size() != kNcclIdBytes || size < 1 || rank < 0 || rank >= size)
    throw std::runtime_error("collective_init_in_process: rank " + std::to_string(rank) + " of " +
                             std::to_string(size) + " with a " + std::to_string(id.size()) +
                             "-byte id");
  cuda_select_device(device);
  c.nccl = nccl_init(id.data(), rank, size, device);
  c.backend = CollectiveBackend::kNccl;
  c.rank = rank;
  c.size = size;
  c.local_rank = device;
  c.in_process = true;
#else
  (void)id, (void)rank, (void)size, (void)device;
  no_backend("NCCL");
#endif
}

void collective_finalize(Collective& c) {
  if (c.backend == CollectiveBackend::kNone) return;
#if AHA_HAVE_NCCL
  if (c.nccl) nccl_finalize(c.nccl);
  c.nccl = nullptr;
#endif
#if AHA_HAVE_MPI
  if (!c.in_process) mpi_finalize();
#endif
  c.backend = CollectiveBackend::kNone;
}

void collective_abort(Collective& c, int code) {
#if AHA_HAVE_MPI
  if (c.backend != CollectiveBackend::kNone && !c.in_process) mpi_abort(code);
#endif
  (void)c;
  std::exit(code);
}

void collective_allreduce_sum(Collective& c, [[maybe_unused]] float* x, size_t n) {
  if (c.size <= 1 || n == 0) return;
  Timed t(c, n * sizeof(float));
#if AHA_HAVE_NCCL
  if (c.backend == CollectiveBackend::kNccl) return nccl_allreduce_sum_f32(c.nccl, x, n);
#endif
#if AHA_HAVE_MPI
  mpi_allreduce_sum_f32(x, n);
#endif
}

void collective_allreduce_sum(Collective& c, [[maybe_unused]] double* x, size_t n) {
  if (c.size <= 1 || n == 0) return;
  Timed t(c, n * sizeof(double));
#if AHA_HAVE_NCCL
  if (c.backend == CollectiveBackend::kNccl) return nccl_allreduce_sum_f64(c.nccl, x, n);
#endif
#if AHA_HAVE_MPI
  mpi_allreduce_sum_f64(x, n);
#endif
}

void collective_allreduce_max(Collective& c, [[maybe_unused]] double* x, size_t n) {
  if (c.size <= 1 || n == 0) return;
  Timed t(c, n * sizeof(double));
#if AHA_HAVE_NCCL
  if (c.backend == CollectiveBackend::kNccl) return nccl_allreduce_max_f64(c.nccl, x, n);
#endif
#if AHA_HAVE_MPI
  mpi_allreduce_max_f64(x, n);
#endif
}

void collective_allreduce_sum_device(Collective& c, float* x, size_t n, void* stream) {
  if (c.backend == CollectiveBackend::kNone || n == 0) return;
  if (c.backend != CollectiveBackend::kNccl)
    throw std::runtime_error(
        "data-parallel CUDA learner ranks all-reduce device gradients through NCCL: launch them "
        "with AHA_COLLECTIVE=nccl");
  Timed t(c, n * sizeof(float));
#if AHA_HAVE_NCCL
  nccl_allreduce_sum_f32_device(c.nccl, x, n, stream);
#else
  (void)x, (void)stream;
  no_backend("NCCL");
#endif
}

namespace {
// In-process ranks have no MPI to broadcast with.
void no_broadcast_in_process(const Collective& c) {
  if (c.in_process)
    throw std::runtime_error("in-process NCCL ranks have all-reduces only (no broadcast)");
}
}  // namespace

void collective_broadcast(Collective& c, [[maybe_unused]] void* data, size_t bytes,
                          [[maybe_unused]] int root) {
  if (c.size <= 1 || bytes == 0) return;
  no_broadcast_in_process(c);
  Timed t(c, bytes);
  // Broadcasts carry host-side control data (a step's samples, the starting state): MPI for both.
#if AHA_HAVE_MPI
  mpi_broadcast(data, bytes, root);
#endif
}

void collective_broadcast_idle(Collective& c, void* data, size_t bytes, int root) {
  if (c.size <= 1 || bytes == 0) return;
  if (bytes > (size_t{1} << 30)) throw std::runtime_error("collective_broadcast_idle: too large");
  no_broadcast_in_process(c);
  Timed t(c, bytes);
#if AHA_HAVE_MPI
  mpi_broadcast_idle(data, bytes, root);
#else
  (void)data;
  (void)root;
#endif
}

void collective_broadcast_bytes(Collective& c, std::vector<uint8_t>& bytes, int root) {
  if (c.size <= 1) return;
  no_broadcast_in_process(c);
  uint64_t n = bytes.size();
  {
    Timed t(c, sizeof n);
#if AHA_HAVE_MPI
    mpi_broadcast(&n, sizeof n, root);
#endif
  }
  if (c.rank != root) bytes.resize(n);
  collective_broadcast(c, bytes.data(), n, root);
}

void collective_barrier(Collective& c) {
  if (c.size <= 1) return;
  no_broadcast_in_process(c);
  Timed t(c, 0);
#if AHA_HAVE_MPI
  mpi_barrier();
#endif
}

}  // namespace aha
