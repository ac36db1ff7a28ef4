// Plain fp32 kernels of the fp32 test mode (kernels/cuda/fp32_reference.h): slow, simple and
// deterministic. Attention runs one block per (query, head) in two passes over the keys, never
// storing a score row (its length is known on the device only): pass 1 takes the max of the
// scores, pass 2 scores the keys again in chunks of the block (the same code, so the same bits),
// puts exp(s - max) in shared memory and adds p_j * v_j into each output column in key order. The
// dense ops run one thread per output element with a dot product in index order.
#include <climits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/fp32_reference.h"
#include "kernels/cuda/ops.h"

namespace aha {

namespace {

constexpr int kThreads = 128;  // attention block: whole warps, as block_max / block_sum need
constexpr int kMaxDV = 8192;   // output accumulators live in dynamic shared memory: 32 KB at most
constexpr int kElemThreads = 256;  // one thread per output element elsewhere

// The last i in [0, n) with a[i] <= x (0 when none): the sequence of a token (a = seq_start) or
// the expert of a row (a = expert_offsets); empty ranges before the owner are passed over.
__device__ inline int last_at_most(const int* a, int n, int x) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (a[mid] <= x)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// a[0:n] · b[0:n] in index order; explicit fmaf so the result does not depend on what the
// compiler chooses to contract.
__device__ inline float dot(const float* a, const float* b, int n) {
  float s = 0.0f;
  for (int c = 0; c < n; c++) s = fmaf(a[c], b[c], s);
  return s;
}

// scale * (qa · key[0:A] + qb · key[A:A+Bd]) in one accumulator; __fmul_rn is never fused with
// the caller's `- max`, so both passes see identical scores.
__device__ inline float score(const float* qa, int A, const float* qb, int Bd, const float* key,
                              float scale) {
  float s = dot(qa, key, A);
  for (int c = 0; c < Bd; c++) s = fmaf(qb[c], key[A + c], s);
  return __fmul_rn(s, scale);
}

// Rows of a dense [*, stride] array.
struct DenseRows {
  const float* base;  // row 0
  long stride;        // floats between rows
  __device__ const float* operator()(int j) const { return base + j * stride; }
};

// Positions of one batch row of a paged cache: position j at cache row pages[j / P] * P + j % P.
struct PagedRows {
  const float* cache;  // [*, W]
  const int* pages;    // this batch row's page ids
  int P;               // tokens per page
  long W;              // floats per cache row
  long offset;         // floats into the row (a kv head's k or v)
  __device__ const float* operator()(int j) const {
    return cache + (static_cast<long>(pages[j / P]) * P + j % P) * W + offset;
  }
};

// Softmax attention of one query over keys 0..L-1 (L >= 1), run by a whole block of kThreads:
// out[0:DV] = Σ_j p_j vals(j)[0:DV], p_j = exp(s_j - max) / Σ_i exp(s_i - max); *lse = max +
// log Σ_i exp(s_i - max) when lse is not null. Dynamic shared memory: DV floats.
template <class Keys, class Vals>
__device__ void attend(float* out, float* lse, const float* qa, int A, const float* qb, int Bd,
                       Keys keys, Vals vals, int L, int DV, float scale) {
  __shared__ float red[32];       // block reductions
  __shared__ float p[kThreads];   // exp(s_j - max) of the current chunk of keys
  extern __shared__ float acc[];  // [DV] output sums, column c owned by thread c % kThreads
  const int tid = threadIdx.x;
  float mx = -INFINITY;
  for (int j = tid; j < L; j += kThreads) mx = fmaxf(mx, score(qa, A, qb, Bd, keys(j), scale));
  mx = block_max(mx, red);
  for (int c = tid; c < DV; c += kThreads) acc[c] = 0.0f;
  float sum = 0.0f;  // this thread's keys (j0 + tid of each chunk), in order
  for (int j0 = 0; j0 < L; j0 += kThreads) {
    const int n = L - j0 < kThreads ? L - j0 : kThreads;
    __syncthreads();  // every thread is done with the previous chunk's p
    if (tid < n) {
      const float e = expf(score(qa, A, qb, Bd, keys(j0 + tid), scale) - mx);
      p[tid] = e;
      sum += e;
    }
    __syncthreads();
    for (int c = tid; c < DV; c += kThreads) {
      float a = acc[c];
      for (int j = 0; j < n; j++) a = fmaf(p[j], vals(j0 + j)[c], a);
      acc[c] = a;
    }
  }
  sum = block_sum(sum, red);
  for (int c = tid; c < DV; c += kThreads) out[c] = acc[c] / sum;
  if (lse != nullptr && tid == 0) *lse = mx + logf(sum);
}

// One block per (token n, head h) = blockIdx.x = n * NH + h: n's sequence by a search of
// seq_start, keys from the sequence's start up to n.
__global__ void attention_kernel(float* out, float* lse, const float* q, const float* k,
                                 const float* v, const int* seq_start, int B, int NH, int NKV,
                                 int DQK, int DV, float scale) {
  const long item = blockIdx.x;
  const int n = static_cast<int>(item / NH), h = static_cast<int>(item % NH);
  const int s0 = seq_start[last_at_most(seq_start, B, n)];
  const int kvh = h / (NH / NKV);
  const DenseRows keys{k + static_cast<long>(s0) * NKV * DQK + static_cast<long>(kvh) * DQK,
                       static_cast<long>(NKV) * DQK};
  const DenseRows vals{v + static_cast<long>(s0) * NKV * DV + static_cast<long>(kvh) * DV,
                       static_cast<long>(NKV) * DV};
  attend(out + item * DV, lse + item, q + item * DQK, DQK, nullptr, 0, keys, vals, n - s0 + 1, DV,
         scale);
}

// One block per (batch row b, head h) = blockIdx.x = b * NH + h. Keys [c_kv ; k_rope], values
// c_kv, all heads on the same cache rows.
__global__ void mla_decode_kernel(float* out_lat, const float* q_lat, const float* q_rope,
                                  const float* cache, int P, const int* page_indptr,
                                  const int* page_ids, const int* seq_lens, int NH, int R, int DR,
                                  float scale) {
  const long item = blockIdx.x;
  const int b = static_cast<int>(item / NH);
  const int L = seq_lens[b];
  float* o = out_lat + item * R;
  if (L <= 0) {  // nothing to attend to: zeros rather than 0/0 (the whole block returns)
    for (int c = threadIdx.x; c < R; c += kThreads) o[c] = 0.0f;
    return;
  }
  const PagedRows rows{cache, page_ids + page_indptr[b], P, static_cast<long>(R) + DR, 0};
  attend(o, nullptr, q_lat + item * R, R, q_rope + item * DR, DR, rows, rows, L, R, scale);
}

// One block per (batch row b, head h) = blockIdx.x = b * NH + h; head h reads kv head
// kvh = h / (NH / NKV): its key at k_col + kvh*DQK, its value at v_col + kvh*DV of each cache row
// of W floats (GQA: [k (NKV*D) ; v (NKV*D)]). The same `attend` as attention_kernel's, so a row
// gives the bits the learner's forward gives its token when the keys and values are the same.
__global__ void paged_kernel(float* out, const float* q, const float* cache, int P,
                             const int* page_indptr, const int* page_ids, const int* seq_lens,
                             int NH, int NKV, int DQK, int DV, long W, long k_col, long v_col,
                             float scale) {
  const long item = blockIdx.x;
  const int b = static_cast<int>(item / NH), h = static_cast<int>(item % NH);
  const int L = seq_lens[b];
  float* o = out + item * DV;
  if (L <= 0) {
    for (int c = threadIdx.x; c < DV; c += kThreads) o[c] = 0.0f;
    return;
  }
  const int kvh = h / (NH / NKV);
  const int* pages = page_ids + page_indptr[b];
  const PagedRows keys{cache, pages, P, W, k_col + static_cast<long>(kvh) * DQK};
  const PagedRows vals{cache, pages, P, W, v_col + static_cast<long>(kvh) * DV};
  attend(o, nullptr, q + item * DQK, DQK, nullptr, 0, keys, vals, L, DV, scale);
}

// One thread per (source row, column); rows outside [0, num_dst_rows) are skipped.
__global__ void scatter_kernel(float* dst, int ld_dst, const int* dst_rows, int num_dst_rows,
                               const float* src, int ld_src, int rows, int cols) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(rows) * cols) return;
  const long r = i / cols;
  const int c = static_cast<int>(i % cols);
  const int d = dst_rows[r];
  if (d < 0 || d >= num_dst_rows) return;
  dst[static_cast<long>(d) * ld_dst + c] = src[r * ld_src + c];
}

// The expert owning row r, or -1 for a row outside [offsets[0], offsets[E]).
__device__ inline int expert_of(const int* offsets, int E, int r) {
  if (E <= 0 || r < offsets[0] || r >= offsets[E]) return -1;
  return last_at_most(offsets, E, r);
}

// One thread per (row r, hidden unit j) of [M, H]: gate, up and the SwiGLU activation, with the
// CPU's silu(g) = g / (1 + exp(-g)) (kernels/swiglu.cpp).
__global__ void moe_gate_up_kernel(float* he_gate, float* he_up, float* he_act, const float* xe,
                                   const float* w_gate, const float* w_up,
                                   const int* expert_offsets, int E, int C, int H, int M) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(M) * H) return;
  const int r = static_cast<int>(i / H), j = static_cast<int>(i % H);
  const int e = expert_of(expert_offsets, E, r);
  if (e < 0) return;
  const float* x = xe + static_cast<long>(r) * C;
  const long w = (static_cast<long>(e) * H + j) * C;  // row j of W_e [H, C]
  const float g = dot(x, w_gate + w, C), u = dot(x, w_up + w, C);
  he_gate[i] = g;
  he_up[i] = u;
  he_act[i] = g / (1.0f + expf(-g)) * u;
}

// One thread per (row r, column c) of [M, C]: ye = he_act · W_down_eᵀ.
__global__ void moe_down_kernel(float* ye, const float* he_act, const float* w_down,
                                const int* expert_offsets, int E, int C, int H, int M) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(M) * C) return;
  const int r = static_cast<int>(i / C), c = static_cast<int>(i % C);
  const int e = expert_of(expert_offsets, E, r);
  if (e < 0) return;
  ye[i] = dot(he_act + static_cast<long>(r) * H, w_down + (static_cast<long>(e) * C + c) * H, H);
}

// One thread per (row n, output o) of [N, OC].
__global__ void linear_kernel(float* out, const float* inp, const float* weight, int N, int IC,
                              int OC) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(N) * OC) return;
  const long n = i / OC, o = i % OC;
  out[i] = dot(inp + n * IC, weight + o * IC, IC);
}

// MLA's absorbed query, one thread per (b, h, r) of q_lat[B,NH,R] plus the rope copy:
// q_lat[b,h,r] = Σ_d q[b,h,d] kv_b[h*(DN+DV)+d, r] (d in order), q_rope[b,h,:] = q[b,h,DN:].
__global__ void absorb_q_kernel(float* q_lat, float* q_rope, const float* q, const float* kv_b,
                                int B, int NH, int DN, int DR, int DV, int R) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  const long n_lat = static_cast<long>(B) * NH * R;
  const int DQK = DN + DR;
  if (i < n_lat) {
    const long bh = i / R;
    const int r = static_cast<int>(i % R), h = static_cast<int>(bh % NH);
    const float* qv = q + bh * DQK;
    const float* w = kv_b + static_cast<long>(h) * (DN + DV) * R + r;  // column r of W_uk_h
    float s = 0.0f;
    for (int d = 0; d < DN; d++) s = fmaf(qv[d], w[static_cast<long>(d) * R], s);
    q_lat[i] = s;
    return;
  }
  const long j = i - n_lat;
  if (j >= static_cast<long>(B) * NH * DR) return;
  q_rope[j] = q[(j / DR) * DQK + DN + j % DR];
}

// MLA's absorbed output, one thread per (b, h, v) of att[B,NH,DV]:
// att[b,h,v] = Σ_r kv_b[h*(DN+DV)+DN+v, r] out_lat[b,h,r] (r in order).
__global__ void absorb_out_kernel(float* att, const float* out_lat, const float* kv_b, int B,
                                  int NH, int DN, int DV, int R) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(B) * NH * DV) return;
  const long bh = i / DV;
  const int v = static_cast<int>(i % DV), h = static_cast<int>(bh % NH);
  att[i] = dot(kv_b + (static_cast<long>(h) * (DN + DV) + DN + v) * R, out_lat + bh * R, R);
}

// Grid of one block per (query, head): the count must fit gridDim.x.
unsigned attention_blocks(long queries, int NH) {
  const long n = queries * NH;
  AHA_CHECK(n <= INT_MAX, "fp32 attention: too many (query, head) pairs for one grid");
  return static_cast<unsigned>(n);
}

}  // namespace

void attention_forward_f32_cuda(float* out, float* lse, const float* q, const float* k,
                                const float* v, const int* seq_start, int B, int N, int NH, int NKV,
                                int DQK, int DV, float scale, cudaStream_t stream) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "attention_forward_f32_cuda: NH must be a multiple of NKV");
  AHA_CHECK(DV <= kMaxDV, "attention_forward_f32_cuda: DV above kMaxDV");
  if (B == 0 || N == 0 || NH == 0) return;
  attention_kernel<<<attention_blocks(N, NH), kThreads, sizeof(float) * DV, stream>>>(
      out, lse, q, k, v, seq_start, B, NH, NKV, DQK, DV, scale);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void mla_decode_attention_f32_cuda(float* out_lat, const float* q_lat, const float* q_rope,
                                   const float* cache, int page_tokens, const int* page_indptr,
                                   const int* page_ids, const int* seq_lens, int B, int NH, int R,
                                   int DR, float scale, cudaStream_t stream) {
  AHA_CHECK(page_tokens >= 1, "mla_decode_attention_f32_cuda: page_tokens must be >= 1");
  AHA_CHECK(R <= kMaxDV, "mla_decode_attention_f32_cuda: R above kMaxDV");
  if (B == 0 || NH == 0) return;
  mla_decode_kernel<<<attention_blocks(B, NH), kThreads, sizeof(float) * R, stream>>>(
      out_lat, q_lat, q_rope, cache, page_tokens, page_indptr, page_ids, seq_lens, NH, R, DR,
      scale);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void gqa_decode_attention_f32_cuda(float* out, const float* q, const float* cache, int page_tokens,
                                   const int* page_indptr, const int* page_ids, const int* seq_lens,
                                   int B, int NH, int NKV, int D, float scale,
                                   cudaStream_t stream) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0,
            "gqa_decode_attention_f32_cuda: NH must be a multiple of NKV");
  AHA_CHECK(page_tokens >= 1, "gqa_decode_attention_f32_cuda: page_tokens must be >= 1");
  AHA_CHECK(D <= kMaxDV, "gqa_decode_attention_f32_cuda: D above kMaxDV");
  if (B == 0 || NH == 0) return;
  paged_kernel<<<attention_blocks(B, NH), kThreads, sizeof(float) * D, stream>>>(
      out, q, cache, page_tokens, page_indptr, page_ids, seq_lens, NH, NKV, D, D, 2L * NKV * D, 0,
      static_cast<long>(NKV) * D, scale);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void paged_attention_f32_cuda(float* out, const float* q, const float* cache, int page_tokens,
                              const int* page_indptr, const int* page_ids, const int* seq_lens,
                              int B, int NH, int NKV, int DQK, int DV, long W, long k_col,
                              long v_col, float scale, cudaStream_t stream) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "paged_attention_f32_cuda: NH must be a multiple of NKV");
  AHA_CHECK(page_tokens >= 1, "paged_attention_f32_cuda: page_tokens must be >= 1");
  AHA_CHECK(DV <= kMaxDV, "paged_attention_f32_cuda: DV above kMaxDV");
  if (B == 0 || NH == 0) return;
  paged_kernel<<<attention_blocks(B, NH), kThreads, sizeof(float) * DV, stream>>>(
      out, q, cache, page_tokens, page_indptr, page_ids, seq_lens, NH, NKV, DQK, DV, W, k_col,
      v_col, scale);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void scatter_rows_f32_cuda(float* dst, int ld_dst, const int* dst_rows, int num_dst_rows,
                           const float* src, int ld_src, int rows, int cols, cudaStream_t stream) {
  const long n = static_cast<long>(rows) * cols;
  if (n == 0) return;
  scatter_kernel<<<num_blocks(n, kElemThreads), kElemThreads, 0, stream>>>(
      dst, ld_dst, dst_rows, num_dst_rows, src, ld_src, rows, cols);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void moe_experts_forward_f32_cuda(float* ye, float* he_gate, float* he_up, float* he_act,
                                  const float* xe, const float* w_gate, const float* w_up,
                                  const float* w_down, const int* expert_offsets, int E, int C,
                                  int H, int M, cudaStream_t stream) {
  if (E == 0) return;
  const long nh = static_cast<long>(M) * H, nc = static_cast<long>(M) * C;
  if (nh > 0) {
    moe_gate_up_kernel<<<num_blocks(nh, kElemThreads), kElemThreads, 0, stream>>>(
        he_gate, he_up, he_act, xe, w_gate, w_up, expert_offsets, E, C, H, M);
    AHA_CUDA_CHECK(cudaGetLastError());
  }
  if (nc > 0) {  // H = 0 still writes ye = 0 (an empty dot), as the CPU's GEMM does
    moe_down_kernel<<<num_blocks(nc, kElemThreads), kElemThreads, 0, stream>>>(
        ye, he_act, w_down, expert_offsets, E, C, H, M);
    AHA_CUDA_CHECK(cudaGetLastError());
  }
}

void linear_forward_f32_cuda(float* out, const float* inp, const float* weight, int N, int IC,
                             int OC, cudaStream_t stream) {
  const long n = static_cast<long>(N) * OC;
  if (n == 0) return;
  linear_kernel<<<num_blocks(n, kElemThreads), kElemThreads, 0, stream>>>(out, inp, weight, N, IC,
                                                                          OC);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void mla_absorb_q_f32_cuda(float* q_lat, float* q_rope, const float* q, const float* kv_b, int B,
                           int NH, int DN, int DR, int DV, int R, cudaStream_t stream) {
  const long n = static_cast<long>(B) * NH * (R + DR);
  if (n == 0) return;
  absorb_q_kernel<<<num_blocks(n, kElemThreads), kElemThreads, 0, stream>>>(q_lat, q_rope, q, kv_b,
                                                                            B, NH, DN, DR, DV, R);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void mla_absorb_out_f32_cuda(float* att, const float* out_lat, const float* kv_b, int B, int NH,
                             int DN, int DV, int R, cudaStream_t stream) {
  const long n = static_cast<long>(B) * NH * DV;
  if (n == 0) return;
  absorb_out_kernel<<<num_blocks(n, kElemThreads), kElemThreads, 0, stream>>>(att, out_lat, kv_b, B,
                                                                              NH, DN, DV, R);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
