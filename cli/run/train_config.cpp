#include "cli/run/train_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "kernels/near_name.h"
#include "kernels/user_input.h"
#include "policy/chat_template.h"

namespace aha {

std::vector<ConfigKey> train_config_keys(TrainConfig& c) {
  using T = ConfigType;
  LearnerConfig& l = c.learner;
  return {
      {"model.path", T::kString, &c.model_path,
       "Model directory in HF layout (\"\" = built-in base model)"},
      {"model.ref_path", T::kString, &c.ref_path,
       "Reference model for the KL term (\"\" = the initial policy)"},
      {"model.chat_template", T::kString, &c.chat_template,
       "Chat template around each prompt: deepseek_v3 | deepseek_r1 | chatml | qwen3_think | "
       "qwen3_nothink | plain (\"\" = the task prompt as is)"},
      {"tasks.names", T::kStringList, &c.task_names,
       "Tasks to train on (built-in or from tasks_file)"},
      {"tasks.weights", T::kDoubleList, &c.task_weights,
       "Mixture weights, one per task ([] = uniform)"},
      {"tasks.tasks_file", T::kString, &c.tasks_file,
       "TOML file defining extra tasks (\"\" = MODEL/tasks.toml if present)"},
      {"tasks.eval_prompts", T::kInt, &c.eval_prompts, "Held-out prompts per task for evaluation"},
      {"tasks.eval_samples", T::kInt, &c.eval_samples,
       "Samples per eval prompt (pass@1 = their mean)"},
      {"tasks.eval_temperature", T::kFloat, &c.eval_temperature,
       "Sampling temperature of evaluation"},
      {"rollout.group_size", T::kInt, &c.group_size, "G: completions per prompt"},
      {"rollout.prompts_per_step", T::kInt, &c.prompts_per_step,
       "Prompts per step (batch = prompts x G)"},
      {"rollout.temperature", T::kFloat, &c.temperature,
       "Sampling temperature (the learner uses the same)"},
      {"rollout.top_p", T::kFloat, &c.top_p, "Nucleus sampling mass (1 = off)"},
      {"rollout.top_k", T::kInt, &c.top_k, "Top-k sampling (0 = off)"},
      {"rollout.min_p", T::kFloat, &c.min_p, "Min-p sampling (0 = off)"},
      {"rollout.max_new_tokens", T::kInt, &c.max_new_tokens, "Maximum completion length"},
      {"rollout.workers", T::kInt, &c.rollout_workers,
       "Rollout worker threads (0 = only remote workers, with --listen)"},
      {"rollout.max_tokens_in_flight", T::kInt, &c.max_tokens_in_flight,
       "KV-cache tokens per worker (rounded up to 64-token pages)"},
      {"rollout.device", T::kString, &c.rollout_device,
       "Where the rollout workers' engines run: cpu, cuda (bf16 paged cache, CUDA sampler) or "
       "auto; opt-in until the CUDA engine has run on a GPU"},
      {"rollout.return_routing", T::kBool, &c.return_routing,
       "Return routed experts (for routing replay)"},
      {"rollout.max_bad_results", T::kInt, &c.max_bad_results,
       "Invalid results a rollout or reward worker may send before it is disconnected"},
      {"rollout.request_timeout_s", T::kFloat, &c.request_timeout_s,
       "A worker holding requests that answers none for this long is disconnected (re-issued)"},
      {"rollout.worker_timeout_s", T::kFloat, &c.worker_timeout_s,
       "A worker silent this long is taken for dead and its requests re-issued (heartbeats go out "
       "between engine steps: raise it when one step of a large model on the CPU takes longer; the "
       "controller says so when a worker it declared dead speaks again)"},
      {"rollout.broadcast_fanout", T::kInt, &c.broadcast_fanout,
       "Weight relay tree over workers started with --relay: children per node (0 = star)"},
      {"rollout.cuda_devices", T::kIntList, &c.rollout_cuda_devices,
       "GPUs of the --workers processes with rollout.device cuda: worker i on entry i mod n "
       "([] = device 0; the learner takes device 0 or its rank's)"},
      {"rollout.weight_handoff", T::kBool, &c.weight_handoff,
       "Workers on the trainer's node copy new weights from the learner's memory (threads: its "
       "buffer; --workers processes: shared memory, or CUDA IPC from a GPU learner) instead of "
       "fetching them over ZeroMQ"},
      {"reward.threads", T::kInt, &c.reward_threads, "Reward scoring threads (per reward worker)"},
      {"reward.workers", T::kInt, &c.reward_workers,
       "Reward workers over ZeroMQ (0 = score in the trainer)"},
      {"reward.job_timeout_s", T::kFloat, &c.reward_job_timeout_s,
       "A reward worker silent on a job this long is dropped and the job re-issued"},
      {"learner.lr", T::kFloat, &l.lr, "Peak learning rate"},
      {"learner.min_lr_ratio", T::kFloat, &l.min_lr_ratio,
       "Cosine schedule floor (fraction of lr)"},
      {"learner.warmup_steps", T::kInt, &l.warmup_steps, "Linear warmup steps"},
      {"learner.schedule", T::kString, &l.schedule, "constant | cosine"},
      {"learner.weight_decay", T::kFloat, &l.weight_decay, "AdamW decoupled weight decay"},
      {"learner.beta1", T::kFloat, &l.beta1, "AdamW beta1"},
      {"learner.beta2", T::kFloat, &l.beta2, "AdamW beta2"},
      {"learner.adam_eps", T::kFloat, &l.adam_eps, "AdamW epsilon"},
      {"learner.grad_clip", T::kFloat, &l.grad_clip, "Global gradient-norm clip (0 = off)"},
      {"learner.device", T::kString, &l.device,
       "Where the learner's update runs: cpu, cuda or auto (cuda when a device answers); --device "
       "sets it"},
      {"learner.micro_batch_tokens", T::kInt, &l.micro_batch_tokens,
       "Tokens per micro-batch (gradient accumulation)"},
      {"learner.num_minibatches", T::kInt, &l.num_minibatches, "Optimiser steps per rollout batch"},
      {"learner.recompute", T::kBool, &l.recompute,
       "Recompute each layer's activations in the backward (keeps only the layers' inputs: less "
       "activation memory for about one more forward)"},
      {"learner.advantage", T::kString, &c.advantage,
       "group_std | none (Dr. GRPO) | leave_one_out"},
      {"learner.eps_low", T::kFloat, &l.loss.eps_low, "Lower clip range epsilon"},
      {"learner.eps_high", T::kFloat, &l.loss.eps_high,
       "Upper clip range epsilon (DAPO clip-higher: 0.28)"},
      {"learner.dual_clip", T::kFloat, &l.loss.dual_clip,
       "Dual-clip constant c for A < 0 (0 = off)"},
      {"learner.kl", T::kString, &c.kl, "KL estimator: k1 | k2 | k3"},
      {"learner.beta", T::kFloat, &l.loss.beta, "KL coefficient (0 = no reference model)"},
      {"learner.ref_update_every", T::kInt, &c.ref_update_every,
       "Refresh the reference every N steps (0 = never)"},
      {"learner.loss_agg", T::kString, &c.loss_agg, "token_mean | seq_mean_token_mean | dr_grpo"},
      {"learner.tis_cap", T::kFloat, &l.loss.tis_cap,
       "Truncated importance-sampling cap C (0 = off)"},
      {"learner.routing_replay", T::kBool, &l.routing_replay,
       "Replay the rollout's experts in the learner"},
      {"learner.bias_gamma", T::kFloat, &l.bias_gamma, "Aux-loss-free router bias step (0 = off)"},
      {"learner.balance_alpha", T::kFloat, &l.balance_alpha,
       "Sequence-wise balance loss weight (V3: 1e-4; 0 = off)"},
      {"learner.dynamic_sampling", T::kBool, &c.dynamic_sampling,
       "DAPO: drop groups with equal correctness"},
      {"learner.max_oversample_rounds", T::kInt, &c.max_oversample_rounds,
       "Extra sampling rounds to fill the batch"},
      {"learner.overlong", T::kString, &c.overlong,
       "none | mask | penalty for truncated completions"},
      {"learner.overlong_buffer", T::kInt, &c.overlong_buffer,
       "Soft penalty ramp length in tokens"},
      {"learner.overlong_penalty", T::kFloat, &c.overlong_penalty,
       "Soft penalty at the maximum length"},
      {"run.steps", T::kInt, &c.steps, "GRPO steps"},
      {"run.seed", T::kUint64, &c.seed, "Seed of prompts, sampling and everything else"},
      {"run.eval_every", T::kInt, &c.eval_every,
       "Evaluate every N steps (0 = only before and after)"},
      {"run.checkpoint_every", T::kInt, &c.checkpoint_every,
       "Checkpoint every N steps (0 = only at the end)"},
      {"run.async", T::kBool, &c.async,
       "Overlap generation of later steps with training (turns on tis_cap = 2 if unset)"},
      {"run.max_staleness", T::kInt, &c.max_staleness,
       "Async: steps generated ahead, so weight versions a sample may lag; older ones are dropped"},
      {"run.progress", T::kBool, &c.progress, "Progress bar while generating"},
      {"run.worker_deadline_s", T::kFloat, &c.worker_deadline_s,
       "No worker able to serve for this long: the run fails with a checkpoint (0 = wait)"},
      {"run.insecure_tcp", T::kBool, &c.insecure_tcp,
       "tcp:// endpoints without CURVE authentication (trusted networks only)"},
      {"run.authorized_keys", T::kString, &c.authorized_keys,
       "File of worker public keys (one Z85 key a line) allowed besides the run's own "
       "(\"\" = RUN_DIR/authorized_keys)"},
      {"run.gemm_precision", T::kString, &c.gemm_precision,
       "CPU GEMMs of learner and rollout workers: fp32, or bf16 (operands rounded to bf16, fp32 "
       "accumulation, oneDNN on AMX-BF16 / AVX512-BF16 CPUs)"},
      {"run.batch_invariant", T::kBool, &c.batch_invariant,
       "Batch-invariant kernels (fp32, CPU): a sequence's log-probs are the same bits whatever "
       "else is in its batch, and the rollout's equal the learner's; slower "
       "(experiments/README.md)"},
      {"log.token_blobs", T::kBool, &c.log_token_blobs,
       "Store each sample's token ids and rollout log-probs in rollouts.db (replay needs them)"},
  };
}

namespace {

std::string toml_quote(const std::string& s) {
  std::ostringstream o;
  o << toml::value<std::string>(s);
  return o.str();
}

// "FILE:LINE" of a node read from a file ("FILE" when the parser kept no line).
std::string at_line(const std::string& where, const toml::node& n) {
  const auto line = n.source().begin.line;
  return line > 0 ? where + ":" + std::to_string(line) : where;
}

ConfigKey* find_key(std::vector<ConfigKey>& keys, const std::string& name,
                    const std::string& where) {
  for (ConfigKey& k : keys)
    if (name == k.key) return &k;
  std::string ntail = name.substr(name.find('.') == std::string::npos ? 0 : name.find('.') + 1);
  // The names these knobs commonly go by elsewhere: spelling distance would suggest wrong keys.
  static const std::map<std::string, std::string> kOtherNames = {
      {"learning_rate", "learner.lr"},
      {"kl_coef", "learner.beta"},
      {"kl_loss_coef", "learner.beta"},
      {"num_generations", "rollout.group_size"},
      {"n", "rollout.group_size"},
      {"max_completion_length", "rollout.max_new_tokens"},
      {"response_length", "rollout.max_new_tokens"},
      {"max_tokens", "rollout.max_new_tokens"},
      {"epsilon", "learner.eps_low"},
      {"clip_ratio_low", "learner.eps_low"},
      {"epsilon_high", "learner.eps_high"},
      {"clip_ratio_high", "learner.eps_high"},
      {"max_grad_norm", "learner.grad_clip"},
      {"lr_scheduler_type", "learner.schedule"},
      {"loss_type", "learner.loss_agg"},
      {"scale_rewards", "learner.advantage"},
      {"max_steps", "run.steps"},
      {"total_training_steps", "run.steps"},
      {"model_name_or_path", "model.path"}};
  if (auto it = kOtherNames.find(ntail); it != kOtherNames.end())
    throw std::runtime_error(where + ": unknown config key '" + name + "'; did you mean '" +
                             it->second + "'?");
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const ConfigKey& k : keys) {
    size_t d = edit_distance(name, k.key);
    // Also compare the name part alone (a key put in the wrong section).
    std::string kn = k.key;
    std::string tail = kn.substr(kn.find('.') + 1);
    d = std::min(d, edit_distance(ntail, tail) + 1);
    // A name cut short ('temp', 'warmup') is near the key it begins, nearest in its own section.
    if (ntail.size() >= 3 && tail.rfind(ntail, 0) == 0)
      d = std::min<size_t>(d, name.rfind(kn.substr(0, kn.find('.') + 1), 0) == 0 ? 1 : 2);
    if (d < best_d) {
      best_d = d;
      best = k.key;
    }
  }
  // A guess too far off is noise: point at the list instead.
  if (!near_enough(best_d, name))
    throw std::runtime_error(where + ": unknown config key '" + name +
                             "' (`aha train --config-docs` lists the keys)");
  throw std::runtime_error(where + ": unknown config key '" + name + "'; did you mean '" + best +
                           "'?");
}

void set_from_toml(const ConfigKey& k, const toml::node& n, const std::string& where) {
  auto bad = [&](const char* want) {
    std::ostringstream s;
    s << where << ": key '" << k.key << "' wants " << want;
    throw std::runtime_error(s.str());
  };
  switch (k.type) {
    case ConfigType::kInt:
      if (!n.is_integer()) bad("an integer");
      if (n.as_integer()->get() < INT32_MIN || n.as_integer()->get() > INT32_MAX)
        bad("an integer within +-2^31 (see its range in the README)");
      *static_cast<int*>(k.ptr) = static_cast<int>(n.as_integer()->get());
      break;
    case ConfigType::kUint64:
      if (!n.is_integer() || n.as_integer()->get() < 0) bad("a non-negative integer");
      *static_cast<uint64_t*>(k.ptr) = static_cast<uint64_t>(n.as_integer()->get());
      break;
    case ConfigType::kFloat:
      if (n.is_integer())
        *static_cast<float*>(k.ptr) = static_cast<float>(n.as_integer()->get());
      else if (n.is_floating_point())
        *static_cast<float*>(k.ptr) = static_cast<float>(n.as_floating_point()->get());
      else
        bad("a number");
      break;
    case ConfigType::kBool:
      if (!n.is_boolean()) bad("true or false");
      *static_cast<bool*>(k.ptr) = n.as_boolean()->get();
      break;
    case ConfigType::kString:
      if (!n.is_string()) bad("a string");
      *static_cast<std::string*>(k.ptr) = n.as_string()->get();
      break;
    case ConfigType::kStringList: {
      if (!n.is_array()) bad("an array of strings");
      auto& out = *static_cast<std::vector<std::string>*>(k.ptr);
      out.clear();
      for (const toml::node& e : *n.as_array()) {
        if (!e.is_string()) bad("an array of strings");
        out.push_back(e.as_string()->get());
      }
      break;
    }
    case ConfigType::kIntList: {
      if (!n.is_array()) bad("an array of integers");
      auto& out = *static_cast<std::vector<int>*>(k.ptr);
      out.clear();
      for (const toml::node& e : *n.as_array()) {
        if (!e.is_integer() || e.as_integer()->get() < INT32_MIN ||
            e.as_integer()->get() > INT32_MAX)
          bad("an array of integers");
        out.push_back(static_cast<int>(e.as_integer()->get()));
      }
      break;
    }
    case ConfigType::kDoubleList: {
      if (!n.is_array()) bad("an array of numbers");
      auto& out = *static_cast<std::vector<double>*>(k.ptr);
      out.clear();
      for (const toml::node& e : *n.as_array()) {
        if (e.is_integer())
          out.push_back(static_cast<double>(e.as_integer()->get()));
        else if (e.is_floating_point())
          out.push_back(e.as_floating_point()->get());
        else
          bad("an array of numbers");
      }
      break;
    }
  }
}

// Refuses a chat template name that does not exist as soon as the config is read.
void check_chat_template(const TrainConfig& c, const std::string& where) {
  if (c.chat_template.empty()) return;
  std::string valid;
  for (const std::string& n : chat_template_names()) {
    if (n == c.chat_template) return;
    valid += (valid.empty() ? "" : ", ") + n;
  }
  throw std::runtime_error(where + ": model.chat_template '" + c.chat_template +
                           "' is not a chat template (valid: " + valid +
                           "; \"\" = the task prompt as is)");
}

}  // namespace

void train_config_parse_toml(TrainConfig& c, const std::string& text, const std::string& where) {
  toml::table tbl;
  try {
    tbl = toml::parse(text, where);
  } catch (const toml::parse_error& e) {
    std::ostringstream s;
    s << where << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
      << e.description();
    throw std::runtime_error(s.str());
  }
  std::vector<ConfigKey> keys = train_config_keys(c);
  for (const auto& [section, node] : tbl) {
    const toml::table* sec = node.as_table();
    if (!sec)
      throw std::runtime_error(at_line(where, node) + ": '" + std::string(section.str()) +
                               "' must be a section ([model], [tasks], [rollout], [reward], "
                               "[learner], [run], [log])");
    for (const auto& [name, value] : *sec) {
      std::string full = std::string(section.str()) + "." + std::string(name.str());
      ConfigKey* k = find_key(keys, full, at_line(where, value));
      set_from_toml(*k, value, at_line(where, value));
    }
  }
  check_chat_template(c, where);
}

void train_config_load_toml(TrainConfig& c, const std::string& path) {
  std::ifstream f = open_input(path, "cannot open config");
  std::stringstream ss;
  ss << f.rdbuf();
  train_config_parse_toml(c, ss.str(), path);
}

void train_config_set(TrainConfig& c, const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || assignment.find('.') > eq)
    throw std::runtime_error("--set '" + assignment + "': expected section.key=value");
  std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  std::vector<ConfigKey> keys = train_config_keys(c);
  ConfigKey* k = find_key(keys, key, "--set");
  // Parse the value as TOML so types follow the same rules; bare words become strings.
  std::string section = key.substr(0, key.find('.')), name = key.substr(key.find('.') + 1);
  const std::string head = "[" + section + "]\n" + name + " = ";
  toml::table tbl;
  try {
    tbl = toml::parse(head + value + "\n");
  } catch (const toml::parse_error&) {
    tbl = toml::parse(head + toml_quote(value) + "\n");
  }
  // A list key given one value (--set tasks.names=gsm8k) takes it as a list of one.
  const bool list = k->type == ConfigType::kStringList || k->type == ConfigType::kIntList ||
                    k->type == ConfigType::kDoubleList;
  if (list && !tbl[section][name].is_array()) {
    try {
      tbl = toml::parse(head + "[" + value + "]\n");
    } catch (const toml::parse_error&) {
      tbl = toml::parse(head + "[" + toml_quote(value) + "]\n");
    }
  }
  set_from_toml(*k, *tbl[section][name].node(), "--set");
  check_chat_template(c, "--set");
}

void train_config_finalize(TrainConfig& c) {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw std::runtime_error("config: " + msg);
  };
  // Every number finite, then each key's range (the message gives the reason for the bounds).
  for (const ConfigKey& k : train_config_keys(c))
    if (k.type == ConfigType::kFloat && !std::isfinite(*static_cast<float*>(k.ptr)))
      need(false, std::string(k.key) + " = " + std::to_string(*static_cast<float*>(k.ptr)) +
                      " is not a finite number");
  auto range = [&](const char* key, double v, double lo, double hi, const char* why) {
    if (v >= lo && v <= hi) return;
    std::ostringstream s;
    s << key << " = " << v << " is outside [" << lo << ", " << hi << "]: " << why;
    need(false, s.str());
  };
  const LearnerConfig& l = c.learner;
  range("tasks.eval_prompts", c.eval_prompts, 0, 1e6, "held-out prompts per task");
  range("tasks.eval_samples", c.eval_samples, 1, 1024, "samples per eval prompt");
  range("tasks.eval_temperature", c.eval_temperature, 1e-3, 100,
        "logits are divided by it (0 divides by zero; above 100 sampling is uniform noise)");
  range("rollout.group_size", c.group_size, 2, 1024, "GRPO compares the samples of a group");
  range("rollout.prompts_per_step", c.prompts_per_step, 1, 1 << 16, "prompts per step");
  range("rollout.temperature", c.temperature, 1e-3, 100,
        "logits are divided by it (0 divides by zero; above 100 sampling is uniform noise)");
  range("rollout.top_p", c.top_p, 1e-6, 1, "a probability mass (1 = off)");
  range("rollout.top_k", c.top_k, 0, 1 << 24, "a number of tokens (0 = off)");
  range("rollout.min_p", c.min_p, 0, 0.999, "a fraction of the top probability (0 = off)");
  range("rollout.max_new_tokens", c.max_new_tokens, 1, 1 << 20,
        "a completion length; the cache and the learner hold every token");
  range("rollout.workers", c.rollout_workers, 0, 64,
        "each in-process worker holds a copy of the model and its cache (use --workers or "
        "remote workers for more)");
  range("rollout.max_tokens_in_flight", c.max_tokens_in_flight, 1, 1 << 24,
        "latent-cache rows allocated per worker");
  range("rollout.max_bad_results", c.max_bad_results, 1, 1e6, "a count of bad results");
  range("rollout.request_timeout_s", c.request_timeout_s, 0, 1e7, "seconds (0 = no limit)");
  range("rollout.worker_timeout_s", c.worker_timeout_s, 3, 1e6,
        "seconds (at least 3: workers send a heartbeat every second)");
  range("reward.threads", c.reward_threads, 1, 256, "threads per reward worker");
  range("reward.workers", c.reward_workers, 0, 256, "reward worker threads or processes");
  range("reward.job_timeout_s", c.reward_job_timeout_s, 0.1, 1e7, "seconds");
  range("learner.lr", l.lr, 0, 1, "a learning rate above 1 makes AdamW diverge");
  range("learner.min_lr_ratio", l.min_lr_ratio, 0, 1, "a fraction of lr");
  range("learner.warmup_steps", l.warmup_steps, 0, 1e8, "optimiser steps");
  range("learner.weight_decay", l.weight_decay, 0, 1, "a fraction of the weights per unit lr");
  range("learner.beta1", l.beta1, 0, 0.9999999,
        "AdamW's moment decay (1 makes the bias correction divide by zero)");
  range("learner.beta2", l.beta2, 0, 0.9999999,
        "AdamW's moment decay (1 makes the bias correction divide by zero)");
  range("learner.adam_eps", l.adam_eps, 1e-30, 1, "AdamW divides by sqrt(v) + eps; 0 gives 0/0");
  range("learner.grad_clip", l.grad_clip, 0, 1e6, "a gradient norm (0 = off)");
  range("learner.micro_batch_tokens", l.micro_batch_tokens, 1, 1 << 24, "tokens per pass");
  range("learner.num_minibatches", l.num_minibatches, 1, 1024, "optimiser steps per batch");
  range("learner.eps_low", l.loss.eps_low, 0, 1, "the ratio is clipped below at 1 - eps_low");
  range("learner.eps_high", l.loss.eps_high, 0, 10, "the ratio is clipped above at 1 + eps_high");
  range("learner.dual_clip", l.loss.dual_clip, 0, 1000, "a ratio bound (0 = off, else > 1)");
  need(l.loss.dual_clip == 0 || l.loss.dual_clip > 1,
       "learner.dual_clip must be 0 (off) or > 1 (it bounds the ratio from above for A < 0)");
  range("learner.beta", l.loss.beta, 0, 100, "a KL coefficient (0 = no reference model)");
  range("learner.ref_update_every", c.ref_update_every, 0, 1e8, "steps (0 = never)");
  range("learner.tis_cap", l.loss.tis_cap, 0, 1000, "an importance-weight cap (0 = off)");
  range("learner.bias_gamma", l.bias_gamma, 0, 1, "a router bias step (0 = off)");
  range("learner.balance_alpha", l.balance_alpha, 0, 1, "a loss weight (0 = off)");
  range("learner.max_oversample_rounds", c.max_oversample_rounds, 0, 100, "extra rounds");
  range("learner.overlong_buffer", c.overlong_buffer, 1, 1 << 20, "tokens");
  range("learner.overlong_penalty", c.overlong_penalty, 0, 100, "a reward penalty");
  range("run.steps", c.steps, 0, 1e8, "GRPO steps");
  range("run.eval_every", c.eval_every, 0, 1e8, "steps (0 = before and after only)");
  range("run.checkpoint_every", c.checkpoint_every, 0, 1e8, "steps (0 = at the end only)");
  range("run.max_staleness", c.max_staleness, 1, 1000, "weight versions");
  range("run.worker_deadline_s", c.worker_deadline_s, 0, 1e7, "seconds (0 = wait forever)");
  for (double w : c.task_weights)
    need(std::isfinite(w) && w >= 0, "tasks.weights must be finite and >= 0");
  if (!c.task_weights.empty()) {
    double sum = 0;
    for (double w : c.task_weights) sum += w;
    need(sum > 0, "tasks.weights must not all be 0");
  }
  need(!c.task_names.empty(), "tasks.names must name at least one task");
  need(c.task_weights.empty() || c.task_weights.size() == c.task_names.size(),
       "tasks.weights must have one weight per task");
  need(c.learner.device == "cpu" || c.learner.device == "cuda" || c.learner.device == "auto",
       "learner.device must be cpu, cuda or auto");
  need(c.rollout_device == "cpu" || c.rollout_device == "cuda" || c.rollout_device == "auto",
       "rollout.device must be cpu, cuda or auto");
  for (int d : c.rollout_cuda_devices)
    need(d >= 0 && d < 1024,
         "rollout.cuda_devices: " + std::to_string(d) + " is not a device ordinal (0, 1, ...)");
  need(c.rollout_cuda_devices.empty() || c.rollout_device != "cpu",
       "rollout.cuda_devices places CUDA engines: it needs rollout.device = \"cuda\"");
  need(c.learner.schedule == "constant" || c.learner.schedule == "cosine",
       "learner.schedule must be constant or cosine");
  need(c.overlong == "none" || c.overlong == "mask" || c.overlong == "penalty",
       "learner.overlong must be none, mask or penalty");
  need(!(c.async && c.dynamic_sampling),
       "run.async and learner.dynamic_sampling cannot be combined (oversampling needs the "
       "step's own rewards before the next step is generated)");
  need(c.max_staleness >= 1, "run.max_staleness must be >= 1 (async runs one step behind)");
  need(c.gemm_precision == "fp32" || c.gemm_precision == "bf16",
       "run.gemm_precision must be fp32 or bf16");
  need(!c.batch_invariant || c.gemm_precision == "fp32",
       "run.batch_invariant needs run.gemm_precision = \"fp32\" (the invariant kernels are fp32)");
  check_chat_template(c, "config");
  // Async samples come from the previous weights: correct them unless the user chose a cap.
  if (c.async && c.learner.loss.tis_cap == 0) c.learner.loss.tis_cap = 2.0f;
  parse_advantage_mode(c.advantage);
  c.learner.loss.kl = parse_kl_estimator(c.kl);
  c.learner.agg = parse_loss_agg(c.loss_agg);
  c.learner.need_ref = c.learner.loss.beta > 0;
  c.learner.inv_temp = 1.0f / c.temperature;
  c.learner.max_len = c.max_new_tokens;
  c.learner.total_steps = std::max(1, c.steps * std::max(1, c.learner.num_minibatches));
}

std::string train_config_to_toml(TrainConfig& c) {
  std::vector<ConfigKey> keys = train_config_keys(c);
  std::ostringstream out;
  std::string section;
  for (const ConfigKey& k : keys) {
    std::string key = k.key;
    std::string sec = key.substr(0, key.find('.')), name = key.substr(key.find('.') + 1);
    if (sec != section) {
      out << (section.empty() ? "" : "\n") << "[" << sec << "]\n";
      section = sec;
    }
    out << name << " = ";
    switch (k.type) {
      case ConfigType::kInt:
        out << *static_cast<int*>(k.ptr);
        break;
      case ConfigType::kUint64:
        out << *static_cast<uint64_t*>(k.ptr);
        break;
      case ConfigType::kFloat:
        out << *static_cast<float*>(k.ptr);
        break;
      case ConfigType::kBool:
        out << (*static_cast<bool*>(k.ptr) ? "true" : "false");
        break;
      case ConfigType::kString:
        out << toml_quote(*static_cast<std::string*>(k.ptr));
        break;
      case ConfigType::kStringList: {
        out << "[";
        const auto& v = *static_cast<std::vector<std::string>*>(k.ptr);
        for (size_t i = 0; i < v.size(); i++) out << (i ? ", " : "") << toml_quote(v[i]);
        out << "]";
        break;
      }
      case ConfigType::kDoubleList: {
        out << "[";
        const auto& v = *static_cast<std::vector<double>*>(k.ptr);
        for (size_t i = 0; i < v.size(); i++) out << (i ? ", " : "") << v[i];
        out << "]";
        break;
      }
      case ConfigType::kIntList: {
        out << "[";
        const auto& v = *static_cast<std::vector<int>*>(k.ptr);
        for (size_t i = 0; i < v.size(); i++) out << (i ? ", " : "") << v[i];
        out << "]";
        break;
      }
    }
    out << "\n";
  }
  return out.str();
}

std::string train_config_docs() {
  TrainConfig c;
  std::string toml = train_config_to_toml(c);
  std::vector<ConfigKey> keys = train_config_keys(c);
  std::ostringstream out;
  out << "| key | default | meaning |\n|---|---|---|\n";
  std::istringstream lines(toml);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '[') continue;
    std::string value = line.substr(line.find(" = ") + 3);
    out << "| `" << keys[i].key << "` | `" << value << "` | " << keys[i].doc << " |\n";
    i++;
  }
  return out.str();
}

}  // namespace aha
