// The one sgemm of every CPU kernel (row-major), and the BLAS library behind it.
//
// Invariants:
// - The library is OpenBLAS, opened with dlopen at first use and never linked: OpenBLAS picks its
//   kernels in a library constructor from the CPU model number, and a build that does not know
//   the model (Debian 12's 0.3.21 on Sapphire Rapids) falls back to SSE3 "Prescott" kernels, 4-6x
//   slower. Before opening it, OPENBLAS_CORETYPE is set from the CPU's features (cpuid): SkylakeX
//   with AVX-512 F/BW/DQ/VL, Haswell with AVX2+FMA, otherwise the library's own choice. A
//   user's OPENBLAS_CORETYPE is left as it is; AHA_BLAS_CORETYPE=library leaves the choice to
//   OpenBLAS (for comparing).
// - gemm_init() runs at most once per process (every entry point calls it); the CLI calls it
//   first thing, before any thread exists, so setenv races nothing.
// - OpenBLAS runs one thread. A GEMM of 4 MFLOP or more is split into slabs of rows (or
//   columns) over compute_threads() (kernels/parallel.h); each slab computes its C elements over
//   all of K, so results do not depend on the thread count.
#pragma once
#include <string>

namespace aha {

// C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C, row-major; op = transpose when ta / tb.
void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

// Opens the library (idempotent). Throws std::runtime_error when OpenBLAS cannot be opened.
void gemm_init();
// What runs the GEMMs, e.g. "OpenBLAS 0.3.21 SkylakeX (core type from cpuid: avx512)".
std::string gemm_backend();
// The core type the CPU's features select ("" = leave it to the library).
std::string gemm_coretype_for_cpu();

// OpenBLAS's own thread count (process-wide; aha keeps it at 1 and splits GEMMs itself).
void blas_set_threads(int num_threads);
int blas_get_threads();

}  // namespace aha
