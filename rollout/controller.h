// The rollout controller: hands generation requests to rollout workers and collects their results,
// and distributes weight versions to them (messages in rollout/protocol.h).
//
// Invariants:
// - One ROUTER socket, bound to an endpoint URL (inproc://, ipc://, tcp://), owned by one I/O
//   thread that the controller starts; the functions below are thread-safe and may be called from
//   the learner's thread while the I/O thread keeps heartbeats going (so a long training step
//   never makes workers look dead).
// - Flow control: a worker announces its capacity (requests it can hold at once); the controller
//   never has more than that many of its requests outstanding. A request goes only to a worker
//   holding at least its min_weights_version.
// - The requests go through a JobQueue (rollout/job_queue.h), which the reward service shares.
//   Every submitted request id is returned by controller_poll exactly once. A worker silent for
//   more than worker_timeout_ms (or saying bye) is declared dead and its outstanding requests are
//   re-queued (counted in `reissued`); a result for an id already completed is discarded (counted
//   in `duplicates`). The first result to arrive wins, whichever worker sent it.
// - Messages that fail to decode, have an unknown type or the wrong protocol version are logged
//   with the sender's identity and dropped (counted in `dropped`).
// - A result is accepted only from a worker the request was sent to, carrying a published weight
//   version >= the request's minimum and exactly group_size samples, and passing opt.validate;
//   otherwise it is refused (counted per worker), the request re-queued, and a worker with
//   max_bad_results refusals (or holding requests with no answer for request_timeout_ms) is banned:
//   sent shutdown and ignored from then on.
// - Weights: only the latest published version is served, in chunks of weights_chunk_size bytes;
//   each worker's held version is tracked from its acks, ready and heartbeat messages.
// - Weight relay (rollout/weight_relay.h): with broadcast_fanout > 0 the workers that offered a
//   relay socket form a tree (re-planned whenever one joins, offers, dies or is banned); each is
//   sent a relay_plan naming its parent, so rank 0 serves each chunk to at most broadcast_fanout
//   of them. Workers without a relay fetch from the controller as before.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "rollout/protocol.h"

namespace aha {

struct ControllerOptions {
  std::string endpoint = "inproc://aha-rollout";
  zmq::context_t* context =
      nullptr;                   // shared with inproc workers; nullptr: the controller owns one
  int heartbeat_ms = 1000;       // controller -> worker heartbeat period
  int worker_timeout_ms = 3000;  // a worker silent this long is dead
  uint32_t weights_chunk_size = 1u << 20;
  int broadcast_fanout = 0;  // children of rank 0 and of each relaying worker (0 = star)
  bool shutdown_workers_on_destroy = true;  // send shutdown to live workers when destroyed
  int test_corrupt_chunk = -1;  // test hook: flip one byte of this chunk the first time it is sent
  // CURVE server secret key (Z85): clients must know the public key and pass the context's ZAP
  // handler (rollout/auth.h). "" = no CURVE (inproc://, ipc://, or a trusted tcp:// network).
  std::string curve_secret_key;
  // Checks a result against its request before it is accepted (called on the I/O thread, under
  // the controller's lock, after the controller's own checks): "" accepts, else the reason. A
  // refused result is dropped, counted against its worker, and the request goes out again.
  std::string (*validate)(void* ctx, const GenRequest& req, const GenResult& res) = nullptr;
  void* validate_ctx = nullptr;
  int max_bad_results = 3;  // refused results after which a worker is disconnected (banned)
  // A worker holding requests that answers none of them for this long is banned (0 = no limit).
  int request_timeout_ms = 0;
};

struct WorkerInfo {
  std::string worker_id;
  bool alive = false;
  uint64_t weights_version = 0;
  int32_t capacity = 0;
  int32_t outstanding = 0;  // requests sent to it and not yet answered
  uint64_t completed = 0;   // results accepted from it
  uint64_t rejected = 0;    // results refused (invalid, unsolicited, timed out)
  bool banned = false;      // disconnected for bad results; its messages are ignored
  std::string last_rejection;
};

struct ControllerStats {
  uint64_t submitted = 0;
  uint64_t completed = 0;        // results accepted (each request once)
  uint64_t duplicates = 0;       // results for completed or cancelled requests, discarded
  uint64_t cancelled = 0;        // requests withdrawn by controller_cancel
  uint64_t unknown_results = 0;  // results for ids never submitted, discarded
  uint64_t reissued = 0;         // requests re-queued from dead workers
  uint64_t dropped = 0;          // malformed / unknown / wrong-version / unexpected messages
  uint64_t workers_died = 0;
  uint64_t chunks_sent = 0;  // weight chunks rank 0 sent (the relay's forwards not counted)
  uint64_t relay_nodes = 0;  // live workers in the current relay tree
  uint64_t relay_plans = 0;  // relay_plan messages sent
  uint64_t queued = 0;       // waiting for a worker
  uint64_t in_flight = 0;    // sent to a live worker, not answered
  uint64_t rejected = 0;     // results refused by the checks (each counted against its worker)
  uint64_t unsolicited = 0;  // results from a worker the request was never sent to (in rejected)
  uint64_t banned = 0;       // workers disconnected for bad results or timeouts
  uint64_t live_workers = 0;
  int64_t ms_without_workers = 0;  // how long no live worker has been connected (0 = one is)
};

struct Controller;
struct ControllerDeleter {
  void operator()(Controller* c) const;
};
using ControllerPtr = std::unique_ptr<Controller, ControllerDeleter>;

// Binds the socket and starts the I/O thread; throws std::runtime_error when the endpoint cannot be
// bound. Destroying it stops the thread (and sends shutdown to live workers when so configured).
ControllerPtr controller_create(const ControllerOptions& opt);

// The endpoint actually bound: for tcp://HOST:* the port the system chose, e.g.
// tcp://127.0.0.1:41235.
std::string controller_endpoint(Controller& c);

// The ZeroMQ context (inproc:// workers must use the same one).
zmq::context_t& controller_context(Controller& c);

// Queues a request. Its request_id must be unique over the controller's life (checked).
void controller_submit(Controller& c, GenRequest req);

// Waits up to timeout_ms for at least one finished request, then appends every finished result
// (each request id exactly once) to `out`. Returns how many were appended.
size_t controller_poll(Controller& c, int timeout_ms, std::vector<GenResult>& out);

// Withdraws a submitted request (e.g. oversampled groups no longer needed): it is not sent any more
// and a result that still arrives is discarded. Workers already running it finish it anyway. False
// when the id is not pending (unknown, already completed or cancelled).
bool controller_cancel(Controller& c, uint64_t request_id);

// Requests submitted and not yet returned by controller_poll's results (queued + in flight +
// ready).
uint64_t controller_pending(Controller& c);

// Publishes a new weight version (strictly greater than the last) and announces it to live workers.
// Returns the previous version's bytes (no longer served), for the caller to refill next time.
std::vector<uint8_t> controller_publish_weights(Controller& c, uint64_t version,
                                                std::vector<uint8_t> bytes);
// A new version announced without its bytes, for workers that copy it from the learner's memory
// (rollout/weight_handoff.h): the caller keeps from preparing bytes nobody fetches. Its checksum
// is 0 and no chunk of it is served until controller_attach_weights gives the bytes (then it is
// announced again, with its checksum, to the workers that do not hold it). Returns the previous
// version's bytes, as controller_publish_weights does.
std::vector<uint8_t> controller_announce_weights(Controller& c, uint64_t version,
                                                 uint64_t num_bytes);
void controller_attach_weights(Controller& c, uint64_t version, std::vector<uint8_t> bytes);
// Whether a worker asked for chunks of this announced version while its bytes were not attached
// (it missed the handoff): the cue to attach them.
bool controller_weights_wanted(Controller& c, uint64_t version);

// Waits until every live worker (at least one) holds `version` or newer. False on timeout.
bool controller_wait_weights(Controller& c, uint64_t version, int timeout_ms);

// Waits until at least num_workers workers are alive. False on timeout.
bool controller_wait_workers(Controller& c, int num_workers, int timeout_ms);

// Every worker seen so far, dead ones included, with the version each holds.
std::vector<WorkerInfo> controller_workers(Controller& c);

ControllerStats controller_stats(Controller& c);

// Sends shutdown to every live worker (they exit their loop).
void controller_shutdown_workers(Controller& c, const std::string& reason);

// Test/diagnostic hook: sends raw bytes as one message to a worker (by worker_id).
void controller_send_raw(Controller& c, const std::string& worker_id, std::string bytes);

}  // namespace aha
