// Weight broadcast to rollout workers as a relay tree over ZeroMQ: rank 0 (the controller) serves
// each chunk to at most `fanout` first-level workers; every worker serves the chunks it holds (or
// has just received) to its own children, so N workers cost about one transfer plus a per-hop
// latency instead of N copies leaving rank 0.
//
// clang-format off
// Invariants:
// - The tree is a pure function of the live relay-capable workers (sorted by id) and the fan-out:
//   node i (0-based) hangs under node i/fanout - 1, or under the controller when that is -1.
//   fanout <= 0 is the star of old: every worker fetches from the controller.
// - A worker fetches from ONE source at a time (its parent's relay socket, or the controller) with
//   the same weights_get / weights_chunk messages as from the controller. A parent answers a
//   request for a chunk it holds at once, queues one it is still fetching (pipelining: it forwards
//   the chunk the moment it arrives), and answers a request for an older version with the
//   announce of the newest version it knows.
// - A chunk travels with the checksum rank 0 computed; every hop verifies it before storing or
//   forwarding, and the whole checksum is verified before the engine loads the weights. A bad
//   chunk is asked for again, so damage anywhere on the path is caught where it happens.
// - The weight version travels in every announce and chunk; a worker acks it to the controller only
//   after loading it, and its results carry the version that produced them.
// - A parent that goes silent (dies mid-broadcast) costs its children at most weights_stall_ms:
//   they then fetch the missing chunks straight from the controller; the controller also re-plans
//   the tree when it declares the parent dead. Nothing waits on a dead worker.
// - On tcp:// with CURVE, a relay socket is a CURVE server with the worker's own key pair and its
//   ZAP handler admits only the children the controller named (their public keys came to the
//   controller over its own authenticated channel); children connect knowing the parent's key.
//   A child whose plan arrives before its parent's is refused for now, not for good: the parent
//   drops it silently (ZAP 300) and the child's socket retries after kRelayHandshakeMs.
// clang-format on
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "rollout/auth.h"
#include "rollout/protocol.h"

namespace aha {

// A child's handshake limit with its parent: a refused (not yet admitted) child is dropped
// silently and retries after this long.
inline constexpr int kRelayHandshakeMs = 1000;

// ---- The tree (controller side) ----

// parent[i] of node i of a tree over num_nodes nodes: -1 = the controller, else a node index < i.
std::vector<int> relay_tree(size_t num_nodes, int fanout);

// ---- The relay server (worker side) ----

// A view of one weight version a worker holds or is fetching. have[i] != 0: chunk i is stored in
// bytes and matched sums[i].
struct RelayView {
  const WeightsAnnounce* ann = nullptr;  // nullptr = nothing
  const uint8_t* bytes = nullptr;        // [ann->num_bytes]
  const uint8_t* have = nullptr;         // [num_chunks]
  const uint64_t* sums = nullptr;        // [num_chunks] checksum of each chunk, as rank 0 computed
  uint32_t num_chunks = 0;
};

struct RelayStats {
  uint64_t chunks_sent = 0;  // chunks forwarded to children
  uint64_t queued = 0;       // requests that waited for a chunk still on its way
  uint64_t announces = 0;    // requests for an older version, answered with the newer announce
  uint64_t dropped = 0;      // malformed or unexpected messages
};

struct WeightRelay;
struct WeightRelayDeleter {
  void operator()(WeightRelay* r) const;
};
using WeightRelayPtr = std::unique_ptr<WeightRelay, WeightRelayDeleter>;

// Binds a ROUTER to `bind` (tcp://HOST:* or tcp://HOST:PORT) in ctx. With a key pair (both keys
// set) the socket is a CURVE server and a ZAP handler is started on ctx (which must not have one).
// Throws std::runtime_error naming the endpoint when it cannot bind.
WeightRelayPtr relay_start(zmq::context_t& ctx, const std::string& bind, const CurveKeyPair& key);
// The endpoint as bound (port resolved), to be offered to the controller.
std::string relay_endpoint(WeightRelay& r);
zmq::socket_t& relay_socket(WeightRelay& r);
// Admits these children's public keys from now on (CURVE only; a no-op on a plain socket).
void relay_allow(WeightRelay& r, const std::vector<std::string>& public_keys);
// Reads every waiting request and answers it from `fetching` (the version on its way) or `held`
// (the last one loaded), or queues it.
void relay_serve(WeightRelay& r, const RelayView& fetching, const RelayView& held);
// Chunk chunk_idx of fetching's version has just been stored: answers the children waiting for it.
void relay_chunk_arrived(WeightRelay& r, const RelayView& fetching, uint32_t chunk_idx);
// A newer version is being fetched: children still asking for older ones get its announce.
void relay_newer_version(WeightRelay& r, const WeightsAnnounce& newest);
RelayStats relay_stats(WeightRelay& r);

}  // namespace aha
