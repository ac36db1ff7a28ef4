// The batch-invariant CPU kernels, used when gemm_batch_invariant() is on (kernels/gemm.h): the
// fp32 GEMM behind sgemm, and one query token's attention shared by the learner's forward and
// the decode path, so a token's log-prob is the same bits in a rollout and in the learner.
//
// Invariants:
// - Every element C[i, j] is one function of row i of op(A), column j of op(B), K, alpha and
//   beta only: a dot product over k in 16 lanes (lane = k mod 16, k ascending, a fused
//   multiply-add per k, the last partial chunk padded with zeros), the lanes summed in one
//   fixed tree ((l + l+8), then (+4), then (s0 + s2) + (s1 + s3)), then alpha * dot
//   (+ beta * C).
//   So a row of C is the same bits whatever M is, whichever other rows share the call, however
//   the call is split over threads or into column blocks, and in whichever tile it lands.
// - op(A) transposed or op(B) not transposed are packed first (rows of op(A), columns of op(B)
//   contiguous in k) into the calling thread's scratch; the arithmetic is the same either way.
// - beta == 0 never reads C (it may hold NaN).
// - The lanes multiply-add with one rounding (explicit fused multiply-adds; the file is compiled
//   with -ffp-contract=off so that the compiler fuses nothing else), so the AVX-512, AVX2 and
//   portable (std::fma) versions give the same bits: a result does not depend on the machine.
// - attention_row_invariant computes one token's heads from its query and its keys and values
//   in position order only (scores by dot_invariant, max, exp, a double sum, values summed in
//   position order), wherever the keys lie: packed rows in the learner, cache pages in decode.
#pragma once
#include <string>

namespace aha {

// C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C, row-major, as sgemm.
void sgemm_invariant(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                     const float* B, int ldb, float beta, float* C, int ldc);

// Selects the kernels of one instruction set ("avx512", "avx2", "generic") for the process, for
// tests and benchmarks; false (nothing changed) when this CPU cannot run it. By default the
// best one the CPU runs is used.
bool invariant_use_isa(const std::string& name);

// The instruction set in use: "avx512", "avx2" or "generic".
const char* invariant_isa_name();

// The same dot of two contiguous rows of n floats, for kernels that must give a GEMM's bits.
float dot_invariant(const float* a, const float* b, int n);

// One query token against L keys and values, all NH heads: out[NH, DV] (head h at h*DV) and,
// when not null, lse[NH] (the log-sum-exp of the scaled scores). q[NH, DQK] (head h at h*DQK).
// Position i's key for kv head g is k + koff[i] + g*DQK, its value v + voff[i] + g*DV; head h
// reads kv head h / (NH / NKV). sc: scratch of L floats. L == 0 gives zeros (lse -inf).
void attention_row_invariant(float* out, float* lse, const float* q, const float* k,
                             const long* koff, const float* v, const long* voff, int L, int NH,
                             int NKV, int DQK, int DV, float scale, float* sc);

}  // namespace aha
