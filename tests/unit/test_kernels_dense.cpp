// Dense kernels: embedding, rmsnorm, linear, swiglu, rope, logprob, adamw.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/embedding.h"
#include "kernels/linear.h"
#include "kernels/logprob.h"
#include "kernels/parallel.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/swiglu.h"
#include "kernels_test_util.h"
#include "tests/unit/model_test_util.h"

using namespace aha;
using namespace aha::test;

TEST_CASE("embedding forward copies rows, backward matches finite differences") {
  Rng rng{1};
  const int N = 6, V = 5, C = 4;
  std::vector<int> tokens = {3, 0, 3, 4, 1, 3};  // repeats must accumulate
  auto wte = randn(rng, V * C), w = randn(rng, N * C);
  std::vector<float> out(N * C);
  embedding_forward(out.data(), tokens.data(), wte.data(), N, V, C);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++) CHECK(out[n * C + c] == wte[tokens[n] * C + c]);
  auto dwte = prefilled(V * C);
  embedding_backward(dwte.data(), w.data(), tokens.data(), N, C);
  unprefill(dwte);
  check_grad("dwte", wte, dwte, [&] {
    embedding_forward(out.data(), tokens.data(), wte.data(), N, V, C);
    return weighted_sum(out, w);
  });
  std::vector<int> bad = {5};
  CHECK_THROWS_AS(embedding_forward(out.data(), bad.data(), wte.data(), 1, V, C),
                  std::runtime_error);
}

TEST_CASE("rmsnorm forward matches the definition, backward matches finite differences") {
  Rng rng{2};
  const int N = 4, C = 7;
  const float eps = 1e-5f;
  auto inp = randn(rng, N * C), weight = randn(rng, C), w = randn(rng, N * C);
  std::vector<float> out(N * C), rstd(N);
  rmsnorm_forward(out.data(), rstd.data(), inp.data(), weight.data(), N, C, eps);
  for (int n = 0; n < N; n++) {
    double ms = 0;
    for (int c = 0; c < C; c++) ms += (double)inp[n * C + c] * inp[n * C + c] / C;
    for (int c = 0; c < C; c++)
      CHECK(out[n * C + c] ==
            doctest::Approx(inp[n * C + c] / std::sqrt(ms + eps) * weight[c]).epsilon(1e-5));
  }
  auto dinp = prefilled(N * C), dweight = prefilled(C);
  rmsnorm_backward(dinp.data(), dweight.data(), w.data(), inp.data(), weight.data(), rstd.data(), N,
                   C);
  unprefill(dinp);
  unprefill(dweight);
  auto loss = [&] {
    rmsnorm_forward(out.data(), nullptr, inp.data(), weight.data(), N, C, eps);
    return weighted_sum(out, w);
  };
  check_grad("dinp", inp, dinp, loss);
  check_grad("dweight", weight, dweight, loss);
}

TEST_CASE("linear forward matches a triple loop; backward matches loops and finite differences") {
  Rng rng{3};
  {
    const int N = 17, IC = 33, OC = 9;
    auto inp = randn(rng, N * IC), weight = randn(rng, OC * IC), dout = randn(rng, N * OC);
    std::vector<float> out(N * OC);
    linear_forward(out.data(), inp.data(), weight.data(), N, IC, OC);
    auto dinp = prefilled(N * IC), dweight = prefilled(OC * IC);
    linear_backward(dinp.data(), dweight.data(), dout.data(), inp.data(), weight.data(), N, IC, OC);
    for (int n = 0; n < N; n++)
      for (int o = 0; o < OC; o++) {
        double s = 0;
        for (int i = 0; i < IC; i++) s += (double)inp[n * IC + i] * weight[o * IC + i];
        CHECK(out[n * OC + o] == doctest::Approx(s).epsilon(1e-5).scale(1.0));
      }
    for (int n = 0; n < N; n++)
      for (int i = 0; i < IC; i++) {
        double s = kPrefill;
        for (int o = 0; o < OC; o++) s += (double)dout[n * OC + o] * weight[o * IC + i];
        CHECK(dinp[n * IC + i] == doctest::Approx(s).epsilon(1e-5).scale(1.0));
      }
    for (int o = 0; o < OC; o++)
      for (int i = 0; i < IC; i++) {
        double s = kPrefill;
        for (int n = 0; n < N; n++) s += (double)dout[n * OC + o] * inp[n * IC + i];
        CHECK(dweight[o * IC + i] == doctest::Approx(s).epsilon(1e-5).scale(1.0));
      }
  }
  {
    const int N = 3, IC = 5, OC = 4;
    auto inp = randn(rng, N * IC), weight = randn(rng, OC * IC), w = randn(rng, N * OC);
    std::vector<float> out(N * OC);
    auto dinp = prefilled(N * IC), dweight = prefilled(OC * IC);
    linear_backward(dinp.data(), dweight.data(), w.data(), inp.data(), weight.data(), N, IC, OC);
    unprefill(dinp);
    unprefill(dweight);
    auto loss = [&] {
      linear_forward(out.data(), inp.data(), weight.data(), N, IC, OC);
      return weighted_sum(out, w);
    };
    check_grad("dinp", inp, dinp, loss);
    check_grad("dweight", weight, dweight, loss);
    // Null gradient outputs are skipped.
    std::vector<float> dinp2(N * IC, 0.0f);
    linear_backward(dinp2.data(), nullptr, w.data(), inp.data(), weight.data(), N, IC, OC);
    for (int i = 0; i < N * IC; i++) CHECK(dinp2[i] == doctest::Approx(dinp[i]).epsilon(1e-5));
  }
  blas_set_threads(1);
}

TEST_CASE("linear, rmsnorm, swiglu and logprob give the same bits on 1 and 2 compute threads") {
  // Shapes above the GEMM split threshold (4 MFLOP), odd sizes so slabs are uneven.
  Rng rng{9};
  const int N = 1000, IC = 96, OC = 203;
  auto inp = randn(rng, (size_t)N * IC), weight = randn(rng, (size_t)OC * IC);
  auto dout = randn(rng, (size_t)N * OC), nw = randn(rng, IC);
  std::vector<int> targets(N);
  for (int n = 0; n < N; n++) targets[n] = n % 3 == 0 ? -1 : n % OC;
  auto run = [&](int threads) {
    set_compute_threads(threads);
    std::vector<float> out((size_t)N * OC), dinp((size_t)N * IC, 0.0f),
        dweight((size_t)OC * IC, 0.0f), ln((size_t)N * IC), rstd(N), dln((size_t)N * IC, 0.0f),
        dnw(IC, 0.0f), sw((size_t)N * IC), dg((size_t)N * IC, 0.0f), du((size_t)N * IC, 0.0f),
        logp(N), lse(N), ent(N), dlogits((size_t)N * OC, 0.0f);
    linear_forward(out.data(), inp.data(), weight.data(), N, IC, OC);
    linear_backward(dinp.data(), dweight.data(), dout.data(), inp.data(), weight.data(), N, IC, OC);
    rmsnorm_forward(ln.data(), rstd.data(), inp.data(), nw.data(), N, IC, 1e-6f);
    rmsnorm_backward(dln.data(), dnw.data(), dinp.data(), inp.data(), nw.data(), rstd.data(), N,
                     IC);
    swiglu_forward(sw.data(), inp.data(), ln.data(), (long)N * IC);
    swiglu_backward(dg.data(), du.data(), dinp.data(), inp.data(), ln.data(), (long)N * IC);
    logprob_forward(logp.data(), lse.data(), ent.data(), out.data(), targets.data(), N, OC, 1.0f);
    logprob_backward(dlogits.data(), dout.data(), out.data(), lse.data(), targets.data(), N, OC,
                     1.0f);
    set_compute_threads(1);
    return std::vector<std::vector<float>>{out, dinp, dweight, ln,   rstd, dln, dnw,
                                           sw,  dg,   du,      logp, lse,  ent, dlogits};
  };
  const auto one = run(1), two = run(2);
  for (size_t i = 0; i < one.size(); i++) {
    CAPTURE(i);
    CHECK(one[i] == two[i]);
  }
}

TEST_CASE("swiglu backward matches finite differences") {
  Rng rng{4};
  const int N = 12;
  auto gate = randn(rng, N, 2.0), up = randn(rng, N), w = randn(rng, N);
  std::vector<float> out(N);
  swiglu_forward(out.data(), gate.data(), up.data(), N);
  for (int i = 0; i < N; i++)
    CHECK(out[i] == doctest::Approx(gate[i] / (1 + std::exp(-(double)gate[i])) * up[i]));
  auto dgate = prefilled(N), dup = prefilled(N);
  swiglu_backward(dgate.data(), dup.data(), w.data(), gate.data(), up.data(), N);
  unprefill(dgate);
  unprefill(dup);
  auto loss = [&] {
    swiglu_forward(out.data(), gate.data(), up.data(), N);
    return weighted_sum(out, w);
  };
  check_grad("dgate", gate, dgate, loss);
  check_grad("dup", up, dup, loss);
}

TEST_CASE("rope: hand values, norms, relative positions, strides, finite differences") {
  SUBCASE("hand values") {
    // D=4, theta=100: pair 0 has frequency 1, pair 1 has 100^(-1/2) = 0.1.
    const int pos = 2;
    for (bool inter : {true, false}) {
      std::vector<float> x = {1, 2, 3, 4};
      double f100[2];
      rope_frequencies(f100, 4, 100.0, RopeScaling{});
      rope_forward(x.data(), &pos, 1, 1, 4, 4, 4, f100, 1.0f, inter);
      const double a0 = 2.0, a1 = 0.2;
      // interleaved pairs (0,1),(2,3); rotate_half pairs (0,2),(1,3)
      const int p0a = 0, p0b = inter ? 1 : 2, p1a = inter ? 2 : 1, p1b = 3;
      const double v[4] = {1, 2, 3, 4};
      CHECK(x[p0a] == doctest::Approx(v[p0a] * std::cos(a0) - v[p0b] * std::sin(a0)));
      CHECK(x[p0b] == doctest::Approx(v[p0a] * std::sin(a0) + v[p0b] * std::cos(a0)));
      CHECK(x[p1a] == doctest::Approx(v[p1a] * std::cos(a1) - v[p1b] * std::sin(a1)));
      CHECK(x[p1b] == doctest::Approx(v[p1a] * std::sin(a1) + v[p1b] * std::cos(a1)));
    }
  }
  Rng rng{5};
  const int D = 8;
  double freq[D / 2];
  rope_frequencies(freq, D, 10000.0, RopeScaling{});
  for (bool inter : {true, false}) {
    CAPTURE(inter);
    // Norm preservation and dot(rope(q, a), rope(k, b)) depending only on a - b.
    auto q = randn(rng, D), k = randn(rng, D);
    auto rot = [&](std::vector<float> x, int pos) {
      rope_forward(x.data(), &pos, 1, 1, D, D, D, freq, 1.0f, inter);
      return x;
    };
    auto dot = [](const std::vector<float>& a, const std::vector<float>& b) {
      double s = 0;
      for (size_t i = 0; i < a.size(); i++) s += (double)a[i] * b[i];
      return s;
    };
    auto qr = rot(q, 1234);
    CHECK(dot(qr, qr) == doctest::Approx(dot(q, q)).epsilon(1e-5));
    const double d0 = dot(rot(q, 7), rot(k, 3));
    CHECK(dot(rot(q, 104), rot(k, 100)) == doctest::Approx(d0).epsilon(1e-4));
    CHECK(dot(rot(q, 5004), rot(k, 5000)) == doctest::Approx(d0).epsilon(1e-4));
    CHECK(dot(rot(q, 8), rot(k, 3)) != doctest::Approx(d0).epsilon(1e-4));

    // Strided layout: N tokens x H heads x (3 pass-through dims + D rope dims).
    const int N = 3, H = 2, HS = 3 + D, TS = H * HS;
    std::vector<int> pos = {0, 5, 17};
    auto x = randn(rng, N * TS), w = randn(rng, N * TS);
    auto y = x;
    rope_forward(y.data() + 3, pos.data(), N, H, TS, HS, D, freq, 1.0f, inter);
    for (int n = 0; n < N; n++)
      for (int h = 0; h < H; h++)
        for (int i = 0; i < 3; i++) CHECK(y[n * TS + h * HS + i] == x[n * TS + h * HS + i]);
    auto back = y;
    rope_backward(back.data() + 3, pos.data(), N, H, TS, HS, D, freq, 1.0f, inter);
    for (int i = 0; i < N * TS; i++) CHECK(back[i] == doctest::Approx(x[i]).epsilon(1e-5));
    // Gradient: rope_backward(w) is d(Σ w ∘ rope(x))/dx (rope_backward works in place).
    auto dx = w;
    rope_backward(dx.data() + 3, pos.data(), N, H, TS, HS, D, freq, 1.0f, inter);
    check_grad("rope dx", x, dx, [&] {
      auto z = x;
      rope_forward(z.data() + 3, pos.data(), N, H, TS, HS, D, freq, 1.0f, inter);
      return weighted_sum(z, w);
    });
  }
}

TEST_CASE("logprob forward matches a double reference, backward matches finite differences") {
  Rng rng{6};
  const int N = 5, V = 11;
  const float inv_temp = 1.0f / 0.7f;
  auto logits = randn(rng, N * V, 3.0), w = randn(rng, N);
  std::vector<int> targets = {3, 0, -1, 10, 7};
  logits[3 * V + 2] = 80.0f;  // a large logit: the max-subtraction must keep this finite
  std::vector<float> logp(N), lse(N), ent(N);
  logprob_forward(logp.data(), lse.data(), ent.data(), logits.data(), targets.data(), N, V,
                  inv_temp);
  for (int n = 0; n < N; n++) {
    double mx = -1e300;
    for (int j = 0; j < V; j++) mx = std::fmax(mx, (double)logits[n * V + j] * inv_temp);
    double s = 0;
    for (int j = 0; j < V; j++) s += std::exp((double)logits[n * V + j] * inv_temp - mx);
    const double l = mx + std::log(s);
    double h = 0;
    for (int j = 0; j < V; j++) {
      const double lp = (double)logits[n * V + j] * inv_temp - l;
      h -= std::exp(lp) * lp;
    }
    CHECK(lse[n] == doctest::Approx(l).epsilon(1e-6));
    CHECK(ent[n] == doctest::Approx(h).epsilon(1e-5).scale(1e-6));
    const double ref = targets[n] < 0 ? 0.0 : (double)logits[n * V + targets[n]] * inv_temp - l;
    CHECK(logp[n] == doctest::Approx(ref).epsilon(1e-5).scale(1e-6));
  }
  // Written, not accumulated: whatever dlogits held before is gone.
  auto dlogits = prefilled(N * V);
  logprob_backward(dlogits.data(), w.data(), logits.data(), lse.data(), targets.data(), N, V,
                   inv_temp);
  for (int j = 0; j < V; j++) CHECK(dlogits[2 * V + j] == 0.0f);  // no target, no gradient
  check_grad("dlogits", logits, dlogits, [&] {
    logprob_forward(logp.data(), lse.data(), nullptr, logits.data(), targets.data(), N, V,
                    inv_temp);
    return weighted_sum(logp, w);
  });
  std::vector<int> bad = {V};
  CHECK_THROWS_AS(
      logprob_forward(logp.data(), lse.data(), nullptr, logits.data(), bad.data(), 1, V, inv_temp),
      std::runtime_error);
}

TEST_CASE("logprob at a real vocabulary size (vectorised exps, blocked sums) against double") {
  Rng rng{16};
  const int N = 3, V = 32007;  // not a multiple of the vector width
  const float inv_temp = 1.0f / 0.9f;
  auto logits = randn(rng, static_cast<size_t>(N) * V, 2.0);
  std::vector<int> targets = {5, V - 1, -1};
  std::vector<float> logp(N), lse(N), ent(N), dlogp = {0.5f, -1.5f, 2.0f};
  logprob_forward(logp.data(), lse.data(), ent.data(), logits.data(), targets.data(), N, V,
                  inv_temp);
  auto dlogits = prefilled(static_cast<size_t>(N) * V);
  logprob_backward(dlogits.data(), dlogp.data(), logits.data(), lse.data(), targets.data(), N, V,
                   inv_temp);
  for (int n = 0; n < N; n++) {
    const float* x = logits.data() + static_cast<size_t>(n) * V;
    double mx = -1e300, s = 0, h = 0;
    for (int j = 0; j < V; j++) mx = std::fmax(mx, (double)x[j] * inv_temp);
    for (int j = 0; j < V; j++) s += std::exp((double)x[j] * inv_temp - mx);
    const double l = mx + std::log(s);
    for (int j = 0; j < V; j++) {
      const double lp = (double)x[j] * inv_temp - l;
      h -= std::exp(lp) * lp;
    }
    CHECK(lse[n] == doctest::Approx(l).epsilon(1e-6));
    CHECK(ent[n] == doctest::Approx(h).epsilon(1e-5));
    if (targets[n] >= 0)
      CHECK(logp[n] == doctest::Approx(x[targets[n]] * inv_temp - l).epsilon(1e-5));
    double max_err = 0;
    for (int j = 0; j < V; j++) {
      const double p = std::exp((double)x[j] * inv_temp - l);
      const double ref =
          targets[n] < 0 ? 0.0 : dlogp[n] * inv_temp * ((j == targets[n] ? 1.0 : 0.0) - p);
      max_err = std::max(max_err, std::fabs(dlogits[static_cast<size_t>(n) * V + j] - ref));
    }
    CHECK(max_err < 1e-6);
  }
  // Column chunks (the CPU head's backward walks the vocabulary in chunks, one holding the
  // target at its first column, another at its last): the same bits as the whole matrix.
  for (int v0 : {0, 5, 1024, V - 7, V - 1}) {
    const int vc = std::min(v0 == 5 ? 1 : 1024, V - v0);
    std::vector<float> cols(static_cast<size_t>(N) * vc);
    logprob_backward_cols(cols.data(), dlogp.data(), logits.data(), lse.data(), targets.data(), N,
                          V, v0, vc, inv_temp);
    for (int n = 0; n < N; n++)
      for (int j = 0; j < vc; j++)
        REQUIRE(cols[static_cast<size_t>(n) * vc + j] ==
                dlogits[static_cast<size_t>(n) * V + v0 + j]);
  }
  CHECK_THROWS(logprob_backward_cols(dlogits.data(), dlogp.data(), logits.data(), lse.data(),
                                     targets.data(), N, V, V - 3, 4, inv_temp));
}

TEST_CASE("adamw: two steps against hand-computed values; grad_norm") {
  AdamWParams p;
  p.lr = 0.01f;
  p.beta1 = 0.9f;
  p.beta2 = 0.95f;
  p.eps = 1e-8f;
  p.weight_decay = 0.1f;
  std::vector<float> params = {1.0f, -2.0f, 0.5f}, m(3, 0.0f), v(3, 0.0f);
  std::vector<double> P = {1.0, -2.0, 0.5}, M(3, 0.0), Vv(3, 0.0);
  const std::vector<std::vector<float>> grads = {{0.1f, -0.2f, 0.0f}, {0.3f, 0.05f, -1.0f}};
  for (int step = 1; step <= 2; step++) {
    const auto& g = grads[step - 1];
    adamw_update(params.data(), g.data(), m.data(), v.data(), 3, step, p);
    for (int i = 0; i < 3; i++) {
      M[i] = 0.9 * M[i] + 0.1 * g[i];
      Vv[i] = 0.95 * Vv[i] + 0.05 * (double)g[i] * g[i];
      const double mh = M[i] / (1 - std::pow(0.9, step)), vh = Vv[i] / (1 - std::pow(0.95, step));
      P[i] = P[i] - 0.01 * 0.1 * P[i] - 0.01 * mh / (std::sqrt(vh) + 1e-8);
      CHECK(params[i] == doctest::Approx(P[i]).epsilon(1e-6));
      CHECK(m[i] == doctest::Approx(M[i]).epsilon(1e-6));
      CHECK(v[i] == doctest::Approx(Vv[i]).epsilon(1e-6));
    }
  }
  std::vector<float> g = {3.0f, 4.0f};
  CHECK(grad_norm(g.data(), 2) == 5.0);
  CHECK_THROWS_AS(adamw_update(params.data(), g.data(), m.data(), v.data(), 2, 0, p),
                  std::runtime_error);
}

// Reference values from transformers 5.24's ROPE_INIT_FUNCTIONS["yarn"] (float32 there).
TEST_CASE("rope_frequencies: YaRN matches transformers for Qwen3 and DeepSeek-V3 configs") {
  SUBCASE("Qwen-style: D=16, factor 4, original 16; attention factor 0.1 ln 4 + 1") {
    const RopeScaling s = test::yarn(4.0, 16);
    double f[8];
    const double af = rope_frequencies(f, 16, 10000.0, s);
    const double want[8] = {1.0,
                            0.07905694097280502,
                            0.02500000037252903,
                            0.007905694656074047,
                            0.0024999999441206455,
                            0.0007905694656074047,
                            0.0002500000118743628,
                            7.905694656074047e-05};
    for (int i = 0; i < 8; i++) CHECK(f[i] == doctest::Approx(want[i]).epsilon(1e-6));
    CHECK(af == doctest::Approx(1.138629436111989).epsilon(1e-12));
  }
  SUBCASE("DeepSeek-style mscale/mscale_all_dim ratio: D=8, factor 4, mscale 1, all_dim 0.707") {
    const RopeScaling s = test::yarn(4.0, 16, 1.0, 0.707);
    double f[4];
    const double af = rope_frequencies(f, 8, 10000.0, s);
    const double want[4] = {1.0, 0.02500000037252903, 0.0024999999441206455, 0.0002500000118743628};
    for (int i = 0; i < 4; i++) CHECK(f[i] == doctest::Approx(want[i]).epsilon(1e-6));
    CHECK(af == doctest::Approx(1.036992729910394).epsilon(1e-12));
  }
  SUBCASE("DeepSeek-V3's own config: D=64, factor 40, original 4096, ramp between pairs 10-23") {
    const RopeScaling s = test::yarn(40.0, 4096, 1.0, 1.0);
    double f[32];
    const double af = rope_frequencies(f, 64, 10000.0, s);
    const std::pair<int, double> want[] = {{0, 1.0},
                                           {5, 0.23713736236095428},
                                           {10, 0.05623412877321243},
                                           {11, 0.039006926119327545},
                                           {12, 0.026879360899329185},
                                           {15, 0.0083345090970397},
                                           {18, 0.002249365206807852},
                                           {20, 0.0007905694073997438},
                                           {23, 3.333803397254087e-05},
                                           {31, 3.3338035336782923e-06}};
    for (const auto& [i, v] : want) CHECK(f[i] == doctest::Approx(v).epsilon(1e-6));
    CHECK(af == 1.0);
  }
  SUBCASE("linear divides every frequency; attn_factor scales rotated values") {
    RopeScaling s;
    s.type = RopeType::kLinear;
    s.factor = 2.0;
    double f[2];
    CHECK(rope_frequencies(f, 4, 100.0, s) == 1.0);
    CHECK(f[0] == doctest::Approx(0.5));
    CHECK(f[1] == doctest::Approx(0.05));
    std::vector<float> x = {1, 2, 3, 4}, y = x;
    const int pos = 3;
    rope_forward(x.data(), &pos, 1, 1, 4, 4, 4, f, 1.0f, false);
    rope_forward(y.data(), &pos, 1, 1, 4, 4, 4, f, 1.5f, false);
    for (int i = 0; i < 4; i++) CHECK(y[i] == doctest::Approx(1.5 * x[i]));
  }
}
