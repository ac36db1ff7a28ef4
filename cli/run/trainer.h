// `aha train`: the controller loop of a GRPO run. Per step: draw prompts from the task mixture,
// hand generation requests to rollout workers over ZeroMQ (threads over inproc:// by default,
// processes over ipc:// with --workers, remote ones over tcp:// with --listen), score the finished
// groups with the tasks' checkers on a thread pool, compute advantages, update the policy, publish
// the new weights, and log the step and every sample to RUN_DIR/rollouts.db.
//
// Invariants: steps are synchronous unless run.async (then the first round of steps t+1 ..
// t+max_staleness is generated with the weights of step t, so a batch is at most max_staleness
// versions old when it is used, and the importance-sampling correction applies; a group older
// than that is dropped and counted in the step's stale_groups_dropped);
// results are ordered by request id before use, so worker timing never changes what is learned;
// a checkpoint is written every run.checkpoint_every steps, at the end, and on SIGINT/SIGTERM.
#pragma once
#include <string>
#include <vector>

#include "cli/run/eval.h"
#include "cli/run/train_config.h"

namespace aha {

struct TrainOptions {
  std::string config_path;        // "" = the built-in default run
  std::vector<std::string> sets;  // section.key=value overrides
  std::string run_dir;            // "" = runs/<config name>
  bool resume = false;            // continue run_dir from its latest checkpoint
  int worker_processes = 0;       // > 0: spawn this many `aha rollout-worker` processes (ipc://)
  std::string listen;             // also accept remote workers on this tcp:// endpoint
  std::string reward_listen;      // reward workers' endpoint (tcp://*:PORT), "" = local
  bool remote_workers = false;    // start no workers: rollout.workers / reward.workers connect
  std::string replay_dir;         // re-train on the samples logged in this run dir
  int replay_from = 0, replay_to = -1;
  std::string exe_path;  // this binary, for spawning workers
  std::string device;    // --device: overrides learner.device (cpu, cuda or auto) when not empty
};

int train_main(const TrainOptions& opt);

// How the held-out evaluation samples (tasks.eval_samples, tasks.eval_temperature, the rollout
// sampling limits, seeds from run.seed): eval_local with it gives the run's eval numbers.
EvalSampling train_eval_sampling(const TrainConfig& c);

// The model the built-in run (`aha train` with no config) starts from: the R1-Zero base.
std::string builtin_run_model_dir();
// The arithmetic base (experiments/base-arith): `aha pretrain`'s default output and tasks file,
// `aha bench learner`'s default model, the model of the tiny_add run in experiments/base-arith.
std::string builtin_base_model_dir();

}  // namespace aha
