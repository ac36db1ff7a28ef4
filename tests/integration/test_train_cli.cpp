// `aha train` end to end as a user runs it: a few GRPO steps of a micro run with two rollout-worker
// processes (and a reward-worker process in the second run), then the same run interrupted and
// resumed, then a replay. The resumed run must end with the same weights and the same logged steps
// as the uninterrupted one, though its workers fetch the weights over the wire where the first
// run's copy them from the learner's memory.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>

#include "rollout/log/rundb.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

std::string run(const std::string& cmd, int* rc) {
  return aha::test::run_command(cmd, rc);
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// An empty folder of this test process under the temporary directory.
fs::path fresh_dir(const std::string& prefix) {
  fs::path dir = fs::temp_directory_path() / (prefix + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A random DeepSeek-V3-style model (seed 3) in dir/model.
void init_model(const fs::path& dir) {
  int rc = 0;
  const std::string out =
      run(std::string(AHA_BINARY) + " init --out " + (dir / "model").string() + " --seed 3", &rc);
  REQUIRE_MESSAGE(rc == 0, out);
}

// A micro tiny_add run of the model in `model`: 4 prompts x 4 samples of at most max_new_tokens,
// 4 held-out prompts evaluated at the start and the end only.
std::string micro_run_sets(const fs::path& model, int max_new_tokens) {
  return " --set model.path='\"" + model.string() + "\"' --set tasks.tasks_file='\"" +
         std::string(AHA_SOURCE_DIR) +
         "/experiments/base-arith/tasks.toml\"' --set tasks.names='[\"tiny_add\"]'" +
         " --set rollout.prompts_per_step=4 --set rollout.group_size=4" +
         " --set rollout.max_new_tokens=" + std::to_string(max_new_tokens) +
         " --set tasks.eval_prompts=4 --set tasks.eval_samples=2 --set run.eval_every=0";
}

}  // namespace

TEST_CASE("train, resume and replay a micro run with worker processes") {
  const fs::path dir = fresh_dir("aha-train-test-");
  const std::string aha = AHA_BINARY;
  int rc = 0;
  std::string out;
  init_model(dir);
  const std::string common = micro_run_sets(dir / "model", 4) +
                             " --set run.checkpoint_every=2 --set learner.lr=1e-3 --workers 2";

  // Uninterrupted: 5 steps; the worker processes copy each version from the learner's memory.
  out = run(aha + " train --run-dir " + (dir / "a").string() + common + " --set run.steps=5", &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("held-out accuracy: ") != std::string::npos);
  CHECK_MESSAGE(out.find("loaded weights v5 from the learner's memory") != std::string::npos, out);
  // Interrupted after 2 steps, then resumed to 5; this one scores through a reward-worker process
  // (the same rewards, so the same run) and its workers fetch the weights over the wire.
  out = run(aha + " train --run-dir " + (dir / "b").string() + common +
                " --set run.steps=2 --set reward.workers=1 --set rollout.weight_handoff=false",
            &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK_MESSAGE(out.find("fetching weights v2") != std::string::npos, out);
  CHECK(out.find("from the learner's memory") == std::string::npos);
  out =
      run(aha + " train --resume " + (dir / "b").string() + " --set run.steps=5 --workers 2", &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("resuming") != std::string::npos);

  // Same final weights, bit for bit.
  std::string wa = slurp((dir / "a/final-model/model.safetensors").string());
  std::string wb = slurp((dir / "b/final-model/model.safetensors").string());
  CHECK(!wa.empty());
  CHECK(wa == wb);

  // Every step and every sample is logged, and the logged steps agree.
  aha::RunDb da = aha::rundb_open((dir / "a").string(), false);
  aha::RunDb db = aha::rundb_open((dir / "b").string(), false);
  std::vector<aha::StepRow> sa = aha::rundb_read_steps(da, 0), sb = aha::rundb_read_steps(db, 0);
  REQUIRE(sa.size() == 5);
  REQUIRE(sb.size() == 5);
  for (size_t i = 0; i < 5; i++) {
    CHECK(sa[i].step == static_cast<int64_t>(i + 1));
    CHECK(sa[i].reward_mean == sb[i].reward_mean);
    CHECK(sa[i].grad_norm == sb[i].grad_norm);
  }
  aha::SampleQuery q;
  CHECK(aha::rundb_count_samples(da, q) == 5 * 4 * 4);
  CHECK(aha::rundb_count_samples(db, q) == 5 * 4 * 4);
  aha::SampleQuery q2;
  q2.with_tokens = true;
  for (const aha::Sample& s : aha::rundb_read_samples(da, q2)) {
    CHECK(!s.prompt.empty());
    CHECK(s.completion.size() == static_cast<size_t>(s.num_tokens));
  }

  // Replay the logged samples without generating: the first step's gradient norm is the run's.
  out = run(aha + " train --replay " + (dir / "a").string() + " --steps 1:5", &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("step    5  samples 16") != std::string::npos);
  char gn[32];
  std::snprintf(gn, sizeof gn, "gnorm %.3f", sa[0].grad_norm);
  CHECK_MESSAGE(out.find(gn) != std::string::npos, out);

  // A plain resume reads the stored config (run.steps = 2, not the 5 an earlier --set gave): it
  // says no step is left, and the 5 logged steps stay.
  out = run(aha + " train --resume " + (dir / "b").string(), &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK_MESSAGE(out.find("run.steps = 2: no step left to train") != std::string::npos, out);
  CHECK(aha::rundb_read_steps(db, 0).size() == 5);

  // The logs and report commands read the run.
  out = run(aha + " logs " + (dir / "a").string() + " steps", &rc);
  CHECK(rc == 0);
  CHECK(fs::exists(dir / "a/report.html"));

  // A corrupt state.json is refused naming the file and the field (nlohmann's at() and get<int>()
  // named neither, and took a negative step).
  std::string latest = slurp((dir / "b/checkpoints/latest").string());
  latest.erase(latest.find_last_not_of("\n") + 1);
  const fs::path state = dir / "b/checkpoints" / latest / "state.json";
  nlohmann::json st = nlohmann::json::parse(slurp(state.string()));
  for (const auto& [key, bad] : {std::pair<const char*, nlohmann::json>{"step", -3},
                                 {"next_request_id", "7"},
                                 {"optimizer_step", 1e12}}) {
    nlohmann::json broken = st;
    broken[key] = bad;
    std::ofstream(state, std::ios::trunc) << broken.dump();
    out = run(aha + " train --resume " + (dir / "b").string() + " --set run.steps=6", &rc);
    CHECK(rc != 0);
    CHECK_MESSAGE(out.find("state.json: field '" + std::string(key) + "' = " + bad.dump() +
                           " is not an integer") != std::string::npos,
                  out);
  }
  fs::remove_all(dir);
}

TEST_CASE("train a Qwen3-MoE policy: GQA with QK-norm, no shared expert, same learner") {
  const fs::path dir = fresh_dir("aha-train-qwen-");
  const std::string aha = AHA_BINARY;
  const std::string src = AHA_SOURCE_DIR;
  int rc = 0;
  std::string out = run(aha + " init --config " + src + "/experiments/qwen3-moe-arith/config.json" +
                            " --out " + (dir / "model").string() + " --seed 5",
                        &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  out = run(aha + " train --run-dir " + (dir / "run").string() + micro_run_sets(dir / "model", 4) +
                " --set run.steps=3",
            &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(slurp((dir / "run/final-model/config.json").string()).find("\"qwen3_moe\"") !=
        std::string::npos);
  aha::RunDb db = aha::rundb_open((dir / "run").string(), false);
  std::vector<aha::StepRow> steps = aha::rundb_read_steps(db, 0);
  REQUIRE(steps.size() == 3);
  // The sampler's KV-cache decode and the learner's full forward give the same log-probs.
  for (const aha::StepRow& s : steps) CHECK(s.dlogp_max < 1e-4);
  CHECK(steps[0].grad_norm > 0);
  fs::remove_all(dir);
}

TEST_CASE("run.batch_invariant: workers' log-probs are the learner's, to the bit") {
  const fs::path dir = fresh_dir("aha-train-inv-");
  const std::string aha = AHA_BINARY;
  int rc = 0;
  std::string out;
  init_model(dir);
  const std::string common =
      micro_run_sets(dir / "model", 6) + " --set run.steps=2 --set run.batch_invariant=true";
  // bf16 GEMMs cannot be batch-invariant: refused before anything runs, naming both keys.
  out = run(aha + " train --run-dir " + (dir / "bf16").string() + common +
                " --set run.gemm_precision='\"bf16\"'",
            &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(out.find("run.batch_invariant needs run.gemm_precision") != std::string::npos, out);
  // Nor is the CUDA learner, with or without a GPU here.
  out = run(aha + " train --run-dir " + (dir / "cuda").string() + common + " --device cuda", &rc);
  CHECK(rc != 0);
  CHECK_MESSAGE(
      out.find("run.batch_invariant: training runs the mode on the CPU") != std::string::npos, out);
  // Two rollout-worker processes (they get --batch-invariant from the trainer); each version
  // reaches them through the learner's shared memory (the handoff), not the wire.
  out = run(aha + " train --run-dir " + (dir / "run").string() + common + " --workers 2", &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK_MESSAGE(out.find("batch-invariant") != std::string::npos, out);
  for (const char* w : {"worker-0", "worker-1"})
    CHECK_MESSAGE(out.find(std::string("worker ") + w +
                           ": loaded weights v2 from the learner's memory") != std::string::npos,
                  out);
  CHECK_MESSAGE(out.find("fetching weights") == std::string::npos, out);
  // Worker threads of the trainer's process: each new version is copied from the learner's
  // memory (the handoff), no fetch, no wire bytes; the same bits, so still |dlogp| = 0.
  const std::string threads_out =
      run("AHA_LOG=info " + aha + " train --run-dir " + (dir / "threads").string() + common, &rc);
  REQUIRE_MESSAGE(rc == 0, threads_out);
  CHECK_MESSAGE(
      threads_out.find("loaded weights v2 from the learner's memory") != std::string::npos,
      threads_out);
  CHECK_MESSAGE(threads_out.find("fetching weights") == std::string::npos, threads_out);
  // Nor are the wire's bytes prepared: versions are announced with bytes on demand only.
  CHECK_MESSAGE(threads_out.find("announced weights v2 (") != std::string::npos, threads_out);
  CHECK(threads_out.find("attached the bytes") == std::string::npos);
  for (const char* name : {"run", "threads"}) {
    aha::RunDb db = aha::rundb_open((dir / name).string(), false);
    std::vector<aha::StepRow> steps = aha::rundb_read_steps(db, 0);
    REQUIRE(steps.size() == 2);
    for (const aha::StepRow& s : steps) CHECK_MESSAGE(s.dlogp_max == 0.0, name);
  }
  fs::remove_all(dir);
}

TEST_CASE("learner.dynamic_sampling: a step whose every group is dropped trains nothing, goes on") {
  const fs::path dir = fresh_dir("aha-train-dyn-");
  const std::string aha = AHA_BINARY;
  int rc = 0;
  init_model(dir);
  // A random model answers no sum: every group has equal correctness and is dropped.
  std::string out =
      run(aha + " train --run-dir " + (dir / "run").string() + micro_run_sets(dir / "model", 4) +
              " --set run.steps=2" +
              " --set learner.dynamic_sampling=true --set learner.max_oversample_rounds=1",
          &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK_MESSAGE(out.find("no group kept: nothing trained") != std::string::npos, out);
  aha::RunDb db = aha::rundb_open((dir / "run").string(), false);
  std::vector<aha::StepRow> steps = aha::rundb_read_steps(db, 0);
  REQUIRE(steps.size() == 2);
  for (const aha::StepRow& s : steps) CHECK(s.frac_zero_var_groups == 1.0);
  fs::remove_all(dir);
}
