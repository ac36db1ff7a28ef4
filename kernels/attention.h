// Causal multi-head attention over a packed batch: B sequences laid end to end, sequence b owning
// tokens [seq_start[b], seq_start[b+1]); a token attends to its own sequence only, up to itself.
// Expanded form (per-head keys and values), used by the learner. Scores are q·k * scale.
// The forward keeps only the log-sum-exp per (token, head); the backward recomputes probabilities.
// Grouped-query attention: NKV key/value heads, head h uses kv head h / (NH / NKV).
#pragma once

namespace aha {

// out[N,NH,DV], lse[N,NH]; q[N,NH,DQK], k[N,NKV,DQK], v[N,NKV,DV]; seq_start[B+1]
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int* seq_start, int B, int NH, int NKV, int DQK, int DV, float scale);
// dq[N,NH,DQK] +=, dk[N,NKV,DQK] +=, dv[N,NKV,DV] +=
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v,
                        const int* seq_start, int B, int NH, int NKV, int DQK, int DV, float scale);

// MLA decode attention in the latent space, one query token per row of the batch (this and the
// GQA decode below live in kernels/decode_attention.cpp).
// Row b attends to its len_b = row_start[b+1] - row_start[b] cache entries: entry i is at cache
// row rows[row_start[b] + i] (a flattened block table), each cache row holding
// [c_kv (R) ; k_rope (DR)]. A row with len_b = 0 gets out_lat = 0.
// score(h, i) = (q_lat[b,h]·c_kv_i + q_rope[b,h]·k_rope_i) * scale; out_lat[b,h] = Σ p_i c_kv_i.
// out_lat[B,NH,R]; q_lat[B,NH,R]; q_rope[B,NH,DR]; cache[*, R+DR]; rows[...]; row_start[B+1]
void mla_decode_attention(float* out_lat, const float* q_lat, const float* q_rope,
                          const float* cache, const int* rows, const int* row_start, int B, int NH,
                          int R, int DR, float scale);

// Grouped-query decode attention, one query token per row of the batch, over cache rows holding
// [k (NKV*D) ; v (NKV*D)] (keys with rope applied). Row b attends to the cache entries
// rows[row_start[b] .. row_start[b+1]); head h reads kv head h / (NH / NKV). len_b = 0 gives 0.
// out[B,NH,D]; q[B,NH,D]; cache[*, 2*NKV*D]; rows[...]; row_start[B+1]
void gqa_decode_attention(float* out, const float* q, const float* cache, const int* rows,
                          const int* row_start, int B, int NH, int NKV, int D, float scale);

}  // namespace aha
