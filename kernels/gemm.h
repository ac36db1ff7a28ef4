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
// - fp32 GEMMs of the shapes where oneDNN's brgemm matmul beats OpenBLAS go through it (measured
//   per shape, one core: 1.1-1.5x on a model's layers, slower on a vocabulary-sized dimension,
//   on one or a few rows, and on GEMMs of under 1 MFLOP): op(A) not transposed, A, B and C
//   contiguous, M >= 8, N and K <= 4096. The choice is made on the whole GEMM before it is
//   split, and oneDNN GEMMs split by rows only (a row of C is then the same bits whatever the
//   split); a CPU where oneDNN has no brgemm kernel, or AHA_GEMM_FP32=openblas, keeps every fp32
//   GEMM on OpenBLAS. The rest (transposed A: weight gradients; the vocabulary) stay on OpenBLAS.
// - OpenBLAS runs one thread. A GEMM of 4 MFLOP or more is split into slabs of rows (or
//   columns) over compute_threads() (kernels/parallel.h); each slab computes its C elements over
//   all of K, so results do not depend on the thread count.
// - Precision is process-wide, fp32 by default. bf16 (gemm_set_precision) keeps fp32 in memory,
//   rounds op(A) and op(B) to bf16 (nearest even) on the way in and accumulates in fp32 -- what
//   autocast does on GPUs -- through oneDNN's matmul (AMX tiles on Sapphire Rapids and later).
//   It is refused on a CPU where oneDNN has no native bf16 kernel (it would emulate, slower than
//   fp32). Set it before the first GEMM of a run; the learner and the rollout workers of one run
//   use the same setting, so sampler and trainer compute the same log-probs.
// - bf16: one oneDNN primitive per shape, created on first use (a JIT compile, ~1 ms) and kept
//   in a fixed table; oneDNN runs one OpenMP thread per call and aha's pool splits as for fp32.
//   An operand every slab reads whole (B of a row split, A of a column split) is converted once
//   before the split, not once per thread.
// - Batch-invariant mode (gemm_set_batch_invariant, process-wide, off by default, fp32 only):
//   every sgemm goes through sgemm_invariant (kernels/invariant.h), whose elements are each
//   one fixed-order function of their row and column, so a row's result does not depend on the
//   other rows of the call; the attention and the sampler's log-probs follow the same switch.
// - bf16 weight copies: inside a GemmWeightScope on the calling thread, an operand lying in the
//   scope's fp32 buffer (a model's parameters) is read from the scope's bf16 copy instead of
//   being converted on every GEMM; the first use after a refresh converts every stale chunk of
//   the buffer at once, over all compute threads. A scope opened with refresh
//   marks the whole copy stale (model_forward: weights may have changed since); one opened
//   without it reuses what that forward converted (its backward). The values are the same bf16
//   roundings either way, so results do not depend on the cache. Outside a scope, in a parallel
//   region, or at fp32, nothing is cached.
// - bf16 splits prefer rows (each part >= 32 rows): a column slab writes C with a stride, which
//   oneDNN runs off AMX, so it goes through a temporary and a copy.
#pragma once
#include <string>

namespace aha {

// C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C, row-major; op = transpose when ta / tb.
void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

// sgemm for backward passes: never batch-invariant (a gradient needs the same bits run after
// run, which every path gives, not the same bits in another batch), so the mode costs the
// forward only.
void sgemm_gradient(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                    const float* B, int ldb, float beta, float* C, int ldc);

enum class GemmPrecision { kFp32, kBf16 };
// Throws std::runtime_error (saying why) when kBf16 cannot run natively on this CPU or build.
void gemm_set_precision(GemmPrecision p);
GemmPrecision gemm_precision();
// "fp32" / "bf16"; parse throws naming the value and the choices.
const char* gemm_precision_name(GemmPrecision p);
GemmPrecision gemm_precision_parse(const std::string& s);
// Whether kBf16 runs natively here; otherwise *why says what is missing.
bool gemm_bf16_supported(std::string* why = nullptr);

// Batch-invariant mode (the invariants above): set before the first GEMM of a run, like the
// precision. Throws when on with bf16 (the mode is fp32 only).
void gemm_set_batch_invariant(bool on);
bool gemm_batch_invariant();

// Opens the library (idempotent). Throws std::runtime_error when OpenBLAS cannot be opened.
void gemm_init();
// What runs the GEMMs at the current precision, e.g. "oneDNN 2.6.3 fp32 (brg:avx512_core) +
// OpenBLAS 0.3.21 SkylakeX (core type from cpuid: avx512)" or "oneDNN 2.6.3 bf16
// (brg:avx512_core_amx_bf16), fp32 accumulation".
std::string gemm_backend();
// The core type the CPU's features select ("" = leave it to the library).
std::string gemm_coretype_for_cpu();

// While alive, GEMMs at bf16 on this thread read operands inside [base, base + n) (a model's
// parameters) from its bf16 copy. The copies live in a small table here keyed by base, [n] bf16
// each, allocated at the first bf16 scope of that buffer and reused after (the oldest of
// kGemmWeightCopies is freed when a new buffer needs a slot). Does nothing at fp32. Scopes
// nest (the inner one wins until it ends).
constexpr int kGemmWeightCopies = 4;
struct GemmWeightCopy;
class GemmWeightScope {
 public:
  GemmWeightScope(const float* base, long n, bool refresh);
  ~GemmWeightScope();
  GemmWeightScope(const GemmWeightScope&) = delete;
  GemmWeightScope& operator=(const GemmWeightScope&) = delete;

  GemmWeightCopy* copy = nullptr;  // null when inactive (fp32)
  GemmWeightScope* prev = nullptr;
};

// OpenBLAS's own thread count (process-wide; aha keeps it at 1 and splits GEMMs itself).
void blas_set_threads(int num_threads);
int blas_get_threads();

}  // namespace aha
