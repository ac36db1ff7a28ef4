// Shared by the fault suites (test_peers_faults.cpp, test_peers_signals.cpp): a micro run with
// short deadlines, and a fake worker that takes requests and never answers.
#pragma once
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/integration/peers_util.h"
#include "tests/test_util.h"

namespace aha::test {
namespace fs = std::filesystem;

// The tiny_add run (tiny_add_sets) cut to `steps` micro steps.
inline std::vector<std::string> micro_run(const std::string& dir, int steps) {
  std::vector<std::string> args = {AHA_BINARY, "train"};
  for (const std::string& a : tiny_add_sets()) args.push_back(a);
  std::vector<std::string> micro = {"--run-dir", dir,
                                    "--set",     "run.steps=" + std::to_string(steps),
                                    "--set",     "rollout.prompts_per_step=2",
                                    "--set",     "rollout.group_size=2",
                                    "--set",     "rollout.max_new_tokens=4",
                                    "--set",     "tasks.eval_prompts=2",
                                    "--set",     "tasks.eval_samples=2",
                                    "--set",     "run.eval_every=0",
                                    "--set",     "run.checkpoint_every=1",
                                    "--set",     "run.progress=false",
                                    "--set",     "run.worker_deadline_s=3",
                                    "--set",     "rollout.request_timeout_s=2",
                                    "--set",     "reward.job_timeout_s=2"};
  args.insert(args.end(), micro.begin(), micro.end());
  return args;
}

inline std::vector<std::string> with(std::vector<std::string> a,
                                     std::initializer_list<std::string> more) {
  a.insert(a.end(), more);
  return a;
}

inline int port(int) {
  return free_tcp_port();
}

inline bool has_checkpoint(const std::string& dir) {
  return fs::exists(dir + "/checkpoints/latest");
}

// A worker that registers, acknowledges weights, takes requests and then never answers them
// (garbage = answers each with bytes that do not decode).
inline void silent_worker(const std::string& endpoint, const std::string& dir, bool garbage,
                          std::atomic<bool>& stop, bool never_ack = false) {
  if (!wait_until([&] { return fs::exists(dir + "/keys/worker.key"); }, 60)) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  FakePeer p(endpoint, "silent", curve_key_read(dir + "/keys/server.pub").public_key,
             curve_key_read(dir + "/keys/worker.key"));
  p.send_ready(8);
  double last_hb = 0;
  while (!stop) {
    p.heartbeat_every(0.3, last_hb, 8);
    Message msg;
    std::string bytes, err;
    if (!p.recv(msg, bytes, 50)) continue;
    if (msg.type == MsgType::WeightsAnnounce) {
      WeightsAnnounce a;
      if (!decode(msg, a, err) || never_ack) continue;
      p.send_ack(a.weights_version);
    } else if (msg.type == MsgType::GenRequest && garbage) {
      p.send("\xc1 not a message");
    } else if (msg.type == MsgType::Shutdown) {
      return;
    }
  }
}

}  // namespace aha::test
