// DeepSeekMoE routing, dispatch and combine, in DeepEP's vocabulary (topk_idx, topk_weights).
//
// Router: scores s = sigmoid(logits) or softmax(logits) over E experts. Selection ranks s + bias
// (bias = e_score_correction_bias, may be null); with num_groups > 1 only experts of the best
// topk_groups groups compete (a group scores the sum of its top-2 s+bias, DeepSeek-V3's noaux_tc,
// or its best s with group_max, DeepSeek-V2's group_limited_greedy).
// Gate weights use s only: w_k = s[topk_idx_k], renormalised to sum 1 when norm_topk_prob, then
// times scaling. With replay (topk_idx given as input, select=false) the selection is kept and only
// the weights are recomputed, so the router still receives gradient (routing replay).
// Dispatch sorts the N*K (token, slot) assignments by expert, stable in token order, so each
// expert's rows are contiguous: expert e owns rows [expert_offsets[e], expert_offsets[e+1]).
#pragma once

namespace aha {

enum class ScoringFunc { kSoftmax = 0, kSigmoid = 1 };

struct RouterParams {
  int E = 0;  // number of routed experts
  int K = 0;  // experts per token
  ScoringFunc scoring = ScoringFunc::kSigmoid;
  bool norm_topk_prob = true;
  float scaling = 1.0f;    // routed_scaling_factor
  int num_groups = 1;      // n_group
  int topk_groups = 1;     // topk_group
  bool group_max = false;  // group score: best expert (V2) instead of the sum of the top-2 (V3)
};

// scores[N,E] out; topk_idx[N,K] out when select, else input; topk_weights[N,K] out.
// logits[N,E]; bias[E] or null.
void moe_router_forward(float* scores, int* topk_idx, float* topk_weights, const float* logits,
                        const float* bias, int N, const RouterParams& p, bool select);
// dlogits[N,E] += from dtopk_weights[N,K]; scores and topk_idx from the forward.
void moe_router_backward(float* dlogits, const float* dtopk_weights, const float* scores,
                         const int* topk_idx, int N, const RouterParams& p);

// expert_offsets[E+1] out; row_token[N*K] out (token of each dispatched row);
// row_slot[N*K] out (flat index n*K+k of each row); topk_idx[N,K] in. Also counts load:
// expert_load[E] += tokens routed to e (may be null).
void moe_dispatch(int* expert_offsets, int* row_token, int* row_slot, const int* topk_idx, int N,
                  int E, int K, long* expert_load);
// xe[M,C] = x[row_token[m], :]   (M = N*K)
void moe_gather(float* xe, const float* x, const int* row_token, int M, int C);
// dx[row_token[m], :] += dxe[m, :]
void moe_gather_backward(float* dx, const float* dxe, const int* row_token, int M, int C);
// out[n,:] += Σ_m topk_weights[row_slot[m]] * ye[m,:]  over rows m of token n
void moe_combine(float* out, const float* ye, const float* topk_weights, const int* row_token,
                 const int* row_slot, int M, int C);
// dye[m,:] = w * dout[n,:] (overwrites); dtopk_weights[row_slot[m]] += dout[n,:]·ye[m,:]
void moe_combine_backward(float* dye, float* dtopk_weights, const float* dout, const float* ye,
                          const float* topk_weights, const int* row_token, const int* row_slot,
                          int M, int C);

// The routed experts' SwiGLU FFNs over expert-contiguous rows (a grouped GEMM: one launch on a
// GPU, the per-expert sizes read where expert_offsets lives). Rows [expert_offsets[e],
// expert_offsets[e+1]) of xe[M,C] go through expert e: he_gate/he_up[M,H] = xe · W_gate/up_eᵀ,
// he_act = silu(he_gate) * he_up, ye[M,C] = he_act · W_down_eᵀ (all overwritten; an expert with
// no rows is skipped). w_gate/w_up [E][H,C], w_down [E][C,H], expert_offsets[E+1].
// On the CPU at fp32, with at least two non-empty experts per compute thread, the experts run in
// parallel (each one's GEMMs whole on one core) instead of one after the other with split
// GEMMs; either way an expert writes only its own rows and weight gradients: the same bits.
void moe_experts_forward(float* ye, float* he_gate, float* he_up, float* he_act, const float* xe,
                         const float* w_gate, const float* w_up, const float* w_down,
                         const int* expert_offsets, int E, int C, int H);
// Backward: dxe[M,C] +=, dw_gate/dw_up/dw_down += (same layouts as the weights); dgate, dup,
// dact [M,H] are scratch, overwritten.
void moe_experts_backward(float* dxe, float* dw_gate, float* dw_up, float* dw_down,
                          const float* dye, const float* he_gate, const float* he_up,
                          const float* he_act, const float* xe, const float* w_gate,
                          const float* w_up, const float* w_down, const int* expert_offsets, int E,
                          int C, int H, float* dgate, float* dup, float* dact);

// DeepSeek-V3's sequence-wise balance loss of one MoE layer over a packed batch of B sequences
// (seq_start[B+1]): alpha * Σ_i f_i P_i per sequence, averaged over sequences, and, when dlogits
// is not null, its gradient added into dlogits[N, E]. scores[N,E]/topk_idx[N,K] as the router
// produced them.
double moe_balance_loss(const float* scores, const int* topk_idx, const int* seq_start, int B,
                        const RouterParams& p, float alpha, float* dlogits);

}  // namespace aha
