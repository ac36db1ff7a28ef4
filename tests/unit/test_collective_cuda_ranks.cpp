// The checks in front of data-parallel CUDA learner ranks that run without a GPU: a rank's device
// choice refuses a device that is not there (saying how many there are, with no CUDA call past
// the device count), in-process NCCL ranks refuse a bad rank or id before touching NCCL, and the
// device all-reduce refuses the MPI collective and does nothing without one.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "kernels/device.h"
#include "learner/collective.h"

using namespace aha;

namespace {

int num_devices() {
  int n = 0;
  while (n < 64 && cuda_available()) {  // cuda_available only says "at least one"
    try {
      cuda_select_device(n);
    } catch (const std::exception&) {
      break;
    }
    n++;
  }
  if (n > 0) cuda_select_device(0);
  return n;
}

}  // namespace

TEST_CASE("a rank's CUDA device: one past the last is refused, naming the count") {
  const int n = num_devices();
  if (!cuda_available()) CHECK(n == 0);
#ifdef AHA_HAVE_CUDA
  CHECK_THROWS_WITH(cuda_select_device(n),
                    doctest::Contains(("CUDA device " + std::to_string(n) + " requested but " +
                                       std::to_string(n) + " visible (one GPU per data-parallel")
                                          .c_str()));
  CHECK_THROWS_WITH(cuda_select_device(-1), doctest::Contains("CUDA device -1 requested"));
#else
  CHECK_THROWS_WITH(cuda_select_device(0), doctest::Contains("built without CUDA"));
#endif
}

TEST_CASE("in-process NCCL ranks: bad ranks, ids and devices are refused before NCCL") {
  Collective c;
  const std::vector<uint8_t> id(128, 0);
  if (!collective_have_nccl()) {
    CHECK_THROWS_WITH(collective_init_in_process(c, id, 0, 1, 0),
                      doctest::Contains("built without NCCL"));
    return;
  }
  CHECK_THROWS_WITH(collective_init_in_process(c, id, 2, 2, 0), doctest::Contains("rank 2 of 2"));
  CHECK_THROWS_WITH(collective_init_in_process(c, std::vector<uint8_t>(5), 0, 1, 0),
                    doctest::Contains("5-byte id"));
  CHECK_THROWS_WITH(collective_init_in_process(c, id, 0, 1, 64),
                    doctest::Contains("CUDA device 64 requested"));
  CHECK((c.backend == CollectiveBackend::kNone));
}

TEST_CASE("the device all-reduce: nothing without a collective, refused under MPI") {
  Collective none;
  collective_allreduce_sum_device(none, nullptr, 1000, nullptr);  // touches nothing
  CHECK(none.bytes_reduced == 0);
  Collective mpi;
  mpi.backend = CollectiveBackend::kMpi;
  mpi.size = 2;
  CHECK_THROWS_WITH(collective_allreduce_sum_device(mpi, nullptr, 1000, nullptr),
                    doctest::Contains("AHA_COLLECTIVE=nccl"));
}
