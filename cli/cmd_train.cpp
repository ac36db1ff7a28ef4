// `aha train`, `aha rollout-worker`, `aha pretrain`, `aha sft`, `aha eval`: the RL run and the
// commands around it.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "cli/run/eval.h"
#include "cli/run/reward_service.h"
#include "cli/run/sft.h"
#include "cli/run/taskset.h"
#include "cli/run/train_config.h"
#include "cli/run/trainer.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"
#include "kernels/user_input.h"
#include "policy/checkpoint.h"
#include "policy/tokenizer.h"
#include "rollout/auth.h"
#include "rollout/engine.h"
#include "rollout/engine_worker.h"

namespace aha::cli {

namespace {

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot find this executable (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

// --steps a:b of --replay: two step numbers, 1 <= a <= b.
void parse_step_range(const std::string& text, int& from, int& to) {
  const size_t colon = text.find(':');
  auto number = [&](const std::string& s) {
    char* end = nullptr;
    errno = 0;
    const long v = s.empty() ? -1 : std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE || v < 1 || v > INT_MAX)
      throw std::runtime_error("--steps " + text + ": expected a:b with step numbers 1 <= a <= b");
    return static_cast<int>(v);
  };
  if (colon == std::string::npos)
    throw std::runtime_error("--steps " + text + ": expected a:b with step numbers 1 <= a <= b");
  from = number(text.substr(0, colon));
  to = number(text.substr(colon + 1));
  if (from > to)
    throw std::runtime_error("--steps " + text + ": expected a:b with step numbers 1 <= a <= b");
}

void add_train(CLI::App& app) {
  auto* c = app.add_subcommand(
      "train", "Run GRPO (no config: the built-in R1-Zero run, experiments/r1-zero)");
  auto o = std::make_shared<TrainOptions>();
  auto resume = std::make_shared<std::string>();
  auto steps = std::make_shared<std::string>();
  c->add_option("config", o->config_path, "TOML config (see README: Configuration)");
  c->add_option("--run-dir", o->run_dir, "Where rollouts.db, checkpoints and the report go");
  c->add_option("--set", o->sets, "Override a key: section.key=value (repeatable)");
  c->add_option("--resume", *resume, "Continue RUN_DIR from its latest checkpoint");
  c->add_option("--workers", o->worker_processes, "Rollout workers as processes over ipc://")
      ->check(in_range(0, 1024));
  c->add_option("--listen", o->listen,
                "Controller endpoint for remote workers (tcp://*:PORT; CURVE-authenticated)")
      ->check(endpoint_url());
  auto insecure = std::make_shared<bool>(false);
  c->add_flag("--insecure", *insecure,
              "tcp:// without CURVE authentication, for trusted networks (run.insecure_tcp)");
  c->add_option(
       "--reward-listen", o->reward_listen,
       "Reward-worker endpoint for remote reward workers (tcp://*:PORT; CURVE-authenticated)")
      ->check(endpoint_url());
  c->add_flag("--remote-workers", o->remote_workers,
              "Start no workers: rollout.workers and reward.workers connect (Slurm launch)");
  c->add_option("--replay", o->replay_dir, "Re-train on the samples logged in RUN_DIR");
  c->add_option("--steps", *steps, "With --replay: steps a:b");
  c->add_option("--device", o->device,
                "Learner device: cpu, cuda or auto (sets learner.device; default: the config's)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  auto print_config = std::make_shared<bool>(false);
  auto config_docs = std::make_shared<bool>(false);
  c->add_flag("--print-config", *print_config, "Print the resolved config as TOML and exit");
  c->add_flag("--config-docs", *config_docs, "Print every config key as a Markdown table and exit");
  c->callback([=] {
    if (*config_docs) {
      std::printf("%s", train_config_docs().c_str());
      return;
    }
    if (*print_config) {
      TrainConfig cfg;
      if (!o->config_path.empty()) train_config_load_toml(cfg, o->config_path);
      for (const std::string& s : o->sets) train_config_set(cfg, s);
      if (!o->device.empty()) cfg.learner.device = o->device;
      train_config_finalize(cfg);
      std::printf("%s", train_config_to_toml(cfg).c_str());
      return;
    }
    // What --resume or --replay would silently drop is refused: they read the run's own config.
    if (!resume->empty() && !o->replay_dir.empty())
      throw std::runtime_error("--resume and --replay: give one of them");
    const std::string mode = !resume->empty() ? "--resume" : "--replay";
    if ((!resume->empty() || !o->replay_dir.empty()) && !o->config_path.empty())
      throw std::runtime_error(o->config_path + ": " + mode +
                               " uses the run's own config.toml (change a key with --set)");
    if (!resume->empty() && !o->run_dir.empty() && o->run_dir != *resume)
      throw std::runtime_error("--run-dir " + o->run_dir + " with --resume " + *resume +
                               ": --resume names the run directory");
    TrainOptions t = *o;
    if (*insecure) t.sets.push_back("run.insecure_tcp=true");
    if (!resume->empty()) {
      t.resume = true;
      t.run_dir = *resume;
    }
    if (!steps->empty()) {
      if (t.replay_dir.empty()) throw std::runtime_error("--steps " + *steps + ": needs --replay");
      parse_step_range(*steps, t.replay_from, t.replay_to);
    }
    t.exe_path = self_exe();
    set_exit_code(train_main(t));
  });
}

// --server-key and --key: both or neither (then no CURVE).
void load_worker_keys(const std::string& server_key_file, const std::string& key_file,
                      std::string& server_pub, std::string& pub, std::string& sec) {
  if (server_key_file.empty() != key_file.empty())
    throw std::runtime_error("--server-key and --key go together (CURVE needs both)");
  if (server_key_file.empty()) return;
  server_pub = curve_key_read(server_key_file).public_key;
  CurveKeyPair k = curve_key_read(key_file);
  if (k.secret_key.empty())
    throw std::runtime_error(key_file + ": no secret key (need a key pair)");
  pub = k.public_key;
  sec = k.secret_key;
}

void add_rollout_worker(CLI::App& app) {
  auto* c = app.add_subcommand("rollout-worker", "Serve generation requests of a controller");
  auto connect = std::make_shared<std::string>();
  auto model = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  auto rows = std::make_shared<int>(1 << 15);
  auto server_key = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  c->add_option("--connect", *connect, "Controller endpoint (ipc://PATH, tcp://HOST:PORT)")
      ->required()
      ->check(endpoint_url());
  c->add_option("--model", *model, "Model directory (config and starting weights)")->required();
  c->add_option("--id", *id, "Worker id (default host-pid)");
  c->add_option("--cache-rows", *rows,
                "Latent-cache rows (tokens in flight, rounded up to 64-token pages)")
      ->capture_default_str()
      ->check(in_range(1, 1 << 24));
  c->add_option("--server-key", *server_key,
                "The trainer's public key (RUN_DIR/keys/server.pub) for a CURVE tcp:// endpoint");
  c->add_option("--key", *key, "This worker's key pair (`aha keygen`), allowed by the trainer");
  auto threads = std::make_shared<int>(hardware_threads());
  c->add_option("--threads", *threads, "Compute threads (aha train passes cores / workers)")
      ->capture_default_str()
      ->check(in_range(1, 4096));
  auto relay = std::make_shared<std::string>();
  c->add_option("--relay", *relay,
                "Relay weights to other workers from this address (tcp://ADDR:*, ADDR reachable "
                "by them; the trainer's rollout.broadcast_fanout shapes the tree)");
  auto precision = std::make_shared<std::string>("fp32");
  add_gemm_precision_option(c, precision);  // aha train passes run.gemm_precision
  auto device = std::make_shared<std::string>("cpu");
  add_rollout_device_option(c, device);  // aha train passes rollout.device
  auto handoff = std::make_shared<std::string>();
  c->add_option("--weights-handoff", *handoff,
                "Copy each new weight version from the trainer's memory (shared memory, or CUDA "
                "IPC from a GPU learner) through this descriptor; aha train passes "
                "RUN_DIR/ipc/weights.handoff to the workers it starts on its node. The wire stays "
                "the fallback");
  auto cuda_device = std::make_shared<int>(-1);
  c->add_option(
      "--cuda-device", *cuda_device,
      "With --device cuda: the GPU of this worker (aha train passes rollout.cuda_devices; "
      "default: device 0)");
  c->callback([=] {
    apply_gemm_precision(*precision, false);
    set_compute_threads(*threads);
    EngineWorkerOptions wo;
    if (*cuda_device >= 0) {
      if (*device != "cuda")
        throw std::runtime_error("--cuda-device " + std::to_string(*cuda_device) +
                                 " needs --device cuda");
      // Before anything touches CUDA: the device probe below would make a context on device 0.
      cuda_select_device(*cuda_device);
    }
    wo.device = device_choose(*device);
    wo.cuda_device = *cuda_device;
    Model m;
    model_load(m, *model);
    wo.worker.connect = *connect;
    wo.worker.worker_id = *id;
    load_worker_keys(*server_key, *key, wo.worker.curve_server_key, wo.worker.curve_public_key,
                     wo.worker.curve_secret_key);
    wo.engine.max_tokens_in_flight = *rows;
    if (!relay->empty()) wo.worker.relay_bind = "tcp://" + *relay + ":*";
    WeightsHandoff h;
    if (!handoff->empty()) {
      weights_handoff_attach(h, *handoff);
      h.accept_device = wo.device == Device::kCuda;  // a CPU engine takes a GPU learner's by wire
      wo.worker.handoff = &h;
    }
    set_exit_code(run_engine_worker(wo, m));
  });
}

void add_reward_worker(CLI::App& app) {
  auto* c =
      app.add_subcommand("reward-worker", "Score completions for a trainer (its reward role)");
  auto o = std::make_shared<RewardWorkerOptions>();
  c->add_option("--connect", o->connect, "The trainer's reward endpoint")
      ->required()
      ->check(endpoint_url());
  c->add_option("--tasks-file", o->tasks_file, "TOML defining the run's non-built-in tasks");
  c->add_option("--threads", o->threads, "Completions scored in parallel")
      ->capture_default_str()
      ->check(in_range(1, 256));
  c->add_option("--id", o->worker_id, "Worker id (default reward-PID)");
  auto server_key = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  c->add_option("--server-key", *server_key,
                "The trainer's public key for a CURVE tcp:// endpoint");
  c->add_option("--key", *key, "This worker's key pair (`aha keygen`), allowed by the trainer");
  c->callback([=] {
    load_worker_keys(*server_key, *key, o->curve_server_key, o->curve_public_key,
                     o->curve_secret_key);
    set_exit_code(run_reward_worker(*o));
  });
}

void add_keygen(CLI::App& app) {
  auto* c = app.add_subcommand(
      "keygen", "Make a CURVE key pair for a worker (FILE: owner-only; FILE.pub: its public key)");
  auto out = std::make_shared<std::string>();
  c->add_option("--out", *out, "Key pair file to write (the public key also goes to FILE.pub)")
      ->required();
  c->callback([=] {
    if (!curve_available()) throw std::runtime_error("this libzmq has no CURVE (no libsodium)");
    // A key pair in use (its public key allowed by a trainer) is never replaced by mistake.
    for (const std::string& f : {*out, *out + ".pub"})
      if (std::filesystem::exists(std::filesystem::symlink_status(f)))
        throw std::runtime_error(f +
                                 ": exists (aha keygen never overwrites a key; remove it "
                                 "first or choose another --out)");
    CurveKeyPair k = curve_keygen();
    curve_key_write(*out, k);
    curve_key_write(*out + ".pub", k, true);
    std::printf(
        "wrote %s (key pair, owner-only) and %s.pub; add this line to the trainer's "
        "RUN_DIR/authorized_keys:\n%s\n",
        out->c_str(), out->c_str(), k.public_key.c_str());
  });
}

void add_pretrain(CLI::App& app) {
  auto* c = app.add_subcommand("pretrain", "Make the built-in base model from generated task data");
  auto o = std::make_shared<PretrainOptions>();
  o->out_dir = builtin_base_model_dir();
  c->add_option("--out", o->out_dir, "Model directory to write")->capture_default_str();
  c->add_option("--tasks-file", o->tasks_file, "Task TOML (default: the built-in run's)");
  c->add_option("--task", o->task)->capture_default_str();
  c->add_option("--config", o->config, "config.json or built-in name")->capture_default_str();
  c->add_option("--hidden", o->hidden, "Override hidden_size (widths scale with it)")
      ->check(in_range(1, 1 << 16));
  c->add_option("--layers", o->layers, "Override num_hidden_layers")->check(in_range(1, 1024));
  c->add_option("--steps", o->steps)->capture_default_str()->check(in_range(0, 1e8));
  c->add_option("--batch", o->batch)->capture_default_str()->check(in_range(1, 1 << 20));
  c->add_option("--lr", o->lr)->capture_default_str()->check(in_range(0, 1));
  c->add_option("--noise", o->noise, "Chance an answer digit is replaced")
      ->capture_default_str()
      ->check(in_range(0, 1));
  c->add_option("--completion", o->completion, "Completion template over the task's reference")
      ->capture_default_str();
  c->add_option("--worked-completion", o->worked_completion,
                "Completion template of the examples that show a worked computation");
  c->add_option("--worked-fraction", o->worked_fraction,
                "Share of examples that use --worked-completion")
      ->capture_default_str()
      ->check(in_range(0, 1));
  c->add_option("--max-new-tokens", o->max_new_tokens, "Of the held-out evaluation at the end")
      ->capture_default_str()
      ->check(in_range(1, 1 << 20));
  c->add_option("--seed", o->seed)->capture_default_str();
  c->add_option("--device", o->device, "cpu, cuda or auto")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  c->callback([o] { pretrain_run(*o); });
}

void add_sft(CLI::App& app) {
  auto* c = app.add_subcommand("sft", "Supervised fine-tuning on JSONL or on a run's good samples");
  auto o = std::make_shared<SftOptions>();
  c->add_option("--model", o->model_dir, "Starting model (and tokenizer)")->required();
  c->add_option("--student-config", o->student_config, "Distil into a fresh model of this config");
  c->add_option("--data", o->data_jsonl, "JSONL rows with prompt and completion");
  c->add_option("--from-db", o->from_db, "Run directory whose rollouts.db samples to use");
  c->add_option("--min-reward", o->min_reward, "With --from-db: keep samples with reward >= this")
      ->capture_default_str()
      ->check(in_range(-1e9, 1e9));
  c->add_option("--out", o->out_dir, "Output model directory")->required();
  c->add_option("--template", o->chat_template,
                "Chat template around each prompt (see README: Real models; default: none)");
  c->add_option("--epochs", o->epochs)->capture_default_str()->check(in_range(1, 1e6));
  c->add_option("--batch", o->batch)->capture_default_str()->check(in_range(1, 1 << 20));
  c->add_option("--lr", o->lr)->capture_default_str()->check(in_range(0, 1));
  c->add_option("--seed", o->seed)->capture_default_str();
  c->add_option("--device", o->device, "cpu, cuda or auto")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  c->callback([o] { sft_run(*o); });
}

struct EvalArgs {
  std::string model, task, tasks_file, chat_template, data_dir, samples_out;
  int k = 4, max_new_tokens = 16, limit = 200;
  float temperature = 1.0f;
  uint64_t seed = 0;
  std::shared_ptr<std::string> device = std::make_shared<std::string>("cpu");
};

void cmd_eval(const EvalArgs& a) {
  blas_set_threads(1);
  Model m;
  model_load(m, a.model);
  model_to_device(m, device_choose(*a.device));
  Tokenizer tok = tokenizer_load(a.model);
  const PromptFormat fmt = prompt_format(tok, m.cfg, a.chat_template);
  std::string tasks_file = a.tasks_file;
  if (tasks_file.empty() && access((a.model + "/tasks.toml").c_str(), R_OK) == 0)
    tasks_file = a.model + "/tasks.toml";
  // Eval-only tasks (humaneval) have no train split: fine here.
  TaskSetPtr ts = taskset_load({a.task}, {}, tasks_file, a.seed, a.limit, a.data_dir, false);
  const std::vector<TaskItem>& items = taskset_eval(*ts);
  if (items.empty()) throw std::runtime_error("task " + a.task + " has no eval prompts");
  if (a.max_new_tokens >= m.cfg.max_position_embeddings)
    throw std::runtime_error("--max-new-tokens " + std::to_string(a.max_new_tokens) +
                             ": the model has " + std::to_string(m.cfg.max_position_embeddings) +
                             " positions, prompt included");
  std::unique_ptr<OutputFile> samples_file;
  if (!a.samples_out.empty())
    samples_file = std::make_unique<OutputFile>(a.samples_out, "--samples-out");
  EvalSampling es;
  es.k = a.k;
  es.params.temperature = a.temperature;
  es.params.max_new_tokens = a.max_new_tokens;
  es.seed_base = a.seed * 1000003;
  std::vector<EngineResult> done;  // in prompt order, so --samples-out lists the same rows
  const std::vector<EvalGroup> groups = eval_local(m, tok, fmt, *ts, items, es, &done);
  for (const EngineResult& r : done) {
    if (!samples_file) break;
    std::ofstream& samples_out = samples_file->stream();
    const TaskItem& item = items[r.request_id];
    const std::vector<int> prompt_ids = encode_prompt_ids(tok, m.cfg, fmt, prompt_text(item, fmt));
    for (size_t g = 0; g < r.samples.size(); g++) {
      const Sample& s = r.samples[g];
      const Scored& sc = groups[r.request_id].scored[g];
      nlohmann::ordered_json row;
      row["task"] = item.task;
      row["prompt_id"] = item.prompt_id;
      row["sample"] = g;
      row["prompt"] = tokenizer_decode(tok, prompt_ids);  // as fed, BOS included
      row["response_prefix"] = fmt.response_prefix;
      row["completion"] = completion_text(tok, fmt, s.completion);
      row["finish_reason"] = s.finish_reason;
      row["reward"] = sc.result.score;
      nlohmann::ordered_json comp = nlohmann::ordered_json::object();
      for (const auto& [name, value] : sc.result.components) comp[name] = value;
      row["components"] = comp;
      row["correct"] = sc.correct;
      row["extracted"] = sc.result.extracted;
      row["reason"] = sc.result.reason;
      // Invalid UTF-8 (a cut multi-byte character) is replaced rather than aborting the file.
      samples_out << row.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                  << "\n";
    }
  }
  const EvalSummary sum = eval_summarize(groups);
  std::printf("task %s: %zu prompts, k = %d, temperature %.2f%s%s\n", a.task.c_str(),
              sum.num_prompts, a.k, a.temperature, a.chat_template.empty() ? "" : ", template ",
              a.chat_template.c_str());
  std::printf("pass@1 %.1f%%   pass@%d %.1f%%   maj@%d %.1f%%\n", 100 * sum.pass1, a.k,
              100 * sum.passk, a.k, 100 * sum.majk);
  if (samples_file) {
    samples_file->commit();
    std::printf("samples: %s\n", a.samples_out.c_str());
  }
}

void add_eval(CLI::App& app) {
  auto* c =
      app.add_subcommand("eval", "pass@1, pass@k and maj@k of a model on a task's eval split");
  auto a = std::make_shared<EvalArgs>();
  c->add_option("--model", a->model, "Model directory")->required();
  c->add_option("--task", a->task, "Task name")->required();
  c->add_option("--tasks-file", a->tasks_file, "Task TOML (default: MODEL/tasks.toml if present)");
  c->add_option("--template", a->chat_template,
                "Chat template around each prompt (see README: Real models; default: none)");
  c->add_option("--data-dir", a->data_dir,
                "Where ${AHA_DATA_DIR} task data resolves (default: $AHA_DATA_DIR, else data)");
  c->add_option("--samples-out", a->samples_out,
                "Write every sample as a JSON line (prompt as fed, completion, reward, ...)");
  c->add_option("-k", a->k, "Samples per prompt")->capture_default_str()->check(in_range(1, 1024));
  c->add_option("--temperature", a->temperature)->capture_default_str()->check(in_range(1e-3, 100));
  c->add_option("--max-new-tokens", a->max_new_tokens)
      ->capture_default_str()
      ->check(in_range(1, 1 << 20));
  c->add_option("--limit", a->limit, "Eval prompts")
      ->capture_default_str()
      ->check(in_range(1, 1e6));
  c->add_option("--seed", a->seed)->capture_default_str();
  add_rollout_device_option(c, a->device);
  auto precision = std::make_shared<std::string>("fp32");
  add_gemm_precision_option(c, precision);
  c->callback([a, precision] {
    apply_gemm_precision(*precision, false);
    cmd_eval(*a);
  });
}

void add_all(CLI::App& app) {
  add_train(app);
  add_rollout_worker(app);
  add_reward_worker(app);
  add_keygen(app);
  add_pretrain(app);
  add_sft(app);
  add_eval(app);
}

}  // namespace

AHA_COMMAND(add_all);

}  // namespace aha::cli
