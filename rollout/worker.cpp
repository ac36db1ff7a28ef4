// Rollout worker loop: socket, engine hooks, heartbeats and the chunked weight fetch.
#include "rollout/worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <unordered_map>

#include "rollout/auth.h"

namespace aha {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

std::atomic<uint64_t> g_worker_counter{0};

std::string default_worker_id() {
  char host[128] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = 0;
  return std::string(host[0] ? host : "worker") + "-" + std::to_string(getpid()) + "-" +
         std::to_string(g_worker_counter++);
}

// The weight version being fetched: which chunks have arrived and which are asked for.
struct Fetch {
  bool active = false;
  WeightsAnnounce ann;
  uint32_t num_chunks = 0;
  std::vector<uint8_t> bytes;     // [num_bytes]
  std::vector<uint8_t> received;  // [num_chunks] 0/1
  std::deque<uint32_t> to_ask;    // chunks not yet asked for
  uint32_t num_received = 0;
  int in_flight = 0;
  int64_t last_progress_ms = 0;
};

struct Worker {
  WorkerOptions opt;
  EngineHooks eng;
  std::string id;
  zmq::socket_t sock;
  std::deque<std::string> outbox;  // messages the socket could not take yet (kept, never dropped)
  WorkerStats stats;
  uint64_t weights_version = 0;
  int32_t sent_capacity = -1;
  std::unordered_map<uint64_t, int64_t> outstanding;  // request id -> ms when received
  Fetch fetch;
  int64_t last_heard_ms = 0;
  int64_t last_hb_ms = 0;
};

void send(Worker& w, std::string bytes) {
  if (w.outbox.empty() && send_frame(w.sock, "", bytes)) return;
  w.outbox.push_back(std::move(bytes));
}

void flush(Worker& w) {
  while (!w.outbox.empty() && send_frame(w.sock, "", w.outbox.front())) w.outbox.pop_front();
}

void heartbeat(Worker& w) {
  w.last_hb_ms = now_ms();
  HeartbeatMsg hb;
  hb.worker_id = w.id;
  hb.weights_version = w.weights_version;
  hb.capacity = std::max(w.sent_capacity, 0);
  hb.outstanding = static_cast<int32_t>(w.outstanding.size());
  send(w, encode(hb));
  flush(w);
}

// Sends a heartbeat when one is due; called between messages too, so a long weight fetch or a flood
// of messages never starves the controller of them.
void maybe_heartbeat(Worker& w) {
  if (now_ms() - w.last_hb_ms >= w.opt.heartbeat_ms) heartbeat(w);
}

void drop(Worker& w, const std::string& err) {
  w.stats.dropped++;
  spdlog::warn("worker {}: dropped message from controller: {}", w.id, err);
}

void ask_chunks(Worker& w) {
  Fetch& f = w.fetch;
  while (f.in_flight < std::max(1, w.opt.weights_window) && !f.to_ask.empty()) {
    WeightsGet g;
    g.weights_version = f.ann.weights_version;
    g.chunk_idx = f.to_ask.front();
    f.to_ask.pop_front();
    f.in_flight++;
    send(w, encode(g));
  }
}

void restart_fetch(Worker& w) {
  Fetch& f = w.fetch;
  f.num_received = 0;
  f.in_flight = 0;
  f.to_ask.clear();
  std::fill(f.received.begin(), f.received.end(), 0);
  for (uint32_t i = 0; i < f.num_chunks; ++i) f.to_ask.push_back(i);
  f.last_progress_ms = now_ms();
  ask_chunks(w);
}

void ack(Worker& w, uint64_t version) {
  WeightsAck a;
  a.weights_version = version;
  send(w, encode(a));
}

void finish_fetch(Worker& w);

void on_announce(Worker& w, const WeightsAnnounce& a) {
  if (a.weights_version <= w.weights_version) return ack(w, w.weights_version);
  if (w.fetch.active && w.fetch.ann.weights_version == a.weights_version &&
      w.fetch.ann.checksum == a.checksum)
    return;  // already fetching it
  uint64_t num_chunks = a.num_bytes == 0 ? 0 : (a.num_bytes + a.chunk_size - 1) / a.chunk_size;
  if (num_chunks > 0xffffffffull || a.num_bytes > w.opt.max_weights_bytes) {
    drop(w, "weights_announce of " + std::to_string(a.num_bytes) + " bytes in chunks of " +
                std::to_string(a.chunk_size) + " is over the limits");
    return;
  }
  Fetch& f = w.fetch;
  f = Fetch{};
  f.active = true;
  f.ann = a;
  f.num_chunks = static_cast<uint32_t>(num_chunks);
  try {
    f.bytes.resize(a.num_bytes);
  } catch (const std::exception& e) {
    f.active = false;
    drop(w, "weights_announce of " + std::to_string(a.num_bytes) + " bytes: " + e.what());
    return;
  }
  f.received.assign(f.num_chunks, 0);
  spdlog::info("worker {}: fetching weights v{} ({} bytes, {} chunks)", w.id, a.weights_version,
               a.num_bytes, f.num_chunks);
  restart_fetch(w);
  if (f.num_chunks == 0) finish_fetch(w);  // empty weights: nothing to ask for
}

// Verifies the assembled bytes and swaps them in (an engine exception propagates to the caller).
void finish_fetch(Worker& w) {
  Fetch& f = w.fetch;
  uint64_t sum = checksum64(f.bytes.data(), f.bytes.size());
  if (sum != f.ann.checksum) {
    w.stats.bad_weights++;
    spdlog::warn("worker {}: weights v{} checksum {:016x} != announced {:016x}; fetching again",
                 w.id, f.ann.weights_version, sum, f.ann.checksum);
    restart_fetch(w);
    return;
  }
  heartbeat(w);  // restart the controller's clock: loading may take a while
  w.eng.load_weights(w.eng.ctx, f.bytes.data(), f.bytes.size(), f.ann.weights_version);
  w.weights_version = f.ann.weights_version;
  w.stats.weights_loaded++;
  spdlog::info("worker {}: loaded weights v{}", w.id, w.weights_version);
  f = Fetch{};
  ack(w, w.weights_version);
}

void on_chunk(Worker& w, WeightsChunk& ch) {
  Fetch& f = w.fetch;
  if (!f.active || ch.weights_version != f.ann.weights_version) return;  // a stale reply
  if (ch.chunk_idx >= f.num_chunks || f.received[ch.chunk_idx]) return;
  f.in_flight = std::max(0, f.in_flight - 1);
  uint64_t begin = static_cast<uint64_t>(ch.chunk_idx) * f.ann.chunk_size;
  uint64_t want = std::min<uint64_t>(f.ann.chunk_size, f.ann.num_bytes - begin);
  uint64_t sum = checksum64(ch.data.data(), ch.data.size());
  if (ch.data.size() != want || sum != ch.checksum) {
    w.stats.bad_chunks++;
    spdlog::warn(
        "worker {}: weights v{} chunk {} is damaged ({} bytes, want {}; checksum {:016x} vs "
        "{:016x}); fetching it again",
        w.id, f.ann.weights_version, ch.chunk_idx, ch.data.size(), want, sum, ch.checksum);
    f.to_ask.push_front(ch.chunk_idx);
  } else {
    std::copy(ch.data.begin(), ch.data.end(), f.bytes.begin() + static_cast<ptrdiff_t>(begin));
    f.received[ch.chunk_idx] = 1;
    f.num_received++;
  }
  f.last_progress_ms = now_ms();
  ask_chunks(w);
}

// Returns 1 to keep going, 0 on shutdown.
int handle_message(Worker& w, const std::string& bytes) {
  Message msg;
  std::string err;
  if (!parse_message(bytes.data(), bytes.size(), msg, err)) {
    drop(w, err);
    return 1;
  }
  w.last_heard_ms = now_ms();
  switch (msg.type) {
    case MsgType::Heartbeat: {
      HeartbeatMsg m;
      if (!decode(msg, m, err)) drop(w, err);
      return 1;
    }
    case MsgType::GenRequest: {
      GenRequest req;
      if (!decode(msg, req, err)) {
        drop(w, err);
        return 1;
      }
      if (w.outstanding.count(req.request_id)) return 1;  // already running it
      w.outstanding.emplace(req.request_id, now_ms());
      w.stats.requests++;
      w.eng.submit(w.eng.ctx, req);
      return 1;
    }
    case MsgType::WeightsAnnounce: {
      WeightsAnnounce a;
      if (!decode(msg, a, err)) {
        drop(w, err);
        return 1;
      }
      on_announce(w, a);
      return 1;
    }
    case MsgType::WeightsChunk: {
      WeightsChunk ch;
      if (!decode(msg, ch, err)) {
        drop(w, err);
        return 1;
      }
      on_chunk(w, ch);
      if (w.fetch.active && w.fetch.num_received == w.fetch.num_chunks) finish_fetch(w);
      return 1;
    }
    case MsgType::Shutdown: {
      ShutdownMsg s;
      if (!decode(msg, s, err)) {
        drop(w, err);
        return 1;
      }
      spdlog::info("worker {}: shutdown ({})", w.id, s.reason);
      return 0;
    }
    default:
      drop(w, std::string("unexpected message type ") + msg_type_name(msg.type));
      return 1;
  }
}

void send_ready(Worker& w, int32_t capacity) {
  ReadyMsg r;
  r.worker_id = w.id;
  r.capacity = capacity;
  r.weights_version = w.weights_version;
  w.sent_capacity = capacity;
  send(w, encode(r));
}

void send_bye(Worker& w, const std::string& reason) {
  ByeMsg b;
  b.worker_id = w.id;
  b.reason = reason;
  send(w, encode(b));
  flush(w);
}

int loop(Worker& w) {
  std::string peer, bytes, err;
  std::vector<GenResult> done;
  send_ready(w, w.eng.capacity(w.eng.ctx));
  w.last_heard_ms = w.last_hb_ms = now_ms();
  while (true) {
    if (w.opt.stop && w.opt.stop->load()) {
      send_bye(w, "stopped");
      return 0;
    }
    bool busy = !w.outstanding.empty();
    int64_t t = now_ms();
    int timeout = busy ? 0
                       : static_cast<int>(std::clamp<int64_t>(w.last_hb_ms + w.opt.heartbeat_ms - t,
                                                              0, w.opt.idle_wait_ms));
    zmq::pollitem_t item{w.sock.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(timeout));
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return 0;
      if (e.num() != EINTR) spdlog::error("worker {}: poll failed: {}", w.id, e.what());
    }
    for (int k = 0; k < 10000; ++k) {
      int got = recv_frame(w.sock, false, peer, bytes, err);
      if (got == 0) break;
      if (got < 0) {
        drop(w, err);
        continue;
      }
      if (handle_message(w, bytes) == 0) return 0;
      maybe_heartbeat(w);
    }
    if (!w.outstanding.empty()) {
      done.clear();
      w.eng.poll(w.eng.ctx, done);
      for (GenResult& r : done) {
        auto it = w.outstanding.find(r.request_id);
        int64_t t0 = it == w.outstanding.end() ? now_ms() : it->second;
        if (it != w.outstanding.end()) w.outstanding.erase(it);
        r.worker_id = w.id;
        r.gen_ms = static_cast<double>(now_ms() - t0);
        w.stats.results++;
        send(w, encode(r));
      }
    }
    int32_t cap = w.eng.capacity(w.eng.ctx);
    if (cap != w.sent_capacity) send_ready(w, cap);
    maybe_heartbeat(w);
    t = now_ms();
    if (w.fetch.active && t - w.fetch.last_progress_ms > w.opt.weights_stall_ms) {
      // No chunk for a while (a reply lost to a full pipe or a restart): ask for the missing ones.
      spdlog::warn("worker {}: weights v{} fetch stalled at {}/{} chunks; asking again", w.id,
                   w.fetch.ann.weights_version, w.fetch.num_received, w.fetch.num_chunks);
      w.fetch.to_ask.clear();
      w.fetch.in_flight = 0;
      for (uint32_t i = 0; i < w.fetch.num_chunks; ++i)
        if (!w.fetch.received[i]) w.fetch.to_ask.push_back(i);
      w.fetch.last_progress_ms = t;
      ask_chunks(w);
    }
    flush(w);
    if (t - w.last_heard_ms > w.opt.controller_timeout_ms) {
      spdlog::error("worker {}: controller at {} silent for {} ms; exiting", w.id, w.opt.connect,
                    t - w.last_heard_ms);
      return 2;
    }
  }
}

}  // namespace

int run_rollout_worker(const WorkerOptions& opt, const EngineHooks& engine) {
  if (!engine.capacity || !engine.submit || !engine.poll || !engine.load_weights) {
    spdlog::error("rollout worker: every engine hook must be set");
    return 1;
  }
  if (opt.connect.rfind("inproc://", 0) == 0 && !opt.context) {
    spdlog::error("rollout worker: inproc:// needs the controller's zmq context");
    return 1;
  }
  std::unique_ptr<zmq::context_t> own_ctx;
  zmq::context_t* ctx = opt.context;
  if (!ctx) {
    own_ctx = std::make_unique<zmq::context_t>(1);
    ctx = own_ctx.get();
  }
  Worker w;
  w.opt = opt;
  w.eng = engine;
  w.id = opt.worker_id.empty() ? default_worker_id() : opt.worker_id;
  w.weights_version = opt.initial_weights_version;
  int rc = 1;
  try {
    w.sock = zmq::socket_t(*ctx, zmq::socket_type::dealer);
    w.sock.set(zmq::sockopt::routing_id, w.id);
    w.sock.set(zmq::sockopt::linger, 200);
    w.sock.set(zmq::sockopt::sndhwm, 100000);
    w.sock.set(zmq::sockopt::rcvhwm, 100000);
    if (!opt.curve_server_key.empty())
      curve_make_client(w.sock, CurveKeyPair{opt.curve_public_key, opt.curve_secret_key},
                        opt.curve_server_key);
    w.sock.connect(opt.connect);
    spdlog::info("worker {}: connected to {}", w.id, opt.connect);
    try {
      rc = loop(w);
    } catch (const zmq::error_t&) {
      throw;
    } catch (const std::exception& e) {
      spdlog::error("worker {}: engine failed: {}", w.id, e.what());
      send_bye(w, std::string("engine failed: ") + e.what());
      rc = 1;
    }
    w.sock.close();
  } catch (const zmq::error_t& e) {
    spdlog::error("worker {}: socket error on {}: {}", w.id, opt.connect, e.what());
    rc = 1;
  }
  if (opt.stats) *opt.stats = w.stats;
  return rc;
}

}  // namespace aha
