// grpo_loss_cuda equals grpo_loss (learner/grpo.h): per-token dlogp and the step statistics, for
// clipping both ways, dual clip, each KL estimator and truncated importance sampling.
#include <cuda_runtime.h>

#include <cmath>
#include <vector>

#include "learner/cuda/grpo.h"
#include "learner/grpo.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/gpu_util.h"

using namespace aha;
using gpu_test::check_close;
using gpu_test::Dev;
using gpu_test::randn;

TEST_CASE("grpo_loss_cuda matches the CPU loss terms and statistics") {
  for (int N : {1, 1000, 4099}) {
    std::vector<float> logp = randn(N, 61, 0.5), old = randn(N, 62, 0.5), ref = randn(N, 63, 0.5);
    std::vector<float> roll = randn(N, 64, 0.5), adv = randn(N, 65), weight(N);
    for (int n = 0; n < N; n++) {
      logp[n] -= 2.0f;
      old[n] = logp[n] + 0.3f * old[n];
      ref[n] = logp[n] + 0.3f * ref[n];
      roll[n] = old[n] + 0.2f * roll[n];
      weight[n] = n % 5 == 4 ? 0.0f : 1.0f / N;
    }
    for (KlEstimator kl : {KlEstimator::kK1, KlEstimator::kK2, KlEstimator::kK3}) {
      GrpoLossConfig cfg;
      cfg.eps_high = 0.28f;
      cfg.beta = 0.04f;
      cfg.kl = kl;
      cfg.tis_cap = 2.0f;
      GrpoTokens t{N, logp.data(), old.data(), ref.data(), roll.data(), adv.data(), weight.data()};
      std::vector<float> dlogp(N);
      GrpoStats st;
      grpo_loss(t, cfg, dlogp.data(), st);
      Dev<float> a(logp), b(old), c(ref), d(roll), e(adv), f(weight), out(N);
      Dev<double> stats(kGrpoStatsFields);
      GrpoTokens dt{N, a.p, b.p, c.p, d.p, e.p, f.p};
      size_t ws_bytes = grpo_loss_workspace_size(N);
      Dev<char> ws(ws_bytes);
      grpo_loss_cuda(dt, cfg, out.p, stats.p, ws.p, ws_bytes, 0);
      check_close(out.download(), dlogp, 1e-9, "dlogp");
      GrpoStats g = grpo_stats_from_device(stats.p, 0);
      auto near = [](double x, double y) { return std::fabs(x - y) <= 1e-9 + 1e-9 * std::fabs(y); };
      CHECK(near(g.loss, st.loss));
      CHECK(near(g.kl, st.kl));
      CHECK(near(g.clip_low, st.clip_low));
      CHECK(near(g.clip_high, st.clip_high));
      CHECK(near(g.clip_dual, st.clip_dual));
      CHECK(near(g.ratio_mean, st.ratio_mean));
      CHECK(near(g.tis_mean, st.tis_mean));
      CHECK(near(g.weight_sum, st.weight_sum));
      if (N > 100) CHECK(st.clip_high + st.clip_low > 0);  // clipping is exercised
    }
  }
}
