#include "learner/grpo.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace aha {

AdvantageMode parse_advantage_mode(const std::string& s) {
  if (s == "group_std") return AdvantageMode::kGroupStd;
  if (s == "none") return AdvantageMode::kNoStd;
  if (s == "leave_one_out") return AdvantageMode::kLeaveOneOut;
  throw std::runtime_error("advantage mode '" + s + "' (use group_std, none, leave_one_out)");
}

KlEstimator parse_kl_estimator(const std::string& s) {
  if (s == "k1") return KlEstimator::kK1;
  if (s == "k2") return KlEstimator::kK2;
  if (s == "k3") return KlEstimator::kK3;
  throw std::runtime_error("KL estimator '" + s + "' (use k1, k2, k3)");
}

LossAgg parse_loss_agg(const std::string& s) {
  if (s == "token_mean") return LossAgg::kTokenMean;
  if (s == "seq_mean_token_mean") return LossAgg::kSeqMeanTokenMean;
  if (s == "dr_grpo") return LossAgg::kDrGrpo;
  throw std::runtime_error("loss aggregation '" + s +
                           "' (use token_mean, seq_mean_token_mean, dr_grpo)");
}

void compute_advantages(const float* rewards, int num_groups, int G, AdvantageMode mode,
                        float* adv) {
  for (int g = 0; g < num_groups; g++) {
    const float* r = rewards + static_cast<size_t>(g) * G;
    float* a = adv + static_cast<size_t>(g) * G;
    double sum = 0;
    for (int i = 0; i < G; i++) sum += r[i];
    double mean = sum / G;
    bool all_equal = true;
    for (int i = 1; i < G; i++) all_equal &= r[i] == r[0];
    if (all_equal) {
      std::fill(a, a + G, 0.0f);
      continue;
    }
    if (mode == AdvantageMode::kGroupStd) {
      double var = 0;
      for (int i = 0; i < G; i++) var += (r[i] - mean) * (r[i] - mean);
      double std = std::sqrt(var / G);
      for (int i = 0; i < G; i++) a[i] = static_cast<float>((r[i] - mean) / (std + 1e-6));
    } else if (mode == AdvantageMode::kNoStd) {
      for (int i = 0; i < G; i++) a[i] = static_cast<float>(r[i] - mean);
    } else {
      for (int i = 0; i < G; i++)
        a[i] = G > 1 ? static_cast<float>(r[i] - (sum - r[i]) / (G - 1)) : 0.0f;
    }
  }
}

void grpo_sequence_weights(const int* seq_len, int S, LossAgg agg, int max_len, float* seq_weight) {
  double total = 0;
  for (int s = 0; s < S; s++) total += seq_len[s];
  for (int s = 0; s < S; s++) {
    double w = 0;
    if (seq_len[s] > 0) {
      switch (agg) {
        case LossAgg::kTokenMean:
          w = 1.0 / total;
          break;
        case LossAgg::kSeqMeanTokenMean:
          w = 1.0 / (static_cast<double>(S) * seq_len[s]);
          break;
        case LossAgg::kDrGrpo:
          w = 1.0 / (static_cast<double>(S) * max_len);
          break;
      }
    }
    seq_weight[s] = static_cast<float>(w);
  }
}

void grpo_loss(const GrpoTokens& t, const GrpoLossConfig& cfg, float* dlogp, GrpoStats& st) {
  if (cfg.beta != 0 && t.logp_ref == nullptr)
    throw std::runtime_error("grpo_loss: beta > 0 needs reference log-probs");
  for (int n = 0; n < t.N; n++) {
    dlogp[n] = 0.0f;
    const double w = t.weight[n];
    if (w <= 0) continue;
    const double A = t.adv[n];
    const double diff = std::clamp(static_cast<double>(t.logp[n]) - t.logp_old[n], -20.0, 20.0);
    const double ratio = std::exp(diff);
    const double lo = 1.0 - cfg.eps_low, hi = 1.0 + cfg.eps_high;
    const double clipped = std::clamp(ratio, lo, hi);
    const double unclipped_loss = -A * ratio, clipped_loss = -A * clipped;
    double loss, dl;  // dl = d loss / d logp
    if (unclipped_loss >= clipped_loss) {
      loss = unclipped_loss;
      dl = -A * ratio;
    } else {
      loss = clipped_loss;  // constant in logp: the ratio is outside the band
      dl = 0;
      if (A > 0)
        st.clip_high += w;
      else
        st.clip_low += w;
    }
    if (cfg.dual_clip > 0 && A < 0 && loss > -cfg.dual_clip * A) {
      loss = -cfg.dual_clip * A;
      dl = 0;
      st.clip_dual += w;
    }
    double kl = 0, dkl = 0;
    if (t.logp_ref) {
      const double d = static_cast<double>(t.logp_ref[n]) - t.logp[n];
      switch (cfg.kl) {
        case KlEstimator::kK1:
          kl = -d;
          dkl = 1;
          break;
        case KlEstimator::kK2:
          kl = 0.5 * d * d;
          dkl = -d;
          break;
        case KlEstimator::kK3: {
          double ed = std::exp(std::min(d, 20.0));
          kl = ed - d - 1;
          dkl = 1 - ed;
          break;
        }
      }
    }
    double tis = 1.0;
    if (cfg.tis_cap > 0 && t.logp_rollout) {
      tis = std::min(
          std::exp(std::clamp(static_cast<double>(t.logp_old[n]) - t.logp_rollout[n], -20.0, 20.0)),
          static_cast<double>(cfg.tis_cap));
    }
    // The importance weight corrects the policy-gradient term only; the KL penalty is on-policy.
    st.loss += w * (tis * loss + cfg.beta * kl);
    st.kl += w * kl;
    st.ratio_mean += w * ratio;
    st.tis_mean += w * tis;
    st.weight_sum += w;
    dlogp[n] = static_cast<float>(w * (tis * dl + cfg.beta * dkl));
  }
}

}  // namespace aha
