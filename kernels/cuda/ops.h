// CUDA twins of the CPU kernels in kernels/*.h: the same arguments as device pointers, plus the
// stream the work is queued on. Each twin is in kernels/cuda/<op>.cu beside its host launcher.
//
// clang-format off
// Invariants:
// - Same math as the CPU op; results differ by rounding only (device expf, summation order,
//   bf16 GEMM operands), within atol + |ref| * 2^-8 (tests/gpu/).
// - No host synchronisation and no allocation inside a launcher. Ops needing scratch take a
//   workspace of the size their *_workspace_size function returns, allocated once by the caller.
// - Deterministic: no floating-point atomics; every reduction has a fixed order, so two runs on
//   the same device are bit-identical.
// - Index inputs (token ids, targets, topk_idx) are trusted: the CPU checks them when the batch
//   is built (a device cannot throw). Out-of-range ids are skipped, never read out of bounds.
// - Backward twins accumulate (+=) exactly where their CPU op does.
// - GEMM operands are bf16 (weights: a bf16 copy of the fp32 master, activations: cast_to_bf16
//   of the fp32 buffer), accumulation and outputs fp32.
// clang-format on
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "kernels/adamw.h"
#include "kernels/check.h"
#include "kernels/moe.h"

#define AHA_CUDA_CHECK(expr)                                                                      \
  do {                                                                                            \
    cudaError_t aha_err_ = (expr);                                                                \
    AHA_CHECK(aha_err_ == cudaSuccess, std::string(#expr) + ": " + cudaGetErrorString(aha_err_)); \
  } while (0)

namespace aha {

using bf16 = __nv_bfloat16;

// "" when the selected device can run this build's kernels; else why not (a GPU architecture the
// build has no code for: CMAKE_CUDA_ARCHITECTURES), so --device auto falls back to the CPU and
// --device cuda stops saying so instead of failing at the first launch.
std::string cuda_kernels_unrunnable_reason();

// ---- casts (cast.cu)
// out[n] = bf16(inp[n]) (round to nearest even); out[n] = float(inp[n])
void cast_to_bf16_cuda(bf16* out, const float* inp, long n, cudaStream_t stream);
void cast_to_f32_cuda(float* out, const bf16* inp, long n, cudaStream_t stream);

// ---- embedding.h (embedding.cu)
// out[N,C] = wte[tokens[n], :]  (an id outside [0, V) gives a zero row)
void embedding_forward_cuda(float* out, const int* tokens, const float* wte, int N, int V, int C,
                            cudaStream_t stream);
// dwte[tokens[n], :] += dout[n, :]: the positions are sorted by token (stable radix sort), then
// each distinct token sums its rows in position order. Workspace:
// embedding_backward_workspace_size.
size_t embedding_backward_workspace_size(int N);
void embedding_backward_cuda(float* dwte, const float* dout, const int* tokens, int N, int V, int C,
                             void* workspace, size_t workspace_bytes, cudaStream_t stream);

// ---- rmsnorm.h (rmsnorm.cu); also QK-norm: rows = N * heads, C = head dim
void rmsnorm_forward_cuda(float* out, float* rstd, const float* inp, const float* weight, int N,
                          int C, float eps, cudaStream_t stream);
// dweight is reduced per block of rows into the workspace, then over the blocks in order.
size_t rmsnorm_backward_workspace_size(int N, int C);
void rmsnorm_backward_cuda(float* dinp, float* dweight, const float* dout, const float* inp,
                           const float* weight, const float* rstd, int N, int C, void* workspace,
                           size_t workspace_bytes, cudaStream_t stream);

// ---- linear.h (linear.cu): cuBLASLt, bf16 operands, fp32 accumulation and output
struct Blas;  // cuBLASLt + cuBLAS handles, a workspace, a cache of chosen algorithms
Blas* blas_create(size_t workspace_bytes = 32u << 20);
void blas_destroy(Blas* blas);
// out[N,OC] = inp[N,IC] · weight[OC,IC]ᵀ (overwrites)
void linear_forward_cuda(Blas* blas, float* out, const bf16* inp, const bf16* weight, int N, int IC,
                         int OC, cudaStream_t stream);
// dinp[N,IC] += dout · weight; dweight[OC,IC] += doutᵀ · inp; either may be null
void linear_backward_cuda(Blas* blas, float* dinp, float* dweight, const bf16* dout,
                          const bf16* inp, const bf16* weight, int N, int IC, int OC,
                          cudaStream_t stream);
// MLA's absorbed decode query and output (kernels/mla.h) as fp32 strided-batched cuBLAS GEMMs
// over the heads, reading the fp32 kv_b_proj (no bf16 rounding, as the CPU op).
void mla_absorb_q_cuda(Blas* blas, float* q_lat, float* q_rope, const float* q, const float* kv_b,
                       int B, int NH, int DN, int DR, int DV, int R, cudaStream_t stream);
void mla_absorb_out_cuda(Blas* blas, float* att, const float* out_lat, const float* kv_b, int B,
                         int NH, int DN, int DV, int R, cudaStream_t stream);
// out[N,OC] += bias[OC]; dbias[OC] += Σ_n dout[n,:] (one thread per column, rows in order)
void bias_forward_cuda(float* out, const float* bias, int N, int OC, cudaStream_t stream);
void bias_backward_cuda(float* dbias, const float* dout, int N, int OC, cudaStream_t stream);

// ---- rope.h (rope.cu); inv_freq[D/2] on the device (from rope_frequencies); angles in double
void rope_forward_cuda(float* x, const int* positions, int N, int NH, int token_stride,
                       int head_stride, int D, const double* inv_freq, float attn_factor,
                       bool interleaved, cudaStream_t stream);
void rope_backward_cuda(float* dx, const int* positions, int N, int NH, int token_stride,
                        int head_stride, int D, const double* inv_freq, float attn_factor,
                        bool interleaved, cudaStream_t stream);

// ---- attention.h (attention.cu): packed causal attention, flash-style (tiles of keys in shared
// memory, online softmax; no N×N score matrix) on tensor cores: bf16 operands (q, k, v, dout cast
// to bf16 copies in the workspace first), fp32 softmax, lse and accumulators. N = seq_start[B]
// (the host knows it). DQK, DV <= 256 (MLA 192/128, GQA 128). Workspace: the copies, sized by
// the *_workspace_size functions (they grow with N and the heads' dims, padded to 16).
size_t attention_forward_workspace_size(int N, int NH, int NKV, int DQK, int DV);
void attention_forward_cuda(float* out, float* lse, const float* q, const float* k, const float* v,
                            const int* seq_start, int B, int N, int NH, int NKV, int DQK, int DV,
                            float scale, void* workspace, size_t workspace_bytes,
                            cudaStream_t stream);
// dq +=, dk +=, dv +=. dq is computed per query, dk/dv per key (summing the heads of a kv group
// in order): no atomics. Workspace: the copies and rowdot[N,NH] = dout·out.
size_t attention_backward_workspace_size(int N, int NH, int NKV, int DQK, int DV);
void attention_backward_cuda(float* dq, float* dk, float* dv, const float* dout, const float* out,
                             const float* lse, const float* q, const float* k, const float* v,
                             const int* seq_start, int B, int N, int NH, int NKV, int DQK, int DV,
                             float scale, void* workspace, size_t workspace_bytes,
                             cudaStream_t stream);

// ---- attention.h decode attention (decode_attention.cu): one query token per batch row over a
// paged cache in FlashInfer's format, as mla_decode_attention / gqa_decode_attention (same
// page_tokens, page_indptr[B+1], page_ids, seq_lens[B]; a row with seq_lens[b] = 0 gets zeros).
// Dtypes: the cache is bf16 (the bf16 paged cache: half the bytes a decode step streams),
// queries bf16, scores, softmax and sums fp32, output bf16. bf16 in and out because FlashInfer's
// MLA kernel computes in bf16 MMAs and its split-row partials are 16-bit, and because the next
// op (the value up-projection / o_proj) is a bf16 GEMM operand anyway; our kernel keeps the same
// types so the two paths are interchangeable.
// Buffers (bf16):  MLA  out_lat[B,NH,R], q_lat[B,NH,R], q_rope[B,NH,DR], cache[pages*P, R+DR]
//                  GQA  out[B,NH,D], q[B,NH,D], cache[pages*P, 2*NKV*D] (rows [k ; v])
// MLA with R = 512, DR = 64 runs FlashInfer's batch MLA paged kernel (FA2-style, sm_80+) when the
// build found its headers (AHA_HAVE_FLASHINFER); other dims, GQA, or use_flashinfer = false run
// our kernel: 8 heads of one kv group per block (a warp per head), 32 keys per tile staged in
// shared memory, online softmax, fp32 accumulation; any R, DR, D with R, D <= 512.
// FlashInfer needs a schedule per batch composition, computed on the HOST from host copies of
// page_indptr and seq_lens (mla_decode_plan_cuda). The workspaces are allocated once, in
// decode_attention_create, sized by the device's SM count: float ~ 2*SMs*64*(512*2+4) B (17.4 MB
// on 132 SMs), int ~ 590 KB device + the same pinned on the host. No allocation per call.
struct DecodeAttention {
  bool use_flashinfer = false;  // set at create when built with FlashInfer and the device is sm_80+
  int num_sm = 0;
  void* float_workspace = nullptr;  // device: FlashInfer's partial outputs of split rows
  size_t float_workspace_bytes = 0;
  void* int_workspace = nullptr;  // device: FlashInfer's schedule
  size_t int_workspace_bytes = 0;
  void* staging = nullptr;       // pinned host, int_workspace_bytes: the schedule being built
  cudaEvent_t staged = nullptr;  // recorded after the schedule's copy to the device
  long long plan_info[18] = {};  // FlashInfer's MLAPlanInfo of the last plan
  int planned_B = -1, planned_NH = -1;
};
DecodeAttention* decode_attention_create();
void decode_attention_destroy(DecodeAttention* d);
// Whether mla_decode_attention_cuda takes FlashInfer's kernel for these latent dims.
bool mla_decode_uses_flashinfer(const DecodeAttention* d, int R, int DR);
// Plans the next mla_decode_attention_cuda calls for this batch composition (host arrays
// page_indptr_host[B+1], seq_lens_host[B], the values the device copies hold). With FlashInfer:
// the schedule is built on the host into the pinned staging buffer and copied to the device on
// stream (cudaMemcpyAsync); the one HOST SYNC is a wait on the previous plan's copy (an event)
// before its staging buffer is reused, normally long finished. Plan and run on the same stream.
// Without FlashInfer for these dims it only records B and NH.
void mla_decode_plan_cuda(DecodeAttention* d, const int* page_indptr_host, const int* seq_lens_host,
                          int B, int NH, int R, int DR, cudaStream_t stream);
// The FlashInfer path reads the planned schedule (B and NH must match the plan), page_ids and the
// cache; our kernel reads page_indptr and seq_lens on the device. The cache must be 16-byte
// aligned (cudaMalloc) for FlashInfer's 16-byte loads.
void mla_decode_attention_cuda(DecodeAttention* d, bf16* out_lat, const bf16* q_lat,
                               const bf16* q_rope, const bf16* cache, int page_tokens,
                               const int* page_indptr, const int* page_ids, const int* seq_lens,
                               int B, int NH, int R, int DR, float scale, cudaStream_t stream);
// Our kernel always; no plan.
void gqa_decode_attention_cuda(bf16* out, const bf16* q, const bf16* cache, int page_tokens,
                               const int* page_indptr, const int* page_ids, const int* seq_lens,
                               int B, int NH, int NKV, int D, float scale, cudaStream_t stream);

// ---- swiglu.h (swiglu.cu)
void swiglu_forward_cuda(float* out, const float* gate, const float* up, long N,
                         cudaStream_t stream);
void swiglu_backward_cuda(float* dgate, float* dup, const float* dout, const float* gate,
                          const float* up, long N, cudaStream_t stream);

// ---- moe.h (moe.cu)
// One warp per token; selection ties go to the lowest expert index, as on the CPU.
void moe_router_forward_cuda(float* scores, int* topk_idx, float* topk_weights, const float* logits,
                             const float* bias, int N, const RouterParams& p, bool select,
                             cudaStream_t stream);
void moe_router_backward_cuda(float* dlogits, const float* dtopk_weights, const float* scores,
                              const int* topk_idx, int N, const RouterParams& p,
                              cudaStream_t stream);
// moe_balance_loss over the packed batch (seq_start[B+1] on the device, N = seq_start[B]):
// *loss += the loss (device; null: not wanted), dlogits[N,E] += its gradient (null: none). Fixed
// reduction orders, so two runs give the same bits. Workspace: moe_balance_loss_workspace_size.
size_t moe_balance_loss_workspace_size(int N, int B, int E);
void moe_balance_loss_cuda(double* loss, float* dlogits, const float* scores, const int* topk_idx,
                           const int* seq_start, int B, int N, const RouterParams& p, float alpha,
                           void* workspace, size_t workspace_bytes, cudaStream_t stream);
// As moe_dispatch (stable sort of the N*K slots by expert), plus slot_row[N*K]: the row of each
// slot (the inverse of row_slot), which lets combine and gather-backward sum per token without
// atomics. expert_load[E] += (may be null). Workspace: moe_dispatch_workspace_size.
size_t moe_dispatch_workspace_size(int N, int K);
void moe_dispatch_cuda(int* expert_offsets, int* row_token, int* row_slot, int* slot_row,
                       const int* topk_idx, int N, int E, int K, long* expert_load, void* workspace,
                       size_t workspace_bytes, cudaStream_t stream);
// xe[M,C] = x[row_token[m], :] (fp32 or straight to the bf16 GEMM operand)
void moe_gather_cuda(float* xe, const float* x, const int* row_token, int M, int C,
                     cudaStream_t stream);
void moe_gather_bf16_cuda(bf16* xe, const float* x, const int* row_token, int M, int C,
                          cudaStream_t stream);
// dx[n,:] += Σ_k dxe[slot_row[n*K+k], :]
void moe_gather_backward_cuda(float* dx, const float* dxe, const int* slot_row, int N, int K, int C,
                              cudaStream_t stream);
// out[n,:] += Σ_k topk_weights[n*K+k] * ye[slot_row[n*K+k], :]
void moe_combine_cuda(float* out, const float* ye, const float* topk_weights, const int* slot_row,
                      int N, int K, int C, cudaStream_t stream);
// dye[m,:] = w * dout[n,:] (overwrites); dtopk_weights[row_slot[m]] += dout[n,:]·ye[m,:]
void moe_combine_backward_cuda(float* dye, float* dtopk_weights, const float* dout, const float* ye,
                               const float* topk_weights, const int* row_token, const int* row_slot,
                               int M, int C, cudaStream_t stream);

// ---- grouped expert GEMM (grouped_gemm.cu): all experts in one launch, per-expert row counts
// read on the device from expert_offsets[E+1] (moe_dispatch_cuda's), never by the host.
// Expert weights w[E,OC,IC] (stacked HF [OC,IC] matrices, bf16); rows m of expert e are
// [expert_offsets[e], expert_offsets[e+1]) of the dispatched [M, ...] buffers.
enum class GroupedGemmOp : int {
  kForward = 0,         // D = ye[M,OC] = xe[M,IC] · w_eᵀ            (A = xe, B = w; overwrites)
  kBackwardData = 1,    // D = dxe[M,IC] += dye[M,OC] · w_e          (A = dye, B = w)
  kBackwardWeight = 2,  // D = dw[E,OC,IC] += dye_eᵀ · xe_e          (A = dye, B = xe)
};
struct GroupedGemm {
  int E = 0;
  void* scratch = nullptr;  // device: CUTLASS's problem/pointer/stride arrays and workspace
  size_t scratch_bytes = 0;
  // CUTLASS sm_90a kernels when built with them and the device is compute capability 9.0;
  // otherwise (or IC, OC not multiples of 8) a plain SIMT kernel. Tests flip it to compare.
  bool use_cutlass = false;
};
GroupedGemm* grouped_gemm_create(int E);
void grouped_gemm_destroy(GroupedGemm* g);
void grouped_gemm_cuda(GroupedGemm* g, GroupedGemmOp op, float* D, const bf16* A, const bf16* B,
                       const int* expert_offsets, int M, int IC, int OC, cudaStream_t stream);

// ---- logprob.h (logprob.cu): one block per row, the vocabulary read in chunks; sums in double
void logprob_forward_cuda(float* logp, float* lse, float* entropy, const float* logits,
                          const int* targets, int N, int V, float inv_temp, cudaStream_t stream);
void logprob_backward_cuda(float* dlogits, const float* dlogp, const float* logits,
                           const float* lse, const int* targets, int N, int V, float inv_temp,
                           cudaStream_t stream);

// ---- adamw.h (adamw.cu)
// A stretch of the flat parameter buffer with its weight decay; elements outside every segment
// (frozen tensors) are left alone. Segments sorted by offset, not overlapping.
struct AdamWSegment {
  long offset = 0;
  long numel = 0;
  float weight_decay = 0;
};
// One launch over all n parameters: fp32 master params, m, v updated from grads * clip, where
// clip = max_norm / (norm + 1e-12) if max_norm > 0 and *grad_norm > max_norm, else 1 (grad_norm
// on the device, from grad_norm_cuda; may be null). params_bf16 (may be null) gets the bf16 copy.
// p.weight_decay is ignored: each segment carries its own.
void adamw_update_cuda(float* params, bf16* params_bf16, const float* grads, float* m, float* v,
                       long n, const AdamWSegment* segments, int num_segments, int step,
                       const AdamWParams& p, const double* grad_norm, float max_norm,
                       cudaStream_t stream);
// *norm = ||grads[n]||_2: per-block sums in double, then the blocks in order (deterministic).
size_t grad_norm_workspace_size(long n);
void grad_norm_cuda(double* norm, const float* grads, long n, void* workspace,
                    size_t workspace_bytes, cudaStream_t stream);

}  // namespace aha
