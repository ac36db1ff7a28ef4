// Rollout controller: a ROUTER socket driven by one I/O thread; the API shares state under a mutex.
#include "rollout/controller.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "rollout/auth.h"
#include "rollout/job_queue.h"
#include "rollout/weight_relay.h"

namespace aha {

namespace {

// What the controller keeps per worker beyond the job queue's JobWorker: its weight relay.
struct RelayPeer {
  std::string endpoint;  // from its relay_offer ("" = fetches from the controller only)
  std::string key;
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

  JobQueue q;  // requests by request_id (rollout/job_queue.h)
  std::unordered_map<uint64_t, GenRequest> requests;  // the pending ones, for the result checks
  std::vector<GenResult> results;
  std::map<std::string, RelayPeer> relays;                 // by worker identity
  std::deque<std::pair<std::string, std::string>> outbox;  // (identity, bytes) from API calls

  uint64_t weights_version = 0;
  std::set<uint64_t> published;     // every version ever published
  int64_t no_workers_since_ms = 0;  // when the last live worker went (0: one is live)
  std::vector<uint8_t> weights;
  uint64_t weights_num_bytes = 0;  // of the current version (its bytes may not be held yet)
  bool weights_held = true;        // false: announced by controller_announce_weights only
  bool weights_wanted = false;     // a worker asked for chunks of a version not held
  uint64_t weights_checksum = 0;
  std::vector<uint64_t> chunk_checksums;  // [num_chunks] computed once per version
  bool corrupted_once = false;

  ControllerStats stats;
  int64_t last_heartbeat_ms = 0;
  std::set<std::string> silent;  // declared dead for silence, not yet heard from again
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
  a.num_bytes = c.weights_num_bytes;
  a.checksum = c.weights_checksum;
  a.chunk_size = c.opt.weights_chunk_size;
  return a;
}

void announce_if_behind(Controller& c, const std::string& identity, const JobWorker& w) {
  if (c.weights_version > 0 && w.version < c.weights_version)
    send_to(c, identity, encode(current_announce(c)));
}

// Re-plans the relay tree over the live workers with a relay and sends each a relay_plan when
// its own changed (parents first, so a parent admits its children before they knock).
void replan_relay(Controller& c) {
  if (c.opt.broadcast_fanout <= 0) return;
  std::vector<std::pair<const std::string*, RelayPeer*>> nodes;
  for (auto& [ident, w] : c.q.workers) {
    auto r = c.relays.find(ident);
    if (w.alive && !w.banned && r != c.relays.end() && !r->second.endpoint.empty())
      nodes.emplace_back(&ident, &r->second);
  }
  c.stats.relay_nodes = nodes.size();
  const std::vector<int> parent = relay_tree(nodes.size(), c.opt.broadcast_fanout);
  std::vector<RelayPlan> plans(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (parent[i] < 0) continue;
    const auto& [p_ident, p] = nodes[static_cast<size_t>(parent[i])];
    plans[i].parent_id = *p_ident;
    plans[i].parent_endpoint = p->endpoint;
    plans[i].parent_key = p->key;
    plans[static_cast<size_t>(parent[i])].child_keys.push_back(nodes[i].second->key);
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::string bytes = encode(plans[i]);
    if (bytes == nodes[i].second->plan_sent) continue;
    nodes[i].second->plan_sent = bytes;
    c.stats.relay_plans++;
    send_to(c, *nodes[i].first, bytes);
  }
}

// After a worker was lost or banned: its relay children get new parents.
void after_loss(Controller& c, const std::string& identity) {
  auto r = c.relays.find(identity);
  if (r != c.relays.end()) r->second.plan_sent.clear();
  replan_relay(c);
  c.cv.notify_all();
}

void declare_dead(Controller& c, const std::string& identity, const char* why) {
  auto it = c.q.workers.find(identity);
  if (it == c.q.workers.end() || !it->second.alive) return;
  const size_t held = it->second.held.size();
  jobq_lost(c.q, identity);  // its requests re-queued at the front, in id order
  spdlog::warn("controller: worker {} is dead ({}); re-queued {} request(s)",
               printable_peer(identity), why, held);
  if (std::strcmp(why, "silent") == 0) c.silent.insert(identity);
  after_loss(c, identity);
}

// A ready or heartbeat (re)registers the sender: a worker declared dead that speaks again is back.
void touch_worker(Controller& c, const std::string& identity, int32_t capacity,
                  uint64_t weights_version) {
  bool joined = false;
  JobWorker* w = jobq_seen(c.q, identity, capacity, jobq_now_ms(), &joined);
  if (!w) return;  // disconnected for bad results: never back
  // A worker's claimed version counts only when it is one we published (a forged one is ignored).
  if (c.published.count(weights_version)) w->version = std::max(w->version, weights_version);
  if (joined) {
    spdlog::info("controller: worker {} joined (capacity {}, weights v{})",
                 printable_peer(identity), capacity, w->version);
    // Back after being declared dead for silence: it was busy (one engine step longer than the
    // timeout), and its re-queued requests were wasted work.
    if (c.silent.erase(identity))
      spdlog::warn(
          "controller: worker {} was silent for {} ms but is alive: one of its engine steps takes "
          "longer than that (a large model on the CPU, or the CUDA emulator); raise "
          "rollout.worker_timeout_s",
          printable_peer(identity), c.opt.worker_timeout_ms);
    HeartbeatMsg hb;  // tells the worker it is registered
    send_to(c, identity, encode(hb));
    replan_relay(c);
    announce_if_behind(c, identity, *w);
    c.cv.notify_all();
  }
}

// Bans a worker: its requests go to others, it is told to shut down, and what it sends later is
// ignored. Caller holds c.mu.
void ban_worker(Controller& c, const std::string& identity, const std::string& why) {
  if (!jobq_ban(c.q, identity)) return;
  spdlog::error("controller: disconnecting worker {}: {}", printable_peer(identity), why);
  ShutdownMsg s;
  s.reason = "disconnected: " + why;
  send_to(c, identity, encode(s));
  after_loss(c, identity);
}

// A message that cannot be used. From a registered worker it also counts as a bad result: a worker
// whose every answer is garbage must be disconnected, not waited for.
void drop(Controller& c, const std::string& peer, const std::string& err) {
  c.stats.dropped++;
  spdlog::warn("controller: dropped message from {}: {}", printable_peer(peer), err);
  if (jobq_count_bad(c.q, peer, err, c.opt.max_bad_results))
    ban_worker(c, peer,
               std::to_string(c.q.workers[peer].rejected) + " bad messages (last: " + err + ")");
}

// Refuses a result: counted against the sender, the request (when the sender held it) re-queued.
void reject_result(Controller& c, const std::string& peer, uint64_t request_id,
                   const std::string& why) {
  spdlog::warn("controller: refused result for request {} from {}: {}", request_id,
               printable_peer(peer), why);
  if (jobq_refuse(c.q, peer, request_id, why, c.opt.max_bad_results))
    ban_worker(c, peer,
               std::to_string(c.q.workers[peer].rejected) + " refused results (last: " + why + ")");
  c.cv.notify_all();
}

void handle_result(Controller& c, const std::string& peer, GenResult&& r) {
  auto wit = c.q.workers.find(peer);
  if (wit != c.q.workers.end()) {
    if (wit->second.banned) {
      c.stats.dropped++;
      return;
    }
    wit->second.last_seen_ms = jobq_now_ms();
  }
  switch (jobq_result(c.q, peer, r.request_id)) {
    case JobResult::kDuplicate:
      spdlog::info("controller: discarded duplicate result for request {} from {}", r.request_id,
                   printable_peer(peer));
      return;
    case JobResult::kUnknown:
      return reject_result(c, peer, r.request_id, "no such request");
    case JobResult::kUnsolicited:  // only a worker the request was sent to may answer it
      return reject_result(c, peer, r.request_id, "the request was not sent to this worker");
    case JobResult::kCandidate:
      break;
  }
  const GenRequest& req = c.requests.at(r.request_id);
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
  if (!why.empty()) return reject_result(c, peer, r.request_id, why);
  jobq_accept(c.q, peer, r.request_id, jobq_now_ms());
  c.requests.erase(r.request_id);
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
  auto banned = c.q.workers.find(peer);
  if (banned != c.q.workers.end() && banned->second.banned) {
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
      auto it = c.q.workers.find(peer);
      if (it != c.q.workers.end()) it->second.last_seen_ms = jobq_now_ms();
      uint64_t num_chunks = c.weights.empty() ? 0
                                              : (c.weights.size() + c.opt.weights_chunk_size - 1) /
                                                    c.opt.weights_chunk_size;
      if (c.weights_version == 0) return drop(c, peer, "weights_get but no weights published");
      if (m.weights_version == c.weights_version && !c.weights_held) {
        // A worker that could not copy the version from memory: the caller attaches the bytes
        // (controller_weights_wanted); the worker asks again after its stall timeout.
        c.weights_wanted = true;
        c.cv.notify_all();
        return;
      }
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
      auto it = c.q.workers.find(peer);
      if (it == c.q.workers.end()) return drop(c, peer, "weights_ack from an unregistered worker");
      if (!c.published.count(m.weights_version))
        return drop(c, peer,
                    "weights_ack of unpublished version " + std::to_string(m.weights_version));
      it->second.version = std::max(it->second.version, m.weights_version);
      it->second.last_seen_ms = jobq_now_ms();
      spdlog::info("controller: worker {} holds weights v{}", printable_peer(peer),
                   m.weights_version);
      c.cv.notify_all();
      return;
    }
    case MsgType::RelayOffer: {
      RelayOffer m;
      if (!decode(msg, m, err)) return drop(c, peer, err);
      auto it = c.q.workers.find(peer);
      if (it == c.q.workers.end() || !it->second.alive)
        return drop(c, peer, "relay_offer from an unregistered worker");
      c.relays[peer].endpoint = m.endpoint;
      c.relays[peer].key = m.public_key;
      spdlog::info("controller: worker {} relays weights at {}", printable_peer(peer), m.endpoint);
      return replan_relay(c);
    }
    case MsgType::Bye: {
      ByeMsg m;
      if (!decode(msg, m, err)) return drop(c, peer, err);
      declare_dead(c, peer, ("bye: " + m.reason).c_str());
      return;
    }
    default:
      return drop(c, peer, std::string("unexpected message type ") + msg_type_name(msg.type));
  }
}

bool send_request(void* ctx, const std::string& identity, const std::string& bytes) {
  return send_frame(static_cast<Controller*>(ctx)->sock, identity, bytes);
}

// Declares silent workers dead (only once the socket is drained: their heartbeats may be queued)
// and sends heartbeats when due.
void check_timers(Controller& c, bool check_dead) {
  const int64_t t = jobq_now_ms();
  std::vector<JobTimeout> late;
  // A worker holding requests that answers none for request_timeout_ms is banned: one that keeps
  // finishing requests is slow, not stuck.
  jobq_timeouts(c.q, t, check_dead ? c.opt.worker_timeout_ms : 0, c.opt.request_timeout_ms, false,
                late);
  for (const JobTimeout& l : late) {
    if (l.silent) {
      declare_dead(c, l.identity, "silent");
    } else {
      jobq_count_bad(c.q, l.identity, "timed out", INT_MAX);
      ban_worker(c, l.identity,
                 std::to_string(l.num_held) + " request(s) held and none answered for " +
                     std::to_string(l.ms / 1000) + " s");
    }
  }
  const int live = jobq_num_live(c.q);
  if (live > 0)
    c.no_workers_since_ms = 0;
  else if (c.no_workers_since_ms == 0)
    c.no_workers_since_ms = t;
  if (t - c.last_heartbeat_ms >= c.opt.heartbeat_ms) {
    c.last_heartbeat_ms = t;
    HeartbeatMsg hb;
    hb.weights_version = c.weights_version;
    std::string bytes = encode(hb);
    for (auto& [ident, w] : c.q.workers)
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
      int64_t until_hb = c.last_heartbeat_ms + c.opt.heartbeat_ms - jobq_now_ms();
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
    jobq_dispatch(c.q, jobq_now_ms(), send_request, &c);
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
      for (auto& [ident, w] : c->q.workers)
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
  c->sock = router_bind(*c->ctx, opt.endpoint, opt.curve_secret_key, 100000, "controller");
  std::string wake_url = "inproc://aha-controller-wake-" + std::to_string(g_wake_counter++);
  c->wake_rx = zmq::socket_t(*c->ctx, zmq::socket_type::pair);
  c->wake_rx.bind(wake_url);
  c->wake_tx = zmq::socket_t(*c->ctx, zmq::socket_type::pair);
  c->wake_tx.set(zmq::sockopt::linger, 0);
  c->wake_tx.connect(wake_url);
  c->endpoint = c->sock.get(zmq::sockopt::last_endpoint);
  c->last_heartbeat_ms = c->no_workers_since_ms = jobq_now_ms();
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
  const uint64_t id = req.request_id;
  try {
    jobq_submit(c.q, id, req.min_weights_version, encode(req));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("controller_submit: ") + e.what());
  }
  c.requests.emplace(id, std::move(req));
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
  if (!jobq_cancel(c.q, request_id)) return false;
  c.requests.erase(request_id);
  return true;
}

uint64_t controller_pending(Controller& c) {
  std::lock_guard<std::mutex> lock(c.mu);
  return c.q.pending.size() + c.results.size();
}

namespace {

// Versions only grow: checked before anything of the current one changes. Caller holds c.mu.
void check_newer(const Controller& c, uint64_t version, const char* who) {
  if (version <= c.weights_version)
    throw std::runtime_error(std::string(who) + ": version " + std::to_string(version) +
                             " is not newer than " + std::to_string(c.weights_version));
}

// Makes `version` current (its bytes and checksums already set, or not held) and announces it to
// the live workers. Caller holds c.mu.
void new_version(Controller& c, uint64_t version, uint64_t num_bytes, bool held) {
  c.weights_version = version;
  c.published.insert(version);
  c.weights_num_bytes = num_bytes;
  c.weights_held = held;
  c.weights_wanted = false;
  std::string ann = encode(current_announce(c));
  for (auto& [ident, w] : c.q.workers)
    if (w.alive) c.outbox.emplace_back(ident, ann);
  spdlog::info("controller: {} weights v{} ({} bytes{})", held ? "published" : "announced", version,
               num_bytes, held ? "" : ", sent on demand");
  wake(c);
}

}  // namespace

std::vector<uint8_t> controller_publish_weights(Controller& c, uint64_t version,
                                                std::vector<uint8_t> bytes) {
  // Checksums outside the lock: the bytes may be large.
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<uint64_t> chunk_sums =
      chunk_checksums(bytes.data(), bytes.size(), c.opt.weights_chunk_size, threads);
  const uint64_t checksum = weights_checksum(chunk_sums);
  std::lock_guard<std::mutex> lock(c.mu);
  check_newer(c, version, "controller_publish_weights");
  std::swap(c.weights, bytes);  // bytes: the previous version's, handed back
  c.weights_checksum = checksum;
  c.chunk_checksums = std::move(chunk_sums);
  new_version(c, version, c.weights.size(), true);
  return bytes;
}

std::vector<uint8_t> controller_announce_weights(Controller& c, uint64_t version,
                                                 uint64_t num_bytes) {
  std::lock_guard<std::mutex> lock(c.mu);
  check_newer(c, version, "controller_announce_weights");
  std::vector<uint8_t> previous;
  std::swap(c.weights, previous);
  c.weights_checksum = 0;  // no chunk can be verified against it: none is served before attach
  c.chunk_checksums.clear();
  new_version(c, version, num_bytes, false);
  return previous;
}

void controller_attach_weights(Controller& c, uint64_t version, std::vector<uint8_t> bytes) {
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<uint64_t> chunk_sums =
      chunk_checksums(bytes.data(), bytes.size(), c.opt.weights_chunk_size, threads);
  const uint64_t checksum = weights_checksum(chunk_sums);
  std::lock_guard<std::mutex> lock(c.mu);
  if (version != c.weights_version || c.weights_held || bytes.size() != c.weights_num_bytes)
    throw std::runtime_error("controller_attach_weights: v" + std::to_string(version) + " of " +
                             std::to_string(bytes.size()) +
                             " bytes is not the announced version awaiting its bytes");
  c.weights = std::move(bytes);
  c.weights_held = true;
  c.weights_checksum = checksum;
  c.chunk_checksums = std::move(chunk_sums);
  // Again, with its checksum, to the workers that do not hold it (they restart their fetch).
  std::string ann = encode(current_announce(c));
  for (auto& [ident, w] : c.q.workers)
    if (w.alive && w.version < version) c.outbox.emplace_back(ident, ann);
  spdlog::info("controller: attached the bytes of weights v{}", version);
  wake(c);
}

bool controller_weights_wanted(Controller& c, uint64_t version) {
  std::lock_guard<std::mutex> lock(c.mu);
  return version == c.weights_version && !c.weights_held && c.weights_wanted;
}

bool controller_wait_weights(Controller& c, uint64_t version, int timeout_ms) {
  std::unique_lock<std::mutex> lock(c.mu);
  return c.cv.wait_for(lock, std::chrono::milliseconds(std::max(timeout_ms, 0)), [&] {
    int live = 0;
    for (auto& [ident, w] : c.q.workers) {
      if (!w.alive) continue;
      live++;
      if (w.version < version) return false;
    }
    return live > 0;
  });
}

bool controller_wait_workers(Controller& c, int num_workers, int timeout_ms) {
  std::unique_lock<std::mutex> lock(c.mu);
  return c.cv.wait_for(lock, std::chrono::milliseconds(std::max(timeout_ms, 0)), [&] {
    int live = 0;
    for (auto& [ident, w] : c.q.workers) live += w.alive;
    return live >= num_workers;
  });
}

std::vector<WorkerInfo> controller_workers(Controller& c) {
  std::lock_guard<std::mutex> lock(c.mu);
  std::vector<WorkerInfo> out;
  for (auto& [ident, w] : c.q.workers) {
    WorkerInfo i;
    i.worker_id = ident;
    i.alive = w.alive;
    i.weights_version = w.version;
    i.capacity = w.capacity;
    i.outstanding = static_cast<int32_t>(w.held.size());
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
  const JobQueueStats& q = c.q.stats;
  s.submitted = q.submitted;
  s.completed = q.completed;
  s.duplicates = q.duplicates;
  s.cancelled = q.cancelled;
  s.unknown_results = q.unknown;
  s.reissued = q.reissued;
  s.workers_died = q.workers_lost;
  s.rejected = q.rejected;
  s.unsolicited = q.unsolicited;
  s.banned = q.banned;
  s.in_flight = jobq_num_held(c.q);
  s.queued = jobq_num_queued(c.q);
  s.live_workers = 0;
  for (auto& [ident, w] : c.q.workers) s.live_workers += w.alive;
  s.ms_without_workers = c.no_workers_since_ms ? jobq_now_ms() - c.no_workers_since_ms : 0;
  return s;
}

void controller_shutdown_workers(Controller& c, const std::string& reason) {
  std::lock_guard<std::mutex> lock(c.mu);
  ShutdownMsg s;
  s.reason = reason;
  std::string bytes = encode(s);
  for (auto& [ident, w] : c.q.workers)
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
