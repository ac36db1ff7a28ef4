// The data-parallel learner under mpirun: 2 learner ranks (MPI) against 1 rank on the same global
// batch give the same samples, loss, gradient norm and weights after 5 steps, to fp32
// reduction-order noise.
#include <doctest/doctest.h>

#include "learner/collective.h"
#include "tests/cluster/cluster_util.h"

TEST_CASE("2 MPI learner ranks under mpirun match 1 rank after 5 steps") {
  if (!aha::collective_have_mpi()) {
    std::fprintf(stderr, "skipped: built without MPI\n");
    std::exit(77);
  }
  aha::test::skip_unless_tool("mpirun");
  aha::test::TempDir dir("aha-mpirun");
  const std::string aha = AHA_BINARY, args = aha::test::small_run_args(5);
  int rc = 0;
  std::string out =
      aha::test::run_command(aha + " train --run-dir " + dir.str() + "/one" + args, &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("data-parallel") == std::string::npos);
  out = aha::test::run_command(
      aha::test::mpirun_prefix(2) + aha + " train --run-dir " + dir.str() + "/two" + args, &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("data-parallel learner: 2 ranks (MPI, launched by mpirun)") != std::string::npos);
  aha::test::check_same_run(dir.str() + "/one", dir.str() + "/two", 5);
}
