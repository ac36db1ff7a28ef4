#include "learner/train_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

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
      {"rollout.workers", T::kInt, &c.rollout_workers, "Rollout workers"},
      {"rollout.max_tokens_in_flight", T::kInt, &c.max_tokens_in_flight,
       "Latent-cache rows per worker"},
      {"rollout.return_routing", T::kBool, &c.return_routing,
       "Return routed experts (for routing replay)"},
      {"reward.threads", T::kInt, &c.reward_threads, "Reward scoring threads (per reward worker)"},
      {"reward.workers", T::kInt, &c.reward_workers,
       "Reward workers over ZeroMQ (0 = score in the trainer)"},
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
      {"learner.micro_batch_tokens", T::kInt, &l.micro_batch_tokens,
       "Tokens per micro-batch (gradient accumulation)"},
      {"learner.num_minibatches", T::kInt, &l.num_minibatches, "Optimiser steps per rollout batch"},
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
       "Overlap generation of step t+1 with training of step t (turns on tis_cap = 2 if unset)"},
      {"run.max_staleness", T::kInt, &c.max_staleness,
       "Max weight versions a sample may lag (async pipelines one step: 1)"},
      {"run.progress", T::kBool, &c.progress, "Progress bar while generating"},
  };
}

namespace {

std::string toml_quote(const std::string& s) {
  std::ostringstream o;
  o << toml::value<std::string>(s);
  return o.str();
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); j++)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    prev.swap(cur);
  }
  return prev[b.size()];
}

ConfigKey* find_key(std::vector<ConfigKey>& keys, const std::string& name,
                    const std::string& where) {
  for (ConfigKey& k : keys)
    if (name == k.key) return &k;
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const ConfigKey& k : keys) {
    size_t d = edit_distance(name, k.key);
    // Also compare the name part alone (a key put in the wrong section).
    std::string kn = k.key;
    std::string tail = kn.substr(kn.find('.') + 1);
    std::string ntail = name.substr(name.find('.') == std::string::npos ? 0 : name.find('.') + 1);
    d = std::min(d, edit_distance(ntail, tail) + 1);
    if (d < best_d) {
      best_d = d;
      best = k.key;
    }
  }
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
      throw std::runtime_error(where + ": '" + std::string(section.str()) +
                               "' must be a section ([model], [tasks], [rollout], [reward], "
                               "[learner], [run])");
    for (const auto& [name, value] : *sec) {
      std::string full = std::string(section.str()) + "." + std::string(name.str());
      ConfigKey* k = find_key(keys, full, where);
      set_from_toml(*k, value, where);
    }
  }
  check_chat_template(c, where);
}

void train_config_load_toml(TrainConfig& c, const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot open config");
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
  std::string doc = "[" + section + "]\n" + name + " = " + value + "\n";
  toml::table tbl;
  try {
    tbl = toml::parse(doc);
  } catch (const toml::parse_error&) {
    tbl = toml::parse("[" + section + "]\n" + name + " = " + toml_quote(value) + "\n");
  }
  set_from_toml(*k, *tbl[section][name].node(), "--set");
  check_chat_template(c, "--set");
}

void train_config_finalize(TrainConfig& c) {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw std::runtime_error("config: " + msg);
  };
  need(c.group_size >= 2, "rollout.group_size must be >= 2 (GRPO compares within a group)");
  need(c.prompts_per_step >= 1, "rollout.prompts_per_step must be >= 1");
  need(c.temperature > 0, "rollout.temperature must be > 0 for RL");
  need(c.max_new_tokens >= 1, "rollout.max_new_tokens must be >= 1");
  need(c.rollout_workers >= 1, "rollout.workers must be >= 1");
  need(c.reward_workers >= 0, "reward.workers must be >= 0");
  need(c.reward_threads >= 1, "reward.threads must be >= 1");
  need(c.steps >= 0, "run.steps must be >= 0");
  need(!c.task_names.empty(), "tasks.names must name at least one task");
  need(c.task_weights.empty() || c.task_weights.size() == c.task_names.size(),
       "tasks.weights must have one weight per task");
  need(c.learner.schedule == "constant" || c.learner.schedule == "cosine",
       "learner.schedule must be constant or cosine");
  need(c.overlong == "none" || c.overlong == "mask" || c.overlong == "penalty",
       "learner.overlong must be none, mask or penalty");
  need(!(c.async && c.dynamic_sampling),
       "run.async and learner.dynamic_sampling cannot be combined (oversampling needs the "
       "step's own rewards before the next step is generated)");
  need(c.max_staleness >= 1, "run.max_staleness must be >= 1 (async runs one step behind)");
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
