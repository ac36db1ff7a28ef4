// Reward workers over ZeroMQ: the trainer sends each finished group (task, G completions,
// reference) to a reward worker and collects the scores, so slow checks (sandboxed code) run in
// their own threads or processes, on this machine or another.
//
// Invariants: the jobs go through a JobQueue (rollout/job_queue.h), one at a time per worker, each
// with one request id for its whole life: the first acceptable result for a job wins, whoever
// sent it (a late worker after a re-issue included), and every later one is dropped. A worker
// that leaves (bye), stays silent past worker_timeout_ms while idle, or holds a job past
// job_timeout_ms has its job re-issued to another. A malformed or unexpected message is logged
// with its sender and dropped. A result is accepted only from a worker its request was sent to,
// with one finite reward per completion inside the task's declared range (reward_range) and
// well-formed details; anything else is refused, counted against the worker, and the job
// re-issued; a worker with max_bad_results refusals is disconnected (shutdown, then ignored).
// reward_service_score never waits forever: it throws when *stop is set, or when no worker has
// been connected for worker_deadline_ms while jobs wait. The service's socket is used from the
// calling thread only.
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "cli/run/taskset.h"
#include "tasks/task.h"

namespace aha {

struct ScoreJob {
  std::string task;
  std::vector<std::string> completions;  // [G]
  nlohmann::json reference;
};

struct RewardServiceOptions {
  std::string endpoint;
  zmq::context_t* context = nullptr;  // shared with inproc:// workers
  int job_timeout_ms = 120000;        // a worker silent on a job this long is dropped
  int worker_timeout_ms = 5000;       // a worker without heartbeats this long is gone
  int max_bad_results = 3;            // refused results before a worker is disconnected
  int worker_deadline_ms = 0;         // no worker this long while jobs wait: throw (0 = wait)
  std::string tasks_file;             // where non-built-in tasks (and their reward ranges) live
  std::string curve_secret_key;       // CURVE server key (tcp://), "" = none
  const std::atomic<bool>* stop = nullptr;  // set: reward_service_score throws
  // Called about every 5 s while jobs wait with no worker connected (progress line).
  void (*on_waiting)(void* ctx, double seconds_without_worker) = nullptr;
  void* on_waiting_ctx = nullptr;
};

struct RewardServiceStats {
  uint64_t scored = 0;    // jobs answered
  uint64_t rejected = 0;  // results refused
  uint64_t reissued = 0;  // jobs sent again (timeouts, departures, refusals)
  uint64_t banned = 0;    // workers disconnected
  std::map<std::string, uint64_t> rejected_by_worker;
};

// The reward range a task declares: each checker scores in [0, 1], so the weighted sum lies in
// [sum of negative weights, sum of positive weights].
void reward_range(const TaskSpec& spec, double& lo, double& hi);

struct RewardService;
struct RewardServiceDeleter {
  void operator()(RewardService* s) const;
};
using RewardServicePtr = std::unique_ptr<RewardService, RewardServiceDeleter>;

RewardServicePtr reward_service_create(const RewardServiceOptions& opt);
// False on timeout (or when *stop is set).
bool reward_service_wait_workers(RewardService& s, int n, int timeout_ms);
// Scores every job; out[i][g] is completion g of job i.
void reward_service_score(RewardService& s, const std::vector<ScoreJob>& jobs,
                          std::vector<std::vector<Scored>>& out);
RewardServiceStats reward_service_stats(RewardService& s);
// Tells every worker to exit.
void reward_service_shutdown(RewardService& s);

struct RewardWorkerOptions {
  std::string connect;
  zmq::context_t* context = nullptr;  // required for inproc://
  std::string worker_id;              // "" = host-pid
  std::string tasks_file;             // where non-built-in tasks are defined
  int threads = 1;                    // completions of a group scored in parallel
  int heartbeat_ms = 1000;
  int controller_timeout_ms = 60000;  // exit when the service is silent this long
  const std::atomic<bool>* stop = nullptr;
  // CURVE client keys (tcp://): the service's public key and this worker's pair, Z85.
  std::string curve_server_key, curve_public_key, curve_secret_key;
};

int run_reward_worker(const RewardWorkerOptions& opt);

}  // namespace aha
