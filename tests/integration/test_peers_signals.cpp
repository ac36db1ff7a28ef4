// SIGTERM against `aha train` in every waiting state (nobody connects, a worker holds every
// request, a worker never takes the weights, training, no reward worker): exit 130 within 10 s
// with a checkpoint; and a run killed before its first periodic checkpoint resumes from step 0.
#include <doctest/doctest.h>

#include "rollout/log/rundb.h"
#include "tests/integration/peers_faults_util.h"
#include "tests/test_util.h"

using namespace aha;
using namespace aha::test;

TEST_CASE("SIGTERM in every waiting state exits within 10 s with a checkpoint") {
  struct State {
    const char* name;
    std::vector<std::string> extra;
    const char* wait_for;      // log text that shows the state was reached
    int fake = 0;              // 1: a silent fake worker, 2: one that never takes the weights
    bool kill_reward = false;  // kill the reward worker process once the state text shows
  };
  const std::string ep0 = "tcp://127.0.0.1:" + std::to_string(port(5));
  const std::string ep1 = "tcp://127.0.0.1:" + std::to_string(port(6));
  const std::string ep2 = "tcp://127.0.0.1:" + std::to_string(port(7));
  const State states[] = {
      {"no worker ever connects",
       {"--listen", ep0, "--set", "rollout.workers=0", "--set", "run.worker_deadline_s=0"},
       "waiting: no rollout worker",
       0},
      {"a worker holds every request",
       {"--listen", ep1, "--set", "rollout.workers=0", "--set", "rollout.request_timeout_s=0",
        "--set", "run.worker_deadline_s=0"},
       "CURVE on",
       1},
      {"publishing weights to a worker that never takes them",
       {"--listen", ep2, "--set", "rollout.workers=0", "--set", "run.worker_deadline_s=0"},
       "CURVE on",
       2},
      {"training", {"--workers", "1"}, "step    1 ", 0},
      {"no reward worker",
       {"--workers", "1", "--set", "reward.workers=1", "--set", "run.worker_deadline_s=0"},
       "step    1 ",
       0,
       true},
  };
  for (const State& s : states) {
    INFO(std::string(s.name));
    TempDir tmp("aha_fault_sigterm");
    fs::create_directories(tmp.path);
    const std::string dir = tmp.str() + "/run";
    Child c;
    std::vector<std::string> args = micro_run(dir, 1000);
    args.insert(args.end(), s.extra.begin(), s.extra.end());
    start_child(c, args, tmp.str() + "/log");
    std::atomic<bool> stop{false};
    std::thread t;
    if (s.fake) t = std::thread([&] { silent_worker(s.extra[1], dir, false, stop, s.fake == 2); });
    REQUIRE_MESSAGE(c.log_shows(s.wait_for, 120), c.log());
    if (s.kill_reward) {
      for (pid_t p : children_of(c.pid, "reward-worker")) kill(p, SIGKILL);
      REQUIRE_MESSAGE(c.log_shows("waiting: no reward worker", 60), c.log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(s.fake ? 1500 : 200));
    kill(c.pid, SIGTERM);
    const double t0 = now_s();
    const bool ended = c.wait(10);
    stop = true;
    if (t.joinable()) t.join();
    REQUIRE_MESSAGE(ended, c.log());
    MESSAGE(std::string(s.name) << ": exited " << now_s() - t0 << " s after SIGTERM");
    CHECK(c.rc == 130);
    CHECK_MESSAGE(c.log().find("interrupted: checkpoint of step") != std::string::npos, c.log());
    CHECK(has_checkpoint(dir));
  }
}

TEST_CASE("killed before the first checkpoint: resume starts cleanly from step 0") {
  TempDir tmp("aha_fault_resume0");
  fs::create_directories(tmp.path);
  const std::string dir = tmp.str() + "/run";
  Child c;
  // Long enough that the kill after step 1 lands mid-run (3 micro steps can end first); the
  // resume then asks for 3 steps.
  std::vector<std::string> args = micro_run(dir, 1000);
  for (std::string& a : args)
    if (a == "run.checkpoint_every=1") a = "run.checkpoint_every=100";
  start_child(c, args, tmp.str() + "/log");
  REQUIRE_MESSAGE(c.log_shows("step    1 ", 120), c.log());
  kill(c.pid, SIGKILL);
  REQUIRE(c.wait(10));
  int rc = 0;
  std::string out = run_command(std::string(AHA_BINARY) + " train --resume " + dir +
                                    " --set run.steps=3 --set run.progress=false",
                                &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK_MESSAGE(out.find("(step 0)") != std::string::npos, out);
  RunDb db = rundb_open(dir, false);
  std::vector<StepRow> steps = rundb_read_steps(db, 0);
  REQUIRE(steps.size() == 3);
  for (size_t i = 0; i < steps.size(); i++) CHECK(steps[i].step == static_cast<int64_t>(i + 1));
}
