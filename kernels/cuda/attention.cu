// CUDA packed causal attention (kernels/attention.h), flash-style on tensor cores. q, k, v (and
// dout) are first cast to bf16 copies in the workspace, one [head][row][Dp] block per head: head
// dims zero-padded to Dp = a multiple of 16 and rows zero-padded past N, so every tile load is a
// whole, aligned 16-byte cp.async and padding adds nothing. Tiles of keys (queries in dk/dv) are
// double-buffered: the next tile is in flight while the current one is multiplied. Fragments come
// from shared memory by ldmatrix (.trans for the operands stored [k][n]); every product is
// mma.sync m16n8k16 bf16 with fp32 accumulation, and softmax, max, sums, lse and all accumulators
// stay fp32; only P and dS are rounded to bf16 for the second GEMMs. A warp owns 16 rows (queries,
// or keys in dk/dv) and works on the accumulator registers directly (fragment layout below), so
// no score matrix exists outside registers. Rows of one block may belong to different sequences:
// each row masks to its own key (query) range and the tile loop spans their union; a warp skips
// tiles where none of its rows has work, and masks only tiles that cross a row's range. The
// backward recomputes P from lse: one kernel gives dq per query block, another dk and dv per key
// block summing the heads of its kv group in order, so nothing is atomic and two runs give the
// same bits.
#include <climits>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

namespace {

constexpr int kFwdWarps = 8;
constexpr int kBwdWarps = 4;
constexpr int kFwdRows = 16 * kFwdWarps;  // queries per forward block: 16 per warp (an mma's M)
constexpr int kBwdRows = 16 * kBwdWarps;  // queries (dq) or keys (dk/dv) per backward block
constexpr int kFwdKeys = 64;              // keys per tile in the forward
constexpr int kBwdTile = 32;              // keys (dq) or queries (dk/dv) per tile in the backward
constexpr int kMaxDim = 256;
constexpr int kPad = 8;       // extra bf16 per shared row: an ldmatrix's 8 rows hit distinct banks
constexpr int kRowPad = 128;  // zero rows after N in the copies: a tile that starts below N fits
constexpr float kLog2e = 1.4426950408889634f;

__host__ __device__ constexpr int pad16(int d) {
  return (d + 15) / 16 * 16;
}

struct Shape {
  int B, N, NH, NKV, DQK, DV;
  int Npad, DQKp, DVp;  // rows and head dims of the bf16 copies
  float scale;
};

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

// The first token of token i's sequence; INT_MAX for a row past the data (i >= N), which no key
// or query reaches.
__device__ __forceinline__ int seq_begin(const int* seq_start, const Shape& s, int i) {
  return i < s.N ? seq_start[seq_of(seq_start, s.B, i)] : INT_MAX;
}

// ---- The copies: dst[h][i][d] = bf16(src[i][h][d]) for i < N, d < D, and 0 in the padding
// (i < Npad, d < Dp). One thread per 8 dims of a row: one 16-byte store.
__global__ void to_heads_bf16_kernel(bf16* dst, const float* src, int N, int Npad, int H, int D,
                                     int Dp) {
  const int chunks = Dp / 8;
  const long x = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (x >= static_cast<long>(H) * Npad * chunks) return;
  const int c = static_cast<int>(x % chunks);
  const long row = x / chunks;  // h * Npad + i
  const int i = static_cast<int>(row % Npad), h = static_cast<int>(row / Npad);
  float f[8];
#pragma unroll
  for (int e = 0; e < 8; e++) {
    const int d = 8 * c + e;
    f[e] = i < N && d < D ? src[(static_cast<long>(i) * H + h) * D + d] : 0.0f;
  }
  uint4 v;
  __nv_bfloat162 p[4];
#pragma unroll
  for (int e = 0; e < 4; e++) p[e] = __floats2bfloat162_rn(f[2 * e], f[2 * e + 1]);
  static_assert(sizeof p == sizeof v, "8 bf16 are 16 bytes");
  memcpy(&v, p, sizeof v);
  *reinterpret_cast<uint4*>(dst + row * Dp + 8 * c) = v;
}

// ---- Asynchronous copies and fragment loads (tests/cuda_emu emulates each instruction).

__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
#ifdef AHA_CUDA_EMU
  cuemu::cp_async_16(dst, src);
#else
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(src) : "memory");
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifdef AHA_CUDA_EMU
  cuemu::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
// Waits until at most kPending of this thread's newest groups are in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
#ifdef AHA_CUDA_EMU
  cuemu::cp_async_wait(kPending);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
#endif
}

// rows x Dp bf16 of a copy (rows Dp apart from g) into dst (leading dim Dp + kPad).
__device__ __forceinline__ void load_tile(bf16* dst, const bf16* g, int rows, int Dp) {
  const int chunks = Dp / 8;
  for (int x = threadIdx.x; x < rows * chunks; x += blockDim.x) {
    const int r = x / chunks, c = x % chunks;
    cp_async16(dst + r * (Dp + kPad) + 8 * c, g + static_cast<long>(r) * Dp + 8 * c);
  }
}

// The key/value tile j + 1 (kTile rows from t_next) into buffer (j + 1) % 2, when there is one:
// it flies while tile j is multiplied. Returns once tile j (every older group) has landed.
template <int kTile>
__device__ __forceinline__ void next_kv_tile(bf16* k_s, bf16* v_s, const bf16* kh, const bf16* vh,
                                             int j, int num_tiles, int t_next, const Shape& s) {
  const int ldk = s.DQKp + kPad, ldv = s.DVp + kPad;
  if (j + 1 < num_tiles) {
    const int b = (j + 1) % 2;
    load_tile(k_s + b * kTile * ldk, kh + static_cast<long>(t_next) * s.DQKp, kTile, s.DQKp);
    load_tile(v_s + b * kTile * ldv, vh + static_cast<long>(t_next) * s.DVp, kTile, s.DVp);
    cp_async_commit();
    cp_async_wait<1>();
  } else {
    cp_async_wait<0>();
  }
}

// ldmatrix x4: lane 8i + j gives the address of row j of 8x8 matrix i; lane 4g + t receives row
// g, columns 2t, 2t+1 of each (kTrans: column g, rows 2t, 2t+1).
template <bool kTrans>
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const bf16* row) {
#ifdef AHA_CUDA_EMU
  cuemu::ldmatrix_x4(r, row, kTrans);
#else
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(row));
  if constexpr (kTrans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
#endif
}

// ---- mma.sync m16n8k16 (bf16 in, fp32 accumulate). Lane = 4 g + t (g = lane / 4, t = lane % 4).
// A 16x16: a0 = A[g][2t, 2t+1], a1 = A[g+8][2t, 2t+1], a2 = A[g][2t+8, 2t+9], a3 = A[g+8][2t+8, 2t+9]
// B 16x8:  b0 = B[2t, 2t+1][g], b1 = B[2t+8, 2t+9][g]
// C 16x8:  c0, c1 = C[g][2t, 2t+1], c2, c3 = C[g+8][2t, 2t+1]
// A register holds two bf16, the lower index in the lower half.
__device__ inline void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#ifdef AHA_CUDA_EMU  // tests/cuda_emu: the same product, from the warp's fragments on the CPU
  const uint32_t b[2] = {b0, b1};
  cuemu::mma_m16n8k16_bf16(c, a, b);
#else
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

__device__ inline uint32_t pack(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (lo) in the lower half
  return *reinterpret_cast<const uint32_t*>(&v);
}

// A fragment of the 16x16 block at x (row-major, leading dim ld): matrices rows 0-7 / 8-15 of
// columns 0-7, then of columns 8-15.
__device__ __forceinline__ void load_a(uint32_t (&a)[4], const bf16* x, int ld, int lane) {
  ldsm_x4<false>(a, x + (lane % 16) * ld + 8 * (lane / 16));
}
// B fragments of two n-tiles of B = Xᵀ, X the 16x16 block at x (row-major [n][k]): b[0], b[1]
// for X's rows 0-7, b[2], b[3] for rows 8-15.
__device__ __forceinline__ void load_bt2(uint32_t (&b)[4], const bf16* x, int ld, int lane) {
  ldsm_x4<false>(b, x + (lane % 8 + 8 * (lane / 16)) * ld + 8 * (lane / 8 % 2));
}
// B fragments of two n-tiles of B = X, X the 16x16 block at x (row-major [k][n]): b[0], b[1] for
// X's columns 0-7, b[2], b[3] for columns 8-15.
__device__ __forceinline__ void load_b2(uint32_t (&b)[4], const bf16* x, int ld, int lane) {
  ldsm_x4<true>(b, x + (lane % 8 + 8 * (lane / 8 % 2)) * ld + 8 * (lane / 16));
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

// c += A Bᵀ over K (a multiple of 16, at most kK) dims: A the warp's 16 rows at a_s, B the kN * 8
// rows at b_s, both row-major bf16 in shared memory with leading dim ld (S = Q Kᵀ, dP = dO Vᵀ and
// the transposed ones in dk/dv). Unrolled to kK so fragment loads can run ahead of the mmas.
template <int kK, int kN>
__device__ __forceinline__ void mma_abt(float (&c)[kN][4], const bf16* a_s, const bf16* b_s, int ld,
                                        int K, int lane) {
  static_assert(kN % 2 == 0, "n-tiles are loaded in pairs");
#pragma unroll
  for (int kk = 0; kk < kK / 16; kk++) {
    if (16 * kk >= K) break;
    uint32_t a[4];
    load_a(a, a_s + 16 * kk, ld, lane);
#pragma unroll
    for (int n = 0; n < kN; n += 2) {
      uint32_t b[4];
      load_bt2(b, b_s + 8 * n * ld + 16 * kk, ld, lane);
      mma(c[n], a, b[0], b[1]);
      mma(c[n + 1], a, b[2], b[3]);
    }
  }
}

// One k-step of c += A X: a the A fragment of 16 columns, X the 16 rows at x_s (row-major bf16,
// leading dim ld); only the first n_used (even) of the kN output n-tiles (8 columns each) are real.
template <int kN>
__device__ __forceinline__ void mma_ab_step(float (&c)[kN][4], const uint32_t (&a)[4],
                                            const bf16* x_s, int ld, int n_used, int lane) {
  static_assert(kN % 2 == 0, "n-tiles are loaded in pairs");
#pragma unroll
  for (int n = 0; n < kN; n += 2) {
    if (n >= n_used) break;
    uint32_t b[4];
    load_b2(b, x_s + 8 * n, ld, lane);
    mma(c[n], a, b[0], b[1]);
    mma(c[n + 1], a, b[2], b[3]);
  }
}

// c += P X with P the 16 x (8 kM) accumulator tile p rounded to bf16 (P or dS) and X its kM * 8
// rows at x_s (O += P V, dQ += dS K).
template <int kN, int kM>
__device__ __forceinline__ void mma_pb(float (&c)[kN][4], const float (&p)[kM][4], const bf16* x_s,
                                       int ld, int n_used, int lane) {
#pragma unroll
  for (int kk = 0; kk < kM / 2; kk++) {
    uint32_t a[4];
    acc_to_a(a, p, kk);
    mma_ab_step(c, a, x_s + 16 * kk * ld, ld, n_used, lane);
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

// Forward: 128 queries of head h per block, keys in tiles of 64, the longest rows' blocks first.
// Shared (bf16): q_s [kFwdRows][DQKp + kPad], k_s [2][kFwdKeys][DQKp + kPad],
// v_s [2][kFwdKeys][DVp + kPad]
template <int kDQK, int kDV>
__global__ void __launch_bounds__(32 * kFwdWarps)
    attention_forward_kernel(float* out, float* lse, const bf16* qb, const bf16* kb, const bf16* vb,
                             const int* seq_start, Shape s) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int kNV = kDV / 8;  // output n-tiles (8 dims each) at most
  const int ldk = s.DQKp + kPad, ldv = s.DVp + kPad, nv = s.DVp / 8;
  bf16* q_s = reinterpret_cast<bf16*>(smem);
  bf16* k_s = q_s + kFwdRows * ldk;
  bf16* v_s = k_s + 2 * kFwdKeys * ldk;
  const int h = blockIdx.x, hk = h / (s.NH / s.NKV);
  const int i0 = (gridDim.y - 1 - blockIdx.y) * kFwdRows, i_last = min(s.N, i0 + kFwdRows) - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const bf16* kh = kb + static_cast<long>(hk) * s.Npad * s.DQKp;
  const bf16* vh = vb + static_cast<long>(hk) * s.Npad * s.DVp;

  const int key_begin = seq_start[seq_of(seq_start, s.B, i0)];
  const int num_tiles = (i_last - key_begin) / kFwdKeys + 1;
  load_tile(q_s, qb + (static_cast<long>(h) * s.Npad + i0) * s.DQKp, kFwdRows, s.DQKp);
  load_tile(k_s, kh + static_cast<long>(key_begin) * s.DQKp, kFwdKeys, s.DQKp);
  load_tile(v_s, vh + static_cast<long>(key_begin) * s.DVp, kFwdKeys, s.DVp);
  cp_async_commit();

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
  // The warp's rows [w_first, w_last] see keys from w_s0 (the smallest row_s0) up to w_last; a
  // tile inside [w_s0_last, w_first] (w_s0_last the largest row_s0) needs no mask.
  const int w_first = i0 + 16 * warp, w_last = min(s.N - 1, w_first + 15);
  const int w_s0 = seq_begin(seq_start, s, w_first), w_s0_last = seq_begin(seq_start, s, w_last);
  const float sl2 = s.scale * kLog2e;

  for (int j = 0; j < num_tiles; j++) {
    const int t0 = key_begin + j * kFwdKeys;
    next_kv_tile<kFwdKeys>(k_s, v_s, kh, vh, j, num_tiles, t0 + kFwdKeys, s);
    __syncthreads();  // tile j (and q) landed for every thread
    const bf16* kt = k_s + j % 2 * kFwdKeys * ldk;
    const bf16* vt = v_s + j % 2 * kFwdKeys * ldv;
    if (w_first < s.N && t0 <= w_last && t0 + kFwdKeys > w_s0) {  // warp-uniform
      const bool masked = t0 + kFwdKeys - 1 > w_first || t0 < w_s0_last;
      // S = Q Kᵀ for the warp's 16 rows x 64 keys.
      float sc[kFwdKeys / 8][4];
      zero_acc(sc);
      mma_abt<kDQK>(sc, q_s + 16 * warp * ldk, kt, ldk, s.DQKp, lane);
      // Mask, scale to log2 units, online softmax. A row with no key yet keeps m = -inf; m_use = 0
      // then keeps exp2 away from -inf - -inf.
      float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int n = 0; n < kFwdKeys / 8; n++)
#pragma unroll
        for (int c = 0; c < 4; c++) {
          const int r = c / 2, key = t0 + acc_col(n, c, t);
          const bool valid = !masked || (key >= row_s0[r] && key <= row_i[r]);
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
      mma_pb(o, sc, vt, ldv, nv, lane);  // O += P V
    }
    __syncthreads();  // tile j is consumed before iteration j + 1 refills its buffer
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
// Shared (bf16): q_s [kBwdRows][DQKp + kPad], do_s [kBwdRows][DVp + kPad],
// k_s [2][kBwdTile][DQKp + kPad], v_s [2][kBwdTile][DVp + kPad]
template <int kDQK, int kDV>
__global__ void __launch_bounds__(32 * kBwdWarps)
    attention_dq_kernel(float* dq, const float* lse, const float* rowdot, const bf16* qb,
                        const bf16* kb, const bf16* vb, const bf16* dob, const int* seq_start,
                        Shape s) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int kNQK = kDQK / 8;
  const int ldk = s.DQKp + kPad, ldv = s.DVp + kPad, nqk = s.DQKp / 8;
  bf16* q_s = reinterpret_cast<bf16*>(smem);
  bf16* do_s = q_s + kBwdRows * ldk;
  bf16* k_s = do_s + kBwdRows * ldv;
  bf16* v_s = k_s + 2 * kBwdTile * ldk;
  const int h = blockIdx.x, hk = h / (s.NH / s.NKV);
  const int i0 = (gridDim.y - 1 - blockIdx.y) * kBwdRows, i_last = min(s.N, i0 + kBwdRows) - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const bf16* kh = kb + static_cast<long>(hk) * s.Npad * s.DQKp;
  const bf16* vh = vb + static_cast<long>(hk) * s.Npad * s.DVp;

  const int key_begin = seq_start[seq_of(seq_start, s.B, i0)];
  const int num_tiles = (i_last - key_begin) / kBwdTile + 1;
  load_tile(q_s, qb + (static_cast<long>(h) * s.Npad + i0) * s.DQKp, kBwdRows, s.DQKp);
  load_tile(do_s, dob + (static_cast<long>(h) * s.Npad + i0) * s.DVp, kBwdRows, s.DVp);
  load_tile(k_s, kh + static_cast<long>(key_begin) * s.DQKp, kBwdTile, s.DQKp);
  load_tile(v_s, vh + static_cast<long>(key_begin) * s.DVp, kBwdTile, s.DVp);
  cp_async_commit();

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
  const int w_s0 = seq_begin(seq_start, s, w_first), w_s0_last = seq_begin(seq_start, s, w_last);
  const float sl2 = s.scale * kLog2e;

  for (int j = 0; j < num_tiles; j++) {
    const int t0 = key_begin + j * kBwdTile;
    next_kv_tile<kBwdTile>(k_s, v_s, kh, vh, j, num_tiles, t0 + kBwdTile, s);
    __syncthreads();
    const bf16* kt = k_s + j % 2 * kBwdTile * ldk;
    const bf16* vt = v_s + j % 2 * kBwdTile * ldv;
    if (w_first < s.N && t0 <= w_last && t0 + kBwdTile > w_s0) {  // warp-uniform
      const bool masked = t0 + kBwdTile - 1 > w_first || t0 < w_s0_last;
      float sc[kBwdTile / 8][4], dp[kBwdTile / 8][4];
      zero_acc(sc);
      zero_acc(dp);
      mma_abt<kDQK>(sc, q_s + 16 * warp * ldk, kt, ldk, s.DQKp, lane);  // S = Q Kᵀ
      mma_abt<kDV>(dp, do_s + 16 * warp * ldv, vt, ldv, s.DVp, lane);   // dP = dO Vᵀ
      // dS (in sc), masked: 0 outside [row_s0, row_i].
#pragma unroll
      for (int n = 0; n < kBwdTile / 8; n++)
#pragma unroll
        for (int c = 0; c < 4; c++) {
          const int r = c / 2, key = t0 + acc_col(n, c, t);
          const bool valid = !masked || (key >= row_s0[r] && key <= row_i[r]);
          const float p = exp2f(sc[n][c] * sl2 - row_lse[r]);
          sc[n][c] = valid ? s.scale * p * (dp[n][c] - row_D[r]) : 0.0f;
        }
      mma_pb(acc, sc, kt, ldk, nqk, lane);  // dQ += dS K
    }
    __syncthreads();
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
// Shared: lse_s [2][kBwdTile], D_s [2][kBwdTile] (fp32); (bf16) k_s [kBwdRows][DQKp + kPad],
// v_s [kBwdRows][DVp + kPad], q_s [2][kBwdTile][DQKp + kPad], do_s [2][kBwdTile][DVp + kPad]
template <int kDQK, int kDV>
__global__ void __launch_bounds__(32 * kBwdWarps)
    attention_dkv_kernel(float* dk, float* dv, const float* lse, const float* rowdot,
                         const bf16* qb, const bf16* kb, const bf16* vb, const bf16* dob,
                         const int* seq_start, Shape s) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int kNQK = kDQK / 8, kNV = kDV / 8;
  const int ldk = s.DQKp + kPad, ldv = s.DVp + kPad, nqk = s.DQKp / 8, nv = s.DVp / 8;
  float* lse_s = reinterpret_cast<float*>(smem);  // log2 units
  float* D_s = lse_s + 2 * kBwdTile;
  bf16* k_s = reinterpret_cast<bf16*>(D_s + 2 * kBwdTile);
  bf16* v_s = k_s + kBwdRows * ldk;
  bf16* q_s = v_s + kBwdRows * ldv;
  bf16* do_s = q_s + 2 * kBwdTile * ldk;
  const int hk = blockIdx.x, group = s.NH / s.NKV;
  const int j0 = blockIdx.y * kBwdRows, j_last = min(s.N, j0 + kBwdRows) - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int query_end = seq_start[seq_of(seq_start, s.B, j_last) + 1];
  // Tile j: head hk * group + j / per_head, queries from j0 + (j % per_head) * kBwdTile.
  const int per_head = (query_end - j0 + kBwdTile - 1) / kBwdTile, num_tiles = group * per_head;

  // Stages tile j's q, dout (asynchronously) and lse, rowdot into buffer b.
  auto stage_tile = [&](int j, int b) {
    const int h = hk * group + j / per_head, t0 = j0 + j % per_head * kBwdTile;
    const long row = static_cast<long>(h) * s.Npad + t0;
    load_tile(q_s + b * kBwdTile * ldk, qb + row * s.DQKp, kBwdTile, s.DQKp);
    load_tile(do_s + b * kBwdTile * ldv, dob + row * s.DVp, kBwdTile, s.DVp);
    const int nq = min(kBwdTile, query_end - t0);
    for (int i = threadIdx.x; i < kBwdTile; i += blockDim.x) {
      lse_s[b * kBwdTile + i] = i < nq ? lse[static_cast<long>(t0 + i) * s.NH + h] * kLog2e : 0.0f;
      D_s[b * kBwdTile + i] = i < nq ? rowdot[static_cast<long>(t0 + i) * s.NH + h] : 0.0f;
    }
  };
  load_tile(k_s, kb + (static_cast<long>(hk) * s.Npad + j0) * s.DQKp, kBwdRows, s.DQKp);
  load_tile(v_s, vb + (static_cast<long>(hk) * s.Npad + j0) * s.DVp, kBwdRows, s.DVp);
  stage_tile(0, 0);
  cp_async_commit();

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
  // The warp's keys [w_first, w_last] are seen by queries [w_first, w_end); a tile inside
  // [w_last, w_end_first) (w_end_first the end of w_first's sequence) needs no mask.
  const int w_first = j0 + 16 * warp, w_last = min(s.N - 1, w_first + 15);
  const int w_end = w_first < s.N ? seq_start[seq_of(seq_start, s.B, w_last) + 1] : 0;
  const int w_end_first = w_first < s.N ? seq_start[seq_of(seq_start, s.B, w_first) + 1] : 0;
  const float sl2 = s.scale * kLog2e;

  for (int j = 0; j < num_tiles; j++) {
    const int t0 = j0 + j % per_head * kBwdTile, b = j % 2;
    if (j + 1 < num_tiles) {
      stage_tile(j + 1, (j + 1) % 2);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const bf16* qt = q_s + b * kBwdTile * ldk;
    const bf16* dot = do_s + b * kBwdTile * ldv;
    const float* lse_t = lse_s + b * kBwdTile;
    const float* D_t = D_s + b * kBwdTile;
    if (w_first < s.N && t0 + kBwdTile > w_first && t0 < w_end) {  // warp-uniform
      const bool masked = t0 < w_last || t0 + kBwdTile > w_end_first;
      float sc[kBwdTile / 8][4], dp[kBwdTile / 8][4];
      zero_acc(sc);
      zero_acc(dp);
      mma_abt<kDQK>(sc, k_s + 16 * warp * ldk, qt, ldk, s.DQKp, lane);  // Sᵀ = K Qᵀ
      mma_abt<kDV>(dp, v_s + 16 * warp * ldv, dot, ldv, s.DVp, lane);   // dPᵀ = V dOᵀ
      // Pᵀ (in sc) and dSᵀ (in dp), masked: query in [key_j, key_end).
#pragma unroll
      for (int n = 0; n < kBwdTile / 8; n++)
#pragma unroll
        for (int c = 0; c < 4; c++) {
          const int r = c / 2, qi = acc_col(n, c, t), query = t0 + qi;
          const bool valid = !masked || (query >= key_j[r] && query < key_end[r]);
          const float p = valid ? exp2f(sc[n][c] * sl2 - lse_t[qi]) : 0.0f;
          sc[n][c] = p;
          dp[n][c] = valid ? s.scale * p * (dp[n][c] - D_t[qi]) : 0.0f;
        }
        // dV += Pᵀ dO, dK += dSᵀ Q, interleaved per k-step.
#pragma unroll
      for (int kk = 0; kk < kBwdTile / 16; kk++) {
        uint32_t a[4];
        acc_to_a(a, sc, kk);
        mma_ab_step(dv_acc, a, dot + 16 * kk * ldv, ldv, nv, lane);
        acc_to_a(a, dp, kk);
        mma_ab_step(dk_acc, a, qt + 16 * kk * ldk, ldk, nqk, lane);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    const int j = key_j[r];
    if (j >= s.N) continue;
    add_acc_row(dk + (static_cast<long>(j) * s.NKV + hk) * s.DQK, dk_acc, r, s.DQK, t);
    add_acc_row(dv + (static_cast<long>(j) * s.NKV + hk) * s.DV, dv_acc, r, s.DV, t);
  }
}

Shape make_shape(int B, int N, int NH, int NKV, int DQK, int DV, float scale) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "attention_cuda: NH must be a multiple of NKV");
  AHA_CHECK(DQK > 0 && DQK <= kMaxDim && DV > 0 && DV <= kMaxDim,
            "attention_cuda: head dims must be in [1, 256]");
  AHA_CHECK(B >= 1, "attention_cuda: need at least one sequence");
  AHA_CHECK(N >= 0, "attention_cuda: negative token count");
  return Shape{B, N, NH, NKV, DQK, DV, pad16(N) + kRowPad, pad16(DQK), pad16(DV), scale};
}

// The workspace: the bf16 copies q [NH][Npad][DQKp], k [NKV][Npad][DQKp], v [NKV][Npad][DVp] and,
// backward, dout [NH][Npad][DVp] and rowdot [N][NH] fp32, each 256-byte aligned. With base null
// only the size is computed.
struct Copies {
  bf16 *q = nullptr, *k = nullptr, *v = nullptr, *dout = nullptr;
  float* rowdot = nullptr;
  size_t bytes = 0;
};
Copies carve(void* base, const Shape& s, bool backward) {
  Copies c;
  auto take = [&](size_t n) {
    void* p = base ? static_cast<char*>(base) + c.bytes : nullptr;
    c.bytes += (n + 255) / 256 * 256;
    return p;
  };
  const size_t rows = s.Npad;
  c.q = static_cast<bf16*>(take(sizeof(bf16) * s.NH * rows * s.DQKp));
  c.k = static_cast<bf16*>(take(sizeof(bf16) * s.NKV * rows * s.DQKp));
  c.v = static_cast<bf16*>(take(sizeof(bf16) * s.NKV * rows * s.DVp));
  if (backward) {
    c.dout = static_cast<bf16*>(take(sizeof(bf16) * s.NH * rows * s.DVp));
    c.rowdot = static_cast<float*>(take(sizeof(float) * static_cast<size_t>(s.N) * s.NH));
  }
  return c;
}

void to_heads_bf16(bf16* dst, const float* src, const Shape& s, int H, int D, int Dp,
                   cudaStream_t stream) {
  const long n = static_cast<long>(H) * s.Npad * (Dp / 8);
  to_heads_bf16_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(dst, src, s.N, s.Npad, H, D, Dp);
  AHA_CUDA_CHECK(cudaGetLastError());
}

// The copies of q, k, v (and dout) for the kernels.
Copies make_copies(void* workspace, size_t workspace_bytes, const Shape& s, const float* q,
                   const float* k, const float* v, const float* dout, cudaStream_t stream) {
  const Copies c = carve(workspace, s, dout != nullptr);
  AHA_CHECK(workspace && workspace_bytes >= c.bytes, "attention_cuda: workspace too small");
  to_heads_bf16(c.q, q, s, s.NH, s.DQK, s.DQKp, stream);
  to_heads_bf16(c.k, k, s, s.NKV, s.DQK, s.DQKp, stream);
  to_heads_bf16(c.v, v, s, s.NKV, s.DV, s.DVp, stream);
  if (dout) to_heads_bf16(c.dout, dout, s, s.NH, s.DV, s.DVp, stream);
  return c;
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

size_t attention_forward_workspace_size(int N, int NH, int NKV, int DQK, int DV) {
  return carve(nullptr, make_shape(1, N, NH, NKV, DQK, DV, 1.0f), false).bytes;
}

void attention_forward_cuda(float* out, float* lse, const float* q, const float* k, const float* v,
                            const int* seq_start, int B, int N, int NH, int NKV, int DQK, int DV,
                            float scale, void* workspace, size_t workspace_bytes,
                            cudaStream_t stream) {
  const Shape s = make_shape(B, N, NH, NKV, DQK, DV, scale);
  if (N == 0) return;
  const Copies c = make_copies(workspace, workspace_bytes, s, q, k, v, nullptr, stream);
  const size_t ldk = s.DQKp + kPad, ldv = s.DVp + kPad;
  const size_t bytes = sizeof(bf16) * ((kFwdRows + 2 * kFwdKeys) * ldk + 2 * kFwdKeys * ldv);
  dispatch_dims(DQK, DV, [&](auto qk, auto dv) {
    auto kernel = attention_forward_kernel<decltype(qk)::value, decltype(dv)::value>;
    allow_smem(kernel, bytes);
    kernel<<<dim3(NH, num_blocks(N, kFwdRows)), 32 * kFwdWarps, bytes, stream>>>(out, lse, c.q, c.k,
                                                                                 c.v, seq_start, s);
    AHA_CUDA_CHECK(cudaGetLastError());
  });
}

size_t attention_backward_workspace_size(int N, int NH, int NKV, int DQK, int DV) {
  return carve(nullptr, make_shape(1, N, NH, NKV, DQK, DV, 1.0f), true).bytes;
}

void attention_backward_cuda(float* dq, float* dk, float* dv, const float* dout, const float* out,
                             const float* lse, const float* q, const float* k, const float* v,
                             const int* seq_start, int B, int N, int NH, int NKV, int DQK, int DV,
                             float scale, void* workspace, size_t workspace_bytes,
                             cudaStream_t stream) {
  const Shape s = make_shape(B, N, NH, NKV, DQK, DV, scale);
  if (N == 0) return;
  const Copies c = make_copies(workspace, workspace_bytes, s, q, k, v, dout, stream);
  const long NNH = static_cast<long>(N) * NH;
  rowdot_kernel<<<num_blocks(NNH, 4), 128, 0, stream>>>(c.rowdot, dout, out, NNH, DV);
  AHA_CUDA_CHECK(cudaGetLastError());

  const size_t ldk = s.DQKp + kPad, ldv = s.DVp + kPad;
  // dq and dk/dv stage the same rows: kBwdRows of one operand pair, two tiles of the other.
  const size_t bytes =
      sizeof(bf16) * ((kBwdRows + 2 * kBwdTile) * (ldk + ldv)) + sizeof(float) * 4 * kBwdTile;
  dispatch_dims(DQK, DV, [&](auto qk, auto dvd) {
    constexpr int kQK = decltype(qk)::value, kV = decltype(dvd)::value;
    auto dq_kernel = attention_dq_kernel<kQK, kV>;
    allow_smem(dq_kernel, bytes);
    dq_kernel<<<dim3(NH, num_blocks(N, kBwdRows)), 32 * kBwdWarps, bytes, stream>>>(
        dq, lse, c.rowdot, c.q, c.k, c.v, c.dout, seq_start, s);
    AHA_CUDA_CHECK(cudaGetLastError());
    auto dkv_kernel = attention_dkv_kernel<kQK, kV>;
    allow_smem(dkv_kernel, bytes);
    dkv_kernel<<<dim3(NKV, num_blocks(N, kBwdRows)), 32 * kBwdWarps, bytes, stream>>>(
        dk, dv, lse, c.rowdot, c.q, c.k, c.v, c.dout, seq_start, s);
    AHA_CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace aha
