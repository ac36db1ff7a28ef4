// Faults against `aha train`: each hang the issue found (the only rollout worker dies, the only
// reward worker dies, a worker heart-beats but never answers, every answer is garbage) ends within
// the configured deadline with a message and exit code 1; a NaN loss stops the run without a
// checkpoint; refused config values and model sizes; accepted extreme values run. Deadlines are
// short here (run.worker_deadline_s = 3). SIGTERM and resume: test_peers_signals.cpp.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <fstream>

#include "rollout/log/rundb.h"
#include "tests/integration/peers_faults_util.h"
#include "tests/integration/peers_util.h"
#include "tests/test_util.h"

using namespace aha;
using namespace aha::test;
namespace fs = std::filesystem;

namespace {

// A micro run (extra args added) whose only `worker` child (a word of its command line) is killed
// after step 1 fails within the deadline with exit code 1, saying `why`, and leaves a checkpoint.
void only_worker_dies(const std::string& worker, std::initializer_list<std::string> extra,
                      const std::string& why) {
  // The folder's name must not contain `worker`: every child's command line holds the path.
  TempDir tmp("aha_fault_" + worker.substr(0, worker.find('-')));
  fs::create_directories(tmp.path);
  const std::string dir = tmp.str() + "/run";
  Child c;
  start_child(c, with(micro_run(dir, 1000), extra), tmp.str() + "/log");
  REQUIRE_MESSAGE(c.log_shows("step    1 ", 120), c.log());
  std::vector<pid_t> w = children_of(c.pid, worker);
  REQUIRE(w.size() == 1);
  kill(w[0], SIGKILL);
  const double t0 = now_s();
  REQUIRE_MESSAGE(c.wait(30), c.log());
  MESSAGE("ended " << now_s() - t0 << " s after the kill");
  CHECK(c.rc == 1);
  CHECK_MESSAGE(c.log().find(why) != std::string::npos, c.log());
  CHECK(c.log().find("checkpoint of step") != std::string::npos);
  CHECK(has_checkpoint(dir));
}

}  // namespace

TEST_CASE("the only rollout worker dies: the run fails at the deadline with a checkpoint") {
  only_worker_dies("rollout-worker", {"--workers", "1"}, "no rollout worker could serve");
}

TEST_CASE("the only reward worker dies: the run fails at the deadline with a checkpoint") {
  only_worker_dies("reward-worker", {"--workers", "1", "--set", "reward.workers=1"},
                   "no reward worker");
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

TEST_CASE("config values the issue found are refused by the CLI with a message, no abort") {
  for (const char* set : {"learner.lr=nan", "learner.lr=inf", "learner.lr=-1", "learner.adam_eps=0",
                          "learner.beta=-1", "rollout.workers=1000",
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
    std::string cfg =
        slurp_file(std::string(AHA_SOURCE_DIR) + "/experiments/base-arith/config.json");
    const size_t at = cfg.find("\"num_hidden_layers\"");
    REQUIRE(at != std::string::npos);
    const size_t colon = cfg.find(':', at), end = cfg.find_first_of(",}", colon);
    cfg = cfg.substr(0, colon + 1) + " 1000000" + cfg.substr(end);
    std::ofstream(tmp.str() + "/config.json") << cfg;
    int rc = 0;
    std::string out =
        run_command(std::string(AHA_BINARY) + " inspect " + tmp.str() + "/config.json", &rc);
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
  for (const char* f :
       {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
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
              with(micro_run(dir, 3),
                   {"--set", "learner.beta=0.1", "--set", "model.ref_path=\"" + ref + "\""}),
              tmp.str() + "/log");
  REQUIRE(c.wait(120));
  CHECK_MESSAGE(c.rc == 3, c.log());
  CHECK(c.log().find("became NaN or inf") != std::string::npos);
  CHECK(c.log().find("step-0 is the last good state") != std::string::npos);
  CHECK(!fs::exists(dir + "/checkpoints/step-1"));
  CHECK(!fs::exists(dir + "/final-model"));
  CHECK(slurp_file(dir + "/checkpoints/latest").find("step-0") != std::string::npos);
}
