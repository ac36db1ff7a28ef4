// Collectives of the data-parallel learner: R ranks, each holding the whole model; a step's
// samples are split across them and their gradients summed (learner_update).
//
// clang-format off
// Invariants:
// - size == 1 (no launcher, or a launcher with one task): no collective library is touched and
//   every call returns with the data unchanged, so one process runs today's single-process path.
// - Every rank calls the same collectives in the same order with the same counts; results are
//   identical on all ranks (each backend reduces in one fixed order per call).
// - The rank and size come from the launcher's environment (launch_env_detect) and must agree with
//   what the backend reports; a mismatch (srun without --mpi=pmix) is an error, not a silent R=1.
// - Buffers are host memory, except collective_allreduce_sum_device's. The NCCL backend stages
//   host buffers through one device buffer on the rank's GPU; its control traffic (the unique id,
//   byte broadcasts) goes over MPI, so NCCL ranks are launched exactly like MPI ones.
// - NCCL: one GPU per rank, device = local rank (cuda_select_device, before the communicator and
//   before any CUDA model of the rank is made); fewer devices than local ranks is an error.
// - In-process ranks (collective_init_in_process: threads of one process, one GPU each) are NCCL
//   without MPI: all-reduces only (the tests' data-parallel CUDA learner); no broadcast.
// - A rank that dies makes the others' next collective fail or hang until the launcher kills the
//   job (mpirun, srun --kill-on-bad-exit); rank 0 owns every file, so nothing is half-written.
// clang-format on
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace aha {

enum class CollectiveBackend { kNone, kMpi, kNccl };

// What the launcher told this process.
struct LaunchEnv {
  std::string launcher;  // "mpirun" | "slurm" | "" (none)
  int rank = 0, size = 1;
  int local_rank = 0;  // rank on this node (picks the GPU)
};

struct Collective {
  CollectiveBackend backend = CollectiveBackend::kNone;
  int rank = 0, size = 1, local_rank = 0;
  void* nccl = nullptr;        // NcclState* (collective_nccl.cu) when backend == kNccl
  bool in_process = false;     // collective_init_in_process: NCCL ranks as threads, no MPI
  double seconds = 0;          // time spent inside collectives (the communication share)
  uint64_t bytes_reduced = 0;  // payload all-reduced or broadcast by this rank
};

// OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK} under mpirun; SLURM_PROCID, SLURM_STEP_NUM_TASKS and
// SLURM_LOCALID inside an srun step (not in the batch script itself, whose SLURM_NTASKS counts
// the whole allocation).
LaunchEnv launch_env_detect();

// "mpi" | "nccl" from AHA_COLLECTIVE (default mpi). kNone when env.size == 1.
CollectiveBackend collective_backend_from_env(const LaunchEnv& env);

// Starts the backend (MPI_Init, then NCCL's communicator); throws when the build lacks it.
void collective_init(Collective& c, const LaunchEnv& env, CollectiveBackend backend);
// In-process NCCL ranks (one thread per rank; tests): rank `rank` of `size` on device `device`,
// every rank given the same id from collective_nccl_unique_id. size 1 makes a one-rank NCCL
// communicator (collective_allreduce_sum_device then goes through NCCL).
std::vector<uint8_t> collective_nccl_unique_id();
void collective_init_in_process(Collective& c, const std::vector<uint8_t>& id, int rank, int size,
                                int device);
void collective_finalize(Collective& c);
// Ends every rank of the job now (after an exception on one rank): MPI_Abort.
[[noreturn]] void collective_abort(Collective& c, int code);

void collective_allreduce_sum(Collective& c, float* x, size_t n);
void collective_allreduce_sum(Collective& c, double* x, size_t n);
void collective_allreduce_max(Collective& c, double* x, size_t n);
// Device buffers (the CUDA learner's gradients), summed in place on the device: queued on
// `stream` (a cudaStream_t of the rank's device) behind its kernels; no host copy, no wait (so
// Collective::seconds counts the launch only). NCCL only: an MPI collective with R > 1 refuses
// (AHA_COLLECTIVE=nccl); kNone returns. A one-rank NCCL communicator still runs the all-reduce.
void collective_allreduce_sum_device(Collective& c, float* x, size_t n, void* stream);
void collective_broadcast(Collective& c, void* data, size_t bytes, int root);
// The same, but waiting without spinning a core (a follower rank idles here while rank 0
// generates); every rank must use this variant for the same broadcast.
void collective_broadcast_idle(Collective& c, void* data, size_t bytes, int root);
// Root's bytes to every rank (others' vectors are resized to fit).
void collective_broadcast_bytes(Collective& c, std::vector<uint8_t>& bytes, int root);
void collective_barrier(Collective& c);

// Which backends this build has.
bool collective_have_mpi();
bool collective_have_nccl();

}  // namespace aha
