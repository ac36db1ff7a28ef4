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

// Decode attention over a paged cache, one query token per row of the batch (these live in
// kernels/decode_attention.cpp), in FlashInfer's paged format: row b attends to its first
// len_b = seq_lens[b] positions, position i at cache row
//   page_ids[page_indptr[b] + i / P] * P + i % P        (P = page_tokens)
// so row b's pages are page_ids[page_indptr[b] .. page_indptr[b+1]), at least ceil(len_b / P) of
// them. P = 1 makes page_ids a plain list of rows. A row with len_b = 0 gets a zero output.
//
// MLA in the latent space: each cache row holds [c_kv (R) ; k_rope (DR)].
// score(h, i) = (q_lat[b,h]·c_kv_i + q_rope[b,h]·k_rope_i) * scale; out_lat[b,h] = Σ p_i c_kv_i.
// out_lat[B,NH,R]; q_lat[B,NH,R]; q_rope[B,NH,DR]; cache[*, R+DR]; page_indptr[B+1]; seq_lens[B]
void mla_decode_attention(float* out_lat, const float* q_lat, const float* q_rope,
                          const float* cache, int page_tokens, const int* page_indptr,
                          const int* page_ids, const int* seq_lens, int B, int NH, int R, int DR,
                          float scale);

// Grouped-query decode attention over cache rows holding [k (NKV*D) ; v (NKV*D)] (keys with
// rope applied); head h reads kv head h / (NH / NKV).
// out[B,NH,D]; q[B,NH,D]; cache[*, 2*NKV*D]; page_indptr[B+1]; seq_lens[B]
void gqa_decode_attention(float* out, const float* q, const float* cache, int page_tokens,
                          const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
                          int NH, int NKV, int D, float scale);

// The batch-invariant mode's decode attention (gemm_batch_invariant): each row through
// attention_row_invariant, the arithmetic of the learner's attention_forward in the mode, over
// cache rows of W floats that hold per-head keys and values: kv head g's key of position i at
// row_i * W + k_col + g*DQK, its value at row_i * W + v_col + g*DV (GQA: k_col = 0, v_col =
// NKV*D; MLA: the expanded keys and values kept beside the latent). Head h reads kv head
// h / (NH / NKV). out[B,NH,DV]; q[B,NH,DQK]; cache[*, W]; page_indptr[B+1]; seq_lens[B]
void paged_attention_invariant(float* out, const float* q, const float* cache, int page_tokens,
                               const int* page_indptr, const int* page_ids, const int* seq_lens,
                               int B, int NH, int NKV, int DQK, int DV, long W, long k_col,
                               long v_col, float scale);

}  // namespace aha
