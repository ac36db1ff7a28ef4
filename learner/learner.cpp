#include "learner/learner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>

#include "kernels/check.h"
#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "learner/collective.h"
#ifdef AHA_HAVE_CUDA
#include "kernels/cuda/ops.h"
#include "learner/cuda/grpo.h"
#endif

namespace aha {

#ifdef AHA_HAVE_CUDA
namespace {
void cuda_build(Learner& l);
}
#endif

void learner_init(Learner& l, const Model& policy, const LearnerConfig& cfg) {
  l.cfg = cfg;
  model_build(l.policy, policy.cfg);
  l.device = learner_device(cfg.device);
  // The CUDA learner downloads the weights into this copy every update.
  if (l.device == Device::kCuda) model_lock_host_params(l.policy);
  l.policy.params.copy_from(policy.params);
  l.policy.version = policy.version;
  if (l.device == Device::kCpu) model_alloc_grads(l.policy);  // CUDA: on the device copy
  l.adam_m.assign(l.policy.num_params, 0.0f);
  l.adam_v.assign(l.policy.num_params, 0.0f);
  l.step = 0;
  if (cfg.need_ref) {
    model_build(l.ref, policy.cfg);
    l.ref.params.copy_from(policy.params);
  }
  l.cuda = LearnerCuda{};
#ifdef AHA_HAVE_CUDA
  if (l.device == Device::kCuda) cuda_build(l);
#endif
}

Device learner_device(const std::string& name) {
  if (name == "cpu") return Device::kCpu;
  if (name != "cuda" && name != "auto")
    throw std::runtime_error("learner device '" + name + "': expected cpu, cuda or auto");
  return device_choose(name);  // "cuda" without CUDA or a device throws saying which
}

void learner_refresh_ref(Learner& l) {
  if (l.ref.num_params == 0) model_build(l.ref, l.policy.cfg);
  l.ref.params.copy_from(l.policy.params);
  l.cuda.ref_stale = true;
}

void learner_sync_host(Learner& l) {
  if (l.device != Device::kCuda || l.cuda.stale) return;  // stale: the host copy is the newer
  const Ctx& ctx = l.cuda.policy.ctx;
  const size_t bytes = static_cast<size_t>(l.policy.num_params) * sizeof(float);
  device_copy(ctx, l.adam_m.data(), Device::kCpu, l.cuda.adam_m.data(), Device::kCuda, bytes);
  device_copy(ctx, l.adam_v.data(), Device::kCpu, l.cuda.adam_v.data(), Device::kCuda, bytes);
}

const float* learner_weights(const Learner& l, Device* where) {
  const bool device = l.device == Device::kCuda && !l.cuda.stale;
  *where = device ? Device::kCuda : Device::kCpu;
  return device ? l.cuda.policy.params.data() : l.policy.params.data();
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

// Lane r's model and activations: lane 0 is the policy itself, the others its copies.
Model& lane_model(Learner& l, int r) {
  return r == 0 ? l.policy : l.lanes[r - 1].policy;
}
Acts& lane_acts(Learner& l, int r) {
  return r == 0 ? l.acts : l.lanes[r - 1].acts;
}
Acts& lane_ref_acts(Learner& l, int r) {
  return r == 0 ? l.ref_acts : l.lanes[r - 1].ref_acts;
}

// Sequences of the step packed into one batch; fills the replay array when all the step's
// samples carry routing.
struct MicroBatch {
  Batch batch;
  std::vector<int> sample_idx;  // [num seqs]
  std::vector<int> first_pos;   // [num seqs] packed index of the first completion target
  std::vector<int> replay;      // [num_moe_layers][N, K] or empty
};

// Micro-batches of the samples [begin, end) of s.
std::vector<MicroBatch> make_micro_batches(const Model& m, const std::vector<Sample>& s, int begin,
                                           int end, int token_budget, bool replay) {
  const int K = m.cfg.num_experts_per_tok, Lm = cfg_num_moe_layers(m.cfg);
  std::vector<MicroBatch> out;
  bool all_routed = replay && Lm > 0;
  for (const Sample& x : s) all_routed &= !x.routing.empty();
  MicroBatch cur;
  auto flush = [&] {
    if (cur.sample_idx.empty()) return;
    if (all_routed) {
      const int N = batch_num_tokens(cur.batch);
      cur.replay.assign(static_cast<size_t>(Lm) * N * K, 0);
      int pos = 0;
      for (int idx : cur.sample_idx) {
        const Sample& x = s[idx];
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
  for (int i = begin; i < end; i++) {
    const Sample& x = s[i];
    int n = static_cast<int>(x.prompt.size() + x.completion.size());
    if (!cur.sample_idx.empty() && batch_num_tokens(cur.batch) + n > token_budget) flush();
    std::vector<int> ids = x.prompt;
    ids.insert(ids.end(), x.completion.begin(), x.completion.end());
    cur.first_pos.push_back(batch_num_tokens(cur.batch) + static_cast<int>(x.prompt.size()) - 1);
    batch_add_sequence(cur.batch, ids, static_cast<int>(x.prompt.size()) - 1);
    cur.sample_idx.push_back(i);
  }
  flush();
  return out;
}

// Lays out the activations once for the step's largest micro-batch: no forward or backward of
// the step allocates.
void reserve_acts(Learner& l, int lane, const std::vector<MicroBatch>& mbs, bool need_ref) {
  int max_n = 0, max_b = 0;
  for (const MicroBatch& mb : mbs) {
    max_n = std::max(max_n, batch_num_tokens(mb.batch));
    max_b = std::max(max_b, batch_num_seqs(mb.batch));
  }
  if (max_n == 0) return;
  acts_reserve(lane_model(l, lane), lane_acts(l, lane), max_n, max_b, true, true, l.cfg.recompute);
  if (need_ref)
    acts_reserve(l.ref, lane_ref_acts(l, lane), max_n, max_b, true, false, l.cfg.recompute);
}

void apply_adamw(Learner& l, float lr) {
  AdamWParams p;
  p.lr = lr;
  p.beta1 = l.cfg.beta1;
  p.beta2 = l.cfg.beta2;
  p.eps = l.cfg.adam_eps;
  p.weight_decay = l.cfg.weight_decay;
  l.step++;
  // Tensors over the threads (each is updated alone, elementwise: the same bits on any number).
  const std::vector<TensorSpec>& specs = l.policy.specs;
  parallel_for(static_cast<int>(specs.size()), [&](int i) {
    const TensorSpec& s = specs[i];
    if (!s.trainable) return;
    // Norm weights take no decay, as usual.
    AdamWParams q = p;
    if (s.shape.size() == 1) q.weight_decay = 0.0f;
    adamw_update(l.policy.params.data() + s.offset, l.policy.grads.data() + s.offset,
                 l.adam_m.data() + s.offset, l.adam_v.data() + s.offset, s.numel, l.step, q);
  });
}

double clip_grads(Learner& l) {
  double norm = grad_norm(l.policy.grads.data(), l.policy.num_params);
  if (l.cfg.grad_clip > 0 && norm > l.cfg.grad_clip) {
    float f = static_cast<float>(l.cfg.grad_clip / (norm + 1e-12));
    float* g = l.policy.grads.data();
    const long P = l.policy.num_params;
    constexpr long kChunk = 1 << 15;
    parallel_for(static_cast<int>((P + kChunk - 1) / kChunk), [&](int c) {
      for (long i = c * kChunk; i < std::min(P, (c + 1) * kChunk); i++) g[i] *= f;
    });
  }
  return norm;
}

void update_router_bias(Learner& l, const std::vector<std::vector<long>>& load) {
  const ModelConfig& c = l.policy.cfg;
  if (l.cfg.bias_gamma <= 0) return;
  for (int layer = 0; layer < c.num_hidden_layers; layer++) {
    float* b = l.policy.w.layers[layer].router_bias;  // on the host
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

namespace {

// The samples [*begin, *end) of rank `rank` of R within [b, e): contiguous, balanced tokens.
void shard_range(const std::vector<Sample>& samples, int b, int e, int rank, int R, int* begin,
                 int* end) {
  const int S = e - b;
  std::vector<long> prefix(S + 1, 0);  // tokens of the samples before b + i
  for (int i = 0; i < S; i++)
    prefix[i + 1] = prefix[i] + static_cast<long>(samples[b + i].prompt.size() +
                                                  samples[b + i].completion.size());
  // Rank r starts at the first sample whose preceding tokens reach r/R of the range's.
  auto start = [&](int r) {
    if (r >= R) return S;
    return static_cast<int>(
        std::lower_bound(prefix.begin(), prefix.end() - 1, (prefix[S] * r + R - 1) / R) -
        prefix.begin());
  };
  *begin = b + start(rank);
  *end = b + start(rank + 1);
}

}  // namespace

void learner_shard(const std::vector<Sample>& samples, int rank, int R, int* begin, int* end) {
  shard_range(samples, 0, static_cast<int>(samples.size()), rank, R, begin, end);
}

int learner_num_lanes(const Learner& l, long tokens) {
  if (l.cfg.lanes > 0) return l.cfg.lanes;
  if (l.policy.ctx.device != Device::kCpu || l.policy.num_params > kLaneMaxParams) return 1;
  return static_cast<int>(std::clamp<long>(tokens / kLaneMinTokens, 1, kMaxLanes));
}

namespace {

// One lane's share of an update: its samples' micro-batches and its partial sums, combined in
// lane order after every lane has run.
struct LaneWork {
  std::vector<MicroBatch> mbs;
  std::vector<std::vector<float>> old_logp, ref_logp;  // [num mbs][N] (several mini-batches)
  GrpoStats st;
  double dsum = 0, ent_sum = 0, dlogp_max = 0, balance_loss = 0;
  long dcount = 0;
  std::vector<std::vector<long>> load;     // [L][E] of the current mini-batch
  std::vector<float> adv, w, roll, dlogp;  // [N] per micro-batch, reused
};

// The per-sample metrics of micro-batch mb from its forward's log-probs and entropies (host).
// Each sample is one lane's: the per-sample outputs are written by one thread.
void add_metrics(const std::vector<Sample>& samples, const MicroBatch& mb, const float* logp,
                 const float* entropy, LaneWork& lw, UpdateMetrics& mt) {
  for (size_t j = 0; j < mb.sample_idx.size(); j++) {
    const Sample& x = samples[mb.sample_idx[j]];
    double lsum = 0, dabs = 0;
    for (size_t t = 0; t < x.completion.size(); t++) {
      const int pos = mb.first_pos[j] + static_cast<int>(t);
      lsum += logp[pos];
      lw.ent_sum += entropy[pos];
      if (!x.rollout_logp.empty()) {
        double d = std::fabs(static_cast<double>(logp[pos]) - x.rollout_logp[t]);
        dabs += d;
        lw.dlogp_max = std::max(lw.dlogp_max, d);
      }
    }
    const double n = std::max<size_t>(1, x.completion.size());
    mt.sample_mean_logp[mb.sample_idx[j]] = static_cast<float>(lsum / n);
    mt.sample_mean_abs_dlogp[mb.sample_idx[j]] = static_cast<float>(dabs / n);
    lw.dsum += dabs;
    lw.dcount += static_cast<long>(x.completion.size());
  }
}

// Micro-batch mb's per-token advantage, loss weight and rollout log-prob (zero-filled arrays of
// its N tokens). Returns whether every sample carries rollout log-probs.
bool token_terms(const std::vector<Sample>& samples, const MicroBatch& mb,
                 const std::vector<float>& seq_w, int num_mini, float* adv, float* w, float* roll) {
  bool have_roll = true;
  for (size_t j = 0; j < mb.sample_idx.size(); j++) {
    const Sample& x = samples[mb.sample_idx[j]];
    have_roll &= !x.rollout_logp.empty();
    for (size_t t = 0; t < x.completion.size(); t++) {
      const int pos = mb.first_pos[j] + static_cast<int>(t);
      adv[pos] = x.advantage;
      w[pos] = seq_w[mb.sample_idx[j]] * static_cast<float>(num_mini);
      if (!x.rollout_logp.empty()) roll[pos] = x.rollout_logp[t];
    }
  }
  return have_roll;
}

// The step's metrics from the summed statistics.
void finish_metrics(UpdateMetrics& mt, const GrpoStats& st, double dsum, double ent_sum,
                    long dcount, int num_mini) {
  mt.num_tokens = dcount;
  mt.dlogp_mean = dcount ? dsum / dcount : 0;
  mt.entropy = dcount ? ent_sum / dcount : 0;
  const double ws = st.weight_sum > 0 ? st.weight_sum : 1;
  mt.loss = st.loss / num_mini;
  mt.kl = st.kl / ws;
  mt.clip_low = st.clip_low / ws;
  mt.clip_high = st.clip_high / ws;
  mt.clip_dual = st.clip_dual / ws;
  mt.ratio_mean = st.ratio_mean / ws;
  mt.tis_mean = st.tis_mean / ws;
}

void add_stats(GrpoStats& a, const GrpoStats& b) {
  a.loss += b.loss;
  a.kl += b.kl;
  a.clip_low += b.clip_low;
  a.clip_high += b.clip_high;
  a.clip_dual += b.clip_dual;
  a.ratio_mean += b.ratio_mean;
  a.tis_mean += b.tis_mean;
  a.weight_sum += b.weight_sum;
}

// Data-parallel: the ranks' expert loads of a mini-batch summed (exact in doubles), in place.
void allreduce_load(Collective& dp, std::vector<std::vector<long>>& load) {
  std::vector<double> flat;
  for (const std::vector<long>& layer : load) flat.insert(flat.end(), layer.begin(), layer.end());
  collective_allreduce_sum(dp, flat.data(), flat.size());
  size_t i = 0;
  for (std::vector<long>& layer : load)
    for (long& x : layer) x = static_cast<long>(flat[i++]);
}

// Data-parallel: the step's statistics and metrics summed (maxed) over the ranks, before
// finish_metrics. Per-sample values are written by their owner only (zero elsewhere): a sum
// gathers them.
void allreduce_metrics(Collective& dp, UpdateMetrics& mt, GrpoStats& st, double& dsum,
                       double& ent_sum, long& dcount, int S) {
  std::vector<double> sums = {dsum, ent_sum, static_cast<double>(dcount)};
  collective_allreduce_sum(dp, sums.data(), sums.size());
  dsum = sums[0];
  ent_sum = sums[1];
  dcount = static_cast<long>(sums[2]);
  collective_allreduce_max(dp, &mt.dlogp_max, 1);
  collective_allreduce_sum(dp, mt.sample_mean_logp.data(), S);
  collective_allreduce_sum(dp, mt.sample_mean_abs_dlogp.data(), S);
  collective_allreduce_max(dp, &mt.t_cpu, 1);
  double v[] = {st.loss,       st.kl,       st.clip_low,   st.clip_high,   st.clip_dual,
                st.ratio_mean, st.tis_mean, st.weight_sum, mt.balance_loss};
  collective_allreduce_sum(dp, v, sizeof v / sizeof v[0]);
  st.loss = v[0], st.kl = v[1], st.clip_low = v[2], st.clip_high = v[3], st.clip_dual = v[4];
  st.ratio_mean = v[5], st.tis_mean = v[6], st.weight_sum = v[7], mt.balance_loss = v[8];
}

}  // namespace

#ifdef AHA_HAVE_CUDA
// ----------------------------------------------------------------------------------------------
// The CUDA learner: the same update on l.cuda (learner.h), on its policy's one stream.

namespace {

cudaStream_t stream_of(const Model& m) {
  return static_cast<cudaStream_t>(m.ctx.stream);
}

// The device copy: model with gradients, AdamW state, the AdamW segments and activations for
// learner.micro_batch_tokens. Refused up front, saying what it needs, when it does not fit.
void cuda_build(Learner& l) {
  LearnerCuda& d = l.cuda;
  const ModelConfig& c = l.policy.cfg;
  const int T = l.cfg.micro_batch_tokens;
  MemoryPlan plan = model_memory_plan(l.policy, T, T, true, l.cfg.recompute);
  if (l.cfg.need_ref) {  // the reference: weights, their bf16 copy, its forward's activations
    plan.weights += plan.weights;
    plan.weights_bf16 += plan.weights_bf16;
    plan.activations += acts_bytes(l.policy, T, T, false, l.cfg.recompute);
  }
  memory_plan_check(plan, Device::kCuda,
                    "the CUDA learner (learner.micro_batch_tokens = " + std::to_string(T) + ")");
  model_build(d.policy, c, Device::kCuda);
  model_alloc_grads(d.policy);
  const long P = d.policy.num_params;
  d.adam.alloc(Device::kCuda, 2 * static_cast<size_t>(P));
  d.adam_m = View<float>{d.adam.data(), static_cast<size_t>(P)};
  d.adam_v = View<float>{d.adam.data() + P, static_cast<size_t>(P)};
  // Norm weights take no decay, as on the CPU (apply_adamw); frozen tensors are left out.
  std::vector<AdamWSegment> segs;
  for (const TensorSpec& s : d.policy.specs)
    if (s.trainable)
      segs.push_back({s.offset, s.numel, s.shape.size() == 1 ? 0.0f : l.cfg.weight_decay});
  std::sort(segs.begin(), segs.end(),
            [](const AdamWSegment& a, const AdamWSegment& b) { return a.offset < b.offset; });
  d.num_segments = static_cast<int>(segs.size());
  d.segments.alloc(Device::kCuda, segs.size() * sizeof(AdamWSegment));
  device_copy(d.policy.ctx, d.segments.data(), Device::kCuda, segs.data(), Device::kCpu,
              segs.size() * sizeof(AdamWSegment));
  acts_reserve(d.policy, d.acts, T, T, true, true, l.cfg.recompute);
  if (l.cfg.need_ref) {
    model_build(d.ref, c, Device::kCuda);
    acts_reserve(d.ref, d.ref_acts, T, T, true, false, l.cfg.recompute);
  }
  d.stale = d.ref_stale = true;
}

// The host copy onto the device where it changed (init, a loaded checkpoint, a new reference).
void cuda_upload(Learner& l) {
  LearnerCuda& d = l.cuda;
  const size_t bytes = static_cast<size_t>(l.policy.num_params) * sizeof(float);
  if (d.stale) {
    const Ctx& ctx = d.policy.ctx;
    device_copy(ctx, d.policy.params.data(), Device::kCuda, l.policy.params.data(), Device::kCpu,
                bytes);
    device_copy(ctx, d.adam_m.data(), Device::kCuda, l.adam_m.data(), Device::kCpu, bytes);
    device_copy(ctx, d.adam_v.data(), Device::kCuda, l.adam_v.data(), Device::kCpu, bytes);
    d.stale = false;
  }
  if (d.ref_stale && l.cfg.need_ref)
    device_copy(d.ref.ctx, d.ref.params.data(), Device::kCuda, l.ref.params.data(), Device::kCpu,
                bytes);
  d.ref_stale = false;
}

// The step's device arrays, views into l.cuda.step (grown only by a step larger than any before).
struct CudaStep {
  View<float> terms;     // [3, total] advantage, loss weight, rollout logp of every micro-batch
  View<float> old_logp;  // [total] the old policy's (several mini-batches)
  View<float> ref_logp;  // [total] the reference's (need_ref)
  View<float> dlogp;     // [max_n]
  View<double> stats;    // [kGrpoStatsFields] GrpoStats summed over the step
  View<double> norm;     // [1] the gradient norm of the last optimiser step
  View<char> ws;         // grpo_loss_cuda's and grad_norm_cuda's workspace
};

CudaStep cuda_step_plan(Learner& l, long total, int max_n, bool old, bool ref) {
  CudaStep v;
  const size_t ws = std::max(grpo_loss_workspace_size(std::max(max_n, 1)),
                             grad_norm_workspace_size(l.policy.num_params));
  arena_plan(l.cuda.step, Device::kCuda, [&](ArenaPlan& p) {
    p.take(v.terms, 3 * static_cast<size_t>(total));
    p.take(v.old_logp, old ? total : 0);
    p.take(v.ref_logp, ref ? total : 0);
    p.take(v.dlogp, max_n);
    p.take(v.stats, kGrpoStatsFields);
    p.take(v.norm, 1);
    p.take(v.ws, ws);
  });
  return v;
}

// Global norm, clip and AdamW over all parameters in one launch each (the clip factor is read on
// the device); returns the norm (one value to the host, for the metrics).
double cuda_optimizer_step(Learner& l, const CudaStep& v, float lr) {
  LearnerCuda& d = l.cuda;
  const long P = d.policy.num_params;
  cudaStream_t s = stream_of(d.policy);
  grad_norm_cuda(v.norm.data(), d.policy.grads.data(), P, v.ws.data(), v.ws.size(), s);
  AdamWParams p;
  p.lr = lr;
  p.beta1 = l.cfg.beta1;
  p.beta2 = l.cfg.beta2;
  p.eps = l.cfg.adam_eps;
  l.step++;
  // The GEMMs' bf16 copy is written beside the fp32 update: the next forward needs no sync.
  adamw_update_cuda(d.policy.params.data(), static_cast<bf16*>(cuda_ctx_weights_bf16(d.policy.ctx)),
                    d.policy.grads.data(), d.adam_m.data(), d.adam_v.data(), P,
                    static_cast<const AdamWSegment*>(static_cast<const void*>(d.segments.data())),
                    d.num_segments, l.step, p, v.norm.data(), l.cfg.grad_clip, s);
  double norm = 0;
  device_copy(d.policy.ctx, &norm, Device::kCpu, v.norm.data(), Device::kCuda, sizeof norm);
  return norm;
}

// The aux-loss-free bias step on the host copy of the biases (E floats a layer), then back.
void cuda_router_bias(Learner& l, const std::vector<std::vector<long>>& load) {
  if (l.cfg.bias_gamma <= 0) return;
  LearnerCuda& d = l.cuda;
  const size_t bytes = static_cast<size_t>(std::max(l.policy.cfg.n_routed_experts, 0)) * 4;
  auto each = [&](bool down) {
    for (size_t i = 0; i < l.policy.w.layers.size(); i++) {
      float* h = l.policy.w.layers[i].router_bias;
      float* g = d.policy.w.layers[i].router_bias;
      if (!h) continue;
      if (down)
        device_copy(d.policy.ctx, h, Device::kCpu, g, Device::kCuda, bytes);
      else
        device_copy(d.policy.ctx, g, Device::kCuda, h, Device::kCpu, bytes);
    }
  };
  each(true);
  update_router_bias(l, load);
  each(false);
}

// The updated weights back to the host once per update (checkpoints, the weight broadcast).
void cuda_download_weights(Learner& l) {
  device_copy(l.cuda.policy.ctx, l.policy.params.data(), Device::kCpu, l.cuda.policy.params.data(),
              Device::kCuda, static_cast<size_t>(l.policy.num_params) * sizeof(float));
}

// Data-parallel (dp of R ranks, NCCL): this rank's share of the samples as on the CPU, its
// gradients summed across ranks on the device (NCCL on the policy's stream) before the norm,
// clip and AdamW, which then run the same on every rank; loads and metrics as on the CPU.
UpdateMetrics cuda_update(Learner& l, const std::vector<Sample>& samples,
                          const std::vector<float>& seq_w, Collective* dp) {
  UpdateMetrics mt;
  const int S = static_cast<int>(samples.size());
  LearnerCuda& d = l.cuda;
  Model& m = d.policy;
  const Ctx& ctx = m.ctx;
  timespec cpu0;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
  const int R = dp ? dp->size : 1;
  AHA_CHECK(R == 1 || dp->backend == CollectiveBackend::kNccl,
            "data-parallel CUDA learner ranks need the NCCL collective (AHA_COLLECTIVE=nccl): one "
            "GPU per rank, gradients summed on the device");
  const double comm0 = dp ? dp->seconds : 0;
  int begin = 0, end = S;
  if (R > 1) learner_shard(samples, dp->rank, R, &begin, &end);
  cuda_upload(l);
  // The bf16 copies once per update, not at every forward: in this update the weights change only
  // by AdamW, which writes the copy itself (the router biases it moves after are not GEMM weights).
  cuda_ctx_sync_weights(ctx);
  if (l.cfg.need_ref) cuda_ctx_sync_weights(d.ref.ctx);
  std::vector<MicroBatch> mbs = make_micro_batches(l.policy, samples, begin, end,
                                                   l.cfg.micro_batch_tokens, l.cfg.routing_replay);
  const int NB = static_cast<int>(mbs.size());
  // As on the CPU: the mini-batch count from the rank with the most micro-batches.
  double max_mb = NB;
  if (R > 1) collective_allreduce_max(*dp, &max_mb, 1);
  const int num_mini = std::max(1, std::min(l.cfg.num_minibatches, static_cast<int>(max_mb)));
  const bool need_ref = l.cfg.need_ref;

  // Everything laid out before the first forward: activations for the largest micro-batch, the
  // token arrays of the whole step (uploaded in one copy), statistics and workspaces.
  std::vector<long> first(NB + 1, 0);  // [NB+1] offset of micro-batch b's tokens
  int max_n = 0, max_b = 0;
  for (int b = 0; b < NB; b++) {
    first[b + 1] = first[b] + batch_num_tokens(mbs[b].batch);
    max_n = std::max(max_n, batch_num_tokens(mbs[b].batch));
    max_b = std::max(max_b, batch_num_seqs(mbs[b].batch));
  }
  const long total = first[NB];
  if (max_n > 0) {  // a rank with no samples of this step runs no forward
    acts_reserve(m, d.acts, max_n, max_b, true, true, l.cfg.recompute);
    if (need_ref) acts_reserve(d.ref, d.ref_acts, max_n, max_b, true, false, l.cfg.recompute);
  }
  const CudaStep v = cuda_step_plan(l, total, max_n, num_mini > 1, need_ref);
  std::vector<float> terms(3 * static_cast<size_t>(total), 0.0f);
  std::vector<char> have_roll(NB);
  for (int b = 0; b < NB; b++)
    have_roll[b] = token_terms(samples, mbs[b], seq_w, num_mini, &terms[first[b]],
                               &terms[total + first[b]], &terms[2 * total + first[b]]);
  device_copy(ctx, v.terms.data(), Device::kCuda, terms.data(), Device::kCpu,
              terms.size() * sizeof(float));
  device_zero(ctx, v.stats.data(), v.stats.size() * sizeof(double));

  ForwardOptions fo;
  fo.recompute = l.cfg.recompute;
  fo.inv_temp = l.cfg.inv_temp;
  fo.need_entropy = true;
  fo.sync_weights = false;  // synced above, kept by AdamW
  mt.sample_mean_logp.assign(S, 0.0f);
  mt.sample_mean_abs_dlogp.assign(S, 0.0f);
  LaneWork lw;
  std::vector<float> logp_host, ent_host;  // [N] the metrics' values of one micro-batch
  auto collect_metrics = [&](const MicroBatch& mb) {
    const size_t N = batch_num_tokens(mb.batch);
    logp_host.resize(N);
    ent_host.resize(N);
    device_copy(ctx, logp_host.data(), Device::kCpu, d.acts.logp.data(), Device::kCuda,
                N * sizeof(float));
    device_copy(ctx, ent_host.data(), Device::kCpu, d.acts.entropy.data(), Device::kCuda,
                N * sizeof(float));
    add_metrics(samples, mb, logp_host.data(), ent_host.data(), lw, mt);
  };
  // The reference's log-probs of micro-batch b into ref_logp, on the reference's own stream,
  // finished before the policy's stream reads them.
  auto ref_forward = [&](int b, const int* replay) {
    if (!need_ref) return;
    ForwardOptions o = fo;
    o.need_entropy = false;
    o.replay_topk_idx = replay;
    model_forward(d.ref, d.ref_acts, mbs[b].batch, o);
    device_copy(d.ref.ctx, v.ref_logp.data() + first[b], Device::kCuda, d.ref_acts.logp.data(),
                Device::kCuda, batch_num_tokens(mbs[b].batch) * sizeof(float));
    ctx_sync(d.ref.ctx);
  };
  if (num_mini > 1) {
    for (int b = 0; b < NB; b++) {
      ForwardOptions o = fo;
      o.replay_topk_idx = mbs[b].replay.empty() ? nullptr : mbs[b].replay.data();
      model_forward(m, d.acts, mbs[b].batch, o);
      copy(ctx, v.old_logp.data() + first[b], d.acts.logp.data(), batch_num_tokens(mbs[b].batch));
      collect_metrics(mbs[b]);
      ref_forward(b, o.replay_topk_idx);
    }
  }

  for (int k = 0; k < num_mini; k++) {
    model_zero_grads(m);
    lw.load.assign(m.cfg.num_hidden_layers,
                   std::vector<long>(std::max(m.cfg.n_routed_experts, 0), 0));
    for (int b = k; b < NB; b += num_mini) {
      MicroBatch& mb = mbs[b];
      ForwardOptions o = fo;
      o.need_entropy = num_mini == 1;
      o.replay_topk_idx = mb.replay.empty() ? nullptr : mb.replay.data();
      o.balance_alpha = l.cfg.balance_alpha * static_cast<float>(mb.sample_idx.size()) /
                        static_cast<float>(S) * static_cast<float>(num_mini);
      model_forward(m, d.acts, mb.batch, o);
      if (num_mini == 1) {
        collect_metrics(mb);
        ref_forward(b, o.replay_topk_idx);
      }
      lw.balance_loss += d.acts.balance_loss / num_mini;
      add_load(lw.load, d.acts.expert_load);
      GrpoTokens t;
      t.N = batch_num_tokens(mb.batch);
      t.logp = d.acts.logp.data();
      t.logp_old = num_mini == 1 ? d.acts.logp.data() : v.old_logp.data() + first[b];
      t.logp_ref = need_ref ? v.ref_logp.data() + first[b] : nullptr;
      t.logp_rollout = have_roll[b] ? v.terms.data() + 2 * total + first[b] : nullptr;
      t.adv = v.terms.data() + first[b];
      t.weight = v.terms.data() + total + first[b];
      grpo_loss_cuda(t, l.cfg.loss, v.dlogp.data(), v.stats.data(), v.ws.data(), v.ws.size(),
                     stream_of(m));
      model_backward(m, d.acts, mb.batch, v.dlogp.data(), o);
    }
    // R == 1 with an NCCL communicator still goes through it (the same bits).
    if (dp) collective_allreduce_sum_device(*dp, m.grads.data(), m.grads.size(), ctx.stream);
    mt.lr = learner_lr(l.cfg, l.step);
    mt.grad_norm = cuda_optimizer_step(l, v, static_cast<float>(mt.lr));
    // The loads' (host-staged) all-reduce after the norm reached the host, so it never runs
    // beside the gradients' on the same communicator; the bias step comes after AdamW anyway.
    if (R > 1) allreduce_load(*dp, lw.load);
    cuda_router_bias(l, lw.load);
    add_load(mt.expert_load, lw.load);
  }
  cuda_download_weights(l);
  l.policy.version++;
  GrpoStats st = grpo_stats_from_device(v.stats.data(), stream_of(m));
  mt.dlogp_max = lw.dlogp_max;
  mt.balance_loss = lw.balance_loss;
  timespec cpu1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
  mt.t_cpu = static_cast<double>(cpu1.tv_sec - cpu0.tv_sec) + 1e-9 * (cpu1.tv_nsec - cpu0.tv_nsec);
  if (R > 1) allreduce_metrics(*dp, mt, st, lw.dsum, lw.ent_sum, lw.dcount, S);
  finish_metrics(mt, st, lw.dsum, lw.ent_sum, lw.dcount, num_mini);
  if (dp) mt.t_comm = dp->seconds - comm0;
  return mt;
}

// Supervised step on the device: mean token cross-entropy of the completions.
double cuda_sft_step(Learner& l, const std::vector<Sample>& samples) {
  LearnerCuda& d = l.cuda;
  Model& m = d.policy;
  cuda_upload(l);
  cuda_ctx_sync_weights(m.ctx);  // once per step (as in cuda_update)
  std::vector<MicroBatch> mbs = make_micro_batches(
      l.policy, samples, 0, static_cast<int>(samples.size()), l.cfg.micro_batch_tokens, false);
  int max_n = 0, max_b = 0;
  for (const MicroBatch& mb : mbs) {
    max_n = std::max(max_n, batch_num_tokens(mb.batch));
    max_b = std::max(max_b, batch_num_seqs(mb.batch));
  }
  long total = 0;
  for (const Sample& x : samples) total += static_cast<long>(x.completion.size());
  AHA_CHECK(total > 0, "SFT batch without completion tokens");
  acts_reserve(m, d.acts, max_n, max_b, true, true, l.cfg.recompute);
  const CudaStep v = cuda_step_plan(l, 0, max_n, false, false);
  model_zero_grads(m);
  double loss = 0;
  ForwardOptions fo;
  fo.recompute = l.cfg.recompute;
  fo.sync_weights = false;
  std::vector<std::vector<long>> load;
  std::vector<float> dlogp;
  for (MicroBatch& mb : mbs) {
    const int N = batch_num_tokens(mb.batch);
    int scored = 0;
    dlogp.assign(N, 0.0f);
    for (int n = 0; n < N; n++)
      if (mb.batch.targets[n] >= 0) {
        dlogp[n] = -1.0f / static_cast<float>(total);
        scored++;
      }
    loss += static_cast<double>(model_forward(m, d.acts, mb.batch, fo)) * scored;
    add_load(load, d.acts.expert_load);
    device_copy(m.ctx, v.dlogp.data(), Device::kCuda, dlogp.data(), Device::kCpu,
                N * sizeof(float));
    model_backward(m, d.acts, mb.batch, v.dlogp.data(), fo);
  }
  cuda_optimizer_step(l, v, learner_lr(l.cfg, l.step));
  cuda_router_bias(l, load);
  cuda_download_weights(l);
  l.policy.version++;
  return loss / static_cast<double>(total);
}

}  // namespace
#endif

UpdateMetrics learner_update(Learner& l, const std::vector<Sample>& samples, Collective* dp) {
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
#ifdef AHA_HAVE_CUDA
  if (l.device == Device::kCuda) return cuda_update(l, samples, seq_w, dp);
#endif

  timespec cpu0;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
  // Data-parallel: this rank's share of the samples; the weights above stay the whole step's.
  const int R = dp ? dp->size : 1;
  const double comm0 = dp ? dp->seconds : 0;
  int begin = 0, end = S;
  if (R > 1) learner_shard(samples, dp->rank, R, &begin, &end);
  // Lanes: the rank's share split again, as ranks split the step (contiguous, balanced tokens).
  long share_tokens = 0;
  for (int i = begin; i < end; i++)
    share_tokens += static_cast<long>(samples[i].prompt.size() + samples[i].completion.size());
  const int NL = learner_num_lanes(l, share_tokens);
  while (static_cast<int>(l.lanes.size()) < NL - 1) {
    l.lanes.emplace_back();
    model_build(l.lanes.back().policy, m.cfg);
    model_alloc_grads(l.lanes.back().policy);
  }
  std::vector<LaneWork> lanes(NL);
  for (int r = 0; r < NL; r++) {
    int b0 = begin, b1 = end;
    if (NL > 1) shard_range(samples, begin, end, r, NL, &b0, &b1);
    lanes[r].mbs =
        make_micro_batches(m, samples, b0, b1, l.cfg.micro_batch_tokens, l.cfg.routing_replay);
    reserve_acts(l, r, lanes[r].mbs, l.cfg.need_ref);
  }
  ForwardOptions fo;
  fo.recompute = l.cfg.recompute;
  fo.inv_temp = l.cfg.inv_temp;
  fo.need_entropy = true;

  // Mini-batch count. Data-parallel: from the rank (and lane) with the most micro-batches, so
  // every rank takes part in every optimiser step (possibly with no micro-batch of its own).
  double max_mb = 0;
  for (const LaneWork& lw : lanes) max_mb = std::max(max_mb, static_cast<double>(lw.mbs.size()));
  if (R > 1) collective_allreduce_max(*dp, &max_mb, 1);
  const int num_mini = std::max(1, std::min(l.cfg.num_minibatches, static_cast<int>(max_mb)));

  // Old (and reference) log-probs per micro-batch, and the step's metrics (the policy before the
  // update): on-policy (one optimiser step) they come from the training forward itself; with
  // several optimiser steps, from a no-grad pass before the first update.
  mt.sample_mean_logp.assign(S, 0.0f);
  mt.sample_mean_abs_dlogp.assign(S, 0.0f);
  // Reads the lane's acts after the forward of micro-batch mb (with entropy). Each sample is
  // one lane's: the per-sample outputs are written by one thread.
  auto collect_metrics = [&](LaneWork& lw, const Acts& acts, const MicroBatch& mb) {
    add_metrics(samples, mb, acts.logp.data(), acts.entropy.data(), lw, mt);
  };
  auto ref_forward = [&](int r, int b, const int* replay) {
    if (!l.cfg.need_ref) return;
    ForwardOptions o = fo;
    o.need_entropy = false;
    o.replay_topk_idx = replay;
    Acts& ra = lane_ref_acts(l, r);
    LaneWork& lw = lanes[r];
    // The reference model is only read: lanes share it.
    model_forward(l.ref, ra, lw.mbs[b].batch, o);
    lw.ref_logp[b].assign(ra.logp.begin(), ra.logp.begin() + batch_num_tokens(lw.mbs[b].batch));
  };
  // Lanes past the first train a copy of the policy (its weights as they are now).
  auto sync_lane = [&](int r) {
    if (r > 0) lane_model(l, r).params.copy_from(m.params);
  };
  for (LaneWork& lw : lanes) {
    lw.old_logp.resize(lw.mbs.size());
    lw.ref_logp.resize(lw.mbs.size());
  }
  if (num_mini > 1) {
    parallel_for(NL, [&](int r) {
      LaneWork& lw = lanes[r];
      Model& lm = lane_model(l, r);
      Acts& acts = lane_acts(l, r);
      sync_lane(r);
      for (size_t b = 0; b < lw.mbs.size(); b++) {
        MicroBatch& mb = lw.mbs[b];
        ForwardOptions o = fo;
        o.replay_topk_idx = mb.replay.empty() ? nullptr : mb.replay.data();
        model_forward(lm, acts, mb.batch, o);
        lw.old_logp[b].assign(acts.logp.begin(), acts.logp.begin() + batch_num_tokens(mb.batch));
        collect_metrics(lw, acts, mb);
        ref_forward(r, static_cast<int>(b), o.replay_topk_idx);
      }
    });
  }

  // Optimiser steps: mini-batch k takes each lane's micro-batches k, k + num_minibatches, ...
  const int E = std::max(m.cfg.n_routed_experts, 0);
  for (int k = 0; k < num_mini; k++) {
    parallel_for(NL, [&](int r) {
      LaneWork& lw = lanes[r];
      Model& lm = lane_model(l, r);
      Acts& acts = lane_acts(l, r);
      if (num_mini == 1 || k > 0) sync_lane(r);
      model_zero_grads(lm);
      lw.load.assign(m.cfg.num_hidden_layers, std::vector<long>(E, 0));
      for (int b = k; b < static_cast<int>(lw.mbs.size()); b += num_mini) {
        MicroBatch& mb = lw.mbs[b];
        ForwardOptions o = fo;
        o.need_entropy = num_mini == 1;  // the step's metrics come from this forward
        o.replay_topk_idx = mb.replay.empty() ? nullptr : mb.replay.data();
        // Each micro-batch's sequences are a share of the step's: scale alpha by that share.
        o.balance_alpha = l.cfg.balance_alpha * static_cast<float>(mb.sample_idx.size()) /
                          static_cast<float>(S) * static_cast<float>(num_mini);
        model_forward(lm, acts, mb.batch, o);
        if (num_mini == 1) {
          collect_metrics(lw, acts, mb);
          ref_forward(r, b, o.replay_topk_idx);
        }
        lw.balance_loss += acts.balance_loss / num_mini;
        add_load(lw.load, acts.expert_load);
        const int N = batch_num_tokens(mb.batch);
        lw.adv.assign(N, 0.0f);
        lw.w.assign(N, 0.0f);
        lw.roll.assign(N, 0.0f);
        lw.dlogp.assign(N, 0.0f);
        const bool have_roll =
            token_terms(samples, mb, seq_w, num_mini, lw.adv.data(), lw.w.data(), lw.roll.data());
        GrpoTokens t;
        t.N = N;
        t.logp = acts.logp.data();
        t.logp_old = num_mini == 1 ? acts.logp.data() : lw.old_logp[b].data();
        t.logp_ref = l.cfg.need_ref ? lw.ref_logp[b].data() : nullptr;
        t.logp_rollout = have_roll ? lw.roll.data() : nullptr;
        t.adv = lw.adv.data();
        t.weight = lw.w.data();
        grpo_loss(t, l.cfg.loss, lw.dlogp.data(), lw.st);
        model_backward(lm, acts, mb.batch, lw.dlogp.data(), o);
      }
    });
    // The lanes' gradients and loads, summed in lane order (the same on any number of threads).
    std::vector<std::vector<long>> load;
    for (const LaneWork& lw : lanes) add_load(load, lw.load);
    if (NL > 1) {
      constexpr long kChunk = 1 << 15;
      const long P = m.num_params;
      parallel_for(static_cast<int>((P + kChunk - 1) / kChunk), [&](int c) {
        const long o = c * kChunk, n = std::min(P, o + kChunk) - o;
        for (int r = 1; r < NL; r++)
          add_inplace(m.ctx, m.grads.data() + o, lane_model(l, r).grads.data() + o, n);
      });
    }
    if (R > 1) {
      collective_allreduce_sum(*dp, m.grads.data(), m.grads.size());
      allreduce_load(*dp, load);
    }
    mt.grad_norm = clip_grads(l);
    mt.lr = learner_lr(l.cfg, l.step);
    apply_adamw(l, static_cast<float>(mt.lr));
    update_router_bias(l, load);
    add_load(mt.expert_load, load);
  }
  m.version++;
  GrpoStats st;
  double dsum = 0, ent_sum = 0;
  long dcount = 0;
  for (const LaneWork& lw : lanes) {
    add_stats(st, lw.st);
    dsum += lw.dsum;
    ent_sum += lw.ent_sum;
    dcount += lw.dcount;
    mt.dlogp_max = std::max(mt.dlogp_max, lw.dlogp_max);
    mt.balance_loss += lw.balance_loss;
  }
  timespec cpu1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
  mt.t_cpu = static_cast<double>(cpu1.tv_sec - cpu0.tv_sec) + 1e-9 * (cpu1.tv_nsec - cpu0.tv_nsec);
  if (R > 1) {
    allreduce_metrics(*dp, mt, st, dsum, ent_sum, dcount, S);
    mt.t_comm = dp->seconds - comm0;
  }
  finish_metrics(mt, st, dsum, ent_sum, dcount, num_mini);
  return mt;
}

double learner_sft_step(Learner& l, const std::vector<Sample>& samples) {
#ifdef AHA_HAVE_CUDA
  if (l.device == Device::kCuda) return cuda_sft_step(l, samples);
#endif
  Model& m = l.policy;
  std::vector<MicroBatch> mbs = make_micro_batches(m, samples, 0, static_cast<int>(samples.size()),
                                                   l.cfg.micro_batch_tokens, false);
  reserve_acts(l, 0, mbs, false);
  long total = 0;
  for (const Sample& x : samples) total += static_cast<long>(x.completion.size());
  AHA_CHECK(total > 0, "SFT batch without completion tokens");
  model_zero_grads(m);
  double loss = 0;
  ForwardOptions fo;
  fo.recompute = l.cfg.recompute;
  fo.sync_weights = false;
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
