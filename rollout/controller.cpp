// Rollout controller: a ROUTER socket driven by one I/O thread; the API shares state under a mutex.
#include "rollout/controller.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "rollout/auth.h"
#include "rollout/weight_relay.h"

namespace aha {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

struct WorkerState {
  std::string identity;  // ZeroMQ routing id (the worker sets it to its worker_id)
  bool alive = false;
  int32_t capacity = 0;
  uint64_t weights_version = 0;
  int64_t last_seen_ms = 0;
  std::map<uint64_t, int64_t> outstanding;  // request ids sent and not answered -> ms when sent
  uint64_t completed = 0;
  uint64_t rejected = 0;
  bool banned = false;
  std::string last_rejection;
  int64_t last_result_ms = 0;  // when a result of it was last accepted
  std::string relay_endpoint;  // from its relay_offer ("" = fetches from the controller only)
  std::string relay_key;
  std::string plan_sent;  // the encoded relay_plan it was last sent ("" = none since it joined)
};

std::atomic<uint64_t> g_wake_counter{0};

}  // namespace

struct Controller {
  ControllerOptions opt;
  std::string endpoint;  // as bound (wildcard port resolved)
  std::unique_ptr<zmq::context_t> own_ctx;
  zmq::context_t* ctx = nullptr;
  zmq::socket_t sock;
  zmq::socket_t wake_tx;  // API threads (under mu) poke the I/O thread through this pair
  zmq::socket_t wake_rx;
  std::thread io;

  std::mutex mu;
  std::condition_variable cv;  // results arrived, a worker's version or liveness changed
  bool stop = false;
  std::string
      shutdown_bytes;  // set by controller_shutdown_workers: sent to anyone who speaks later

  std::unordered_map<uint64_t, GenRequest> pending;                // submitted, not completed
  std::unordered_map<uint64_t, std::vector<std::string>> sent_to;  // pending id -> workers asked
  std::unordered_map<uint64_t, std::set<std::string>> refused_by;  // pending id -> bad answerers
  std::unordered_set<uint64_t> completed;
  std::deque<uint64_t> queue;  // ids waiting for a worker (completed ids are skipped lazily)
  std::vector<GenResult> results;
  std::map<std::string, WorkerState> workers;
  std::deque<std::pair<std::string, std::string>> outbox;  // (identity, bytes) from API calls

  uint64_t weights_version = 0;
  std::set<uint64_t> published;     // every version ever published
  int64_t no_workers_since_ms = 0;  // when the last live worker went (0: one is live)
  std::vector<uint8_t> weights;
  uint64_t weights_checksum = 0;
  std::vector<uint64_t> chunk_checksums;  // [num_chunks] computed once per version
  bool corrupted_once = false;

  ControllerStats stats;
  int64_t last_heartbeat_ms = 0;
};

namespace {

void wake(Controller& c) {  // caller holds c.mu
  zmq::message_t m(1);
  (void)c.wake_tx.send(m, zmq::send_flags::dontwait);
}

void send_to(Controller& c, const std::string& identity, const std::string& bytes) {
  if (!send_frame(c.sock, identity, bytes))
    spdlog::debug("controller: could not send to {}", printable_peer(identity));
}

WeightsAnnounce current_announce(const Controller& c) {
  WeightsAnnounce a;
  a.weights_version = c.weights_version;
  a.num_bytes = c.weights.size();
  a.checksum = c.weights_checksum;
  a.chunk_size = c.opt.weights_chunk_size;
  return a;
}

void announce_if_behind(Controller& c, WorkerState& w) {
  if (c.weights_version > 0 && w.weights_version < c.weights_version)
    send_to(c, w.identity, encode(current_announce(c)));
}

// Re-plans the relay tree over the live workers with a relay and sends each a relay_plan when
// its own changed (parents first, so a parent admits its children before they knock).
void replan_relay(Controller& c) {
  if (c.opt.broadcast_fanout <= 0) return;
  std::vector<WorkerState*> nodes;
  for (auto& [ident, w] : c.workers)
    if (w.alive && !w.banned && !w.relay_endpoint.empty()) nodes.push_back(&w);
  c.stats.relay_nodes = nodes.size();
  const std::vector<int> parent = relay_tree(nodes.size(), c.opt.broadcast_fanout);
  std::vector<RelayPlan> plans(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (parent[i] < 0) continue;
    const WorkerState& p = *nodes[static_cast<size_t>(parent[i])];
    plans[i].parent_id = p.identity;
    plans[i].parent_endpoint = p.relay_endpoint;
    plans[i].parent_key = p.relay_key;
    plans[static_cast<size_t>(parent[i])].child_keys.push_back(nodes[i]->relay_key);
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::string bytes = encode(plans[i]);
    if (bytes == nodes[i]->plan_sent) continue;
    nodes[i]->plan_sent = bytes;
    c.stats.relay_plans++;
    send_to(c, nodes[i]->identity, bytes);
  }
}

void declare_dead(Controller& c, WorkerState& w, const char* why) {
  if (!w.alive) return;
  w.alive = false;
  w.plan_sent.clear();
  replan_relay(c);
  c.stats.workers_died++;
  // Re-queued at the front, in id order, so they are the next to go out.
  for (auto it = w.outstanding.rbegin(); it != w.outstanding.rend(); ++it) {
    if (c.pending.count(it->first)) {
      c.queue.push_front(it->first);
      c.stats.reissued++;
    }
  }
  spdlog::warn("controller: worker {} is dead ({}); re-queued {} request(s)",
               printable_peer(w.identity), why, w.outstanding.size());
  w.outstanding.clear();
  c.cv.notify_all();
}

// A ready or heartbeat (re)registers the sender: a worker declared dead that speaks again is back.
WorkerState& touch_worker(Controller& c, const std::string& identity, int32_t capacity,
                          uint64_t weights_version) {
  WorkerState& w = c.workers[identity];
  if (w.banned) return w;  // disconnected for bad results: never back
  bool was_alive = w.alive;
  w.identity = identity;
  w.alive = true;
  w.capacity = std::max(capacity, 0);
  // A worker's claimed version counts only when it is one we published (a forged one is ignored).
  if (c.published.count(weights_version))
    w.weights_version = std::max(w.weights_version, weights_version);
  w.last_seen_ms = now_ms();
  if (!was_alive) {
    spdlog::info("controller: worker {} joined (capacity {}, weights v{})",
                 printable_peer(identity), capacity, w.weights_version);
    HeartbeatMsg hb;  // tells the worker it is registered
    send_to(c, identity, encode(hb));
    replan_relay(c);
    announce_if_behind(c, w);
    c.cv.notify_all();
  }
  return w;
}

void ban_worker(Controller& c, WorkerState& w, const std::string& why);

// A message that cannot be used. From a registered worker it also counts as a bad result: a worker
// whose every answer is garbage must be disconnected, not waited for.
void drop(Controller& c, const std::string& peer, const std::string& err) {
  c.stats.dropped++;
  spdlog::warn("controller: dropped message from {}: {}", printable_peer(peer), err);
  auto it = c.workers.find(peer);
  if (it == c.workers.end() || it->second.banned) return;
  WorkerState& w = it->second;
  w.rejected++;
  c.stats.rejected++;
  w.last_rejection = err;
  if (static_cast<int64_t>(w.rejected) >= c.opt.max_bad_results)
    ban_worker(c, w, std::to_string(w.rejected) + " bad messages (last: " + err + ")");
}

// Bans a worker: its requests go to others, it is told to shut down, and what it sends later is
// ignored. Caller holds c.mu.
void ban_worker(Controller& c, WorkerState& w, const std::string& why) {
  if (w.banned) return;
  w.banned = true;
  c.stats.banned++;
  spdlog::error("controller: disconnecting worker {}: {}", printable_peer(w.identity), why);
  ShutdownMsg s;
  s.reason = "disconnected: " + why;
  send_to(c, w.identity, encode(s));
  declare_dead(c, w, "disconnected");
}

// Refuses a result: counted against the sender, the request (when the sender held it) re-queued.
void reject_result(Controller& c, WorkerState* w, const std::string& peer, uint64_t request_id,
                   const std::string& why) {
  c.stats.rejected++;
  spdlog::warn("controller: refused result for request {} from {}: {}", request_id,
               printable_peer(peer), why);
  if (!w) return;
  w->rejected++;
  w->last_rejection = why;
  if (c.pending.count(request_id)) c.refused_by[request_id].insert(peer);
  if (w->outstanding.erase(request_id) && c.pending.count(request_id)) {
    c.queue.push_front(request_id);
    c.stats.reissued++;
  }
  if (static_cast<int64_t>(w->rejected) >= c.opt.max_bad_results)
    ban_worker(c, *w, std::to_string(w->rejected) + " refused results (last: " + why + ")");
  c.cv.notify_all();
}

void handle_result(Controller& c, const std::string& peer, GenResult&& r) {
  auto wit = c.workers.find(peer);
  WorkerState* w = wit == c.workers.end() ? nullptr : &wit->second;
  if (w && w->banned) {
    c.stats.dropped++;
    return;
  }
  if (w) w->last_seen_ms = now_ms();
  if (c.completed.count(r.request_id)) {
    if (w) w->outstanding.erase(r.request_id);
    c.stats.duplicates++;
    spdlog::info("controller: discarded duplicate result for request {} from {}", r.request_id,
                 printable_peer(peer));
    return;
  }
  auto pit = c.pending.find(r.request_id);
  if (pit == c.pending.end()) {
    c.stats.unknown_results++;
    return reject_result(c, w, peer, r.request_id, "no such request");
  }
  // Only a worker the request was sent to may answer it.
  const std::vector<std::string>& asked = c.sent_to[r.request_id];
  if (std::find(asked.begin(), asked.end(), peer) == asked.end()) {
    c.stats.unsolicited++;
    return reject_result(c, w, peer, r.request_id, "the request was not sent to this worker");
  }
  const GenRequest& req = pit->second;
  std::string why;
  if (!c.published.count(r.weights_version))
    why = "weights_version " + std::to_string(r.weights_version) + " was never published";
  else if (r.weights_version < req.min_weights_version)
    why = "weights_version " + std::to_string(r.weights_version) + " is older than the request's " +
          std::to_string(req.min_weights_version);
  else if (static_cast<int64_t>(r.samples.size()) != req.group_size)
    why = std::to_string(r.samples.size()) + " samples for a group of " +
          std::to_string(req.group_size);
  else if (c.opt.validate)
    why = c.opt.validate(c.opt.validate_ctx, req, r);
  if (!why.empty()) return reject_result(c, w, peer, r.request_id, why);
  if (w) {
    w->outstanding.erase(r.request_id);
    w->last_result_ms = now_ms();
  }
  c.pending.erase(pit);
  c.sent_to.erase(r.request_id);
  c.refused_by.erase(r.request_id);
  c.completed.insert(r.request_id);
  c.stats.completed++;
  if (w) w->completed++;
  r.worker_id = peer;  // the authenticated routing id, not what the message claims
  c.results.push_back(std::move(r));
  c.cv.notify_all();
}

void send_chunk(Controller& c, const std::string& peer, uint32_t chunk_idx) {
  uint64_t cs = c.opt.weights_chunk_size;
  uint64_t begin = static_cast<uint64_t>(chunk_idx) * cs;
  uint64_t end = std::min<uint64_t>(begin + cs, c.weights.size());
  const uint8_t* data = c.weights.data() + begin;
  size_t n = static_cast<size_t>(end - begin);
  std::vector<uint8_t> damaged;
  if (static_cast<int64_t>(chunk_idx) == c.opt.test_corrupt_chunk && !c.corrupted_once && n > 0) {
    c.corrupted_once = true;  // simulates damage in transit: the checksum no longer matches
    damaged.assign(data, data + n);
    damaged[n / 2] ^= 0x5a;
    data = damaged.data();
  }
  c.stats.chunks_sent++;
  send_to(
      c, peer,
      encode_weights_chunk(c.weights_version, chunk_idx, c.chunk_checksums[chunk_idx], data, n));
}

void handle_message(Controller& c, const std::string& peer, const std::string& bytes) {
  Message msg;
  std::string err;
  auto banned = c.workers.find(peer);
  if (banned != c.workers.end() && banned->second.banned) {
    c.stats.dropped++;  // disconnected: nothing it says counts any more
    return;
  }
  if (!parse_message(bytes.data(), bytes.size(), msg, err)) return drop(c, peer, err);
  // A worker declared dead before the shutdown was sent comes back with its next heartbeat: it is
  // told to stop too, or it would live on, fed by the controller's heartbeats.
  if (!c.shutdown_bytes.empty() && msg.type != MsgType::Bye)
    return send_to(c, peer, c.shutdown_bytes);
  switch (msg.type) {
    case MsgType::Ready: {
      ReadyMsg m;
      if (!decode(msg, m, err)) return drop(c, peer, err);
      touch_worker(c, peer, m.capacity, m.weights_version);
      return;
    }
    case MsgType::Heartbeat: {
      HeartbeatMsg m;
      if (!decode(msg, m, err)) return drop(c, peer, err);
      touch_worker(c, peer, m.capacity, m.weights_version);
      return;
    }
    case MsgType::GenResult: {
      GenResult m;
      if (!decode(msg, m, err)) return drop(c, peer, err);
      return handle_result(c, peer, std::move(m));
    }
    case MsgType::WeightsGet: {
      WeightsGet m;
      if (!decode(msg, m, err)) return drop(c, peer, err);
      auto it = c.workers.find(peer);
      if (it != c.workers.end()) it->second.last_seen_ms = now_ms();
      uint64_t num_chunks = c.weights.empty() ? 0
                                              : (c.weights.size() + c.opt.weights_chunk_size - 1) /
                                                    c.opt.weights_chunk_size;
      if (c.weights_version == 0) return drop(c, peer, "weights_get but no weights published");
      if (m.weights_version != c.weights_version || m.chunk_idx >= num_chunks) {
        // A stale version or a bad index: tell the worker what is current instead.
        send_to(c, peer, encode(current_announce(c)));
        return;
      }
      return send_chunk(c, peer, m.chunk_idx);
    }
    case MsgType::WeightsAck: {
      WeightsAck m;
      if (!decode(msg, m, err)) return drop(c, peer, err);
      auto it = c.workers.find(peer);
      if (it == c.workers.end()) return drop(c, peer, "weights_ack from an unregistered worker");
      if (!c.published.count(m.weights_version))
        return drop(c, peer,
                    "weights_ack of unpublished version " + std::to_string(m.weights_version));
      it->second.weights_version = std::max(it->second.weights_version, m.weights_version);
      it->second.last_seen_ms = now_ms();
      spdlog::info("controller: worker {} holds weights v{}", printable_peer(peer),
                   m.weights_version);
      c.cv.notify_all();
      return;
    }
    case MsgType::RelayOffer: {
      RelayOffer m;
      if (!decode(msg, m, err)) return drop(c, peer, err);
      auto it = c.workers.find(peer);
      if (it == c.workers.end() || !it->second.alive)
        return drop(c, peer, "relay_offer from an unregistered worker");
      it->second.relay_endpoint = m.endpoint;
      it->second.relay_key = m.public_key;
      spdlog::info("controller: worker {} relays weights at {}", printable_peer(peer), m.endpoint);
      return replan_relay(c);
    }
    case MsgType::Bye: {
      ByeMsg m;
      if (!decode(msg, m, err)) return drop(c, peer, err);
      auto it = c.workers.find(peer);
      if (it != c.workers.end()) declare_dead(c, it->second, ("bye: " + m.reason).c_str());
      return;
    }
    default:
      return drop(c, peer, std::string("unexpected message type ") + msg_type_name(msg.type));
  }
}

// Hands queued requests to live workers with room, the least loaded first; a request whose minimum
// weight version no live worker holds yet waits without blocking those behind it.
void dispatch(Controller& c) {
  std::deque<uint64_t> skipped;
  while (!c.queue.empty()) {
    uint64_t id = c.queue.front();
    auto pit = c.pending.find(id);
    if (pit == c.pending.end()) {  // completed meanwhile (a late result)
      c.queue.pop_front();
      continue;
    }
    WorkerState* best = nullptr;
    int32_t best_free = 0;
    bool any_free = false;
    // A request goes back to a worker that answered it badly only when no other worker could
    // ever take it (else a hostile worker could hold it forever).
    auto rit = c.refused_by.find(id);
    auto refused = [&](const std::string& ident) {
      return rit != c.refused_by.end() && rit->second.count(ident) > 0;
    };
    bool other_exists = false;
    for (auto& [ident, w] : c.workers)
      other_exists |=
          w.alive && !refused(ident) && w.weights_version >= pit->second.min_weights_version;
    for (auto& [ident, w] : c.workers) {
      int32_t free = w.alive ? w.capacity - static_cast<int32_t>(w.outstanding.size()) : 0;
      if (free <= 0) continue;
      any_free = true;
      if (w.weights_version < pit->second.min_weights_version) continue;
      if (other_exists && refused(ident)) continue;
      if (free > best_free) {
        best = &w;
        best_free = free;
      }
    }
    if (!any_free) break;
    if (!best) {
      skipped.push_back(id);
      c.queue.pop_front();
      continue;
    }
    if (!send_frame(c.sock, best->identity, encode(pit->second))) break;  // retry next round
    c.queue.pop_front();
    best->outstanding.emplace(id, now_ms());
    std::vector<std::string>& asked = c.sent_to[id];
    if (std::find(asked.begin(), asked.end(), best->identity) == asked.end())
      asked.push_back(best->identity);
  }
  c.queue.insert(c.queue.begin(), skipped.begin(), skipped.end());
}

// Declares silent workers dead (only once the socket is drained: their heartbeats may be queued)
// and sends heartbeats when due.
void check_timers(Controller& c, bool check_dead) {
  int64_t t = now_ms();
  int live = 0;
  for (auto& [ident, w] : c.workers) {
    if (check_dead && w.alive && t - w.last_seen_ms > c.opt.worker_timeout_ms)
      declare_dead(c, w, "silent");
    live += w.alive;
    if (!w.alive || c.opt.request_timeout_ms <= 0 || w.outstanding.empty()) continue;
    // Banned only when it holds work and has answered nothing for the whole timeout: a worker
    // that keeps finishing requests is slow, not stuck.
    int64_t oldest = INT64_MAX;
    for (const auto& [id, sent_ms] : w.outstanding) oldest = std::min(oldest, sent_ms);
    const int64_t since = std::max(oldest, w.last_result_ms);
    if (t - since > c.opt.request_timeout_ms) {
      w.rejected++;
      c.stats.rejected++;
      ban_worker(c, w,
                 std::to_string(w.outstanding.size()) + " request(s) held and none answered for " +
                     std::to_string((t - since) / 1000) + " s");
    }
  }
  if (live > 0)
    c.no_workers_since_ms = 0;
  else if (c.no_workers_since_ms == 0)
    c.no_workers_since_ms = t;
  if (t - c.last_heartbeat_ms >= c.opt.heartbeat_ms) {
    c.last_heartbeat_ms = t;
    HeartbeatMsg hb;
    hb.weights_version = c.weights_version;
    std::string bytes = encode(hb);
    for (auto& [ident, w] : c.workers)
      if (w.alive) send_to(c, ident, bytes);
  }
}

void io_loop(Controller& c) {
  std::string peer, bytes, err;
  while (true) {
    int timeout;
    {
      std::lock_guard<std::mutex> lock(c.mu);
      if (c.stop) break;
      int64_t until_hb = c.last_heartbeat_ms + c.opt.heartbeat_ms - now_ms();
      timeout = static_cast<int>(std::clamp<int64_t>(until_hb, 0, 100));
    }
    zmq::pollitem_t items[2] = {{c.sock.handle(), 0, ZMQ_POLLIN, 0},
                                {c.wake_rx.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(timeout));
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (e.num() != EINTR) spdlog::error("controller: poll failed: {}", e.what());
      continue;
    }
    zmq::message_t m;
    while (c.wake_rx.recv(m, zmq::recv_flags::dontwait)) {
    }
    std::lock_guard<std::mutex> lock(c.mu);
    for (int k = 0; k < 10000; ++k) {  // bounded so timers still run under a flood
      int got = recv_frame(c.sock, true, peer, bytes, err);
      if (got == 0) break;
      if (got < 0) {
        drop(c, peer, err);
        continue;
      }
      try {  // nothing a peer sends may end the I/O thread (std::terminate)
        handle_message(c, peer, bytes);
      } catch (const std::exception& e) {
        drop(c, peer, std::string("handling failed: ") + e.what());
      }
      if ((k & 63) == 63) check_timers(c, false);  // a flood must not starve heartbeats
    }
    while (!c.outbox.empty()) {
      send_to(c, c.outbox.front().first, c.outbox.front().second);
      c.outbox.pop_front();
    }
    check_timers(c, true);
    dispatch(c);
  }
}

}  // namespace

void ControllerDeleter::operator()(Controller* c) const {
  if (!c) return;
  if (c->io.joinable()) {  // a controller whose creation failed has no thread and maybe no sockets
    {
      std::lock_guard<std::mutex> lock(c->mu);
      c->stop = true;
      wake(*c);
    }
    c->io.join();
  }
  try {
    if (c->sock && c->opt.shutdown_workers_on_destroy) {
      ShutdownMsg s;
      s.reason = "controller closed";
      std::string bytes = encode(s);
      for (auto& [ident, w] : c->workers)
        if (w.alive) send_to(*c, ident, bytes);
      c->sock.set(zmq::sockopt::linger, 500);  // let the shutdowns leave
    }
  } catch (const zmq::error_t& e) {
    spdlog::warn("controller: closing: {}", e.what());
  }
  c->sock.close();
  c->wake_tx.close();
  c->wake_rx.close();
  delete c;
}

ControllerPtr controller_create(const ControllerOptions& opt) {
  if (opt.heartbeat_ms <= 0 || opt.worker_timeout_ms <= opt.heartbeat_ms)
    throw std::runtime_error("controller: need 0 < heartbeat_ms < worker_timeout_ms");
  if (opt.weights_chunk_size == 0) throw std::runtime_error("controller: weights_chunk_size is 0");
  ControllerPtr c(new Controller);
  c->opt = opt;
  if (opt.context) {
    c->ctx = opt.context;
  } else {
    c->own_ctx = std::make_unique<zmq::context_t>(1);
    c->ctx = c->own_ctx.get();
  }
  c->sock = zmq::socket_t(*c->ctx, zmq::socket_type::router);
  c->sock.set(zmq::sockopt::router_mandatory, 1);  // a send to a vanished peer fails, not vanishes
  c->sock.set(zmq::sockopt::linger, 0);
  c->sock.set(zmq::sockopt::sndhwm, 100000);
  c->sock.set(zmq::sockopt::rcvhwm, 100000);
  if (!opt.curve_secret_key.empty()) {
    CurveKeyPair k;
    k.secret_key = opt.curve_secret_key;
    curve_make_server(c->sock, k);
  }
  try {
    c->sock.bind(opt.endpoint);
    ipc_restrict_permissions(opt.endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("controller: cannot bind " + opt.endpoint + ": " + e.what());
  }
  std::string wake_url = "inproc://aha-controller-wake-" + std::to_string(g_wake_counter++);
  c->wake_rx = zmq::socket_t(*c->ctx, zmq::socket_type::pair);
  c->wake_rx.bind(wake_url);
  c->wake_tx = zmq::socket_t(*c->ctx, zmq::socket_type::pair);
  c->wake_tx.set(zmq::sockopt::linger, 0);
  c->wake_tx.connect(wake_url);
  c->endpoint = c->sock.get(zmq::sockopt::last_endpoint);
  c->last_heartbeat_ms = c->no_workers_since_ms = now_ms();
  spdlog::info("controller: listening on {}", c->endpoint);
  Controller* raw = c.get();
  c->io = std::thread([raw] { io_loop(*raw); });
  return c;
}

zmq::context_t& controller_context(Controller& c) {
  return *c.ctx;
}

std::string controller_endpoint(Controller& c) {
  return c.endpoint;
}

void controller_submit(Controller& c, GenRequest req) {
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.pending.count(req.request_id) || c.completed.count(req.request_id))
    throw std::runtime_error("controller_submit: request id " + std::to_string(req.request_id) +
                             " was already submitted");
  uint64_t id = req.request_id;
  c.pending.emplace(id, std::move(req));
  c.queue.push_back(id);
  c.stats.submitted++;
  wake(c);
}

size_t controller_poll(Controller& c, int timeout_ms, std::vector<GenResult>& out) {
  std::unique_lock<std::mutex> lock(c.mu);
  c.cv.wait_for(lock, std::chrono::milliseconds(std::max(timeout_ms, 0)),
                [&] { return !c.results.empty(); });
  size_t n = c.results.size();
  for (GenResult& r : c.results) out.push_back(std::move(r));
  c.results.clear();
  return n;
}

bool controller_cancel(Controller& c, uint64_t request_id) {
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.pending.find(request_id);
  if (it == c.pending.end()) return false;
  c.pending.erase(it);  // the queue skips ids no longer pending
  c.sent_to.erase(request_id);
  c.refused_by.erase(request_id);
  c.completed.insert(request_id);
  c.stats.cancelled++;
  return true;
}

uint64_t controller_pending(Controller& c) {
  std::lock_guard<std::mutex> lock(c.mu);
  return c.pending.size() + c.results.size();
}

void controller_publish_weights(Controller& c, uint64_t version, std::vector<uint8_t> bytes) {
  // Checksums outside the lock: the bytes may be large.
  uint64_t checksum = checksum64(bytes.data(), bytes.size());
  std::vector<uint64_t> chunk_sums;
  for (size_t b = 0; b < bytes.size(); b += c.opt.weights_chunk_size)
    chunk_sums.push_back(
        checksum64(bytes.data() + b, std::min<size_t>(c.opt.weights_chunk_size, bytes.size() - b)));
  std::lock_guard<std::mutex> lock(c.mu);
  if (version <= c.weights_version)
    throw std::runtime_error("controller_publish_weights: version " + std::to_string(version) +
                             " is not newer than " + std::to_string(c.weights_version));
  c.weights_version = version;
  c.published.insert(version);
  c.weights = std::move(bytes);
  c.weights_checksum = checksum;
  c.chunk_checksums = std::move(chunk_sums);
  std::string ann = encode(current_announce(c));
  for (auto& [ident, w] : c.workers)
    if (w.alive) c.outbox.emplace_back(ident, ann);
  spdlog::info("controller: published weights v{} ({} bytes)", version, c.weights.size());
  wake(c);
}

bool controller_wait_weights(Controller& c, uint64_t version, int timeout_ms) {
  std::unique_lock<std::mutex> lock(c.mu);
  return c.cv.wait_for(lock, std::chrono::milliseconds(std::max(timeout_ms, 0)), [&] {
    int live = 0;
    for (auto& [ident, w] : c.workers) {
      if (!w.alive) continue;
      live++;
      if (w.weights_version < version) return false;
    }
    return live > 0;
  });
}

bool controller_wait_workers(Controller& c, int num_workers, int timeout_ms) {
  std::unique_lock<std::mutex> lock(c.mu);
  return c.cv.wait_for(lock, std::chrono::milliseconds(std::max(timeout_ms, 0)), [&] {
    int live = 0;
    for (auto& [ident, w] : c.workers) live += w.alive;
    return live >= num_workers;
  });
}

std::vector<WorkerInfo> controller_workers(Controller& c) {
  std::lock_guard<std::mutex> lock(c.mu);
  std::vector<WorkerInfo> out;
  for (auto& [ident, w] : c.workers) {
    WorkerInfo i;
    i.worker_id = ident;
    i.alive = w.alive;
    i.weights_version = w.weights_version;
    i.capacity = w.capacity;
    i.outstanding = static_cast<int32_t>(w.outstanding.size());
    i.completed = w.completed;
    i.rejected = w.rejected;
    i.banned = w.banned;
    i.last_rejection = w.last_rejection;
    out.push_back(i);
  }
  return out;
}

ControllerStats controller_stats(Controller& c) {
  std::lock_guard<std::mutex> lock(c.mu);
  ControllerStats s = c.stats;
  s.in_flight = 0;
  for (auto& [ident, w] : c.workers) s.in_flight += w.outstanding.size();
  s.queued = 0;
  for (uint64_t id : c.queue) s.queued += c.pending.count(id);
  for (auto& [ident, w] : c.workers) s.live_workers += w.alive;
  s.ms_without_workers = c.no_workers_since_ms ? now_ms() - c.no_workers_since_ms : 0;
  return s;
}

void controller_shutdown_workers(Controller& c, const std::string& reason) {
  std::lock_guard<std::mutex> lock(c.mu);
  ShutdownMsg s;
  s.reason = reason;
  std::string bytes = encode(s);
  for (auto& [ident, w] : c.workers)
    if (w.alive) c.outbox.emplace_back(ident, bytes);
  c.shutdown_bytes = bytes;
  wake(c);
}

void controller_send_raw(Controller& c, const std::string& worker_id, std::string bytes) {
  std::lock_guard<std::mutex> lock(c.mu);
  c.outbox.emplace_back(worker_id, std::move(bytes));
  wake(c);
}

}  // namespace aha
