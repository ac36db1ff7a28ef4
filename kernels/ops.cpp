#include "kernels/ops.h"

#include <iterator>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/embedding.h"
#include "kernels/linear.h"
#include "kernels/logprob.h"
#include "kernels/mla.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/rows.h"
#include "kernels/swiglu.h"

namespace aha {

namespace {

// Ops whose CUDA twin has not landed in kernels/cuda/: refuse rather than run host code on
// device pointers.
[[noreturn]] void no_cuda_twin(const char* op) {
  throw std::runtime_error(std::string(op) + ": no CUDA kernel for this op in this build");
}

// Keep in step with the no_cuda_twin calls below.
const char* const kWithoutTwin[] = {
    "add_inplace",
    "copy_rows",
    "scatter_rows",
    "embedding_forward",
    "embedding_backward",
    "rmsnorm_forward",
    "rmsnorm_backward",
    "linear_forward",
    "linear_backward",
    "bias_forward",
    "bias_backward",
    "rope_forward",
    "rope_backward",
    "attention_forward",
    "attention_backward",
    "mla_decode_attention",
    "gqa_decode_attention",
    "mla_expand_kv",
    "mla_expand_kv_backward",
    "mla_absorb_q",
    "mla_absorb_out",
#ifndef AHA_HAVE_CUDA
    "swiglu_forward",
#endif
    "swiglu_backward",
    "moe_router_forward",
    "moe_router_backward",
    "moe_dispatch",
    "moe_gather",
    "moe_gather_backward",
    "moe_combine",
    "moe_combine_backward",
    "moe_experts_forward",
    "moe_experts_backward",
    "moe_balance_loss",
    "logprob_forward",
    "logprob_backward",
    "logprob_mean_nll",
    "adamw_update",
    "grad_norm",
};

}  // namespace

std::vector<std::string> ops_without_cuda_twin() {
  return std::vector<std::string>(std::begin(kWithoutTwin), std::end(kWithoutTwin));
}

Device device_choose(const std::string& name) {
  if (name == "cpu") return Device::kCpu;
  if (name != "cuda" && name != "auto")
    throw std::runtime_error("--device '" + name + "': expected cpu, cuda or auto");
  const bool have = cuda_available();
  const std::vector<std::string> missing = ops_without_cuda_twin();
  if (name == "auto") return have && missing.empty() ? Device::kCuda : Device::kCpu;
#ifndef AHA_HAVE_CUDA
  throw std::runtime_error("--device cuda: this aha was built without CUDA (nvcc not found)");
#endif
  if (!have)
    throw std::runtime_error("--device cuda: no CUDA device (cudaGetDeviceCount found none)");
  if (!missing.empty()) {
    std::string list;
    for (const std::string& op : missing) list += (list.empty() ? "" : ", ") + op;
    throw std::runtime_error("--device cuda: this build has no CUDA kernels yet for " + list);
  }
  return Device::kCuda;
}

void add_inplace(const Ctx& ctx, float* x, const float* y, long n) {
  if (ctx.device == Device::kCpu) return add_inplace(x, y, n);
  no_cuda_twin("add_inplace");
}

void copy_rows(const Ctx& ctx, float* dst, int ld_dst, const float* src, int ld_src, int rows,
               int cols) {
  if (ctx.device == Device::kCpu) return copy_rows(dst, ld_dst, src, ld_src, rows, cols);
  no_cuda_twin("copy_rows");
}

void scatter_rows(const Ctx& ctx, float* dst, int ld_dst, const int* dst_rows, int num_dst_rows,
                  const float* src, int ld_src, int rows, int cols) {
  if (ctx.device == Device::kCpu)
    return scatter_rows(dst, ld_dst, dst_rows, num_dst_rows, src, ld_src, rows, cols);
  no_cuda_twin("scatter_rows");
}

void embedding_forward(const Ctx& ctx, float* out, const int* tokens, const float* wte, int N,
                       int V, int C) {
  if (ctx.device == Device::kCpu) return embedding_forward(out, tokens, wte, N, V, C);
  no_cuda_twin("embedding_forward");
}

void embedding_backward(const Ctx& ctx, float* dwte, const float* dout, const int* tokens, int N,
                        int C) {
  if (ctx.device == Device::kCpu) return embedding_backward(dwte, dout, tokens, N, C);
  no_cuda_twin("embedding_backward");
}

void rmsnorm_forward(const Ctx& ctx, float* out, float* rstd, const float* inp, const float* weight,
                     int N, int C, float eps) {
  if (ctx.device == Device::kCpu) return rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
  no_cuda_twin("rmsnorm_forward");
}

void rmsnorm_backward(const Ctx& ctx, float* dinp, float* dweight, const float* dout,
                      const float* inp, const float* weight, const float* rstd, int N, int C) {
  if (ctx.device == Device::kCpu)
    return rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
  no_cuda_twin("rmsnorm_backward");
}

void linear_forward(const Ctx& ctx, float* out, const float* inp, const float* weight, int N,
                    int IC, int OC) {
  if (ctx.device == Device::kCpu) return linear_forward(out, inp, weight, N, IC, OC);
  no_cuda_twin("linear_forward");
}

void linear_backward(const Ctx& ctx, float* dinp, float* dweight, const float* dout,
                     const float* inp, const float* weight, int N, int IC, int OC) {
  if (ctx.device == Device::kCpu)
    return linear_backward(dinp, dweight, dout, inp, weight, N, IC, OC);
  no_cuda_twin("linear_backward");
}

void bias_forward(const Ctx& ctx, float* out, const float* bias, int N, int OC) {
  if (ctx.device == Device::kCpu) return bias_forward(out, bias, N, OC);
  no_cuda_twin("bias_forward");
}

void bias_backward(const Ctx& ctx, float* dbias, const float* dout, int N, int OC) {
  if (ctx.device == Device::kCpu) return bias_backward(dbias, dout, N, OC);
  no_cuda_twin("bias_backward");
}

void rope_forward(const Ctx& ctx, float* x, const int* positions, int N, int H, int token_stride,
                  int head_stride, int D, const double* inv_freq, float attn_factor,
                  bool interleaved) {
  if (ctx.device == Device::kCpu)
    return rope_forward(x, positions, N, H, token_stride, head_stride, D, inv_freq, attn_factor,
                        interleaved);
  no_cuda_twin("rope_forward");
}

void rope_backward(const Ctx& ctx, float* dx, const int* positions, int N, int H, int token_stride,
                   int head_stride, int D, const double* inv_freq, float attn_factor,
                   bool interleaved) {
  if (ctx.device == Device::kCpu)
    return rope_backward(dx, positions, N, H, token_stride, head_stride, D, inv_freq, attn_factor,
                         interleaved);
  no_cuda_twin("rope_backward");
}

void attention_forward(const Ctx& ctx, float* out, float* lse, const float* q, const float* k,
                       const float* v, const int* seq_start, int B, int NH, int NKV, int DQK,
                       int DV, float scale) {
  if (ctx.device == Device::kCpu)
    return attention_forward(out, lse, q, k, v, seq_start, B, NH, NKV, DQK, DV, scale);
  no_cuda_twin("attention_forward");
}

void attention_backward(const Ctx& ctx, float* dq, float* dk, float* dv, const float* dout,
                        const float* out, const float* lse, const float* q, const float* k,
                        const float* v, const int* seq_start, int B, int NH, int NKV, int DQK,
                        int DV, float scale) {
  if (ctx.device == Device::kCpu)
    return attention_backward(dq, dk, dv, dout, out, lse, q, k, v, seq_start, B, NH, NKV, DQK, DV,
                              scale);
  no_cuda_twin("attention_backward");
}

void mla_decode_attention(const Ctx& ctx, float* out_lat, const float* q_lat, const float* q_rope,
                          const float* cache, const int* rows, const int* row_start, int B, int NH,
                          int R, int DR, float scale) {
  if (ctx.device == Device::kCpu)
    return mla_decode_attention(out_lat, q_lat, q_rope, cache, rows, row_start, B, NH, R, DR,
                                scale);
  no_cuda_twin("mla_decode_attention");
}

void gqa_decode_attention(const Ctx& ctx, float* out, const float* q, const float* cache,
                          const int* rows, const int* row_start, int B, int NH, int NKV, int D,
                          float scale) {
  if (ctx.device == Device::kCpu)
    return gqa_decode_attention(out, q, cache, rows, row_start, B, NH, NKV, D, scale);
  no_cuda_twin("gqa_decode_attention");
}

void mla_expand_kv(const Ctx& ctx, float* k, float* v, const float* kv, const float* kv_a, int N,
                   int NH, int DN, int DR, int DV, int R) {
  if (ctx.device == Device::kCpu) return mla_expand_kv(k, v, kv, kv_a, N, NH, DN, DR, DV, R);
  no_cuda_twin("mla_expand_kv");
}

void mla_expand_kv_backward(const Ctx& ctx, float* dkv, float* dkv_a, const float* dk,
                            const float* dv, int N, int NH, int DN, int DR, int DV, int R) {
  if (ctx.device == Device::kCpu)
    return mla_expand_kv_backward(dkv, dkv_a, dk, dv, N, NH, DN, DR, DV, R);
  no_cuda_twin("mla_expand_kv_backward");
}

void mla_absorb_q(const Ctx& ctx, float* q_lat, float* q_rope, const float* q, const float* kv_b,
                  int B, int NH, int DN, int DR, int DV, int R) {
  if (ctx.device == Device::kCpu) return mla_absorb_q(q_lat, q_rope, q, kv_b, B, NH, DN, DR, DV, R);
  no_cuda_twin("mla_absorb_q");
}

void mla_absorb_out(const Ctx& ctx, float* att, const float* out_lat, const float* kv_b, int B,
                    int NH, int DN, int DV, int R) {
  if (ctx.device == Device::kCpu) return mla_absorb_out(att, out_lat, kv_b, B, NH, DN, DV, R);
  no_cuda_twin("mla_absorb_out");
}

void swiglu_forward(const Ctx& ctx, float* out, const float* gate, const float* up, long N) {
  if (ctx.device == Device::kCpu) return swiglu_forward(out, gate, up, N);
#ifdef AHA_HAVE_CUDA
  return swiglu_forward_cuda(out, gate, up, N);  // the legacy default stream (see cuda_ctx_create)
#else
  no_cuda_twin("swiglu_forward");
#endif
}

void swiglu_backward(const Ctx& ctx, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, long N) {
  if (ctx.device == Device::kCpu) return swiglu_backward(dgate, dup, dout, gate, up, N);
  no_cuda_twin("swiglu_backward");
}

void moe_router_forward(const Ctx& ctx, float* scores, int* topk_idx, float* topk_weights,
                        const float* logits, const float* bias, int N, const RouterParams& p,
                        bool select) {
  if (ctx.device == Device::kCpu)
    return moe_router_forward(scores, topk_idx, topk_weights, logits, bias, N, p, select);
  no_cuda_twin("moe_router_forward");
}

void moe_router_backward(const Ctx& ctx, float* dlogits, const float* dtopk_weights,
                         const float* scores, const int* topk_idx, int N, const RouterParams& p) {
  if (ctx.device == Device::kCpu)
    return moe_router_backward(dlogits, dtopk_weights, scores, topk_idx, N, p);
  no_cuda_twin("moe_router_backward");
}

void moe_dispatch(const Ctx& ctx, int* expert_offsets, int* row_token, int* row_slot,
                  const int* topk_idx, int N, int E, int K, long* expert_load) {
  if (ctx.device == Device::kCpu)
    return moe_dispatch(expert_offsets, row_token, row_slot, topk_idx, N, E, K, expert_load);
  no_cuda_twin("moe_dispatch");
}

void moe_gather(const Ctx& ctx, float* xe, const float* x, const int* row_token, int M, int C) {
  if (ctx.device == Device::kCpu) return moe_gather(xe, x, row_token, M, C);
  no_cuda_twin("moe_gather");
}

void moe_gather_backward(const Ctx& ctx, float* dx, const float* dxe, const int* row_token, int M,
                         int C) {
  if (ctx.device == Device::kCpu) return moe_gather_backward(dx, dxe, row_token, M, C);
  no_cuda_twin("moe_gather_backward");
}

void moe_combine(const Ctx& ctx, float* out, const float* ye, const float* topk_weights,
                 const int* row_token, const int* row_slot, int M, int C) {
  if (ctx.device == Device::kCpu)
    return moe_combine(out, ye, topk_weights, row_token, row_slot, M, C);
  no_cuda_twin("moe_combine");
}

void moe_combine_backward(const Ctx& ctx, float* dye, float* dtopk_weights, const float* dout,
                          const float* ye, const float* topk_weights, const int* row_token,
                          const int* row_slot, int M, int C) {
  if (ctx.device == Device::kCpu)
    return moe_combine_backward(dye, dtopk_weights, dout, ye, topk_weights, row_token, row_slot, M,
                                C);
  no_cuda_twin("moe_combine_backward");
}

void moe_experts_forward(const Ctx& ctx, float* ye, float* he_gate, float* he_up, float* he_act,
                         const float* xe, const float* w_gate, const float* w_up,
                         const float* w_down, const int* expert_offsets, int E, int C, int H) {
  if (ctx.device == Device::kCpu)
    return moe_experts_forward(ye, he_gate, he_up, he_act, xe, w_gate, w_up, w_down, expert_offsets,
                               E, C, H);
  no_cuda_twin("moe_experts_forward");
}

void moe_experts_backward(const Ctx& ctx, float* dxe, float* dw_gate, float* dw_up, float* dw_down,
                          const float* dye, const float* he_gate, const float* he_up,
                          const float* he_act, const float* xe, const float* w_gate,
                          const float* w_up, const float* w_down, const int* expert_offsets, int E,
                          int C, int H, float* dgate, float* dup, float* dact) {
  if (ctx.device == Device::kCpu)
    return moe_experts_backward(dxe, dw_gate, dw_up, dw_down, dye, he_gate, he_up, he_act, xe,
                                w_gate, w_up, w_down, expert_offsets, E, C, H, dgate, dup, dact);
  no_cuda_twin("moe_experts_backward");
}

double moe_balance_loss(const Ctx& ctx, const float* scores, const int* topk_idx,
                        const int* seq_start, int B, const RouterParams& p, float alpha,
                        float* dlogits) {
  if (ctx.device == Device::kCpu)
    return moe_balance_loss(scores, topk_idx, seq_start, B, p, alpha, dlogits);
  no_cuda_twin("moe_balance_loss");
}

void logprob_forward(const Ctx& ctx, float* logp, float* lse, float* entropy, const float* logits,
                     const int* targets, int N, int V, float inv_temp) {
  if (ctx.device == Device::kCpu)
    return logprob_forward(logp, lse, entropy, logits, targets, N, V, inv_temp);
  no_cuda_twin("logprob_forward");
}

void logprob_backward(const Ctx& ctx, float* dlogits, const float* dlogp, const float* logits,
                      const float* lse, const int* targets, int N, int V, float inv_temp) {
  if (ctx.device == Device::kCpu)
    return logprob_backward(dlogits, dlogp, logits, lse, targets, N, V, inv_temp);
  no_cuda_twin("logprob_backward");
}

float logprob_mean_nll(const Ctx& ctx, const float* logp, const int* targets, int N) {
  if (ctx.device == Device::kCpu) return logprob_mean_nll(logp, targets, N);
  no_cuda_twin("logprob_mean_nll");
}

void adamw_update(const Ctx& ctx, float* params, const float* grads, float* m, float* v, long n,
                  int step, const AdamWParams& p) {
  if (ctx.device == Device::kCpu) return adamw_update(params, grads, m, v, n, step, p);
  no_cuda_twin("adamw_update");
}

double grad_norm(const Ctx& ctx, const float* grads, long n) {
  if (ctx.device == Device::kCpu) return grad_norm(grads, n);
  no_cuda_twin("grad_norm");
}

}  // namespace aha
