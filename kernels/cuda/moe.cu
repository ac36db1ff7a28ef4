// CUDA MoE routing, dispatch and combine (kernels/moe.h). The router runs one warp per token with
// its scores in shared memory; selection is a warp arg-max with ties to the lowest index, so it
// picks what the CPU's scan picks. Dispatch is CUB's stable radix sort of the N*K slots by expert;
// combine and gather-backward sum each token's K rows through slot_row, in slot order.
#include <climits>
#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"

namespace aha {

namespace {

constexpr int kWarps = 4;       // tokens per router block
constexpr int kMaxE = 1024;     // experts a router block keeps in shared memory
constexpr int kMaxK = 32;       // one lane per selected expert
constexpr int kMaxGroups = 32;  // one lane per group

struct ArgMax {
  float v;
  int i;  // INT_MAX: nothing allowed
};

// Larger value wins, ties to the lower index; an entry with nothing allowed always loses.
__device__ inline ArgMax better(ArgMax a, ArgMax b) {
  if (a.i == INT_MAX) return b;
  if (b.i == INT_MAX) return a;
  return (b.v > a.v || (b.v == a.v && b.i < a.i)) ? b : a;
}

__device__ inline ArgMax warp_argmax(ArgMax a) {
  for (int o = 16; o > 0; o >>= 1) {
    ArgMax b{__shfl_xor_sync(0xffffffffu, a.v, o), __shfl_xor_sync(0xffffffffu, a.i, o)};
    a = better(a, b);
  }
  return a;
}

struct RouterArgs {
  int E, K, G, TG;
  bool sigmoid, norm, group_max;
  float scaling;
};

__global__ void router_forward_kernel(float* scores, int* topk_idx, float* topk_weights,
                                      const float* logits, const float* bias, int N, RouterArgs a,
                                      bool select) {
  __shared__ float s_sh[kWarps][kMaxE];
  __shared__ float c_sh[kWarps][kMaxE];
  __shared__ unsigned char allowed_sh[kWarps][kMaxE];
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int n = blockIdx.x * kWarps + w;
  if (n >= N) return;  // whole warps exit together: no block-wide barrier below
  const int E = a.E, K = a.K;
  float* s = s_sh[w];
  float* c = c_sh[w];
  unsigned char* allowed = allowed_sh[w];
  const float* l = logits + static_cast<long>(n) * E;
  if (a.sigmoid) {
    for (int e = lane; e < E; e += 32) s[e] = 1.0f / (1.0f + expf(-l[e]));
  } else {
    float mx = -INFINITY;
    for (int e = lane; e < E; e += 32) mx = fmaxf(mx, l[e]);
    mx = warp_max(mx);
    double sum = 0.0;
    for (int e = lane; e < E; e += 32) sum += exp(static_cast<double>(l[e]) - mx);
    sum = warp_sum(sum);
    for (int e = lane; e < E; e += 32)
      s[e] = static_cast<float>(exp(static_cast<double>(l[e]) - mx) / sum);
  }
  __syncwarp();
  for (int e = lane; e < E; e += 32) scores[static_cast<long>(n) * E + e] = s[e];
  int* idx = topk_idx + static_cast<long>(n) * K;
  if (select) {
    for (int e = lane; e < E; e += 32) {
      c[e] = bias ? s[e] + bias[e] : s[e];
      allowed[e] = 1;
    }
    __syncwarp();
    if (a.G > 1) {
      const int GS = E / a.G;
      // Lane g scores group g: its top-2 sum (top-1 for one-expert groups or group_max).
      ArgMax gs{0.0f, INT_MAX};
      if (lane < a.G) {
        const float* cg = c + lane * GS;
        int x = 0;
        for (int i = 1; i < GS; i++)
          if (cg[i] > cg[x]) x = i;
        int y = -1;
        for (int i = 0; i < GS; i++)
          if (i != x && (y < 0 || cg[i] > cg[y])) y = i;
        gs = {y >= 0 && !a.group_max ? cg[x] + cg[y] : cg[x], lane};
      }
      bool keep = false;
      for (int j = 0; j < a.TG; j++) {
        ArgMax best = warp_argmax(gs);
        if (lane == best.i) {
          keep = true;
          gs.i = INT_MAX;
        }
      }
      const unsigned keep_mask = __ballot_sync(0xffffffffu, keep);
      for (int e = lane; e < E; e += 32) allowed[e] = (keep_mask >> (e / GS)) & 1u;
      __syncwarp();
    }
    for (int k = 0; k < K; k++) {
      ArgMax mine{0.0f, INT_MAX};
      for (int e = lane; e < E; e += 32)
        if (allowed[e]) mine = better(mine, ArgMax{c[e], e});
      ArgMax best = warp_argmax(mine);
      if (lane == 0) idx[k] = best.i;
      if (best.i != INT_MAX && lane == best.i % 32) allowed[best.i] = 0;
      __syncwarp();
    }
  }
  __syncwarp();
  if (lane == 0) {
    double sum = 0.0;
    for (int k = 0; k < K; k++) sum += s[idx[k]];
    const double f = a.norm ? a.scaling / (sum + 1e-20) : a.scaling;
    float* wk = topk_weights + static_cast<long>(n) * K;
    for (int k = 0; k < K; k++) wk[k] = static_cast<float>(s[idx[k]] * f);
  }
}

__global__ void router_backward_kernel(float* dlogits, const float* dtopk_weights,
                                       const float* scores, const int* topk_idx, int N,
                                       RouterArgs a) {
  __shared__ double du_sh[kWarps][kMaxK];
  __shared__ double dot_sh[kWarps];
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int n = blockIdx.x * kWarps + w;
  if (n >= N) return;
  const int E = a.E, K = a.K;
  const float* s = scores + static_cast<long>(n) * E;
  const int* idx = topk_idx + static_cast<long>(n) * K;
  const float* g = dtopk_weights + static_cast<long>(n) * K;
  float* dl = dlogits + static_cast<long>(n) * E;
  double* du = du_sh[w];
  if (lane == 0) {
    // du_k = d loss / d s[idx_k] through w_k = scaling * s_k / (Σ s + 1e-20).
    if (a.norm) {
      double sum = 0.0, gu = 0.0;
      for (int k = 0; k < K; k++) {
        sum += s[idx[k]];
        gu += static_cast<double>(g[k]) * s[idx[k]];
      }
      const double den = sum + 1e-20;
      for (int k = 0; k < K; k++) du[k] = a.scaling * (g[k] / den - gu / (den * den));
    } else {
      for (int k = 0; k < K; k++) du[k] = static_cast<double>(a.scaling) * g[k];
    }
    double dot = 0.0;
    for (int k = 0; k < K; k++) dot += du[k] * s[idx[k]];
    dot_sh[w] = dot;
  }
  __syncwarp();
  for (int e = lane; e < E; e += 32) {
    const double se = s[e];
    double acc = a.sigmoid ? 0.0 : -dot_sh[w] * se;
    for (int k = 0; k < K; k++)
      if (idx[k] == e) acc += a.sigmoid ? du[k] * se * (1.0 - se) : du[k] * se;
    if (acc != 0.0 || !a.sigmoid) dl[e] += static_cast<float>(acc);
  }
}

__global__ void iota_kernel(int* v, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) v[i] = i;
}

// expert_offsets[e] = first sorted slot with expert >= e.
__global__ void offsets_kernel(int* expert_offsets, long* expert_load, const int* sorted_e, int M,
                               int E) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e > E) return;
  int lo = 0, hi = M;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (sorted_e[mid] < e)
      lo = mid + 1;
    else
      hi = mid;
  }
  expert_offsets[e] = lo;
  if (expert_load && e < E) {
    int hi2 = M, lo2 = lo;
    while (lo2 < hi2) {
      int mid = (lo2 + hi2) / 2;
      if (sorted_e[mid] < e + 1)
        lo2 = mid + 1;
      else
        hi2 = mid;
    }
    expert_load[e] += lo2 - lo;
  }
}

__global__ void rows_kernel(int* row_token, int* slot_row, const int* row_slot, int M, int K) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= M) return;
  const int slot = row_slot[r];
  row_token[r] = slot / K;
  slot_row[slot] = r;
}

template <typename T>
__global__ void gather_kernel(T* xe, const float* x, const int* row_token, int M, int C) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(M) * C) return;
  const long m = i / C, c = i % C;
  const float val = x[static_cast<long>(row_token[m]) * C + c];
  if constexpr (sizeof(T) == 2)
    xe[i] = __float2bfloat16(val);
  else
    xe[i] = val;
}

__global__ void gather_backward_kernel(float* dx, const float* dxe, const int* slot_row, int N,
                                       int K, int C) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(N) * C) return;
  const long n = i / C, c = i % C;
  float acc = 0.0f;
  for (int k = 0; k < K; k++) acc += dxe[static_cast<long>(slot_row[n * K + k]) * C + c];
  dx[i] += acc;
}

__global__ void combine_kernel(float* out, const float* ye, const float* topk_weights,
                               const int* slot_row, int N, int K, int C) {
  const long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<long>(N) * C) return;
  const long n = i / C, c = i % C;
  float acc = 0.0f;
  for (int k = 0; k < K; k++)
    acc += topk_weights[n * K + k] * ye[static_cast<long>(slot_row[n * K + k]) * C + c];
  out[i] += acc;
}

__global__ void combine_backward_kernel(float* dye, float* dtopk_weights, const float* dout,
                                        const float* ye, const float* topk_weights,
                                        const int* row_token, const int* row_slot, int M, int C) {
  const int m = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (m >= M) return;
  const float w = topk_weights[row_slot[m]];
  const float* d = dout + static_cast<long>(row_token[m]) * C;
  const float* y = ye + static_cast<long>(m) * C;
  float* dy = dye + static_cast<long>(m) * C;
  double dot = 0.0;
  for (int c = lane; c < C; c += 32) {
    dy[c] = w * d[c];
    dot += static_cast<double>(d[c]) * y[c];
  }
  dot = warp_sum(dot);
  if (lane == 0) dtopk_weights[row_slot[m]] += static_cast<float>(dot);
}

RouterArgs router_args(const RouterParams& p) {
  AHA_CHECK(p.E > 0 && p.K > 0 && p.K <= p.E, "router: need 0 < K <= E");
  AHA_CHECK(p.num_groups >= 1 && p.E % p.num_groups == 0,
            "router: E must be a multiple of num_groups");
  AHA_CHECK(p.topk_groups >= 1 && p.topk_groups <= p.num_groups,
            "router: need 1 <= topk_groups <= num_groups");
  AHA_CHECK(p.K <= p.topk_groups * (p.E / p.num_groups),
            "router: K exceeds the experts of the kept groups");
  AHA_CHECK(p.E <= kMaxE && p.K <= kMaxK && p.num_groups <= kMaxGroups,
            "moe_router_cuda: needs E <= 1024, K <= 32, num_groups <= 32");
  return RouterArgs{p.E,
                    p.K,
                    p.num_groups,
                    p.topk_groups,
                    p.scoring == ScoringFunc::kSigmoid,
                    p.norm_topk_prob,
                    p.group_max,
                    p.scaling};
}

// The balance loss's per-token score sums z[t] = Σ_i scores[t,i]: one warp per token.
__global__ void balance_z_kernel(double* z, const float* scores, int N, int E) {
  const int t = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (t >= N) return;
  const float* s = scores + static_cast<size_t>(t) * E;
  double acc = 0;
  for (int i = lane; i < E; i += 32) acc += s[i];
  acc = warp_sum(acc);
  if (lane == 0) z[t] = acc;
}

// One block per sequence b: its experts' selection counts (integer atomics, so in any order the
// same), then per expert (one thread, tokens in order) P_i, the loss term and the gradient's
// g[b,i] = alpha f_i / (T B); loss_b[b] = the block's sum, in a fixed order.
__global__ void balance_seq_kernel(double* loss_b, double* g, const float* scores,
                                   const int* topk_idx, const double* z, const int* seq_start,
                                   int B, int E, int K, float alpha) {
  extern __shared__ int cnt[];  // [E]
  __shared__ double red[32];
  const int b = blockIdx.x, t0 = seq_start[b], T = seq_start[b + 1] - t0;
  for (int i = threadIdx.x; i < E; i += blockDim.x) cnt[i] = 0;
  __syncthreads();
  for (long j = threadIdx.x; j < static_cast<long>(T) * K; j += blockDim.x)
    atomicAdd(&cnt[topk_idx[static_cast<long>(t0) * K + j]], 1);
  __syncthreads();
  double part = 0;
  for (int i = threadIdx.x; i < E; i += blockDim.x) {
    double gi = 0;
    if (T > 0) {
      double P = 0;
      for (int t = t0; t < t0 + T; t++) P += scores[static_cast<size_t>(t) * E + i] / z[t];
      const double f = static_cast<double>(E) / (static_cast<double>(K) * T) * cnt[i];
      part += alpha * f * (P / T) / B;
      gi = alpha * f / (static_cast<double>(T) * B);
    }
    g[static_cast<size_t>(b) * E + i] = gi;
  }
  const double sum = block_sum(part, red);
  if (threadIdx.x == 0) loss_b[b] = sum;
}

__global__ void balance_sum_kernel(double* loss, const double* loss_b, int B) {
  double acc = 0;
  for (int b = 0; b < B; b++) acc += loss_b[b];
  *loss += acc;
}

// dlogits[t,:] += the loss's gradient through s' = s / z and the scoring: one warp per token.
__global__ void balance_grad_kernel(float* dlogits, const float* scores, const double* z,
                                    const double* g, const int* seq_start, int B, int N, int E,
                                    bool sigmoid) {
  const int t = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (t >= N) return;
  int lo = 0, hi = B - 1;  // the sequence holding t: the last b with seq_start[b] <= t
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (seq_start[mid] <= t)
      lo = mid;
    else
      hi = mid - 1;
  }
  const float* s = scores + static_cast<size_t>(t) * E;
  const double* gb = g + static_cast<size_t>(lo) * E;
  const double zt = z[t];
  double gs = 0;
  for (int i = lane; i < E; i += 32) gs += gb[i] * s[i] / zt;
  gs = warp_sum(gs);
  float* dl = dlogits + static_cast<size_t>(t) * E;
  for (int i = lane; i < E; i += 32) {
    const double si = s[i];
    dl[i] += static_cast<float>(sigmoid ? (gb[i] - gs) / zt * si * (1.0 - si) : si * (gb[i] - gs));
  }
}

size_t align256(size_t x) {
  return (x + 255) & ~static_cast<size_t>(255);
}

size_t sort_temp_bytes(int M) {
  size_t bytes = 0;
  AHA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, bytes, static_cast<const int*>(nullptr), static_cast<int*>(nullptr),
      static_cast<const int*>(nullptr), static_cast<int*>(nullptr), M));
  return bytes;
}

}  // namespace

void moe_router_forward_cuda(float* scores, int* topk_idx, float* topk_weights, const float* logits,
                             const float* bias, int N, const RouterParams& p, bool select,
                             cudaStream_t stream) {
  RouterArgs a = router_args(p);
  if (N == 0) return;
  router_forward_kernel<<<num_blocks(N, kWarps), 32 * kWarps, 0, stream>>>(
      scores, topk_idx, topk_weights, logits, bias, N, a, select);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void moe_router_backward_cuda(float* dlogits, const float* dtopk_weights, const float* scores,
                              const int* topk_idx, int N, const RouterParams& p,
                              cudaStream_t stream) {
  RouterArgs a = router_args(p);
  if (N == 0) return;
  router_backward_kernel<<<num_blocks(N, kWarps), 32 * kWarps, 0, stream>>>(dlogits, dtopk_weights,
                                                                            scores, topk_idx, N, a);
  AHA_CUDA_CHECK(cudaGetLastError());
}

size_t moe_balance_loss_workspace_size(int N, int B, int E) {
  return align256(sizeof(double) * static_cast<size_t>(N)) +
         align256(sizeof(double) * static_cast<size_t>(B) * E) +
         align256(sizeof(double) * static_cast<size_t>(B));
}

void moe_balance_loss_cuda(double* loss, float* dlogits, const float* scores, const int* topk_idx,
                           const int* seq_start, int B, int N, const RouterParams& p, float alpha,
                           void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  AHA_CHECK(workspace_bytes >= moe_balance_loss_workspace_size(N, B, p.E),
            "moe_balance_loss_cuda: workspace too small");
  AHA_CHECK(p.E <= kMaxE, "moe_balance_loss_cuda: more than 1024 experts");
  if (B == 0 || (!loss && !dlogits)) return;
  char* w = static_cast<char*>(workspace);
  double* z = reinterpret_cast<double*>(w);
  double* g = reinterpret_cast<double*>(w + align256(sizeof(double) * static_cast<size_t>(N)));
  double* loss_b = g + align256(sizeof(double) * static_cast<size_t>(B) * p.E) / sizeof(double);
  if (N > 0) {
    balance_z_kernel<<<num_blocks(N, kWarps), 32 * kWarps, 0, stream>>>(z, scores, N, p.E);
    AHA_CUDA_CHECK(cudaGetLastError());
  }
  balance_seq_kernel<<<B, 256, sizeof(int) * p.E, stream>>>(loss_b, g, scores, topk_idx, z,
                                                            seq_start, B, p.E, p.K, alpha);
  AHA_CUDA_CHECK(cudaGetLastError());
  if (loss) {
    balance_sum_kernel<<<1, 1, 0, stream>>>(loss, loss_b, B);
    AHA_CUDA_CHECK(cudaGetLastError());
  }
  if (dlogits && N > 0) {
    balance_grad_kernel<<<num_blocks(N, kWarps), 32 * kWarps, 0, stream>>>(
        dlogits, scores, z, g, seq_start, B, N, p.E, p.scoring == ScoringFunc::kSigmoid);
    AHA_CUDA_CHECK(cudaGetLastError());
  }
}

size_t moe_dispatch_workspace_size(int N, int K) {
  const int M = N * K;
  return 2 * align256(sizeof(int) * static_cast<size_t>(M)) + align256(sort_temp_bytes(M));
}

void moe_dispatch_cuda(int* expert_offsets, int* row_token, int* row_slot, int* slot_row,
                       const int* topk_idx, int N, int E, int K, long* expert_load, void* workspace,
                       size_t workspace_bytes, cudaStream_t stream) {
  AHA_CHECK(workspace_bytes >= moe_dispatch_workspace_size(N, K),
            "moe_dispatch_cuda: workspace too small");
  const int M = N * K;
  char* p = static_cast<char*>(workspace);
  const size_t slot = align256(sizeof(int) * static_cast<size_t>(M));
  int* sorted_e = reinterpret_cast<int*>(p);
  int* slots = reinterpret_cast<int*>(p + slot);
  void* temp = p + 2 * slot;
  size_t temp_bytes = workspace_bytes - 2 * slot;
  if (M > 0) {
    iota_kernel<<<num_blocks(M, 256), 256, 0, stream>>>(slots, M);
    AHA_CUDA_CHECK(cudaGetLastError());
    // Radix sort is stable: each expert's rows stay in slot (token) order, as on the CPU.
    AHA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, topk_idx, sorted_e, slots,
                                                   row_slot, M, 0, sizeof(int) * 8, stream));
  }
  offsets_kernel<<<num_blocks(E + 1, 128), 128, 0, stream>>>(expert_offsets, expert_load, sorted_e,
                                                             M, E);
  AHA_CUDA_CHECK(cudaGetLastError());
  if (M > 0) {
    rows_kernel<<<num_blocks(M, 256), 256, 0, stream>>>(row_token, slot_row, row_slot, M, K);
    AHA_CUDA_CHECK(cudaGetLastError());
  }
}

void moe_gather_cuda(float* xe, const float* x, const int* row_token, int M, int C,
                     cudaStream_t stream) {
  const long n = static_cast<long>(M) * C;
  if (n == 0) return;
  gather_kernel<float><<<num_blocks(n, 256), 256, 0, stream>>>(xe, x, row_token, M, C);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void moe_gather_bf16_cuda(bf16* xe, const float* x, const int* row_token, int M, int C,
                          cudaStream_t stream) {
  const long n = static_cast<long>(M) * C;
  if (n == 0) return;
  gather_kernel<bf16><<<num_blocks(n, 256), 256, 0, stream>>>(xe, x, row_token, M, C);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void moe_gather_backward_cuda(float* dx, const float* dxe, const int* slot_row, int N, int K, int C,
                              cudaStream_t stream) {
  const long n = static_cast<long>(N) * C;
  if (n == 0) return;
  gather_backward_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(dx, dxe, slot_row, N, K, C);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void moe_combine_cuda(float* out, const float* ye, const float* topk_weights, const int* slot_row,
                      int N, int K, int C, cudaStream_t stream) {
  const long n = static_cast<long>(N) * C;
  if (n == 0) return;
  combine_kernel<<<num_blocks(n, 256), 256, 0, stream>>>(out, ye, topk_weights, slot_row, N, K, C);
  AHA_CUDA_CHECK(cudaGetLastError());
}

void moe_combine_backward_cuda(float* dye, float* dtopk_weights, const float* dout, const float* ye,
                               const float* topk_weights, const int* row_token, const int* row_slot,
                               int M, int C, cudaStream_t stream) {
  if (M == 0) return;
  combine_backward_kernel<<<num_blocks(M, 4), 128, 0, stream>>>(
      dye, dtopk_weights, dout, ye, topk_weights, row_token, row_slot, M, C);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
