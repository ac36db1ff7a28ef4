// Plain fp32 CUDA kernels for the inference engine's fp32 test mode (fp32_reference.cu), with the
// contracts of the CPU ops named beside each one, so that a GPU run can be compared token for token
// with the CPU.
//
// clang-format off
// Invariants:
// - fp32 throughout: inputs, outputs, scores, softmax, sums. No bf16 anywhere, no tensor cores,
//   no cuBLAS (nothing picks a different algorithm per shape).
// - Deterministic: every sum runs in a fixed order (dot products over the inner dimension in
//   index order with explicit fmaf, softmax sums over keys through fixed-order block reductions),
//   no atomics; two launches give identical bits.
// - No host synchronisation and no allocation inside a launcher; every launch's error is checked
//   with AHA_CUDA_CHECK(cudaGetLastError()). All pointers are device pointers, all work is queued
//   on `stream`.
// - Index inputs (seq_start, page tables, dst_rows, expert_offsets) are trusted as the CPU op
//   checked them; rows they place out of range (scatter's destinations, rows outside every
//   expert) are skipped, never written.
// - Speed is not a goal: one thread per output element, one block per (query, head).
// clang-format on
#pragma once
#include <cuda_runtime.h>

namespace aha {

// attention_forward (kernels/attention.h): causal within each packed sequence, GQA head h reads
// kv head h / (NH / NKV), lse = log Σ_j exp(score_j) with score = scale * q·k (natural log).
// out[N,NH,DV], lse[N,NH]; q[N,NH,DQK], k[N,NKV,DQK], v[N,NKV,DV]; seq_start[B+1] on the device,
// N = seq_start[B] known on the host. DV <= 8192.
void attention_forward_f32_cuda(float* out, float* lse, const float* q, const float* k,
                                const float* v, const int* seq_start, int B, int N, int NH, int NKV,
                                int DQK, int DV, float scale, cudaStream_t stream);

// mla_decode_attention (kernels/attention.h) over an fp32 paged cache of rows [c_kv (R) ; k_rope
// (DR)]; seq_lens[b] = 0 gives a zero row. out_lat[B,NH,R]; q_lat[B,NH,R]; q_rope[B,NH,DR];
// cache[*, R+DR]; page_indptr[B+1]; page_ids[page_indptr[B]]; seq_lens[B]. R <= 8192.
void mla_decode_attention_f32_cuda(float* out_lat, const float* q_lat, const float* q_rope,
                                   const float* cache, int page_tokens, const int* page_indptr,
                                   const int* page_ids, const int* seq_lens, int B, int NH, int R,
                                   int DR, float scale, cudaStream_t stream);

// gqa_decode_attention (kernels/attention.h) over an fp32 paged cache of rows [k (NKV*D) ;
// v (NKV*D)]. out[B,NH,D]; q[B,NH,D]; cache[*, 2*NKV*D]; page_indptr[B+1]; seq_lens[B]. D <= 8192.
void gqa_decode_attention_f32_cuda(float* out, const float* q, const float* cache, int page_tokens,
                                   const int* page_indptr, const int* page_ids, const int* seq_lens,
                                   int B, int NH, int NKV, int D, float scale, cudaStream_t stream);

// paged_attention_invariant (kernels/attention.h) over an fp32 paged cache of rows of W floats:
// kv head g's key of position i at row_i*W + k_col + g*DQK, its value at row_i*W + v_col + g*DV.
// The batch-invariant mode's decode attention on CUDA: the same per-(token, head) arithmetic as
// attention_forward_f32_cuda. out[B,NH,DV]; q[B,NH,DQK]; page_indptr[B+1]; seq_lens[B].
// DV <= 8192.
void paged_attention_f32_cuda(float* out, const float* q, const float* cache, int page_tokens,
                              const int* page_indptr, const int* page_ids, const int* seq_lens,
                              int B, int NH, int NKV, int DQK, int DV, long W, long k_col,
                              long v_col, float scale, cudaStream_t stream);

// scatter_rows (kernels/rows.h): dst[dst_rows[r], 0:cols] = src[r, 0:cols] for r < rows; a row
// outside [0, num_dst_rows) is skipped. dst[num_dst_rows, ld_dst]; src[rows, ld_src].
void scatter_rows_f32_cuda(float* dst, int ld_dst, const int* dst_rows, int num_dst_rows,
                           const float* src, int ld_src, int rows, int cols, cudaStream_t stream);

// moe_experts_forward (kernels/moe.h) with expert_offsets[E+1] on the device, M rows in all
// (host-known): rows of expert e get he_gate/he_up[M,H] = xe · W_gate/up_eᵀ,
// he_act = silu(he_gate) * he_up with silu(g) = g / (1 + exp(-g)), ye[M,C] = he_act · W_down_eᵀ;
// rows outside [expert_offsets[0], expert_offsets[E]) are left alone.
// xe[M,C]; w_gate/w_up [E][H,C]; w_down [E][C,H].
void moe_experts_forward_f32_cuda(float* ye, float* he_gate, float* he_up, float* he_act,
                                  const float* xe, const float* w_gate, const float* w_up,
                                  const float* w_down, const int* expert_offsets, int E, int C,
                                  int H, int M, cudaStream_t stream);

// linear_forward (kernels/linear.h): out[N,OC] = inp[N,IC] · weight[OC,IC]ᵀ (overwrites).
void linear_forward_f32_cuda(float* out, const float* inp, const float* weight, int N, int IC,
                             int OC, cudaStream_t stream);

// mla_absorb_q / mla_absorb_out (kernels/mla.h): the absorbed decode query and output, one
// thread per output element. q_lat[B,NH,R], q_rope[B,NH,DR], q[B,NH,DN+DR], kv_b[NH*(DN+DV), R];
// att[B,NH,DV], out_lat[B,NH,R].
void mla_absorb_q_f32_cuda(float* q_lat, float* q_rope, const float* q, const float* kv_b, int B,
                           int NH, int DN, int DR, int DV, int R, cudaStream_t stream);
void mla_absorb_out_f32_cuda(float* att, const float* out_lat, const float* kv_b, int B, int NH,
                             int DN, int DV, int R, cudaStream_t stream);

}  // namespace aha
