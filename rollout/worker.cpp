// Rollout worker loop: socket, engine hooks, heartbeats and the chunked weight fetch.
#include "rollout/worker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <unordered_map>

#include "rollout/auth.h"
#include "rollout/weight_relay.h"

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
  std::vector<uint64_t> sums;     // [num_chunks] each chunk's checksum as received (for the relay)
  bool from_parent = false;       // chunks are asked of the relay parent, not the controller
  bool parent_retried = false;    // the parent was asked again once (a request lost at connect)
  std::deque<uint32_t> to_ask;    // chunks not yet asked for
  uint32_t num_received = 0;
  int in_flight = 0;
  int64_t last_progress_ms = 0;
};

// The last version loaded, kept (only with a relay) so late children can still be served.
struct Held {
  WeightsAnnounce ann;
  bool valid = false;
  std::vector<uint8_t> bytes, have;
  std::vector<uint64_t> sums;
};

struct Worker {
  WorkerOptions opt;
  EngineHooks eng;
  std::string id;
  zmq::socket_t sock;
  std::deque<std::string> outbox;  // messages the socket could not take yet (kept, never dropped)
  WorkerStats stats;
  uint64_t weights_version = 0;
  bool engine_torn = false;  // a handoff copy was discarded: no engine step until the next load
  int32_t sent_capacity = -1;
  std::unordered_map<uint64_t, int64_t> outstanding;  // request id -> ms when received
  Fetch fetch;
  Held held;
  zmq::context_t* ctx = nullptr;
  WeightRelayPtr relay;  // set with opt.relay_bind
  zmq::socket_t parent;  // DEALER to the relay parent (unset: fetch from the controller)
  std::string parent_id, parent_endpoint;
  int64_t last_heard_ms = 0;
  int64_t last_hb_ms = 0;
  bool heard = false;  // any message from the controller yet
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

// Decodes msg into out; a message that does not decode is dropped (false).
template <typename M>
bool decoded(Worker& w, const Message& msg, M& out) {
  std::string err;
  if (decode(msg, out, err)) return true;
  drop(w, err);
  return false;
}

// What the relay may serve of a version: its bytes, which chunks are in (have) and their checksums.
RelayView relay_view(const WeightsAnnounce& ann, const std::vector<uint8_t>& bytes,
                     const std::vector<uint8_t>& have, const std::vector<uint64_t>& sums) {
  return {&ann, bytes.data(), have.data(), sums.data(), static_cast<uint32_t>(have.size())};
}

RelayView fetch_view(const Worker& w) {
  const Fetch& f = w.fetch;
  return f.active ? relay_view(f.ann, f.bytes, f.received, f.sums) : RelayView{};
}

RelayView held_view(const Worker& w) {
  const Held& h = w.held;
  return h.valid ? relay_view(h.ann, h.bytes, h.have, h.sums) : RelayView{};
}

void ask_chunks(Worker& w) {
  Fetch& f = w.fetch;
  while (f.in_flight < std::max(1, w.opt.weights_window) && !f.to_ask.empty()) {
    WeightsGet g;
    g.weights_version = f.ann.weights_version;
    g.chunk_idx = f.to_ask.front();
    f.to_ask.pop_front();
    f.in_flight++;
    if (f.from_parent)
      (void)send_frame(w.parent, "", encode(g));  // a lost request is asked again after a stall
    else
      send(w, encode(g));
  }
}

// Asks again for every chunk not yet received, from the current source.
void reask_missing(Worker& w) {
  Fetch& f = w.fetch;
  f.to_ask.clear();
  f.in_flight = 0;
  for (uint32_t i = 0; i < f.num_chunks; ++i)
    if (!f.received[i]) f.to_ask.push_back(i);
  f.last_progress_ms = now_ms();
  ask_chunks(w);
}

void restart_fetch(Worker& w) {
  Fetch& f = w.fetch;
  f.num_received = 0;
  f.in_flight = 0;
  f.to_ask.clear();
  std::fill(f.received.begin(), f.received.end(), 0);
  f.from_parent = static_cast<bool>(w.parent);
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

struct HandoffCopy {
  Worker* w;
  uint64_t version;
};

void handoff_copy(void* ctx, const float* params, Device device) {
  auto* c = static_cast<HandoffCopy*>(ctx);
  c->w->eng.load_weights_from(c->w->eng.ctx, params, device, c->w->eng.num_params, c->version);
}

// The announced version straight from the learner's memory when its handoff offers it; false: a
// miss (or a failed copy, logged), to be fetched over the wire.
bool take_handoff(Worker& w, const WeightsAnnounce& a) {
  if (!w.opt.handoff || !w.eng.load_weights_from || w.relay ||
      a.num_bytes != static_cast<uint64_t>(w.eng.num_params) * sizeof(float))
    return false;
  heartbeat(w);  // restart the controller's clock: loading may take a while
  HandoffCopy c{&w, a.weights_version};
  try {
    bool torn = false;
    if (!weights_handoff_read(*w.opt.handoff, a.weights_version, w.eng.num_params, handoff_copy, &c,
                              &torn)) {
      // The engine holds a torn copy: it must not step until the wire's bytes replace it.
      if (torn) w.engine_torn = true;
      return false;
    }
  } catch (const std::exception& e) {
    spdlog::warn("worker {}: weights v{} from the learner's memory failed ({}); fetching them",
                 w.id, a.weights_version, e.what());
    return false;
  }
  w.fetch = Fetch{};  // an older version's fetch is moot
  w.weights_version = a.weights_version;
  w.engine_torn = false;
  w.stats.weights_loaded++;
  w.stats.weights_handed++;
  spdlog::info("worker {}: loaded weights v{} from the learner's memory", w.id, w.weights_version);
  ack(w, w.weights_version);
  return true;
}

void on_announce(Worker& w, const WeightsAnnounce& a) {
  if (a.weights_version <= w.weights_version) return ack(w, w.weights_version);
  if (take_handoff(w, a)) return;
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
  f.sums.assign(f.num_chunks, 0);
  if (w.relay) relay_newer_version(*w.relay, a);
  spdlog::info("worker {}: fetching weights v{} ({} bytes, {} chunks) from {}", w.id,
               a.weights_version, a.num_bytes, f.num_chunks,
               w.parent ? "relay parent " + w.parent_id : std::string("the controller"));
  restart_fetch(w);
  if (f.num_chunks == 0) finish_fetch(w);  // empty weights: nothing to ask for
}

// Verifies the assembled bytes and swaps them in (an engine exception propagates to the caller).
void finish_fetch(Worker& w) {
  Fetch& f = w.fetch;
  // Every chunk matched its checksum as it arrived; these must be the controller's.
  uint64_t sum = weights_checksum(f.sums);
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
  w.engine_torn = false;
  w.stats.weights_loaded++;
  spdlog::info("worker {}: loaded weights v{}", w.id, w.weights_version);
  if (w.relay) {  // keep serving this version to children that come late
    w.held.ann = f.ann;
    w.held.valid = true;
    w.held.bytes = std::move(f.bytes);
    w.held.sums = std::move(f.sums);
    w.held.have.assign(f.num_chunks, 1);
  }
  f = Fetch{};
  ack(w, w.weights_version);
}

void on_chunk(Worker& w, WeightsChunk& ch, bool from_parent) {
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
    f.sums[ch.chunk_idx] = ch.checksum;
    f.num_received++;
    if (from_parent) w.stats.chunks_from_parent++;
    if (w.relay) relay_chunk_arrived(*w.relay, fetch_view(w), ch.chunk_idx);
  }
  f.last_progress_ms = now_ms();
  ask_chunks(w);
}

// A chunk from the controller or the relay parent; the last one completes the fetch.
void take_chunk(Worker& w, WeightsChunk& ch, bool from_parent) {
  on_chunk(w, ch, from_parent);
  if (w.fetch.active && w.fetch.num_received == w.fetch.num_chunks) finish_fetch(w);
}

// The controller's relay plan: (re)connect to the named parent and admit the named children.
void on_plan(Worker& w, const RelayPlan& p) {
  if (w.relay) relay_allow(*w.relay, p.child_keys);
  if (p.parent_endpoint == w.parent_endpoint) return;
  w.parent = zmq::socket_t();
  w.parent_id = p.parent_id;
  w.parent_endpoint = p.parent_endpoint;
  if (!p.parent_endpoint.empty()) {
    try {
      zmq::socket_t s(*w.ctx, zmq::socket_type::dealer);
      s.set(zmq::sockopt::routing_id, w.id);
      s.set(zmq::sockopt::linger, 0);
      s.set(zmq::sockopt::sndhwm, 100000);
      s.set(zmq::sockopt::rcvhwm, 100000);
      if (!w.opt.curve_secret_key.empty()) {
        curve_make_client(s, CurveKeyPair{w.opt.curve_public_key, w.opt.curve_secret_key},
                          p.parent_key);
        // The parent refuses this key silently until its own plan names it; a short handshake
        // limit makes the socket reconnect and ask again instead of waiting 30 s.
        s.set(zmq::sockopt::handshake_ivl, kRelayHandshakeMs);
      }
      s.connect(p.parent_endpoint);
      w.parent = std::move(s);
    } catch (const zmq::error_t& e) {
      spdlog::warn(
          "worker {}: cannot connect to relay parent {} at {}: {}; fetching from the "
          "controller",
          w.id, p.parent_id, p.parent_endpoint, e.what());
      w.parent_id.clear();
      w.parent_endpoint.clear();
    }
  }
  spdlog::info("worker {}: weights now come from {}", w.id,
               w.parent ? "relay parent " + w.parent_id + " at " + w.parent_endpoint
                        : std::string("the controller"));
  if (w.fetch.active) {  // re-parented mid-fetch: the rest comes from the new source
    w.fetch.from_parent = static_cast<bool>(w.parent);
    reask_missing(w);
  }
}

// A message from the relay parent: only weight chunks and announces count.
void handle_parent_message(Worker& w, const std::string& bytes) {
  Message msg;
  std::string err;
  if (!parse_message(bytes.data(), bytes.size(), msg, err)) return drop(w, err);
  if (msg.type == MsgType::WeightsChunk) {
    WeightsChunk ch;
    if (decoded(w, msg, ch)) take_chunk(w, ch, true);
  } else if (msg.type == MsgType::WeightsAnnounce) {
    WeightsAnnounce a;
    if (decoded(w, msg, a)) on_announce(w, a);
  } else {
    drop(w,
         std::string("unexpected message type from the relay parent ") + msg_type_name(msg.type));
  }
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
  w.heard = true;
  switch (msg.type) {
    case MsgType::Heartbeat: {
      HeartbeatMsg m;
      decoded(w, msg, m);
      return 1;
    }
    case MsgType::GenRequest: {
      GenRequest req;
      if (!decoded(w, msg, req)) return 1;
      if (w.outstanding.count(req.request_id)) return 1;  // already running it
      w.outstanding.emplace(req.request_id, now_ms());
      w.stats.requests++;
      w.eng.submit(w.eng.ctx, req);
      return 1;
    }
    case MsgType::WeightsAnnounce: {
      WeightsAnnounce a;
      if (decoded(w, msg, a)) on_announce(w, a);
      return 1;
    }
    case MsgType::WeightsChunk: {
      WeightsChunk ch;
      if (decoded(w, msg, ch)) take_chunk(w, ch, false);
      return 1;
    }
    case MsgType::RelayPlan: {
      RelayPlan p;
      if (decoded(w, msg, p)) on_plan(w, p);
      return 1;
    }
    case MsgType::Shutdown: {
      ShutdownMsg s;
      if (!decoded(w, msg, s)) return 1;
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
  if (w.relay) {
    RelayOffer o;
    o.endpoint = relay_endpoint(*w.relay);
    o.public_key = w.opt.curve_secret_key.empty() ? "" : w.opt.curve_public_key;
    send(w, encode(o));
  }
  w.last_heard_ms = w.last_hb_ms = now_ms();
  while (true) {
    if (w.opt.stop && w.opt.stop->load()) {
      send_bye(w, "stopped");
      return 0;
    }
    bool busy = !w.outstanding.empty() && !w.engine_torn;
    int64_t t = now_ms();
    int timeout = busy ? 0
                       : static_cast<int>(std::clamp<int64_t>(w.last_hb_ms + w.opt.heartbeat_ms - t,
                                                              0, w.opt.idle_wait_ms));
    zmq::pollitem_t items[3] = {{w.sock.handle(), 0, ZMQ_POLLIN, 0}};
    int num_items = 1;
    if (w.parent) items[num_items++] = {w.parent.handle(), 0, ZMQ_POLLIN, 0};
    if (w.relay) items[num_items++] = {relay_socket(*w.relay).handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(items, num_items, std::chrono::milliseconds(timeout));
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
    for (int k = 0; w.parent && k < 10000; ++k) {
      int got = recv_frame(w.parent, false, peer, bytes, err);
      if (got == 0) break;
      if (got < 0) {
        drop(w, err);
        continue;
      }
      handle_parent_message(w, bytes);
      maybe_heartbeat(w);
    }
    if (w.relay) relay_serve(*w.relay, fetch_view(w), held_view(w));
    if (!w.outstanding.empty() && !w.engine_torn) {
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
    if (w.fetch.active && w.fetch.from_parent && !w.fetch.parent_retried &&
        t - w.fetch.last_progress_ms > w.opt.weights_stall_ms / 4) {
      // The parent refuses this worker's key (temporarily) until its own plan arrives; the socket
      // reconnects by itself, and a request lost on the way is asked the same parent once more.
      w.fetch.parent_retried = true;
      reask_missing(w);
    }
    if (w.fetch.active && t - w.fetch.last_progress_ms > w.opt.weights_stall_ms) {
      // No chunk for a while (a reply lost to a full pipe or a restart, or a relay parent that
      // died): ask for the missing ones, from the controller when the parent went silent.
      spdlog::warn("worker {}: weights v{} fetch stalled at {}/{} chunks; asking {} again", w.id,
                   w.fetch.ann.weights_version, w.fetch.num_received, w.fetch.num_chunks,
                   w.fetch.from_parent ? "the controller (relay parent " + w.parent_id + " silent)"
                                       : std::string("the controller"));
      if (w.fetch.from_parent) w.stats.relay_fallbacks++;
      w.fetch.from_parent = false;
      reask_missing(w);
    }
    flush(w);
    if (t - w.last_heard_ms > w.opt.controller_timeout_ms) {
      // A CURVE server drops a client whose key it does not allow without a word.
      const bool refused = !w.heard && !w.opt.curve_server_key.empty();
      spdlog::error("worker {}: controller at {} silent for {} ms; exiting{}", w.id, w.opt.connect,
                    t - w.last_heard_ms,
                    refused ? " (never answered: is this worker's public key in the trainer's "
                              "RUN_DIR/authorized_keys, and --server-key its server.pub?)"
                            : "");
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
  w.ctx = ctx;
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
    if (!opt.relay_bind.empty()) {
      if (!own_ctx) throw std::runtime_error("relay_bind needs the worker's own zmq context");
      w.relay = relay_start(*ctx, opt.relay_bind,
                            CurveKeyPair{opt.curve_public_key, opt.curve_secret_key});
      spdlog::info("worker {}: relaying weights at {}", w.id, relay_endpoint(*w.relay));
    }
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
    w.parent = zmq::socket_t();
    if (w.relay) {
      RelayStats rs = relay_stats(*w.relay);
      w.stats.chunks_relayed = rs.chunks_sent;
      w.relay.reset();
    }
  } catch (const zmq::error_t& e) {
    spdlog::error("worker {}: socket error on {}: {}", w.id, opt.connect, e.what());
    rc = 1;
  } catch (const std::runtime_error& e) {  // the relay socket could not be set up
    spdlog::error("worker {}: {}", w.id, e.what());
    rc = 1;
  }
  w.parent = zmq::socket_t();
  w.relay.reset();
  if (opt.stats) *opt.stats = w.stats;
  return rc;
}

}  // namespace aha
