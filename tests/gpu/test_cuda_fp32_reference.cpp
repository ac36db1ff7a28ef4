// The fp32 test mode's kernels (kernels/cuda/fp32_reference.h) equal their CPU ops on random
// inputs: packed causal attention (GQA 4/2, MLA's 192/128 dims, odd dims, one token, sequences of
// length 1 and 0, sequences longer than a block's chunk of keys), MLA decode at R = 48, DR = 8 and
// at DeepSeek's 512 + 64, GQA decode (rows of length 0, pages of 64 tokens and of 1), row scatter
// with out-of-range destinations, the routed experts' SwiGLU FFNs (an expert with no rows, rows
// outside every expert) and the linear layer. fp32 against fp32: only the summation order and
// expf differ, so the bound is |got - ref| <= 1e-5 * (1 + |ref|). Outputs start as NaN, so an
// element a kernel forgets to write fails; a second launch must give identical bits.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cuda/fp32_reference.h"
#include "kernels/linear.h"
#include "kernels/moe.h"
#include "kernels/rng.h"
#include "kernels/rows.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/gpu_util.h"

using namespace aha;
using gpu_test::bit_equal;
using gpu_test::Dev;
using gpu_test::make_pages;
using gpu_test::Pages;
using gpu_test::randn;

namespace {

constexpr double kTol = 1e-5;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Every element within kTol * (1 + |ref|) (NaN fails); reports the worst one.
void check_f32(const std::vector<float>& got, const std::vector<float>& ref,
               const std::string& what) {
  REQUIRE(got.size() == ref.size());
  bool ok = true;
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    const double bound = kTol * (1.0 + std::fabs(static_cast<double>(ref[i])));
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    if (!(err <= bound)) {
      ok = false;
      if (!(err / bound <= worst)) {
        worst = err / bound;
        worst_i = i;
      }
    }
  }
  INFO(what << ": worst element " << worst_i << " got " << (ref.empty() ? 0 : got[worst_i])
            << " want " << (ref.empty() ? 0 : ref[worst_i]) << " (" << worst << " x the bound)");
  CHECK(ok);
}

std::vector<float> nans(size_t n) {
  return std::vector<float>(n, kNaN);
}

// ---- packed causal attention

void attention_case(const std::vector<int>& lens, int NH, int NKV, int DQK, int DV) {
  INFO("attention NH=" << NH << " NKV=" << NKV << " DQK=" << DQK << " DV=" << DV);
  const int B = static_cast<int>(lens.size());
  std::vector<int> seq_start(B + 1, 0);
  for (int b = 0; b < B; b++) seq_start[b + 1] = seq_start[b] + lens[b];
  const int N = seq_start[B];
  const float scale = 1.0f / std::sqrt(static_cast<float>(DQK));
  const std::vector<float> q = randn(size_t(N) * NH * DQK, 11 + DQK, 0.5);
  const std::vector<float> k = randn(size_t(N) * NKV * DQK, 12 + DQK, 1.0);
  const std::vector<float> v = randn(size_t(N) * NKV * DV, 13 + DV, 1.0);
  std::vector<float> out(size_t(N) * NH * DV), lse(size_t(N) * NH);
  attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), seq_start.data(), B, NH,
                    NKV, DQK, DV, scale);

  Dev<float> dq(q), dk(k), dv(v), dout(nans(out.size())), dlse(nans(lse.size()));
  Dev<int> dss(seq_start);
  attention_forward_f32_cuda(dout.p, dlse.p, dq.p, dk.p, dv.p, dss.p, B, N, NH, NKV, DQK, DV, scale,
                             0);
  const std::vector<float> got = dout.download(), got_lse = dlse.download();
  check_f32(got, out, "out");
  check_f32(got_lse, lse, "lse");
  attention_forward_f32_cuda(dout.p, dlse.p, dq.p, dk.p, dv.p, dss.p, B, N, NH, NKV, DQK, DV, scale,
                             0);
  CHECK(bit_equal(dout.download(), got));
  CHECK(bit_equal(dlse.download(), got_lse));
}

// ---- decode attention over a paged cache

const std::vector<int> kLens = {0, 1, 63, 64, 65, 200, 1000};

void mla_case(int NH, int R, int DR, int P, const std::vector<int>& lens) {
  INFO("MLA decode NH=" << NH << " R=" << R << " DR=" << DR << " P=" << P);
  const Pages pg = make_pages(lens, P, 21 + R + P);  // rows sharing pages appended
  const int B = static_cast<int>(pg.lens.size()), W = R + DR;
  const float scale = 1.0f / std::sqrt(static_cast<float>(R / 4 + DR));
  const std::vector<float> q_lat = randn(size_t(B) * NH * R, 22 + NH, 0.5);
  const std::vector<float> q_rope = randn(size_t(B) * NH * DR, 23 + NH, 0.5);
  const std::vector<float> cache = randn(size_t(pg.num_pages) * P * W, 24 + R, 1.0);
  std::vector<float> ref(size_t(B) * NH * R);
  mla_decode_attention(ref.data(), q_lat.data(), q_rope.data(), cache.data(), P, pg.indptr.data(),
                       pg.ids.data(), pg.lens.data(), B, NH, R, DR, scale);

  Dev<float> dql(q_lat), dqr(q_rope), dc(cache), dout(nans(ref.size()));
  Dev<int> di(pg.indptr), dids(pg.ids), dl(pg.lens);
  mla_decode_attention_f32_cuda(dout.p, dql.p, dqr.p, dc.p, P, di.p, dids.p, dl.p, B, NH, R, DR,
                                scale, 0);
  const std::vector<float> got = dout.download();
  check_f32(got, ref, "out_lat");
  mla_decode_attention_f32_cuda(dout.p, dql.p, dqr.p, dc.p, P, di.p, dids.p, dl.p, B, NH, R, DR,
                                scale, 0);
  CHECK(bit_equal(dout.download(), got));
}

void gqa_case(int NH, int NKV, int D, int P, const std::vector<int>& lens) {
  INFO("GQA decode NH=" << NH << " NKV=" << NKV << " D=" << D << " P=" << P);
  const Pages pg = make_pages(lens, P, 31 + D + P);  // rows sharing pages appended
  const int B = static_cast<int>(pg.lens.size()), W = 2 * NKV * D;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const std::vector<float> q = randn(size_t(B) * NH * D, 32 + NH, 1.0);
  const std::vector<float> cache = randn(size_t(pg.num_pages) * P * W, 33 + D, 1.0);
  std::vector<float> ref(size_t(B) * NH * D);
  gqa_decode_attention(ref.data(), q.data(), cache.data(), P, pg.indptr.data(), pg.ids.data(),
                       pg.lens.data(), B, NH, NKV, D, scale);

  Dev<float> dq(q), dc(cache), dout(nans(ref.size()));
  Dev<int> di(pg.indptr), dids(pg.ids), dl(pg.lens);
  gqa_decode_attention_f32_cuda(dout.p, dq.p, dc.p, P, di.p, dids.p, dl.p, B, NH, NKV, D, scale, 0);
  const std::vector<float> got = dout.download();
  check_f32(got, ref, "out");
  gqa_decode_attention_f32_cuda(dout.p, dq.p, dc.p, P, di.p, dids.p, dl.p, B, NH, NKV, D, scale, 0);
  CHECK(bit_equal(dout.download(), got));
}

// ---- routed experts

// Rows [offsets[0], offsets[E]) of M go through the experts; the others keep their sentinel.
void moe_case(const std::vector<int>& offsets, int M, int C, int H) {
  const int E = static_cast<int>(offsets.size()) - 1;
  INFO("MoE experts E=" << E << " M=" << M << " C=" << C << " H=" << H);
  const std::vector<float> xe = randn(size_t(M) * C, 41 + C, 1.0);
  const std::vector<float> w_gate = randn(size_t(E) * H * C, 42 + H, 1.0 / std::sqrt(C));
  const std::vector<float> w_up = randn(size_t(E) * H * C, 43 + H, 1.0 / std::sqrt(C));
  const std::vector<float> w_down = randn(size_t(E) * C * H, 44 + H, 1.0 / std::sqrt(H));
  // The same sentinel on both sides: rows outside every expert must come back untouched.
  std::vector<float> ye(size_t(M) * C, 7.0f), g(size_t(M) * H, 7.0f), u(g), a(g);
  Dev<float> dye(ye), dg(g), du(u), da(a);
  moe_experts_forward(ye.data(), g.data(), u.data(), a.data(), xe.data(), w_gate.data(),
                      w_up.data(), w_down.data(), offsets.data(), E, C, H);

  Dev<float> dxe(xe), dwg(w_gate), dwu(w_up), dwd(w_down);
  Dev<int> doff(offsets);
  moe_experts_forward_f32_cuda(dye.p, dg.p, du.p, da.p, dxe.p, dwg.p, dwu.p, dwd.p, doff.p, E, C, H,
                               M, 0);
  const std::vector<float> got_ye = dye.download(), got_g = dg.download(), got_u = du.download(),
                           got_a = da.download();
  check_f32(got_g, g, "he_gate");
  check_f32(got_u, u, "he_up");
  check_f32(got_a, a, "he_act");
  check_f32(got_ye, ye, "ye");
  moe_experts_forward_f32_cuda(dye.p, dg.p, du.p, da.p, dxe.p, dwg.p, dwu.p, dwd.p, doff.p, E, C, H,
                               M, 0);
  CHECK(bit_equal(dye.download(), got_ye));
  CHECK(bit_equal(dg.download(), got_g));
  CHECK(bit_equal(du.download(), got_u));
  CHECK(bit_equal(da.download(), got_a));
}

void linear_case(int N, int IC, int OC) {
  INFO("linear N=" << N << " IC=" << IC << " OC=" << OC);
  const std::vector<float> inp = randn(size_t(N) * IC, 51 + IC, 1.0);
  const std::vector<float> w = randn(size_t(OC) * IC, 52 + OC, 1.0 / std::sqrt(IC));
  std::vector<float> ref(size_t(N) * OC);
  linear_forward(ref.data(), inp.data(), w.data(), N, IC, OC);
  Dev<float> di(inp), dw(w), dout(nans(ref.size()));
  linear_forward_f32_cuda(dout.p, di.p, dw.p, N, IC, OC, 0);
  const std::vector<float> got = dout.download();
  check_f32(got, ref, "out");
  linear_forward_f32_cuda(dout.p, di.p, dw.p, N, IC, OC, 0);
  CHECK(bit_equal(dout.download(), got));
}

}  // namespace

TEST_CASE("fp32 attention forward equals the CPU op") {
  attention_case({1}, 1, 1, 16, 16);                     // one token
  attention_case({1}, 6, 3, 13, 7);                      // one token, odd dims
  attention_case({1, 5, 33, 70, 0, 130}, 4, 2, 64, 64);  // GQA 4/2, beyond a chunk of 128 keys
  attention_case({0, 3, 0, 1, 200}, 6, 3, 13, 7);        // empty sequences in between, odd dims
  attention_case({40, 1, 130}, 4, 4, 192, 128);          // MLA's expanded head dims
}

TEST_CASE("fp32 MLA decode equals the CPU op") {
  for (int P : {64, 1}) {
    mla_case(4, 48, 8, P, kLens);
    mla_case(3, 512, 64, P, kLens);
  }
  mla_case(5, 29, 6, 5, kLens);    // odd dims and page size
  mla_case(4, 48, 8, 64, {0, 0});  // nothing but empty rows
}

TEST_CASE("fp32 GQA decode equals the CPU op") {
  for (int P : {64, 1}) gqa_case(4, 2, 64, P, kLens);
  gqa_case(6, 3, 20, 5, kLens);
  gqa_case(8, 8, 128, 16, kLens);
  gqa_case(4, 1, 33, 64, {0, 0, 0});
}

TEST_CASE("fp32 scatter_rows equals the CPU op, skipping rows out of range") {
  const int num_dst = 9, ld_dst = 13, ld_src = 11, cols = 10;
  const std::vector<int> dst_rows = {3, -1, 8, 9, 0, 5, 1000};
  const int rows = static_cast<int>(dst_rows.size());
  const std::vector<float> src = randn(size_t(rows) * ld_src, 61);
  std::vector<float> dst = randn(size_t(num_dst) * ld_dst, 62);
  Dev<float> dd(dst), ds(src);
  Dev<int> dr(dst_rows);
  // The CPU op checks its rows: give it the in-range ones with their source rows.
  std::vector<int> keep_rows;
  std::vector<float> keep_src;
  for (int r = 0; r < rows; r++) {
    if (dst_rows[r] < 0 || dst_rows[r] >= num_dst) continue;
    keep_rows.push_back(dst_rows[r]);
    keep_src.insert(keep_src.end(), src.begin() + size_t(r) * ld_src,
                    src.begin() + size_t(r + 1) * ld_src);
  }
  scatter_rows(dst.data(), ld_dst, keep_rows.data(), num_dst, keep_src.data(), ld_src,
               static_cast<int>(keep_rows.size()), cols);
  scatter_rows_f32_cuda(dd.p, ld_dst, dr.p, num_dst, ds.p, ld_src, rows, cols, 0);
  CHECK(bit_equal(dd.download(), dst));  // a copy: exact, and columns >= cols untouched
  scatter_rows_f32_cuda(dd.p, ld_dst, dr.p, num_dst, ds.p, ld_src, 0, cols, 0);  // nothing
  CHECK(bit_equal(dd.download(), dst));
}

TEST_CASE("fp32 MoE experts forward equals the CPU op") {
  moe_case({0, 3, 3, 10, 11}, 11, 24, 40);  // expert 1 has no rows
  moe_case({0, 0, 1, 1}, 1, 17, 9);         // one row, odd dims
  moe_case({2, 2, 5, 9}, 11, 32, 64);       // rows 0, 1, 9, 10 belong to no expert
  moe_case({0, 37, 37, 100}, 100, 64, 96);
}

TEST_CASE("fp32 linear forward equals the CPU op") {
  linear_case(1, 1, 1);
  linear_case(7, 33, 65);
  linear_case(64, 256, 96);
  linear_case(3, 1024, 5);
}
