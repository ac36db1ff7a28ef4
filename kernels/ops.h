// The kernels as the policy calls them: every entry point takes a Ctx first and then exactly the
// arguments of its CPU op (the header named beside it says what they mean). On the CPU it calls
// that op; on CUDA its twin in kernels/cuda/ on ctx's stream, with every pointer on the device.
// An op without a CUDA twin in this build throws naming it instead of running.
//
// Host values: only logprob_mean_nll returns one (the loss for logging); on CUDA it waits for the
// stream. moe_balance_loss's *loss, moe_dispatch's expert_load and moe_experts_*'s
// expert_offsets live where ctx runs. On CUDA the GEMMs (linear, the grouped expert GEMMs) take bf16 operands:
// activations are cast on the way in, weights are read from the bf16 copy of the registered
// parameters (cuda_ctx_set_weights); accumulation and outputs stay fp32.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/device.h"
#include "kernels/moe.h"

namespace aha {

// The ops the model's forward and backward use that have no CUDA twin in this build (empty when
// the whole model runs on CUDA; the decode path's ops are twinned with them). The learner calls
// adamw_update and grad_norm.
std::vector<std::string> ops_without_cuda_twin();

// A Ctx on a new CUDA stream of the selected device (cuda_select_device, default 0) with what the twins need (cuBLASLt handles, a grouped
// GEMM per expert count, workspaces, bf16 operand buffers that grow to the largest GEMM), and its
// release. cuda_ctx_set_weights registers the fp32 parameter buffer whose bf16 copy the GEMMs
// read (weight pointers inside it are mapped to the copy); cuda_ctx_sync_weights refreshes the
// copy after the weights changed.
Ctx cuda_ctx_create();
void cuda_ctx_destroy(Ctx& ctx);
void cuda_ctx_set_weights(const Ctx& ctx, const float* params, long n);
void cuda_ctx_sync_weights(const Ctx& ctx);
// The bf16 copy itself (a bf16 array parallel to the registered parameters; null before
// cuda_ctx_set_weights): an optimiser that writes it beside the fp32 update saves the sync.
void* cuda_ctx_weights_bf16(const Ctx& ctx);

// The fp32 test mode of a CUDA ctx (also AHA_CUDA_FP32=1 in the environment when the ctx is
// made): the GEMMs (MLA's absorbed decode GEMMs included), attention, the routed experts and the
// decode cache compute in fp32 with plain fixed-order kernels (kernels/cuda/fp32_reference.h)
// instead of bf16 operands, tensor cores and cuBLAS,
// so a CUDA run can be compared token for token with the CPU. Forward ops only (the backward
// ones refuse), slow, for tests and debugging; set it before the first op and before a decode
// cache is made (cache_elem_bytes; decode_prefill and decode_step refuse a cache of the other
// element type).
void cuda_ctx_set_fp32(const Ctx& ctx, bool on);
bool cuda_ctx_fp32(const Ctx& ctx);  // false for a CPU ctx

// With AHA_CUDA_PROFILE=1 in the environment when the ctx is made, every CUDA op of this file is
// timed with a pair of events on the ctx's stream (a diagnostic mode: it allocates as ops run).
// The report waits for the stream, lists the ops by their summed time (name, calls, ms, share of
// the span from the first op's start to the last op's end) and starts over; "" when not profiling.
std::string cuda_ctx_profile_report(const Ctx& ctx);

// The largest calls of a step whose CUDA twins need the ctx's buffers (model_cuda_sizes in
// policy/model.h fills it), so that cuda_ctx_reserve lays them out before the first step: no step
// allocates. A call larger than reserved still grows its buffer (and allocates).
struct CudaSizes {
  long operands[3] = {0, 0, 0};             // bf16 elements of each GEMM operand slot
  int N = 0;                                // tokens
  int K = 0;                                // routed experts per token (0: no MoE layer)
  int E = 0;                                // routed experts
  int NH = 0;                               // attention heads
  int NKV = 0;                              // key/value heads
  int DQK = 0, DV = 0;                      // query/key and value widths per head
  std::vector<std::pair<long, int>> norms;  // (rows, cols) of each RMSNorm shape
};
// Bytes of the bf16 operand buffers and of the twins' workspace for s (0 without CUDA; the
// workspace 0 without a device).
size_t cuda_sizes_operand_bytes(const CudaSizes& s);
size_t cuda_sizes_workspace_bytes(const CudaSizes& s);
void cuda_ctx_reserve(const Ctx& ctx, const CudaSizes& s);

// CUDA graphs of a ctx's stream: the launches between cuda_graph_begin and cuda_graph_end are
// captured (thread-local mode: other threads' CUDA calls are unaffected) and replayed with one
// launch. A graph bakes in every pointer and size it saw, so it may be replayed only for the same
// call over the same buffers, and only while cuda_buffers_generation(ctx) is unchanged: it moves
// whenever one of the ctx's own buffers (operands, workspace, bf16 weights) is reallocated.
// begin returns false when the ctx cannot capture (a CPU ctx, AHA_CUDA_PROFILE). end returns null
// when the capture failed, with the reason in *why; the stream has left capture mode either way.
struct CudaGraph;
bool cuda_graph_begin(const Ctx& ctx);
CudaGraph* cuda_graph_end(const Ctx& ctx, std::string* why);
void cuda_graph_launch(const Ctx& ctx, CudaGraph* g);
void cuda_graph_destroy(CudaGraph* g);
unsigned long cuda_buffers_generation(const Ctx& ctx);

// Owns a Ctx made by cuda_ctx_create (destroyed with it); move-only. A CPU Ctx owns nothing.
class CtxOwner {
 public:
  CtxOwner() = default;
  explicit CtxOwner(const Ctx& ctx) : ctx_(ctx) {}
  CtxOwner(const CtxOwner&) = delete;
  CtxOwner& operator=(const CtxOwner&) = delete;
  CtxOwner(CtxOwner&& o) noexcept : ctx_(o.ctx_) { o.ctx_ = Ctx{}; }
  CtxOwner& operator=(CtxOwner&& o) noexcept {
    if (this != &o) {
      cuda_ctx_destroy(ctx_);
      ctx_ = o.ctx_;
      o.ctx_ = Ctx{};
    }
    return *this;
  }
  ~CtxOwner() { cuda_ctx_destroy(ctx_); }

 private:
  Ctx ctx_;
};
// A --device value: "cpu", "cuda", or "auto" (cuda when a device answers, every op has its twin
// and the build has kernels for the device's architecture, else cpu). "cuda" without one of those
// throws naming what is missing.
Device device_choose(const std::string& name);

// device.h
inline void zero(const Ctx& ctx, float* p, long n) {
  device_zero(ctx, p, static_cast<size_t>(n) * sizeof(float));
}
inline void copy(const Ctx& ctx, float* dst, const float* src, long n) {
  device_copy(ctx, dst, ctx.device, src, ctx.device, static_cast<size_t>(n) * sizeof(float));
}
// rows.h
void add_inplace(const Ctx& ctx, float* x, const float* y, long n);
void copy_rows(const Ctx& ctx, float* dst, int ld_dst, const float* src, int ld_src, int rows,
               int cols);
// The decode cache's element type follows the ctx: fp32 on the CPU (the reference) and in CUDA's
// fp32 test mode, bf16 on CUDA (half the bytes a decode step streams; what the CUDA decode
// attention reads). cache_default_elem_bytes: a device's usual one (for reporting sizes).
inline size_t cache_default_elem_bytes(Device d) {
  return d == Device::kCpu ? 4 : 2;
}
inline size_t cache_elem_bytes(const Ctx& ctx) {
  return ctx.device == Device::kCpu || cuda_ctx_fp32(ctx) ? 4 : 2;
}
// scatter_rows into a decode cache of row width W (elements): cache[rows[r], col .. col+cols) =
// src[r, 0 .. cols), rounded to bf16 when the cache is bf16.
void cache_write_rows(const Ctx& ctx, void* cache, int W, int col, const int* rows, int num_rows,
                      const float* src, int ld_src, int N, int cols);
// embedding.h
void embedding_forward(const Ctx& ctx, float* out, const int* tokens, const float* wte, int N,
                       int V, int C);
void embedding_backward(const Ctx& ctx, float* dwte, const float* dout, const int* tokens, int N,
                        int V, int C);
// rmsnorm.h
void rmsnorm_forward(const Ctx& ctx, float* out, float* rstd, const float* inp, const float* weight,
                     int N, int C, float eps);
void rmsnorm_backward(const Ctx& ctx, float* dinp, float* dweight, const float* dout,
                      const float* inp, const float* weight, const float* rstd, int N, int C);
// linear.h
void linear_forward(const Ctx& ctx, float* out, const float* inp, const float* weight, int N,
                    int IC, int OC);
void linear_backward(const Ctx& ctx, float* dinp, float* dweight, const float* dout,
                     const float* inp, const float* weight, int N, int IC, int OC);
void bias_forward(const Ctx& ctx, float* out, const float* bias, int N, int OC);
void bias_backward(const Ctx& ctx, float* dbias, const float* dout, int N, int OC);
// rope.h (inv_freq where ctx runs)
void rope_forward(const Ctx& ctx, float* x, const int* positions, int N, int H, int token_stride,
                  int head_stride, int D, const double* inv_freq, float attn_factor,
                  bool interleaved);
void rope_backward(const Ctx& ctx, float* dx, const int* positions, int N, int H, int token_stride,
                   int head_stride, int D, const double* inv_freq, float attn_factor,
                   bool interleaved);
// attention.h
void attention_forward(const Ctx& ctx, float* out, float* lse, const float* q, const float* k,
                       const float* v, const int* seq_start, int B, int N, int NH, int NKV, int DQK,
                       int DV, float scale);
void attention_backward(const Ctx& ctx, float* dq, float* dk, float* dv, const float* dout,
                        const float* out, const float* lse, const float* q, const float* k,
                        const float* v, const int* seq_start, int B, int N, int NH, int NKV,
                        int DQK, int DV, float scale);
// Decode attention over the cache (cache_elem_bytes: fp32 rows on the CPU and in CUDA's fp32 test
// mode, else bf16 on CUDA, where the queries are rounded to bf16 and the output comes back from
// bf16; kernels/cuda/ops.h). The index
// arrays live where ctx runs. On CUDA, mla_decode_attention needs the step's plan first:
// decode_attention_plan with HOST copies of page_indptr and seq_lens, once per batch composition
// (a step), before the layers' calls (a no-op on the CPU and for GQA).
// Returns whether the step's MLA attention launches may be captured in a CUDA graph and replayed
// for another composition of the same B; *key gets what such a graph bakes in besides buffer
// addresses, which a replay must find unchanged: nothing for our kernel (it reads the indices on
// the device), FlashInfer's plan info for its kernel (grid and workspace offsets; the schedule
// itself is in the device workspace, rewritten by each plan before the replay on the stream).
struct DecodeLaunchKey {
  long long v[18] = {};
  int n = 0;
  bool operator==(const DecodeLaunchKey& o) const {
    if (n != o.n) return false;
    for (int i = 0; i < n; i++)
      if (v[i] != o.v[i]) return false;
    return true;
  }
};
bool decode_attention_plan(const Ctx& ctx, const int* page_indptr_host, const int* seq_lens_host,
                           int B, int NH, int R, int DR, DecodeLaunchKey* key);
void mla_decode_attention(const Ctx& ctx, float* out_lat, const float* q_lat, const float* q_rope,
                          const void* cache, int page_tokens, const int* page_indptr,
                          const int* page_ids, const int* seq_lens, int B, int NH, int R, int DR,
                          float scale);
void gqa_decode_attention(const Ctx& ctx, float* out, const float* q, const void* cache,
                          int page_tokens, const int* page_indptr, const int* page_ids,
                          const int* seq_lens, int B, int NH, int NKV, int D, float scale);
// The batch-invariant mode's (kernels/attention.h); on CUDA an fp32 cache in the fp32 mode only,
// through the same kernel as that mode's attention_forward.
void paged_attention_invariant(const Ctx& ctx, float* out, const float* q, const void* cache,
                               int page_tokens, const int* page_indptr, const int* page_ids,
                               const int* seq_lens, int B, int NH, int NKV, int DQK, int DV, long W,
                               long k_col, long v_col, float scale);
// mla.h
void mla_expand_kv(const Ctx& ctx, float* k, float* v, const float* kv, const float* kv_a, int N,
                   int NH, int DN, int DR, int DV, int R);
void mla_expand_kv_backward(const Ctx& ctx, float* dkv, float* dkv_a, const float* dk,
                            const float* dv, int N, int NH, int DN, int DR, int DV, int R);
void mla_absorb_q(const Ctx& ctx, float* q_lat, float* q_rope, const float* q, const float* kv_b,
                  int B, int NH, int DN, int DR, int DV, int R);
void mla_absorb_out(const Ctx& ctx, float* att, const float* out_lat, const float* kv_b, int B,
                    int NH, int DN, int DV, int R);
// swiglu.h
void swiglu_forward(const Ctx& ctx, float* out, const float* gate, const float* up, long N);
void swiglu_backward(const Ctx& ctx, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, long N);
// moe.h
void moe_router_forward(const Ctx& ctx, float* scores, int* topk_idx, float* topk_weights,
                        const float* logits, const float* bias, int N, const RouterParams& p,
                        bool select);
void moe_router_backward(const Ctx& ctx, float* dlogits, const float* dtopk_weights,
                         const float* scores, const int* topk_idx, int N, const RouterParams& p);
// Also slot_row[N*K]: the row of each slot (row_slot's inverse), which combine and
// gather-backward use on CUDA to sum per token without atomics.
void moe_dispatch(const Ctx& ctx, int* expert_offsets, int* row_token, int* row_slot, int* slot_row,
                  const int* topk_idx, int N, int E, int K, long* expert_load);
void moe_gather(const Ctx& ctx, float* xe, const float* x, const int* row_token, int M, int C);
// M = N*K rows.
void moe_gather_backward(const Ctx& ctx, float* dx, const float* dxe, const int* row_token,
                         const int* slot_row, int N, int K, int C);
void moe_combine(const Ctx& ctx, float* out, const float* ye, const float* topk_weights,
                 const int* row_token, const int* row_slot, const int* slot_row, int N, int K,
                 int C);
void moe_combine_backward(const Ctx& ctx, float* dye, float* dtopk_weights, const float* dout,
                          const float* ye, const float* topk_weights, const int* row_token,
                          const int* row_slot, int M, int C);
void moe_experts_forward(const Ctx& ctx, float* ye, float* he_gate, float* he_up, float* he_act,
                         const float* xe, const float* w_gate, const float* w_up,
                         const float* w_down, const int* expert_offsets, int E, int C, int H,
                         int M);
void moe_experts_backward(const Ctx& ctx, float* dxe, float* dw_gate, float* dw_up, float* dw_down,
                          const float* dye, const float* he_gate, const float* he_up,
                          const float* he_act, const float* xe, const float* w_gate,
                          const float* w_up, const float* w_down, const int* expert_offsets, int E,
                          int C, int H, int M, float* dgate, float* dup, float* dact);
// *loss += the loss (where ctx runs; null: not wanted); N = seq_start[B], which CUDA cannot read.
void moe_balance_loss(const Ctx& ctx, double* loss, const float* scores, const int* topk_idx,
                      const int* seq_start, int B, int N, const RouterParams& p, float alpha,
                      float* dlogits);
// logprob.h
void logprob_forward(const Ctx& ctx, float* logp, float* lse, float* entropy, const float* logits,
                     const int* targets, int N, int V, float inv_temp);
void logprob_backward(const Ctx& ctx, float* dlogits, const float* dlogp, const float* logits,
                      const float* lse, const int* targets, int N, int V, float inv_temp);
float logprob_mean_nll(const Ctx& ctx, const float* logp, const int* targets, int N);
// adamw.h
void adamw_update(const Ctx& ctx, float* params, const float* grads, float* m, float* v, long n,
                  int step, const AdamWParams& p);
double grad_norm(const Ctx& ctx, const float* grads, long n);

}  // namespace aha
