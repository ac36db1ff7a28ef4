// `aha bench allreduce`: the learner's all-reduce (collective.h) as it runs under a launcher:
// `mpirun -np 2 aha bench allreduce`. Times collective_allreduce_sum on fp32 buffers of several
// sizes (best of --iters after a warm-up) and prints the algorithm bandwidth (bytes / time) and
// the ring bus bandwidth (2 (R-1)/R x that), the figure NCCL's tests report.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "cli/command.h"
#include "learner/collective.h"

namespace {

void add_bench_allreduce(CLI::App& app) {
  CLI::App* bench = aha::cli::subcommand(app, "bench", "Micro-benchmarks");
  CLI::App* c = bench->add_subcommand(
      "allreduce", "All-reduce GB/s of the learner ranks (run under mpirun or srun)");
  auto iters = std::make_shared<int>(20);
  auto max_mb = std::make_shared<double>(64);
  c->add_option("--iters", *iters, "Timed repetitions per size (best is reported)")
      ->capture_default_str()
      ->check(aha::cli::in_range(1, 1e6));
  c->add_option("--max-mb", *max_mb, "Largest buffer in MB (sizes go up by 4x from 64 KB)")
      ->capture_default_str()
      ->check(aha::cli::in_range(0.0625, 1e6));
  c->callback([=] {
    const aha::LaunchEnv env = aha::launch_env_detect();
    if (env.size < 2)
      throw std::runtime_error(
          "aha bench allreduce: start it with 2 or more ranks "
          "(mpirun -np 2 / srun --mpi=pmix -n 2)");
    aha::Collective col;
    aha::collective_init(col, env, aha::collective_backend_from_env(env));
    if (col.rank == 0)
      std::printf("%d ranks (%s)\n%12s %10s %10s %10s\n", col.size,
                  col.backend == aha::CollectiveBackend::kNccl ? "NCCL" : "MPI", "bytes", "best_ms",
                  "algo_GB/s", "bus_GB/s");
    for (size_t bytes = size_t{64} << 10; bytes <= static_cast<size_t>(*max_mb * 1048576);
         bytes *= 4) {
      std::vector<float> x(bytes / sizeof(float), 1.0f);
      double best = 1e30;
      for (int i = 0; i <= *iters; i++) {
        aha::collective_barrier(col);
        auto t0 = std::chrono::steady_clock::now();
        aha::collective_allreduce_sum(col, x.data(), x.size());
        double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        // The slowest rank's time is the collective's.
        aha::collective_allreduce_max(col, &t, 1);
        if (i > 0) best = std::min(best, t);
      }
      const double algo = static_cast<double>(bytes) / best / 1e9;
      if (col.rank == 0)
        std::printf("%12zu %10.3f %10.3f %10.3f\n", bytes, best * 1e3, algo,
                    algo * 2.0 * (col.size - 1) / col.size);
    }
    aha::collective_finalize(col);
  });
}

}  // namespace

AHA_COMMAND(add_bench_allreduce);
