// Decode attention over a paged bf16 cache (kernels/cuda/ops.h): FlashInfer's batch MLA kernel
// for DeepSeek's latent dims (kernels/cuda/decode_attention_flashinfer.cu), our kernel otherwise.
//
// Our kernel: block (row b, tile of up to 8 heads of one kv group), one warp per head, 32 keys per
// tile (one per lane). Per tile: the keys (and values, unless they are the keys' first columns,
// as MLA's c_kv is) are staged in shared memory as bf16; lane t scores key t for its warp's head;
// the warp updates its running max and sum (online softmax) and adds p_t * v_t into fp32
// accumulators, lane l owning value columns l, l+32, ... Fixed order throughout: deterministic,
// and a row's result does not depend on the other rows of the batch.
#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops.h"
#ifdef AHA_HAVE_FLASHINFER
#include "kernels/cuda/decode_attention_flashinfer.h"
#endif

namespace aha {

namespace {

constexpr int kHeadsPerBlock = 8;  // one warp each
constexpr int kTileKeys = 32;      // one per lane
constexpr int kMaxDV = 512;        // value columns: kMaxDV / 32 accumulators per lane
constexpr int kThreads = 32 * kHeadsPerBlock;

// Key row stride in shared memory (bf16): >= DK, even, and S/2 odd, so that the 32 lanes reading
// column c of 32 different keys hit 32 different banks.
__host__ __device__ inline int key_stride(int DK) {
  int S = DK + (DK & 1);
  return (S % 4 == 2) ? S : S + 2;
}

struct DecodeArgs {
  bf16* out;          // [B, NH, DV]
  const bf16* q_a;    // [B, NH, A]
  const bf16* q_b;    // [B, NH, Bd] (Bd may be 0)
  const bf16* cache;  // rows of W values
  const int* page_indptr;
  const int* page_ids;
  const int* seq_lens;
  long W;
  int A, Bd, DV;
  int ko, kstep;        // key of kv group g at row[ko + g*kstep .. + A+Bd)
  int vo, vstep;        // value of kv group g at row[vo + g*vstep .. + DV)
  bool values_in_keys;  // values are the first DV columns of the keys (vo == ko, vstep == kstep)
  int P, NH, group, tiles_per_group;
  float scale;
};

// Copies n rows (positions t0 .. t0+n of the row's pages) of `cols` values starting at column
// `col0` into dst[t * stride + c]. 16-byte loads when everything lines up on 8 values.
__device__ void stage_rows(bf16* dst, int stride, const DecodeArgs& a, const int* pages, int t0,
                           int n, long col0, int cols) {
  const bool vec = (cols % 8 == 0) && (col0 % 8 == 0) && (a.W % 8 == 0);
  if (vec) {
    const int chunks = cols / 8;
    for (int i = threadIdx.x; i < n * chunks; i += blockDim.x) {
      const int t = i / chunks, c = (i % chunks) * 8, pos = t0 + t;
      const bf16* src =
          a.cache + (static_cast<long>(pages[pos / a.P]) * a.P + pos % a.P) * a.W + col0 + c;
      const uint4 v = *reinterpret_cast<const uint4*>(src);
      // stride is even: 4-byte stores stay aligned.
      __nv_bfloat162* d =
          reinterpret_cast<__nv_bfloat162*>(dst + static_cast<long>(t) * stride + c);
      const __nv_bfloat162* s = reinterpret_cast<const __nv_bfloat162*>(&v);
      d[0] = s[0];
      d[1] = s[1];
      d[2] = s[2];
      d[3] = s[3];
    }
  } else {
    for (int i = threadIdx.x; i < n * cols; i += blockDim.x) {
      const int t = i / cols, c = i % cols, pos = t0 + t;
      dst[static_cast<long>(t) * stride + c] =
          a.cache[(static_cast<long>(pages[pos / a.P]) * a.P + pos % a.P) * a.W + col0 + c];
    }
  }
}

// grid (B, num_kv_groups * tiles_per_group), kThreads threads; dynamic shared memory:
// q_s float[8][DK], k_s bf16[32][key_stride(DK)], v_s bf16[32][DV] (unless values_in_keys).
__global__ void __launch_bounds__(kThreads) decode_attention_kernel(DecodeArgs a) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int DK = a.A + a.Bd, S = key_stride(DK);
  float* q_s = reinterpret_cast<float*>(smem);
  bf16* k_s = reinterpret_cast<bf16*>(q_s + kHeadsPerBlock * DK);
  bf16* v_s = k_s + kTileKeys * S;

  const int b = blockIdx.x;
  const int g = blockIdx.y / a.tiles_per_group;
  const int h0 = g * a.group + (blockIdx.y % a.tiles_per_group) * kHeadsPerBlock;
  const int nh = min(kHeadsPerBlock, (g + 1) * a.group - h0);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int h = h0 + warp;
  const bool active = warp < nh;
  const int L = a.seq_lens[b];
  const int* pages = a.page_ids + a.page_indptr[b];
  bf16* out = a.out + (static_cast<long>(b) * a.NH + h) * a.DV;

  if (L == 0) {  // nothing to attend to: zeros, as the CPU op
    if (active)
      for (int c = lane; c < a.DV; c += 32) out[c] = __float2bfloat16(0.0f);
    return;
  }
  for (int i = threadIdx.x; i < nh * DK; i += blockDim.x) {
    const int j = i / DK, c = i % DK;
    const long hq = static_cast<long>(b) * a.NH + h0 + j;
    q_s[i] = __bfloat162float(c < a.A ? a.q_a[hq * a.A + c] : a.q_b[hq * a.Bd + (c - a.A)]);
  }

  const long kcol = a.ko + static_cast<long>(g) * a.kstep;
  const long vcol = a.vo + static_cast<long>(g) * a.vstep;
  const float* q = q_s + warp * DK;
  float m = -INFINITY, l = 0.0f;
  float acc[kMaxDV / 32];
#pragma unroll
  for (int j = 0; j < kMaxDV / 32; j++) acc[j] = 0.0f;

  for (int t0 = 0; t0 < L; t0 += kTileKeys) {
    const int n = min(kTileKeys, L - t0);
    __syncthreads();  // the previous tile is consumed (and q_s written, the first time)
    stage_rows(k_s, S, a, pages, t0, n, kcol, DK);
    if (!a.values_in_keys) stage_rows(v_s, a.DV, a, pages, t0, n, vcol, a.DV);
    __syncthreads();
    if (!active) continue;

    float s = -INFINITY;
    if (lane < n) {
      const bf16* k = k_s + lane * S;
      float dot = 0.0f;
      int c = 0;
      for (; c + 1 < DK; c += 2) {
        const float2 kv = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(k + c));
        dot += q[c] * kv.x;
        dot += q[c + 1] * kv.y;
      }
      if (c < DK) dot += q[c] * __bfloat162float(k[c]);
      s = dot * a.scale;
    }
    const float m_new = fmaxf(m, warp_max(s));  // finite: n >= 1
    const float corr = __expf(m - m_new);       // 0 on the first tile (m = -inf)
    const float p = lane < n ? __expf(s - m_new) : 0.0f;
    l = l * corr + warp_sum(p);
    m = m_new;
#pragma unroll
    for (int j = 0; j < kMaxDV / 32; j++) acc[j] *= corr;
    const bf16* vbase = a.values_in_keys ? k_s : v_s;
    const int vs = a.values_in_keys ? S : a.DV;
    for (int t = 0; t < n; t++) {
      const float pt = __shfl_sync(0xffffffffu, p, t);
      const bf16* v = vbase + t * vs;
#pragma unroll
      for (int j = 0; j < kMaxDV / 32; j++) {
        const int c = lane + 32 * j;
        if (c < a.DV) acc[j] += pt * __bfloat162float(v[c]);
      }
    }
  }
  if (!active) return;
  const float inv = 1.0f / l;
#pragma unroll
  for (int j = 0; j < kMaxDV / 32; j++) {
    const int c = lane + 32 * j;
    if (c < a.DV) out[c] = __float2bfloat16(acc[j] * inv);
  }
}

void launch_decode(const DecodeArgs& a, int B, int num_groups, cudaStream_t stream) {
  if (B == 0) return;
  const int DK = a.A + a.Bd;
  const size_t smem = sizeof(float) * kHeadsPerBlock * DK +
                      sizeof(bf16) * kTileKeys * key_stride(DK) +
                      (a.values_in_keys ? 0 : sizeof(bf16) * kTileKeys * a.DV);
  if (smem > 48 * 1024)
    AHA_CUDA_CHECK(cudaFuncSetAttribute(decode_attention_kernel,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(smem)));
  const dim3 grid(B, num_groups * a.tiles_per_group);
  decode_attention_kernel<<<grid, kThreads, smem, stream>>>(a);
  AHA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

DecodeAttention* decode_attention_create() {
  DecodeAttention* d = new DecodeAttention;
  int device = 0, major = 0;
  AHA_CUDA_CHECK(cudaGetDevice(&device));
  AHA_CUDA_CHECK(cudaDeviceGetAttribute(&d->num_sm, cudaDevAttrMultiProcessorCount, device));
  AHA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
#ifdef AHA_HAVE_FLASHINFER
  if (major >= 8) {  // mma.sync bf16 and cp.async: Ampere and later
    d->float_workspace_bytes = flashinfer_mla_float_workspace_bytes(d->num_sm);
    d->int_workspace_bytes = flashinfer_mla_int_workspace_bytes(d->num_sm);
    AHA_CUDA_CHECK(cudaMalloc(&d->float_workspace, d->float_workspace_bytes));
    AHA_CUDA_CHECK(cudaMalloc(&d->int_workspace, d->int_workspace_bytes));
    AHA_CUDA_CHECK(cudaMallocHost(&d->staging, d->int_workspace_bytes));
    AHA_CUDA_CHECK(cudaEventCreateWithFlags(&d->staged, cudaEventDisableTiming));
    d->use_flashinfer = true;
  }
#endif
  (void)major;
  return d;
}

void decode_attention_destroy(DecodeAttention* d) {
  if (!d) return;
  if (d->staged) cudaEventDestroy(d->staged);
  cudaFreeHost(d->staging);
  cudaFree(d->int_workspace);
  cudaFree(d->float_workspace);
  delete d;
}

bool mla_decode_uses_flashinfer(const DecodeAttention* d, int R, int DR) {
  return d->use_flashinfer && d->staging != nullptr && R == 512 && DR == 64;
}

void mla_decode_plan_cuda(DecodeAttention* d, const int* page_indptr_host, const int* seq_lens_host,
                          int B, int NH, int R, int DR, cudaStream_t stream) {
  AHA_CHECK(B >= 0 && NH >= 1, "mla_decode_plan_cuda: bad B or NH");
  d->planned_B = B;
  d->planned_NH = NH;
  if (!mla_decode_uses_flashinfer(d, R, DR) || B == 0) return;
#ifdef AHA_HAVE_FLASHINFER
  // FlashInfer's schedule holds at most 16,384 work items: at most one per 64-head query tile
  // of a row plus one per SM for the rows it splits.
  AHA_CHECK(
      static_cast<long>(B) * ((NH + 63) / 64) + d->num_sm <= 16384,
      "mla_decode_plan_cuda: batch too large for FlashInfer's schedule: B=" + std::to_string(B));
  // Host wait: the previous plan's copy out of the staging buffer must be done before it is
  // overwritten (it was queued before that plan's run, so it is normally long finished).
  AHA_CUDA_CHECK(cudaEventSynchronize(d->staged));
  size_t staged_bytes = 0;
  flashinfer_mla_plan(reinterpret_cast<int64_t*>(d->plan_info), &staged_bytes, d->staging,
                      d->int_workspace, d->int_workspace_bytes, d->float_workspace,
                      d->float_workspace_bytes, page_indptr_host, seq_lens_host, B, NH);
  AHA_CHECK(staged_bytes <= d->int_workspace_bytes, "mla_decode_plan_cuda: schedule too large");
  AHA_CUDA_CHECK(
      cudaMemcpyAsync(d->int_workspace, d->staging, staged_bytes, cudaMemcpyHostToDevice, stream));
  AHA_CUDA_CHECK(cudaEventRecord(d->staged, stream));
#else
  (void)page_indptr_host;
  (void)seq_lens_host;
  (void)stream;
#endif
}

void mla_decode_attention_cuda(DecodeAttention* d, bf16* out_lat, const bf16* q_lat,
                               const bf16* q_rope, const bf16* cache, int page_tokens,
                               const int* page_indptr, const int* page_ids, const int* seq_lens,
                               int B, int NH, int R, int DR, float scale, cudaStream_t stream) {
  AHA_CHECK(page_tokens >= 1 && NH >= 1 && R >= 1 && DR >= 0,
            "mla_decode_attention_cuda: bad shape");
  if (B == 0) return;
  if (mla_decode_uses_flashinfer(d, R, DR)) {
#ifdef AHA_HAVE_FLASHINFER
    AHA_CHECK(d->planned_B == B && d->planned_NH == NH,
              "mla_decode_attention_cuda: no plan for this batch (mla_decode_plan_cuda)");
    AHA_CUDA_CHECK(flashinfer_mla_run(reinterpret_cast<const int64_t*>(d->plan_info),
                                      d->float_workspace, d->int_workspace, out_lat, q_lat, q_rope,
                                      cache, page_tokens, page_ids, NH, scale, stream));
    return;
#endif
  }
  AHA_CHECK(R <= kMaxDV, "mla_decode_attention_cuda: R must be <= 512");
  DecodeArgs a{};
  a.out = out_lat;
  a.q_a = q_lat;
  a.q_b = q_rope;
  a.cache = cache;
  a.page_indptr = page_indptr;
  a.page_ids = page_ids;
  a.seq_lens = seq_lens;
  a.W = R + DR;
  a.A = R;
  a.Bd = DR;
  a.DV = R;
  a.ko = a.kstep = a.vo = a.vstep = 0;
  a.values_in_keys = true;  // out_lat = Σ p c_kv: the keys' first R columns
  a.P = page_tokens;
  a.NH = NH;
  a.group = NH;  // one latent kv "head" shared by all heads
  a.tiles_per_group = (NH + kHeadsPerBlock - 1) / kHeadsPerBlock;
  a.scale = scale;
  launch_decode(a, B, 1, stream);
}

void gqa_decode_attention_cuda(bf16* out, const bf16* q, const bf16* cache, int page_tokens,
                               const int* page_indptr, const int* page_ids, const int* seq_lens,
                               int B, int NH, int NKV, int D, float scale, cudaStream_t stream) {
  AHA_CHECK(NKV > 0 && NH % NKV == 0, "gqa_decode_attention_cuda: NH must be a multiple of NKV");
  AHA_CHECK(page_tokens >= 1 && D >= 1 && D <= kMaxDV, "gqa_decode_attention_cuda: bad shape");
  DecodeArgs a{};
  a.out = out;
  a.q_a = q;
  a.q_b = q;  // Bd = 0: never read
  a.cache = cache;
  a.page_indptr = page_indptr;
  a.page_ids = page_ids;
  a.seq_lens = seq_lens;
  a.W = 2L * NKV * D;
  a.A = D;
  a.Bd = 0;
  a.DV = D;
  a.ko = 0;
  a.kstep = D;
  a.vo = NKV * D;
  a.vstep = D;
  a.values_in_keys = false;
  a.P = page_tokens;
  a.NH = NH;
  a.group = NH / NKV;
  a.tiles_per_group = (a.group + kHeadsPerBlock - 1) / kHeadsPerBlock;
  a.scale = scale;
  launch_decode(a, B, NKV, stream);
}

}  // namespace aha
