// Relay tree of the weight broadcast: the tree's shape and a worker's relay server.
#include "rollout/weight_relay.h"

#include <spdlog/spdlog.h>

#include <map>
#include <stdexcept>

namespace aha {

std::vector<int> relay_tree(size_t num_nodes, int fanout) {
  std::vector<int> parent(num_nodes, -1);
  if (fanout <= 0) return parent;
  for (size_t i = 0; i < num_nodes; ++i) parent[i] = static_cast<int>(i) / fanout - 1;
  return parent;
}

struct WeightRelay {
  zmq::socket_t sock;
  ZapHandlerPtr zap;  // set when the socket is a CURVE server
  std::string endpoint;
  // (version, chunk) -> children (routing ids) waiting for it.
  std::map<std::pair<uint64_t, uint32_t>, std::vector<std::string>> waiting;
  size_t num_waiting = 0;
  RelayStats stats;
};

void WeightRelayDeleter::operator()(WeightRelay* r) const {
  if (!r) return;
  r->sock.close();
  r->zap.reset();
  delete r;
}

namespace {

constexpr size_t kMaxWaiting = 1u << 20;  // requests queued at once (a child asks a window of them)

void send_chunk(WeightRelay& r, const std::string& child, const RelayView& v, uint32_t idx) {
  const uint64_t cs = v.ann->chunk_size;
  const uint64_t begin = static_cast<uint64_t>(idx) * cs;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(cs, v.ann->num_bytes - begin));
  r.stats.chunks_sent++;
  send_frame(r.sock, child,
             encode_weights_chunk(v.ann->weights_version, idx, v.sums[idx], v.bytes + begin, n));
}

bool holds(const RelayView& v, uint64_t version) {
  return v.ann && v.ann->weights_version == version;
}

void answer(WeightRelay& r, const std::string& child, const WeightsGet& g,
            const RelayView& fetching, const RelayView& held) {
  for (const RelayView* v : {&held, &fetching}) {
    if (!holds(*v, g.weights_version)) continue;
    if (g.chunk_idx >= v->num_chunks) {
      r.stats.dropped++;
      return;
    }
    if (v->have[g.chunk_idx]) return send_chunk(r, child, *v, g.chunk_idx);
  }
  const RelayView& newest =
      fetching.ann && (!held.ann || fetching.ann->weights_version > held.ann->weights_version)
          ? fetching
          : held;
  if (newest.ann && g.weights_version < newest.ann->weights_version) {
    r.stats.announces++;  // the child is behind: tell it what is current
    send_frame(r.sock, child, encode(*newest.ann));
    return;
  }
  // On its way to us (or announced to us soon): forwarded when it arrives. A child whose parent
  // never gets it falls back to the controller after its stall timeout.
  if (r.num_waiting >= kMaxWaiting) {
    r.stats.dropped++;
    return;
  }
  r.stats.queued++;
  r.waiting[{g.weights_version, g.chunk_idx}].push_back(child);
  r.num_waiting++;
}

}  // namespace

WeightRelayPtr relay_start(zmq::context_t& ctx, const std::string& bind, const CurveKeyPair& key) {
  WeightRelayPtr r(new WeightRelay);
  r->sock = zmq::socket_t(ctx, zmq::socket_type::router);
  r->sock.set(zmq::sockopt::router_mandatory, 1);
  r->sock.set(zmq::sockopt::linger, 0);
  r->sock.set(zmq::sockopt::sndhwm, 100000);
  r->sock.set(zmq::sockopt::rcvhwm, 100000);
  if (!key.secret_key.empty()) {
    // A child may connect before this worker's plan names it: refuse it for now, not for good.
    r->zap = zap_start(ctx, {}, "", ZapRefusal::temporary);
    curve_make_server(r->sock, key);
  }
  try {
    r->sock.bind(bind);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("weight relay: cannot bind " + bind + ": " + e.what());
  }
  r->endpoint = r->sock.get(zmq::sockopt::last_endpoint);
  return r;
}

std::string relay_endpoint(WeightRelay& r) {
  return r.endpoint;
}

zmq::socket_t& relay_socket(WeightRelay& r) {
  return r.sock;
}

void relay_allow(WeightRelay& r, const std::vector<std::string>& public_keys) {
  if (!r.zap) return;
  for (const std::string& k : public_keys) zap_allow(*r.zap, k);
}

void relay_serve(WeightRelay& r, const RelayView& fetching, const RelayView& held) {
  std::string child, bytes, err;
  for (int k = 0; k < 10000; ++k) {
    int got = recv_frame(r.sock, true, child, bytes, err);
    if (got == 0) return;
    WeightsGet g;
    if (got < 0 || !decode_bytes(bytes.data(), bytes.size(), g, err)) {
      r.stats.dropped++;  // children only ask for chunks
      spdlog::warn("weight relay: dropped message from {}: {}", printable_peer(child), err);
      continue;
    }
    answer(r, child, g, fetching, held);
  }
}

void relay_chunk_arrived(WeightRelay& r, const RelayView& fetching, uint32_t chunk_idx) {
  auto it = r.waiting.find({fetching.ann->weights_version, chunk_idx});
  if (it == r.waiting.end()) return;
  for (const std::string& child : it->second) send_chunk(r, child, fetching, chunk_idx);
  r.num_waiting -= it->second.size();
  r.waiting.erase(it);
}

void relay_newer_version(WeightRelay& r, const WeightsAnnounce& newest) {
  std::string ann = encode(newest);
  for (auto it = r.waiting.begin(); it != r.waiting.end();) {
    if (it->first.first >= newest.weights_version) {
      ++it;
      continue;
    }
    for (const std::string& child : it->second) {
      r.stats.announces++;
      send_frame(r.sock, child, ann);
    }
    r.num_waiting -= it->second.size();
    it = r.waiting.erase(it);
  }
}

RelayStats relay_stats(WeightRelay& r) {
  return r.stats;
}

}  // namespace aha
