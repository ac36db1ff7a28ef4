// The `aha train` configuration: one TOML file with sections [model], [tasks], [rollout],
// [reward], [learner], [run], every key listed in train_config_keys() with its documentation.
// An unknown key is an error that names the file and suggests the nearest valid key; `--set
// section.key=value` overrides go through the same table; a value outside a key's fixed set of
// names (model.chat_template) is refused there too, listing the valid ones. The resolved config
// (defaults filled in) is printable as TOML and stored in the run's database.
#pragma once
#include <string>
#include <vector>

#include "learner/learner.h"

namespace aha {

// The built-in run's learner: the library defaults with the R1-Zero run's learning rate.
inline LearnerConfig builtin_learner_config() {
  LearnerConfig l;
  l.lr = 5e-4f;
  return l;
}

struct TrainConfig {
  // [model]
  std::string model_path = "";     // HF-layout model directory ("" = the built-in base model)
  std::string ref_path = "";       // reference model ("" = the initial policy)
  std::string chat_template = "";  // policy/chat_template.h name ("" = the task prompt as is)
  // [tasks]
  std::vector<std::string> task_names = {"mod10_chain"};
  std::vector<double> task_weights = {};  // mixture weights ([] = uniform)
  std::string tasks_file = "";  // TOML file with user tasks ("" = MODEL/tasks.toml if any)
  int eval_prompts = 200;       // held-out prompts for evaluation
  int eval_samples = 4;         // samples per eval prompt (pass@1 is their mean)
  float eval_temperature = 1.0f;
  // [rollout]
  int group_size = 8;  // G
  int prompts_per_step = 32;
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;
  float min_p = 0.0f;
  int max_new_tokens = 48;
  int rollout_workers = 1;             // worker threads (or processes with --workers)
  int max_tokens_in_flight = 1 << 15;  // KV-cache tokens per worker (rounded up to pages)
  std::string rollout_device = "cpu";  // where the workers' engines run: cpu, cuda or auto
  bool return_routing = true;
  int max_bad_results = 3;        // bad results a worker may send before it is disconnected
  float request_timeout_s = 600;  // holding requests, none answered this long: disconnected
  float worker_timeout_s = 3;     // silent this long (no heartbeat): dead, requests re-queued
  int broadcast_fanout = 2;       // weight relay tree: children per node (0 = star from rank 0)
  bool weight_handoff = true;     // node-local workers copy weights from the learner's memory
  std::vector<int> rollout_cuda_devices;  // --workers processes: worker i on [i % n]; [] = 0
  // [reward]
  int reward_threads = 2;
  int reward_workers = 0;            // 0: score in the trainer; N: N `aha reward-worker`s
  float reward_job_timeout_s = 120;  // a reward worker silent on a job this long is dropped
  // [learner]
  LearnerConfig learner = builtin_learner_config();
  std::string advantage = "group_std";  // group_std | none | leave_one_out
  std::string kl = "k3";                // k1 | k2 | k3
  std::string loss_agg = "token_mean";  // token_mean | seq_mean_token_mean | dr_grpo
  int ref_update_every = 0;             // refresh the reference every N steps (0 = never)
  bool dynamic_sampling = false;        // drop groups with all-equal correctness, oversample
  int max_oversample_rounds = 3;
  std::string overlong = "none";  // none | mask | penalty
  int overlong_buffer = 4;        // penalty ramps over the last N tokens before the max
  float overlong_penalty = 1.0f;
  // [run]
  int steps = 60;
  uint64_t seed = 0;
  int eval_every = 5;
  int checkpoint_every = 100;
  bool async = false;  // overlap generation of step t+1 with training of step t
  int max_staleness = 1;
  bool progress = true;
  float worker_deadline_s = 300;     // no worker able to serve this long: the run fails (0 = wait)
  bool insecure_tcp = false;         // tcp:// without CURVE (trusted networks only)
  std::string authorized_keys = "";  // client public keys allowed besides the run's own
  std::string gemm_precision = "fp32";  // fp32 | bf16 (kernels/gemm.h), learner and workers
  bool batch_invariant = false;         // gemm_set_batch_invariant, learner and workers
  // [log]
  bool log_token_blobs = true;  // token ids and rollout log-probs as BLOBs in rollouts.db
};

enum class ConfigType { kInt, kUint64, kFloat, kBool, kString, kStringList, kDoubleList, kIntList };

struct ConfigKey {
  const char* key;  // "section.name"
  ConfigType type;
  void* ptr;
  const char* doc;
};

std::vector<ConfigKey> train_config_keys(TrainConfig& c);
// Reads a TOML file over the defaults; `where` names it in errors.
void train_config_load_toml(TrainConfig& c, const std::string& path);
void train_config_parse_toml(TrainConfig& c, const std::string& text, const std::string& where);
// Applies "section.key=value".
void train_config_set(TrainConfig& c, const std::string& assignment);
// Checks values and fills derived learner fields (loss modes, need_ref, ...).
void train_config_finalize(TrainConfig& c);
std::string train_config_to_toml(TrainConfig& c);
// Markdown table of every key with its default and documentation (for the README).
std::string train_config_docs();

}  // namespace aha
