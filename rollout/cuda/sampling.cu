// The batched CUDA sampler (rollout/cuda/sampling.h): one block per row; fp32 softmax, fixed-point
// masses, radix selects on (p, id) keys for the truncation and the draw.
#include <cub/block/block_scan.cuh>

#include "kernels/check.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/rng.h"
#include "rollout/cuda/sampling.h"

namespace aha {

namespace {

constexpr int kThreads = 512;  // at 1024 ptxas held the kernel to 32 registers, with spills
constexpr unsigned kFull = 0xffffffffu;
constexpr float kMassScale = 0x1p60f;  // a probability as an integer of 2^-60 units

// p = exp(x / T - lse) with x * (1/T) - lse fused (one rounding: the argument is exact to half
// an ulp of log p, not of x / T), written out so every pass computes the same bits.
__device__ inline float prob_of(float x, float inv_t, float lse) {
  return expf(__fmaf_rn(x, inv_t, -lse));
}

__device__ inline uint64_t mass_of(float p) {
  return __float2ull_rz(p * kMassScale);
}
// Larger key = earlier in the CPU's order (probability descending, then id ascending).
__device__ inline uint64_t key_of(float p, int i) {
  return (static_cast<uint64_t>(__float_as_uint(p)) << 32) |
         (0xFFFFFFFFu - static_cast<uint32_t>(i));
}
__device__ inline int id_of(uint64_t key) {
  return static_cast<int>(0xFFFFFFFFu - static_cast<uint32_t>(key));
}
__device__ inline float prob_of_key(uint64_t key) {
  return __uint_as_float(static_cast<uint32_t>(key >> 32));
}

__device__ inline uint64_t warp_max_u64(uint64_t v) {
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t w = __shfl_xor_sync(kFull, v, o);
    v = w > v ? w : v;
  }
  return v;
}
// Max over the block; every thread gets it. shared: 32 elements.
__device__ inline uint64_t block_max_u64(uint64_t v, uint64_t* shared) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_max_u64(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  return warp_max_u64(lane < kThreads / 32 ? shared[lane] : 0);
}

__device__ inline uint64_t block_min_u64(uint64_t v, uint64_t* shared) {
  return ~block_max_u64(~v, shared);
}

// Orders floats as unsigned integers (sign flipped for positives, all bits for negatives).
__device__ inline uint32_t orderable(float x) {
  const uint32_t b = __float_as_uint(x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

struct Select {
  unsigned count[256];
  unsigned long long mass[256];
  uint64_t chosen_prefix;
  uint64_t chosen_above;
  unsigned chosen_count;
};

// The cut K of the token at which the measure (kMass: fixed-point mass, else 1 per token) summed
// over the row in descending key order first reaches target: {key >= K} is exactly the tokens up
// to and including it. K is that token's key, or its upper digits alone when they already single
// it out. target is clamped to [0, total]; a token with zero measure is chosen only when the
// target is 0 (then the first token).
template <bool kMass>
__device__ uint64_t select_key(const float* x, int V, float inv_t, float lse, uint64_t target,
                               Select& s) {
  const int lane = threadIdx.x % 32;
  uint64_t prefix = 0, above = 0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    const uint64_t hi_mask = shift == 56 ? 0 : ~0ull << (shift + 8);
    for (int d = threadIdx.x; d < 256; d += kThreads) {
      s.count[d] = 0;
      s.mass[d] = 0;
    }
    __syncthreads();
    for (int base = 0; base < V; base += kThreads) {
      const int i = base + threadIdx.x;
      bool in = false;
      unsigned d = 0;
      uint64_t m = 0;
      if (i < V) {
        const float p = prob_of(x[i], inv_t, lse);
        const uint64_t key = key_of(p, i);
        in = (key & hi_mask) == prefix;
        d = static_cast<unsigned>(key >> shift) & 255u;
        m = kMass ? mass_of(p) : 0;
      }
      // Warp-aggregated: one atomic per distinct digit in the warp (integers: order-free).
      unsigned active = __ballot_sync(kFull, in);
      while (active) {
        const int leader = __ffs(active) - 1;
        const unsigned dl = __shfl_sync(kFull, d, leader);
        const bool mine = in && d == dl;
        const unsigned group = __ballot_sync(kFull, mine);
        if (kMass) {
          const uint64_t sum = warp_sum<uint64_t>(mine ? m : 0);
          if (lane == leader) atomicAdd(&s.mass[dl], static_cast<unsigned long long>(sum));
        }
        if (lane == leader) atomicAdd(&s.count[dl], static_cast<unsigned>(__popc(group)));
        active &= ~group;
      }
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      // Lane l holds digits 255-8l down to 248-8l: lanes in order walk the digits descending.
      uint64_t lane_sum = 0;
      for (int j = 0; j < 8; j++) {
        const int d = 255 - 8 * lane - j;
        lane_sum += kMass ? s.mass[d] : s.count[d];
      }
      uint64_t incl = lane_sum;
      for (int o = 1; o < 32; o <<= 1) {
        const uint64_t v = __shfl_up_sync(kFull, incl, o);
        if (lane >= o) incl += v;
      }
      if (shift == 56) {  // the first pass sees every token: clamp the target to the total
        const uint64_t total = __shfl_sync(kFull, incl, 31);
        target = target < total ? target : total;
      }
      uint64_t run = above + incl - lane_sum;
      int found = -1;
      uint64_t found_above = 0;
      for (int j = 0; j < 8 && found < 0; j++) {
        const int d = 255 - 8 * lane - j;
        const uint64_t md = kMass ? s.mass[d] : s.count[d];
        if (s.count[d] > 0 && run + md >= target) {
          found = d;
          found_above = run;
        }
        run += md;
      }
      const unsigned hit = __ballot_sync(kFull, found >= 0);
      if (hit != 0 && lane == __ffs(hit) - 1) {
        s.chosen_prefix = prefix | (static_cast<uint64_t>(found) << shift);
        s.chosen_above = found_above;
        s.chosen_count = s.count[found];
      }
    }
    __syncthreads();
    prefix = s.chosen_prefix;
    above = s.chosen_above;
    const unsigned n = s.chosen_count;
    __syncthreads();    // s is rewritten by the next pass
    if (n == 1) break;  // one token left: its upper digits already separate it from all others
  }
  return prefix;
}

// Fixed-point mass of the tokens with key >= cut.
__device__ uint64_t kept_mass(const float* x, int V, float inv_t, float lse, uint64_t cut,
                              uint64_t* shared) {
  uint64_t m = 0;
  for (int i = threadIdx.x; i < V; i += kThreads) {
    const float p = prob_of(x[i], inv_t, lse);
    if (key_of(p, i) >= cut) m += mass_of(p);
  }
  return block_sum<uint64_t>(m, shared);
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* logits, int V, const SamplingRow* rows, SampledToken* out) {
  __shared__ float shared_f[32];
  __shared__ double shared_d[32];
  __shared__ uint64_t shared_u[32];
  __shared__ Select sel;
  __shared__ int token_s;
  const float* x = logits + static_cast<size_t>(blockIdx.x) * V;
  const SamplingRow q = rows[blockIdx.x];
  SampledToken r;

  if (q.temperature <= 0) {
    // Greedy: the largest logit, lowest id on ties (the max of (orderable logit, ~id)).
    uint64_t best = 0;
    for (int i = threadIdx.x; i < V; i += kThreads) {
      const uint64_t k =
          (static_cast<uint64_t>(orderable(x[i])) << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(i));
      best = k > best ? k : best;
    }
    best = block_max_u64(best, shared_u);
    const int tok = id_of(best);
    const float mx = x[tok];
    double s = 0;
    for (int i = threadIdx.x; i < V; i += kThreads) s += expf(__fsub_rn(x[i], mx));
    s = block_sum(s, shared_d);
    if (threadIdx.x == 0) {
      r.token = tok;
      r.logp = static_cast<float>(-log(s));  // x[tok] - (mx + log s), with mx == x[tok]
      r.logp_trunc = 0.0f;
      out[blockIdx.x] = r;
    }
    return;
  }

  const float inv_t = 1.0f / q.temperature;
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < V; i += kThreads) mx = fmaxf(mx, __fmul_rn(x[i], inv_t));
  mx = block_max(mx, shared_f);
  double s = 0;  // fp32 terms summed in double (152k of them)
  for (int i = threadIdx.x; i < V; i += kThreads) s += prob_of(x[i], inv_t, mx);
  s = block_sum(s, shared_d);
  const double lse_d = static_cast<double>(mx) + log(s);
  const float lse = static_cast<float>(lse_d);
  const double u = rng_uniform(q.seed, q.stream, q.counter);
  const bool truncates = q.top_p < 1.0f || q.top_k > 0 || q.min_p > 0.0f;

  uint64_t kept = 0;
  if (!truncates) {
    // Inverse CDF in id order: each thread sums a contiguous chunk, then one exclusive scan.
    using Scan = cub::BlockScan<unsigned long long, kThreads>;
    __shared__ typename Scan::TempStorage scan_tmp;
    const int chunk = (V + kThreads - 1) / kThreads;
    const int begin = min(V, static_cast<int>(threadIdx.x) * chunk), end = min(V, begin + chunk);
    unsigned long long local = 0, excl = 0, total = 0;
    for (int i = begin; i < end; i++) local += mass_of(prob_of(x[i], inv_t, lse));
    Scan(scan_tmp).ExclusiveSum(local, excl, total);
    if (threadIdx.x == 0) token_s = V - 1;
    __syncthreads();
    unsigned long long target = static_cast<unsigned long long>(u * static_cast<double>(total));
    if (total > 0 && target >= total) target = total - 1;
    if (excl <= target && target < excl + local) {
      unsigned long long acc = excl;
      for (int i = begin; i < end; i++) {
        acc += mass_of(prob_of(x[i], inv_t, lse));
        if (target < acc) {
          token_s = i;
          break;
        }
      }
    }
    __syncthreads();
    kept = total;
  } else {
    uint64_t cut = 0;  // the kept set is {key >= cut}
    if (q.top_k > 0 && q.top_k < V)
      cut = select_key<false>(x, V, inv_t, lse, static_cast<uint64_t>(q.top_k), sel);
    if (q.top_p < 1.0f) {
      // The smallest prefix whose mass reaches top_p times the top-k set's mass.
      const uint64_t mass_k = kept_mass(x, V, inv_t, lse, cut, shared_u);
      double t = ceil(static_cast<double>(q.top_p) * static_cast<double>(mass_k));
      uint64_t target = t < 1.0 ? 1 : static_cast<uint64_t>(t);
      const uint64_t k = select_key<true>(x, V, inv_t, lse, target, sel);
      cut = k > cut ? k : cut;
    }
    if (q.min_p > 0.0f) {
      // Tokens with p >= min_p * p_max, and the most likely token always.
      uint64_t top = 0;
      for (int i = threadIdx.x; i < V; i += kThreads) {
        const uint64_t k = key_of(prob_of(x[i], inv_t, lse), i);
        top = k > top ? k : top;
      }
      top = block_max_u64(top, shared_u);
      const float thresh = q.min_p * prob_of_key(top);
      uint64_t k = static_cast<uint64_t>(__float_as_uint(thresh)) << 32;
      k = k < top ? k : top;
      cut = k > cut ? k : cut;
    }
    kept = kept_mass(x, V, inv_t, lse, cut, shared_u);
    // The draw: the first kept token (in key order) whose prefix mass exceeds u * kept.
    uint64_t target = static_cast<uint64_t>(u * static_cast<double>(kept));
    if (kept > 0 && target >= kept) target = kept - 1;
    const uint64_t k = select_key<true>(x, V, inv_t, lse, kept > 0 ? target + 1 : 0, sel);
    // A select may stop with the lower digits unset: the chosen token is the smallest key >= k.
    uint64_t tok_key = ~0ull;
    for (int i = threadIdx.x; i < V; i += kThreads) {
      const uint64_t ki = key_of(prob_of(x[i], inv_t, lse), i);
      if (ki >= k && ki < tok_key) tok_key = ki;
    }
    tok_key = block_min_u64(tok_key, shared_u);
    if (threadIdx.x == 0) token_s = id_of(tok_key);
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const int tok = token_s;
    r.token = tok;
    // As the CPU: x * (1/T) is exact in double.
    r.logp = static_cast<float>(static_cast<double>(x[tok]) * inv_t - lse_d);
    r.logp_trunc = truncates ? static_cast<float>(static_cast<double>(r.logp) -
                                                  log(static_cast<double>(kept) * 0x1p-60))
                             : r.logp;
    out[blockIdx.x] = r;
  }
}

}  // namespace

void sample_tokens_cuda(const float* logits, int B, int V, const SamplingRow* rows,
                        SampledToken* out, cudaStream_t stream) {
  AHA_CHECK(B >= 0 && V > 0, "sample_tokens_cuda: B >= 0 and V > 0");
  if (B == 0) return;
  sample_kernel<<<B, kThreads, 0, stream>>>(logits, V, rows, out);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace aha
