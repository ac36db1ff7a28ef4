// The controller and rollout workers as threads of one process over inproc://: garbage survived,
// weights distributed and gated by min_weights_version, a hung worker declared dead, its requests
// re-issued and its late results discarded as duplicates, each request returned exactly once;
// weights copied from the learner's memory when its handoff offers the announced version.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <thread>

#include "rollout/controller.h"
#include "test_protocol_fake_engine.h"
#include "tests/hand_written_message.h"

using namespace aha;
using namespace aha::test;

namespace {

// ThreadSanitizer slows byte loops ~30x and message handling ~100x: stretch the clocks under it.
#if defined(__SANITIZE_THREAD__)
constexpr int kSlow = 4;
#else
constexpr int kSlow = 1;
#endif

struct WorkerThread {
  FakeEngine eng;
  WorkerOptions opt;
  WorkerStats stats;
  std::atomic<bool> stop{false};
  int rc = -1;
  std::thread th;

  // num_params > 0: the engine also takes weights from a handoff (load_weights_from).
  void start(zmq::context_t& ctx, const std::string& endpoint, const std::string& id,
             long num_params = 0) {
    opt.connect = endpoint;
    opt.worker_id = id;
    opt.context = &ctx;
    opt.heartbeat_ms = 100;
    opt.controller_timeout_ms = 5000 * kSlow;
    opt.stop = &stop;
    opt.stats = &stats;
    EngineHooks hooks = fake_hooks(eng);
    if (num_params > 0) {
      hooks.load_weights_from = fake_load_weights_from;
      hooks.num_params = num_params;
    }
    th = std::thread([this, hooks] { rc = run_rollout_worker(opt, hooks); });
  }
};

WorkerInfo find_worker(Controller& c, const std::string& id) {
  for (const WorkerInfo& w : controller_workers(c))
    if (w.worker_id == id) return w;
  return WorkerInfo{};
}

GenRequest make_request(uint64_t id, uint64_t min_version) {
  GenRequest r;
  r.request_id = id;
  r.prompt_ids = {static_cast<int32_t>(id)};
  r.group_size = 2;
  r.seed = 77 + id * 104729;
  r.min_weights_version = min_version;
  return r;
}

// Polls until `n` distinct ids are in `seen` or the time is up.
void collect(Controller& c, std::map<uint64_t, int>& seen, std::vector<GenResult>& all, size_t n,
             int timeout_ms) {
  int64_t t0 = fake_now_ms();
  while (seen.size() < n && fake_now_ms() - t0 < timeout_ms) {
    std::vector<GenResult> got;
    controller_poll(c, 50, got);
    for (GenResult& r : got) {
      seen[r.request_id]++;
      all.push_back(std::move(r));
    }
  }
}

// The tests' controller on an inproc:// endpoint: quick heartbeats, weights in 16 KiB chunks.
ControllerOptions inproc_controller(zmq::context_t& ctx, const std::string& endpoint) {
  ControllerOptions co;
  co.endpoint = endpoint;
  co.context = &ctx;
  co.heartbeat_ms = 100;
  co.weights_chunk_size = 16u << 10;
  return co;
}

}  // namespace

TEST_CASE("controller and worker threads over inproc://") {
  zmq::context_t ctx(1);
  const std::string endpoint = "inproc://aha-protocol-test";
  ControllerOptions co = inproc_controller(ctx, endpoint);
  co.worker_timeout_ms = 800 * kSlow;
  co.test_corrupt_chunk = 5;
  ControllerPtr ctl = controller_create(co);

  WorkerThread w[2];
  w[1].eng.stall_ms = 2000 * kSlow;  // hangs on its first request, longer than the worker timeout
  w[0].start(ctx, endpoint, "thread-0");
  w[1].start(ctx, endpoint, "thread-1");
  REQUIRE(controller_wait_workers(*ctl, 2, 5000 * kSlow));

  // Garbage both ways.
  {
    zmq::socket_t raw(ctx, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 1000);
    raw.connect(endpoint);
    CHECK(send_frame(raw, "", std::string("\xde\xad\xbe\xef", 4)));
    CHECK(send_frame(raw, "", hand_written("heartbeat", {}, kProtocolVersion - 1)));
  }
  for (const char* id : {"thread-0", "thread-1"}) {
    controller_send_raw(*ctl, id, std::string("\x92\x01", 2));  // a truncated array
    controller_send_raw(*ctl, id,
                        hand_written("shutdown", {}, kProtocolVersion + 1));  // wrong version
  }

  // Weights v1 (256 KiB, 16 chunks, chunk 5 damaged once).
  controller_publish_weights(*ctl, 1, fake_weights(1, 256u << 10));
  REQUIRE(controller_wait_weights(*ctl, 1, 5000 * kSlow));
  CHECK(controller_stats(*ctl).chunks_sent == 2 * 16 + 1);

  // 30 requests on v1; thread-1 hangs on its first one and is declared dead meanwhile.
  std::map<uint64_t, int> seen;
  std::vector<GenResult> all;
  for (uint64_t i = 1; i <= 30; ++i) controller_submit(*ctl, make_request(i, 1));
  // A request that needs v2 waits for it without holding up the others.
  controller_submit(*ctl, make_request(100, 2));
  collect(*ctl, seen, all, 30, 10000 * kSlow);
  CHECK(seen.size() == 30);
  CHECK(seen.count(100) == 0);
  CHECK(controller_pending(*ctl) == 1);

  controller_publish_weights(*ctl, 2, fake_weights(2, (256u << 10) + 123));  // a short last chunk
  REQUIRE(controller_wait_weights(*ctl, 2, 5000 * kSlow));
  collect(*ctl, seen, all, 31, 5000 * kSlow);
  REQUIRE(seen.count(100) == 1);

  // The hung worker came back and sent its stale results: discarded as duplicates.
  int64_t t0 = fake_now_ms();
  while (controller_stats(*ctl).duplicates == 0 && fake_now_ms() - t0 < 5000 * kSlow) {
    std::vector<GenResult> extra;
    controller_poll(*ctl, 50, extra);
    CHECK(extra.empty());
  }
  ControllerStats st = controller_stats(*ctl);
  CHECK(st.duplicates >= 1);
  CHECK(st.reissued >= 1);
  CHECK(st.workers_died >= 1);
  CHECK(st.dropped >= 2);
  CHECK(st.completed == 31);
  t0 = fake_now_ms();  // it came back, and catches up with v2
  while (find_worker(*ctl, "thread-1").weights_version < 2 && fake_now_ms() - t0 < 5000 * kSlow)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(find_worker(*ctl, "thread-1").alive);
  CHECK(find_worker(*ctl, "thread-1").weights_version == 2);
  for (auto& [id, n] : seen) CHECK(n == 1);
  for (const GenResult& r : all) {
    uint64_t seed = 77 + r.request_id * 104729;
    REQUIRE(r.samples.size() == 2u);
    for (int g = 0; g < 2; ++g) CHECK(r.samples[g].completion == fake_tokens(seed, g));
    if (r.request_id == 100) {
      CHECK(r.weights_version == 2);
    } else {
      CHECK(r.weights_version >= 1);
    }
  }
  MESSAGE("reissued " << st.reissued << ", duplicates " << st.duplicates << ", dropped "
                      << st.dropped);

  // Worker 0 leaves by its stop flag (bye), worker 1 by the controller's shutdown.
  w[0].stop = true;
  w[0].th.join();
  CHECK(w[0].rc == 0);
  t0 = fake_now_ms();
  while (find_worker(*ctl, "thread-0").alive && fake_now_ms() - t0 < 2000)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK_FALSE(find_worker(*ctl, "thread-0").alive);
  controller_shutdown_workers(*ctl, "test done");
  w[1].th.join();
  CHECK(w[1].rc == 0);
  for (WorkerThread& wt : w) {
    CHECK(wt.stats.dropped >= 2);
    CHECK(wt.stats.weights_loaded == 2);
    CHECK(wt.eng.weights_ok);
    CHECK(wt.eng.weights_version == 2);
  }
  CHECK(w[0].stats.bad_chunks + w[1].stats.bad_chunks == 1);
  ctl.reset();
}

// A version's bytes as the learner's float buffer.
std::vector<float> as_params(const std::vector<uint8_t>& bytes) {
  std::vector<float> p(bytes.size() / sizeof(float));
  std::memcpy(p.data(), bytes.data(), bytes.size());
  return p;
}

// A controller on an inproc:// endpoint, the learner's handoff, and weights of 16 chunks.
struct HandoffRig {
  static constexpr size_t num_bytes = 256u << 10;
  static constexpr long num_params = static_cast<long>(num_bytes / sizeof(float));
  zmq::context_t ctx{1};
  std::string endpoint;
  ControllerPtr ctl;
  WeightsHandoff handoff;
  explicit HandoffRig(const std::string& e)
      : endpoint(e), ctl(controller_create(inproc_controller(ctx, e))) {}
};

TEST_CASE(
    "worker threads take weights from the learner's memory, the wire when it is not offered") {
  HandoffRig rig("inproc://aha-handoff-test");
  WorkerThread w[2];
  w[1].eng.fail_next_from = true;  // its first copy fails: that version comes by the wire
  for (int i = 0; i < 2; i++) {
    w[i].opt.handoff = &rig.handoff;
    w[i].start(rig.ctx, rig.endpoint, "thread-" + std::to_string(i), rig.num_params);
  }
  REQUIRE(controller_wait_workers(*rig.ctl, 2, 5000 * kSlow));
  auto publish = [&](uint64_t v) {
    controller_publish_weights(*rig.ctl, v, fake_weights(v, rig.num_bytes));
    REQUIRE(controller_wait_weights(*rig.ctl, v, 5000 * kSlow));
    return controller_stats(*rig.ctl).chunks_sent;
  };

  // v1 offered: thread-0 copies it; thread-1's copy fails and it fetches v1's 16 chunks.
  std::vector<float> mem = as_params(fake_weights(1, rig.num_bytes));
  weights_handoff_offer(rig.handoff, 1, mem.data(), rig.num_params, Device::kCpu);
  CHECK(publish(1) == 16);
  // The learner is updating (retracted): both fetch v2.
  weights_handoff_retract(rig.handoff);
  CHECK(publish(2) == 16 + 32);
  // v3 announced while v4 is already offered: a miss, fetched.
  mem = as_params(fake_weights(4, rig.num_bytes));
  weights_handoff_offer(rig.handoff, 4, mem.data(), rig.num_params, Device::kCpu);
  CHECK(publish(3) == 16 + 64);
  // v4 offered and announced: copied by both, nothing on the wire.
  CHECK(publish(4) == 16 + 64);
  // A weights_announce of another size than the engine's is never copied from memory.
  CHECK(weights_handoff_read(rig.handoff, 4, rig.num_params + 1, nullptr, nullptr) == false);

  // Samples name the version they were made with.
  std::map<uint64_t, int> seen;
  std::vector<GenResult> all;
  controller_submit(*rig.ctl, make_request(1, 4));
  collect(*rig.ctl, seen, all, 1, 5000 * kSlow);
  REQUIRE(all.size() == 1u);
  CHECK(all[0].weights_version == 4);

  controller_shutdown_workers(*rig.ctl, "test done");
  for (WorkerThread& wt : w) {
    wt.th.join();
    CHECK(wt.rc == 0);
    CHECK(wt.eng.weights_ok);  // every version, copied or fetched, byte for byte
    CHECK(wt.eng.weights_version == 4);
    CHECK(wt.stats.weights_loaded == 4);
  }
  CHECK(w[0].stats.weights_handed == 2);  // v1, v4
  CHECK(w[0].eng.loads_from == 2);
  CHECK(w[1].stats.weights_handed == 1);  // v4
  CHECK(w[1].eng.loads_from == 1);
  rig.ctl.reset();
}

TEST_CASE("a version announced without bytes: copied from memory; bytes attached when one misses") {
  HandoffRig rig("inproc://aha-on-demand-test");
  WorkerThread w[3];
  w[0].opt.handoff = &rig.handoff;
  w[0].start(rig.ctx, rig.endpoint, "thread-0", rig.num_params);
  w[1].opt.weights_stall_ms = 200;                // asks again soon once the bytes are there
  w[1].start(rig.ctx, rig.endpoint, "thread-1");  // no handoff: it needs the bytes
  REQUIRE(controller_wait_workers(*rig.ctl, 2, 5000 * kSlow));
  std::vector<float> mem = as_params(fake_weights(1, rig.num_bytes));
  weights_handoff_offer(rig.handoff, 1, mem.data(), rig.num_params, Device::kCpu);
  CHECK(controller_announce_weights(*rig.ctl, 1, rig.num_bytes).empty());
  // thread-0 copies it; thread-1 asks for chunks, which are not there yet.
  int64_t t0 = fake_now_ms();
  while (!controller_weights_wanted(*rig.ctl, 1) && fake_now_ms() - t0 < 5000 * kSlow)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(controller_weights_wanted(*rig.ctl, 1));
  t0 = fake_now_ms();
  while (find_worker(*rig.ctl, "thread-0").weights_version < 1 && fake_now_ms() - t0 < 5000 * kSlow)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(find_worker(*rig.ctl, "thread-0").weights_version == 1);
  CHECK_FALSE(controller_wait_weights(*rig.ctl, 1, 100));
  CHECK(controller_stats(*rig.ctl).chunks_sent == 0);
  // Only the announced version's own bytes are taken.
  CHECK_THROWS(controller_attach_weights(*rig.ctl, 1, fake_weights(1, rig.num_bytes - 4)));
  CHECK_THROWS(controller_attach_weights(*rig.ctl, 2, fake_weights(2, rig.num_bytes)));
  controller_attach_weights(*rig.ctl, 1, fake_weights(1, rig.num_bytes));
  REQUIRE(controller_wait_weights(*rig.ctl, 1, 5000 * kSlow));
  CHECK(controller_stats(*rig.ctl).chunks_sent == 16);  // thread-1's, once
  CHECK_FALSE(controller_weights_wanted(*rig.ctl, 1));
  CHECK_THROWS(
      controller_attach_weights(*rig.ctl, 1, fake_weights(1, rig.num_bytes)));  // held already
  // A published version next: the attached bytes come back for reuse.
  weights_handoff_retract(rig.handoff);
  CHECK(controller_publish_weights(*rig.ctl, 2, fake_weights(2, rig.num_bytes)).size() ==
        rig.num_bytes);
  REQUIRE(controller_wait_weights(*rig.ctl, 2, 5000 * kSlow));
  // A stale version is refused before anything of the current one changes: a worker joining now
  // still fetches v2's bytes.
  CHECK_THROWS_WITH(controller_publish_weights(*rig.ctl, 2, fake_weights(9, rig.num_bytes)),
                    doctest::Contains("not newer"));
  CHECK_THROWS_WITH(controller_announce_weights(*rig.ctl, 1, rig.num_bytes),
                    doctest::Contains("not newer"));
  w[2].start(rig.ctx, rig.endpoint, "thread-2");
  REQUIRE(controller_wait_workers(*rig.ctl, 3, 5000 * kSlow));
  REQUIRE(controller_wait_weights(*rig.ctl, 2, 5000 * kSlow));
  controller_shutdown_workers(*rig.ctl, "test done");
  for (WorkerThread& wt : w) {
    wt.th.join();
    CHECK(wt.eng.weights_ok);
    CHECK(wt.eng.weights_version == 2);
  }
  CHECK(w[0].stats.weights_handed == 1);
  CHECK(w[1].stats.weights_handed == 0);
  rig.ctl.reset();
}

TEST_CASE("the same over tcp:// with a worker on its own context") {
  ControllerOptions co;
  co.endpoint = "tcp://127.0.0.1:*";
  co.heartbeat_ms = 100;
  co.worker_timeout_ms = 1000 * kSlow;
  ControllerPtr ctl = controller_create(co);
  std::string url = controller_endpoint(*ctl);
  CHECK(url.rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK(url != co.endpoint);
  WorkerThread w;
  w.opt.connect = url;
  w.opt.worker_id = "tcp-0";
  w.opt.heartbeat_ms = 100;
  w.opt.stats = &w.stats;
  w.th = std::thread([&w] { w.rc = run_rollout_worker(w.opt, fake_hooks(w.eng)); });
  controller_publish_weights(*ctl, 1, {});  // empty weights are a valid version too
  REQUIRE(controller_wait_weights(*ctl, 1, 5000 * kSlow));
  // Submitted before any worker could hold v2: cancelled, never returned.
  controller_submit(*ctl, make_request(50, 2));
  CHECK(controller_cancel(*ctl, 50));
  CHECK_FALSE(controller_cancel(*ctl, 50));
  CHECK_FALSE(controller_cancel(*ctl, 51));
  for (uint64_t i = 1; i <= 10; ++i) controller_submit(*ctl, make_request(i, 1));
  std::map<uint64_t, int> seen;
  std::vector<GenResult> all;
  collect(*ctl, seen, all, 10, 10000 * kSlow);
  CHECK(seen.size() == 10);
  CHECK(seen.count(50) == 0);
  CHECK(controller_pending(*ctl) == 0);
  CHECK(controller_stats(*ctl).cancelled == 1);
  CHECK_THROWS(controller_submit(*ctl, make_request(50, 0)));  // ids are never reused
  for (const GenResult& r : all) {
    CHECK(r.worker_id == "tcp-0");
    CHECK(r.samples[1].completion == fake_tokens(77 + r.request_id * 104729, 1));
  }
  ctl.reset();  // sends shutdown to the live worker
  w.th.join();
  CHECK(w.rc == 0);
  CHECK(w.stats.results == 10);
  CHECK(w.eng.loads == 1);
}

TEST_CASE("a worker exits when the controller goes silent") {
  zmq::context_t ctx(1);
  FakeEngine eng;
  WorkerOptions o;
  o.connect = "inproc://aha-nobody-home";
  o.context = &ctx;
  o.heartbeat_ms = 20;
  o.controller_timeout_ms = 200;
  int64_t t0 = fake_now_ms();
  CHECK(run_rollout_worker(o, fake_hooks(eng)) == 2);
  CHECK(fake_now_ms() - t0 >= 200);
}

TEST_CASE("bad options are refused") {
  FakeEngine eng;
  WorkerOptions o;
  o.connect = "inproc://x";  // inproc without a context
  CHECK(run_rollout_worker(o, fake_hooks(eng)) == 1);
  EngineHooks none;
  o.connect = "tcp://127.0.0.1:1";
  CHECK(run_rollout_worker(o, none) == 1);
  ControllerOptions co;
  co.endpoint = "bogus://nowhere";
  CHECK_THROWS(controller_create(co));
  co.endpoint = "inproc://ok";
  co.worker_timeout_ms = co.heartbeat_ms;
  CHECK_THROWS(controller_create(co));
}
