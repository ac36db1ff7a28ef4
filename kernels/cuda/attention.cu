// CUDA packed causal attention (kernels/attention.h), flash-style on CUDA cores in fp32: a block
// takes 16 queries of one head (4 warps x 4 rows), walks the keys in tiles of 32 staged in shared
// memory and keeps an online softmax per row; no N x N score matrix exists. In a key tile, lane j
// scores key j (padded rows: no bank conflicts) and each lane accumulates its 1/32 of the head
// dims. The backward recomputes probabilities from lse: one kernel gives dq per query, another
// gives dk and dv per key, summing the heads of its kv group in order, so nothing is atomic.
#include <climits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

namespace {

constexpr int kWarps = 4;
constexpr int kRows = 4;                   // rows (queries or keys) per warp
constexpr int kTileRows = kWarps * kRows;  // rows per block
constexpr int kTile = 32;                  // keys (forward, dq) or queries (dk/dv) per tile
constexpr int kMaxPerLane = 8;             // head dims per lane: D <= 256
constexpr unsigned kFull = 0xffffffffu;

struct Shape {
  int B, N, NH, NKV, DQK, DV;
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

__global__ void attention_forward_kernel(float* out, float* lse, const float* q, const float* k,
                                         const float* v, const int* seq_start, Shape s) {
  extern __shared__ float smem[];
  const int DQK = s.DQK, DV = s.DV, KP = DQK + 1;
  float* q_s = smem;                   // [kTileRows][DQK]
  float* k_s = q_s + kTileRows * DQK;  // [kTile][DQK + 1]
  float* v_s = k_s + kTile * KP;       // [kTile][DV]
  const int h = blockIdx.y, hk = h / (s.NH / s.NKV);
  const int i0 = blockIdx.x * kTileRows;
  const int i_last = min(s.N, i0 + kTileRows) - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  for (int x = threadIdx.x; x < kTileRows * DQK; x += blockDim.x) {
    const int r = x / DQK, d = x % DQK, i = i0 + r;
    q_s[x] = i < s.N ? q[(static_cast<long>(i) * s.NH + h) * DQK + d] : 0.0f;
  }
  int row_i[kRows], row_s0[kRows];
  float m[kRows], l[kRows], acc[kRows][kMaxPerLane];
#pragma unroll
  for (int r = 0; r < kRows; r++) {
    row_i[r] = i0 + warp * kRows + r;
    row_s0[r] = row_i[r] < s.N ? seq_start[seq_of(seq_start, s.B, row_i[r])] : INT_MAX;
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxPerLane; j++) acc[r][j] = 0.0f;
  }
  const int key_begin = seq_start[seq_of(seq_start, s.B, i0)];
  for (int t0 = key_begin; t0 <= i_last; t0 += kTile) {
    __syncthreads();  // the previous tile is consumed (and q_s written, the first time)
    const int nk = min(kTile, i_last + 1 - t0);
    for (int x = threadIdx.x; x < kTile * DQK; x += blockDim.x) {
      const int j = x / DQK, d = x % DQK;
      k_s[j * KP + d] = j < nk ? k[(static_cast<long>(t0 + j) * s.NKV + hk) * DQK + d] : 0.0f;
    }
    for (int x = threadIdx.x; x < kTile * DV; x += blockDim.x) {
      const int j = x / DV, d = x % DV;
      v_s[x] = j < nk ? v[(static_cast<long>(t0 + j) * s.NKV + hk) * DV + d] : 0.0f;
    }
    __syncthreads();
#pragma unroll
#pragma unroll
    for (int r = 0; r < kRows; r++) {
      const int i = row_i[r], key = t0 + lane;
      const bool valid = i < s.N && key >= row_s0[r] && key <= i;
      if (!__any_sync(kFull, valid)) continue;
      float sc = -INFINITY;
      if (valid) {
        const float* qr = q_s + (warp * kRows + r) * DQK;
        const float* kr = k_s + lane * KP;
        float dot = 0.0f;
        for (int d = 0; d < DQK; d++) dot += qr[d] * kr[d];
        sc = dot * s.scale;
      }
      const float m_new = fmaxf(m[r], warp_max(sc));
      const float p = valid ? expf(sc - m_new) : 0.0f;
      const float corr = expf(m[r] - m_new);
      l[r] = l[r] * corr + warp_sum(p);
      m[r] = m_new;
#pragma unroll
      for (int j = 0; j < kMaxPerLane; j++) acc[r][j] *= corr;
      for (int kk = 0; kk < nk; kk++) {
        const float pk = __shfl_sync(kFull, p, kk);
        if (pk == 0.0f) continue;  // the same on every lane: no divergence
        const float* vr = v_s + kk * DV;
#pragma unroll
        for (int j = 0; j < kMaxPerLane; j++) {
          const int d = lane + 32 * j;
          if (d < DV) acc[r][j] += pk * vr[d];
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; r++) {
    const int i = row_i[r];
    if (i >= s.N) continue;
    const float inv = 1.0f / l[r];
    float* o = out + (static_cast<long>(i) * s.NH + h) * DV;
#pragma unroll
    for (int j = 0; j < kMaxPerLane; j++) {
      const int d = lane + 32 * j;
      if (d < DV) o[d] = acc[r][j] * inv;
    }
    if (lane == 0) lse[static_cast<long>(i) * s.NH + h] = m[r] + logf(l[r]);
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

// dq for 16 queries of head h: walks their keys like the forward.
__global__ void attention_dq_kernel(float* dq, const float* dout, const float* lse,
                                    const float* rowdot, const float* q, const float* k,
                                    const float* v, const int* seq_start, Shape s) {
  extern __shared__ float smem[];
  const int DQK = s.DQK, DV = s.DV, KP = DQK + 1, VP = DV + 1;
  float* q_s = smem;                    // [kTileRows][DQK]
  float* do_s = q_s + kTileRows * DQK;  // [kTileRows][DV]
  float* k_s = do_s + kTileRows * DV;   // [kTile][DQK + 1]
  float* v_s = k_s + kTile * KP;        // [kTile][DV + 1]
  const int h = blockIdx.y, hk = h / (s.NH / s.NKV);
  const int i0 = blockIdx.x * kTileRows;
  const int i_last = min(s.N, i0 + kTileRows) - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  for (int x = threadIdx.x; x < kTileRows * DQK; x += blockDim.x) {
    const int r = x / DQK, d = x % DQK, i = i0 + r;
    q_s[x] = i < s.N ? q[(static_cast<long>(i) * s.NH + h) * DQK + d] : 0.0f;
  }
  for (int x = threadIdx.x; x < kTileRows * DV; x += blockDim.x) {
    const int r = x / DV, d = x % DV, i = i0 + r;
    do_s[x] = i < s.N ? dout[(static_cast<long>(i) * s.NH + h) * DV + d] : 0.0f;
  }
  int row_i[kRows], row_s0[kRows];
  float row_lse[kRows], row_D[kRows], acc[kRows][kMaxPerLane];
#pragma unroll
  for (int r = 0; r < kRows; r++) {
    const int i = i0 + warp * kRows + r;
    row_i[r] = i;
    row_s0[r] = i < s.N ? seq_start[seq_of(seq_start, s.B, i)] : INT_MAX;
    row_lse[r] = i < s.N ? lse[static_cast<long>(i) * s.NH + h] : 0.0f;
    row_D[r] = i < s.N ? rowdot[static_cast<long>(i) * s.NH + h] : 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxPerLane; j++) acc[r][j] = 0.0f;
  }
  const int key_begin = seq_start[seq_of(seq_start, s.B, i0)];
  for (int t0 = key_begin; t0 <= i_last; t0 += kTile) {
    __syncthreads();
    const int nk = min(kTile, i_last + 1 - t0);
    for (int x = threadIdx.x; x < kTile * DQK; x += blockDim.x) {
      const int j = x / DQK, d = x % DQK;
      k_s[j * KP + d] = j < nk ? k[(static_cast<long>(t0 + j) * s.NKV + hk) * DQK + d] : 0.0f;
    }
    for (int x = threadIdx.x; x < kTile * DV; x += blockDim.x) {
      const int j = x / DV, d = x % DV;
      v_s[j * VP + d] = j < nk ? v[(static_cast<long>(t0 + j) * s.NKV + hk) * DV + d] : 0.0f;
    }
    __syncthreads();
#pragma unroll
#pragma unroll
    for (int r = 0; r < kRows; r++) {
      const int i = row_i[r], key = t0 + lane;
      const bool valid = i < s.N && key >= row_s0[r] && key <= i;
      if (!__any_sync(kFull, valid)) continue;
      float ds = 0.0f;
      if (valid) {
        const float* qr = q_s + (warp * kRows + r) * DQK;
        const float* kr = k_s + lane * KP;
        float dot = 0.0f;
        for (int d = 0; d < DQK; d++) dot += qr[d] * kr[d];
        const float p = expf(dot * s.scale - row_lse[r]);
        const float* dor = do_s + (warp * kRows + r) * DV;
        const float* vr = v_s + lane * VP;
        float dp = 0.0f;
        for (int d = 0; d < DV; d++) dp += dor[d] * vr[d];
        ds = s.scale * p * (dp - row_D[r]);
      }
      for (int kk = 0; kk < nk; kk++) {
        const float dk = __shfl_sync(kFull, ds, kk);
        if (dk == 0.0f) continue;
        const float* kr = k_s + kk * KP;
#pragma unroll
        for (int j = 0; j < kMaxPerLane; j++) {
          const int d = lane + 32 * j;
          if (d < DQK) acc[r][j] += dk * kr[d];
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; r++) {
    const int i = row_i[r];
    if (i >= s.N) continue;
    float* o = dq + (static_cast<long>(i) * s.NH + h) * DQK;
#pragma unroll
    for (int j = 0; j < kMaxPerLane; j++) {
      const int d = lane + 32 * j;
      if (d < DQK) o[d] += acc[r][j];
    }
  }
}

// dk, dv for 16 keys of kv head hk: for each head of the group in order, walks the queries that
// see these keys (from the first key to the end of the last key's sequence) in tiles of 32.
__global__ void attention_dkv_kernel(float* dk, float* dv, const float* dout, const float* lse,
                                     const float* rowdot, const float* q, const float* k,
                                     const float* v, const int* seq_start, Shape s) {
  extern __shared__ float smem[];
  const int DQK = s.DQK, DV = s.DV, QP = DQK + 1, OP = DV + 1;
  float* k_s = smem;                   // [kTileRows][DQK]
  float* v_s = k_s + kTileRows * DQK;  // [kTileRows][DV]
  float* q_s = v_s + kTileRows * DV;   // [kTile][DQK + 1]
  float* do_s = q_s + kTile * QP;      // [kTile][DV + 1]
  float* lse_s = do_s + kTile * OP;    // [kTile]
  float* D_s = lse_s + kTile;          // [kTile]
  const int hk = blockIdx.y, group = s.NH / s.NKV;
  const int j0 = blockIdx.x * kTileRows;
  const int j_last = min(s.N, j0 + kTileRows) - 1;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  for (int x = threadIdx.x; x < kTileRows * DQK; x += blockDim.x) {
    const int r = x / DQK, d = x % DQK, j = j0 + r;
    k_s[x] = j < s.N ? k[(static_cast<long>(j) * s.NKV + hk) * DQK + d] : 0.0f;
  }
  for (int x = threadIdx.x; x < kTileRows * DV; x += blockDim.x) {
    const int r = x / DV, d = x % DV, j = j0 + r;
    v_s[x] = j < s.N ? v[(static_cast<long>(j) * s.NKV + hk) * DV + d] : 0.0f;
  }
  int key_j[kRows], key_end[kRows];
  float dk_acc[kRows][kMaxPerLane], dv_acc[kRows][kMaxPerLane];
#pragma unroll
  for (int r = 0; r < kRows; r++) {
    const int j = j0 + warp * kRows + r;
    key_j[r] = j;
    key_end[r] = j < s.N ? seq_start[seq_of(seq_start, s.B, j) + 1] : 0;  // queries [j, end)
#pragma unroll
    for (int x = 0; x < kMaxPerLane; x++) dk_acc[r][x] = dv_acc[r][x] = 0.0f;
  }
  const int query_end = seq_start[seq_of(seq_start, s.B, j_last) + 1];
  for (int g = 0; g < group; g++) {
    const int h = hk * group + g;
    for (int t0 = j0; t0 < query_end; t0 += kTile) {
      __syncthreads();
      const int nq = min(kTile, query_end - t0);
      for (int x = threadIdx.x; x < kTile * DQK; x += blockDim.x) {
        const int i = x / DQK, d = x % DQK;
        q_s[i * QP + d] = i < nq ? q[(static_cast<long>(t0 + i) * s.NH + h) * DQK + d] : 0.0f;
      }
      for (int x = threadIdx.x; x < kTile * DV; x += blockDim.x) {
        const int i = x / DV, d = x % DV;
        do_s[i * OP + d] = i < nq ? dout[(static_cast<long>(t0 + i) * s.NH + h) * DV + d] : 0.0f;
      }
      for (int i = threadIdx.x; i < kTile; i += blockDim.x) {
        lse_s[i] = i < nq ? lse[static_cast<long>(t0 + i) * s.NH + h] : 0.0f;
        D_s[i] = i < nq ? rowdot[static_cast<long>(t0 + i) * s.NH + h] : 0.0f;
      }
      __syncthreads();
#pragma unroll
#pragma unroll
      for (int r = 0; r < kRows; r++) {
        const int j = key_j[r], qi = t0 + lane;
        const bool valid = j < s.N && qi >= j && qi < key_end[r] && lane < nq;
        if (!__any_sync(kFull, valid)) continue;
        float p = 0.0f, ds = 0.0f;
        if (valid) {
          const float* kr = k_s + (warp * kRows + r) * DQK;
          const float* qr = q_s + lane * QP;
          float dot = 0.0f;
          for (int d = 0; d < DQK; d++) dot += qr[d] * kr[d];
          p = expf(dot * s.scale - lse_s[lane]);
          const float* vr = v_s + (warp * kRows + r) * DV;
          const float* dor = do_s + lane * OP;
          float dp = 0.0f;
          for (int d = 0; d < DV; d++) dp += dor[d] * vr[d];
          ds = s.scale * p * (dp - D_s[lane]);
        }
        for (int qq = 0; qq < nq; qq++) {
          const float pq = __shfl_sync(kFull, p, qq);
          const float dsq = __shfl_sync(kFull, ds, qq);
          if (pq == 0.0f && dsq == 0.0f) continue;
          const float* qr = q_s + qq * QP;
          const float* dor = do_s + qq * OP;
#pragma unroll
          for (int x = 0; x < kMaxPerLane; x++) {
            const int d = lane + 32 * x;
            if (d < DQK) dk_acc[r][x] += dsq * qr[d];
            if (d < DV) dv_acc[r][x] += pq * dor[d];
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; r++) {
    const int j = key_j[r];
    if (j >= s.N) continue;
    float* dkr = dk + (static_cast<long>(j) * s.NKV + hk) * DQK;
    float* dvr = dv + (static_cast<long>(j) * s.NKV + hk) * DV;
#pragma unroll
    for (int x = 0; x < kMaxPerLane; x++) {
      const int d = lane + 32 * x;
      if (d < DQK) dkr[d] += dk_acc[r][x];
      if (d < DV) dvr[d] += dv_acc[r][x];
    }
  }
}

void check_shape(const Shape& s) {
  AHA_CHECK(s.NKV > 0 && s.NH % s.NKV == 0, "attention_cuda: NH must be a multiple of NKV");
  AHA_CHECK(s.DQK > 0 && s.DQK <= 32 * kMaxPerLane && s.DV > 0 && s.DV <= 32 * kMaxPerLane,
            "attention_cuda: head dims must be in [1, 256]");
  AHA_CHECK(s.B >= 1, "attention_cuda: need at least one sequence");
}

// Dynamic shared memory above 48 KiB must be allowed per kernel, once.
template <typename Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  AHA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(bytes)));
}

}  // namespace

void attention_forward_cuda(float* out, float* lse, const float* q, const float* k, const float* v,
                            const int* seq_start, int B, int N, int NH, int NKV, int DQK, int DV,
                            float scale, cudaStream_t stream) {
  Shape s{B, N, NH, NKV, DQK, DV, scale};
  check_shape(s);
  if (N == 0) return;
  const size_t bytes =
      sizeof(float) * (kTileRows * DQK + kTile * (DQK + 1) + static_cast<size_t>(kTile) * DV);
  allow_smem(attention_forward_kernel, bytes);
  dim3 grid(num_blocks(N, kTileRows), NH);
  attention_forward_kernel<<<grid, 32 * kWarps, bytes, stream>>>(out, lse, q, k, v, seq_start, s);
  AHA_CUDA_CHECK(cudaGetLastError());
}

size_t attention_backward_workspace_size(int N, int NH) {
  return sizeof(float) * static_cast<size_t>(N) * NH;
}

void attention_backward_cuda(float* dq, float* dk, float* dv, const float* dout, const float* out,
                             const float* lse, const float* q, const float* k, const float* v,
                             const int* seq_start, int B, int N, int NH, int NKV, int DQK, int DV,
                             float scale, void* workspace, size_t workspace_bytes,
                             cudaStream_t stream) {
  Shape s{B, N, NH, NKV, DQK, DV, scale};
  check_shape(s);
  if (N == 0) return;
  AHA_CHECK(workspace_bytes >= attention_backward_workspace_size(N, NH),
            "attention_backward_cuda: workspace too small");
  float* rowdot = static_cast<float*>(workspace);
  const long NNH = static_cast<long>(N) * NH;
  rowdot_kernel<<<num_blocks(NNH, 4), 128, 0, stream>>>(rowdot, dout, out, NNH, DV);
  AHA_CUDA_CHECK(cudaGetLastError());

  const size_t dq_bytes = sizeof(float) * (kTileRows * (DQK + DV) + kTile * (DQK + 1) +
                                           static_cast<size_t>(kTile) * (DV + 1));
  allow_smem(attention_dq_kernel, dq_bytes);
  attention_dq_kernel<<<dim3(num_blocks(N, kTileRows), NH), 32 * kWarps, dq_bytes, stream>>>(
      dq, dout, lse, rowdot, q, k, v, seq_start, s);
  AHA_CUDA_CHECK(cudaGetLastError());

  const size_t dkv_bytes = sizeof(float) * (kTileRows * (DQK + DV) + kTile * (DQK + 1) +
                                            static_cast<size_t>(kTile) * (DV + 1) + 2 * kTile);
  allow_smem(attention_dkv_kernel, dkv_bytes);
  attention_dkv_kernel<<<dim3(num_blocks(N, kTileRows), NKV), 32 * kWarps, dkv_bytes, stream>>>(
      dk, dv, dout, lse, rowdot, q, k, v, seq_start, s);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
