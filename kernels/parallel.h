// Fork-join over the compute threads: the process-wide thread budget of the CPU kernels.
//
// Invariants:
// - compute_threads() is the number of cores one model pass may use now. The trainer sets it per
//   phase (all cores while the learner runs alone, cores / workers while in-process rollout
//   workers run, 1 while they run beside the learner), so threads never outnumber cores.
// - Shape decides how a kernel uses the budget: a large GEMM is split into slabs of rows or
//   columns (kernels/gemm.h), loops of small work (attention per sequence and head, rows of a
//   norm) run parallel_for over items; BLAS itself always runs one thread, so one pool owns
//   every core aha uses.
// - parallel_for(n, f) calls f(i) once for each i in [0, n), in any order across threads; it
//   returns when all calls have. A region started inside another runs inline (no nesting).
//   Results do not depend on the thread count when each f(i) writes only its own outputs.
// - Between regions a thread polls up to 100 us (yielding the core between polls) before it
//   sleeps: regions come in bursts, and a futex sleep and wake-up per region cost 13-15% of a
//   model step on 2 cores.
// - Called from one thread at a time per region (the learner's or a worker's); concurrent
//   regions from different threads run one after the other.
#pragma once
#include <cstddef>

namespace aha {

void set_compute_threads(int num_threads);  // clamps to [1, hardware_threads()]
int compute_threads();
bool in_parallel_region();  // true inside a parallel_for item (work there runs inline)
// The machine's hardware threads, or AHA_THREADS when set lower (a shared machine).
int hardware_threads();

using ParallelFn = void (*)(void* ctx, int i);
void parallel_for_impl(int n, ParallelFn fn, void* ctx);

template <class F>
void parallel_for(int n, F&& f) {
  parallel_for_impl(
      n, [](void* ctx, int i) { (*static_cast<F*>(ctx))(i); }, static_cast<void*>(&f));
}

}  // namespace aha
