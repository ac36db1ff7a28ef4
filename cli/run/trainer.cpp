#include "cli/run/trainer.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "cli/run/eval.h"
#include "cli/run/reward_service.h"
#include "cli/run/spawn.h"
#include "cli/run/taskset.h"
#include "cli/run/train_config.h"
#include "cli/run/version.h"
#include "kernels/check.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"
#include "learner/data_parallel.h"
#include "learner/train_state.h"
#include "policy/checkpoint.h"
#include "policy/decode.h"
#include "policy/tokenizer.h"
#include "rollout/auth.h"
#include "rollout/controller.h"
#include "rollout/engine_worker.h"
#include "rollout/log/report.h"
#include "rollout/log/rundb.h"

namespace aha {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop_requested{false};
void on_signal(int) {
  g_stop_requested = true;
}

// SIGINT/SIGTERM seen in a wait: unwinds to train_main, which checkpoints and exits 130.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};
// A NaN or inf in the loss, gradients or weights: the run stops without a checkpoint.
struct NonFinite : std::runtime_error {
  using std::runtime_error::runtime_error;
};
void check_interrupt() {
  if (g_stop_requested) throw Interrupted();
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A sample while it is scored: the one sample type with the task item its checker needs and the
// checker's full result (components as numbers, for the step's means). In request order.
struct Rollout {
  TaskItem item;
  Scored scored;
  Sample s;
};

// Generation requests in flight: G samples for each item, collected in item order.
struct PendingGen {
  std::vector<TaskItem> items;
  std::map<uint64_t, size_t> index;  // request id -> item
  std::vector<std::vector<int>> prompt_ids;
  uint64_t min_version = 0;  // the weight version the requests need
};

struct Run {
  ~Run();
  zmq::context_t ctx{1};  // first member: outlives every socket below
  ZapHandlerPtr zap;      // CURVE allow-list for tcp:// endpoints
  CurveKeyPair server_key, worker_key;
  std::string server_pub_path, worker_key_path;
  TrainConfig cfg;
  TrainOptions opt;
  std::string run_dir;
  int lock_fd = -1;           // RUN_DIR/train.lock, held while this process trains there
  fs::path made_dir;          // the topmost folder that creating run_dir made ("" = none)
  bool wrote_config = false;  // a new run's config.toml, written before the model was loaded
  Tokenizer tok;
  TaskSetPtr tasks;
  Learner learner;
  Device rollout_device = Device::kCpu;  // rollout.device, resolved
  ControllerPtr controller;
  RewardServicePtr rewards;  // when reward.workers > 0
  // The learner's weights offered to the rollout worker threads (retracted while it updates).
  WeightsHandoff handoff;
  std::vector<uint8_t> spare_weights;  // the last but one version's wire bytes, refilled next
  // Every rollout worker is a thread with the handoff: versions are announced without bytes,
  // which are prepared only if one of them misses (controller_announce_weights).
  bool bytes_on_demand = false;
  std::vector<std::thread> worker_threads;
  std::vector<pid_t> worker_pids;
  std::atomic<bool> workers_stop{false};
  RunDb db;
  int64_t run_id = 0;
  uint64_t next_request_id = 1;
  PromptFormat format;  // model.chat_template resolved against the tokenizer
  // Liveness: when a worker last could serve (steady clock), and the last "waiting" note.
  Clock::time_point serving_seen = Clock::now(), last_wait_note = Clock::now();
  // Bounds a gen_result is checked against (validate_gen_result).
  int vocab_size = 0, num_moe_layers = 0, top_k = 0, num_experts = 0;

  // The step loop.
  int step = 0;                // the step running (= steps finished)
  int learner_step = 0;        // updates applied to the learner (what a checkpoint would hold)
  bool learner_dirty = false;  // an update threw midway: the learner's state is not a step's
  double acc_before = NAN;     // held-out pass@1 at step 0
  std::optional<std::pair<StepRow, std::vector<Sample>>> unwritten;  // a step's unlogged row
  // Async pipeline (run.async): first-round batches of later steps, generated with older weights.
  std::deque<std::pair<int, PendingGen>> ahead_pending;          // step, requests in flight
  std::deque<std::pair<int, std::vector<Rollout>>> ahead_ready;  // step, its rollouts
  int ahead_until = 0;                                           // the last step submitted ahead
};

// Stops workers however the run ends, so no joinable std::thread is ever destroyed (which would
// call std::terminate and lose the real error).
void stop_workers(Run& r) noexcept;
Run::~Run() {
  stop_workers(*this);
  if (lock_fd >= 0) close(lock_fd);
}

// Checks a worker's result against its request and the model (the controller has checked the
// sample count and weight version): "" accepts, else why it is refused.
std::string validate_gen_result(void* ctx, const GenRequest& req, const GenResult& res) {
  const Run& r = *static_cast<const Run*>(ctx);
  const float tol = 1e-4f;  // a log-softmax is <= 0; rounding may leave a hair above
  for (size_t s = 0; s < res.samples.size(); s++) {
    const Sample& x = res.samples[s];
    const std::string at = "sample " + std::to_string(s) + ": ";
    const size_t n = x.completion.size();
    if (x.finish_reason.rfind("error", 0) == 0) {
      if (n != 0) return at + "an error sample with tokens";
      continue;
    }
    if (x.finish_reason != "stop" && x.finish_reason != "length")
      return at + "finish_reason '" + x.finish_reason.substr(0, 32) + "'";
    if (n > static_cast<size_t>(req.params.max_new_tokens))
      return at + std::to_string(n) + " tokens, over max_new_tokens " +
             std::to_string(req.params.max_new_tokens);
    for (int32_t id : x.completion)
      if (id < 0 || id >= r.vocab_size)
        return at + "token id " + std::to_string(id) + " outside the vocabulary of " +
               std::to_string(r.vocab_size);
    if (x.rollout_logp.size() != n) return at + "logprobs not one per token";
    for (float lp : x.rollout_logp)
      if (!std::isfinite(lp) || lp > tol) return at + "log-prob " + std::to_string(lp);
    if (!x.trunc_logp.empty()) {
      if (x.trunc_logp.size() != n) return at + "truncated_logprobs not one per token";
      for (float lp : x.trunc_logp)
        if (!std::isfinite(lp) || lp > tol) return at + "truncated log-prob " + std::to_string(lp);
    }
    const size_t T = req.prompt_ids.size() + n;
    const bool has_routing = x.routing_num_layers || x.routing_top_k || !x.routing.empty();
    if (!has_routing) continue;
    if (!req.return_routing) return at + "routing that was not asked for";
    if (x.routing_num_layers != r.num_moe_layers || x.routing_top_k != r.top_k ||
        x.routing.size() != T * static_cast<size_t>(r.num_moe_layers) * r.top_k)
      return at + "routing of shape [" + std::to_string(x.routing_num_layers) + ", T, " +
             std::to_string(x.routing_top_k) + "] x " + std::to_string(x.routing.size()) +
             ", want [" + std::to_string(r.num_moe_layers) + ", " + std::to_string(T) + ", " +
             std::to_string(r.top_k) + "]";
    for (int32_t e : x.routing)
      if (e < 0 || e >= r.num_experts)
        return at + "expert id " + std::to_string(e) + " outside [0, " +
               std::to_string(r.num_experts) + ")";
  }
  return "";
}

// A NaN or inf in the loss, the gradient norm or the weights stops the run at this step.
void check_finite(const Learner& l, const UpdateMetrics& um, int step) {
  const char* what = !std::isfinite(um.loss)        ? "loss"
                     : !std::isfinite(um.grad_norm) ? "gradient norm"
                                                    : nullptr;
  if (!what)
    for (float w : l.policy.params)
      if (!std::isfinite(w)) {
        what = "weights";
        break;
      }
  if (what)
    throw NonFinite("step " + std::to_string(step) + ": the " + what + " became NaN or inf (loss " +
                    std::to_string(um.loss) + ", gradient norm " + std::to_string(um.grad_norm) +
                    ")");
}

// Liveness: while no worker can serve, says so every 5 s and gives up after the deadline.
void note_waiting(Run& r, int serving, const char* what) {
  if (serving > 0) {
    r.serving_seen = Clock::now();
    return;
  }
  const double waited = seconds_since(r.serving_seen);
  const double deadline = r.cfg.worker_deadline_s;
  if (deadline > 0 && waited > deadline)
    throw std::runtime_error("no rollout worker could serve for " +
                             std::to_string(static_cast<int>(waited)) + " s while " + what +
                             " (run.worker_deadline_s = " + std::to_string(deadline) +
                             "): giving up");
  if (seconds_since(r.last_wait_note) >= 5 && waited >= 2) {
    r.last_wait_note = Clock::now();
    std::printf("waiting: no rollout worker can serve for %.0f s while %s (%s)\n", waited, what,
                deadline > 0 ? ("the run fails at " + std::to_string(static_cast<int>(deadline)) +
                                " s, run.worker_deadline_s")
                                   .c_str()
                             : "waiting as run.worker_deadline_s = 0 says");
    std::fflush(stdout);
  }
}

// Workers alive that hold `version` or newer.
int workers_serving(Run& r, uint64_t version) {
  int n = 0;
  for (const WorkerInfo& w : controller_workers(*r.controller))
    n += w.alive && !w.banned && w.weights_version >= version;
  return n;
}

void reward_waiting(void* ctx, double seconds) {
  const Run& r = *static_cast<const Run*>(ctx);
  std::printf("waiting: no reward worker connected for %.0f s (run.worker_deadline_s = %g)\n",
              seconds, r.cfg.worker_deadline_s);
  std::fflush(stdout);
}

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

PendingGen submit_generation(Run& r, std::vector<TaskItem> items, int G, float temperature,
                             uint64_t seed_base) {
  PendingGen p;
  p.items = std::move(items);
  p.min_version = r.learner.policy.version;
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

// Waits for n results (requests in flight answer in any order, whichever batch they belong to).
std::vector<GenResult> wait_results(Run& r, size_t n, uint64_t min_version, const char* what) {
  std::vector<GenResult> results;
  while (results.size() < n) {
    check_interrupt();
    controller_poll(*r.controller, 100, results);
    progress(r, what, results.size(), n);
    note_waiting(r, workers_serving(r, min_version), what);
  }
  return results;
}

// The rollouts of p's results (those of other batches are left in `results`), in request order.
std::vector<Rollout> rollouts_of(PendingGen& p, std::vector<GenResult>& results) {
  std::vector<GenResult> mine, rest;
  for (GenResult& g : results) (p.index.count(g.request_id) ? mine : rest).push_back(std::move(g));
  results = std::move(rest);
  std::sort(mine.begin(), mine.end(),
            [](const GenResult& a, const GenResult& b) { return a.request_id < b.request_id; });
  std::vector<Rollout> out;
  for (GenResult& g : mine) {
    size_t i = p.index.at(g.request_id);
    for (size_t s = 0; s < g.samples.size(); s++) {
      Rollout ro;
      ro.item = p.items[i];
      ro.s = std::move(g.samples[s]);
      ro.s.task = ro.item.task;
      ro.s.prompt_id = ro.item.prompt_id;
      ro.s.group_id = static_cast<int64_t>(i);
      ro.s.sample_idx = static_cast<int64_t>(s);
      ro.s.prompt = p.prompt_ids[i];
      ro.s.weight_version = static_cast<int64_t>(g.weights_version);
      ro.s.gen_time_s = g.gen_ms / 1000.0;
      out.push_back(std::move(ro));
    }
  }
  return out;
}

std::vector<Rollout> collect_generation(Run& r, PendingGen& p, const char* what) {
  std::vector<GenResult> results = wait_results(r, p.items.size(), p.min_version, what);
  return rollouts_of(p, results);
}

// Compute threads while rollouts generate and the learner waits: in-process workers share the
// cores; worker processes run their own (this process only waits).
int generation_threads(const Run& r) {
  if (r.opt.worker_processes > 0 || r.opt.remote_workers) return 1;
  return std::max(1, hardware_threads() / std::max(1, r.cfg.rollout_workers));
}

std::vector<Rollout> generate(Run& r, const std::vector<TaskItem>& items, int G, float temperature,
                              uint64_t seed_base, const char* what) {
  set_compute_threads(generation_threads(r));
  PendingGen p = submit_generation(r, items, G, temperature, seed_base);
  return collect_generation(r, p, what);
}

uint64_t step_seed(const TrainConfig& c, int step, int round) {
  return (c.seed * 1000003ull + static_cast<uint64_t>(step)) * 1009ull +
         static_cast<uint64_t>(round) * 101ull;
}

// Scores every rollout on the reward thread pool.
void score_all(Run& r, std::vector<Rollout>& rs) {
  for (Rollout& ro : rs) ro.s.completion_text = decode_completion(r, ro.s.completion);
  if (r.rewards) {
    // One job per group (consecutive rollouts of one prompt) to the reward workers.
    std::vector<ScoreJob> jobs;
    std::vector<size_t> first;
    for (size_t i = 0; i < rs.size(); i++) {
      if (i == 0 || rs[i].s.group_id != rs[i - 1].s.group_id) {
        jobs.push_back(ScoreJob{rs[i].item.task, {}, rs[i].item.reference});
        first.push_back(i);
      }
      jobs.back().completions.push_back(reward_input(r.format, rs[i].s.completion_text));
    }
    std::vector<std::vector<Scored>> out;
    reward_service_score(*r.rewards, jobs, out);
    for (size_t j = 0; j < jobs.size(); j++)
      for (size_t g = 0; g < out[j].size(); g++) {
        Rollout& ro = rs[first[j] + g];
        ro.scored = out[j][g];
        if (ro.s.finish_reason.rfind("error", 0) == 0) {
          ro.scored = Scored{};
          ro.scored.result.reason = ro.s.finish_reason;
        }
        ro.s.reward = static_cast<float>(ro.scored.result.score);
      }
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < rs.size(); i = next++) {
      Rollout& ro = rs[i];
      if (ro.s.finish_reason.rfind("error", 0) == 0) {
        ro.scored = Scored{};
        ro.scored.result.reason = ro.s.finish_reason;
      } else {
        try {  // an exception must not escape a pool thread (std::terminate)
          ro.scored =
              taskset_score(*r.tasks, ro.item, reward_input(r.format, ro.s.completion_text));
        } catch (const std::exception& e) {
          ro.scored = Scored{};
          ro.scored.result.reason = std::string("error: ") + e.what();
        }
      }
      ro.s.reward = static_cast<float>(ro.scored.result.score);
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
    int n = static_cast<int>(ro.s.completion.size());
    if (n > L - buf)
      ro.s.reward -=
          c.overlong_penalty * static_cast<float>(n - (L - buf)) / static_cast<float>(buf);
  }
}

void compute_group_advantages(const TrainConfig& c, std::vector<Rollout>& rs) {
  const int G = c.group_size;
  std::vector<float> rewards(rs.size()), adv(rs.size());
  for (size_t i = 0; i < rs.size(); i++) rewards[i] = rs[i].s.reward;
  compute_advantages(rewards.data(), static_cast<int>(rs.size()) / G, G,
                     parse_advantage_mode(c.advantage), adv.data());
  for (size_t i = 0; i < rs.size(); i++) rs[i].s.advantage = adv[i];
}

bool group_correctness_varies(const std::vector<Rollout>& rs, size_t g0, int G) {
  for (int i = 1; i < G; i++)
    if (rs[g0 + i].scored.correct != rs[g0].scored.correct) return true;
  return false;
}

// Held-out evaluation (eval_samples samples of each eval prompt, cli/run/eval.h): logs pass@1 per
// task and returns the overall pass@1.
double evaluate(Run& r, int64_t step) {
  const std::vector<TaskItem>& items = taskset_eval(*r.tasks);
  if (items.empty()) return NAN;
  const EvalSampling es = train_eval_sampling(r.cfg);
  std::vector<Rollout> rs =
      generate(r, items, es.k, es.params.temperature, es.seed_base, "evaluating");
  score_all(r, rs);
  std::vector<EvalGroup> groups;
  for (size_t i = 0; i < rs.size(); i++) {
    if (i == 0 || rs[i].s.group_id != rs[i - 1].s.group_id) groups.push_back({rs[i].item.task, {}});
    groups.back().scored.push_back(rs[i].scored);
  }
  const EvalSummary sum = eval_summarize(groups);
  std::vector<EvalRow> rows;
  for (const auto& [task, p] : sum.pass1_by_task)
    rows.push_back(EvalRow{r.run_id, step, task, "pass@1", p, 1});
  rundb_write_evals(r.db, rows);
  return sum.pass1;
}

// CURVE for tcp:// endpoints: the run's key pairs (created once, kept for resumes, owner-only in
// RUN_DIR/keys) and the ZAP allow-list (the local workers' key plus run.authorized_keys).
void setup_auth(Run& r, const std::string& endpoint) {
  if (!endpoint_is_tcp(endpoint)) return;
  if (r.cfg.insecure_tcp) {
    std::printf(
        "warning: %s without authentication (run.insecure_tcp): anyone who reaches it "
        "can train this model\n",
        endpoint.c_str());
    return;
  }
  if (!curve_available())
    throw std::runtime_error(endpoint +
                             ": this libzmq has no CURVE (built without libsodium); on a trusted "
                             "network pass --insecure (run.insecure_tcp = true)");
  const std::string dir = r.run_dir + "/keys";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  auto pair = [&](const std::string& name, CurveKeyPair& k) {
    const std::string path = dir + "/" + name + ".key";
    if (fs::exists(path)) {
      k = curve_key_read(path);
    } else {
      k = curve_keygen();
      curve_key_write(path, k);
      curve_key_write(dir + "/" + name + ".pub", k, true);
    }
    return path;
  };
  pair("server", r.server_key);
  r.server_pub_path = dir + "/server.pub";
  r.worker_key_path = pair("worker", r.worker_key);
  const std::string allow =
      r.cfg.authorized_keys.empty() ? r.run_dir + "/authorized_keys" : r.cfg.authorized_keys;
  r.zap = zap_start(r.ctx, {r.worker_key.public_key}, allow);
  std::printf(
      "CURVE on %s: workers need --server-key %s and a key pair whose public key is in %s "
      "(`aha keygen`)\n",
      endpoint.c_str(), r.server_pub_path.c_str(), allow.c_str());
}

// Waits for n workers (at most timeout_s), returning early on SIGINT/SIGTERM.
template <typename F>
bool wait_for(F ready, double timeout_s) {
  auto t0 = Clock::now();
  while (!ready()) {
    check_interrupt();
    if (seconds_since(t0) > timeout_s) return false;
  }
  return true;
}

// ipc:// sockets live in an owner-only directory (and are chmod 0600 after bind).
std::string ipc_dir(const Run& r) {
  const std::string dir = fs::absolute(r.run_dir).string() + "/ipc";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  return dir;
}

// Local workers reach a wildcard tcp:// bind through the loopback address.
std::string loopback_endpoint(std::string e) {
  if (size_t star = e.find("://*"); star != std::string::npos) e.replace(star + 3, 1, "127.0.0.1");
  if (size_t any = e.find("://0.0.0.0"); any != std::string::npos)
    e.replace(any + 3, 7, "127.0.0.1");
  return e;
}

// A worker process's key arguments on an authenticated endpoint.
void add_key_args(const Run& r, std::vector<std::string>& args) {
  args.insert(args.end(), {"--server-key", r.server_pub_path, "--key", r.worker_key_path});
}

void rollout_worker_thread(Run& r, int i, const std::string& endpoint, bool curve) {
  EngineWorkerOptions wo;
  wo.worker.connect = endpoint;
  wo.worker.context = &r.ctx;
  wo.worker.worker_id = "thread-" + std::to_string(i);
  wo.worker.stop = &r.workers_stop;
  // Same process: weights by a copy from the learner's memory.
  if (r.cfg.weight_handoff) wo.worker.handoff = &r.handoff;
  if (curve) {
    wo.worker.curve_server_key = r.server_key.public_key;
    wo.worker.curve_public_key = r.worker_key.public_key;
    wo.worker.curve_secret_key = r.worker_key.secret_key;
  }
  wo.engine.max_tokens_in_flight = r.cfg.max_tokens_in_flight;
  wo.device = r.rollout_device;
  try {  // nothing may escape a thread (std::terminate would lose the message)
    run_engine_worker(wo, r.learner.policy);
  } catch (const std::exception& e) {
    spdlog::error("rollout worker thread-{}: {}", i, e.what());
  }
}

void reward_worker_thread(Run& r, const std::string& id, const std::string& endpoint, bool curve) {
  RewardWorkerOptions wo;
  wo.connect = endpoint;
  if (curve) {
    wo.curve_server_key = r.server_key.public_key;
    wo.curve_public_key = r.worker_key.public_key;
    wo.curve_secret_key = r.worker_key.secret_key;
  }
  wo.context = &r.ctx;
  wo.worker_id = id;
  wo.tasks_file = r.cfg.tasks_file;
  wo.threads = r.cfg.reward_threads;
  wo.stop = &r.workers_stop;
  try {
    run_reward_worker(wo);
  } catch (const std::exception& e) {
    spdlog::error("reward worker {}: {}", id, e.what());
  }
}

// The controller and its rollout workers: threads over inproc:// (default), processes over ipc://
// (--workers), or none started here (--remote-workers); waits until they are connected.
void start_rollout_workers(Run& r) {
  ControllerOptions co;
  const bool processes = r.opt.worker_processes > 0;
  co.endpoint = processes ? "ipc://" + ipc_dir(r) + "/rollout.sock"
                          : "inproc://aha-rollout-" + std::to_string(getpid());
  if (!r.opt.listen.empty()) co.endpoint = r.opt.listen;
  co.context = &r.ctx;
  co.validate = validate_gen_result;
  co.validate_ctx = &r;
  co.max_bad_results = r.cfg.max_bad_results;
  co.request_timeout_ms = static_cast<int>(std::min(2e9, r.cfg.request_timeout_s * 1000.0));
  co.worker_timeout_ms = static_cast<int>(std::min(2e9, r.cfg.worker_timeout_s * 1000.0));
  co.broadcast_fanout = r.cfg.broadcast_fanout;
  setup_auth(r, co.endpoint);
  const bool curve = r.zap != nullptr;
  if (curve) co.curve_secret_key = r.server_key.secret_key;
  r.controller = controller_create(co);
  const std::string local = loopback_endpoint(controller_endpoint(*r.controller));
  const int n = processes ? r.opt.worker_processes : r.cfg.rollout_workers;
  if (n == 0 && r.opt.listen.empty())
    throw std::runtime_error("config: rollout.workers = 0 needs --listen (remote workers only)");
  if (r.opt.remote_workers) {
    // Started by a launcher (experiments/slurm): rollout.workers of them connect to --listen.
    if (r.opt.listen.empty() || (r.cfg.reward_workers > 0 && r.opt.reward_listen.empty()))
      throw std::runtime_error(
          "--remote-workers needs --listen (and --reward-listen when "
          "reward.workers > 0)");
  } else if (processes) {
    // Workers start from the run's model directory and then receive the learner's weights.
    const std::string model_dir = r.run_dir + "/worker-model";
    model_save(r.learner.policy, model_dir);
    // The workers share the cores.
    const std::string threads = std::to_string(std::max(1, hardware_threads() / n));
    // They are on this node: new weights come from the learner's memory, not the wire.
    const std::string handoff = ipc_dir(r) + "/weights.handoff";
    const bool shared = r.cfg.weight_handoff && weights_handoff_share(r.handoff, handoff);
    for (int i = 0; i < n; i++) {
      std::vector<std::string> args = {r.opt.exe_path,
                                       "rollout-worker",
                                       "--connect",
                                       local,
                                       "--model",
                                       model_dir,
                                       "--id",
                                       "worker-" + std::to_string(i),
                                       "--threads",
                                       threads,
                                       "--gemm-precision",
                                       r.cfg.gemm_precision,  // as the learner
                                       "--device",
                                       device_name(r.rollout_device)};
      if (shared) args.insert(args.end(), {"--weights-handoff", handoff});
      const std::vector<int>& gpus = r.cfg.rollout_cuda_devices;
      if (!gpus.empty() && r.rollout_device == Device::kCuda)
        args.insert(args.end(), {"--cuda-device", std::to_string(gpus[i % gpus.size()])});
      if (r.cfg.batch_invariant) args.push_back("--batch-invariant");  // as the learner
      if (curve) add_key_args(r, args);
      r.worker_pids.push_back(spawn_process(args));
    }
  } else {
    r.bytes_on_demand = r.cfg.weight_handoff && r.opt.listen.empty();
    for (int i = 0; i < n; i++)
      r.worker_threads.emplace_back(
          [&r, i, local, curve] { rollout_worker_thread(r, i, local, curve); });
  }
  if (!wait_for([&] { return controller_wait_workers(*r.controller, n, 100); }, 60))
    throw std::runtime_error("rollout workers did not come up within 60 s");
}

// The reward service and its workers when reward.workers > 0 (else rewards are computed on this
// process's thread pool); waits until they are connected.
void start_reward_workers(Run& r) {
  const int nr = r.cfg.reward_workers;
  if (nr == 0) return;
  const bool processes = r.opt.worker_processes > 0;
  RewardServiceOptions so;
  so.endpoint = processes ? "ipc://" + ipc_dir(r) + "/reward.sock"
                          : "inproc://aha-reward-" + std::to_string(getpid());
  if (!r.opt.reward_listen.empty()) so.endpoint = r.opt.reward_listen;
  // A tcp:// reward endpoint is authenticated like the rollout one (same keys, same allow-list).
  if (r.zap == nullptr) setup_auth(r, so.endpoint);
  const bool curve = r.zap != nullptr && endpoint_is_tcp(so.endpoint);
  if (curve) so.curve_secret_key = r.server_key.secret_key;
  so.context = &r.ctx;
  so.job_timeout_ms = static_cast<int>(std::min(2e9, r.cfg.reward_job_timeout_s * 1000.0));
  so.max_bad_results = r.cfg.max_bad_results;
  so.worker_deadline_ms = static_cast<int>(std::min(2e9, r.cfg.worker_deadline_s * 1000.0));
  so.tasks_file = r.cfg.tasks_file;
  so.stop = &g_stop_requested;
  so.on_waiting = reward_waiting;
  so.on_waiting_ctx = &r;
  r.rewards = reward_service_create(so);
  const std::string local = loopback_endpoint(so.endpoint);
  for (int i = 0; i < nr && !r.opt.remote_workers; i++) {
    std::string id = "reward-" + std::to_string(i);
    if (processes) {
      std::vector<std::string> args = {r.opt.exe_path, "reward-worker",
                                       "--connect",    local,
                                       "--tasks-file", r.cfg.tasks_file,
                                       "--threads",    std::to_string(r.cfg.reward_threads),
                                       "--id",         id};
      if (curve) add_key_args(r, args);
      r.worker_pids.push_back(spawn_process(args));
    } else {
      r.worker_threads.emplace_back(
          [&r, id, local, curve] { reward_worker_thread(r, id, local, curve); });
    }
  }
  if (!reward_service_wait_workers(*r.rewards, nr, 60000)) {
    check_interrupt();
    throw std::runtime_error("reward workers did not come up within 60 s");
  }
}

void start_workers(Run& r) {
  start_rollout_workers(r);
  start_reward_workers(r);
}

void stop_workers(Run& r) noexcept {
  try {
    if (r.controller) controller_shutdown_workers(*r.controller, "training finished");
    if (r.rewards) reward_service_shutdown(*r.rewards);
  } catch (const std::exception& e) {
    spdlog::warn("stopping workers: {}", e.what());
  }
  r.workers_stop = true;
  for (std::thread& t : r.worker_threads)
    if (t.joinable()) t.join();
  r.worker_threads.clear();
  for (pid_t pid : r.worker_pids) {
    int status = 0;
    for (int i = 0; i < 50 && waitpid(pid, &status, WNOHANG) == 0; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (waitpid(pid, &status, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
  r.worker_pids.clear();
  r.rewards.reset();
  r.controller.reset();
  r.zap.reset();
}

// Publishes the learner's weights and waits until every live worker holds them; after 30 s it
// goes on once at least one does (a worker that never acknowledges cannot stall the run; requests
// only go to workers holding the version). No worker at all: the liveness deadline applies.
double publish_weights(Run& r) {
  auto t0 = Clock::now();
  const uint64_t v = r.learner.policy.version;
  // CUDA engines copy the learner's device copy when it is current; CPU engines the host copy
  // (current after every update), so no CPU worker reads device memory.
  Device where = Device::kCpu;
  const float* params = r.rollout_device == Device::kCuda ? learner_weights(r.learner, &where)
                                                          : r.learner.policy.params.data();
  weights_handoff_offer(r.handoff, v, params, r.learner.policy.num_params, where);
  bool attached = !r.bytes_on_demand;
  if (r.bytes_on_demand) {
    std::vector<uint8_t> previous = controller_announce_weights(
        *r.controller, v, static_cast<uint64_t>(r.learner.policy.num_params) * sizeof(float));
    if (r.spare_weights.empty()) r.spare_weights = std::move(previous);
  } else {
    weights_to_bytes(r.learner.policy, r.spare_weights);
    r.spare_weights = controller_publish_weights(*r.controller, v, std::move(r.spare_weights));
  }
  // The bytes of an announced version, for a worker that could not copy it from memory.
  auto attach = [&] {
    weights_to_bytes(r.learner.policy, r.spare_weights);
    controller_attach_weights(*r.controller, v, std::move(r.spare_weights));
    r.spare_weights = {};
    attached = true;
  };
  while (!controller_wait_weights(*r.controller, v, 100)) {
    check_interrupt();
    if (!attached && controller_weights_wanted(*r.controller, v)) attach();
    const int serving = workers_serving(r, v);
    if (serving > 0 && seconds_since(t0) > 30) {
      if (!attached) attach();  // a late worker will miss the handoff (retracted by then)
      spdlog::warn("weights v{}: going on with {} worker(s) holding it", v, serving);
      break;
    }
    // Counts as serving while some worker is alive (it may still be fetching).
    int alive = 0;
    for (const WorkerInfo& w : controller_workers(*r.controller)) alive += w.alive;
    note_waiting(r, alive, "publishing weights");
    if (seconds_since(t0) > 600 && serving == 0)
      throw std::runtime_error("no rollout worker took weight version " + std::to_string(v) +
                               " within 600 s");
  }
  return seconds_since(t0);
}

std::string model_description(const ModelConfig& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s L=%d C=%d NH=%d E=%d+%d K=%d V=%d", c.model_type.c_str(),
                c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.n_routed_experts,
                c.n_shared_experts, c.num_experts_per_tok, c.vocab_size);
  return buf;
}

// Moves a scored batch's samples out for the learner and the run log, filling what they read
// from the score: masking, the texts, the checker's fields and the mean rollout log-prob.
std::vector<Sample> take_samples(std::vector<Rollout>& rs, const TrainConfig& c,
                                 const PromptFormat& format) {
  std::vector<Sample> out;
  out.reserve(rs.size());
  for (Rollout& ro : rs) {
    Sample& s = ro.s;
    s.masked = s.completion.empty() || (c.overlong == "mask" && s.finish_reason == "length");
    s.prompt_text = prompt_text(ro.item, format);
    s.response_prefix = format.response_prefix;
    s.num_tokens = static_cast<int64_t>(s.completion.size());
    nlohmann::json cj = nlohmann::json::object();
    for (const auto& [name, v] : ro.scored.result.components) cj[name] = v;
    s.components_json = cj.dump();
    s.correct = ro.scored.correct;
    s.extracted = ro.scored.result.extracted;
    s.reason = ro.scored.result.reason;
    double lp = 0;
    for (float x : s.rollout_logp) lp += x;
    s.mean_logp = s.rollout_logp.empty() ? 0 : lp / s.rollout_logp.size();
    out.push_back(std::move(s));
  }
  return out;
}

// `aha train --replay RUN_DIR --steps a:b`: the logged samples of steps a..b, trained on again
// from the run's starting model without generating; prints the update metrics of each step.
int replay_main(const TrainOptions& opt) {
  TrainConfig cfg;
  train_config_load_toml(cfg, opt.replay_dir + "/config.toml");
  for (const std::string& s : opt.sets) train_config_set(cfg, s);
  if (!opt.device.empty()) cfg.learner.device = opt.device;
  if (cfg.model_path.empty()) cfg.model_path = builtin_run_model_dir();
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
    std::vector<Sample> batch = rundb_read_samples(db, q);
    if (batch.empty()) {
      std::printf("step %4d  no samples logged\n", step);
      continue;
    }
    for (Sample& s : batch) {
      if (s.prompt.empty() || s.completion.size() != static_cast<size_t>(s.num_tokens))
        throw std::runtime_error(opt.replay_dir + ": step " + std::to_string(step) +
                                 " was logged without token ids (log.token_blobs = false); it "
                                 "cannot be replayed");
      s.masked = s.completion.empty() || (cfg.overlong == "mask" && s.finish_reason == "length");
    }
    set_compute_threads(hardware_threads());  // the learner runs alone
    UpdateMetrics um = learner_update(l, batch);
    std::printf("step %4d  samples %zu  loss %+.5f  kl %.4f  clip %.3f  |dlogp| %.1e  gnorm %.3f\n",
                step, batch.size(), um.loss, um.kl, um.clip_low + um.clip_high, um.dlogp_max,
                um.grad_norm);
  }
  return 0;
}

}  // namespace

EvalSampling train_eval_sampling(const TrainConfig& c) {
  EvalSampling s;
  s.k = c.eval_samples;
  s.params.temperature = c.eval_temperature;
  s.params.top_p = c.top_p;
  s.params.top_k = c.top_k;
  s.params.min_p = c.min_p;
  s.params.max_new_tokens = c.max_new_tokens;
  s.seed_base = c.seed * 1000003ull + 77777ull;
  s.max_tokens_in_flight = c.max_tokens_in_flight;
  return s;
}

std::string builtin_run_model_dir() {
  return std::string(AHA_SOURCE_DIR) + "/experiments/r1-zero/base";
}

std::string builtin_base_model_dir() {
  return std::string(AHA_SOURCE_DIR) + "/experiments/base-arith";
}

namespace {

// RUN_DIR/train.lock, locked for this process's life (closed on exec, released when it dies):
// two trainers in one run directory would interleave their checkpoints and database rows.
int lock_run_dir(const std::string& dir) {
  const std::string path = dir + "/train.lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    const std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    throw std::runtime_error(dir + " is in use by another aha train (pid " +
                             pid.substr(0, pid.find('\n')) +
                             "): wait for it to end or stop it first");
  }
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    close(fd);
    throw std::runtime_error(path + ": cannot write (" + std::strerror(errno) + ")");
  }
  return fd;
}

// A folder's absolute path without a trailing separator (its parent_path is the folder above).
fs::path absolute_dir(const std::string& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  return p.has_filename() ? p : p.parent_path();
}

// Configuration: built-in default, a file, or the stored config of a run being resumed; rank 0 of
// a new run writes it to RUN_DIR/config.toml.
void load_config(Run& r, const TrainOptions& opt, bool write) {
  std::string config_name = "default";
  r.run_dir = opt.run_dir;
  if (opt.resume) {
    if (r.run_dir.empty()) throw std::runtime_error("--resume needs the run directory");
    if (!fs::is_directory(r.run_dir))
      throw std::runtime_error("--resume " + r.run_dir + ": no such run directory");
    if (!fs::exists(r.run_dir + "/config.toml"))
      throw std::runtime_error("--resume " + r.run_dir + ": not a run directory (no config.toml)");
    train_config_load_toml(r.cfg, r.run_dir + "/config.toml");
  } else if (!opt.config_path.empty()) {
    train_config_load_toml(r.cfg, opt.config_path);
    config_name = fs::path(opt.config_path).stem().string();
  }
  for (const std::string& s : opt.sets) train_config_set(r.cfg, s);
  if (!opt.device.empty()) r.cfg.learner.device = opt.device;
  if (r.cfg.model_path.empty()) r.cfg.model_path = builtin_run_model_dir();
  // A model directory may carry the definition of the tasks it was made for.
  if (r.cfg.tasks_file.empty() && fs::exists(r.cfg.model_path + "/tasks.toml"))
    r.cfg.tasks_file = r.cfg.model_path + "/tasks.toml";
  train_config_finalize(r.cfg);
  if (r.cfg.batch_invariant)  // its kernels are CPU only: auto means cpu, cuda is refused
    for (std::string* d : {&r.cfg.learner.device, &r.cfg.rollout_device}) {
      if (*d == "auto") *d = "cpu";
      if (*d == "cuda")
        throw std::runtime_error(
            "run.batch_invariant: training runs the mode on the CPU (its CUDA kernels serve the "
            "engine and the forward only); set learner.device and rollout.device to cpu (or "
            "auto)");
    }
  learner_device(r.cfg.learner.device);  // refuses what cannot run before anything is written
  // Worker threads share the learner's thread-wide CUDA device; placing them is for processes.
  if (!r.cfg.rollout_cuda_devices.empty() && opt.worker_processes == 0)
    throw std::runtime_error(
        "config: rollout.cuda_devices places the engines of worker processes: add --workers N "
        "(worker threads use the learner's GPU)");
  r.rollout_device = device_choose(r.cfg.rollout_device);
  if (r.run_dir.empty()) r.run_dir = "runs/" + config_name;
  if (fs::exists(r.run_dir) && !fs::is_directory(r.run_dir))
    throw std::runtime_error(r.run_dir + ": exists and is not a directory (--run-dir)");
  for (fs::path p = absolute_dir(r.run_dir); !p.empty() && !fs::exists(p); p = p.parent_path())
    r.made_dir = p;
  fs::create_directories(r.run_dir);
  if (!write) return;  // ranks other than 0 only read
  r.lock_fd = lock_run_dir(r.run_dir);
  if (opt.resume) return;
  // A new run never overwrites another's config, checkpoints or final model.
  if (fs::exists(r.run_dir + "/rollouts.db") || fs::exists(r.run_dir + "/checkpoints"))
    throw std::runtime_error(r.run_dir +
                             " already holds a run (rollouts.db, checkpoints): continue it with "
                             "`aha train --resume " +
                             r.run_dir + "`, or give another --run-dir (nothing was changed)");
  const std::string tmp = r.run_dir + "/config.toml.tmp";
  {
    std::ofstream f(tmp);
    f << train_config_to_toml(r.cfg);
    if (!f.flush()) throw std::runtime_error(tmp + ": cannot write");
  }
  fs::rename(tmp, r.run_dir + "/config.toml");
  r.wrote_config = true;
}

// A new run refused before it began (a bad model, tasks or data) leaves no trace of itself.
void unclaim_run_dir(Run& r) {
  if (!r.wrote_config) return;
  std::error_code ec;
  fs::remove(r.run_dir + "/config.toml", ec);
  fs::remove(r.run_dir + "/train.lock", ec);
  close(r.lock_fd);
  r.lock_fd = -1;
  if (r.made_dir.empty()) return;
  // The folders it made, innermost first, each only while empty.
  for (fs::path p = absolute_dir(r.run_dir); fs::remove(p, ec) && p != r.made_dir;
       p = p.parent_path()) {
  }
}

// Model, tokenizer, tasks and the learner; refuses sizes the run cannot hold.
void load_model(Run& r) {
  Model policy;
  model_load(policy, r.cfg.model_path);
  r.tok = tokenizer_load(r.cfg.model_path);
  r.format = prompt_format(r.tok, policy.cfg, r.cfg.chat_template);
  r.tasks = taskset_load(r.cfg.task_names, r.cfg.task_weights, r.cfg.tasks_file, r.cfg.seed,
                         r.cfg.eval_prompts);
  // Bounds of what workers may send, and what the run can hold.
  r.vocab_size = policy.cfg.vocab_size;
  r.num_moe_layers = cfg_num_moe_layers(policy.cfg);
  r.top_k = policy.cfg.num_experts_per_tok;
  r.num_experts = policy.cfg.n_routed_experts;
  if (r.cfg.max_new_tokens > policy.cfg.max_position_embeddings)
    throw std::runtime_error("config: rollout.max_new_tokens = " +
                             std::to_string(r.cfg.max_new_tokens) + " is over the model's " +
                             std::to_string(policy.cfg.max_position_embeddings) + " positions");
  // Every prompt with its completion fits, or the run is refused before it starts.
  taskset_check_lengths(*r.tasks, r.tok, policy.cfg, r.format, r.cfg.max_new_tokens,
                        "rollout.max_new_tokens");
  if (r.opt.worker_processes == 0) {
    // In-process workers each hold a model copy and their cache: refuse what cannot fit in memory.
    const double per_worker =
        static_cast<double>(model_num_params(policy)) * sizeof(float) +
        static_cast<double>(cache_bytes_per_token(policy.cfg)) * r.cfg.max_tokens_in_flight;
    const double total = per_worker * r.cfg.rollout_workers;
    const double mem = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
    if (mem > 0 && total > 0.8 * mem)
      throw std::runtime_error(
          "config: rollout.workers = " + std::to_string(r.cfg.rollout_workers) + " x " +
          std::to_string(static_cast<long>(per_worker / 1e6)) +
          " MB (model copy + rollout.max_tokens_in_flight cache rows) is over 80% of this "
          "machine's " +
          std::to_string(static_cast<long>(mem / 1e6)) + " MB");
  }
  learner_init(r.learner, policy, r.cfg.learner);
  if (r.cfg.learner.need_ref && !r.cfg.ref_path.empty()) model_load(r.learner.ref, r.cfg.ref_path);
}

void save_checkpoint(Run& r, int step) {
  nlohmann::json extra;
  extra["run_id"] = r.run_id;
  extra["next_request_id"] = r.next_request_id;
  train_state_save(r.learner, r.run_dir, step, extra);
}

// Run database and resume point: the latest checkpoint's step, or a new run row and the initial
// checkpoint (a run stopped before its first periodic checkpoint resumes from step 0 with nothing
// orphaned: rundb_truncate_after drops whatever steps it had logged).
void open_run(Run& r, Collective& dp) {
  r.db = rundb_open(r.run_dir, true);
  r.db.token_blobs = r.cfg.log_token_blobs;
  const std::string ckpt = r.opt.resume ? train_state_latest(r.run_dir) : "";
  if (r.opt.resume && ckpt.empty())
    std::printf(
        "resuming %s: no checkpoint yet (stopped before its initial one); starting the run "
        "over from step 0 as a new run in the database\n",
        r.run_dir.c_str());
  if (!ckpt.empty()) {
    nlohmann::json st = train_state_load(r.learner, ckpt);
    r.step = static_cast<int>(train_state_counter(st, "step", INT_MAX, ckpt));
    r.run_id = static_cast<int64_t>(train_state_counter(st, "run_id", INT64_MAX, ckpt));
    r.next_request_id = train_state_counter(st, "next_request_id", UINT64_MAX, ckpt);
    rundb_truncate_after(r.db, r.run_id, r.step);
    std::printf("resuming %s from %s (step %d)\n", r.run_dir.c_str(), ckpt.c_str(), r.step);
    // The stored config holds the run's own steps: a --set run.steps of an earlier resume is gone.
    if (r.step >= r.cfg.steps)
      std::printf("run.steps = %d: no step left to train (more: --set run.steps=N)\n", r.cfg.steps);
  } else {
    RunRow row;
    row.aha_version = kAhaVersion;
    row.git_commit = build_git_commit();
    row.model = model_description(r.learner.policy.cfg) + " from " + r.cfg.model_path;
    row.config = train_config_to_toml(r.cfg);
    r.run_id = rundb_begin_run(r.db, row);
  }
  r.learner_step = r.step;
  if (r.learner.policy.version == 0) r.learner.policy.version = 1;
  dp_sync_state(r.learner, dp);
  if (ckpt.empty()) save_checkpoint(r, 0);
}

void print_start(const Run& r) {
  std::printf("aha train: %s, %d steps of %d prompts x %d samples, tasks [", r.run_dir.c_str(),
              r.cfg.steps, r.cfg.prompts_per_step, r.cfg.group_size);
  for (size_t i = 0; i < r.cfg.task_names.size(); i++)
    std::printf("%s%s", i ? ", " : "", r.cfg.task_names[i].c_str());
  std::printf("], model %s (%ld parameters)\n", model_description(r.learner.policy.cfg).c_str(),
              model_num_params(r.learner.policy));
  std::printf("gemm backend: %s; %d compute threads\n", gemm_backend().c_str(), hardware_threads());
  const bool any_cuda = r.learner.device == Device::kCuda || r.rollout_device == Device::kCuda;
  const std::string gpu = any_cuda ? ", " + cuda_device_description() : "";
  std::printf("learner: %s%s; rollout: %s%s\n", device_name(r.learner.device),
              r.learner.device == Device::kCuda ? gpu.c_str() : "", device_name(r.rollout_device),
              r.rollout_device == Device::kCuda ? gpu.c_str() : "");
}

// The held-out accuracy before training (read back when resuming).
void evaluate_start(Run& r) {
  for (const EvalRow& e : rundb_read_evals(r.db, r.run_id))
    if (e.step == 0 && e.metric == "pass@1") r.acc_before = e.value;
  if (std::isnan(r.acc_before)) {
    r.acc_before = evaluate(r, 0);
    if (!std::isnan(r.acc_before))
      std::printf("step %4d  held-out accuracy %.1f%%\n", 0, 100 * r.acc_before);
  }
}

uint64_t rejected_results(const Run& r) {
  return controller_stats(*r.controller).rejected +
         (r.rewards ? reward_service_stats(*r.rewards).rejected : 0);
}

// A step's scored batch and how it was made.
struct StepBatch {
  std::vector<Rollout> rollouts;  // prompts_per_step groups of group_size, in group order
  std::vector<Sample> samples;    // the rollouts' samples, moved out for the learner and the log
  int zero_var_groups = 0, total_groups = 0;
  int stale_dropped = 0;           // groups generated more than run.max_staleness versions ago
  uint64_t staleness_max = 0;      // weight versions the oldest kept sample lags the learner
  double t_gen = 0, t_reward = 0;  // seconds
};

// Generate and score: the step's prompts (generated ahead by the async pipeline when it holds
// them), scored, with dynamic sampling's extra rounds until the batch is full; then overlong
// shaping and group advantages.
StepBatch generate_and_score(Run& r, int step) {
  StepBatch b;
  const int G = r.cfg.group_size;
  const uint64_t version = r.learner.policy.version;
  for (int round = 0; round <= (r.cfg.dynamic_sampling ? r.cfg.max_oversample_rounds : 0);
       round++) {
    const int need = r.cfg.prompts_per_step - static_cast<int>(b.rollouts.size()) / G;
    if (need <= 0) break;
    auto t0 = Clock::now();
    std::vector<Rollout> rs;
    if (!r.ahead_ready.empty() && r.ahead_ready.front().first == step) {
      rs = std::move(r.ahead_ready.front().second);
      r.ahead_ready.pop_front();
    } else {
      rs = generate(r, taskset_train_batch(*r.tasks, step, round, need), G, r.cfg.temperature,
                    step_seed(r.cfg, step, round), "generating");
    }
    b.t_gen += seconds_since(t0);
    t0 = Clock::now();
    score_all(r, rs);
    b.t_reward += seconds_since(t0);
    for (size_t g0 = 0; g0 < rs.size(); g0 += G) {
      const uint64_t wv = static_cast<uint64_t>(rs[g0].s.weight_version);
      const uint64_t lag = version - std::min(version, wv);
      if (lag > static_cast<uint64_t>(r.cfg.max_staleness)) {
        b.stale_dropped++;
        continue;
      }
      b.total_groups++;
      const bool varies = group_correctness_varies(rs, g0, G);
      b.zero_var_groups += !varies;
      if (r.cfg.dynamic_sampling && !varies) continue;
      b.staleness_max = std::max(b.staleness_max, lag);
      for (int i = 0; i < G; i++) b.rollouts.push_back(std::move(rs[g0 + i]));
    }
  }
  if (b.rollouts.size() > static_cast<size_t>(r.cfg.prompts_per_step) * G)
    b.rollouts.resize(static_cast<size_t>(r.cfg.prompts_per_step) * G);
  for (size_t i = 0; i < b.rollouts.size(); i++)
    b.rollouts[i].s.group_id = static_cast<int64_t>(i) / G;
  shape_overlong(r.cfg, b.rollouts);
  compute_group_advantages(r.cfg, b.rollouts);
  return b;
}

// Async (run.async): the prompts of the next run.max_staleness steps generate with the current
// weights while this step trains, so the batch of step t+k is k versions behind when it is used.
void submit_ahead(Run& r, int step) {
  if (!r.cfg.async) return;
  r.ahead_until = std::max(r.ahead_until, step);
  const int last = std::min(step + r.cfg.max_staleness, r.cfg.steps - 1);
  while (r.ahead_until < last) {
    const int s = ++r.ahead_until;
    r.ahead_pending.emplace_back(
        s, submit_generation(r, taskset_train_batch(*r.tasks, s, 0, r.cfg.prompts_per_step),
                             r.cfg.group_size, r.cfg.temperature, step_seed(r.cfg, s, 0)));
  }
}

// Finishes the generation submitted ahead before new weights arrive, so no sample mixes versions.
double collect_ahead(Run& r) {
  auto t0 = Clock::now();
  size_t n = 0;
  for (auto& [s, p] : r.ahead_pending) n += p.items.size();
  if (n == 0) return 0;
  std::vector<GenResult> results =
      wait_results(r, n, r.ahead_pending.front().second.min_version, "generating");
  for (auto& [s, p] : r.ahead_pending) r.ahead_ready.emplace_back(s, rollouts_of(p, results));
  r.ahead_pending.clear();
  return seconds_since(t0);
}

// Learn: one update on the batch, every core unless rollouts generate beside it (async).
UpdateMetrics learn(Run& r, StepBatch& b, Collective& dp, int step) {
  set_compute_threads(r.ahead_pending.empty() ? hardware_threads() : 1);
  const bool refresh_ref = r.cfg.ref_update_every > 0 && (step + 1) % r.cfg.ref_update_every == 0;
  r.learner_dirty = true;
  weights_handoff_retract(r.handoff);  // no worker reads the weights while they change
  b.samples = take_samples(b.rollouts, r.cfg, r.format);
  UpdateMetrics um = dp_update(r.learner, b.samples, dp, refresh_ref);
  r.learner_dirty = false;
  if (!b.rollouts.empty()) check_finite(r.learner, um, step + 1);
  r.learner_step = step + 1;
  return um;
}

// The step's row of the run database (times and refusals are filled in after publishing).
StepRow step_row(const Run& r, int step, const StepBatch& b, const UpdateMetrics& um,
                 double t_train, nlohmann::json& metrics) {
  StepRow row;
  row.run_id = r.run_id;
  row.step = step + 1;
  double rsum = 0, csum = 0, lsum = 0, asum = 0, a2 = 0, lmax = 0, trunc = 0;
  std::map<std::string, double> comp;
  for (size_t i = 0; i < b.samples.size(); i++) {
    const Sample& s = b.samples[i];
    rsum += s.reward;
    csum += s.correct;
    double len = static_cast<double>(s.completion.size());
    lsum += len;
    lmax = std::max(lmax, len);
    trunc += s.finish_reason == "length";
    asum += s.advantage;
    a2 += static_cast<double>(s.advantage) * s.advantage;
    for (const auto& [name, v] : b.rollouts[i].scored.result.components) comp[name] += v;
  }
  const double nb = std::max<size_t>(1, b.samples.size());
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
      b.total_groups ? static_cast<double>(b.zero_var_groups) / b.total_groups : 0;
  row.dlogp_max = um.dlogp_max;
  row.dlogp_mean = um.dlogp_mean;
  row.grad_norm = um.grad_norm;
  row.lr = um.lr;
  row.t_reward = b.t_reward;
  row.t_train = t_train;
  row.t_gen = b.t_gen;
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
  metrics["staleness_max"] = b.staleness_max;
  metrics["stale_groups_dropped"] = b.stale_dropped;
  metrics["t_comm"] = um.t_comm;
  metrics["t_train_cpu"] = um.t_cpu;
  row.metrics_json = metrics.dump();
  return row;
}

// The samples as logged: each with its distance from the rollout policy in this update.
std::vector<Sample> logged_samples(StepBatch& b, const UpdateMetrics& um) {
  for (size_t i = 0; i < b.samples.size(); i++)
    b.samples[i].mean_abs_dlogp =
        i < um.sample_mean_abs_dlogp.size() ? um.sample_mean_abs_dlogp[i] : NAN;
  return std::move(b.samples);
}

// Log: the step's row with its times and refusals (results refused in this step, and per worker so
// far), and one line on stdout.
void log_step(Run& r, nlohmann::json& metrics, double t_step, uint64_t rejected_before) {
  StepRow& row = r.unwritten->first;
  row.tokens_per_s =
      row.len_mean * static_cast<double>(r.unwritten->second.size()) / std::max(1e-9, t_step);
  const uint64_t rejected_step = rejected_results(r) - rejected_before;
  metrics["rejected_results"] = rejected_step;
  nlohmann::json by_worker = nlohmann::json::object();
  for (const WorkerInfo& w : controller_workers(*r.controller))
    if (w.rejected) by_worker[w.worker_id] = w.rejected;
  if (r.rewards)
    for (const auto& [id, n] : reward_service_stats(*r.rewards).rejected_by_worker)
      by_worker[id] = n;
  metrics["rejected_by_worker"] = by_worker;
  row.metrics_json = metrics.dump();
  rundb_write_step(r.db, row, r.unwritten->second);
  std::printf(
      "step %4d  reward %.3f  acc %5.1f%%  len %4.1f  kl %.4f  ent %.3f  clip %.3f  "
      "|dlogp| %.1e  gnorm %.2f  gen %.1fs train %.1fs%s%s\n",
      static_cast<int>(row.step), row.reward_mean, 100 * row.accuracy, row.len_mean, row.kl,
      row.entropy, row.clip_frac_low + row.clip_frac_high, row.dlogp_max, row.grad_norm, row.t_gen,
      row.t_train,
      rejected_step ? ("  refused " + std::to_string(rejected_step) + " result(s)").c_str() : "",
      r.unwritten->second.empty() ? "  (no group kept: nothing trained)" : "");
  std::fflush(stdout);
  r.unwritten.reset();
}

// One step: generate -> score -> learn -> publish weights -> log -> eval -> checkpoint.
void run_step(Run& r, Collective& dp, int step) {
  check_interrupt();
  auto t_step = Clock::now();
  const uint64_t rejected_before = rejected_results(r);
  StepBatch b = generate_and_score(r, step);
  submit_ahead(r, step);
  auto t0 = Clock::now();
  const uint64_t version_before = r.learner.policy.version;
  UpdateMetrics um = learn(r, b, dp, step);
  const double t_train = seconds_since(t0);
  nlohmann::json metrics;
  metrics["learner_ranks"] = dp.size;
  // The step's row is kept until written: if the rest of the step is interrupted, the row is
  // still logged before the checkpoint of this step (learner_step) is saved.
  StepRow row = step_row(r, step, b, um, t_train, metrics);
  r.unwritten.emplace(std::move(row), logged_samples(b, um));
  r.unwritten->first.t_gen += collect_ahead(r);
  // A step whose every group was filtered (dynamic sampling) trained nothing: no new version.
  if (r.learner.policy.version != version_before) r.unwritten->first.t_sync = publish_weights(r);
  log_step(r, metrics, seconds_since(t_step), rejected_before);
  if (r.cfg.eval_every > 0 && (step + 1) % r.cfg.eval_every == 0 && step + 1 < r.cfg.steps) {
    double acc = evaluate(r, step + 1);
    if (!std::isnan(acc)) std::printf("step %4d  held-out accuracy %.1f%%\n", step + 1, 100 * acc);
  }
  if (r.cfg.checkpoint_every > 0 && (step + 1) % r.cfg.checkpoint_every == 0)
    save_checkpoint(r, step + 1);
}

// After an interruption or a failure: the learner's last whole step is checkpointed (with its
// logged row); returns the exit code (130 interrupted, 1 failed).
int stop_run(Run& r, Collective& dp, bool interrupted, const std::string& failure) {
  if (r.unwritten) {
    try {
      rundb_write_step(r.db, r.unwritten->first, r.unwritten->second);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "warning: step %d not logged: %s\n", r.learner_step, e.what());
    }
  }
  if (r.learner_dirty && dp.size > 1) {
    // The other ranks are inside this update's collectives: no clean stop exists for them.
    std::fprintf(stderr, "error: %s (an update stopped midway on rank 0)\n", failure.c_str());
    stop_workers(r);
    collective_abort(dp, 1);
  }
  std::string saved = "no checkpoint written (an update stopped midway)";
  if (!r.learner_dirty) {
    try {
      save_checkpoint(r, r.learner_step);
      saved = "checkpoint of step " + std::to_string(r.learner_step) + " written";
    } catch (const std::exception& e) {
      saved = std::string("checkpoint failed: ") + e.what();
    }
  }
  stop_workers(r);
  if (interrupted) {
    std::printf("interrupted: %s; continue with `aha train --resume %s`\n", saved.c_str(),
                r.run_dir.c_str());
    return 130;
  }
  std::fprintf(stderr, "error: %s\n%s; continue with `aha train --resume %s`\n", failure.c_str(),
               saved.c_str(), r.run_dir.c_str());
  return 1;
}

// The end of a finished run: final evaluation, the final model with its tokenizer, the report.
int finish_run(Run& r) {
  double acc_after = NAN;
  try {
    acc_after = evaluate(r, r.step);
  } catch (const Interrupted&) {
    stop_workers(r);
    std::printf("interrupted during the final evaluation: checkpoint of step %d written\n", r.step);
    return 130;
  } catch (const std::exception& e) {
    stop_workers(r);
    std::fprintf(stderr, "error: final evaluation: %s (checkpoint of step %d written)\n", e.what(),
                 r.step);
    return 1;
  }
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
  if (std::isnan(r.acc_before) && std::isnan(acc_after))
    std::printf("held-out accuracy: not evaluated (no held-out prompts: tasks.eval_prompts = 0)\n");
  else
    std::printf("held-out accuracy: %.1f%% -> %.1f%%\n", 100 * r.acc_before, 100 * acc_after);
  std::printf("rollouts: %s/rollouts.db   report: %s   model: %s/final-model\n", r.run_dir.c_str(),
              report.c_str(), r.run_dir.c_str());
  return 0;
}

// One learner rank of a run: rank 0 is the whole trainer, ranks > 0 follow it (data_parallel.h).
int train_rank(const TrainOptions& opt, Collective& dp) {
  Run r;
  r.opt = opt;
  load_config(r, opt, dp.rank == 0);
  try {
    load_model(r);
  } catch (...) {
    unclaim_run_dir(r);
    throw;
  }
  if (dp.rank > 0) {
    // A follower only trains (ranks sharing a node: cap each with AHA_THREADS).
    set_compute_threads(hardware_threads());
    return dp_follow(r.learner, dp);
  }
  open_run(r, dp);
  set_compute_threads(generation_threads(r));
  bool interrupted = false;
  std::string failure;
  try {
    // Process-wide, before any worker starts: sampler and learner run the same GEMMs.
    gemm_set_precision(gemm_precision_parse(r.cfg.gemm_precision));
    gemm_set_batch_invariant(r.cfg.batch_invariant);
    start_workers(r);
    publish_weights(r);
    print_start(r);
    evaluate_start(r);
    for (; r.step < r.cfg.steps; r.step++) run_step(r, dp, r.step);
    save_checkpoint(r, r.step);
  } catch (const Interrupted&) {
    interrupted = true;
  } catch (const NonFinite& e) {
    // The learner holds NaN/inf: nothing of it is saved, the latest checkpoint stays the last good.
    std::fprintf(stderr, "error: %s; no checkpoint written: %s is the last good state\n", e.what(),
                 train_state_latest(r.run_dir).c_str());
    std::fflush(stdout);
    return 3;
  } catch (const std::exception& e) {
    // A wait that saw SIGINT/SIGTERM inside a library (the reward service) is an interruption too.
    if (g_stop_requested)
      interrupted = true;
    else
      failure = e.what();
  }
  if (interrupted || !failure.empty()) return stop_run(r, dp, interrupted, failure);
  return finish_run(r);
}

}  // namespace

int train_main(const TrainOptions& opt) {
  // Weight-sync and worker chatter is for debugging: AHA_LOG=info shows it.
  const char* lvl = std::getenv("AHA_LOG");
  spdlog::set_level(lvl ? spdlog::level::from_str(lvl) : spdlog::level::warn);
  if (!opt.replay_dir.empty()) return replay_main(opt);
  // From here on SIGINT/SIGTERM only set a flag that every wait checks.
  g_stop_requested = false;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // Under mpirun or an srun step with several tasks, each task is one data-parallel learner rank.
  const LaunchEnv env = launch_env_detect();
  Collective dp;
  collective_init(dp, env, collective_backend_from_env(env));
  if (dp.size > 1 && dp.rank == 0)
    std::printf("data-parallel learner: %d ranks (%s, launched by %s)\n", dp.size,
                dp.backend == CollectiveBackend::kNccl ? "NCCL" : "MPI", env.launcher.c_str());
  int rc = 0;
  try {
    rc = train_rank(opt, dp);
    // However rank 0's run ended (done, interrupted, failed with a checkpoint), the others stop.
    if (dp.rank == 0) dp_stop(dp);
  } catch (const std::exception& e) {
    if (dp.size <= 1) throw;
    // The other ranks wait in a collective: end the whole job instead of leaving them there.
    std::fprintf(stderr, "aha train (rank %d of %d): %s\n", dp.rank, dp.size, e.what());
    std::fflush(stderr);
    collective_abort(dp, 1);
  }
  collective_finalize(dp);
  return rc;
}

}  // namespace aha
