// The CUDA MoE ops equal their CPU ops (kernels/moe.h): the router (softmax and sigmoid scoring,
// bias, group-limited top-k by group sum and group max, renormalisation, scaling, replay) and its
// backward, dispatch with an expert that receives no tokens, gather/combine and their backwards,
// and the grouped expert GEMM (CUTLASS where available and the SIMT kernel) against per-expert
// CPU linear layers on bf16-rounded operands.
#include <cuda_runtime.h>

#include <cmath>
#include <vector>

#include "kernels/linear.h"
#include "kernels/moe.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/gpu_util.h"

using namespace aha;
using gpu_test::check_close;
using gpu_test::Dev;
using gpu_test::randn;

namespace {

RouterParams params(int E, int K, ScoringFunc sf, int G, int TG, bool gmax, bool norm,
                    float scaling) {
  RouterParams p;
  p.E = E;
  p.K = K;
  p.scoring = sf;
  p.num_groups = G;
  p.topk_groups = TG;
  p.group_max = gmax;
  p.norm_topk_prob = norm;
  p.scaling = scaling;
  return p;
}

// Routes N tokens on both sides and checks scores, selection and weights. Expert `starved`
// (if >= 0) gets a bias no score can overcome, so it receives no tokens.
void check_router(const RouterParams& p, int N, bool with_bias, int starved,
                  std::vector<int>* idx_out, std::vector<float>* w_out) {
  const int E = p.E, K = p.K;
  std::vector<float> logits = randn(static_cast<size_t>(N) * E, 41, 2.0);
  std::vector<float> bias = randn(E, 42, 0.1);
  if (starved >= 0) bias[starved] = -100.0f;
  const float* bp = with_bias || starved >= 0 ? bias.data() : nullptr;
  std::vector<float> scores(logits.size()), w(static_cast<size_t>(N) * K);
  std::vector<int> idx(static_cast<size_t>(N) * K);
  moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), bp, N, p, true);
  Dev<float> dl(logits), db(bias), ds(scores.size()), dw(w.size());
  Dev<int> di(idx.size());
  moe_router_forward_cuda(ds.p, di.p, dw.p, dl.p, bp ? db.p : nullptr, N, p, true, 0);
  check_close(ds.download(), scores, 1e-6, "router scores");
  std::vector<int> gidx = di.download();
  std::vector<float> gw = dw.download();
  int mismatched = 0;
  for (int n = 0; n < N; n++) {
    bool same = true;
    for (int k = 0; k < K; k++) {
      const size_t i = static_cast<size_t>(n) * K + k;
      if (gidx[i] == idx[i]) continue;
      same = false;
      // Only a near-tie of s + bias may order differently (device expf vs host exp).
      auto c = [&](int e) { return scores[static_cast<size_t>(n) * E + e] + (bp ? bp[e] : 0.0f); };
      CHECK(gidx[i] >= 0);
      CHECK(gidx[i] < E);
      if (gidx[i] >= 0 && gidx[i] < E) CHECK(std::fabs(c(gidx[i]) - c(idx[i])) < 1e-6);
    }
    if (!same) {
      mismatched++;
      continue;
    }
    for (int k = 0; k < K; k++) {
      const size_t i = static_cast<size_t>(n) * K + k;
      CHECK(std::fabs(gw[i] - w[i]) <= 1e-6 + std::fabs(w[i]) * std::ldexp(1.0, -8));
    }
  }
  CHECK(mismatched <= N / 100);
  if (starved >= 0)
    for (int e : gidx) CHECK(e != starved);

  // Replay: the CPU's selection in, weights recomputed.
  Dev<int> dri(idx);
  Dev<float> drw(w.size());
  moe_router_forward_cuda(ds.p, dri.p, drw.p, dl.p, bp ? db.p : nullptr, N, p, false, 0);
  CHECK(gpu_test::bit_equal(dri.download(), idx));
  check_close(drw.download(), w, 1e-6, "router replay weights");

  // Backward from the CPU's forward.
  std::vector<float> dtw = randn(w.size(), 43), dlog = randn(logits.size(), 44);
  std::vector<float> dlog0 = dlog;
  moe_router_backward(dlog.data(), dtw.data(), scores.data(), idx.data(), N, p);
  Dev<float> ddtw(dtw), ddl(dlog0), dcs(scores);
  moe_router_backward_cuda(ddl.p, ddtw.p, dcs.p, dri.p, N, p, 0);
  check_close(ddl.download(), dlog, 1e-6, "router dlogits");
  if (idx_out) *idx_out = idx;
  if (w_out) *w_out = w;
}

}  // namespace

TEST_CASE("moe_router_cuda: scoring, bias, groups, renormalisation, replay, backward") {
  for (int N : {1, 37, 500}) {
    check_router(params(8, 2, ScoringFunc::kSoftmax, 1, 1, false, false, 1.0f), N, false, -1,
                 nullptr, nullptr);
    check_router(params(64, 6, ScoringFunc::kSigmoid, 8, 3, false, true, 2.5f), N, true, -1,
                 nullptr, nullptr);
    check_router(params(16, 4, ScoringFunc::kSoftmax, 4, 2, true, true, 1.0f), N, false, -1,
                 nullptr, nullptr);
    check_router(params(256, 8, ScoringFunc::kSigmoid, 8, 4, false, true, 2.5f), N, true, -1,
                 nullptr, nullptr);
    check_router(params(60, 4, ScoringFunc::kSoftmax, 1, 1, false, true, 1.0f), N, false, -1,
                 nullptr, nullptr);
  }
}

TEST_CASE("moe dispatch, gather, combine and the grouped GEMM, with an expert left empty") {
  struct S {
    int N, E, K, C, H;
  };
  // Aligned sizes take CUTLASS's path on an H100/H200; odd ones the SIMT kernel.
  for (S s :
       {S{1, 8, 2, 64, 32}, S{37, 8, 2, 64, 128}, S{300, 16, 4, 256, 96}, S{45, 6, 2, 33, 17}}) {
    INFO("N=" << s.N << " E=" << s.E << " C=" << s.C << " H=" << s.H);
    const int N = s.N, E = s.E, K = s.K, C = s.C, H = s.H, M = N * K;
    const int starved = 3;
    RouterParams p = params(E, K, ScoringFunc::kSigmoid, 1, 1, false, true, 1.0f);
    std::vector<int> idx;
    std::vector<float> tw;
    check_router(p, N, true, starved, &idx, &tw);

    std::vector<int> offs(E + 1), row_token(M), row_slot(M);
    std::vector<long> load(E, 5);
    moe_dispatch(offs.data(), row_token.data(), row_slot.data(), idx.data(), N, E, K, load.data());
    REQUIRE(offs[starved + 1] == offs[starved]);
    Dev<int> di(idx), doffs(E + 1), drt(M), drs(M), dsr(M);
    Dev<long> dload(std::vector<long>(E, 5));
    size_t ws_bytes = moe_dispatch_workspace_size(N, K);
    Dev<char> ws(ws_bytes);
    moe_dispatch_cuda(doffs.p, drt.p, drs.p, dsr.p, di.p, N, E, K, dload.p, ws.p, ws_bytes, 0);
    CHECK(gpu_test::bit_equal(doffs.download(), offs));
    CHECK(gpu_test::bit_equal(drt.download(), row_token));
    CHECK(gpu_test::bit_equal(drs.download(), row_slot));
    CHECK(gpu_test::bit_equal(dload.download(), load));
    std::vector<int> slot_row = dsr.download();
    for (int m = 0; m < M; m++) CHECK(slot_row[row_slot[m]] == m);

    // gather (fp32 and bf16) and its backward
    std::vector<float> x = randn(static_cast<size_t>(N) * C, 45);
    std::vector<float> xe(static_cast<size_t>(M) * C);
    moe_gather(xe.data(), x.data(), row_token.data(), M, C);
    Dev<float> dx(x), dxe(xe.size());
    Dev<bf16> dxe16(xe.size());
    moe_gather_cuda(dxe.p, dx.p, drt.p, M, C, 0);
    moe_gather_bf16_cuda(dxe16.p, dx.p, drt.p, M, C, 0);
    check_close(dxe.download(), xe, 0, "gather");
    std::vector<bf16> xe16 = dxe16.download();
    for (size_t i = 0; i < xe.size(); i++)
      CHECK(__bfloat162float(xe16[i]) == gpu_test::round_bf16(xe[i]));
    std::vector<float> dxe_in = randn(xe.size(), 46), dxr = randn(x.size(), 47);
    std::vector<float> dxr0 = dxr;
    moe_gather_backward(dxr.data(), dxe_in.data(), row_token.data(), M, C);
    Dev<float> ddxe(dxe_in), ddx(dxr0);
    moe_gather_backward_cuda(ddx.p, ddxe.p, dsr.p, N, K, C, 0);
    check_close(ddx.download(), dxr, 1e-6, "gather backward");

    // grouped GEMM: ye = xe · w_eᵀ (gate/up shape C -> H), then the two backward products
    std::vector<float> xr = gpu_test::rounded_bf16(xe);
    std::vector<float> w = gpu_test::rounded_bf16(randn(static_cast<size_t>(E) * H * C, 48, 0.2));
    std::vector<float> dy = gpu_test::rounded_bf16(randn(static_cast<size_t>(M) * H, 49));
    std::vector<float> ye(static_cast<size_t>(M) * H, 0.0f), dxg = randn(xe.size(), 50);
    std::vector<float> dw = randn(w.size(), 51);
    std::vector<float> dxg0 = dxg, dw0 = dw;
    const size_t esz = static_cast<size_t>(H) * C;
    for (int e = 0; e < E; e++) {
      const int r0 = offs[e], Me = offs[e + 1] - r0;
      if (Me == 0) continue;
      linear_forward(&ye[static_cast<size_t>(r0) * H], &xr[static_cast<size_t>(r0) * C],
                     &w[e * esz], Me, C, H);
      linear_backward(&dxg[static_cast<size_t>(r0) * C], &dw[e * esz],
                      &dy[static_cast<size_t>(r0) * H], &xr[static_cast<size_t>(r0) * C],
                      &w[e * esz], Me, C, H);
    }
    // The weights also 8 bytes past an aligned address, as a model's packed parameters put an
    // expert tensor after a 4-element bias: TMA cannot read that, the SIMT kernel must.
    std::vector<bf16> w16 = gpu_test::to_bf16(w);
    w16.insert(w16.begin(), 4, __float2bfloat16(0.0f));
    Dev<bf16> bxe(gpu_test::to_bf16(xr)), bw_aligned(gpu_test::to_bf16(w)), bw_shifted(w16);
    Dev<bf16> bdy(gpu_test::to_bf16(dy));
    GroupedGemm* gg = grouped_gemm_create(E);
    const bool have_cutlass = gg->use_cutlass;
    for (int shift : {0, 4})
      for (bool cutlass : {true, false}) {
        if (cutlass && !have_cutlass) continue;
        const char* path = cutlass ? "CUTLASS" : "SIMT";
        INFO(path, ", weights at +", shift, " elements");
        gg->use_cutlass = cutlass;
        const bf16* bw = shift ? bw_shifted.p + 4 : bw_aligned.p;
        Dev<float> dye(ye.size()), ddxg(dxg0), ddw(dw0);
        grouped_gemm_cuda(gg, GroupedGemmOp::kForward, dye.p, bxe.p, bw, doffs.p, M, C, H, 0);
        grouped_gemm_cuda(gg, GroupedGemmOp::kBackwardData, ddxg.p, bdy.p, bw, doffs.p, M, C, H, 0);
        grouped_gemm_cuda(gg, GroupedGemmOp::kBackwardWeight, ddw.p, bdy.p, bxe.p, doffs.p, M, C, H,
                          0);
        const double atol = 1e-5 * std::sqrt(static_cast<double>(std::max(C, std::max(H, M)))) * 10;
        check_close(dye.download(), ye, atol, "grouped forward");
        check_close(ddxg.download(), dxg, atol, "grouped backward data");
        check_close(ddw.download(), dw, atol, "grouped backward weight");
      }
    grouped_gemm_destroy(gg);

    // combine and its backward (C-wide expert outputs)
    std::vector<float> yc = randn(static_cast<size_t>(M) * C, 52), out = randn(x.size(), 53);
    std::vector<float> out0 = out;
    moe_combine(out.data(), yc.data(), tw.data(), row_token.data(), row_slot.data(), M, C);
    Dev<float> dyc(yc), dtw(tw), dout(out0);
    moe_combine_cuda(dout.p, dyc.p, dtw.p, dsr.p, N, K, C, 0);
    check_close(dout.download(), out, 1e-6, "combine");
    std::vector<float> g = randn(x.size(), 54), dyr(yc.size()), dtwr = randn(tw.size(), 55);
    std::vector<float> dtwr0 = dtwr;
    moe_combine_backward(dyr.data(), dtwr.data(), g.data(), yc.data(), tw.data(), row_token.data(),
                         row_slot.data(), M, C);
    Dev<float> dg(g), ddy(yc.size()), ddtw(dtwr0);
    moe_combine_backward_cuda(ddy.p, ddtw.p, dg.p, dyc.p, dtw.p, drt.p, drs.p, M, C, 0);
    check_close(ddy.download(), dyr, 1e-6, "combine backward dye");
    check_close(ddtw.download(), dtwr, 1e-5, "combine backward dtopk_weights");
  }
}

TEST_CASE("moe_balance_loss_cuda: loss and gradient against the CPU op; empty and 1-token rows") {
  struct Case {
    int E, K;
    ScoringFunc sf;
    std::vector<int> lens;
  };
  const std::vector<Case> cases = {
      {8, 2, ScoringFunc::kSoftmax, {5, 0, 1, 37}},
      {64, 6, ScoringFunc::kSigmoid, {1}},
      {256, 8, ScoringFunc::kSigmoid, {300, 0, 17, 1, 129}},
      {60, 4, ScoringFunc::kSoftmax, {0, 0}},
  };
  for (const Case& c : cases) {
    const RouterParams p = params(c.E, c.K, c.sf, 1, 1, false, true, 1.0f);
    std::vector<int> seq(1, 0);
    for (int len : c.lens) seq.push_back(seq.back() + len);
    const int B = static_cast<int>(c.lens.size()), N = seq.back();
    // Router scores and a selection as the router makes them.
    std::vector<float> logits = randn(static_cast<size_t>(N) * c.E, 51, 2.0);
    std::vector<float> scores(logits.size()), w(static_cast<size_t>(N) * c.K);
    std::vector<int> idx(static_cast<size_t>(N) * c.K);
    moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), nullptr, N, p, true);
    std::vector<float> dl = randn(logits.size(), 52);
    const std::vector<float> dl0 = dl;
    const float alpha = 0.37f;
    const double loss =
        moe_balance_loss(scores.data(), idx.data(), seq.data(), B, p, alpha, dl.data());
    Dev<float> ds(scores), ddl(dl0);
    Dev<int> di(idx), dseq(seq);
    Dev<double> dloss(std::vector<double>{0.5});  // the twin adds to it
    const size_t ws = moe_balance_loss_workspace_size(N, B, c.E);
    Dev<char> dws(std::vector<char>(ws, static_cast<char>(0xff)));  // NaN doubles
    moe_balance_loss_cuda(dloss.p, ddl.p, ds.p, di.p, dseq.p, B, N, p, alpha, dws.p, ws, 0);
    INFO("E " << c.E << " K " << c.K << " B " << B << " N " << N);
    const double got = dloss.download()[0] - 0.5;
    CHECK(std::fabs(got - loss) <= 1e-9 + 1e-9 * std::fabs(loss));
    check_close(ddl.download(), dl, 1e-7, "balance loss dlogits");
    // Loss only (the forward's call) leaves dlogits alone; two runs give the same bits.
    Dev<double> dl2(std::vector<double>{0.0}), dl3(std::vector<double>{0.0});
    moe_balance_loss_cuda(dl2.p, nullptr, ds.p, di.p, dseq.p, B, N, p, alpha, dws.p, ws, 0);
    moe_balance_loss_cuda(dl3.p, nullptr, ds.p, di.p, dseq.p, B, N, p, alpha, dws.p, ws, 0);
    CHECK(gpu_test::bit_equal(dl2.download(), dl3.download()));
    CHECK(std::fabs(dl2.download()[0] - loss) <= 1e-9 + 1e-9 * std::fabs(loss));
  }
}
