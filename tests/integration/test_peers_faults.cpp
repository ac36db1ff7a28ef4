// Faults against `aha train`: each hang the issue found (the only rollout worker dies, the only
// reward worker dies, a worker heart-beats but never answers, every answer is garbage, nobody ever
// connects) ends within the configured deadline with a message and exit code 1; SIGTERM in each
// waiting state exits 130 within 10 s with a checkpoint; a run killed before its first periodic
// checkpoint resumes from step 0; a NaN model stops the run without a checkpoint; accepted extreme
// values run. Deadlines are short here (run.worker_deadline_s = 3).
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <fstream>

#include "learner/rundb.h"
#include "tests/integration/peers_util.h"
#include "tests/test_util.h"

using namespace aha;
using namespace aha::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> micro_run(const std::string& dir, int steps) {
  return {AHA_BINARY, "train", "--run-dir", dir, "--set", "run.steps=" + std::to_string(steps),
          "--set", "rollout.prompts_per_step=2", "--set", "rollout.group_size=2",
          "--set", "rollout.max_new_tokens=4", "--set", "tasks.eval_prompts=2",
          "--set", "tasks.eval_samples=2", "--set", "run.eval_every=0",
          "--set", "run.checkpoint_every=1", "--set", "run.progress=false",
          "--set", "run.worker_deadline_s=3", "--set", "rollout.request_timeout_s=2",
          "--set", "reward.job_timeout_s=2"};
}

std::vector<std::string> with(std::vector<std::string> a, std::initializer_list<std::string> more) {
  a.insert(a.end(), more);
  return a;
}

int port(int k) {
  return 40000 + static_cast<int>(getpid() % 10000) + k;
}

bool has_checkpoint(const std::string& dir) {
  return fs::exists(dir + "/checkpoints/latest");
}

// A worker that registers, acknowledges weights, takes requests and then never answers them
// (garbage = answers each with bytes that do not decode).
void silent_worker(const std::string& endpoint, const std::string& dir, bool garbage,
                   std::atomic<bool>& stop, bool never_ack = false) {
  if (!wait_until([&] { return fs::exists(dir + "/keys/worker.key"); }, 60)) return;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  FakePeer p(endpoint, "silent", curve_key_read(dir + "/keys/server.pub").public_key,
             curve_key_read(dir + "/keys/worker.key"));
  ReadyMsg ready;
  ready.worker_id = "silent";
  ready.capacity = 8;
  p.send(encode(ready));
  double last_hb = 0;
  while (!stop) {
    if (now_s() - last_hb > 0.3) {
      HeartbeatMsg hb;
      hb.worker_id = "silent";
      hb.capacity = 8;
      p.send(encode(hb));
      last_hb = now_s();
    }
    Message msg;
    std::string bytes, err;
    if (!p.recv(msg, bytes, 50)) continue;
    if (msg.type == MsgType::WeightsAnnounce) {
      WeightsAnnounce a;
      if (!decode(msg, a, err) || never_ack) continue;
      WeightsAck ack;
      ack.weights_version = a.weights_version;
      p.send(encode(ack));
    } else if (msg.type == MsgType::GenRequest && garbage) {
      p.send("\xc1 not a message");
    } else if (msg.type == MsgType::Shutdown) {
      return;
    }
  }
}

}  // namespace

TEST_CASE("the only rollout worker dies: the run fails at the deadline with a checkpoint") {
  TempDir tmp("aha_fault_rollout");
  fs::create_directories(tmp.path);
  const std::string dir = tmp.str() + "/run";
  Child c;
  start_child(c, with(micro_run(dir, 1000), {"--workers", "1"}), tmp.str() + "/log");
  REQUIRE_MESSAGE(wait_until([&] { return c.log().find("step    1 ") != std::string::npos; }, 120),
                  c.log());
  std::vector<pid_t> w = children_of(c.pid, "rollout-worker");
  REQUIRE(w.size() == 1);
  kill(w[0], SIGKILL);
  const double t0 = now_s();
  REQUIRE_MESSAGE(c.wait(30), c.log());
  MESSAGE("ended " << now_s() - t0 << " s after the kill");
  CHECK(c.rc == 1);
  CHECK_MESSAGE(c.log().find("no rollout worker could serve") != std::string::npos, c.log());
  CHECK(c.log().find("checkpoint of step") != std::string::npos);
  CHECK(has_checkpoint(dir));
}

TEST_CASE("the only reward worker dies: the run fails at the deadline with a checkpoint") {
  TempDir tmp("aha_fault_reward");
  fs::create_directories(tmp.path);
  const std::string dir = tmp.str() + "/run";
  Child c;
  start_child(c, with(micro_run(dir, 1000), {"--workers", "1", "--set", "reward.workers=1"}),
              tmp.str() + "/log");
  REQUIRE_MESSAGE(wait_until([&] { return c.log().find("step    1 ") != std::string::npos; }, 120),
                  c.log());
  std::vector<pid_t> w = children_of(c.pid, "reward-worker");
  REQUIRE(w.size() == 1);
  kill(w[0], SIGKILL);
  REQUIRE_MESSAGE(c.wait(30), c.log());
  CHECK(c.rc == 1);
  CHECK_MESSAGE(c.log().find("no reward worker") != std::string::npos, c.log());
  CHECK(has_checkpoint(dir));
}

TEST_CASE("a worker that never answers, or only with garbage, is disconnected; then the deadline") {
  for (bool garbage : {false, true}) {
    INFO("garbage " << garbage);
    TempDir tmp("aha_fault_silent");
    fs::create_directories(tmp.path);
    const std::string dir = tmp.str() + "/run";
    const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port(garbage));
    Child c;
    start_child(c, with(micro_run(dir, 3), {"--listen", endpoint, "--set", "rollout.workers=0"}),
                tmp.str() + "/log");
    std::atomic<bool> stop{false};
    std::thread t([&] { silent_worker(endpoint, dir, garbage, stop); });
    const bool ended = c.wait(60);
    stop = true;
    t.join();
    REQUIRE_MESSAGE(ended, c.log());
    CHECK(c.rc == 1);
    CHECK_MESSAGE(c.log().find("disconnecting worker silent") != std::string::npos, c.log());
    CHECK(c.log().find("no rollout worker could serve") != std::string::npos);
    CHECK(has_checkpoint(dir));
  }
}

TEST_CASE("SIGTERM in every waiting state exits within 10 s with a checkpoint") {
  struct State {
    const char* name;
    std::vector<std::string> extra;
    const char* wait_for;  // log text that shows the state was reached
    int fake = 0;          // 1: a silent fake worker, 2: one that never takes the weights
    bool kill_reward = false;  // kill the reward worker process once the state text shows
  };
  const std::string ep0 = "tcp://127.0.0.1:" + std::to_string(port(5));
  const std::string ep1 = "tcp://127.0.0.1:" + std::to_string(port(6));
  const std::string ep2 = "tcp://127.0.0.1:" + std::to_string(port(7));
  const State states[] = {
      {"no worker ever connects", {"--listen", ep0, "--set", "rollout.workers=0", "--set",
                                   "run.worker_deadline_s=0"}, "waiting: no rollout worker", 0},
      {"a worker holds every request",
       {"--listen", ep1, "--set", "rollout.workers=0", "--set", "rollout.request_timeout_s=0",
        "--set", "run.worker_deadline_s=0"},
       "CURVE on", 1},
      {"publishing weights to a worker that never takes them",
       {"--listen", ep2, "--set", "rollout.workers=0", "--set", "run.worker_deadline_s=0"},
       "CURVE on", 2},
      {"training", {"--workers", "1"}, "step    1 ", 0},
      {"no reward worker",
       {"--workers", "1", "--set", "reward.workers=1", "--set", "run.worker_deadline_s=0"},
       "step    1 ", 0, true},
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
    if (s.fake)
      t = std::thread([&] { silent_worker(s.extra[1], dir, false, stop, s.fake == 2); });
    REQUIRE_MESSAGE(wait_until([&] { return c.log().find(s.wait_for) != std::string::npos; }, 120),
                    c.log());
    if (s.kill_reward) {
      for (pid_t p : children_of(c.pid, "reward-worker")) kill(p, SIGKILL);
      REQUIRE_MESSAGE(
          wait_until([&] { return c.log().find("waiting: no reward worker") != std::string::npos; },
                     60),
          c.log());
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
  std::vector<std::string> args = micro_run(dir, 3);
  for (std::string& a : args)
    if (a == "run.checkpoint_every=1") a = "run.checkpoint_every=100";
  start_child(c, args, tmp.str() + "/log");
  REQUIRE_MESSAGE(wait_until([&] { return c.log().find("step    1 ") != std::string::npos; }, 120),
                  c.log());
  kill(c.pid, SIGKILL);
  REQUIRE(c.wait(10));
  int rc = 0;
  std::string out = run_command(std::string(AHA_BINARY) + " train --resume " + dir +
                                    " --set run.progress=false",
                                &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("(step 0)") != std::string::npos);
  RunDb db = rundb_open(dir, false);
  std::vector<StepRow> steps = rundb_read_steps(db, 0);
  REQUIRE(steps.size() == 3);
  for (size_t i = 0; i < steps.size(); i++) CHECK(steps[i].step == static_cast<int64_t>(i + 1));
}

TEST_CASE("config values the issue found are refused by the CLI with a message, no abort") {
  for (const char* set : {"learner.lr=nan", "learner.lr=inf", "learner.lr=-1",
                          "learner.adam_eps=0", "learner.beta=-1", "rollout.workers=1000",
                          "rollout.max_new_tokens=100000000", "rollout.top_k=-1"}) {
    INFO(set);
    int rc = 0;
    std::string out =
        run_command(std::string(AHA_BINARY) + " train --print-config --set " + set, &rc);
    CHECK(rc == 1);
    CHECK_MESSAGE(out.find("config: ") != std::string::npos, out);
  }
  // A model config with 10^6 layers is refused before anything is allocated.
  {
    TempDir tmp("aha_fault_inspect");
    fs::create_directories(tmp.path);
    std::string cfg = slurp_file(std::string(AHA_SOURCE_DIR) + "/experiments/base-arith/config.json");
    const size_t at = cfg.find("\"num_hidden_layers\"");
    REQUIRE(at != std::string::npos);
    const size_t colon = cfg.find(':', at), end = cfg.find_first_of(",}", colon);
    cfg = cfg.substr(0, colon + 1) + " 1000000" + cfg.substr(end);
    std::ofstream(tmp.str() + "/config.json") << cfg;
    int rc = 0;
    std::string out = run_command(std::string(AHA_BINARY) + " inspect " + tmp.str() + "/config.json", &rc);
    CHECK(rc == 1);
    CHECK_MESSAGE(out.find("refused before allocating") != std::string::npos, out);
  }
  // Accepted extremes run: lr 0 (nothing moves) and the largest lr (1).
  for (const char* lr : {"learner.lr=0", "learner.lr=1"}) {
    INFO(lr);
    TempDir tmp("aha_fault_lr");
    fs::create_directories(tmp.path);
    Child c;
    start_child(c, with(micro_run(tmp.str() + "/run", 2), {"--set", lr}), tmp.str() + "/log");
    REQUIRE(c.wait(120));
    // Runs to the end, or stops at a non-finite step (exit 3) without saving the NaN model.
    CHECK_MESSAGE((c.rc == 0 || c.rc == 3), c.log());
    if (c.rc == 3) CHECK(!fs::exists(tmp.str() + "/run/final-model"));
  }
}

TEST_CASE("a NaN in the loss stops the run at that step without a checkpoint") {
  TempDir tmp("aha_fault_nan");
  fs::create_directories(tmp.path);
  const std::string model = std::string(AHA_SOURCE_DIR) + "/experiments/base-arith";
  // A reference model whose every weight is NaN: the KL term (beta > 0) makes the loss NaN at
  // step 1 while generation (the policy) stays sound.
  const std::string ref = tmp.str() + "/ref";
  fs::create_directories(ref);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json",
                        "tokenizer_config.json"})
    fs::copy_file(model + "/" + f, ref + "/" + f);
  {
    std::fstream f(ref + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    uint64_t header = 0;
    f.read(reinterpret_cast<char*>(&header), 8);
    const size_t begin = 8 + header, end = fs::file_size(ref + "/model.safetensors");
    const float nan = NAN;
    f.seekp(static_cast<std::streamoff>(begin));
    for (size_t i = begin; i + 4 <= end; i += 4) f.write(reinterpret_cast<const char*>(&nan), 4);
  }
  const std::string dir = tmp.str() + "/run";
  Child c;
  start_child(c,
              with(micro_run(dir, 3), {"--set", "learner.beta=0.1", "--set",
                                       "model.ref_path=\"" + ref + "\""}),
              tmp.str() + "/log");
  REQUIRE(c.wait(120));
  CHECK_MESSAGE(c.rc == 3, c.log());
  CHECK(c.log().find("became NaN or inf") != std::string::npos);
  CHECK(c.log().find("step-0 is the last good state") != std::string::npos);
  CHECK(!fs::exists(dir + "/checkpoints/step-1"));
  CHECK(!fs::exists(dir + "/final-model"));
  CHECK(slurp_file(dir + "/checkpoints/latest").find("step-0") != std::string::npos);
}
