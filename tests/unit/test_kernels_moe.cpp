// MoE routing (hand-computed selections, replay, finite-difference router gradients), dispatch
// ordering, gather/combine and their gradients; the routed experts on 1 and 2 threads.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "kernels/moe.h"
#include "kernels/parallel.h"
#include "kernels_test_util.h"

using namespace aha;
using namespace aha::test;

static double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

TEST_CASE("router: the bias changes which experts win, weights come from unbiased scores") {
  RouterParams p;
  p.E = 4;
  p.K = 2;
  p.scoring = ScoringFunc::kSigmoid;
  p.scaling = 2.5f;
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
  // s = [0.881, 0.731, 0.5, 0.269]; with bias s+b = [0.881, 0.231, 0.8, 0.269] -> {0, 2}.
  const std::vector<float> bias = {0.0f, -0.5f, 0.3f, 0.0f};
  std::vector<float> scores(4), w(2);
  std::vector<int> idx(2);
  double s[4];
  for (int e = 0; e < 4; e++) s[e] = sigmoid(logits[e]);

  moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), nullptr, 1, p, true);
  for (int e = 0; e < 4; e++) CHECK(scores[e] == doctest::Approx(s[e]).epsilon(1e-6));
  CHECK(idx == std::vector<int>{0, 1});
  CHECK(w[0] == doctest::Approx(2.5 * s[0] / (s[0] + s[1])).epsilon(1e-6));
  CHECK(w[1] == doctest::Approx(2.5 * s[1] / (s[0] + s[1])).epsilon(1e-6));

  moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), bias.data(), 1, p, true);
  CHECK(idx == std::vector<int>{0, 2});
  CHECK(w[0] == doctest::Approx(2.5 * s[0] / (s[0] + s[2])).epsilon(1e-6));
  CHECK(w[1] == doctest::Approx(2.5 * s[2] / (s[0] + s[2])).epsilon(1e-6));

  p.norm_topk_prob = false;
  moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), bias.data(), 1, p, true);
  CHECK(idx == std::vector<int>{0, 2});
  CHECK(w[0] == doctest::Approx(2.5 * s[0]).epsilon(1e-6));
  CHECK(w[1] == doctest::Approx(2.5 * s[2]).epsilon(1e-6));

  // Replay keeps a given selection, even one the router would not make, and recomputes weights.
  p.norm_topk_prob = true;
  idx = {3, 1};
  moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), bias.data(), 1, p, false);
  CHECK(idx == std::vector<int>{3, 1});
  CHECK(w[0] == doctest::Approx(2.5 * s[3] / (s[3] + s[1])).epsilon(1e-6));
  CHECK(w[1] == doctest::Approx(2.5 * s[1] / (s[3] + s[1])).epsilon(1e-6));
  idx = {4, 0};
  CHECK_THROWS_AS(
      moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), nullptr, 1, p, false),
      std::runtime_error);
}

TEST_CASE("router: group-limited selection ranks groups by the sum of their top-2 (or their max)") {
  RouterParams p;
  p.E = 8;
  p.K = 2;
  p.num_groups = 4;
  p.topk_groups = 2;
  // Groups of 2: {0.9,0.1}=1.0, {0.6,0.6}=1.2, {0.55,0.55}=1.1, {0.85,0.05}=0.9. The best single
  // experts (0 and 6) sit in the losing groups; groups 1 and 2 win; 2 and 3 tie (lower index
  // first).
  const double target[8] = {0.9, 0.1, 0.6, 0.6, 0.55, 0.55, 0.85, 0.05};
  std::vector<float> logits(8), scores(8), w(2);
  for (int e = 0; e < 8; e++) logits[e] = (float)std::log(target[e] / (1 - target[e]));
  std::vector<int> idx(2);
  moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), nullptr, 1, p, true);
  CHECK(idx == std::vector<int>{2, 3});
  CHECK(w[0] == doctest::Approx(0.5).epsilon(1e-6));
  CHECK(w[1] == doctest::Approx(0.5).epsilon(1e-6));
  // A bias can move a group: +0.3 on expert 7 makes group 3 score 0.85 + 0.35 = 1.2 > 1.1.
  std::vector<float> bias(8, 0.0f);
  bias[7] = 0.3f;
  moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), bias.data(), 1, p, true);
  CHECK(idx == std::vector<int>{6, 2});
  CHECK(w[0] == doctest::Approx(0.85 / (0.85 + 0.6)).epsilon(1e-5));
  // V2's group_limited_greedy scores a group by its best expert: {0.9, 0.6, 0.55, 0.85} keeps
  // groups 0 and 3, whose best experts are 0 and 6; with K = 3 the third is 1 (0.1 > 0.05).
  p.group_max = true;
  p.K = 3;
  std::vector<int> idx3(3);
  std::vector<float> w3(3);
  moe_router_forward(scores.data(), idx3.data(), w3.data(), logits.data(), nullptr, 1, p, true);
  CHECK(idx3 == std::vector<int>{0, 6, 1});
  p.group_max = false;
  p.K = 2;
  // Without group limits the best experts win.
  p.num_groups = 1;
  p.topk_groups = 1;
  moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), nullptr, 1, p, true);
  CHECK(idx == std::vector<int>{0, 6});
}

TEST_CASE("router: softmax scores sum to one") {
  RouterParams p;
  p.E = 5;
  p.K = 3;
  p.scoring = ScoringFunc::kSoftmax;
  Rng rng{40};
  auto logits = randn(rng, 2 * 5, 2.0);
  std::vector<float> scores(10), w(6);
  std::vector<int> idx(6);
  moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), nullptr, 2, p, true);
  for (int n = 0; n < 2; n++) {
    double sum = 0, z = 0;
    for (int e = 0; e < 5; e++) z += std::exp((double)logits[n * 5 + e]);
    for (int e = 0; e < 5; e++) {
      sum += scores[n * 5 + e];
      CHECK(scores[n * 5 + e] == doctest::Approx(std::exp((double)logits[n * 5 + e]) / z));
    }
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
    double wsum = 0;
    for (int k = 0; k < 3; k++) wsum += w[n * 3 + k];
    CHECK(wsum == doctest::Approx(1.0).epsilon(1e-6));
  }
}

TEST_CASE("router backward matches finite differences (sigmoid/softmax, with/without norm)") {
  for (auto scoring : {ScoringFunc::kSigmoid, ScoringFunc::kSoftmax})
    for (bool norm : {true, false}) {
      CAPTURE((int)scoring);
      CAPTURE(norm);
      RouterParams p;
      p.E = 6;
      p.K = 2;
      p.scoring = scoring;
      p.norm_topk_prob = norm;
      p.scaling = 1.7f;
      const int N = 3;
      Rng rng{(uint64_t)(50 + 2 * (int)scoring + norm)};
      auto logits = randn(rng, N * p.E), bias = randn(rng, p.E, 0.1), r = randn(rng, N * p.K);
      std::vector<float> scores(N * p.E), w(N * p.K);
      std::vector<int> idx(N * p.K);
      moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), bias.data(), N, p,
                         true);
      auto dlogits = prefilled(N * p.E);
      moe_router_backward(dlogits.data(), r.data(), scores.data(), idx.data(), N, p);
      unprefill(dlogits);
      // The selection is piecewise constant; replay holds it fixed while logits move.
      check_grad("router dlogits", logits, dlogits, [&] {
        moe_router_forward(scores.data(), idx.data(), w.data(), logits.data(), bias.data(), N, p,
                           false);
        return weighted_sum(w, r);
      });
    }
}

TEST_CASE("dispatch sorts by expert, stable in token order, and counts load") {
  const int N = 4, K = 2, E = 4;
  const std::vector<int> topk_idx = {2, 0, 0, 1, 2, 1, 0, 2};
  std::vector<int> off(E + 1), tok(N * K), slot(N * K);
  std::vector<long> load = {10, 10, 10, 10};
  moe_dispatch(off.data(), tok.data(), slot.data(), topk_idx.data(), N, E, K, load.data());
  CHECK(off == std::vector<int>{0, 3, 5, 8, 8});  // expert 3 gets nothing
  CHECK(tok == std::vector<int>{0, 1, 3, 1, 2, 0, 2, 3});
  CHECK(slot == std::vector<int>{1, 2, 6, 3, 5, 0, 4, 7});
  CHECK(load == std::vector<long>{13, 12, 13, 10});
  moe_dispatch(off.data(), tok.data(), slot.data(), topk_idx.data(), N, E, K, nullptr);
  CHECK(off == std::vector<int>{0, 3, 5, 8, 8});
  const std::vector<int> bad = {0, 4};
  CHECK_THROWS_AS(moe_dispatch(off.data(), tok.data(), slot.data(), bad.data(), 1, E, 2, nullptr),
                  std::runtime_error);
}

TEST_CASE("gather and combine: forward vs loops, backward vs finite differences") {
  const int N = 3, K = 2, E = 3, C = 4, M = N * K;
  const std::vector<int> topk_idx = {1, 0, 2, 1, 0, 2};
  std::vector<int> off(E + 1), tok(M), slot(M);
  moe_dispatch(off.data(), tok.data(), slot.data(), topk_idx.data(), N, E, K, nullptr);
  Rng rng{60};
  auto x = randn(rng, N * C), ye = randn(rng, M * C), tw = randn(rng, N * K);
  std::vector<float> xe(M * C), out(N * C);
  moe_gather(xe.data(), x.data(), tok.data(), M, C);
  for (int m = 0; m < M; m++)
    for (int c = 0; c < C; c++) CHECK(xe[m * C + c] == x[tok[m] * C + c]);
  std::fill(out.begin(), out.end(), 1.0f);  // combine accumulates into out
  moe_combine(out.data(), ye.data(), tw.data(), tok.data(), slot.data(), M, C);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++) {
      double ref = 1.0;
      for (int k = 0; k < K; k++) {
        int m = 0;
        while (slot[m] != n * K + k) m++;
        ref += (double)tw[n * K + k] * ye[m * C + c];
      }
      CHECK(out[n * C + c] == doctest::Approx(ref).epsilon(1e-6));
    }

  auto rx = randn(rng, M * C), ro = randn(rng, N * C);
  auto dx = prefilled(N * C);
  moe_gather_backward(dx.data(), rx.data(), tok.data(), M, C);
  unprefill(dx);
  check_grad("gather dx", x, dx, [&] {
    moe_gather(xe.data(), x.data(), tok.data(), M, C);
    return weighted_sum(xe, rx);
  });

  std::vector<float> dye(M * C, 123.0f);  // overwritten, not accumulated
  auto dtw = prefilled(N * K);
  moe_combine_backward(dye.data(), dtw.data(), ro.data(), ye.data(), tw.data(), tok.data(),
                       slot.data(), M, C);
  unprefill(dtw);
  auto loss = [&] {
    std::fill(out.begin(), out.end(), 0.0f);
    moe_combine(out.data(), ye.data(), tw.data(), tok.data(), slot.data(), M, C);
    return weighted_sum(out, ro);
  };
  check_grad("combine dye", ye, dye, loss);
  check_grad("combine dtopk_weights", tw, dtw, loss);
}

// Run expert by expert (one thread) or experts in parallel (two threads, each expert's GEMMs
// whole on one core): the same bits, and the forward matches a plain fp64 loop.
TEST_CASE("routed experts: the same bits on 1 and 2 threads, and the forward against fp64") {
  const int E = 6, C = 24, H = 40, M = 90;
  // Uneven blocks, one expert empty: offsets [0, 30, 30, 45, 52, 80, 90].
  const std::vector<int> off = {0, 30, 30, 45, 52, 80, 90};
  Rng rng{61};
  auto xe = randn(rng, M * C), wg = randn(rng, E * H * C, 0.2), wu = randn(rng, E * H * C, 0.2),
       wd = randn(rng, E * C * H, 0.2), dye = randn(rng, M * C);
  struct Out {
    std::vector<float> ye, gate, up, act, dxe, dwg, dwu, dwd;
  };
  auto run = [&](int threads) {
    set_compute_threads(threads);
    Out o{std::vector<float>(M * C),
          std::vector<float>(M * H),
          std::vector<float>(M * H),
          std::vector<float>(M * H),
          std::vector<float>(M * C, 0.5f),
          std::vector<float>(E * H * C, 0.25f),
          std::vector<float>(E * H * C, 0.25f),
          std::vector<float>(E * C * H, 0.25f)};
    moe_experts_forward(o.ye.data(), o.gate.data(), o.up.data(), o.act.data(), xe.data(), wg.data(),
                        wu.data(), wd.data(), off.data(), E, C, H);
    std::vector<float> dgate(M * H), dup(M * H), dact(M * H);
    moe_experts_backward(o.dxe.data(), o.dwg.data(), o.dwu.data(), o.dwd.data(), dye.data(),
                         o.gate.data(), o.up.data(), o.act.data(), xe.data(), wg.data(), wu.data(),
                         wd.data(), off.data(), E, C, H, dgate.data(), dup.data(), dact.data());
    set_compute_threads(1);
    return o;
  };
  const Out one = run(1), two = run(2);
  CHECK(one.ye == two.ye);
  CHECK(one.act == two.act);
  CHECK(one.dxe == two.dxe);
  CHECK(one.dwg == two.dwg);
  CHECK(one.dwu == two.dwu);
  CHECK(one.dwd == two.dwd);
  double worst = 0;
  for (int e = 0; e < E; e++)
    for (int m = off[e]; m < off[e + 1]; m++) {
      std::vector<double> act(H);
      for (int h = 0; h < H; h++) {
        double g = 0, u = 0;
        for (int c = 0; c < C; c++) {
          g += (double)xe[m * C + c] * wg[(e * H + h) * C + c];
          u += (double)xe[m * C + c] * wu[(e * H + h) * C + c];
        }
        act[h] = g / (1.0 + std::exp(-g)) * u;
      }
      for (int c = 0; c < C; c++) {
        double y = 0;
        for (int h = 0; h < H; h++) y += act[h] * wd[(e * C + c) * H + h];
        worst = std::max(worst, std::fabs(y - one.ye[m * C + c]) / (1.0 + std::fabs(y)));
      }
    }
  CHECK(worst < 1e-4);
}
