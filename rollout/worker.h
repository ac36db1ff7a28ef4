// A rollout worker: connects a DEALER socket to the controller, takes generation requests as its
// engine has room, runs the engine, streams back finished groups, and swaps in new weight versions.
// The engine is reached through plain function pointers (EngineHooks), so the same loop drives the
// real engine, a fake one in tests, or a GPU engine.
//
// Invariants:
// - One thread runs the whole loop and owns the socket; the engine hooks are called only from it,
//   so load_weights always falls between two engine polls.
// - The worker's ZeroMQ routing id is its worker_id, which must be unique among the controller's
//   workers (the default, host-pid-counter, is).
// - Heartbeats go out between engine polls: one engine poll must return well within the
//   controller's worker_timeout_ms, or the controller declares the worker dead and re-issues its
//   requests.
// - Messages that fail to decode, have an unknown type or the wrong version are logged and dropped.
// - Weights are fetched chunk by chunk (each chunk's checksum verified, a bad one fetched again),
//   then the whole checksum is verified (a mismatch starts the fetch over) before load_weights is
//   called and the version acknowledged. With a handoff (rollout/weight_handoff.h) that offers
//   the announced version, the weights are copied from the learner's memory instead, no fetch.
// - With relay_bind set, the worker also serves the weights it holds or is fetching to children
//   (rollout/weight_relay.h): the controller's relay_plan names the parent it fetches from (a
//   parent silent for weights_stall_ms is skipped: the rest comes from the controller).
// - The loop ends on shutdown from the controller, on *stop, or when the controller has been silent
//   longer than controller_timeout_ms.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "rollout/protocol.h"
#include "rollout/weight_handoff.h"

namespace aha {

struct EngineHooks {
  void* ctx = nullptr;
  // Requests the engine can hold at once (running or waiting). Called every loop turn; the worker
  // announces changes. The engine must still accept a few more (they are queued by it): a worker
  // declared dead and back again may be sent extra work.
  int (*capacity)(void* ctx) = nullptr;
  // Takes a request; must not block on generation.
  void (*submit)(void* ctx, const GenRequest& req) = nullptr;
  // Runs engine steps (about one batch step) and appends finished groups to `done` (request_id,
  // weights_version and samples set by the engine; worker_id and gen_ms are filled by the worker).
  // Returns the number appended.
  int (*poll)(void* ctx, std::vector<GenResult>& done) = nullptr;
  // Swaps in new weights between steps. The bytes are only valid during the call.
  void (*load_weights)(void* ctx, const uint8_t* bytes, size_t n, uint64_t version) = nullptr;
  // Optional: swaps in num_params float32 weights from memory on `device` (a handoff,
  // rollout/weight_handoff.h), the copy finished when it returns. Null: weights come by the wire.
  void (*load_weights_from)(void* ctx, const float* params, Device device, long num_params,
                            uint64_t version) = nullptr;
  long num_params = 0;  // what load_weights_from takes
};

struct WorkerStats {
  uint64_t requests = 0;        // gen_requests taken
  uint64_t results = 0;         // gen_results sent
  uint64_t dropped = 0;         // malformed / unknown / wrong-version / unexpected messages
  uint64_t weights_loaded = 0;  // versions swapped in
  uint64_t bad_chunks = 0;      // chunks whose checksum did not match (fetched again)
  uint64_t bad_weights = 0;     // assembled weights whose checksum did not match (fetched again)
  uint64_t chunks_from_parent = 0;  // chunks received from a relay parent (not the controller)
  uint64_t chunks_relayed = 0;      // chunks this worker served to its children
  uint64_t relay_fallbacks = 0;     // fetches that gave up on a silent parent for the controller
  uint64_t weights_handed = 0;      // versions copied from the learner's memory (no fetch)
};

struct WorkerOptions {
  std::string connect = "inproc://aha-rollout";  // the controller's endpoint URL
  std::string worker_id;                         // "" -> "<host>-<pid>-<n>"
  zmq::context_t* context = nullptr;  // required for inproc:// (the controller's); else may be null
  int heartbeat_ms = 1000;
  int controller_timeout_ms = 10000;  // exit when the controller is silent this long
  int idle_wait_ms = 50;              // socket wait when the engine has nothing to do
  int weights_window = 4;             // chunk requests in flight while fetching weights
  int weights_stall_ms = 3000;  // no chunk for this long while fetching: ask again for the missing
  uint64_t max_weights_bytes = 1ull << 38;  // a larger announce is refused (256 GiB)
  uint64_t initial_weights_version = 0;     // the version the engine starts with
  const std::atomic<bool>* stop = nullptr;  // set to end the loop (sends bye)
  WorkerStats* stats = nullptr;             // filled in when the loop ends
  // CURVE (tcp:// controllers with authentication, rollout/auth.h): the controller's public key
  // and this worker's key pair, Z85. All empty = plain connection.
  std::string curve_server_key, curve_public_key, curve_secret_key;
  // Weight relay (rollout/weight_relay.h): bind a relay socket here (tcp://HOST:*, HOST reachable
  // by the other workers) and offer it to the controller. "" = no relay (fetch from the controller).
  // Needs an own zmq context (not inproc://).
  std::string relay_bind;
  // The learner's handoff when this worker shares its process (and no relay): an announced
  // version it offers is copied from its memory; the wire is the fallback.
  WeightsHandoff* handoff = nullptr;
};

// Runs the worker loop until shutdown. Returns 0 after a shutdown message or *stop, 2 when the
// controller went silent, 1 when an engine hook threw (the error is logged; a bye is sent).
int run_rollout_worker(const WorkerOptions& opt, const EngineHooks& engine);

}  // namespace aha
