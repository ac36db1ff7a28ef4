// The learner: one GRPO update of the policy from a step's scored rollouts.
//
// Invariants:
// - Loss weights are computed over the whole step before any micro-batch runs (grpo.h), so the
//   accumulated gradient equals the full-batch gradient whatever the micro-batch size.
// - With num_minibatches == 1 the old policy is the current one (ratio 1, on-policy) and the
//   step's metrics (entropy, |learner - rollout| log-probs) come from the training forward: one
//   forward per micro-batch. With more, the old log-probs and the metrics come from a no-grad
//   pass before the first update.
// - Routing replay (when the samples carry routing and replay is on) makes the learner's forward
//   use the experts the sampler chose; the gate weights are recomputed, so the router still learns.
// - The router bias (e_score_correction_bias) is never touched by AdamW; it moves by ±gamma per
//   step from the expert loads (DeepSeek-V3's aux-loss-free balancing).
// - Data-parallel (a Collective of R > 1 ranks, every rank given the step's same samples): each
//   rank runs its contiguous share, balanced by token count; loss weights still come from the
//   whole step; gradients are summed across ranks before clipping and expert loads before the
//   bias update, so every rank applies the same update. With no Collective (or R = 1) nothing
//   is split or reduced: the single-process path, bit for bit.
// - Lanes (a small model on the CPU, learner_num_lanes): the rank's samples are split again the
//   same way into lanes, run over the compute threads; each lane runs its micro-batches on its
//   own copy of the policy (weights copied in before each optimiser step) with its own gradients,
//   every kernel whole on one thread; the lanes' gradients are summed in lane order. The split
//   depends on the step's shape only, so a run gives the same bits whether its lanes run side by
//   side or one after the other.
// - CUDA (device kCuda, learner/learner.cpp's device branch): `policy`, `adam_m` and `adam_v`
//   stay the host copy everything else reads (checkpoints, the weight broadcast, data-parallel
//   ranks); the update runs on `cuda`, the device copy, on its model's one stream with buffers laid
//   out before the step's first forward. The device copy is uploaded when the host copy changed
//   (learner_init, a resumed state, learner_refresh_ref: `cuda.stale`), the updated weights come
//   back to the host once per update, the AdamW state only when learner_sync_host asks for it.
//   Data-parallel CUDA ranks (NCCL, one GPU per rank: collective.h) split the step as on the CPU
//   and sum their device gradients with ncclAllReduce on that stream before the norm, clip and
//   AdamW, which then run the same on every rank; scalars and loads go through host buffers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/adamw.h"
#include "learner/grpo.h"
#include "policy/model.h"
#include "policy/sample.h"

namespace aha {

struct LearnerConfig {
  // optimiser
  float lr = 2e-4f;
  float min_lr_ratio = 0.1f;  // cosine floor as a fraction of lr
  int warmup_steps = 0;
  std::string schedule = "constant";  // constant | cosine
  int total_steps = 100;              // for the cosine schedule
  float weight_decay = 0.0f;
  float beta1 = 0.9f, beta2 = 0.95f, adam_eps = 1e-8f;
  float grad_clip = 1.0f;  // 0 = off
  int micro_batch_tokens = 4096;
  int num_minibatches = 1;  // optimiser steps per rollout batch
  // GRPO
  GrpoLossConfig loss;
  LossAgg agg = LossAgg::kTokenMean;
  int max_len = 64;  // Dr. GRPO's normaliser (the max completion length)
  bool routing_replay = true;
  float bias_gamma = 0.001f;    // aux-loss-free bias step; 0 = off
  float balance_alpha = 0.0f;   // sequence-wise balance loss (DeepSeek-V3: 1e-4); 0 = off
  float inv_temp = 1.0f;        // log-probs at the sampling temperature
  bool recompute = false;       // per-layer activation recomputation (ForwardOptions::recompute)
  bool need_ref = false;        // beta > 0
  int lanes = 0;                // 0: chosen by shape (learner_num_lanes); tests and benches set it
  std::string device = "auto";  // cpu | cuda | auto (learner_device): where the update runs
};

// The learner reads prompt, completion, rollout_logp, routing ([L][T + n, K]), advantage and
// masked of the one sample type (policy/sample.h).

struct Collective;

// A lane past the first: a copy of the policy (weights copied in at every optimiser step) with
// its own gradients and activations.
struct LearnerLane {
  Model policy;
  Acts acts;
  Acts ref_acts;
  std::vector<LearnerLane> lanes;  // lanes 1.. of the last update (lane 0 is policy, acts)
};

// The CUDA learner's device state (Learner::cuda): empty on the CPU.
struct LearnerCuda {
  Model policy;           // fp32 master weights, gradients, the bf16 copy; its stream runs the step
  Model ref;              // the reference model (need_ref)
  Acts acts, ref_acts;    // laid out for the largest micro-batch
  Buffer<float> adam;     // [2, num_params] AdamW state, one allocation: m, then v
  View<float> adam_m;     // [num_params] into adam
  View<float> adam_v;     // [num_params] into adam
  Buffer<char> segments;  // AdamW segments (trainable tensors, their decay), device
  int num_segments = 0;
  Arena step;             // the step's token arrays, statistics and workspaces (learner.cpp)
  bool stale = true;      // the host copy changed: all of it uploaded before the next update
  bool ref_stale = true;  // the host reference changed (learner_refresh_ref)
};

struct Learner {
  LearnerConfig cfg;
  Device device = Device::kCpu;  // where learner_update runs (from cfg.device)
  Model policy;
  Model ref;                  // frozen reference (used when cfg.need_ref)
  std::vector<float> adam_m;  // [num_params]
  std::vector<float> adam_v;  // [num_params]
  int step = 0;               // optimiser steps taken
  Acts acts;
  Acts ref_acts;
  std::vector<LearnerLane> lanes;  // lanes 1.. of the last update (lane 0 is policy, acts)
  LearnerCuda cuda;                // device kCuda only
};

struct UpdateMetrics {
  double loss = 0, kl = 0, entropy = 0;
  double clip_low = 0, clip_high = 0, clip_dual = 0, ratio_mean = 0, tis_mean = 0;
  double dlogp_max = 0, dlogp_mean = 0;  // |learner old logp - rollout logp|
  double grad_norm = 0, lr = 0;
  double balance_loss = 0;  // sequence-wise balance loss, summed over micro-batches
  long num_tokens = 0;
  double t_comm = 0;  // seconds inside collectives (data-parallel only)
  double t_cpu = 0;   // CPU seconds of the update's thread (the slowest rank's when data-parallel)
  std::vector<std::vector<long>> expert_load;  // [L][E] tokens per expert over the step
  std::vector<float> sample_mean_logp;         // [S] learner's mean logp per sample
  std::vector<float> sample_mean_abs_dlogp;    // [S] mean |learner - rollout| per sample
};

void learner_init(Learner& l, const Model& policy, const LearnerConfig& cfg);
// Lanes of an update of `tokens` tokens (this rank's share): on the CPU, a model of at most
// kLaneMaxParams parameters runs up to kMaxLanes lanes of at least kLaneMinTokens tokens, more
// lanes than threads so that a thread the OS delays holds up a small share only; otherwise one
// lane (the kernels split their own work over the threads). Shape alone decides: the same lanes,
// the same bits, on any number of threads.
constexpr long kLaneMaxParams = 4L << 20;
constexpr int kLaneMinTokens = 512;
constexpr int kMaxLanes = 8;
int learner_num_lanes(const Learner& l, long tokens);
// learner.device / the --device of aha train, sft and pretrain: "cpu", "cuda" (refused, saying
// why, in a build without CUDA or without a device) or "auto" (cuda when a device answers).
Device learner_device(const std::string& name);
// CUDA: the AdamW state back into adam_m and adam_v (before a checkpoint); no-op on the CPU.
void learner_sync_host(Learner& l);
// The policy's current weights, [num_params] on *where, for readers in this process (the rollout
// workers' handoff, rollout/weight_handoff.h): the CUDA learner's device copy once it is current
// (so a colocated engine copies device to device), else the host copy. Unchanged until the next
// learner_update, checkpoint load or learner_init.
const float* learner_weights(const Learner& l, Device* where);
float learner_lr(const LearnerConfig& cfg, int step);
UpdateMetrics learner_update(Learner& l, const std::vector<Sample>& samples,
                             Collective* dp = nullptr);
// The samples [begin, end) of rank `rank` of R: contiguous, with near-equal token counts.
void learner_shard(const std::vector<Sample>& samples, int rank, int R, int* begin, int* end);
// Copies the policy into the reference model (refresh every N steps).
void learner_refresh_ref(Learner& l);

// Supervised fine-tuning step on (prompt, completion) pairs: mean token cross-entropy of the
// completions. Returns the loss before the update.
double learner_sft_step(Learner& l, const std::vector<Sample>& samples);

}  // namespace aha
