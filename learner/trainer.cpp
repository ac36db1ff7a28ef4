#include "learner/trainer.h"

#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "kernels/check.h"
#include "kernels/linear.h"
#include "learner/report.h"
#include "learner/reward_service.h"
#include "learner/rundb.h"
#include "learner/taskset.h"
#include "learner/train_config.h"
#include "learner/train_state.h"
#include "policy/checkpoint.h"
#include "policy/tokenizer.h"
#include "rollout/controller.h"
#include "rollout/engine_worker.h"

namespace aha {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop_requested{false};
void on_signal(int) {
  g_stop_requested = true;
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One generated completion with its score, in request order.
struct Rollout {
  TaskItem item;
  int64_t group_id = 0;
  int sample_idx = 0;
  std::vector<int> prompt_ids;
  Sample sample;  // tokens, log-probs, routing, finish reason
  uint64_t weight_version = 0;
  double gen_time_s = 0;
  std::string completion;
  Scored scored;
  float reward = 0;  // after overlong shaping
  float advantage = 0;
};

struct Run {
  TrainConfig cfg;
  TrainOptions opt;
  std::string run_dir;
  Tokenizer tok;
  TaskSetPtr tasks;
  Learner learner;
  ControllerPtr controller;
  RewardServicePtr rewards;  // when reward.workers > 0
  std::vector<std::thread> worker_threads;
  std::vector<pid_t> worker_pids;
  std::atomic<bool> workers_stop{false};
  RunDb db;
  int64_t run_id = 0;
  uint64_t next_request_id = 1;
  PromptFormat format;  // model.chat_template resolved against the tokenizer
};

std::vector<int> encode_prompt(const Run& r, const std::string& text) {
  return encode_prompt_ids(r.tok, r.learner.policy.cfg, r.format, text);
}

std::string decode_completion(const Run& r, const std::vector<int32_t>& ids) {
  return completion_text(r.tok, r.format, std::vector<int>(ids.begin(), ids.end()));
}

void progress(const Run& r, const char* what, size_t done, size_t total) {
  if (!r.cfg.progress || !isatty(fileno(stderr))) return;
  const int width = 30;
  int filled = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r  %s [%.*s%*s] %zu/%zu", what, filled, "##############################",
               width - filled, "", done, total);
  if (done == total) std::fprintf(stderr, "\r%*s\r", width + 40, "");
  std::fflush(stderr);
}

// Generation requests in flight: G samples for each item, collected in item order.
struct PendingGen {
  std::vector<TaskItem> items;
  std::map<uint64_t, size_t> index;  // request id -> item
  std::vector<std::vector<int>> prompt_ids;
};

PendingGen submit_generation(Run& r, std::vector<TaskItem> items, int G, float temperature,
                             uint64_t seed_base) {
  PendingGen p;
  p.items = std::move(items);
  for (size_t i = 0; i < p.items.size(); i++) {
    GenRequest q;
    q.request_id = r.next_request_id++;
    std::vector<int> ids = encode_prompt(r, prompt_text(p.items[i], r.format));
    q.prompt_ids.assign(ids.begin(), ids.end());
    q.group_size = G;
    q.params.temperature = temperature;
    q.params.top_p = r.cfg.top_p;
    q.params.top_k = r.cfg.top_k;
    q.params.min_p = r.cfg.min_p;
    q.params.max_new_tokens = r.cfg.max_new_tokens;
    q.params.stop_token_ids = r.format.stop_ids;
    q.seed = seed_base + i;
    q.min_weights_version = r.learner.policy.version;
    q.return_routing = r.cfg.return_routing && r.cfg.learner.routing_replay;
    p.index[q.request_id] = i;
    p.prompt_ids.push_back(std::move(ids));
    controller_submit(*r.controller, std::move(q));
  }
  return p;
}

std::vector<Rollout> collect_generation(Run& r, PendingGen& p, const char* what) {
  std::vector<GenResult> results;
  while (results.size() < p.items.size()) {
    controller_poll(*r.controller, 100, results);
    progress(r, what, results.size(), p.items.size());
  }
  std::sort(results.begin(), results.end(),
            [](const GenResult& a, const GenResult& b) { return a.request_id < b.request_id; });
  std::vector<Rollout> out;
  for (GenResult& g : results) {
    size_t i = p.index.at(g.request_id);
    for (size_t s = 0; s < g.samples.size(); s++) {
      Rollout ro;
      ro.item = p.items[i];
      ro.group_id = static_cast<int64_t>(i);
      ro.sample_idx = static_cast<int>(s);
      ro.prompt_ids = p.prompt_ids[i];
      ro.sample = std::move(g.samples[s]);
      ro.weight_version = g.weights_version;
      ro.gen_time_s = g.gen_ms / 1000.0;
      out.push_back(std::move(ro));
    }
  }
  return out;
}

std::vector<Rollout> generate(Run& r, const std::vector<TaskItem>& items, int G, float temperature,
                              uint64_t seed_base, const char* what) {
  PendingGen p = submit_generation(r, items, G, temperature, seed_base);
  return collect_generation(r, p, what);
}

uint64_t step_seed(const TrainConfig& c, int step, int round) {
  return (c.seed * 1000003ull + static_cast<uint64_t>(step)) * 1009ull +
         static_cast<uint64_t>(round) * 101ull;
}

// Scores every rollout on the reward thread pool.
void score_all(Run& r, std::vector<Rollout>& rs) {
  for (Rollout& ro : rs) ro.completion = decode_completion(r, ro.sample.token_ids);
  if (r.rewards) {
    // One job per group (consecutive rollouts of one prompt) to the reward workers.
    std::vector<ScoreJob> jobs;
    std::vector<size_t> first;
    for (size_t i = 0; i < rs.size(); i++) {
      if (i == 0 || rs[i].group_id != rs[i - 1].group_id) {
        jobs.push_back(ScoreJob{rs[i].item.task, {}, rs[i].item.reference});
        first.push_back(i);
      }
      jobs.back().completions.push_back(reward_input(r.format, rs[i].completion));
    }
    std::vector<std::vector<Scored>> out;
    reward_service_score(*r.rewards, jobs, out);
    for (size_t j = 0; j < jobs.size(); j++)
      for (size_t g = 0; g < out[j].size(); g++) {
        Rollout& ro = rs[first[j] + g];
        ro.scored = out[j][g];
        if (ro.sample.finish_reason.rfind("error", 0) == 0) {
          ro.scored = Scored{};
          ro.scored.result.reason = ro.sample.finish_reason;
        }
        ro.reward = static_cast<float>(ro.scored.result.score);
      }
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < rs.size(); i = next++) {
      Rollout& ro = rs[i];
      if (ro.sample.finish_reason.rfind("error", 0) == 0) {
        ro.scored = Scored{};
        ro.scored.result.reason = ro.sample.finish_reason;
      } else {
        ro.scored = taskset_score(*r.tasks, ro.item, reward_input(r.format, ro.completion));
      }
      ro.reward = static_cast<float>(ro.scored.result.score);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < r.cfg.reward_threads; t++) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
}

void shape_overlong(const TrainConfig& c, std::vector<Rollout>& rs) {
  if (c.overlong != "penalty") return;
  const int L = c.max_new_tokens, buf = std::max(1, c.overlong_buffer);
  for (Rollout& ro : rs) {
    int n = static_cast<int>(ro.sample.token_ids.size());
    if (n > L - buf)
      ro.reward -= c.overlong_penalty * static_cast<float>(n - (L - buf)) / static_cast<float>(buf);
  }
}

void compute_group_advantages(const TrainConfig& c, std::vector<Rollout>& rs) {
  const int G = c.group_size;
  std::vector<float> rewards(rs.size()), adv(rs.size());
  for (size_t i = 0; i < rs.size(); i++) rewards[i] = rs[i].reward;
  compute_advantages(rewards.data(), static_cast<int>(rs.size()) / G, G,
                     parse_advantage_mode(c.advantage), adv.data());
  for (size_t i = 0; i < rs.size(); i++) rs[i].advantage = adv[i];
}

bool group_correctness_varies(const std::vector<Rollout>& rs, size_t g0, int G) {
  for (int i = 1; i < G; i++)
    if (rs[g0 + i].scored.correct != rs[g0].scored.correct) return true;
  return false;
}

// Held-out pass@1 (mean correctness over eval_samples samples of each eval prompt).
double evaluate(Run& r, int64_t step, std::map<std::string, double>* per_task) {
  const std::vector<TaskItem>& items = taskset_eval(*r.tasks);
  if (items.empty()) return NAN;
  std::vector<Rollout> rs = generate(r, items, r.cfg.eval_samples, r.cfg.eval_temperature,
                                     r.cfg.seed * 1000003ull + 77777ull, "evaluating");
  score_all(r, rs);
  std::map<std::string, std::pair<double, int>> acc;
  double correct = 0;
  for (const Rollout& ro : rs) {
    correct += ro.scored.correct;
    acc[ro.item.task].first += ro.scored.correct;
    acc[ro.item.task].second++;
  }
  std::vector<EvalRow> rows;
  for (auto& [task, v] : acc) {
    double p = v.first / v.second;
    if (per_task) (*per_task)[task] = p;
    rows.push_back(EvalRow{r.run_id, step, task, "pass@1", p, 1});
  }
  rundb_write_evals(r.db, rows);
  return correct / static_cast<double>(rs.size());
}

void start_workers(Run& r) {
  ControllerOptions co;
  const bool processes = r.opt.worker_processes > 0;
  co.endpoint = processes ? "ipc://" + fs::absolute(r.run_dir).string() + "/rollout.sock"
                          : "inproc://aha-rollout-" + std::to_string(getpid());
  if (!r.opt.listen.empty()) co.endpoint = r.opt.listen;
  r.controller = controller_create(co);
  // Local workers reach a wildcard tcp:// bind through the loopback address.
  std::string local = co.endpoint;
  if (size_t star = local.find("://*"); star != std::string::npos)
    local.replace(star + 3, 1, "127.0.0.1");
  const int n = processes ? r.opt.worker_processes : r.cfg.rollout_workers;
  if (processes) {
    // Workers start from the run's model directory and then receive the learner's weights.
    const std::string model_dir = r.run_dir + "/worker-model";
    model_save(r.learner.policy, model_dir);
    for (int i = 0; i < n; i++) {
      pid_t pid = fork();
      if (pid == 0) {
        std::string id = "worker-" + std::to_string(i);
        execl(r.opt.exe_path.c_str(), r.opt.exe_path.c_str(), "rollout-worker", "--connect",
              local.c_str(), "--model", model_dir.c_str(), "--id", id.c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
      }
      r.worker_pids.push_back(pid);
    }
  } else {
    for (int i = 0; i < n; i++) {
      r.worker_threads.emplace_back([&r, i, endpoint = local] {
        blas_set_threads(1);
        EngineWorkerOptions wo;
        wo.worker.connect = endpoint;
        wo.worker.context = &controller_context(*r.controller);
        wo.worker.worker_id = "thread-" + std::to_string(i);
        wo.worker.stop = &r.workers_stop;
        wo.engine.max_tokens_in_flight = r.cfg.max_tokens_in_flight;
        run_engine_worker(wo, r.learner.policy);
      });
    }
  }
  if (!controller_wait_workers(*r.controller, n, 60000))
    throw std::runtime_error("rollout workers did not come up within 60 s");
  const int nr = r.cfg.reward_workers;
  if (nr == 0) return;
  const std::string reward_endpoint =
      processes ? "ipc://" + fs::absolute(r.run_dir).string() + "/reward.sock"
                : "inproc://aha-reward-" + std::to_string(getpid());
  r.rewards = reward_service_create(reward_endpoint, controller_context(*r.controller));
  for (int i = 0; i < nr; i++) {
    std::string id = "reward-" + std::to_string(i);
    if (processes) {
      pid_t pid = fork();
      if (pid == 0) {
        std::string threads = std::to_string(r.cfg.reward_threads);
        execl(r.opt.exe_path.c_str(), r.opt.exe_path.c_str(), "reward-worker", "--connect",
              reward_endpoint.c_str(), "--tasks-file", r.cfg.tasks_file.c_str(), "--threads",
              threads.c_str(), "--id", id.c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      r.worker_pids.push_back(pid);
    } else {
      r.worker_threads.emplace_back([&r, id, reward_endpoint] {
        RewardWorkerOptions wo;
        wo.connect = reward_endpoint;
        wo.context = &controller_context(*r.controller);
        wo.worker_id = id;
        wo.tasks_file = r.cfg.tasks_file;
        wo.threads = r.cfg.reward_threads;
        wo.stop = &r.workers_stop;
        run_reward_worker(wo);
      });
    }
  }
  if (!reward_service_wait_workers(*r.rewards, nr, 60000))
    throw std::runtime_error("reward workers did not come up within 60 s");
}

void stop_workers(Run& r) {
  if (r.controller) controller_shutdown_workers(*r.controller, "training finished");
  if (r.rewards) reward_service_shutdown(*r.rewards);
  r.workers_stop = true;
  for (std::thread& t : r.worker_threads) t.join();
  for (pid_t pid : r.worker_pids) {
    int status = 0;
    for (int i = 0; i < 50 && waitpid(pid, &status, WNOHANG) == 0; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (waitpid(pid, &status, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
  r.rewards.reset();
  r.controller.reset();
}

double publish_weights(Run& r) {
  auto t0 = Clock::now();
  controller_publish_weights(*r.controller, r.learner.policy.version,
                             weights_to_bytes(r.learner.policy));
  if (!controller_wait_weights(*r.controller, r.learner.policy.version, 120000))
    throw std::runtime_error("rollout workers did not take weight version " +
                             std::to_string(r.learner.policy.version));
  return seconds_since(t0);
}

std::string model_description(const ModelConfig& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s L=%d C=%d NH=%d E=%d+%d K=%d V=%d", c.model_type.c_str(),
                c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.n_routed_experts,
                c.n_shared_experts, c.num_experts_per_tok, c.vocab_size);
  return buf;
}

std::vector<TrainSample> to_train_samples(const std::vector<Rollout>& rs, const TrainConfig& c) {
  std::vector<TrainSample> out;
  for (const Rollout& ro : rs) {
    TrainSample t;
    t.prompt = ro.prompt_ids;
    t.completion.assign(ro.sample.token_ids.begin(), ro.sample.token_ids.end());
    t.rollout_logp = ro.sample.logprobs;
    if (ro.sample.routing_num_tokens > 0) t.routing = routing_from_wire(ro.sample);
    t.advantage = ro.advantage;
    t.masked =
        t.completion.empty() || (c.overlong == "mask" && ro.sample.finish_reason == "length");
    out.push_back(std::move(t));
  }
  return out;
}

// `aha train --replay RUN_DIR --steps a:b`: the logged samples of steps a..b, trained on again
// from the run's starting model without generating; prints the update metrics of each step.
int replay_main(const TrainOptions& opt) {
  TrainConfig cfg;
  train_config_load_toml(cfg, opt.replay_dir + "/config.toml");
  for (const std::string& s : opt.sets) train_config_set(cfg, s);
  if (cfg.model_path.empty()) cfg.model_path = builtin_base_model_dir();
  train_config_finalize(cfg);
  Model policy;
  model_load(policy, cfg.model_path);
  Learner l;
  learner_init(l, policy, cfg.learner);
  RunDb db = rundb_open(opt.replay_dir, false);
  std::vector<RunRow> runs = rundb_read_runs(db);
  if (runs.empty()) throw std::runtime_error(opt.replay_dir + ": no run in rollouts.db");
  const int64_t run_id = runs.back().run_id;
  const int from = std::max(1, opt.replay_from);
  const int to = opt.replay_to < 0 ? cfg.steps : opt.replay_to;
  std::printf("replaying %s steps %d..%d (no generation)\n", opt.replay_dir.c_str(), from, to);
  for (int step = from; step <= to; step++) {
    SampleQuery q;
    q.run_id = run_id;
    q.step_min = step;
    q.step_max = step;
    q.with_tokens = true;
    std::vector<SampleRow> rows = rundb_read_samples(db, q);
    if (rows.empty()) {
      std::printf("step %4d  no samples logged\n", step);
      continue;
    }
    std::vector<TrainSample> batch;
    for (const SampleRow& s : rows) {
      TrainSample t;
      t.prompt.assign(s.prompt_ids.begin(), s.prompt_ids.end());
      t.completion.assign(s.completion_ids.begin(), s.completion_ids.end());
      t.rollout_logp = s.rollout_logps;
      t.advantage = static_cast<float>(s.advantage);
      t.masked = t.completion.empty() || (cfg.overlong == "mask" && s.finish_reason == "length");
      batch.push_back(std::move(t));
    }
    UpdateMetrics um = learner_update(l, batch);
    std::printf("step %4d  samples %zu  loss %+.5f  kl %.4f  clip %.3f  |dlogp| %.1e  gnorm %.3f\n",
                step, rows.size(), um.loss, um.kl, um.clip_low + um.clip_high, um.dlogp_max,
                um.grad_norm);
  }
  return 0;
}

}  // namespace

std::string builtin_base_model_dir() {
  return std::string(AHA_SOURCE_DIR) + "/experiments/base-arith";
}

int train_main(const TrainOptions& opt) {
  // Weight-sync and worker chatter is for debugging: AHA_LOG=info shows it.
  const char* lvl = std::getenv("AHA_LOG");
  spdlog::set_level(lvl ? spdlog::level::from_str(lvl) : spdlog::level::warn);
  learner_device(opt.device);  // refuses what cannot run before anything is written
  if (!opt.replay_dir.empty()) return replay_main(opt);
  Run r;
  r.opt = opt;
  // Configuration: built-in default, a file, or the stored config of a run being resumed.
  std::string config_name = "default";
  r.run_dir = opt.run_dir;
  if (opt.resume) {
    if (r.run_dir.empty()) throw std::runtime_error("--resume needs the run directory");
    train_config_load_toml(r.cfg, r.run_dir + "/config.toml");
  } else if (!opt.config_path.empty()) {
    train_config_load_toml(r.cfg, opt.config_path);
    config_name = fs::path(opt.config_path).stem().string();
  }
  for (const std::string& s : opt.sets) train_config_set(r.cfg, s);
  if (r.cfg.model_path.empty()) r.cfg.model_path = builtin_base_model_dir();
  // A model directory may carry the definition of the tasks it was made for.
  if (r.cfg.tasks_file.empty() && fs::exists(r.cfg.model_path + "/tasks.toml"))
    r.cfg.tasks_file = r.cfg.model_path + "/tasks.toml";
  train_config_finalize(r.cfg);
  if (r.run_dir.empty()) r.run_dir = "runs/" + config_name;
  fs::create_directories(r.run_dir);
  if (!opt.resume) {
    std::ofstream f(r.run_dir + "/config.toml");
    f << train_config_to_toml(r.cfg);
  }

  // Model, tokenizer, tasks.
  Model policy;
  model_load(policy, r.cfg.model_path);
  r.tok = tokenizer_load(r.cfg.model_path);
  r.format = prompt_format(r.tok, policy.cfg, r.cfg.chat_template);
  r.tasks = taskset_load(r.cfg.task_names, r.cfg.task_weights, r.cfg.tasks_file, r.cfg.seed,
                         r.cfg.eval_prompts);
  learner_init(r.learner, policy, r.cfg.learner);
  if (r.cfg.learner.need_ref && !r.cfg.ref_path.empty()) model_load(r.learner.ref, r.cfg.ref_path);

  // Run database and resume point.
  r.db = rundb_open(r.run_dir, true);
  int start_step = 0;
  if (opt.resume) {
    std::string ckpt = train_state_latest(r.run_dir);
    if (ckpt.empty()) throw std::runtime_error(r.run_dir + ": no checkpoint to resume from");
    nlohmann::json st = train_state_load(r.learner, ckpt);
    start_step = st.at("step").get<int>();
    r.run_id = st.at("run_id").get<int64_t>();
    r.next_request_id = st.at("next_request_id").get<uint64_t>();
    rundb_truncate_after(r.db, r.run_id, start_step);
    std::printf("resuming %s from %s (step %d)\n", r.run_dir.c_str(), ckpt.c_str(), start_step);
  } else {
    RunRow row;
    row.aha_version = "0.1.0";
    row.model = model_description(policy.cfg) + " from " + r.cfg.model_path;
    row.config = train_config_to_toml(r.cfg);
    r.run_id = rundb_begin_run(r.db, row);
  }
  if (r.learner.policy.version == 0) r.learner.policy.version = 1;

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  blas_set_threads(1);
  start_workers(r);
  publish_weights(r);
  std::printf("aha train: %s, %d steps of %d prompts x %d samples, tasks [", r.run_dir.c_str(),
              r.cfg.steps, r.cfg.prompts_per_step, r.cfg.group_size);
  for (size_t i = 0; i < r.cfg.task_names.size(); i++)
    std::printf("%s%s", i ? ", " : "", r.cfg.task_names[i].c_str());
  std::printf("], model %s (%ld parameters)\n", model_description(policy.cfg).c_str(),
              model_num_params(policy));

  double acc_before = NAN;
  if (start_step == 0) {
    acc_before = evaluate(r, 0, nullptr);
    std::printf("step %4d  held-out accuracy %.1f%%\n", 0, 100 * acc_before);
  } else {
    for (const EvalRow& e : rundb_read_evals(r.db, r.run_id))
      if (e.step == 0 && e.metric == "pass@1") acc_before = e.value;
  }

  auto save = [&](int step) {
    nlohmann::json extra;
    extra["run_id"] = r.run_id;
    extra["next_request_id"] = r.next_request_id;
    train_state_save(r.learner, r.run_dir, step, extra);
  };

  int step = start_step;
  std::optional<PendingGen> pending;
  std::vector<Rollout> ready;  // async: the next step's rollouts, generated with older weights
  for (; step < r.cfg.steps && !g_stop_requested; step++) {
    const int G = r.cfg.group_size;
    auto t_step = Clock::now();
    // Generation (with dynamic sampling: more rounds until the batch is full).
    double t_gen = 0, t_reward = 0;
    std::vector<Rollout> batch;
    int zero_var_groups = 0, total_groups = 0;
    for (int round = 0; round <= (r.cfg.dynamic_sampling ? r.cfg.max_oversample_rounds : 0);
         round++) {
      int need = r.cfg.prompts_per_step - static_cast<int>(batch.size()) / G;
      if (need <= 0) break;
      auto t0 = Clock::now();
      std::vector<Rollout> rs;
      if (!ready.empty()) {
        // Async: this step's samples were generated during the last update, one version behind.
        rs = std::move(ready);
        ready.clear();
      } else {
        rs = generate(r, taskset_train_batch(*r.tasks, step, round, need), G, r.cfg.temperature,
                      step_seed(r.cfg, step, round), "generating");
      }
      t_gen += seconds_since(t0);
      t0 = Clock::now();
      score_all(r, rs);
      t_reward += seconds_since(t0);
      for (size_t g0 = 0; g0 < rs.size(); g0 += G) {
        total_groups++;
        bool varies = group_correctness_varies(rs, g0, G);
        zero_var_groups += !varies;
        if (r.cfg.dynamic_sampling && !varies) continue;
        for (int i = 0; i < G; i++) batch.push_back(std::move(rs[g0 + i]));
      }
    }
    if (batch.size() > static_cast<size_t>(r.cfg.prompts_per_step) * G)
      batch.resize(static_cast<size_t>(r.cfg.prompts_per_step) * G);
    for (size_t i = 0; i < batch.size(); i++) batch[i].group_id = static_cast<int64_t>(i) / G;
    shape_overlong(r.cfg, batch);
    compute_group_advantages(r.cfg, batch);
    // Async: the next step's prompts generate with the current weights while this step trains.
    if (r.cfg.async && step + 1 < r.cfg.steps)
      pending =
          submit_generation(r, taskset_train_batch(*r.tasks, step + 1, 0, r.cfg.prompts_per_step),
                            G, r.cfg.temperature, step_seed(r.cfg, step + 1, 0));

    // Learner update.
    auto t0 = Clock::now();
    UpdateMetrics um;
    if (!batch.empty()) um = learner_update(r.learner, to_train_samples(batch, r.cfg));
    if (r.cfg.ref_update_every > 0 && (step + 1) % r.cfg.ref_update_every == 0)
      learner_refresh_ref(r.learner);
    double t_train = seconds_since(t0);
    if (pending) {
      // Finish the next step's generation before new weights arrive, so no sample mixes versions.
      t0 = Clock::now();
      ready = collect_generation(r, *pending, "generating");
      pending.reset();
      t_gen += seconds_since(t0);
    }
    double t_sync = publish_weights(r);

    // Metrics and logs.
    StepRow row;
    row.run_id = r.run_id;
    row.step = step + 1;
    double rsum = 0, csum = 0, lsum = 0, asum = 0, a2 = 0, lmax = 0, trunc = 0;
    std::map<std::string, double> comp;
    for (const Rollout& ro : batch) {
      rsum += ro.reward;
      csum += ro.scored.correct;
      double len = static_cast<double>(ro.sample.token_ids.size());
      lsum += len;
      lmax = std::max(lmax, len);
      trunc += ro.sample.finish_reason == "length";
      asum += ro.advantage;
      a2 += static_cast<double>(ro.advantage) * ro.advantage;
      for (const auto& [name, v] : ro.scored.result.components) comp[name] += v;
    }
    const double nb = std::max<size_t>(1, batch.size());
    row.reward_mean = rsum / nb;
    row.accuracy = csum / nb;
    row.adv_mean = asum / nb;
    row.adv_std = std::sqrt(std::max(0.0, a2 / nb - row.adv_mean * row.adv_mean));
    row.len_mean = lsum / nb;
    row.len_max = lmax;
    row.frac_truncated = trunc / nb;
    row.kl = um.kl;
    row.entropy = um.entropy;
    row.clip_frac_low = um.clip_low;
    row.clip_frac_high = um.clip_high;
    row.frac_zero_var_groups =
        total_groups ? static_cast<double>(zero_var_groups) / total_groups : 0;
    row.dlogp_max = um.dlogp_max;
    row.dlogp_mean = um.dlogp_mean;
    row.grad_norm = um.grad_norm;
    row.lr = um.lr;
    row.t_gen = t_gen;
    row.t_reward = t_reward;
    row.t_train = t_train;
    row.t_sync = t_sync;
    row.tokens_per_s = (lsum + 0.0) / std::max(1e-9, seconds_since(t_step));
    nlohmann::json metrics;
    nlohmann::json rc = nlohmann::json::object();
    for (const auto& [name, v] : comp) rc[name] = v / nb;
    metrics["reward_components"] = rc;
    nlohmann::json load = nlohmann::json::array();
    for (size_t l = 0; l < um.expert_load.size(); l++) {
      long tot = 0;
      for (long x : um.expert_load[l]) tot += x;
      if (tot == 0) continue;
      nlohmann::json layer = nlohmann::json::array();
      for (long x : um.expert_load[l]) layer.push_back(static_cast<double>(x) / tot);
      load.push_back(layer);
    }
    metrics["expert_load"] = load;
    metrics["clip_frac_dual"] = um.clip_dual;
    metrics["ratio_mean"] = um.ratio_mean;
    metrics["tis_mean"] = um.tis_mean;
    metrics["loss"] = um.loss;
    metrics["balance_loss"] = um.balance_loss;
    metrics["weight_version"] = r.learner.policy.version;
    row.metrics_json = metrics.dump();
    std::vector<SampleRow> samples;
    for (size_t i = 0; i < batch.size(); i++) {
      const Rollout& ro = batch[i];
      SampleRow s;
      s.weight_version = static_cast<int64_t>(ro.weight_version);
      s.task = ro.item.task;
      s.prompt_id = ro.item.prompt_id;
      s.group_id = ro.group_id;
      s.sample_idx = ro.sample_idx;
      s.prompt = prompt_text(ro.item, r.format);
      s.completion = ro.completion;
      s.response_prefix = r.format.response_prefix;
      s.num_tokens = static_cast<int64_t>(ro.sample.token_ids.size());
      s.finish_reason = ro.sample.finish_reason;
      s.reward = ro.reward;
      nlohmann::json cj = nlohmann::json::object();
      for (const auto& [name, v] : ro.scored.result.components) cj[name] = v;
      s.components_json = cj.dump();
      s.correct = ro.scored.correct;
      s.advantage = ro.advantage;
      double lp = 0;
      for (float x : ro.sample.logprobs) lp += x;
      s.mean_logp = ro.sample.logprobs.empty() ? 0 : lp / ro.sample.logprobs.size();
      s.mean_abs_dlogp = i < um.sample_mean_abs_dlogp.size() ? um.sample_mean_abs_dlogp[i] : NAN;
      s.gen_time_s = ro.gen_time_s;
      s.extracted = ro.scored.result.extracted;
      s.reason = ro.scored.result.reason;
      s.prompt_ids.assign(ro.prompt_ids.begin(), ro.prompt_ids.end());
      s.completion_ids = ro.sample.token_ids;
      s.rollout_logps = ro.sample.logprobs;
      samples.push_back(std::move(s));
    }
    rundb_write_step(r.db, row, samples);
    std::printf(
        "step %4d  reward %.3f  acc %5.1f%%  len %4.1f  kl %.4f  ent %.3f  clip %.3f  "
        "|dlogp| %.1e  gnorm %.2f  gen %.1fs train %.1fs\n",
        step + 1, row.reward_mean, 100 * row.accuracy, row.len_mean, row.kl, row.entropy,
        row.clip_frac_low + row.clip_frac_high, row.dlogp_max, row.grad_norm, t_gen, t_train);
    std::fflush(stdout);
    if (r.cfg.eval_every > 0 && (step + 1) % r.cfg.eval_every == 0 && step + 1 < r.cfg.steps) {
      double acc = evaluate(r, step + 1, nullptr);
      std::printf("step %4d  held-out accuracy %.1f%%\n", step + 1, 100 * acc);
    }
    if (r.cfg.checkpoint_every > 0 && (step + 1) % r.cfg.checkpoint_every == 0) save(step + 1);
  }
  save(step);
  if (g_stop_requested) {
    std::printf(
        "interrupted: checkpoint of step %d written; continue with "
        "`aha train --resume %s`\n",
        step, r.run_dir.c_str());
    stop_workers(r);
    return 130;
  }
  double acc_after = evaluate(r, step, nullptr);
  stop_workers(r);
  model_save(r.learner.policy, r.run_dir + "/final-model");
  // tokenizer_config.json too: it holds the BOS token and add_bos_token (see encode_prompt_ids).
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (fs::exists(r.cfg.model_path + "/" + f))
      fs::copy_file(r.cfg.model_path + "/" + f, r.run_dir + "/final-model/" + f,
                    fs::copy_options::overwrite_existing);
  std::string report = r.run_dir + "/report.html";
  ReportOptions ro;
  ro.run_id = r.run_id;
  report_write(r.db, ro, report);
  std::printf("held-out accuracy: %.1f%% -> %.1f%%\n", 100 * acc_before, 100 * acc_after);
  std::printf("rollouts: %s/rollouts.db   report: %s   model: %s/final-model\n", r.run_dir.c_str(),
              report.c_str(), r.run_dir.c_str());
  return 0;
}

}  // namespace aha
