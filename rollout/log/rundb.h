// Rollout logs of a run in SQLite: RUN_DIR/rollouts.db.
//
// Invariants:
// - One database per run directory, opened in WAL mode (readers such as `aha logs` never block the
//   learner), synchronous=NORMAL, foreign keys on, busy timeout 5 s.
// - The schema version is PRAGMA user_version (kRunDbSchemaVersion). Opening a database with a
//   newer or unknown version, or a SQLite file that is not an aha rollouts.db, is an error.
//   Versions 1 and 2 (each sample row held its own prompt text and ids; version 1 also lacked
//   samples.response_prefix) are migrated to 3 on open, in one transaction, and the migration is
//   logged.
// - A group's prompt (text and ids) is stored once, in the prompts row (run_id, step, group_id)
//   its samples reference; the view samples_with_prompts joins them back for readers. The
//   samples of one group must share one prompt (a write that disagrees is an error).
// - One RunDb is one connection, used by one thread at a time.
// - rundb_write_step writes the step row and all of its samples in ONE transaction: after a crash a
//   step is either fully present or absent. A step that already exists is an error (a resumed run
//   first calls rundb_truncate_after).
// - All SQL uses prepared statements with bound parameters; values never enter SQL text.
// - A metric that was not measured is NaN in StepRow and NULL in the database.
// - Token ids and rollout log-probs are stored as little-endian int32 / float32 BLOBs, so a replay
//   can re-train on logged samples without re-tokenising; with RunDb::token_blobs false
//   (log.token_blobs = false) they are NULL and read back empty (num_tokens is always kept).
// - Errors throw std::runtime_error naming the database path and the failing statement.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "policy/sample.h"

struct sqlite3;

namespace aha {

inline constexpr int kRunDbSchemaVersion = 3;
inline constexpr const char* kRunDbFileName = "rollouts.db";
inline constexpr double kMetricUnset = std::numeric_limits<double>::quiet_NaN();

// RAII owner of the sqlite3 connection; move-only.
struct RunDb {
  sqlite3* db = nullptr;
  std::string path;         // RUN_DIR/rollouts.db, used in every error message
  int version = 0;          // schema version of the open file (kRunDbSchemaVersion once open)
  bool token_blobs = true;  // write prompt/completion ids and rollout log-probs as BLOBs

  RunDb() = default;
  RunDb(const RunDb&) = delete;
  RunDb& operator=(const RunDb&) = delete;
  RunDb(RunDb&& other) noexcept;
  RunDb& operator=(RunDb&& other) noexcept;
  ~RunDb();
};

// One row per training run (a resumed run can keep its run_id: see rundb_truncate_after).
struct RunRow {
  int64_t run_id = 0;      // assigned by rundb_begin_run
  std::string start_time;  // ISO 8601 UTC; filled with the current time when empty
  std::string aha_version;
  std::string git_commit;  // empty when unknown
  std::string model;       // human description, e.g. "moe-tiny L=4 E=8 K=2 C=128"
  std::string config;      // resolved config (TOML or JSON text)
};

// One row per optimizer step. Named fields are the main metrics (NaN = not measured); metrics_json
// is a JSON object with everything else. Conventions read by `aha report`:
//   "reward_components": {"format": 0.9, "answer": 0.4}   mean reward per component
//   "expert_load": [[f_0, ..., f_{E-1}] per MoE layer]     fraction of routed tokens per expert
// On write the named fields are merged into the stored JSON (keys already in metrics_json win), so
// the `metrics` column holds the full map.
struct StepRow {
  int64_t run_id = 0;
  int64_t step = 0;
  std::string time;  // ISO 8601 UTC; filled with the current time when empty
  double reward_mean = kMetricUnset;
  double accuracy = kMetricUnset;  // fraction of samples with correct = 1
  double adv_mean = kMetricUnset;
  double adv_std = kMetricUnset;
  double len_mean = kMetricUnset;  // completion tokens
  double len_max = kMetricUnset;
  double frac_truncated = kMetricUnset;
  double kl = kMetricUnset;
  double entropy = kMetricUnset;
  double clip_frac_low = kMetricUnset;
  double clip_frac_high = kMetricUnset;
  double frac_zero_var_groups = kMetricUnset;
  double dlogp_max = kMetricUnset;   // max |learner log-prob - rollout log-prob| over tokens
  double dlogp_mean = kMetricUnset;  // mean of the same
  double grad_norm = kMetricUnset;
  double lr = kMetricUnset;
  double tokens_per_s = kMetricUnset;
  double t_gen = kMetricUnset;  // seconds
  double t_reward = kMetricUnset;
  double t_train = kMetricUnset;
  double t_sync = kMetricUnset;
  std::string metrics_json = "{}";
};

// The named metric columns of StepRow, in table order (for generic printing and charts).
struct StepColumn {
  const char* name;
  double StepRow::*field;
};
std::span<const StepColumn> rundb_step_columns();

// One row per completion: the one sample type (policy/sample.h). On write sample_id is
// assigned and run_id/step come from the StepRow; the routing and trunc_logp are not stored.
// One evaluation result (e.g. task "countdown", metric "pass@k", k 8).
struct EvalRow {
  int64_t run_id = 0;
  int64_t step = 0;
  std::string task;
  std::string metric;
  double value = 0;
  int64_t k = 1;
};

enum class SampleOrder { kStep, kBest, kWorst };  // kStep: step, then insertion order

struct SampleQuery {
  int64_t run_id = 0;  // 0 = every run
  std::optional<int64_t> step_min;
  std::optional<int64_t> step_max;         // inclusive
  std::string task;                        // empty = every task
  SampleOrder order = SampleOrder::kStep;  // best/worst: by reward, ties by sample_id
  int64_t limit = 0;                       // 0 = no limit
  bool with_tokens = false;                // also read prompt, completion, rollout_logp
};

// Opens RUN_DIR/rollouts.db. create=true creates the directory, the file and the schema when
// absent; create=false requires an existing database.
RunDb rundb_open(const std::string& run_dir, bool create);

// Inserts a run row; returns its run_id.
int64_t rundb_begin_run(RunDb& db, const RunRow& run);

// Writes the step row and its samples in one transaction (all or nothing).
void rundb_write_step(RunDb& db, const StepRow& step, const std::vector<Sample>& samples);

// Writes eval rows in one transaction.
void rundb_write_eval(RunDb& db, const EvalRow& eval);
void rundb_write_evals(RunDb& db, const std::vector<EvalRow>& evals);

// Deletes the steps, samples and evals of run_id with step > last_step (resume from a checkpoint).
void rundb_truncate_after(RunDb& db, int64_t run_id, int64_t last_step);

std::vector<RunRow> rundb_read_runs(RunDb& db);
// Steps of run_id (0 = every run), ordered by run_id, step; optional inclusive step range.
std::vector<StepRow> rundb_read_steps(RunDb& db, int64_t run_id,
                                      std::optional<int64_t> step_min = std::nullopt,
                                      std::optional<int64_t> step_max = std::nullopt);
std::vector<Sample> rundb_read_samples(RunDb& db, const SampleQuery& query);
// Number of samples the query matches, ignoring its limit.
int64_t rundb_count_samples(RunDb& db, const SampleQuery& query);
// One sample with everything (tokens included); nullopt when absent.
std::optional<Sample> rundb_read_sample(RunDb& db, int64_t sample_id);
std::vector<EvalRow> rundb_read_evals(RunDb& db, int64_t run_id);

// Mean of each reward component per step, computed from the samples' components JSON (numeric
// values only); ordered by component, step.
struct ComponentMean {
  std::string component;
  int64_t step = 0;
  double mean = 0;
};
std::vector<ComponentMean> rundb_component_means(RunDb& db, int64_t run_id);

}  // namespace aha
