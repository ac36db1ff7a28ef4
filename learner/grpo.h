// GRPO and its variants as pure functions over per-token arrays. Per token of completion i:
//   ratio rho = exp(clamp(logp - logp_old, -20, 20));
//   surrogate l = max(-A_i * rho, -A_i * clip(rho, 1 - eps_low, 1 + eps_high)); for A_i < 0 the
//   dual clip bounds it: l = min(l, -c * A_i);
//   KL to the reference, d = logp_ref - logp: k1 = -d, k2 = d^2 / 2, k3 = exp(d) - d - 1;
//   loss = sum over tokens of weight * (tis * l + beta * k), where the truncated importance
//   factor tis = min(exp(logp_old - logp_rollout), tis_cap) when tis_cap > 0 and rollout log-probs
//   are given, else 1.
//
// Invariants:
// - Advantages are per completion and broadcast to its tokens; a group whose rewards are all
//   equal gets A = 0 in every mode, so it contributes no policy gradient.
// - A token's loss weight comes from the aggregation mode and the WHOLE step's counts (all
//   micro-batches and ranks), so accumulating micro-batch gradients gives the full-batch gradient.
// - grpo_loss returns the loss and writes dlogp, the gradient wrt each token's current log-prob,
//   which model_backward takes; every other input (old, reference, rollout log-probs) is constant.
#pragma once
#include <string>
#include <vector>

namespace aha {

enum class AdvantageMode { kGroupStd, kNoStd, kLeaveOneOut };
enum class KlEstimator { kK1, kK2, kK3 };
enum class LossAgg { kTokenMean, kSeqMeanTokenMean, kDrGrpo };

AdvantageMode parse_advantage_mode(const std::string& s);  // group_std | none | leave_one_out
KlEstimator parse_kl_estimator(const std::string& s);      // k1 | k2 | k3
LossAgg parse_loss_agg(const std::string& s);  // token_mean | seq_mean_token_mean | dr_grpo

// rewards[num_groups * G] -> adv[num_groups * G].
// group_std: (r - mean) / (std + 1e-6) (population std); none: r - mean (Dr. GRPO);
// leave_one_out: r_i - mean of the other G-1 rewards (RLOO).
void compute_advantages(const float* rewards, int num_groups, int G, AdvantageMode mode,
                        float* adv);

struct GrpoLossConfig {
  float eps_low = 0.2f;
  float eps_high = 0.2f;   // DAPO clip-higher: 0.28
  float dual_clip = 3.0f;  // c for A < 0; 0 = off
  float beta = 0.0f;       // KL coefficient; 0 = off
  KlEstimator kl = KlEstimator::kK3;
  float tis_cap = 0.0f;  // truncated importance sampling cap C; 0 = off
};

// Per-token inputs of one micro-batch (N tokens; only tokens with weight > 0 count).
struct GrpoTokens {
  int N = 0;
  const float* logp = nullptr;          // [N] current policy
  const float* logp_old = nullptr;      // [N] the policy at the start of the step
  const float* logp_ref = nullptr;      // [N] reference policy, or null (beta must be 0)
  const float* logp_rollout = nullptr;  // [N] the sampler's, or null (no TIS correction)
  const float* adv = nullptr;           // [N] the token's sequence advantage
  const float* weight = nullptr;        // [N] aggregation weight (0 = not a loss token)
};

struct GrpoStats {
  double loss = 0;        // Σ weight * (surrogate + beta * kl)
  double kl = 0;          // Σ weight * kl   (weights sum to one over the step: a mean)
  double clip_low = 0;    // Σ weight * [ratio clipped below (A < 0)]
  double clip_high = 0;   // Σ weight * [ratio clipped above (A > 0)]
  double clip_dual = 0;   // Σ weight * [dual clip active]
  double ratio_mean = 0;  // Σ weight * ratio
  double tis_mean = 0;    // Σ weight * TIS factor
  double weight_sum = 0;
};

// Aggregation weights for a step: seq_len[S] completion lengths of the S sequences of the step;
// writes one weight per sequence (each of its tokens gets it).
// token_mean: 1 / Σ len; seq_mean_token_mean: 1 / (S * len_s); dr_grpo: 1 / (S * max_len).
void grpo_sequence_weights(const int* seq_len, int S, LossAgg agg, int max_len, float* seq_weight);

// Adds the micro-batch's loss to stats and writes dlogp[N] (overwrites).
void grpo_loss(const GrpoTokens& t, const GrpoLossConfig& cfg, float* dlogp, GrpoStats& stats);

}  // namespace aha
