#include "learner/learner.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/check.h"
#include "kernels/ops.h"

namespace aha {

void learner_init(Learner& l, const Model& policy, const LearnerConfig& cfg) {
  l.cfg = cfg;
  model_build(l.policy, policy.cfg);
  l.policy.params.copy_from(policy.params);
  l.policy.version = policy.version;
  model_alloc_grads(l.policy);
  l.adam_m.assign(l.policy.num_params, 0.0f);
  l.adam_v.assign(l.policy.num_params, 0.0f);
  l.step = 0;
  if (cfg.need_ref) {
    model_build(l.ref, policy.cfg);
    l.ref.params.copy_from(policy.params);
  }
}

Device learner_device(const std::string& name) {
  if (name == "auto") return Device::kCpu;
  if (device_choose(name) == Device::kCpu) return Device::kCpu;
  throw std::runtime_error(
      "--device cuda: the learner's update does not run on CUDA yet (it reads log-probs and "
      "keeps AdamW state on the host); aha bench model --device cuda runs the model alone");
}

void learner_refresh_ref(Learner& l) {
  if (l.ref.num_params == 0) model_build(l.ref, l.policy.cfg);
  l.ref.params.copy_from(l.policy.params);
}

float learner_lr(const LearnerConfig& c, int step) {
  if (c.warmup_steps > 0 && step < c.warmup_steps)
    return c.lr * static_cast<float>(step + 1) / static_cast<float>(c.warmup_steps);
  if (c.schedule == "cosine") {
    int span = std::max(1, c.total_steps - c.warmup_steps);
    double t = std::min(1.0, static_cast<double>(step - c.warmup_steps) / span);
    double floor = c.min_lr_ratio;
    return static_cast<float>(c.lr * (floor + (1 - floor) * 0.5 * (1 + std::cos(M_PI * t))));
  }
  return c.lr;
}

namespace {

// Sequences [begin, end) of the step packed into one batch; fills the replay array when all
// of them carry routing.
struct MicroBatch {
  Batch batch;
  std::vector<int> sample_idx;  // [num seqs]
  std::vector<int> first_pos;   // [num seqs] packed index of the first completion target
  std::vector<int> replay;      // [num_moe_layers][N, K] or empty
};

std::vector<MicroBatch> make_micro_batches(const Model& m, const std::vector<TrainSample>& s,
                                           int token_budget, bool replay) {
  const int K = m.cfg.num_experts_per_tok, Lm = cfg_num_moe_layers(m.cfg);
  std::vector<MicroBatch> out;
  bool all_routed = replay && Lm > 0;
  for (const TrainSample& x : s) all_routed &= !x.routing.empty();
  MicroBatch cur;
  auto flush = [&] {
    if (cur.sample_idx.empty()) return;
    if (all_routed) {
      const int N = batch_num_tokens(cur.batch);
      cur.replay.assign(static_cast<size_t>(Lm) * N * K, 0);
      int pos = 0;
      for (int idx : cur.sample_idx) {
        const TrainSample& x = s[idx];
        const int n = static_cast<int>(x.prompt.size() + x.completion.size());
        AHA_CHECK(x.routing.size() == static_cast<size_t>(Lm) * n * K,
                  "sample routing has the wrong size");
        for (int l = 0; l < Lm; l++)
          std::memcpy(&cur.replay[(static_cast<size_t>(l) * N + pos) * K],
                      &x.routing[static_cast<size_t>(l) * n * K],
                      static_cast<size_t>(n) * K * sizeof(int));
        pos += n;
      }
    }
    out.push_back(std::move(cur));
    cur = MicroBatch{};
  };
  for (size_t i = 0; i < s.size(); i++) {
    const TrainSample& x = s[i];
    int n = static_cast<int>(x.prompt.size() + x.completion.size());
    if (!cur.sample_idx.empty() && batch_num_tokens(cur.batch) + n > token_budget) flush();
    std::vector<int> ids = x.prompt;
    ids.insert(ids.end(), x.completion.begin(), x.completion.end());
    cur.first_pos.push_back(batch_num_tokens(cur.batch) + static_cast<int>(x.prompt.size()) - 1);
    batch_add_sequence(cur.batch, ids, static_cast<int>(x.prompt.size()) - 1);
    cur.sample_idx.push_back(static_cast<int>(i));
  }
  flush();
  return out;
}

// Lays out the activations once for the step's largest micro-batch: no forward or backward of
// the step allocates.
void reserve_acts(Learner& l, const std::vector<MicroBatch>& mbs, bool need_ref) {
  int max_n = 0, max_b = 0;
  for (const MicroBatch& mb : mbs) {
    max_n = std::max(max_n, batch_num_tokens(mb.batch));
    max_b = std::max(max_b, batch_num_seqs(mb.batch));
  }
  if (max_n == 0) return;
  acts_reserve(l.policy, l.acts, max_n, max_b, true, true);
  if (need_ref) acts_reserve(l.ref, l.ref_acts, max_n, max_b, true, false);
}

void apply_adamw(Learner& l, float lr) {
  AdamWParams p;
  p.lr = lr;
  p.beta1 = l.cfg.beta1;
  p.beta2 = l.cfg.beta2;
  p.eps = l.cfg.adam_eps;
  p.weight_decay = l.cfg.weight_decay;
  l.step++;
  for (const TensorSpec& s : l.policy.specs) {
    if (!s.trainable) continue;
    // Norm weights take no decay, as usual.
    AdamWParams q = p;
    if (s.shape.size() == 1) q.weight_decay = 0.0f;
    adamw_update(l.policy.params.data() + s.offset, l.policy.grads.data() + s.offset,
                 l.adam_m.data() + s.offset, l.adam_v.data() + s.offset, s.numel, l.step, q);
  }
}

double clip_grads(Learner& l) {
  double norm = grad_norm(l.policy.grads.data(), l.policy.num_params);
  if (l.cfg.grad_clip > 0 && norm > l.cfg.grad_clip) {
    float f = static_cast<float>(l.cfg.grad_clip / (norm + 1e-12));
    for (float& g : l.policy.grads) g *= f;
  }
  return norm;
}

void update_router_bias(Learner& l, const std::vector<std::vector<long>>& load) {
  const ModelConfig& c = l.policy.cfg;
  if (l.cfg.bias_gamma <= 0) return;
  for (int layer = 0; layer < c.num_hidden_layers; layer++) {
    float* b = l.policy.w.layers[layer].router_bias;
    if (!b) continue;
    double mean = 0;
    for (long x : load[layer]) mean += static_cast<double>(x);
    mean /= c.n_routed_experts;
    for (int e = 0; e < c.n_routed_experts; e++) {
      if (load[layer][e] > mean)
        b[e] -= l.cfg.bias_gamma;
      else if (load[layer][e] < mean)
        b[e] += l.cfg.bias_gamma;
    }
  }
}

void add_load(std::vector<std::vector<long>>& total, const std::vector<std::vector<long>>& part) {
  if (total.empty())
    total.assign(part.size(), std::vector<long>(part.empty() ? 0 : part[0].size(), 0));
  for (size_t l = 0; l < part.size(); l++)
    for (size_t e = 0; e < part[l].size(); e++) total[l][e] += part[l][e];
}

}  // namespace

UpdateMetrics learner_update(Learner& l, const std::vector<TrainSample>& samples) {
  UpdateMetrics mt;
  const int S = static_cast<int>(samples.size());
  if (S == 0) return mt;
  Model& m = l.policy;
  // Aggregation weights over the whole step.
  std::vector<int> lens(S);
  for (int i = 0; i < S; i++)
    lens[i] = samples[i].masked ? 0 : static_cast<int>(samples[i].completion.size());
  std::vector<float> seq_w(S);
  grpo_sequence_weights(lens.data(), S, l.cfg.agg, l.cfg.max_len, seq_w.data());

  std::vector<MicroBatch> mbs =
      make_micro_batches(m, samples, l.cfg.micro_batch_tokens, l.cfg.routing_replay);
  reserve_acts(l, mbs, l.cfg.need_ref);
  ForwardOptions fo;
  fo.inv_temp = l.cfg.inv_temp;
  fo.need_entropy = true;

  // Old (and reference) log-probs per micro-batch: from a no-grad pass when the batch is used for
  // several optimiser steps; on-policy they are the first forward's own values.
  const int num_mb = static_cast<int>(mbs.size());
  std::vector<std::vector<float>> old_logp(num_mb), ref_logp(num_mb);
  mt.sample_mean_logp.assign(S, 0.0f);
  mt.sample_mean_abs_dlogp.assign(S, 0.0f);
  double dsum = 0, ent_sum = 0;
  long dcount = 0;
  for (int b = 0; b < num_mb; b++) {
    MicroBatch& mb = mbs[b];
    ForwardOptions o = fo;
    o.replay_topk_idx = mb.replay.empty() ? nullptr : mb.replay.data();
    model_forward(m, l.acts, mb.batch, o);
    const int N = batch_num_tokens(mb.batch);
    old_logp[b].assign(l.acts.logp.begin(), l.acts.logp.begin() + N);
    for (size_t j = 0; j < mb.sample_idx.size(); j++) {
      const TrainSample& x = samples[mb.sample_idx[j]];
      double lsum = 0, dabs = 0;
      for (size_t t = 0; t < x.completion.size(); t++) {
        const int pos = mb.first_pos[j] + static_cast<int>(t);
        lsum += l.acts.logp[pos];
        ent_sum += l.acts.entropy[pos];
        if (!x.rollout_logp.empty()) {
          double d = std::fabs(static_cast<double>(l.acts.logp[pos]) - x.rollout_logp[t]);
          dabs += d;
          mt.dlogp_max = std::max(mt.dlogp_max, d);
        }
      }
      const double n = std::max<size_t>(1, x.completion.size());
      mt.sample_mean_logp[mb.sample_idx[j]] = static_cast<float>(lsum / n);
      mt.sample_mean_abs_dlogp[mb.sample_idx[j]] = static_cast<float>(dabs / n);
      dsum += dabs;
      dcount += static_cast<long>(x.completion.size());
    }
    if (l.cfg.need_ref) {
      ForwardOptions r = fo;
      r.need_entropy = false;
      r.replay_topk_idx = o.replay_topk_idx;
      model_forward(l.ref, l.ref_acts, mb.batch, r);
      ref_logp[b].assign(l.ref_acts.logp.begin(), l.ref_acts.logp.begin() + N);
    }
  }
  mt.num_tokens = dcount;
  mt.dlogp_mean = dcount ? dsum / dcount : 0;
  mt.entropy = dcount ? ent_sum / dcount : 0;

  // Optimiser steps: mini-batch k takes micro-batches k, k + num_minibatches, ...
  const int num_mini = std::max(1, std::min(l.cfg.num_minibatches, num_mb));
  GrpoStats st;
  for (int k = 0; k < num_mini; k++) {
    model_zero_grads(m);
    std::vector<std::vector<long>> load;
    for (int b = k; b < num_mb; b += num_mini) {
      MicroBatch& mb = mbs[b];
      ForwardOptions o = fo;
      o.need_entropy = false;
      o.replay_topk_idx = mb.replay.empty() ? nullptr : mb.replay.data();
      // Each micro-batch's sequences are a share of the step's: scale alpha by that share.
      o.balance_alpha = l.cfg.balance_alpha * static_cast<float>(mb.sample_idx.size()) /
                        static_cast<float>(S) * static_cast<float>(num_mini);
      model_forward(m, l.acts, mb.batch, o);
      mt.balance_loss += l.acts.balance_loss / num_mini;
      add_load(load, l.acts.expert_load);
      const int N = batch_num_tokens(mb.batch);
      std::vector<float> adv(N, 0.0f), w(N, 0.0f), roll(N, 0.0f), dlogp(N, 0.0f);
      bool have_roll = true;
      for (size_t j = 0; j < mb.sample_idx.size(); j++) {
        const TrainSample& x = samples[mb.sample_idx[j]];
        have_roll &= !x.rollout_logp.empty();
        for (size_t t = 0; t < x.completion.size(); t++) {
          const int pos = mb.first_pos[j] + static_cast<int>(t);
          adv[pos] = x.advantage;
          w[pos] = seq_w[mb.sample_idx[j]] * static_cast<float>(num_mini);
          if (!x.rollout_logp.empty()) roll[pos] = x.rollout_logp[t];
        }
      }
      GrpoTokens t;
      t.N = N;
      t.logp = l.acts.logp.data();
      t.logp_old = num_mini == 1 ? l.acts.logp.data() : old_logp[b].data();
      t.logp_ref = l.cfg.need_ref ? ref_logp[b].data() : nullptr;
      t.logp_rollout = have_roll ? roll.data() : nullptr;
      t.adv = adv.data();
      t.weight = w.data();
      grpo_loss(t, l.cfg.loss, dlogp.data(), st);
      model_backward(m, l.acts, mb.batch, dlogp.data(), o);
    }
    mt.grad_norm = clip_grads(l);
    mt.lr = learner_lr(l.cfg, l.step);
    apply_adamw(l, static_cast<float>(mt.lr));
    update_router_bias(l, load);
    add_load(mt.expert_load, load);
  }
  m.version++;
  const double ws = st.weight_sum > 0 ? st.weight_sum : 1;
  mt.loss = st.loss / num_mini;
  mt.kl = st.kl / ws;
  mt.clip_low = st.clip_low / ws;
  mt.clip_high = st.clip_high / ws;
  mt.clip_dual = st.clip_dual / ws;
  mt.ratio_mean = st.ratio_mean / ws;
  mt.tis_mean = st.tis_mean / ws;
  return mt;
}

double learner_sft_step(Learner& l, const std::vector<TrainSample>& samples) {
  Model& m = l.policy;
  std::vector<MicroBatch> mbs = make_micro_batches(m, samples, l.cfg.micro_batch_tokens, false);
  reserve_acts(l, mbs, false);
  long total = 0;
  for (const TrainSample& x : samples) total += static_cast<long>(x.completion.size());
  AHA_CHECK(total > 0, "SFT batch without completion tokens");
  model_zero_grads(m);
  double loss = 0;
  ForwardOptions fo;
  std::vector<std::vector<long>> load;
  for (MicroBatch& mb : mbs) {
    model_forward(m, l.acts, mb.batch, fo);
    add_load(load, l.acts.expert_load);
    const int N = batch_num_tokens(mb.batch);
    std::vector<float> dlogp(N, 0.0f);
    for (int n = 0; n < N; n++) {
      if (mb.batch.targets[n] < 0) continue;
      loss -= l.acts.logp[n];
      dlogp[n] = -1.0f / static_cast<float>(total);
    }
    model_backward(m, l.acts, mb.batch, dlogp.data(), fo);
  }
  clip_grads(l);
  apply_adamw(l, learner_lr(l.cfg, l.step));
  update_router_bias(l, load);
  m.version++;
  return loss / static_cast<double>(total);
}

}  // namespace aha
