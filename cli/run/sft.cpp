#include "cli/run/sft.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/run/eval.h"
#include "cli/run/taskset.h"
#include "cli/run/trainer.h"
#include "kernels/linear.h"
#include "kernels/rng.h"
#include "kernels/user_input.h"
#include "learner/learner.h"
#include "policy/checkpoint.h"
#include "policy/tiny_tokenizer.h"
#include "policy/tokenizer.h"
#include "rollout/engine.h"
#include "rollout/log/rundb.h"
#include "tasks/task.h"

namespace aha {

namespace fs = std::filesystem;

namespace {

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot write");
  f << j.dump(2) << "\n";
}

// Pass@1 of sampling at temperature 1 (4 samples a prompt) and of greedy decoding on the held-out
// prompts, through the one eval path (cli/run/eval.h).
QuickEval quick_eval(Model& m, const Tokenizer& tok, const PromptFormat& fmt, const TaskSet& ts,
                     int max_new) {
  EvalSampling s;
  s.params.max_new_tokens = max_new;
  s.seed_base = 1234;
  s.max_tokens_in_flight = 1 << 15;
  QuickEval out;
  s.k = 4;
  s.params.temperature = 1.0f;
  out.sampled = eval_summarize(eval_local(m, tok, fmt, ts, taskset_eval(ts), s)).pass1;
  s.k = 1;
  s.params.temperature = 0.0f;
  out.greedy = eval_summarize(eval_local(m, tok, fmt, ts, taskset_eval(ts), s)).pass1;
  return out;
}

}  // namespace

void pretrain_run(const PretrainOptions& opt) {
  if (opt.out_dir.empty()) throw std::runtime_error("pretrain: --out is required");
  learner_device(opt.device);
  blas_set_threads(1);
  // Re-making a model directory (the built-in base by default) replaces it, once complete.
  ModelOut out(opt.out_dir, "--out", true);
  const std::string tasks_file =
      opt.tasks_file.empty() ? builtin_base_model_dir() + "/tasks.toml" : opt.tasks_file;
  // The model directory is self-contained: tokenizer and task definition travel with it.
  write_json(out.dir() + "/tokenizer.json", tiny_tokenizer_json());
  write_json(out.dir() + "/tokenizer_config.json", tiny_tokenizer_config_json());
  refuse_directory(tasks_file);
  fs::copy_file(tasks_file, out.dir() + "/tasks.toml", fs::copy_options::overwrite_existing);
  Tokenizer tok = tokenizer_load(out.dir());
  TaskSetPtr ts = taskset_load({opt.task}, {}, tasks_file, opt.seed, 200);

  ModelConfig cfg = opt.config == "tiny" ? config_tiny() : config_load(opt.config);
  if (opt.hidden > 0) {
    const double f = static_cast<double>(opt.hidden) / cfg.hidden_size;
    cfg.hidden_size = opt.hidden;
    cfg.intermediate_size = static_cast<int>(cfg.intermediate_size * f);
    cfg.moe_intermediate_size = static_cast<int>(cfg.moe_intermediate_size * f);
    cfg.kv_lora_rank = static_cast<int>(cfg.kv_lora_rank * f);
  }
  if (opt.layers > 0) cfg.num_hidden_layers = opt.layers;
  cfg.bos_token_id = kTinyBos;
  cfg.eos_token_id = kTinyEos;
  Model m;
  model_build(m, cfg);
  model_init(m, opt.seed);
  const PromptFormat fmt = prompt_format(tok, cfg, "");
  LearnerConfig lc;
  lc.lr = opt.lr;
  lc.warmup_steps = std::min(50, opt.steps / 10);
  lc.schedule = "cosine";
  lc.total_steps = opt.steps;
  lc.weight_decay = 0.01f;
  lc.grad_clip = 1.0f;
  lc.micro_batch_tokens = 1 << 16;
  lc.device = opt.device;
  Learner l;
  learner_init(l, m, lc);

  if (opt.worked_fraction < 0 || opt.worked_fraction > 1 ||
      (opt.worked_fraction > 0 && opt.worked_completion.empty()))
    throw std::runtime_error(
        "pretrain: --worked-fraction must be in [0, 1] and needs --worked-completion");
  std::printf(
      "aha pretrain: %s, task %s, %d steps of %d, answer-digit noise %.2f, worked share %.3f\n",
      opt.out_dir.c_str(), opt.task.c_str(), opt.steps, opt.batch, opt.noise, opt.worked_fraction);
  int64_t num_examples = 0, num_worked = 0;
  for (int step = 0; step < opt.steps; step++) {
    std::vector<TaskItem> items = taskset_train_batch(*ts, step, 0, opt.batch);
    std::vector<Sample> batch;
    for (size_t i = 0; i < items.size(); i++) {
      nlohmann::json ref = items[i].reference;
      std::string answer = ref.at("answer").get<std::string>();
      // Label noise makes a base model that knows the answer but does not commit to it.
      for (size_t c = 0; c < answer.size(); c++) {
        if (answer[c] < '0' || answer[c] > '9') continue;
        uint64_t k = (static_cast<uint64_t>(step) * opt.batch + i) * 16 + c;
        if (rng_uniform(opt.seed + 1, 7, k) < opt.noise)
          answer[c] = static_cast<char>('0' + rng_bits(opt.seed + 1, 8, k) % 10);
      }
      ref["answer"] = answer;
      const uint64_t example = static_cast<uint64_t>(step) * opt.batch + i;
      const bool worked =
          opt.worked_fraction > 0 && rng_uniform(opt.seed + 1, 9, example) < opt.worked_fraction;
      num_examples++;
      num_worked += worked;
      Sample s;
      s.prompt = encode_prompt_ids(tok, l.policy.cfg, fmt, prompt_text(items[i], fmt));
      s.completion = tokenizer_encode(
          tok, render_template(worked ? opt.worked_completion : opt.completion, ref));
      s.completion.push_back(cfg.eos_token_id);
      batch.push_back(std::move(s));
    }
    double loss = learner_sft_step(l, batch);
    if ((step + 1) % 100 == 0 || step == 0)
      std::printf("step %5d  loss %.4f  lr %.2e\n", step + 1, loss, learner_lr(lc, step));
  }
  std::printf("examples: %lld, with a worked computation: %lld (%.2f%%)\n",
              static_cast<long long>(num_examples), static_cast<long long>(num_worked),
              100.0 * static_cast<double>(num_worked) / static_cast<double>(num_examples));
  QuickEval q = quick_eval(l.policy, tok, fmt, *ts, opt.max_new_tokens);
  std::printf("held-out accuracy of the base model: sampled %.1f%%, greedy %.1f%%\n",
              100 * q.sampled, 100 * q.greedy);
  model_save(l.policy, out.dir());
  nlohmann::json meta = {{"task", opt.task},
                         {"steps", opt.steps},
                         {"batch", opt.batch},
                         {"hidden", opt.hidden},
                         {"layers", opt.layers},
                         {"config", opt.config},
                         {"lr", opt.lr},
                         {"noise", opt.noise},
                         {"completion", opt.completion},
                         {"worked_completion", opt.worked_completion},
                         {"worked_fraction", opt.worked_fraction},
                         {"examples", num_examples},
                         {"worked_examples", num_worked},
                         {"seed", opt.seed},
                         {"sampled_accuracy", q.sampled},
                         {"greedy_accuracy", q.greedy}};
  write_json(out.dir() + "/pretrain.json", meta);
  out.commit();
  std::printf("wrote %s\n", opt.out_dir.c_str());
}

void sft_run(const SftOptions& opt) {
  if (opt.out_dir.empty()) throw std::runtime_error("sft: --out is required");
  learner_device(opt.device);
  if (opt.model_dir.empty())
    throw std::runtime_error("sft: --model is required (and gives the tokenizer)");
  if (opt.data_jsonl.empty() == opt.from_db.empty())
    throw std::runtime_error("sft: give exactly one of --data and --from-db");
  ModelOut out(opt.out_dir, "--out");
  blas_set_threads(1);
  Tokenizer tok = tokenizer_load(opt.model_dir);
  Model m;
  if (!opt.student_config.empty()) {
    ModelConfig cfg = fs::exists(opt.student_config)
                          ? config_load(opt.student_config)
                          : (opt.student_config == "tiny"
                                 ? config_tiny()
                                 : throw std::runtime_error("--student-config " +
                                                            opt.student_config + ": no such file"));
    Model teacher;
    model_load(teacher, opt.model_dir);
    cfg.bos_token_id = teacher.cfg.bos_token_id;
    cfg.eos_token_id = teacher.cfg.eos_token_id;
    if (cfg.vocab_size != teacher.cfg.vocab_size)
      throw std::runtime_error("student vocab_size differs from the tokenizer's model");
    model_build(m, cfg);
    model_init(m, opt.seed);
  } else {
    model_load(m, opt.model_dir);
  }
  // Rows: (prompt, completion) text pairs.
  std::vector<std::pair<std::string, std::string>> rows;
  if (!opt.data_jsonl.empty()) {
    std::vector<size_t> lines;
    const std::vector<nlohmann::json> data = read_jsonl(opt.data_jsonl, &lines);
    for (size_t i = 0; i < data.size(); i++) {
      const nlohmann::json& row = data[i];
      if (!row.contains("prompt") || !row["prompt"].is_string() || !row.contains("completion") ||
          !row["completion"].is_string())
        throw std::runtime_error(opt.data_jsonl + ":" + std::to_string(lines[i]) +
                                 ": a row needs string fields 'prompt' and 'completion'");
      rows.push_back({row["prompt"].get<std::string>(), row["completion"].get<std::string>()});
    }
  } else {
    RunDb db = rundb_open(opt.from_db, false);
    SampleQuery q;
    const std::vector<Sample> logged = rundb_read_samples(db, q);
    for (const Sample& s : logged)
      if (s.reward >= opt.min_reward) rows.push_back({s.prompt_text, s.completion_text});
    if (rows.empty()) {
      char min[32];
      std::snprintf(min, sizeof min, "%g", opt.min_reward);
      throw std::runtime_error("--from-db " + opt.from_db + ": none of its " +
                               std::to_string(logged.size()) + " samples has reward >= " + min +
                               " (--min-reward)");
    }
  }
  if (rows.empty()) throw std::runtime_error("--data " + opt.data_jsonl + ": no rows");
  const PromptFormat fmt = prompt_format(tok, m.cfg, opt.chat_template);
  LearnerConfig lc;
  lc.lr = opt.lr;
  lc.micro_batch_tokens = 1 << 16;
  lc.device = opt.device;
  Learner l;
  learner_init(l, m, lc);
  const int steps_per_epoch = static_cast<int>((rows.size() + opt.batch - 1) / opt.batch);
  std::printf("aha sft: %zu rows, %d epochs of %d steps\n", rows.size(), opt.epochs,
              steps_per_epoch);
  int step = 0;
  for (int ep = 0; ep < opt.epochs; ep++) {
    // A seeded permutation per epoch.
    std::vector<size_t> order(rows.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = i;
    for (size_t i = order.size(); i > 1; i--)
      std::swap(order[i - 1], order[rng_bits(opt.seed, 100 + ep, i) % i]);
    for (int s = 0; s < steps_per_epoch; s++, step++) {
      std::vector<Sample> batch;
      for (int j = s * opt.batch; j < std::min<int>((s + 1) * opt.batch, rows.size()); j++) {
        Sample t;
        t.prompt = encode_prompt_ids(tok, l.policy.cfg, fmt, rows[order[j]].first);
        t.completion = tokenizer_encode(tok, rows[order[j]].second);
        if (fmt.end_id >= 0) t.completion.push_back(fmt.end_id);
        batch.push_back(std::move(t));
      }
      double loss = learner_sft_step(l, batch);
      if (step % 20 == 0) std::printf("epoch %d step %5d  loss %.4f\n", ep, step, loss);
    }
  }
  model_save(l.policy, out.dir());
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    if (fs::exists(opt.model_dir + "/" + f))
      fs::copy_file(opt.model_dir + "/" + f, out.dir() + "/" + f,
                    fs::copy_options::overwrite_existing);
  out.commit();
  std::printf("wrote %s\n", opt.out_dir.c_str());
}

}  // namespace aha
