// A controller and two rollout worker PROCESSES over ipc://: garbage survived on both sides, a
// chunked weight version (one chunk damaged in transit) reaches both, one worker is SIGKILLed
// mid-request and every request still completes exactly once with the expected tokens.
#include <doctest/doctest.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "rollout/controller.h"
#include "test_protocol_fake_engine.h"
#include "tests/hand_written_message.h"

using namespace aha;
using namespace aha::test;

namespace {

constexpr int kNumRequests = 40;
constexpr int kGroup = 4;
constexpr size_t kWeightBytes = 3u << 20;  // 3 MiB
constexpr uint32_t kChunk = 256u << 10;    // 12 chunks

// Child side: run a worker with the fake engine, write its stats, exit without returning to
// doctest.
[[noreturn]] void worker_child(const std::string& endpoint, const std::string& id,
                               const std::string& stats_path) {
  FakeEngine eng;
  WorkerOptions o;
  o.connect = endpoint;
  o.worker_id = id;
  o.heartbeat_ms = 100;
  o.controller_timeout_ms = 5000;
  WorkerStats st;
  o.stats = &st;
  int rc = run_rollout_worker(o, fake_hooks(eng));
  std::ofstream f(stats_path);
  f << rc << " " << st.dropped << " " << st.bad_chunks << " " << st.bad_weights << " "
    << st.weights_loaded << " " << st.requests << " " << st.results << " " << eng.weights_ok
    << "\n";
  f.close();
  _exit(rc == 0 ? 0 : 10 + rc);
}

WorkerInfo find_worker(Controller& c, const std::string& id) {
  for (const WorkerInfo& w : controller_workers(c))
    if (w.worker_id == id) return w;
  return WorkerInfo{};
}

}  // namespace

TEST_CASE("controller and two worker processes over ipc://") {
  std::string tmpl = (std::filesystem::temp_directory_path() / "aha-proto-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  std::string dir = tmpl;
  std::string endpoint = "ipc://" + dir + "/controller.sock";

  // Fork before this process creates any ZeroMQ context (a context's threads do not survive fork).
  pid_t pids[2];
  std::fflush(stdout);  // or the children flush the parent's buffered output a second time
  std::fflush(stderr);
  for (int k = 0; k < 2; ++k) {
    pids[k] = fork();
    REQUIRE(pids[k] >= 0);
    if (pids[k] == 0)
      worker_child(endpoint, "proc-" + std::to_string(k), dir + "/w" + std::to_string(k));
  }

  ControllerOptions co;
  co.endpoint = endpoint;
  co.heartbeat_ms = 100;
  co.worker_timeout_ms = 1000;
  co.weights_chunk_size = kChunk;
  co.test_corrupt_chunk = 3;
  ControllerPtr ctl = controller_create(co);
  REQUIRE(controller_wait_workers(*ctl, 2, 10000));

  // Garbage at the controller's socket, from an anonymous peer.
  {
    zmq::socket_t raw(controller_context(*ctl), zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 1000);
    raw.connect(endpoint);
    CHECK(send_frame(raw, "", "\x01\x02 garbage \xff"));
    CHECK(send_frame(raw, "",
                     hand_written("weights_ack", {{"weights_version", 1}},
                                  kProtocolVersion + 7)));  // wrong version
    CHECK(send_frame(raw, "", hand_written("no_such_type", {{"weights_version", 1}})));
    CHECK(send_frame(raw, "",
                     hand_written("gen_result", {{"weights_version", 1}})));  // fields missing
    zmq::message_t a("x", 1), b("y", 1);                                      // two frames
    raw.send(a, zmq::send_flags::sndmore);
    raw.send(b, zmq::send_flags::none);
  }
  // Garbage at each worker's socket.
  for (int k = 0; k < 2; ++k) {
    std::string id = "proc-" + std::to_string(k);
    controller_send_raw(*ctl, id, "\xc1 not msgpack");
    controller_send_raw(
        *ctl, id, hand_written("weights_announce", {{"weights_version", 1}}, kProtocolVersion + 1));
    controller_send_raw(*ctl, id,
                        hand_written("gen_request", {{"weights_version", 1}}));  // fields missing
  }

  // Weights: 3 MiB in 12 chunks; chunk 3 is damaged the first time it is sent.
  controller_publish_weights(*ctl, 1, fake_weights(1, kWeightBytes));
  REQUIRE(controller_wait_weights(*ctl, 1, 10000));
  for (int k = 0; k < 2; ++k) {
    WorkerInfo w = find_worker(*ctl, "proc-" + std::to_string(k));
    CHECK(w.alive);
    CHECK(w.weights_version == 1);
  }
  ControllerStats st = controller_stats(*ctl);
  CHECK(st.chunks_sent == 2 * 12 + 1);  // the damaged chunk was fetched once more
  CHECK(st.dropped >= 5);

  // Work: 40 requests needing weights v1; kill proc-0 while it holds some.
  for (int i = 1; i <= kNumRequests; ++i) {
    GenRequest r;
    r.request_id = static_cast<uint64_t>(i);
    r.prompt_ids = {i, i + 1};
    r.group_size = kGroup;
    r.seed = 1000 + static_cast<uint64_t>(i) * 7919;
    r.min_weights_version = 1;
    r.return_routing = (i % 2) == 0;
    controller_submit(*ctl, r);
  }
  std::map<uint64_t, int> seen;
  std::vector<GenResult> results;
  bool killed = false;
  auto t0 = fake_now_ms();
  while (static_cast<int>(seen.size()) < kNumRequests && fake_now_ms() - t0 < 15000) {
    std::vector<GenResult> got;
    controller_poll(*ctl, 20, got);
    for (GenResult& r : got) {
      seen[r.request_id]++;
      results.push_back(std::move(r));
    }
    if (!killed) {
      WorkerInfo w0 = find_worker(*ctl, "proc-0");
      if (w0.completed >= 2 && w0.outstanding >= 1) {
        REQUIRE(kill(pids[0], SIGKILL) == 0);
        killed = true;
      }
    }
  }
  REQUIRE(killed);
  CHECK(seen.size() == static_cast<size_t>(kNumRequests));
  for (auto& [id, n] : seen) {
    CHECK(id >= 1);
    CHECK(id <= kNumRequests);
    CHECK(n == 1);
  }
  for (const GenResult& r : results) {
    CHECK(r.weights_version == 1);
    REQUIRE(r.samples.size() == static_cast<size_t>(kGroup));
    uint64_t seed = 1000 + r.request_id * 7919;
    for (int g = 0; g < kGroup; ++g) {
      CHECK(r.samples[g].completion == fake_tokens(seed, g));
      CHECK(r.samples[g].routing.size() ==
            (r.request_id % 2 == 0 ? r.samples[g].completion.size() * 4 : 0u));
    }
  }
  st = controller_stats(*ctl);
  CHECK(st.completed == static_cast<uint64_t>(kNumRequests));
  CHECK(st.reissued >= 1);
  CHECK(st.workers_died >= 1);
  CHECK(controller_pending(*ctl) == 0);
  CHECK_FALSE(find_worker(*ctl, "proc-0").alive);
  CHECK(find_worker(*ctl, "proc-1").completed >= 1);
  MESSAGE("reissued " << st.reissued << ", duplicates " << st.duplicates << ", dropped "
                      << st.dropped);

  int status = 0;
  REQUIRE(waitpid(pids[0], &status, 0) == pids[0]);
  CHECK(WIFSIGNALED(status));

  controller_shutdown_workers(*ctl, "test done");
  REQUIRE(waitpid(pids[1], &status, 0) == pids[1]);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  ctl.reset();

  std::ifstream f(dir + "/w1");
  int rc = -1, ok = 0;
  uint64_t dropped = 0, bad_chunks = 0, bad_weights = 0, loaded = 0, requests = 0, sent = 0;
  f >> rc >> dropped >> bad_chunks >> bad_weights >> loaded >> requests >> sent >> ok;
  CHECK(rc == 0);
  CHECK(dropped >= 3);  // the three raw messages
  CHECK(bad_weights == 0);
  CHECK(loaded == 1);
  CHECK(ok == 1);  // the bytes it loaded are the published ones
  CHECK(requests == sent);
  std::filesystem::remove_all(dir);
}
