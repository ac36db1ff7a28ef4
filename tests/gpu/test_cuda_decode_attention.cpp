// The CUDA decode attention (kernels/cuda/ops.h) equals the CPU op (kernels/attention.h) over
// paged caches: MLA at DeepSeek's 512 + 64 (FlashInfer's kernel when the build has it, and ours
// with it switched off) and at other latent dims (ours), grouped-query heads (ours); 1, 16 and 128
// heads; batches mixing lengths 0, 1, 63, 64, 65, 200 and 1000; page tables of shuffled page ids
// with unused pages between them and prompt pages shared by several rows (a group's samples).
//
// Both sides see the same bf16 values (the CPU op gets them widened to fp32), so the difference
// is the GPU's rounding only. Output rounded to bf16: |ref| * 2^-8 (gpu_util's check_close). On
// top of that, atol relative to the largest value a row averages, max|v|: FlashInfer rounds the
// softmax weights to bf16 for its P·V MMA and stores the partial outputs of split rows in bf16,
// each a relative 2^-9 of a weighted mean of v, hence 2^-8 * max|v|; our kernel keeps weights
// and sums in fp32, hence a tight 2^-14 * max|v| (expf and summation order only).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/attention.h"
#include "kernels/rng.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/gpu_util.h"

using namespace aha;
using gpu_test::bit_equal;
using gpu_test::check_close;
using gpu_test::Dev;
using gpu_test::make_pages;
using gpu_test::Pages;
using gpu_test::randn;

namespace {

const std::vector<int> kLens = {0, 1, 63, 64, 65, 200, 1000};

float max_abs(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

std::vector<float> widen(const std::vector<__nv_bfloat16>& v) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); i++) r[i] = __bfloat162float(v[i]);
  return r;
}

void mla_case(DecodeAttention* d, int NH, int R, int DR, int P, const std::vector<int>& lens) {
  const bool fi = mla_decode_uses_flashinfer(d, R, DR);
  INFO("MLA NH=" << NH << " R=" << R << " DR=" << DR << " P=" << P
                 << (fi ? " (FlashInfer)" : " (ours)"));
  const Pages pg = make_pages(lens, P, 7 + NH + R);
  const int B = static_cast<int>(pg.lens.size()), W = R + DR;
  const float scale = 1.0f / std::sqrt(static_cast<float>(R / 4 + DR));  // DeepSeek: 1/sqrt(192)
  std::vector<float> q_lat = gpu_test::rounded_bf16(randn(size_t(B) * NH * R, 41 + NH, 0.5));
  std::vector<float> q_rope = gpu_test::rounded_bf16(randn(size_t(B) * NH * DR, 42 + NH, 0.5));
  std::vector<float> cache =
      gpu_test::rounded_bf16(randn(size_t(pg.num_pages) * P * W, 43 + R, 1.0));
  std::vector<float> ref(size_t(B) * NH * R);
  mla_decode_attention(ref.data(), q_lat.data(), q_rope.data(), cache.data(), P, pg.indptr.data(),
                       pg.ids.data(), pg.lens.data(), B, NH, R, DR, scale);

  Dev<__nv_bfloat16> dQL(gpu_test::to_bf16(q_lat)), dQR(gpu_test::to_bf16(q_rope)),
      dC(gpu_test::to_bf16(cache)), dO(ref.size());
  Dev<int> dI(pg.indptr), dIds(pg.ids), dL(pg.lens);
  mla_decode_plan_cuda(d, pg.indptr.data(), pg.lens.data(), B, NH, R, DR, 0);
  mla_decode_attention_cuda(d, dO.p, dQL.p, dQR.p, dC.p, P, dI.p, dIds.p, dL.p, B, NH, R, DR, scale,
                            0);
  const std::vector<__nv_bfloat16> got = dO.download();
  const double atol = std::ldexp(static_cast<double>(max_abs(cache)), fi ? -8 : -14);
  check_close(widen(got), ref, atol, "out_lat");
  // Deterministic: a second run is bit-identical.
  mla_decode_attention_cuda(d, dO.p, dQL.p, dQR.p, dC.p, P, dI.p, dIds.p, dL.p, B, NH, R, DR, scale,
                            0);
  CHECK(bit_equal(dO.download(), got));
  if (!fi && B > 5) {
    // Batch-invariant: row 5 alone gives the bits it got inside the batch.
    const int b = 5, n = pg.indptr[b + 1] - pg.indptr[b];
    std::vector<int> ind1 = {0, n},
                     ids1(pg.ids.begin() + pg.indptr[b], pg.ids.begin() + pg.indptr[b + 1]),
                     len1 = {pg.lens[b]};
    Dev<int> dI1(ind1), dIds1(ids1), dL1(len1);
    Dev<__nv_bfloat16> dO1(size_t(NH) * R);
    mla_decode_plan_cuda(d, ind1.data(), len1.data(), 1, NH, R, DR, 0);
    mla_decode_attention_cuda(d, dO1.p, dQL.p + size_t(b) * NH * R, dQR.p + size_t(b) * NH * DR,
                              dC.p, P, dI1.p, dIds1.p, dL1.p, 1, NH, R, DR, scale, 0);
    const std::vector<__nv_bfloat16> one = dO1.download();
    CHECK(bit_equal(one, std::vector<__nv_bfloat16>(got.begin() + size_t(b) * NH * R,
                                                    got.begin() + size_t(b + 1) * NH * R)));
  }
}

void gqa_case(int NH, int NKV, int D, int P, const std::vector<int>& lens) {
  INFO("GQA NH=" << NH << " NKV=" << NKV << " D=" << D << " P=" << P);
  const Pages pg = make_pages(lens, P, 11 + NH + D);
  const int B = static_cast<int>(pg.lens.size()), W = 2 * NKV * D;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  std::vector<float> q = gpu_test::rounded_bf16(randn(size_t(B) * NH * D, 51 + NH, 1.0));
  std::vector<float> cache =
      gpu_test::rounded_bf16(randn(size_t(pg.num_pages) * P * W, 52 + D, 1.0));
  std::vector<float> ref(size_t(B) * NH * D);
  gqa_decode_attention(ref.data(), q.data(), cache.data(), P, pg.indptr.data(), pg.ids.data(),
                       pg.lens.data(), B, NH, NKV, D, scale);
  Dev<__nv_bfloat16> dQ(gpu_test::to_bf16(q)), dC(gpu_test::to_bf16(cache)), dO(ref.size());
  Dev<int> dI(pg.indptr), dIds(pg.ids), dL(pg.lens);
  gqa_decode_attention_cuda(dO.p, dQ.p, dC.p, P, dI.p, dIds.p, dL.p, B, NH, NKV, D, scale, 0);
  const std::vector<__nv_bfloat16> got = dO.download();
  check_close(widen(got), ref, std::ldexp(static_cast<double>(max_abs(cache)), -14), "out");
  gqa_decode_attention_cuda(dO.p, dQ.p, dC.p, P, dI.p, dIds.p, dL.p, B, NH, NKV, D, scale, 0);
  CHECK(bit_equal(dO.download(), got));
}

}  // namespace

TEST_CASE("MLA decode at DeepSeek's 512 + 64: FlashInfer's kernel (when built) against the CPU") {
  DecodeAttention* d = decode_attention_create();
#ifdef AHA_HAVE_FLASHINFER
  int major = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  if (major >= 8) CHECK(mla_decode_uses_flashinfer(d, 512, 64));
#endif
  for (int NH : {1, 16, 128}) mla_case(d, NH, 512, 64, 64, kLens);
  mla_case(d, 16, 512, 64, 16, kLens);  // FlashInfer's page size is free too
  // A batch of nothing but empty rows.
  mla_case(d, 16, 512, 64, 64, {0, 0, 0});
  decode_attention_destroy(d);
}

TEST_CASE("MLA decode at 512 + 64 through our kernel") {
  DecodeAttention* d = decode_attention_create();
  d->use_flashinfer = false;
  for (int NH : {1, 16, 128}) mla_case(d, NH, 512, 64, 64, kLens);
  decode_attention_destroy(d);
}

TEST_CASE("MLA decode at other latent dims (our kernel)") {
  DecodeAttention* d = decode_attention_create();
  CHECK(!mla_decode_uses_flashinfer(d, 32, 16));
  for (int NH : {1, 16, 128}) mla_case(d, NH, 32, 16, 64, kLens);
  mla_case(d, 16, 128, 32, 16, kLens);
  mla_case(d, 4, 29, 6, 1, kLens);  // odd sizes: scalar staging; P = 1 (a plain list of rows)
  decode_attention_destroy(d);
}

TEST_CASE("GQA decode (our kernel)") {
  for (int NH : {1, 16, 128}) gqa_case(NH, NH >= 8 ? 8 : 1, 128, 64, kLens);
  gqa_case(16, 4, 64, 16, kLens);
  gqa_case(6, 3, 20, 5, kLens);  // group of 2, odd page size
}
