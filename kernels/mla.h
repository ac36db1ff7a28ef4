// Multi-head Latent Attention's reshapes around the shared attention kernels (see
// policy/deepseek.cpp for the math). Per token: kv[NH, DN+DV] = kv_b_proj(c_kv) holds each head's
// k_nope then v; kv_a[R+DR] holds the raw latent then the shared, rope-rotated k_rope.
// kv_b[NH*(DN+DV), R] is kv_b_proj's weight: head h's W_uk_h are its rows h*(DN+DV) .. +DN,
// W_uv_h the DV rows after them.
#pragma once

namespace aha {

// k[N,NH,DN+DR] = [kv[n,h,0:DN] ; kv_a[n,R:R+DR]], v[N,NH,DV] = kv[n,h,DN:DN+DV]  (overwrite)
void mla_expand_kv(float* k, float* v, const float* kv, const float* kv_a, int N, int NH, int DN,
                   int DR, int DV, int R);
// dkv[N,NH*(DN+DV)] = [dk[n,h,0:DN] ; dv[n,h,:]] (overwrite); dkv_a[n,R:R+DR] += Σ_h dk[n,h,DN:]
void mla_expand_kv_backward(float* dkv, float* dkv_a, const float* dk, const float* dv, int N,
                            int NH, int DN, int DR, int DV, int R);
// The absorbed decode query: q_lat[B,NH,R] = W_uk_hᵀ q[b,h,0:DN], q_rope[B,NH,DR] = q[b,h,DN:]
// (q[B,NH,DN+DR]).
void mla_absorb_q(float* q_lat, float* q_rope, const float* q, const float* kv_b, int B, int NH,
                  int DN, int DR, int DV, int R);
// The absorbed decode output: att[B,NH,DV] = W_uv_h out_lat[b,h]  (out_lat[B,NH,R])
void mla_absorb_out(float* att, const float* out_lat, const float* kv_b, int B, int NH, int DN,
                    int DV, int R);

}  // namespace aha
