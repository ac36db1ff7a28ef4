// The GRPO loss through the whole model: finite differences of the loss against its gradient,
// micro-batch invariance of the accumulated gradient, and a learner that moves probability toward
// rewarded completions.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/parallel.h"
#include "kernels/rng.h"
#include "learner/learner.h"
#include "tests/unit/model_test_util.h"

using namespace aha;

namespace {

Model small_model(uint64_t seed) {
  ModelConfig c = config_tiny();
  c.vocab_size = 23;
  c.hidden_size = 32;
  c.kv_lora_rank = 16;
  c.intermediate_size = 48;
  c.moe_intermediate_size = 24;
  return test::sharp_model(c, seed, 5.0f);
}

std::vector<Sample> some_samples(int S) {
  Rng rng{17};
  std::vector<Sample> out;
  for (int i = 0; i < S; i++) {
    Sample x;
    int T = 2 + static_cast<int>(rng.next_u64() % 4), n = 1 + static_cast<int>(rng.next_u64() % 6);
    for (int t = 0; t < T; t++) x.prompt.push_back(static_cast<int>(rng.next_u64() % 23));
    for (int t = 0; t < n; t++) x.completion.push_back(static_cast<int>(rng.next_u64() % 23));
    x.advantage = static_cast<float>(rng.normal());
    out.push_back(x);
  }
  return out;
}

// GRPO loss of the samples under m with fixed old log-probs (token-mean, k3 KL to ref).
double grpo_objective(Model& m, const Model& ref, const std::vector<Sample>& s,
                      const std::vector<float>& old, const GrpoLossConfig& cfg,
                      std::vector<float>* dlogp_out, Batch* batch_out, Acts& acts,
                      const int* replay = nullptr) {
  Batch b;
  std::vector<float> adv, w;
  long total = 0;
  for (const Sample& x : s) total += static_cast<long>(x.completion.size());
  for (const Sample& x : s) {
    std::vector<int> ids = x.prompt;
    ids.insert(ids.end(), x.completion.begin(), x.completion.end());
    batch_add_sequence(b, ids, static_cast<int>(x.prompt.size()) - 1);
    for (size_t i = 0; i < ids.size(); i++) {
      bool loss_tok = i + 1 >= x.prompt.size() && i + 1 < ids.size();
      adv.push_back(x.advantage);
      w.push_back(loss_tok ? 1.0f / static_cast<float>(total) : 0.0f);
    }
  }
  ForwardOptions fo;
  Acts ref_acts;
  model_forward(const_cast<Model&>(ref), ref_acts, b, fo);
  ForwardOptions po;
  po.replay_topk_idx = replay;
  model_forward(m, acts, b, po);
  GrpoTokens t;
  t.N = batch_num_tokens(b);
  t.logp = acts.logp.data();
  t.logp_old = old.empty() ? acts.logp.data() : old.data();
  t.logp_ref = ref_acts.logp.data();
  t.adv = adv.data();
  t.weight = w.data();
  std::vector<float> dl(t.N);
  GrpoStats st;
  grpo_loss(t, cfg, dl.data(), st);
  if (dlogp_out) *dlogp_out = dl;
  if (batch_out) *batch_out = b;
  return st.loss;
}

}  // namespace

TEST_CASE("GRPO loss gradient through the model matches finite differences") {
  Model m = small_model(5);
  Model ref = small_model(6);
  std::vector<Sample> s = some_samples(6);
  GrpoLossConfig cfg;
  cfg.beta = 0.3f;
  cfg.eps_low = cfg.eps_high = 10.0f;  // keep every token inside the band: the loss is smooth
  Acts acts;
  // Old log-probs slightly off the current ones, so ratios differ from 1.
  std::vector<float> dl;
  Batch b;
  grpo_objective(m, ref, s, {}, cfg, &dl, &b, acts);
  std::vector<float> old(acts.logp.begin(), acts.logp.begin() + batch_num_tokens(b));
  for (float& x : old) x -= 0.05f;
  grpo_objective(m, ref, s, old, cfg, &dl, &b, acts);
  // Freeze routing so the loss is smooth.
  std::vector<int> routing;
  for (int l = 0; l < m.cfg.num_hidden_layers; l++)
    if (cfg_layer_is_moe(m.cfg, l))
      routing.insert(
          routing.end(), acts.layers[l].topk_idx.begin(),
          acts.layers[l].topk_idx.begin() + static_cast<long>(acts.N) * m.cfg.num_experts_per_tok);
  REQUIRE_FALSE(routing.empty());
  grpo_objective(m, ref, s, old, cfg, &dl, &b, acts, routing.data());
  model_zero_grads(m);
  ForwardOptions fo;
  fo.replay_topk_idx = routing.data();
  model_backward(m, acts, b, dl.data(), fo);
  Rng rng{8};
  std::vector<float> u(m.num_params);
  double gu = 0;
  for (long i = 0; i < m.num_params; i++) {
    u[i] = static_cast<float>(rng.normal());
    gu += static_cast<double>(u[i]) * m.grads[i];
  }
  const float h = 1e-3f;
  std::vector<float> saved = m.params;
  for (long i = 0; i < m.num_params; i++) m.params[i] = saved[i] + h * u[i];
  double lp = grpo_objective(m, ref, s, old, cfg, nullptr, nullptr, acts, routing.data());
  for (long i = 0; i < m.num_params; i++) m.params[i] = saved[i] - h * u[i];
  double lm = grpo_objective(m, ref, s, old, cfg, nullptr, nullptr, acts, routing.data());
  m.params = saved;
  double fd = (lp - lm) / (2 * h);
  INFO("fd=", fd, " analytic=", gu);
  // Routing is replayed, so the loss is smooth; over the whole parameter vector fp32 rounding
  // gives ~1e-3 relative error at h = 1e-3.
  CHECK(fd == doctest::Approx(gu).epsilon(2e-2));
}

TEST_CASE("accumulated gradient does not depend on the micro-batch size") {
  std::vector<float> grads[2];
  int budgets[2] = {8, 100000};
  for (int k = 0; k < 2; k++) {
    Model m = small_model(9);
    LearnerConfig cfg;
    cfg.micro_batch_tokens = budgets[k];
    cfg.lr = 0.0f;  // look at the gradient only
    cfg.grad_clip = 0;
    cfg.bias_gamma = 0;
    Learner l;
    learner_init(l, m, cfg);
    learner_update(l, some_samples(10));
    grads[k] = l.policy.grads;
  }
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < grads[0].size(); i++) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(grads[0][i] - grads[1][i])));
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(grads[1][i])));
  }
  INFO("max diff ", max_diff, " of max ", max_abs);
  CHECK(max_diff <= 1e-5 * max_abs);
}

TEST_CASE("lanes: the gradient of one lane, and the same update on any number of threads") {
  std::vector<Sample> s = some_samples(12);
  auto run = [&](int lanes, int threads, std::vector<float>* grads) {
    Model m = small_model(9);
    LearnerConfig cfg;
    cfg.micro_batch_tokens = 16;
    cfg.lr = 1e-2f;
    cfg.lanes = lanes;
    Learner l;
    learner_init(l, m, cfg);
    set_compute_threads(threads);
    UpdateMetrics first = learner_update(l, s);
    *grads = l.policy.grads;
    learner_update(l, s);
    set_compute_threads(hardware_threads());
    CHECK(first.num_tokens > 0);
    return std::vector<float>(l.policy.params);
  };
  std::vector<float> g1, g3, g3t;
  run(1, 1, &g1);
  std::vector<float> p3 = run(3, 1, &g3);
  std::vector<float> p3t = run(3, 2, &g3t);
  // Three lanes sum three partial gradients: another order of the same sum.
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < g1.size(); i++) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(g1[i] - g3[i])));
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(g1[i])));
  }
  INFO("max diff ", max_diff, " of max ", max_abs);
  CHECK(max_abs > 0);
  CHECK(max_diff <= 1e-5 * max_abs);
  // Lanes are a fixed split of the samples: threads only change who runs them.
  CHECK(g3 == g3t);
  CHECK(p3 == p3t);
}

TEST_CASE("GRPO updates raise the log-prob of positive-advantage completions") {
  Model m = small_model(12);
  LearnerConfig cfg;
  cfg.lr = 3e-3f;
  Learner l;
  learner_init(l, m, cfg);
  std::vector<Sample> s = some_samples(8);
  for (size_t i = 0; i < s.size(); i++) s[i].advantage = i % 2 ? 1.0f : -1.0f;
  UpdateMetrics first = learner_update(l, s);
  for (int it = 0; it < 20; it++) learner_update(l, s);
  UpdateMetrics last = learner_update(l, s);
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i].advantage > 0)
      CHECK(last.sample_mean_logp[i] > first.sample_mean_logp[i]);
    else
      CHECK(last.sample_mean_logp[i] < first.sample_mean_logp[i]);
  }
}
