// Hostile peers against `aha train`: a fake rollout worker and a fake reward worker written here,
// speaking the protocol with an authorized key (a compromised worker), send every kind of forged
// result. The run must finish, no forged sample may reach the database, and every refusal must be
// counted (per step and per worker in steps.metrics). Also: an unknown CURVE key is refused, a
// result from a worker the request was not sent to is refused, and ipc:// sockets are owner-only.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>

#include "rollout/controller.h"
#include "rollout/log/rundb.h"
#include "tests/integration/peers_util.h"
#include "tests/test_util.h"

using namespace aha;
using namespace aha::test;
namespace fs = std::filesystem;

namespace {

// The built-in base model: vocabulary 103, 4 routed experts, top-2, 2 MoE layers.
constexpr int kVocab = 103, kExperts = 4, kTopK = 2, kMoeLayers = 2;
constexpr int kMaxNew = 4;

std::vector<std::string> micro_run(const std::string& dir, int steps) {
  std::vector<std::string> args = {AHA_BINARY, "train"};
  for (const std::string& a : tiny_add_sets()) args.push_back(a);
  std::vector<std::string> micro = {
      "--run-dir",
      dir,
      "--set",
      "run.steps=" + std::to_string(steps),
      "--set",
      "rollout.prompts_per_step=2",
      "--set",
      "rollout.group_size=2",
      "--set",
      "rollout.max_new_tokens=" + std::to_string(kMaxNew),
      "--set",
      "tasks.eval_prompts=0",  // every request belongs to a step, so every refusal is logged
      "--set",
      "run.eval_every=0",
      "--set",
      "run.checkpoint_every=0",
      "--set",
      "run.progress=false",
      "--set",
      "run.worker_deadline_s=60"};
  args.insert(args.end(), micro.begin(), micro.end());
  return args;
}

// A forged sample that is valid apart from what a trick breaks; its tokens are a marker that the
// test then looks for in the database.
Sample marker_sample(size_t prompt_len, bool routing) {
  Sample s;
  s.completion = {kVocab - 1, 0, kVocab - 1, 0};
  s.rollout_logp = {-1, -1, -1, -1};
  s.finish_reason = "length";
  if (routing) {
    s.routing_num_layers = kMoeLayers;
    s.routing_top_k = kTopK;
    s.routing.assign((prompt_len + 4) * kMoeLayers * kTopK, 1);
  }
  return s;
}

constexpr int kNumTricks = 14;

// Trick k applied to a result for `req` (or raw bytes in `raw`).
GenResult forge(int k, const GenRequest& req, uint64_t version, std::string& raw) {
  GenResult g;
  g.request_id = req.request_id;
  g.worker_id = "someone-else";  // a claimed id must not matter
  g.weights_version = version;
  for (int i = 0; i < req.group_size; i++)
    g.samples.push_back(marker_sample(req.prompt_ids.size(), req.return_routing));
  Sample& s0 = g.samples[0];
  switch (k) {
    case 0:
      s0.completion[1] = kVocab;
      break;  // outside the vocabulary
    case 1:
      s0.completion[1] = -7;
      break;  // negative id
    case 2:
      g.samples.pop_back();
      break;  // G - 1 samples
    case 3:
      g.samples.push_back(g.samples[0]);
      break;  // G + 1 samples
    case 4:   // 5,001 tokens
      s0.completion.assign(5001, 1);
      s0.rollout_logp.assign(5001, -1.0f);
      break;
    case 5:
      s0.routing.pop_back();
      break;  // routing of the wrong size
    case 6:   // expert id out of range
      if (!s0.routing.empty())
        s0.routing[3] = kExperts;
      else
        s0.completion[0] = kVocab + 5;
      break;
    case 7:
      g.weights_version = 999;
      break;  // a version never published
    case 8:
      s0.rollout_logp[2] = NAN;
      break;
    case 9:
      s0.rollout_logp[2] = 0.5f;
      break;  // log-prob > 0
    case 10:
      g.request_id += 1000000;
      break;  // a request never made
    case 11:
      raw = "\xc1\xc1 garbage";
      break;  // undecodable
    case 12:
      s0.trunc_logp = {-1, NAN, -1, -1};
      break;
    case 13:
      s0.finish_reason = "done, trust me";
      break;
  }
  return g;
}

struct FakeRollout {
  std::atomic<bool> stop{false};
  std::atomic<int> forged{0};
  std::atomic<bool> got_shutdown{false};
  std::string shutdown_reason;
};

// Registers, acknowledges every announced version without fetching it, and answers every request
// with the next trick.
void fake_rollout_worker(FakeRollout& f, const std::string& endpoint, const std::string& run_dir) {
  REQUIRE(wait_until([&] { return fs::exists(run_dir + "/keys/worker.key"); }, 60));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  FakePeer p(endpoint, "fake", curve_key_read(run_dir + "/keys/server.pub").public_key,
             curve_key_read(run_dir + "/keys/worker.key"));
  // Claims the most room, so the controller prefers it, and a forged weights version (ignored).
  p.send_ready(1000, 12345);
  int trick = 0;
  double last_hb = now_s();
  while (!f.stop) {
    p.heartbeat_every(0.5, last_hb, 1000);
    Message msg;
    std::string bytes, err;
    if (!p.recv(msg, bytes, 50)) continue;
    if (msg.type == MsgType::WeightsAnnounce) {
      WeightsAnnounce a;
      REQUIRE(decode(msg, a, err));
      p.send_ack(a.weights_version + 50);  // unpublished: refused, counted
      f.forged++;
      p.send_ack(a.weights_version);
    } else if (msg.type == MsgType::GenRequest) {
      GenRequest req;
      REQUIRE(decode(msg, req, err));
      std::string raw;
      GenResult g = forge(trick % kNumTricks, req, req.min_weights_version, raw);
      trick++;
      f.forged++;
      if (g.request_id != req.request_id || trick % kNumTricks == 6) {
        // Results that do not name the request, or do not decode (routing of the wrong size):
        p.send(encode(g));
        // Then a forged answer to the real request, so it is let go (else only its timeout would).
        std::string ignored;
        GenResult g2 = forge(0, req, req.min_weights_version, ignored);
        f.forged++;
        p.send(encode(g2));
      } else if (!raw.empty()) {
        p.send(raw);
        // The garbage stands for a result: send a forged one too, so the request is let go.
        std::string ignored;
        GenResult g2 = forge(0, req, req.min_weights_version, ignored);
        f.forged++;
        p.send(encode(g2));
      } else {
        p.send(encode(g));
      }
    } else if (msg.type == MsgType::Shutdown) {
      ShutdownMsg s;
      REQUIRE(decode(msg, s, err));
      f.shutdown_reason = s.reason;
      f.got_shutdown = true;
      return;
    }
  }
}

struct DbSummary {
  int64_t rejected_total = 0;
  nlohmann::json by_worker;
  size_t samples = 0, forged_samples = 0;
  bool all_valid = true;
};

DbSummary read_db(const std::string& dir, int max_version) {
  DbSummary d;
  RunDb db = rundb_open(dir, false);
  for (const StepRow& s : rundb_read_steps(db, 0)) {
    nlohmann::json m = nlohmann::json::parse(s.metrics_json);
    d.rejected_total += m.value("rejected_results", 0);
    d.by_worker = m["rejected_by_worker"];
  }
  SampleQuery q;
  q.with_tokens = true;
  for (const Sample& s : rundb_read_samples(db, q)) {
    d.samples++;
    const std::vector<int32_t> marker = {kVocab - 1, 0, kVocab - 1, 0};
    if (s.completion == marker) d.forged_samples++;
    if (s.completion.size() > static_cast<size_t>(kMaxNew)) d.all_valid = false;
    for (int32_t id : s.completion) d.all_valid &= id >= 0 && id < kVocab;
    for (float lp : s.rollout_logp) d.all_valid &= std::isfinite(lp) && lp <= 1e-4f;
    d.all_valid &=
        std::isfinite(s.reward) && s.weight_version >= 1 && s.weight_version <= max_version;
  }
  return d;
}

int free_port() {
  return free_tcp_port();
}

// The trainer with no worker of its own; the fake connects first and takes every request until
// it has forged `honest_after` results (or is disconnected); then an honest `aha rollout-worker`
// process joins and the run finishes.
void run_against_fake(const std::string& tmp, const std::string& dir, int port, int steps,
                      const std::string& max_bad, int honest_after, FakeRollout& f, Child& c) {
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  std::vector<std::string> args = micro_run(dir, steps);
  args.insert(args.end(), {"--listen", endpoint, "--set", "rollout.workers=0", "--set",
                           "rollout.max_bad_results=" + max_bad});
  start_child(c, args, tmp + "/log");
  std::thread t([&] { fake_rollout_worker(f, endpoint, dir); });
  wait_until([&] { return f.forged >= honest_after || f.got_shutdown; }, 20);
  MESSAGE("fake forged " << f.forged.load() << " before the honest worker");
  Child honest;
  start_child(honest,
              {AHA_BINARY, "rollout-worker", "--connect", endpoint, "--model",
               std::string(AHA_SOURCE_DIR) + "/experiments/base-arith", "--id", "honest",
               "--server-key", dir + "/keys/server.pub", "--key", dir + "/keys/worker.key"},
              tmp + "/honest.log");
  const bool ended = c.wait(getenv("AHA_DEBUG_WAIT") ? 30 : 240);
  f.stop = true;
  t.join();
  const std::string logs = c.log() + "\n--- honest worker:\n" + honest.log();
  REQUIRE_MESSAGE(ended, logs);
  REQUIRE_MESSAGE(c.rc == 0, c.log());
  CHECK(honest.wait(30));
}

}  // namespace

TEST_CASE("a compromised rollout worker: every forged result refused and counted, none logged") {
  TempDir tmp("aha_hostile_rollout");
  fs::create_directories(tmp.path);
  const std::string dir = tmp.str() + "/run";
  FakeRollout f;
  Child c;
  run_against_fake(tmp.str(), dir, free_port(), 4, "100000", 3 * kNumTricks, f, c);
  CHECK(c.log().find("CURVE on") != std::string::npos);
  DbSummary d = read_db(dir, 5);
  MESSAGE("forged " << f.forged.load() << ", refused (logged) " << d.rejected_total << ", samples "
                    << d.samples);
  CHECK(f.forged >= 3 * kNumTricks);
  CHECK(d.samples == 4 * 2 * 2);
  CHECK(d.forged_samples == 0);
  CHECK(d.all_valid);
  CHECK(d.by_worker.value("fake", 0) == f.forged);
  // Per step: all but the forged ack of the first weights, which came before step 1.
  CHECK(d.rejected_total == f.forged - 1);
}

TEST_CASE("a worker that keeps sending bad results is disconnected; the run goes on") {
  TempDir tmp("aha_hostile_ban");
  fs::create_directories(tmp.path);
  const std::string dir = tmp.str() + "/run";
  FakeRollout f;
  Child c;
  run_against_fake(tmp.str(), dir, free_port(), 2, "3", 1000000, f, c);
  CHECK(f.got_shutdown);
  CHECK(f.shutdown_reason.find("disconnected") != std::string::npos);
  DbSummary d = read_db(dir, 3);
  CHECK(d.forged_samples == 0);
  CHECK(d.by_worker.value("fake", 0) == 3);
  CHECK(c.log().find("disconnecting worker fake") != std::string::npos);
}

TEST_CASE("an unknown CURVE key is refused; ipc:// sockets are owner-only") {
  TempDir tmp("aha_hostile_key");
  fs::create_directories(tmp.path);
  const std::string dir = tmp.str() + "/run";
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
  // A run long enough to be listening while the strangers knock (a run of one step can end
  // before their handshakes reach it); stopped once the refusal is logged.
  std::vector<std::string> args = micro_run(dir, 100000);
  args.insert(args.end(), {"--listen", endpoint});
  Child c;
  start_child(c, args, tmp.str() + "/log");
  REQUIRE(wait_until([&] { return fs::exists(dir + "/keys/server.pub"); }, 60));
  // The server key's file is public, the run's secret keys owner-only.
  struct stat st {};
  REQUIRE(stat((dir + "/keys/server.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  REQUIRE(stat((dir + "/keys").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  int heard = 0;
  {
    FakePeer p(endpoint, "stranger", curve_key_read(dir + "/keys/server.pub").public_key,
               curve_keygen());
    p.send_ready(4);
    heard += p.count_heard(20, 100);
  }
  {  // and a plain (non-CURVE) client gets nothing either
    FakePeer p(endpoint, "plain");
    p.send_ready(4);
    heard += p.count_heard(10, 100);
  }
  CHECK(heard == 0);
  CHECK_MESSAGE(c.log_shows("auth: refused a CURVE client", 60), c.log());
  // A real worker whose key is not allowed gives up saying where its key belongs.
  const std::string key = tmp.str() + "/stranger.key";
  int rc = 0;
  const std::string out = run_command(std::string(AHA_BINARY) + " keygen --out " + key, &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  Child w;
  start_child(w,
              {AHA_BINARY, "rollout-worker", "--connect", endpoint, "--model",
               std::string(AHA_SOURCE_DIR) + "/experiments/base-arith", "--server-key",
               dir + "/keys/server.pub", "--key", key},
              tmp.str() + "/stranger.log");
  REQUIRE_MESSAGE(w.wait(60), w.log());
  CHECK(w.rc == 2);
  CHECK_MESSAGE(w.log().find("RUN_DIR/authorized_keys") != std::string::npos, w.log());
  kill(c.pid, SIGTERM);
  REQUIRE_MESSAGE(c.wait(60), c.log());
  CHECK_MESSAGE(c.rc == 130, c.log());  // interrupted, as asked

  // ipc://: the socket directory 0700 and the socket 0600.
  Child c2;
  std::vector<std::string> args2 = micro_run(tmp.str() + "/run2", 1);
  args2.insert(args2.end(), {"--workers", "1"});
  start_child(c2, args2, tmp.str() + "/log2");
  REQUIRE(wait_until([&] { return fs::exists(tmp.str() + "/run2/ipc/rollout.sock"); }, 60));
  REQUIRE(stat((tmp.str() + "/run2/ipc").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  REQUIRE(stat((tmp.str() + "/run2/ipc/rollout.sock").c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  REQUIRE(c2.wait(240));
  CHECK_MESSAGE(c2.rc == 0, c2.log());
}

TEST_CASE("a result is accepted only from the worker its request was sent to") {
  zmq::context_t ctx(1);
  ControllerOptions co;
  co.context = &ctx;
  co.endpoint = "inproc://aha-hostile-unsolicited";
  co.max_bad_results = 100;
  ControllerPtr ctl = controller_create(co);
  // inproc needs the controller's context: two DEALERs on it.
  zmq::socket_t sa(ctx, zmq::socket_type::dealer), sb(ctx, zmq::socket_type::dealer);
  sa.set(zmq::sockopt::routing_id, "A");
  sb.set(zmq::sockopt::routing_id, "B");
  sa.connect(co.endpoint);
  sb.connect(co.endpoint);
  ReadyMsg ra;
  ra.worker_id = "A";
  ra.capacity = 1;
  send_frame(sa, "", encode(ra));
  REQUIRE(controller_wait_workers(*ctl, 1, 5000));
  controller_publish_weights(*ctl, 1, std::vector<uint8_t>(16, 0));
  // A acks; B registers only after the request went to A.
  std::string peer, bytes, err;
  WeightsAck ack;
  ack.weights_version = 1;
  send_frame(sa, "", encode(ack));
  REQUIRE(controller_wait_weights(*ctl, 1, 5000));
  GenRequest q;
  q.request_id = 7;
  q.prompt_ids = {1, 2};
  q.group_size = 2;
  q.min_weights_version = 1;
  controller_submit(*ctl, q);
  // A receives it.
  bool got = wait_until(
      [&] {
        Message m;
        while (recv_frame(sa, false, peer, bytes, err) == 1)
          if (parse_message(bytes.data(), bytes.size(), m, err) && m.type == MsgType::GenRequest)
            return true;
        return false;
      },
      5);
  REQUIRE(got);
  ReadyMsg rb;
  rb.worker_id = "B";
  rb.capacity = 1;
  send_frame(sb, "", encode(rb));
  REQUIRE(controller_wait_workers(*ctl, 2, 5000));
  GenResult r;
  r.request_id = 7;
  r.weights_version = 1;
  r.samples.resize(2);
  send_frame(sb, "", encode(r));  // B answers A's request
  REQUIRE(wait_until([&] { return controller_stats(*ctl).unsolicited == 1; }, 5));
  CHECK(controller_pending(*ctl) == 1);
  send_frame(sa, "", encode(r));  // A's own answer is taken
  std::vector<GenResult> out;
  REQUIRE(wait_until([&] { return controller_poll(*ctl, 10, out) > 0 || !out.empty(); }, 5));
  REQUIRE(out.size() == 1);
  CHECK(out[0].worker_id == "A");
  ControllerStats st = controller_stats(*ctl);
  CHECK(st.rejected == 1);
  for (const WorkerInfo& w : controller_workers(*ctl)) CHECK(w.rejected == (w.worker_id == "B"));
  sa.close();
  sb.close();
}

TEST_CASE("a compromised reward worker: forged scores refused and counted, none logged") {
  TempDir tmp("aha_hostile_reward");
  fs::create_directories(tmp.path);
  const std::string dir = tmp.str() + "/run";
  std::vector<std::string> args = micro_run(dir, 3);
  args.insert(args.end(), {"--workers", "1", "--set", "reward.workers=1", "--set",
                           "rollout.max_bad_results=100000"});
  Child c;
  start_child(c, args, tmp.str() + "/log");
  std::atomic<bool> stop{false};
  std::atomic<int> forged{0};
  std::thread t([&] {
    const std::string sock = dir + "/ipc/reward.sock";
    if (!wait_until([&] { return fs::exists(sock); }, 60)) return;
    FakePeer p("ipc://" + sock, "fake-reward");
    p.send_ready(1);
    int trick = 0;
    double last_hb = 0;
    while (!stop) {
      p.heartbeat_every(0.5, last_hb);
      Message msg;
      std::string bytes, err;
      if (!p.recv(msg, bytes, 50)) continue;
      if (msg.type == MsgType::Shutdown) return;
      if (msg.type != MsgType::ScoreRequest) continue;
      ScoreRequest q;
      if (!decode(msg, q, err)) continue;
      ScoreResult r;
      r.request_id = q.request_id;
      nlohmann::json details = nlohmann::json::array();
      for (size_t g = 0; g < q.completions.size(); g++) {
        r.rewards.push_back(1.0);
        details.push_back({{"components", {{"correct", 1.0}}}, {"correct", true}});
      }
      r.components_json = details.dump();
      switch (trick++ % 6) {
        case 0:
          r.rewards[0] = 1e30;
          break;  // far outside tiny_add's [0, 1]
        case 1:
          r.rewards[0] = NAN;
          break;
        case 2:
          r.rewards.pop_back();
          break;
        case 3:
          r.rewards[0] = -5;
          break;
        case 4:
          r.components_json = "{";
          break;
        case 5: {  // a result for a request never made, then a forged one for the real request
          ScoreResult other = r;
          other.request_id += 1000000;
          p.send(encode(other));
          forged++;
          r.rewards[0] = 1.5;
          break;
        }
      }
      forged++;
      p.send(encode(r));
    }
  });
  const bool ended = c.wait(240);
  stop = true;
  t.join();
  REQUIRE_MESSAGE(ended, c.log());
  REQUIRE_MESSAGE(c.rc == 0, c.log());
  DbSummary d = read_db(dir, 4);
  MESSAGE("forged " << forged.load() << ", refused (logged) " << d.rejected_total);
  CHECK(forged > 0);
  CHECK(d.all_valid);
  CHECK(d.rejected_total == forged);
  CHECK(d.by_worker.value("fake-reward", 0) == forged);
  RunDb db = rundb_open(dir, false);
  for (const Sample& s : rundb_read_samples(db, SampleQuery{})) {
    CHECK(s.reward >= 0);
    CHECK(s.reward <= 1);
  }
}

TEST_CASE("a worker with its own key (aha keygen) joins once the key is authorized") {
  TempDir tmp("aha_hostile_keygen");
  fs::create_directories(tmp.path);
  const std::string dir = tmp.str() + "/run";
  const std::string key = tmp.str() + "/w1.key";
  int rc = 0;
  std::string out = run_command(std::string(AHA_BINARY) + " keygen --out " + key, &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  struct stat st {};
  REQUIRE(stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
  std::vector<std::string> args = micro_run(dir, 2);
  args.insert(args.end(), {"--listen", endpoint, "--set", "rollout.workers=0"});
  Child c;
  start_child(c, args, tmp.str() + "/log");
  REQUIRE(wait_until([&] { return fs::exists(dir + "/keys/server.pub"); }, 60));
  // Authorized while the run waits: the allow-list file is re-read when an unknown key knocks.
  {
    std::ofstream a(dir + "/authorized_keys");
    a << "# worker 1\n" << curve_key_read(key + ".pub").public_key << "\n";
  }
  Child w;
  start_child(w,
              {AHA_BINARY, "rollout-worker", "--connect", endpoint, "--model",
               std::string(AHA_SOURCE_DIR) + "/experiments/base-arith", "--id", "w1",
               "--server-key", dir + "/keys/server.pub", "--key", key},
              tmp.str() + "/w1.log");
  REQUIRE_MESSAGE(c.wait(120), c.log());
  CHECK_MESSAGE(c.rc == 0, c.log());
  CHECK(w.wait(30));
  CHECK(w.rc == 0);
}
