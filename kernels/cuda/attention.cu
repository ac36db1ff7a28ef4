// CUDA packed causal attention (kernels/attention.h), flash-style on tensor cores: the fp32
// operands are rounded to bf16 as tiles are staged in shared memory (head dims zero-padded to a
// multiple of 16, so padded lanes add nothing), every product is mma.sync m16n8k16 bf16 with fp32
// accumulation, and softmax, max, sums, lse and all accumulators stay fp32; only P and dS are
// rounded to bf16 for the second GEMMs. A block has 4 warps; a warp owns 16 rows (queries, or keys
// in dk/dv) and works on the accumulator registers directly (fragment layout below), so no score
// matrix exists outside registers. Rows of one block may belong to different sequences: each row
// masks to its own key (query) range and the tile loop spans their union; a warp skips tiles where
// none of its rows has work. The backward recomputes P from lse: one kernel gives dq per query
// block, another dk and dv per key block summing the heads of its kv group in order, so nothing is
// atomic and two runs give the same bits.
#include <climits>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kRows = 16 * kWarps;  // rows per block: 16 per warp (an mma's M)
constexpr int kFwdKeys = 64;        // keys per tile in the forward
constexpr int kBwdTile = 32;        // keys (dq) or queries (dk/dv) per tile in the backward
constexpr int kMaxDim = 256;
constexpr int kPad = 8;  // extra bf16 per shared row: fragment loads hit 32 distinct banks
constexpr float kLog2e = 1.4426950408889634f;

struct Shape {
  int B, N, NH, NKV, DQK, DV;
  float scale;
  bool vec_qk, vec_v;  // q, k (resp. v, dout) rows can be read as float4
};

__host__ __device__ constexpr int pad16(int d) {
  return (d + 15) / 16 * 16;
}

// The sequence holding token i: the last b with seq_start[b] <= i.
__device__ inline int seq_of(const int* seq_start, int B, int i) {
  int lo = 0, hi = B - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (seq_start[mid] <= i)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// ---- mma.sync m16n8k16 (bf16 in, fp32 accumulate). Lane = 4 g + t (g = lane / 4, t = lane % 4).
// A 16x16: a0 = A[g][2t, 2t+1], a1 = A[g+8][2t, 2t+1], a2 = A[g][2t+8, 2t+9], a3 = A[g+8][2t+8, 2t+9]
// B 16x8:  b0 = B[2t, 2t+1][g], b1 = B[2t+8, 2t+9][g]
// C 16x8:  c0, c1 = C[g][2t, 2t+1], c2, c3 = C[g+8][2t, 2t+1]
// A register holds two bf16, the lower index in the lower half.
__device__ inline void mma(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#ifdef AHA_CUDA_EMU  // tests/cuda_emu: the same product, from the warp's fragments on the CPU
  cuemu::mma_m16n8k16_bf16(c, a, b);
#else
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

__device__ inline uint32_t ld32(const bf16* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}
__device__ inline uint32_t pack(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (lo) in the lower half
  return *reinterpret_cast<const uint32_t*>(&v);
}

// A fragment of the 16x16 block at x (row-major, leading dim ld).
__device__ inline void load_a(uint32_t (&a)[4], const bf16* x, int ld, int g, int t) {
  const bf16* p = x + g * ld + 2 * t;
  a[0] = ld32(p);
  a[1] = ld32(p + 8 * ld);
  a[2] = ld32(p + 8);
  a[3] = ld32(p + 8 * ld + 8);
}
// B fragment of B = Xᵀ, X the 8x16 block at x (row-major [n][k]): the pairs are contiguous.
__device__ inline void load_bt(uint32_t (&b)[2], const bf16* x, int ld, int g, int t) {
  const bf16* p = x + g * ld + 2 * t;
  b[0] = ld32(p);
  b[1] = ld32(p + 8);
}
// B fragment of B = X, X the 16x8 block at x (row-major [k][n]): each pair spans two rows.
__device__ inline void load_b(uint32_t (&b)[2], const bf16* x, int ld, int g, int t) {
  const uint16_t* p = reinterpret_cast<const uint16_t*>(x) + 2 * t * ld + g;
  b[0] = p[0] | static_cast<uint32_t>(p[ld]) << 16;
  b[1] = p[8 * ld] | static_cast<uint32_t>(p[9 * ld]) << 16;
}
// A fragment for k-step kk from a 16 x (8 n) accumulator tile c[n][4] (P or dS, rounded to bf16):
// the C layout of n-tiles 2kk, 2kk+1 is the A layout of columns 16kk .. 16kk+15.
template <int kN>
__device__ inline void acc_to_a(uint32_t (&a)[4], const float (&c)[kN][4], int kk) {
  a[0] = pack(c[2 * kk][0], c[2 * kk][1]);
  a[1] = pack(c[2 * kk][2], c[2 * kk][3]);
  a[2] = pack(c[2 * kk + 1][0], c[2 * kk + 1][1]);
  a[3] = pack(c[2 * kk + 1][2], c[2 * kk + 1][3]);
}

// Stages rows [0, rows) x dims [0, Dp) of a tile: dst[r][d] = bf16(src[r * stride + d]) for
// r < nrows and d < D, else 0 (padded dims and rows past the data must be 0, not garbage: P = 0
// times NaN is NaN). vec: D % 4 == 0 and src rows 16-byte aligned.
__device__ void stage(bf16* dst, int ld, int rows, int Dp, const float* src, long stride, int nrows,
                      int D, bool vec) {
  if (vec) {
    const int c4 = Dp / 4;
    for (int x = threadIdx.x; x < rows * c4; x += blockDim.x) {
      const int r = x / c4, d = x % c4 * 4;
      float4 f = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (r < nrows && d < D) f = *reinterpret_cast<const float4*>(src + r * stride + d);
      __nv_bfloat162* o = reinterpret_cast<__nv_bfloat162*>(dst + r * ld + d);
      o[0] = __floats2bfloat162_rn(f.x, f.y);
      o[1] = __floats2bfloat162_rn(f.z, f.w);
    }
  } else {
    for (int x = threadIdx.x; x < rows * Dp; x += blockDim.x) {
      const int r = x / Dp, d = x % Dp;
      dst[r * ld + d] = __float2bfloat16(r < nrows && d < D ? src[r * stride + d] : 0.0f);
    }
  }
}

// Max and sum over the 4 lanes (t) sharing an accumulator row, in a fixed order.
__device__ inline float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ inline float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// ---- Warp-level pieces shared by the kernels. The accumulator helpers are force-inlined and take
// the arrays by reference with compile-time sizes, so the tiles stay in registers.

// stage() of head `head` of tokens [row0, row0 + nrows) of x ([token][head][D], token stride
// `stride`) into a tile of `rows` rows.
__device__ __forceinline__ void stage_head(bf16* dst, int ld, int rows, int Dp, const float* x,
                                           long stride, int row0, int head, int nrows, int D,
                                           bool vec) {
  stage(dst, ld, rows, Dp, x + row0 * stride + static_cast<long>(head) * D, stride, nrows, D, vec);
}

// The first token of token i's sequence; INT_MAX for a row past the data (i >= N), which no key
// or query reaches.
__device__ __forceinline__ int seq_begin(const int* seq_start, const Shape& s, int i) {
  return i < s.N ? seq_start[seq_of(seq_start, s.B, i)] : INT_MAX;
}

// Column (within the tile) of element c of n-tile n of this lane's accumulator: 8 n + 2 t + c % 2
// (elements 0, 1 are row g, elements 2, 3 row g + 8).
__device__ __forceinline__ int acc_col(int n, int c, int t) {
  return 8 * n + 2 * t + c % 2;
}

// c = 0 for a 16 x (8 kN) accumulator tile.
template <int kN>
__device__ __forceinline__ void zero_acc(float (&c)[kN][4]) {
#pragma unroll
  for (int n = 0; n < kN; n++) c[n][0] = c[n][1] = c[n][2] = c[n][3] = 0.0f;
}

// c += A Bᵀ over K (a multiple of 16) dims: A the warp's 16 rows at a_s, B the kN * 8 rows at b_s,
// both row-major bf16 in shared memory with leading dim ld (S = Q Kᵀ, dP = dO Vᵀ and the
// transposed ones in dk/dv).
template <int kN>
__device__ __forceinline__ void mma_abt(float (&c)[kN][4], const bf16* a_s, const bf16* b_s, int ld,
                                        int K, int g, int t) {
  for (int kk = 0; kk < K / 16; kk++) {
    uint32_t a[4];
    load_a(a, a_s + 16 * kk, ld, g, t);
#pragma unroll
    for (int n = 0; n < kN; n++) {
      uint32_t b[2];
      load_bt(b, b_s + 8 * n * ld + 16 * kk, ld, g, t);
      mma(c[n], a, b);
    }
  }
}

// One k-step of c += A X: a the A fragment of 16 columns, X the 16 rows at x_s (row-major bf16,
// leading dim ld); only the first n_used of the kN output n-tiles (8 columns each) are real.
template <int kN>
__device__ __forceinline__ void mma_ab_step(float (&c)[kN][4], const uint32_t (&a)[4],
                                            const bf16* x_s, int ld, int n_used, int g, int t) {
#pragma unroll
  for (int n = 0; n < kN; n++) {
    if (n >= n_used) break;
    uint32_t b[2];
    load_b(b, x_s + 8 * n, ld, g, t);
    mma(c[n], a, b);
  }
}

// c += P X with P the 16 x (8 kM) accumulator tile p rounded to bf16 (P or dS) and X its kM * 8
// rows at x_s (O += P V, dQ += dS K).
template <int kN, int kM>
__device__ __forceinline__ void mma_pb(float (&c)[kN][4], const float (&p)[kM][4], const bf16* x_s,
                                       int ld, int n_used, int g, int t) {
#pragma unroll
  for (int kk = 0; kk < kM / 2; kk++) {
    uint32_t a[4];
    acc_to_a(a, p, kk);
    mma_ab_step(c, a, x_s + 16 * kk * ld, ld, n_used, g, t);
  }
}

// row[d] += accumulator row r (0: g, 1: g + 8) of c for the d < D this lane holds.
template <int kN>
__device__ __forceinline__ void add_acc_row(float* row, const float (&c)[kN][4], int r, int D,
                                            int t) {
#pragma unroll
  for (int n = 0; n < kN; n++) {
    const int d = 8 * n + 2 * t;
    if (d < D) row[d] += c[n][2 * r];
    if (d + 1 < D) row[d + 1] += c[n][2 * r + 1];
  }
}

// Forward: 64 queries of head h per block, keys in tiles of 64.
// Shared (bf16): q_s [kRows][DQKp + kPad], k_s [kFwdKeys][DQKp + kPad], v_s [kFwdKeys][DVp + kPad]
template <int kDQK, int kDV>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(float* out, float* lse, const float* q, const float* k, const float* v,
                             const int* seq_start, Shape s) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int kNV = kDV / 8;  // output n-tiles (8 dims each) at most
  const int DQKp = pad16(s.DQK), DVp = pad16(s.DV), ldk = DQKp + kPad, ldv = DVp + kPad;
  const int nv = DVp / 8;
  bf16* q_s = reinterpret_cast<bf16*>(smem);
  bf16* k_s = q_s + kRows * ldk;
  bf16* v_s = k_s + kFwdKeys * ldk;
  const int h = blockIdx.y, hk = h / (s.NH / s.NKV);
  const int i0 = blockIdx.x * kRows, i_last = min(s.N, i0 + kRows) - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const long qs = static_cast<long>(s.NH) * s.DQK, ks = static_cast<long>(s.NKV) * s.DQK,
             vs = static_cast<long>(s.NKV) * s.DV;

  stage_head(q_s, ldk, kRows, DQKp, q, qs, i0, h, i_last + 1 - i0, s.DQK, s.vec_qk);
  // This lane's rows g and g+8 of the warp: keys [row_s0, row_i] (none past N).
  int row_i[2], row_s0[2];
  float m[2], l[2];  // running max (log2 units) and this lane's partial sum of P
#pragma unroll
  for (int r = 0; r < 2; r++) {
    row_i[r] = i0 + 16 * warp + g + 8 * r;
    row_s0[r] = seq_begin(seq_start, s, row_i[r]);
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }
  float o[kNV][4];
  zero_acc(o);
  // The warp's rows [w_first, w_last] see keys from w_s0 (the smallest row_s0) up to w_last.
  const int w_first = i0 + 16 * warp, w_last = min(s.N - 1, w_first + 15);
  const int w_s0 = seq_begin(seq_start, s, w_first);
  const float sl2 = s.scale * kLog2e;

  const int key_begin = seq_start[seq_of(seq_start, s.B, i0)];
  for (int t0 = key_begin; t0 <= i_last; t0 += kFwdKeys) {
    __syncthreads();  // the previous tile is consumed
    const int nk = min(kFwdKeys, i_last + 1 - t0);
    stage_head(k_s, ldk, kFwdKeys, DQKp, k, ks, t0, hk, nk, s.DQK, s.vec_qk);
    stage_head(v_s, ldv, kFwdKeys, DVp, v, vs, t0, hk, nk, s.DV, s.vec_v);
    __syncthreads();
    if (w_first >= s.N || t0 > w_last || t0 + kFwdKeys <= w_s0) continue;  // warp-uniform

    // S = Q Kᵀ for the warp's 16 rows x 64 keys.
    float sc[kFwdKeys / 8][4];
    zero_acc(sc);
    mma_abt(sc, q_s + 16 * warp * ldk, k_s, ldk, DQKp, g, t);
    // Mask, scale to log2 units, online softmax. A row with no key yet keeps m = -inf; m_use = 0
    // then keeps exp2 away from -inf - -inf.
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kFwdKeys / 8; n++)
#pragma unroll
      for (int c = 0; c < 4; c++) {
        const int r = c / 2, key = t0 + acc_col(n, c, t);
        const bool valid = key >= row_s0[r] && key <= row_i[r];
        sc[n][c] = valid ? sc[n][c] * sl2 : -INFINITY;
        mx[r] = fmaxf(mx[r], sc[n][c]);
      }
    float corr[2], m_use[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      const float m_new = fmaxf(m[r], quad_max(mx[r]));
      m_use[r] = m_new == -INFINITY ? 0.0f : m_new;
      corr[r] = exp2f(m[r] - m_use[r]);
      m[r] = m_new;
      l[r] *= corr[r];
    }
#pragma unroll
    for (int n = 0; n < kFwdKeys / 8; n++)
#pragma unroll
      for (int c = 0; c < 4; c++) {
        const int r = c / 2;
        // Round here: the sum then weighs exactly what the P·V mma sees.
        const float p = __bfloat162float(__float2bfloat16(exp2f(sc[n][c] - m_use[r])));
        sc[n][c] = p;
        l[r] += p;
      }
#pragma unroll
    for (int n = 0; n < kNV; n++) {
      o[n][0] *= corr[0];
      o[n][1] *= corr[0];
      o[n][2] *= corr[1];
      o[n][3] *= corr[1];
    }
    mma_pb(o, sc, v_s, ldv, nv, g, t);  // O += P V
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const float sum = quad_sum(l[r]);  // every lane of the quad, before any lane leaves
    const int i = row_i[r];
    if (i >= s.N) continue;
    const float inv = 1.0f / sum;
    float* orow = out + (static_cast<long>(i) * s.NH + h) * s.DV;
#pragma unroll
    for (int n = 0; n < kNV; n++) {
      const int d = 8 * n + 2 * t;
      if (d < s.DV) orow[d] = o[n][2 * r] * inv;
      if (d + 1 < s.DV) orow[d + 1] = o[n][2 * r + 1] * inv;
    }
    if (t == 0) lse[static_cast<long>(i) * s.NH + h] = (m[r] + log2f(sum)) / kLog2e;
  }
}

// rowdot[i,h] = dout[i,h,:] · out[i,h,:], one warp per (i, h).
__global__ void rowdot_kernel(float* rowdot, const float* dout, const float* out, long NNH,
                              int DV) {
  const long w = blockIdx.x * static_cast<long>(blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (w >= NNH) return;
  const float* a = dout + w * DV;
  const float* b = out + w * DV;
  double acc = 0.0;
  for (int d = lane; d < DV; d += 32) acc += static_cast<double>(a[d]) * b[d];
  acc = warp_sum(acc);
  if (lane == 0) rowdot[w] = static_cast<float>(acc);
}

// dq for 64 queries of head h: walks their keys in tiles of 32 like the forward.
// S = Q Kᵀ, P = exp(S - lse), dP = dO Vᵀ, dS = scale P (dP - rowdot), dQ += dS K.
// Shared (bf16): q_s [kRows][DQKp + kPad], do_s [kRows][DVp + kPad], k_s [kBwdTile][DQKp + kPad],
// v_s [kBwdTile][DVp + kPad]
template <int kDQK, int kDV>
__global__ void __launch_bounds__(kThreads)
    attention_dq_kernel(float* dq, const float* dout, const float* lse, const float* rowdot,
                        const float* q, const float* k, const float* v, const int* seq_start,
                        Shape s) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int kNQK = kDQK / 8;
  const int DQKp = pad16(s.DQK), DVp = pad16(s.DV), ldk = DQKp + kPad, ldv = DVp + kPad;
  const int nqk = DQKp / 8;
  bf16* q_s = reinterpret_cast<bf16*>(smem);
  bf16* do_s = q_s + kRows * ldk;
  bf16* k_s = do_s + kRows * ldv;
  bf16* v_s = k_s + kBwdTile * ldk;
  const int h = blockIdx.y, hk = h / (s.NH / s.NKV);
  const int i0 = blockIdx.x * kRows, i_last = min(s.N, i0 + kRows) - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const long qs = static_cast<long>(s.NH) * s.DQK, ks = static_cast<long>(s.NKV) * s.DQK,
             vs = static_cast<long>(s.NKV) * s.DV, os = static_cast<long>(s.NH) * s.DV;

  stage_head(q_s, ldk, kRows, DQKp, q, qs, i0, h, i_last + 1 - i0, s.DQK, s.vec_qk);
  stage_head(do_s, ldv, kRows, DVp, dout, os, i0, h, i_last + 1 - i0, s.DV, s.vec_v);
  int row_i[2], row_s0[2];
  float row_lse[2], row_D[2];  // lse in log2 units
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int i = i0 + 16 * warp + g + 8 * r;
    row_i[r] = i;
    row_s0[r] = seq_begin(seq_start, s, i);
    row_lse[r] = i < s.N ? lse[static_cast<long>(i) * s.NH + h] * kLog2e : 0.0f;
    row_D[r] = i < s.N ? rowdot[static_cast<long>(i) * s.NH + h] : 0.0f;
  }
  float acc[kNQK][4];
  zero_acc(acc);
  const int w_first = i0 + 16 * warp, w_last = min(s.N - 1, w_first + 15);
  const int w_s0 = seq_begin(seq_start, s, w_first);
  const float sl2 = s.scale * kLog2e;

  const int key_begin = seq_start[seq_of(seq_start, s.B, i0)];
  for (int t0 = key_begin; t0 <= i_last; t0 += kBwdTile) {
    __syncthreads();
    const int nk = min(kBwdTile, i_last + 1 - t0);
    stage_head(k_s, ldk, kBwdTile, DQKp, k, ks, t0, hk, nk, s.DQK, s.vec_qk);
    stage_head(v_s, ldv, kBwdTile, DVp, v, vs, t0, hk, nk, s.DV, s.vec_v);
    __syncthreads();
    if (w_first >= s.N || t0 > w_last || t0 + kBwdTile <= w_s0) continue;  // warp-uniform

    float sc[kBwdTile / 8][4], dp[kBwdTile / 8][4];
    zero_acc(sc);
    zero_acc(dp);
    mma_abt(sc, q_s + 16 * warp * ldk, k_s, ldk, DQKp, g, t);  // S = Q Kᵀ
    mma_abt(dp, do_s + 16 * warp * ldv, v_s, ldv, DVp, g, t);  // dP = dO Vᵀ
    // dS (in sc), masked: 0 outside [row_s0, row_i].
#pragma unroll
    for (int n = 0; n < kBwdTile / 8; n++)
#pragma unroll
      for (int c = 0; c < 4; c++) {
        const int r = c / 2, key = t0 + acc_col(n, c, t);
        const bool valid = key >= row_s0[r] && key <= row_i[r];
        const float p = exp2f(sc[n][c] * sl2 - row_lse[r]);
        sc[n][c] = valid ? s.scale * p * (dp[n][c] - row_D[r]) : 0.0f;
      }
    mma_pb(acc, sc, k_s, ldk, nqk, g, t);  // dQ += dS K
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int i = row_i[r];
    if (i >= s.N) continue;
    add_acc_row(dq + (static_cast<long>(i) * s.NH + h) * s.DQK, acc, r, s.DQK, t);
  }
}

// dk, dv for 64 keys of kv head hk: for each head of the group in order, walks the queries that
// see these keys (from the first key to the end of the last key's sequence) in tiles of 32, with
// keys as the mma rows: Sᵀ = K Qᵀ, Pᵀ = exp(Sᵀ - lse), dPᵀ = V dOᵀ, dSᵀ = scale Pᵀ (dPᵀ - rowdot),
// dV += Pᵀ dO, dK += dSᵀ Q.
// Shared: lse_s, D_s [kBwdTile] (fp32); (bf16) k_s [kRows][DQKp + kPad], v_s [kRows][DVp + kPad],
// q_s [kBwdTile][DQKp + kPad], do_s [kBwdTile][DVp + kPad]
template <int kDQK, int kDV>
__global__ void __launch_bounds__(kThreads)
    attention_dkv_kernel(float* dk, float* dv, const float* dout, const float* lse,
                         const float* rowdot, const float* q, const float* k, const float* v,
                         const int* seq_start, Shape s) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int kNQK = kDQK / 8, kNV = kDV / 8;
  const int DQKp = pad16(s.DQK), DVp = pad16(s.DV), ldk = DQKp + kPad, ldv = DVp + kPad;
  const int nqk = DQKp / 8, nv = DVp / 8;
  float* lse_s = reinterpret_cast<float*>(smem);  // log2 units
  float* D_s = lse_s + kBwdTile;
  bf16* k_s = reinterpret_cast<bf16*>(D_s + kBwdTile);
  bf16* v_s = k_s + kRows * ldk;
  bf16* q_s = v_s + kRows * ldv;
  bf16* do_s = q_s + kBwdTile * ldk;
  const int hk = blockIdx.y, group = s.NH / s.NKV;
  const int j0 = blockIdx.x * kRows, j_last = min(s.N, j0 + kRows) - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const long qs = static_cast<long>(s.NH) * s.DQK, ks = static_cast<long>(s.NKV) * s.DQK,
             vs = static_cast<long>(s.NKV) * s.DV, os = static_cast<long>(s.NH) * s.DV;

  stage_head(k_s, ldk, kRows, DQKp, k, ks, j0, hk, j_last + 1 - j0, s.DQK, s.vec_qk);
  stage_head(v_s, ldv, kRows, DVp, v, vs, j0, hk, j_last + 1 - j0, s.DV, s.vec_v);
  // This lane's keys (rows g, g+8 of the warp) are seen by queries [key_j, key_end).
  int key_j[2], key_end[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int j = j0 + 16 * warp + g + 8 * r;
    key_j[r] = j;
    key_end[r] = j < s.N ? seq_start[seq_of(seq_start, s.B, j) + 1] : 0;
  }
  float dk_acc[kNQK][4], dv_acc[kNV][4];
  zero_acc(dk_acc);
  zero_acc(dv_acc);
  // The warp's keys [w_first, w_last] are seen by queries [w_first, w_end).
  const int w_first = j0 + 16 * warp, w_last = min(s.N - 1, w_first + 15);
  const int w_end = w_first < s.N ? seq_start[seq_of(seq_start, s.B, w_last) + 1] : 0;
  const int query_end = seq_start[seq_of(seq_start, s.B, j_last) + 1];
  const float sl2 = s.scale * kLog2e;

  for (int hg = 0; hg < group; hg++) {
    const int h = hk * group + hg;
    for (int t0 = j0; t0 < query_end; t0 += kBwdTile) {
      __syncthreads();
      const int nq = min(kBwdTile, query_end - t0);
      stage_head(q_s, ldk, kBwdTile, DQKp, q, qs, t0, h, nq, s.DQK, s.vec_qk);
      stage_head(do_s, ldv, kBwdTile, DVp, dout, os, t0, h, nq, s.DV, s.vec_v);
      for (int i = threadIdx.x; i < kBwdTile; i += blockDim.x) {
        lse_s[i] = i < nq ? lse[static_cast<long>(t0 + i) * s.NH + h] * kLog2e : 0.0f;
        D_s[i] = i < nq ? rowdot[static_cast<long>(t0 + i) * s.NH + h] : 0.0f;
      }
      __syncthreads();
      if (w_first >= s.N || t0 + kBwdTile <= w_first || t0 >= w_end) continue;  // warp-uniform

      float sc[kBwdTile / 8][4], dp[kBwdTile / 8][4];
      zero_acc(sc);
      zero_acc(dp);
      mma_abt(sc, k_s + 16 * warp * ldk, q_s, ldk, DQKp, g, t);  // Sᵀ = K Qᵀ
      mma_abt(dp, v_s + 16 * warp * ldv, do_s, ldv, DVp, g, t);  // dPᵀ = V dOᵀ
      // Pᵀ (in sc) and dSᵀ (in dp), masked: query in [key_j, key_end).
#pragma unroll
      for (int n = 0; n < kBwdTile / 8; n++)
#pragma unroll
        for (int c = 0; c < 4; c++) {
          const int r = c / 2, qi = acc_col(n, c, t), query = t0 + qi;
          const bool valid = query >= key_j[r] && query < key_end[r];
          const float p = valid ? exp2f(sc[n][c] * sl2 - lse_s[qi]) : 0.0f;
          sc[n][c] = p;
          dp[n][c] = valid ? s.scale * p * (dp[n][c] - D_s[qi]) : 0.0f;
        }
        // dV += Pᵀ dO, dK += dSᵀ Q, interleaved per k-step.
#pragma unroll
      for (int kk = 0; kk < kBwdTile / 16; kk++) {
        uint32_t a[4];
        acc_to_a(a, sc, kk);
        mma_ab_step(dv_acc, a, do_s + 16 * kk * ldv, ldv, nv, g, t);
        acc_to_a(a, dp, kk);
        mma_ab_step(dk_acc, a, q_s + 16 * kk * ldk, ldk, nqk, g, t);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int j = key_j[r];
    if (j >= s.N) continue;
    add_acc_row(dk + (static_cast<long>(j) * s.NKV + hk) * s.DQK, dk_acc, r, s.DQK, t);
    add_acc_row(dv + (static_cast<long>(j) * s.NKV + hk) * s.DV, dv_acc, r, s.DV, t);
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

Shape make_shape(int B, int N, int NH, int NKV, int DQK, int DV, float scale, const float* q,
                 const float* k, const float* v, const float* dout) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "attention_cuda: NH must be a multiple of NKV");
  AHA_CHECK(DQK > 0 && DQK <= kMaxDim && DV > 0 && DV <= kMaxDim,
            "attention_cuda: head dims must be in [1, 256]");
  AHA_CHECK(B >= 1, "attention_cuda: need at least one sequence");
  const bool vec_qk = DQK % 4 == 0 && aligned16(q) && aligned16(k);
  const bool vec_v = DV % 4 == 0 && aligned16(v) && aligned16(dout);
  return Shape{B, N, NH, NKV, DQK, DV, scale, vec_qk, vec_v};
}

// Calls f(integral_constant<kDQK>, integral_constant<kDV>) for the smallest instantiated register
// budget holding the padded head dims: accumulator arrays are sized at compile time.
template <typename F>
void dispatch_dims(int DQK, int DV, F f) {
  using std::integral_constant;
  const int qk = pad16(DQK), v = pad16(DV);
  if (qk <= 64 && v <= 64)
    f(integral_constant<int, 64>{}, integral_constant<int, 64>{});
  else if (qk <= 128 && v <= 128)
    f(integral_constant<int, 128>{}, integral_constant<int, 128>{});
  else if (qk <= 192 && v <= 128)
    f(integral_constant<int, 192>{}, integral_constant<int, 128>{});
  else
    f(integral_constant<int, kMaxDim>{}, integral_constant<int, kMaxDim>{});
}

// Dynamic shared memory above 48 KiB must be allowed per kernel.
template <typename Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  AHA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(bytes)));
}

}  // namespace

void attention_forward_cuda(float* out, float* lse, const float* q, const float* k, const float* v,
                            const int* seq_start, int B, int N, int NH, int NKV, int DQK, int DV,
                            float scale, cudaStream_t stream) {
  const Shape s = make_shape(B, N, NH, NKV, DQK, DV, scale, q, k, v, nullptr);
  if (N == 0) return;
  const size_t ldk = pad16(DQK) + kPad, ldv = pad16(DV) + kPad;
  const size_t bytes = sizeof(bf16) * ((kRows + kFwdKeys) * ldk + kFwdKeys * ldv);
  dispatch_dims(DQK, DV, [&](auto qk, auto dv) {
    auto kernel = attention_forward_kernel<decltype(qk)::value, decltype(dv)::value>;
    allow_smem(kernel, bytes);
    kernel<<<dim3(num_blocks(N, kRows), NH), kThreads, bytes, stream>>>(out, lse, q, k, v,
                                                                        seq_start, s);
    AHA_CUDA_CHECK(cudaGetLastError());
  });
}

size_t attention_backward_workspace_size(int N, int NH) {
  return sizeof(float) * static_cast<size_t>(N) * NH;
}

void attention_backward_cuda(float* dq, float* dk, float* dv, const float* dout, const float* out,
                             const float* lse, const float* q, const float* k, const float* v,
                             const int* seq_start, int B, int N, int NH, int NKV, int DQK, int DV,
                             float scale, void* workspace, size_t workspace_bytes,
                             cudaStream_t stream) {
  const Shape s = make_shape(B, N, NH, NKV, DQK, DV, scale, q, k, v, dout);
  if (N == 0) return;
  AHA_CHECK(workspace_bytes >= attention_backward_workspace_size(N, NH),
            "attention_backward_cuda: workspace too small");
  float* rowdot = static_cast<float*>(workspace);
  const long NNH = static_cast<long>(N) * NH;
  rowdot_kernel<<<num_blocks(NNH, 4), 128, 0, stream>>>(rowdot, dout, out, NNH, DV);
  AHA_CUDA_CHECK(cudaGetLastError());

  const size_t ldk = pad16(DQK) + kPad, ldv = pad16(DV) + kPad;
  // dq and dk/dv stage the same rows: kRows of one operand pair, kBwdTile of the other.
  const size_t bytes =
      sizeof(bf16) * ((kRows + kBwdTile) * (ldk + ldv)) + sizeof(float) * 2 * kBwdTile;
  dispatch_dims(DQK, DV, [&](auto qk, auto dvd) {
    constexpr int kQK = decltype(qk)::value, kV = decltype(dvd)::value;
    auto dq_kernel = attention_dq_kernel<kQK, kV>;
    allow_smem(dq_kernel, bytes);
    dq_kernel<<<dim3(num_blocks(N, kRows), NH), kThreads, bytes, stream>>>(dq, dout, lse, rowdot, q,
                                                                           k, v, seq_start, s);
    AHA_CUDA_CHECK(cudaGetLastError());
    auto dkv_kernel = attention_dkv_kernel<kQK, kV>;
    allow_smem(dkv_kernel, bytes);
    dkv_kernel<<<dim3(num_blocks(N, kRows), NKV), kThreads, bytes, stream>>>(
        dk, dv, dout, lse, rowdot, q, k, v, seq_start, s);
    AHA_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace aha
