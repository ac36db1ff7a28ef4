// Times the CUDA twins on DeepSeek-V3-like layer shapes (bench_kernels [scale], scale 1 = the
// default shapes, 0.25 for a quick look) and prints TFLOP/s or GB/s per op (the sampler's GB/s
// counts one read of the logits, whatever its passes); run by
// experiments/gpu/check.sh. Each figure is the median of 5 timed runs after 2 warm-ups (CUDA
// events).
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels/cuda/ops.h"
#include "kernels/rng.h"
#include "rollout/cuda/sampling.h"

using namespace aha;

namespace {

template <typename F>
double median_ms(F f) {
  cudaEvent_t a, b;
  AHA_CUDA_CHECK(cudaEventCreate(&a));
  AHA_CUDA_CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 2; i++) f();
  std::vector<float> ms;
  for (int i = 0; i < 5; i++) {
    AHA_CUDA_CHECK(cudaEventRecord(a));
    f();
    AHA_CUDA_CHECK(cudaEventRecord(b));
    AHA_CUDA_CHECK(cudaEventSynchronize(b));
    float t = 0;
    AHA_CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[2];
}

// An input buffer with a small repeating pattern.
template <typename T>
T* dev(size_t n, float value = 0.01f) {
  T* p = nullptr;
  AHA_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, n * sizeof(T))));
  std::vector<T> h(n);
  for (size_t i = 0; i < n; i++)
    h[i] = static_cast<T>(value * static_cast<float>((i * 7919) % 13) - 0.06f);
  AHA_CUDA_CHECK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

// An output buffer, zeroed.
template <typename T>
T* out(size_t n) {
  T* p = nullptr;
  AHA_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, n * sizeof(T))));
  AHA_CUDA_CHECK(cudaMemset(p, 0, std::max<size_t>(1, n * sizeof(T))));
  return p;
}

void report(const char* what, double ms, double flop, double bytes) {
  std::printf("%-58s %9.3f ms", what, ms);
  if (flop > 0) std::printf("  %7.1f TFLOP/s", flop / ms / 1e9);
  if (bytes > 0) std::printf("  %7.1f GB/s", bytes / ms / 1e6);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("no CUDA device\n");
    return 77;
  }
  const double scale = argc > 1 ? std::atof(argv[1]) : 1.0;
  cudaDeviceProp prop;
  AHA_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs\n", prop.name, prop.multiProcessorCount);
  const int N = std::max(64, static_cast<int>(8192 * scale));  // tokens
  const int C = 7168, H = 2048, E = 64, K = 8;

  {  // linear: q_a-like [N, C] -> [N, 1536], and its backward
    const int OC = 1536;
    Blas* blas = blas_create();
    bf16* x = dev<bf16>(static_cast<size_t>(N) * C);
    bf16* w = dev<bf16>(static_cast<size_t>(OC) * C);
    bf16* dy = dev<bf16>(static_cast<size_t>(N) * OC);
    float* y = out<float>(static_cast<size_t>(N) * OC);
    float* dx = out<float>(static_cast<size_t>(N) * C);
    float* dw = out<float>(static_cast<size_t>(OC) * C);
    const double f = 2.0 * N * C * OC;
    report("linear_forward_cuda (cuBLASLt bf16) N x 7168 -> 1536",
           median_ms([&] { linear_forward_cuda(blas, y, x, w, N, C, OC, 0); }), f, 0);
    report("linear_backward_cuda dinp + dweight",
           median_ms([&] { linear_backward_cuda(blas, dx, dw, dy, x, w, N, C, OC, 0); }), 2 * f, 0);
    blas_destroy(blas);
    cudaFree(x), cudaFree(w), cudaFree(dy), cudaFree(y), cudaFree(dx), cudaFree(dw);
  }

  {  // grouped expert GEMM: N*K rows over E experts, gate-like C -> H
    const int M = N * K;
    std::vector<int> offs(E + 1);
    for (int e = 0; e <= E; e++) offs[e] = static_cast<int>(static_cast<long>(M) * e / E);
    offs[4] = offs[3];  // one expert empty
    int* d_offs = nullptr;
    AHA_CUDA_CHECK(cudaMalloc(&d_offs, sizeof(int) * (E + 1)));
    AHA_CUDA_CHECK(cudaMemcpy(d_offs, offs.data(), sizeof(int) * (E + 1), cudaMemcpyHostToDevice));
    bf16* xe = dev<bf16>(static_cast<size_t>(M) * C);
    bf16* w = dev<bf16>(static_cast<size_t>(E) * H * C);
    bf16* dye = dev<bf16>(static_cast<size_t>(M) * H);
    float* ye = out<float>(static_cast<size_t>(M) * H);
    float* dxe = out<float>(static_cast<size_t>(M) * C);
    float* dw = out<float>(static_cast<size_t>(E) * H * C);
    GroupedGemm* gg = grouped_gemm_create(E);
    const double f = 2.0 * M * C * H;
    const char* path = gg->use_cutlass ? "CUTLASS sm_90a" : "SIMT";
    char name[128];
    std::snprintf(name, sizeof(name), "grouped GEMM forward (%s) %d rows, 64 experts", path, M);
    report(name, median_ms([&] {
             grouped_gemm_cuda(gg, GroupedGemmOp::kForward, ye, xe, w, d_offs, M, C, H, 0);
           }),
           f, 0);
    report("grouped GEMM backward data", median_ms([&] {
             grouped_gemm_cuda(gg, GroupedGemmOp::kBackwardData, dxe, dye, w, d_offs, M, C, H, 0);
           }),
           f, 0);
    report("grouped GEMM backward weight", median_ms([&] {
             grouped_gemm_cuda(gg, GroupedGemmOp::kBackwardWeight, dw, dye, xe, d_offs, M, C, H, 0);
           }),
           f, 0);
    grouped_gemm_destroy(gg);
    cudaFree(d_offs), cudaFree(xe), cudaFree(w), cudaFree(dye), cudaFree(ye), cudaFree(dxe),
        cudaFree(dw);
  }

  {  // attention: sequences of 1024 tokens, 16 heads of MLA's 192/128
    const int T = 1024, B = std::max(1, N / T), NT = B * T, NH = 16, DQK = 192, DV = 128;
    std::vector<int> ss(B + 1);
    for (int b = 0; b <= B; b++) ss[b] = b * T;
    int* d_ss = nullptr;
    AHA_CUDA_CHECK(cudaMalloc(&d_ss, sizeof(int) * (B + 1)));
    AHA_CUDA_CHECK(cudaMemcpy(d_ss, ss.data(), sizeof(int) * (B + 1), cudaMemcpyHostToDevice));
    float* q = dev<float>(static_cast<size_t>(NT) * NH * DQK);
    float* k = dev<float>(static_cast<size_t>(NT) * NH * DQK);
    float* v = dev<float>(static_cast<size_t>(NT) * NH * DV);
    float* o = out<float>(static_cast<size_t>(NT) * NH * DV);
    float* lse = out<float>(static_cast<size_t>(NT) * NH);
    float* dq = out<float>(static_cast<size_t>(NT) * NH * DQK);
    float* dk = out<float>(static_cast<size_t>(NT) * NH * DQK);
    float* dv = out<float>(static_cast<size_t>(NT) * NH * DV);
    // The backward's workspace (bf16 copies of q, k, v, dout and rowdot) holds the forward's.
    size_t ws_bytes = attention_backward_workspace_size(NT, NH, NH, DQK, DV);
    void* ws = nullptr;
    AHA_CUDA_CHECK(cudaMalloc(&ws, ws_bytes));
    const float sc = 0.07f;
    // Causal: half the T x T scores; forward 2 GEMMs (S = QKᵀ, PV), backward 5 (S, dP = dO Vᵀ,
    // dQ, dK, dV: 3 over DQK, 2 over DV). The backward kernels recompute S and dP once more
    // (the dq and the dk/dv kernel each need them); that work is not counted.
    const double f = static_cast<double>(B) * NH * T * T / 2.0 * 2.0 * (DQK + DV);
    const double f_bwd = static_cast<double>(B) * NH * T * T / 2.0 * 2.0 * (3 * DQK + 2 * DV);
    report("attention_forward_cuda (bf16 tensor cores) T=1024, 16x192/128", median_ms([&] {
             attention_forward_cuda(o, lse, q, k, v, d_ss, B, NT, NH, NH, DQK, DV, sc, ws, ws_bytes,
                                    0);
           }),
           f, 0);
    report("attention_backward_cuda", median_ms([&] {
             attention_backward_cuda(dq, dk, dv, o, o, lse, q, k, v, d_ss, B, NT, NH, NH, DQK, DV,
                                     sc, ws, ws_bytes, 0);
           }),
           f_bwd, 0);
    cudaFree(d_ss), cudaFree(q), cudaFree(k), cudaFree(v), cudaFree(o), cudaFree(lse);
    cudaFree(dq), cudaFree(dk), cudaFree(dv), cudaFree(ws);
  }

  {  // decode attention over a paged bf16 latent cache: DeepSeek-V3's 128 heads of 512 + 64,
     // pages of 64 tokens in shuffled order; GB/s = bytes of cache, queries and outputs / time,
     // beside the device's own copy bandwidth (cudaMemcpy device to device, read + write).
    const long copy_n = 1l << 30;
    char* c0 = out<char>(copy_n);
    char* c1 = out<char>(copy_n);
    report("cudaMemcpy device to device, 1 GiB (copy bandwidth)", median_ms([&] {
             AHA_CUDA_CHECK(cudaMemcpyAsync(c1, c0, copy_n, cudaMemcpyDeviceToDevice, 0));
           }),
           0, 2.0 * copy_n);
    // The CUDA learner's weight download every update (fp32, 4 bytes a parameter) into pageable
    // host memory and into the page-locked copy it now keeps (Buffer::alloc_host_locked).
    const long host_n = 1l << 28;
    std::vector<char> pageable(host_n);
    report("weights to the host, 256 MiB, pageable memory", median_ms([&] {
             AHA_CUDA_CHECK(cudaMemcpy(pageable.data(), c0, host_n, cudaMemcpyDeviceToHost));
           }),
           0, host_n);
    char* locked = nullptr;
    AHA_CUDA_CHECK(cudaMallocHost(&locked, host_n));
    report("weights to the host, 256 MiB, page-locked memory", median_ms([&] {
             AHA_CUDA_CHECK(cudaMemcpy(locked, c0, host_n, cudaMemcpyDeviceToHost));
           }),
           0, host_n);
    cudaFreeHost(locked);
    cudaFree(c0), cudaFree(c1);
    const int NH = 128, R = 512, DR = 64, P = 64;
    DecodeAttention* da = decode_attention_create();
    const bool have_fi = mla_decode_uses_flashinfer(da, R, DR);
    for (int ctx0 : {1024, 4096}) {
      const int ctx = std::max(P, static_cast<int>(ctx0 * std::min(1.0, scale)) / P * P);
      for (int B : {1, 64, 256}) {
        const int pages_per_row = ctx / P, num_pages = B * pages_per_row;
        std::vector<int> indptr(B + 1), ids(num_pages), lens(B, ctx);
        for (int b = 0; b <= B; b++) indptr[b] = b * pages_per_row;
        for (int i = 0; i < num_pages; i++) ids[i] = i;
        for (int i = num_pages - 1; i > 0; i--)  // a fixed shuffle: pages far apart
          std::swap(ids[i], ids[(static_cast<unsigned long>(i) * 2654435761u) % (i + 1)]);
        int *d_ind = nullptr, *d_ids = nullptr, *d_lens = nullptr;
        AHA_CUDA_CHECK(cudaMalloc(&d_ind, sizeof(int) * (B + 1)));
        AHA_CUDA_CHECK(cudaMalloc(&d_ids, sizeof(int) * num_pages));
        AHA_CUDA_CHECK(cudaMalloc(&d_lens, sizeof(int) * B));
        AHA_CUDA_CHECK(
            cudaMemcpy(d_ind, indptr.data(), sizeof(int) * (B + 1), cudaMemcpyHostToDevice));
        AHA_CUDA_CHECK(
            cudaMemcpy(d_ids, ids.data(), sizeof(int) * num_pages, cudaMemcpyHostToDevice));
        AHA_CUDA_CHECK(cudaMemcpy(d_lens, lens.data(), sizeof(int) * B, cudaMemcpyHostToDevice));
        bf16* cache = dev<bf16>(static_cast<size_t>(num_pages) * P * (R + DR));
        bf16* ql = dev<bf16>(static_cast<size_t>(B) * NH * R);
        bf16* qr = dev<bf16>(static_cast<size_t>(B) * NH * DR);
        bf16* o = out<bf16>(static_cast<size_t>(B) * NH * R);
        const double bytes = 2.0 * (static_cast<double>(B) * ctx * (R + DR) +
                                    static_cast<double>(B) * NH * (2 * R + DR));
        char what[96];
        for (bool fi : {true, false}) {
          if (fi && !have_fi) continue;
          da->use_flashinfer = fi;
          // The plan is host work (plus a small copy): wall-clock time, 5 plans averaged.
          const auto t0 = std::chrono::steady_clock::now();
          for (int i = 0; i < 5; i++)
            mla_decode_plan_cuda(da, indptr.data(), lens.data(), B, NH, R, DR, 0);
          const std::chrono::duration<double, std::milli> dt =
              std::chrono::steady_clock::now() - t0;
          const double plan_ms = dt.count() / 5;
          std::snprintf(what, sizeof what, "mla_decode %s B=%d ctx=%d 128x(512+64)",
                        fi ? "FlashInfer" : "ours      ", B, ctx);
          report(what, median_ms([&] {
                   mla_decode_attention_cuda(da, o, ql, qr, cache, P, d_ind, d_ids, d_lens, B, NH,
                                             R, DR, 0.0723f, 0);
                 }),
                 0, bytes);
          if (fi) std::printf("  (its host-side plan: %.3f ms)\n", plan_ms);
        }
        da->use_flashinfer = have_fi;
        cudaFree(d_ind), cudaFree(d_ids), cudaFree(d_lens), cudaFree(cache), cudaFree(ql);
        cudaFree(qr), cudaFree(o);
      }
    }
    decode_attention_destroy(da);
  }

  {  // log-probs over DeepSeek-V3's vocabulary
    const int V = 129280, R = std::max(16, N / 4);
    float* logits = dev<float>(static_cast<size_t>(R) * V);
    float* dl = out<float>(static_cast<size_t>(R) * V);
    std::vector<int> t(R, 5);
    int* d_t = nullptr;
    AHA_CUDA_CHECK(cudaMalloc(&d_t, sizeof(int) * R));
    AHA_CUDA_CHECK(cudaMemcpy(d_t, t.data(), sizeof(int) * R, cudaMemcpyHostToDevice));
    float* lp = out<float>(R);
    float* lse = out<float>(R);
    float* ent = out<float>(R);
    const double bytes = 4.0 * R * V;
    report("logprob_forward_cuda (max pass + sum pass)",
           median_ms([&] { logprob_forward_cuda(lp, lse, ent, logits, d_t, R, V, 1.0f, 0); }), 0,
           2 * bytes);
    report("logprob_backward_cuda",
           median_ms([&] { logprob_backward_cuda(dl, lp, logits, lse, d_t, R, V, 1.0f, 0); }), 0,
           3 * bytes);
    cudaFree(logits), cudaFree(dl), cudaFree(d_t), cudaFree(lp), cudaFree(lse), cudaFree(ent);
  }

  {  // AdamW and the gradient norm over 1e9 * scale parameters
    const long n = static_cast<long>(1e9 * std::min(1.0, scale));
    float *p, *g, *m, *v;
    bf16* pb;
    AHA_CUDA_CHECK(cudaMalloc(&p, n * sizeof(float)));
    AHA_CUDA_CHECK(cudaMalloc(&g, n * sizeof(float)));
    AHA_CUDA_CHECK(cudaMalloc(&m, n * sizeof(float)));
    AHA_CUDA_CHECK(cudaMalloc(&v, n * sizeof(float)));
    AHA_CUDA_CHECK(cudaMalloc(&pb, n * sizeof(bf16)));
    AHA_CUDA_CHECK(cudaMemset(g, 0, n * sizeof(float)));
    AHA_CUDA_CHECK(cudaMemset(m, 0, n * sizeof(float)));
    AHA_CUDA_CHECK(cudaMemset(v, 0, n * sizeof(float)));
    AHA_CUDA_CHECK(cudaMemset(p, 0, n * sizeof(float)));
    std::vector<AdamWSegment> segs = {{0, n / 2, 0.1f}, {n / 2, n - n / 2, 0.0f}};
    AdamWSegment* d_segs = nullptr;
    AHA_CUDA_CHECK(cudaMalloc(&d_segs, sizeof(AdamWSegment) * 2));
    AHA_CUDA_CHECK(
        cudaMemcpy(d_segs, segs.data(), sizeof(AdamWSegment) * 2, cudaMemcpyHostToDevice));
    double* norm = nullptr;
    AHA_CUDA_CHECK(cudaMalloc(&norm, sizeof(double)));
    size_t ws_bytes = grad_norm_workspace_size(n);
    void* ws = nullptr;
    AHA_CUDA_CHECK(cudaMalloc(&ws, ws_bytes));
    AdamWParams ap;
    report("grad_norm_cuda", median_ms([&] { grad_norm_cuda(norm, g, n, ws, ws_bytes, 0); }), 0,
           4.0 * n);
    report("adamw_update_cuda (fp32 master + bf16 copy)", median_ms([&] {
             adamw_update_cuda(p, pb, g, m, v, n, d_segs, 2, 1, ap, norm, 1.0f, 0);
           }),
           0, 4.0 * n * 7 + 2.0 * n);
    cudaFree(p), cudaFree(g), cudaFree(m), cudaFree(v), cudaFree(pb), cudaFree(d_segs);
    cudaFree(norm), cudaFree(ws);
  }
  {  // the sampler: B rows of V logits (N(0, 3)), greedy / plain / truncated, one block per row
    const int max_b = 256;
    for (int V : {32000, 129280}) {
      std::vector<float> h(static_cast<size_t>(max_b) * V);
      Rng rng{static_cast<uint64_t>(V)};
      for (float& x : h) x = static_cast<float>(3.0 * rng.normal());
      float* logits = nullptr;
      AHA_CUDA_CHECK(cudaMalloc(&logits, h.size() * sizeof(float)));
      AHA_CUDA_CHECK(
          cudaMemcpy(logits, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice));
      SamplingRow* rows = nullptr;
      SampledToken* toks = out<SampledToken>(max_b);
      AHA_CUDA_CHECK(cudaMalloc(&rows, max_b * sizeof(SamplingRow)));
      struct Mode {
        const char* name;
        SamplingRow row;
      };
      const Mode modes[] = {{"greedy", {0.0f, 1.0f, 0, 0.0f, 1, 0, 0}},
                            {"T=1", {1.0f, 1.0f, 0, 0.0f, 1, 0, 0}},
                            {"top-k 50, top-p 0.9, min-p 0.05", {1.0f, 0.9f, 50, 0.05f, 1, 0, 0}},
                            {"top-p 0.9", {1.0f, 0.9f, 0, 0.0f, 1, 0, 0}}};
      for (const Mode& m : modes) {
        std::vector<SamplingRow> hr(max_b, m.row);
        for (int b = 0; b < max_b; b++) hr[b].stream = b;
        AHA_CUDA_CHECK(
            cudaMemcpy(rows, hr.data(), max_b * sizeof(SamplingRow), cudaMemcpyHostToDevice));
        for (int B : {1, 64, 256}) {
          char what[128];
          std::snprintf(what, sizeof(what), "sample_tokens_cuda B=%d V=%d %s", B, V, m.name);
          report(what, median_ms([&] { sample_tokens_cuda(logits, B, V, rows, toks, 0); }), 0,
                 4.0 * B * V);
        }
      }
      cudaFree(logits), cudaFree(rows), cudaFree(toks);
    }
  }
  AHA_CUDA_CHECK(cudaDeviceSynchronize());
  return 0;
}
