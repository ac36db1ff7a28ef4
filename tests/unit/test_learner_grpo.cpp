// GRPO advantages, losses and aggregation against hand-computed values and finite differences.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/rng.h"
#include "learner/grpo.h"

using namespace aha;

namespace {

double one_token(float logp, float logp_old, float adv, const GrpoLossConfig& cfg, float* dl,
                 GrpoStats* out = nullptr, const float* ref = nullptr,
                 const float* rollout = nullptr) {
  float w = 1.0f;
  GrpoTokens t;
  t.N = 1;
  t.logp = &logp;
  t.logp_old = &logp_old;
  t.logp_ref = ref;
  t.logp_rollout = rollout;
  t.adv = &adv;
  t.weight = &w;
  GrpoStats st;
  grpo_loss(t, cfg, dl, st);
  if (out) *out = st;
  return st.loss;
}

}  // namespace

TEST_CASE("advantages: group std, Dr. GRPO, leave-one-out, equal rewards") {
  const float r[8] = {1, 0, 0, 1, 0.5f, 0.5f, 0.5f, 0.5f};
  float a[8];
  compute_advantages(r, 2, 4, AdvantageMode::kGroupStd, a);
  // mean 0.5, population std 0.5
  CHECK(a[0] == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(a[1] == doctest::Approx(-1.0).epsilon(1e-5));
  for (int i = 4; i < 8; i++) CHECK(a[i] == 0.0f);
  compute_advantages(r, 2, 4, AdvantageMode::kNoStd, a);
  CHECK(a[0] == doctest::Approx(0.5));
  CHECK(a[2] == doctest::Approx(-0.5));
  for (int i = 4; i < 8; i++) CHECK(a[i] == 0.0f);
  compute_advantages(r, 2, 4, AdvantageMode::kLeaveOneOut, a);
  CHECK(a[0] == doctest::Approx(1.0 - 1.0 / 3));
  CHECK(a[1] == doctest::Approx(0.0 - 2.0 / 3));
  for (int i = 4; i < 8; i++) CHECK(a[i] == 0.0f);
}

TEST_CASE("clipped surrogate, clip-higher and dual clip by hand") {
  GrpoLossConfig cfg;  // eps 0.2 / 0.2, dual clip 3
  float dl;
  GrpoStats st;
  // A > 0, ratio 1.1 inside the band: loss -1.1, gradient -A * ratio.
  CHECK(one_token(std::log(1.1f), 0, 1, cfg, &dl) == doctest::Approx(-1.1).epsilon(1e-6));
  CHECK(dl == doctest::Approx(-1.1).epsilon(1e-6));
  // A > 0, ratio 1.5 above 1.2: clipped, no gradient.
  CHECK(one_token(std::log(1.5f), 0, 1, cfg, &dl, &st) == doctest::Approx(-1.2).epsilon(1e-6));
  CHECK(dl == 0.0f);
  CHECK(st.clip_high == 1.0);
  // Clip-higher (DAPO): with eps_high 0.28 ratio 1.25 is inside the band.
  GrpoLossConfig dapo = cfg;
  dapo.eps_high = 0.28f;
  CHECK(one_token(std::log(1.25f), 0, 1, dapo, &dl) == doctest::Approx(-1.25).epsilon(1e-6));
  CHECK(dl == doctest::Approx(-1.25).epsilon(1e-6));
  // A < 0, ratio 0.5 below 0.8: max(0.5, 0.8) = 0.8 clipped, no gradient.
  CHECK(one_token(std::log(0.5f), 0, -1, cfg, &dl, &st) == doctest::Approx(0.8).epsilon(1e-6));
  CHECK(dl == 0.0f);
  CHECK(st.clip_low == 1.0);
  // A < 0, ratio 2: unclipped 2 > 3? no: loss 2, gradient -A * ratio = 2.
  CHECK(one_token(std::log(2.0f), 0, -1, cfg, &dl) == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(dl == doctest::Approx(2.0).epsilon(1e-6));
  // A < 0, ratio 5: unclipped 5 capped by the dual clip at c * |A| = 3, no gradient.
  CHECK(one_token(std::log(5.0f), 0, -1, cfg, &dl, &st) == doctest::Approx(3.0).epsilon(1e-6));
  CHECK(dl == 0.0f);
  CHECK(st.clip_dual == 1.0);
  // Without the dual clip the loss is 5.
  GrpoLossConfig nodual = cfg;
  nodual.dual_clip = 0;
  CHECK(one_token(std::log(5.0f), 0, -1, nodual, &dl) == doctest::Approx(5.0).epsilon(1e-6));
}

TEST_CASE("KL estimators k1, k2, k3 by hand") {
  GrpoLossConfig cfg;
  cfg.beta = 0.5f;
  float ref = -1.5f, dl;
  GrpoStats st;
  // A = 0: only the KL term. d = ref - logp = -0.5.
  cfg.kl = KlEstimator::kK3;
  one_token(-1.0f, -1.0f, 0, cfg, &dl, &st, &ref);
  CHECK(st.kl == doctest::Approx(std::exp(-0.5) + 0.5 - 1).epsilon(1e-6));
  CHECK(dl == doctest::Approx(0.5 * (1 - std::exp(-0.5))).epsilon(1e-6));
  cfg.kl = KlEstimator::kK1;
  one_token(-1.0f, -1.0f, 0, cfg, &dl, &st, &ref);
  CHECK(st.kl == doctest::Approx(0.5));
  CHECK(dl == doctest::Approx(0.5));
  cfg.kl = KlEstimator::kK2;
  one_token(-1.0f, -1.0f, 0, cfg, &dl, &st, &ref);
  CHECK(st.kl == doctest::Approx(0.125));
  CHECK(dl == doctest::Approx(0.5 * 0.5));
  // k3 is never negative.
  for (float lp : {-3.0f, -1.5f, -0.2f}) {
    one_token(lp, lp, 0, cfg, &dl, &st, &ref);
    CHECK(st.kl >= 0);
  }
}

TEST_CASE("truncated importance sampling caps the rollout/learner ratio") {
  GrpoLossConfig cfg;
  cfg.tis_cap = 2.0f;
  float dl, rollout = std::log(0.25f);
  GrpoStats st;
  // logp_old - logp_rollout = log 4, capped at 2; ratio 1 inside the band.
  double loss = one_token(0, 0, 1, cfg, &dl, &st, nullptr, &rollout);
  CHECK(loss == doctest::Approx(-2.0));
  CHECK(dl == doctest::Approx(-2.0));
  rollout = std::log(0.8f);  // factor 1.25 under the cap
  loss = one_token(0, 0, 1, cfg, &dl, &st, nullptr, &rollout);
  CHECK(loss == doctest::Approx(-1.25).epsilon(1e-6));
}

TEST_CASE("aggregation weights") {
  int len[2] = {2, 4};
  float w[2];
  grpo_sequence_weights(len, 2, LossAgg::kTokenMean, 8, w);
  CHECK(w[0] == doctest::Approx(1.0 / 6));
  CHECK(w[1] == doctest::Approx(1.0 / 6));
  grpo_sequence_weights(len, 2, LossAgg::kSeqMeanTokenMean, 8, w);
  CHECK(w[0] == doctest::Approx(0.25));
  CHECK(w[1] == doctest::Approx(0.125));
  grpo_sequence_weights(len, 2, LossAgg::kDrGrpo, 8, w);
  CHECK(w[0] == doctest::Approx(1.0 / 16));
  CHECK(w[1] == doctest::Approx(1.0 / 16));
}

TEST_CASE("dlogp equals the finite difference of the loss") {
  Rng rng{3};
  const int N = 200;
  std::vector<float> logp(N), old(N), ref(N), roll(N), adv(N), w(N), dl(N);
  for (int n = 0; n < N; n++) {
    old[n] = static_cast<float>(-1.0 - rng.uniform());
    logp[n] = old[n] + static_cast<float>(0.4 * (rng.uniform() - 0.5));
    ref[n] = old[n] + static_cast<float>(0.3 * (rng.uniform() - 0.5));
    roll[n] = old[n] + static_cast<float>(0.2 * (rng.uniform() - 0.5));
    adv[n] = static_cast<float>(rng.normal());
    w[n] = static_cast<float>(rng.uniform());
  }
  GrpoLossConfig cfg;
  cfg.beta = 0.1f;
  cfg.tis_cap = 2.0f;
  for (KlEstimator kl : {KlEstimator::kK1, KlEstimator::kK2, KlEstimator::kK3}) {
    cfg.kl = kl;
    GrpoTokens t{N, logp.data(), old.data(), ref.data(), roll.data(), adv.data(), w.data()};
    GrpoStats st;
    grpo_loss(t, cfg, dl.data(), st);
    for (int n = 0; n < N; n++) {
      // The loss is piecewise smooth; skip tokens within h of a clip boundary.
      double ratio = std::exp(static_cast<double>(logp[n]) - old[n]);
      if (std::fabs(ratio - 0.8) < 1e-2 || std::fabs(ratio - 1.2) < 1e-2) continue;
      const float h = 1e-3f;
      std::vector<float> lp = logp;
      lp[n] = logp[n] + h;
      GrpoTokens tp{N, lp.data(), old.data(), ref.data(), roll.data(), adv.data(), w.data()};
      GrpoStats sp, sm;
      std::vector<float> scratch(N);
      grpo_loss(tp, cfg, scratch.data(), sp);
      lp[n] = logp[n] - h;
      grpo_loss(tp, cfg, scratch.data(), sm);
      double fd = (sp.loss - sm.loss) / (2.0 * h);
      // fp32 inputs perturbed by 1e-3: rounding of logp ± h is ~1e-7, so |error| ~ 1e-4 · |w|.
      CHECK(dl[n] == doctest::Approx(fd).epsilon(2e-3).scale(1.0));
    }
  }
}
