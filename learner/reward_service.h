// Reward workers over ZeroMQ: the trainer sends each finished group (task, G completions,
// reference) to a reward worker and collects the scores, so slow checks (sandboxed code) run in
// their own threads or processes, on this machine or another.
//
// Invariants: each job is answered exactly once: a result for a job already answered (a late
// worker after a re-issue) is dropped; a worker that leaves (bye) or stays silent past the timeout
// has its job re-issued to another. A malformed or unexpected message is logged with its sender
// and dropped. The service's socket is used from the calling thread only.
#pragma once
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "learner/taskset.h"

namespace aha {

struct ScoreJob {
  std::string task;
  std::vector<std::string> completions;  // [G]
  nlohmann::json reference;
};

struct RewardService;
struct RewardServiceDeleter {
  void operator()(RewardService* s) const;
};
using RewardServicePtr = std::unique_ptr<RewardService, RewardServiceDeleter>;

// Binds endpoint (inproc:// needs the workers to share `context`).
RewardServicePtr reward_service_create(const std::string& endpoint, zmq::context_t& context,
                                       int job_timeout_ms = 120000);
bool reward_service_wait_workers(RewardService& s, int n, int timeout_ms);
// Scores every job; out[i][g] is completion g of job i.
void reward_service_score(RewardService& s, const std::vector<ScoreJob>& jobs,
                          std::vector<std::vector<Scored>>& out);
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
};

int run_reward_worker(const RewardWorkerOptions& opt);

}  // namespace aha
