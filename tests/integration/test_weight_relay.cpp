// The weight relay tree (rollout/weight_relay.h) with one controller and six rollout worker
// PROCESSES on 127.0.0.1, CURVE on every socket, fan-out 2: every worker ends with the published
// bytes (checked byte by byte against an independent generator) of the right version, rank 0
// sends each chunk at most fan-out times, and a relaying worker SIGKILLed mid-broadcast does not
// stall the others. A skipped case (`--no-skip -tc=bench*`) times star against tree for
// experiments/scaling.md.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "rollout/auth.h"
#include "rollout/controller.h"
#include "rollout/weight_relay.h"
#include "test_protocol_fake_engine.h"

using namespace aha;
using namespace aha::test;
namespace fs = std::filesystem;

namespace {

int64_t ms_since(int64_t t0) {
  return fake_now_ms() - t0;
}

// A free TCP port on 127.0.0.1 (bound and released; the controller binds it right after).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

struct Keys {
  CurveKeyPair server;
  std::vector<CurveKeyPair> workers;
};

// The bench's engine: loading only hashes the bytes (the test's engine checks every byte).
struct HashEngine {
  uint64_t version = 0, hash = 0;
};
int hash_capacity(void*) {
  return 1;
}
void hash_submit(void*, const GenRequest&) {}
int hash_poll(void*, std::vector<GenResult>&) {
  return 0;
}
void hash_load(void* ctx, const uint8_t* bytes, size_t n, uint64_t version) {
  auto* e = static_cast<HashEngine*>(ctx);
  e->version = version;
  e->hash = fnv1a64(bytes, n);
}

// Child side: a worker with a relay socket; writes its stats and exits without returning to
// doctest.
[[noreturn]] void worker_child(const std::string& endpoint, const std::string& id, const Keys& keys,
                               int k, bool check_bytes, const std::string& stats_path) {
  FakeEngine eng;
  HashEngine heng;
  const EngineHooks hooks = check_bytes ? fake_hooks(eng)
                                        : EngineHooks{.ctx = &heng,
                                                      .capacity = hash_capacity,
                                                      .submit = hash_submit,
                                                      .poll = hash_poll,
                                                      .load_weights = hash_load};
  WorkerOptions o;
  o.connect = endpoint;
  o.worker_id = id;
  o.heartbeat_ms = 200;
  o.controller_timeout_ms = 10000;
  o.weights_stall_ms = 4000;  // generous: a starved parent is not a dead one
  o.weights_window = 8;
  o.relay_bind = "tcp://127.0.0.1:*";
  o.curve_server_key = keys.server.public_key;
  o.curve_public_key = keys.workers[static_cast<size_t>(k)].public_key;
  o.curve_secret_key = keys.workers[static_cast<size_t>(k)].secret_key;
  WorkerStats st;
  o.stats = &st;
  int rc = run_rollout_worker(o, hooks);
  std::ofstream f(stats_path);
  f << rc << " " << st.bad_chunks << " " << st.bad_weights << " " << st.weights_loaded << " "
    << (check_bytes ? eng.weights_ok : 1) << " "
    << (check_bytes ? eng.weights_version : heng.version) << " " << st.chunks_from_parent << " "
    << st.chunks_relayed << " " << st.relay_fallbacks << "\n";
  f.close();
  _exit(rc == 0 ? 0 : 10 + rc);
}

struct Cluster {
  Keys keys;
  std::vector<pid_t> pids;
  std::vector<std::string> ids;
  fs::path dir;
  std::unique_ptr<zmq::context_t> ctx;
  ZapHandlerPtr zap;
  ControllerPtr ctl;
};

// Forks the workers first (no threads exist yet), then starts the controller they connect to.
void start(Cluster& cl, int num_workers, int fanout, uint32_t chunk, bool check_bytes) {
  cl.dir = fs::temp_directory_path() / ("aha-relay-" + std::to_string(getpid()));
  fs::remove_all(cl.dir);
  fs::create_directories(cl.dir);
  cl.keys.server = curve_keygen();
  for (int k = 0; k < num_workers; ++k) cl.keys.workers.push_back(curve_keygen());
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
  for (int k = 0; k < num_workers; ++k) {
    std::string id = "w" + std::to_string(k);
    cl.ids.push_back(id);
    std::string stats = (cl.dir / (id + ".stats")).string();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) worker_child(endpoint, id, cl.keys, k, check_bytes, stats);
    cl.pids.push_back(pid);
  }
  cl.ctx = std::make_unique<zmq::context_t>(1);
  std::vector<std::string> allowed;
  for (const CurveKeyPair& k : cl.keys.workers) allowed.push_back(k.public_key);
  cl.zap = zap_start(*cl.ctx, allowed, "");
  ControllerOptions co;
  co.endpoint = endpoint;
  co.context = cl.ctx.get();
  co.heartbeat_ms = 200;
  co.worker_timeout_ms = 1500;
  co.weights_chunk_size = chunk;
  co.broadcast_fanout = fanout;
  co.curve_secret_key = cl.keys.server.secret_key;
  cl.ctl = controller_create(co);
  REQUIRE(controller_wait_workers(*cl.ctl, num_workers, 30000));
  // Every worker has offered its relay and been placed in the tree.
  int64_t t0 = fake_now_ms();
  while (fanout > 0 && controller_stats(*cl.ctl).relay_nodes < static_cast<uint64_t>(num_workers) &&
         ms_since(t0) < 20000)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (fanout > 0)
    REQUIRE(controller_stats(*cl.ctl).relay_nodes == static_cast<uint64_t>(num_workers));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // plans reach the workers
}

// Stops the workers; returns each one's stats line (empty for a killed one).
std::vector<std::vector<uint64_t>> stop(Cluster& cl) {
  // Shutdown goes to live workers only: one declared dead on a starved machine re-registers with
  // its next heartbeat, so keep asking until every process is gone (then SIGKILL after 30 s).
  std::vector<bool> gone(cl.pids.size(), false);
  for (int64_t t0 = fake_now_ms();;) {
    controller_shutdown_workers(*cl.ctl, "test over");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    bool all = true;
    for (size_t i = 0; i < cl.pids.size(); ++i) {
      int status = 0;
      if (!gone[i]) gone[i] = waitpid(cl.pids[i], &status, WNOHANG) == cl.pids[i];
      all = all && gone[i];
    }
    if (all) break;
    if (ms_since(t0) > 30000) {
      for (size_t i = 0; i < cl.pids.size(); ++i)
        if (!gone[i]) kill(cl.pids[i], SIGKILL);
    }
  }
  std::vector<std::vector<uint64_t>> out;
  for (size_t i = 0; i < cl.pids.size(); ++i) {
    std::vector<uint64_t> v;
    std::ifstream f(cl.dir / (cl.ids[i] + ".stats"));
    uint64_t x;
    while (f >> x) v.push_back(x);
    out.push_back(v);
  }
  cl.ctl.reset();
  cl.zap.reset();
  cl.ctx.reset();
  fs::remove_all(cl.dir);
  return out;
}

}  // namespace

TEST_CASE("relay tree: shape") {
  CHECK(relay_tree(3, 0) == std::vector<int>{-1, -1, -1});
  CHECK(relay_tree(7, 2) == std::vector<int>{-1, -1, 0, 0, 1, 1, 2});
  CHECK(relay_tree(4, 1) == std::vector<int>{-1, 0, 1, 2});  // a chain
  CHECK(relay_tree(5, 3) == std::vector<int>{-1, -1, -1, 0, 0});
}

TEST_CASE("relay messages round-trip") {
  RelayPlan p;
  p.parent_id = "w3";
  p.parent_endpoint = "tcp://10.0.0.2:4100";
  p.parent_key = std::string(40, 'k');
  p.child_keys = {std::string(40, 'a'), std::string(40, 'b')};
  RelayPlan q;
  std::string err, bytes = encode(p);
  REQUIRE(decode_bytes(bytes.data(), bytes.size(), q, err));
  CHECK(q.parent_id == p.parent_id);
  CHECK(q.parent_endpoint == p.parent_endpoint);
  CHECK(q.parent_key == p.parent_key);
  CHECK(q.child_keys == p.child_keys);
  RelayOffer o{"tcp://127.0.0.1:5000", std::string(40, 'z')}, o2;
  bytes = encode(o);
  REQUIRE(decode_bytes(bytes.data(), bytes.size(), o2, err));
  CHECK(o2.endpoint == o.endpoint);
  CHECK(o2.public_key == o.public_key);
  CHECK_FALSE(decode_bytes(bytes.data(), bytes.size() - 3, o2, err));  // truncated
  CHECK_FALSE(decode_bytes(bytes.data(), bytes.size(), q, err));       // wrong type
}

// A relay socket serves only the children the controller named: an unknown key gets nothing.
TEST_CASE("relay socket: CURVE admits only the named children") {
  spdlog::set_level(spdlog::level::err);
  if (!curve_available()) {
    MESSAGE("libzmq without CURVE");
    return;
  }
  const CurveKeyPair parent_key = curve_keygen(), child_key = curve_keygen();
  zmq::context_t parent_ctx(1), child_ctx(1);
  WeightRelayPtr relay = relay_start(parent_ctx, "tcp://127.0.0.1:*", parent_key);
  // The parent holds version 3: 3 chunks of 4 bytes.
  const std::vector<uint8_t> bytes = fake_weights(3, 12);
  std::vector<uint8_t> have(3, 1);
  std::vector<uint64_t> sums;
  for (int i = 0; i < 3; ++i) sums.push_back(checksum64(bytes.data() + 4 * i, 4));
  WeightsAnnounce ann{3, 12, weights_checksum(sums), 4};
  RelayView held{&ann, bytes.data(), have.data(), sums.data(), 3}, none;
  // The child connects before the parent admits it, as when its plan arrives before the parent's.
  zmq::socket_t s(child_ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::routing_id, "child");
  curve_make_client(s, child_key, parent_key.public_key);
  s.set(zmq::sockopt::handshake_ivl, kRelayHandshakeMs);
  s.connect(relay_endpoint(*relay));
  auto ask = [&](int ms) {  // asks for chunk 1 (again every 500 ms); returns the reply or ""
    std::string peer, reply, err;
    int64_t last_ask = -1000;
    for (int64_t t0 = fake_now_ms(); ms_since(t0) < ms;) {
      if (ms_since(t0) - last_ask >= 500) {
        send_frame(s, "", encode(WeightsGet{3, 1}));
        last_ask = ms_since(t0);
      }
      relay_serve(*relay, none, held);
      if (recv_frame(s, false, peer, reply, err) == 1) return reply;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::string();
  };
  CHECK(ask(1500).empty());  // not admitted: the handshake is refused
  CHECK(relay_stats(*relay).chunks_sent == 0);
  // Admitted later: the same socket gets in (the refusal was temporary, so it reconnected).
  relay_allow(*relay, {child_key.public_key});
  std::string reply = ask(5000);
  WeightsChunk ch;
  std::string err;
  REQUIRE(decode_bytes(reply.data(), reply.size(), ch, err));
  CHECK(ch.weights_version == 3);
  CHECK(ch.chunk_idx == 1);
  CHECK(ch.checksum == sums[1]);
  CHECK(ch.data == std::vector<uint8_t>(bytes.begin() + 4, bytes.begin() + 8));
  relay.reset();
}

TEST_CASE("relay tree: six workers, fan-out 2, a relaying worker killed mid-broadcast") {
  spdlog::set_level(spdlog::level::warn);
  if (!curve_available()) {
    MESSAGE("libzmq without CURVE");
    return;
  }
  constexpr int kWorkers = 6, kFanout = 2;
  constexpr uint32_t kChunk = 128u << 10;
  constexpr size_t kBytes = 16u << 20;  // 16 MiB = 128 chunks
  constexpr uint64_t kNumChunks = (kBytes + kChunk - 1) / kChunk;
  Cluster cl;
  start(cl, kWorkers, kFanout, kChunk, true);

  // v1, one chunk, warms the tree up: every worker has its plan and its parent connection once
  // it holds v1 (a fixed wait for the plans was not enough on a starved machine).
  int64_t t0 = fake_now_ms();
  controller_publish_weights(*cl.ctl, 1, fake_weights(1, kChunk));
  REQUIRE(controller_wait_weights(*cl.ctl, 1, 30000));
  const uint64_t sent_v1 = controller_stats(*cl.ctl).chunks_sent;
  const uint64_t plans_v1 = controller_stats(*cl.ctl).relay_plans;

  // v2 with every worker up: rank 0 serves each chunk to its two children only.
  t0 = fake_now_ms();
  controller_publish_weights(*cl.ctl, 2, fake_weights(2, kBytes));
  REQUIRE(controller_wait_weights(*cl.ctl, 2, 30000));
  const uint64_t sent_v2 = controller_stats(*cl.ctl).chunks_sent;
  const bool replanned = controller_stats(*cl.ctl).relay_plans != plans_v1;
  MESSAGE("v2 to " << kWorkers << " workers in " << ms_since(t0) << " ms; rank 0 sent "
                   << sent_v2 - sent_v1 << " chunks of " << kNumChunks);
  // A worker declared dead under CPU starvation re-plans the tree mid-version, and its children
  // fetch from rank 0 for a while: the bound holds for a tree that stayed as it was.
  if (replanned) MESSAGE("the tree was re-planned during v2 (a worker starved): bound not checked");
  CHECK((replanned || sent_v2 - sent_v1 <= kFanout * kNumChunks));
  for (const WorkerInfo& w : controller_workers(*cl.ctl)) CHECK(w.weights_version == 2);

  // v3: w0 (parent of w2 and w3) is killed once rank 0 has sent a quarter of the version.
  t0 = fake_now_ms();
  controller_publish_weights(*cl.ctl, 3, fake_weights(3, kBytes));
  while (controller_stats(*cl.ctl).chunks_sent < sent_v2 + kNumChunks / 2 && ms_since(t0) < 30000)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(kill(cl.pids[0], SIGKILL) == 0);
  const int64_t killed_at = ms_since(t0);
  REQUIRE(controller_wait_weights(*cl.ctl, 3, 30000));
  const int64_t v3_ms = ms_since(t0);
  MESSAGE("v3: w0 killed at " << killed_at << " ms; the other five hold v3 at " << v3_ms
                              << " ms; rank 0 sent "
                              << controller_stats(*cl.ctl).chunks_sent - sent_v2 << " chunks");
  // Stall timeout (4 s) + death timeout (1.5 s) + the transfer: well under the wait's limit.
  CHECK(v3_ms < 15000);
  int live = 0;
  for (const WorkerInfo& w : controller_workers(*cl.ctl)) {
    if (w.worker_id == "w0") {
      CHECK_FALSE(w.alive);
      continue;
    }
    live += w.alive;
    CHECK(w.weights_version == 3);
  }
  CHECK(live == kWorkers - 1);

  // Every sample says which version produced it.
  for (uint64_t id = 1; id <= 10; ++id) {
    GenRequest req;
    req.request_id = id;
    req.prompt_ids = {1, 2, 3};
    req.group_size = 2;
    req.seed = id;
    req.min_weights_version = 3;
    controller_submit(*cl.ctl, req);
  }
  std::vector<GenResult> results;
  t0 = fake_now_ms();
  while (results.size() < 10 && ms_since(t0) < 20000) controller_poll(*cl.ctl, 200, results);
  REQUIRE(results.size() == 10);
  for (const GenResult& r : results) CHECK(r.weights_version == 3);

  std::vector<std::vector<uint64_t>> st = stop(cl);
  uint64_t from_parent = 0, relayed = 0;
  for (size_t i = 1; i < st.size(); ++i) {
    INFO("worker " << cl.ids[i]);
    REQUIRE(st[i].size() == 9);
    CHECK(st[i][0] == 0);  // clean exit
    CHECK(st[i][2] == 0);  // no assembled version ever failed its checksum
    CHECK(st[i][3] == 3);  // loaded v1, v2 and v3
    CHECK(st[i][4] == 1);  // every byte as published
    CHECK(st[i][5] == 3);
    from_parent += st[i][6];
    relayed += st[i][7];
  }
  // w2..w5 got v2 from their parents (4 x 128 chunks) and much of v3; w1 relayed v2 to w4, w5.
  CHECK(from_parent >= 4 * kNumChunks);
  CHECK(relayed >= 2 * kNumChunks);
  // The children of w0 fell back (stall) or were re-parented.
  MESSAGE("w2 fallbacks " << st[2][8] << ", w3 fallbacks " << st[3][8]);
}

TEST_CASE("relay tree: star vs tree timing" * doctest::skip()) {
  spdlog::set_level(spdlog::level::warn);
  const char* mb = std::getenv("AHA_RELAY_BENCH_MB");
  const size_t bytes = (mb ? std::stoul(mb) : 64) << 20;
  const uint32_t chunk = 1u << 20;
  std::printf("%-6s %-3s %-7s %12s %16s\n", "fanout", "N", "MiB", "deliver_ms", "rank0_MiB_sent");
  const char* only_n = std::getenv("AHA_RELAY_BENCH_N");  // one worker count (default 4, 6, 8)
  for (int n = 4; n <= 8; n += 2) {
    if (only_n && n != std::atoi(only_n)) continue;
    for (int fanout : {0, 2}) {
      Cluster cl;
      start(cl, n, fanout, chunk, false);
      std::vector<uint8_t> blob = fake_weights(7, bytes);
      int64_t t0 = fake_now_ms();
      controller_publish_weights(*cl.ctl, 1, std::move(blob));
      REQUIRE(controller_wait_weights(*cl.ctl, 1, 120000));
      int64_t ms = ms_since(t0);
      uint64_t sent = controller_stats(*cl.ctl).chunks_sent;
      std::printf("%-6d %-3d %-7zu %12lld %16.0f\n", fanout, n, bytes >> 20,
                  static_cast<long long>(ms), static_cast<double>(sent) * chunk / (1 << 20));
      std::fflush(stdout);
      stop(cl);
    }
  }
}
