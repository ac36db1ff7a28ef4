// The CUDA twins of the dense kernels equal their CPU ops over a sweep of shapes (odd sizes, one
// token): casts, embedding, RMSNorm and QK-norm, SwiGLU, RoPE (both layouts, YaRN), bias,
// linear through cuBLASLt, log-probs, AdamW and the gradient norm. Tolerance atol + |ref| 2^-8.
#include <cuda_runtime.h>

#include <cmath>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/embedding.h"
#include "kernels/linear.h"
#include "kernels/logprob.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/gpu_util.h"

using namespace aha;
using gpu_test::check_close;
using gpu_test::Dev;
using gpu_test::randn;

TEST_CASE("cast_to_bf16_cuda rounds to nearest even and back") {
  std::vector<float> x = randn(1001, 1, 10.0);
  Dev<float> dx(x);
  Dev<bf16> db(x.size());
  Dev<float> dy(x.size());
  cast_to_bf16_cuda(db.p, dx.p, static_cast<long>(x.size()), 0);
  cast_to_f32_cuda(dy.p, db.p, static_cast<long>(x.size()), 0);
  std::vector<float> y = dy.download();
  for (size_t i = 0; i < x.size(); i++) CHECK(y[i] == gpu_test::round_bf16(x[i]));
}

TEST_CASE("embedding forward and backward (repeated ids, one token)") {
  for (int N : {1, 7, 300}) {
    const int V = 37, C = 65;
    std::vector<int> tok(N);
    for (int n = 0; n < N; n++) tok[n] = (n * 7 + 3) % V;  // ids repeat
    std::vector<float> wte = randn(static_cast<size_t>(V) * C, 2);
    std::vector<float> dout = randn(static_cast<size_t>(N) * C, 3);
    std::vector<float> out(static_cast<size_t>(N) * C), dwte = randn(wte.size(), 4);
    std::vector<float> dwte0 = dwte;
    embedding_forward(out.data(), tok.data(), wte.data(), N, V, C);
    embedding_backward(dwte.data(), dout.data(), tok.data(), N, C);
    Dev<int> dtok(tok);
    Dev<float> dw(wte), dd(dout), dgot(out.size()), ddw(dwte0);
    size_t ws_bytes = embedding_backward_workspace_size(N);
    Dev<char> ws(ws_bytes);
    embedding_forward_cuda(dgot.p, dtok.p, dw.p, N, V, C, 0);
    embedding_backward_cuda(ddw.p, dd.p, dtok.p, N, V, C, ws.p, ws_bytes, 0);
    check_close(dgot.download(), out, 0, "embedding out");
    std::vector<float> got = ddw.download();
    check_close(got, dwte, 1e-5, "embedding dwte");
    // Deterministic: the same again from the same start gives the same bits.
    ddw.upload(dwte0);
    embedding_backward_cuda(ddw.p, dd.p, dtok.p, N, V, C, ws.p, ws_bytes, 0);
    CHECK(gpu_test::bit_equal(ddw.download(), got));
  }
}

TEST_CASE("rmsnorm forward and backward, rows of a model and QK-norm heads") {
  struct S {
    int N, C;
  };
  for (S s : {S{1, 64}, S{5, 7168}, S{33, 129}, S{17 * 8, 128}}) {
    const size_t NC = static_cast<size_t>(s.N) * s.C;
    std::vector<float> x = randn(NC, 5, 2.0), w = randn(s.C, 6), dout = randn(NC, 7);
    std::vector<float> out(NC), rstd(s.N), dx = randn(NC, 8), dw = randn(s.C, 9);
    std::vector<float> dx0 = dx, dw0 = dw;
    rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), s.N, s.C, 1e-6f);
    rmsnorm_backward(dx.data(), dw.data(), dout.data(), x.data(), w.data(), rstd.data(), s.N, s.C);
    Dev<float> dX(x), dW(w), dD(dout), dO(NC), dR(s.N), dDX(dx0), dDW(dw0);
    size_t ws_bytes = rmsnorm_backward_workspace_size(s.N, s.C);
    Dev<char> ws(ws_bytes);
    rmsnorm_forward_cuda(dO.p, dR.p, dX.p, dW.p, s.N, s.C, 1e-6f, 0);
    rmsnorm_backward_cuda(dDX.p, dDW.p, dD.p, dX.p, dW.p, dR.p, s.N, s.C, ws.p, ws_bytes, 0);
    check_close(dO.download(), out, 1e-6, "rmsnorm out");
    check_close(dR.download(), rstd, 1e-6, "rmsnorm rstd");
    check_close(dDX.download(), dx, 1e-5, "rmsnorm dinp");
    check_close(dDW.download(), dw, 1e-4, "rmsnorm dweight");
  }
}

TEST_CASE("swiglu forward and backward") {
  for (long N : {1L, 100003L}) {
    std::vector<float> g = randn(N, 10, 3.0), u = randn(N, 11), d = randn(N, 12);
    std::vector<float> out(N), dg = randn(N, 13), du = randn(N, 14);
    std::vector<float> dg0 = dg, du0 = du;
    swiglu_forward(out.data(), g.data(), u.data(), N);
    swiglu_backward(dg.data(), du.data(), d.data(), g.data(), u.data(), N);
    Dev<float> dG(g), dU(u), dD(d), dO(N), dDG(dg0), dDU(du0);
    swiglu_forward_cuda(dO.p, dG.p, dU.p, N, 0);
    swiglu_backward_cuda(dDG.p, dDU.p, dD.p, dG.p, dU.p, N, 0);
    check_close(dO.download(), out, 1e-6, "swiglu out");
    check_close(dDG.download(), dg, 1e-6, "swiglu dgate");
    check_close(dDU.download(), du, 1e-6, "swiglu dup");
  }
}

TEST_CASE("rope forward and backward: interleaved and rotate-half, YaRN frequencies") {
  RopeScaling yarn;
  yarn.type = RopeType::kYarn;
  yarn.factor = 40;
  yarn.original_max_position_embeddings = 4096;
  yarn.mscale = 1.0;
  yarn.mscale_all_dim = 1.0;
  for (bool interleaved : {true, false}) {
    for (const RopeScaling& sc : {RopeScaling{}, yarn}) {
      const int N = 19, H = 3, D = 64, head_stride = 96, token_stride = H * head_stride;
      std::vector<double> inv_freq(D / 2);
      const float af = static_cast<float>(rope_frequencies(inv_freq.data(), D, 10000.0, sc));
      std::vector<int> pos(N);
      for (int n = 0; n < N; n++) pos[n] = n * 5003 % 100000;  // large positions
      std::vector<float> x = randn(static_cast<size_t>(N) * token_stride, 15);
      std::vector<float> ref = x, back = x;
      rope_forward(ref.data(), pos.data(), N, H, token_stride, head_stride, D, inv_freq.data(), af,
                   interleaved);
      rope_backward(back.data(), pos.data(), N, H, token_stride, head_stride, D, inv_freq.data(),
                    af, interleaved);
      Dev<float> dx(x), db(x);
      Dev<int> dpos(pos);
      Dev<double> dfreq(inv_freq);
      rope_forward_cuda(dx.p, dpos.p, N, H, token_stride, head_stride, D, dfreq.p, af, interleaved,
                        0);
      rope_backward_cuda(db.p, dpos.p, N, H, token_stride, head_stride, D, dfreq.p, af, interleaved,
                         0);
      check_close(dx.download(), ref, 1e-6, "rope forward");
      check_close(db.download(), back, 1e-6, "rope backward");
    }
  }
}

TEST_CASE("linear through cuBLASLt and bias, forward and backward, on bf16-rounded operands") {
  struct S {
    int N, IC, OC;
  };
  Blas* blas = blas_create();
  for (S s : {S{1, 64, 32}, S{37, 129, 67}, S{256, 512, 384}, S{3, 7, 5}}) {
    // The CPU reference sees the same bf16-rounded operands, so only accumulation differs.
    std::vector<float> x = gpu_test::rounded_bf16(randn(static_cast<size_t>(s.N) * s.IC, 16));
    std::vector<float> w = gpu_test::rounded_bf16(randn(static_cast<size_t>(s.OC) * s.IC, 17));
    std::vector<float> d = gpu_test::rounded_bf16(randn(static_cast<size_t>(s.N) * s.OC, 18));
    std::vector<float> bias = randn(s.OC, 19);
    std::vector<float> out(static_cast<size_t>(s.N) * s.OC);
    std::vector<float> dx = randn(x.size(), 20), dw = randn(w.size(), 21), db = randn(s.OC, 22);
    std::vector<float> dx0 = dx, dw0 = dw, db0 = db;
    linear_forward(out.data(), x.data(), w.data(), s.N, s.IC, s.OC);
    bias_forward(out.data(), bias.data(), s.N, s.OC);
    linear_backward(dx.data(), dw.data(), d.data(), x.data(), w.data(), s.N, s.IC, s.OC);
    bias_backward(db.data(), d.data(), s.N, s.OC);
    Dev<bf16> bx(gpu_test::to_bf16(x)), bw(gpu_test::to_bf16(w)), bd(gpu_test::to_bf16(d));
    Dev<float> dO(out.size()), dB(bias), dDX(dx0), dDW(dw0), dDB(db0), dD(d);
    linear_forward_cuda(blas, dO.p, bx.p, bw.p, s.N, s.IC, s.OC, 0);
    bias_forward_cuda(dO.p, dB.p, s.N, s.OC, 0);
    linear_backward_cuda(blas, dDX.p, dDW.p, bd.p, bx.p, bw.p, s.N, s.IC, s.OC, 0);
    bias_backward_cuda(dDB.p, dD.p, s.N, s.OC, 0);
    const double atol = 1e-5 * std::sqrt(static_cast<double>(std::max(s.IC, std::max(s.OC, s.N))));
    check_close(dO.download(), out, atol * 10, "linear out");
    check_close(dDX.download(), dx, atol * 10, "linear dinp");
    check_close(dDW.download(), dw, atol * 10, "linear dweight");
    check_close(dDB.download(), db, 1e-5, "bias dbias");
  }
  blas_destroy(blas);
}

TEST_CASE("logprob forward and backward over a large vocabulary, targets < 0 skipped") {
  struct S {
    int N, V;
  };
  for (S s : {S{1, 5}, S{9, 129280}, S{40, 1001}}) {
    const size_t NV = static_cast<size_t>(s.N) * s.V;
    std::vector<float> logits = randn(NV, 23, 4.0);
    std::vector<int> tgt(s.N);
    for (int n = 0; n < s.N; n++) tgt[n] = n % 4 == 3 ? -1 : (n * 7919) % s.V;
    std::vector<float> dlogp = randn(s.N, 24);
    const float inv_temp = 1.0f / 0.7f;
    std::vector<float> logp(s.N), lse(s.N), ent(s.N), dl = randn(NV, 25);
    std::vector<float> dl0 = dl;
    logprob_forward(logp.data(), lse.data(), ent.data(), logits.data(), tgt.data(), s.N, s.V,
                    inv_temp);
    logprob_backward(dl.data(), dlogp.data(), logits.data(), lse.data(), tgt.data(), s.N, s.V,
                     inv_temp);
    Dev<float> dL(logits), dLP(s.N), dLSE(s.N), dENT(s.N), dDLP(dlogp), dDL(dl0);
    Dev<int> dT(tgt);
    logprob_forward_cuda(dLP.p, dLSE.p, dENT.p, dL.p, dT.p, s.N, s.V, inv_temp, 0);
    logprob_backward_cuda(dDL.p, dDLP.p, dL.p, dLSE.p, dT.p, s.N, s.V, inv_temp, 0);
    check_close(dLP.download(), logp, 1e-5, "logp");
    check_close(dLSE.download(), lse, 1e-5, "lse");
    check_close(dENT.download(), ent, 1e-5, "entropy");
    check_close(dDL.download(), dl, 1e-6, "dlogits");
  }
}

TEST_CASE("fused AdamW over segments with clipping, and the global gradient norm") {
  const long n = 100000;
  std::vector<float> p = randn(n, 26), g = randn(n, 27), m = randn(n, 28, 0.1), v = randn(n, 29);
  for (float& x : v) x = x * x;
  // Three tensors with their decay; [60000, 60010) is frozen.
  std::vector<AdamWSegment> segs = {{0, 50000, 0.1f}, {50000, 10000, 0.0f}, {60010, 39990, 0.1f}};
  AdamWParams ap;
  ap.lr = 1e-3f;
  const int step = 3;
  const float max_norm = 50.0f;
  const double norm = grad_norm(g.data(), n);
  REQUIRE(norm > max_norm);  // the clip is exercised
  std::vector<float> gc = g;
  const float f = static_cast<float>(max_norm / (norm + 1e-12));
  for (float& x : gc) x *= f;
  std::vector<float> rp = p, rm = m, rv = v;
  for (const AdamWSegment& s : segs) {
    AdamWParams q = ap;
    q.weight_decay = s.weight_decay;
    adamw_update(rp.data() + s.offset, gc.data() + s.offset, rm.data() + s.offset,
                 rv.data() + s.offset, s.numel, step, q);
  }
  Dev<float> dP(p), dG(g), dM(m), dV(v);
  Dev<bf16> dPB(n);
  Dev<AdamWSegment> dS(segs);
  Dev<double> dN(1);
  size_t ws_bytes = grad_norm_workspace_size(n);
  Dev<char> ws(ws_bytes);
  grad_norm_cuda(dN.p, dG.p, n, ws.p, ws_bytes, 0);
  adamw_update_cuda(dP.p, dPB.p, dG.p, dM.p, dV.p, n, dS.p, 3, step, ap, dN.p, max_norm, 0);
  const double got_norm = dN.download()[0];
  CHECK(std::fabs(got_norm - norm) <= 1e-9 * norm);
  std::vector<float> gp = dP.download();
  check_close(gp, rp, 1e-7, "adamw params");
  check_close(dM.download(), rm, 1e-7, "adamw m");
  check_close(dV.download(), rv, 1e-7, "adamw v");
  std::vector<bf16> pb = dPB.download();
  for (long i = 60000; i < 60010; i++) CHECK(gp[i] == p[i]);  // frozen
  for (long i = 0; i < n; i += 997) CHECK(__bfloat162float(pb[i]) == gpu_test::round_bf16(gp[i]));
}
