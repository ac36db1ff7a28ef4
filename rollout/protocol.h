// The messages that carry work between aha's processes (controller, rollout workers, reward
// workers), their msgpack encoding, and the ZeroMQ framing they travel in.
//
// Invariants:
// - Every message is ONE msgpack map with at least the keys "type" (string, below) and "version"
//   (integer, == kProtocolVersion). Field order does not matter; unknown extra keys are ignored (so
//   a newer sender may add optional fields without a version bump); a missing or wrong-typed field
//   of the message's type is a decode error.
// - Dense numeric arrays (token ids, log-probs, routed expert ids) are msgpack `bin` fields holding
//   little-endian int32 or float32 values; their byte length must be a multiple of 4.
// - Decoding never throws and never reads out of bounds: it returns false with an error naming the
//   message type and field. A receiver logs the error with the sender's identity and drops the
//   message. Declared container sizes are bounded by the input length before anything is allocated.
// - Framing: a DEALER sends one frame (the message). A ROUTER receives [identity][message] and
//   sends [identity][message]. Anything else (more frames, empty frames) is logged and dropped.
//
// clang-format off
// Message table (C = controller, W = rollout worker, R = reward worker). Integers are unsigned
// unless said; "f32le"/"i32le" are bin fields of little-endian float32/int32. Each message's
// fields are listed ONCE, in its fields() visitor in protocol.cpp, which drives the encoder, the
// decoder and the map size; this table is the reader's copy of those lists.
//
//  type              dir   fields
//  ready             W->C  worker_id str, capacity int (requests it can hold at once),
//                          weights_version
//  heartbeat         both  worker_id str ("" from C), weights_version, capacity int,
//                          outstanding int
//  gen_request       C->W  request_id, prompt_ids i32le, group_size int (>= 1),
//                          params map (sampling_params), seed, min_weights_version,
//                          return_routing bool
//     sampling_params:     temperature f64, top_p f64, top_k int (signed; <= 0 off), min_p f64,
//                          max_new_tokens int, stop_token_ids i32le, stop_strings [str]
//  gen_result        W->C  request_id, worker_id str, weights_version, gen_ms f64,
//                          samples [sample]
//     sample:              token_ids i32le [n], logprobs f32le [n] (full vocabulary, at the
//                          sampling temperature), truncated_logprobs f32le [n] or empty (under
//                          top-p/top-k/min-p truncation), finish_reason str ("stop"|"length"|...),
//                          routing_num_layers int L, routing_top_k int K,
//                          routed_experts i32le [L, T_prompt + n, K] (empty, L = K = 0 when
//                          not asked): the learner's layout, policy/sample.h
//  weights_announce  C->W  weights_version, num_bytes, checksum (weights_checksum: checksum64
//                          of the chunks' checksum64s as little-endian u64 words),
//                          chunk_size (u32, > 0 when num_bytes > 0)
//  weights_get       W->C  weights_version, chunk_idx (u32)
//  weights_chunk     C->W  weights_version, chunk_idx (u32), checksum (checksum64 of this
//                          chunk), data bin
//  weights_ack       W->C  weights_version
//  bye               W->C  worker_id str, reason str (worker leaves; its requests are re-issued)
//  shutdown          C->W  reason str
//  score_request     C->R  request_id, task str, completions [str], reference_json str
//  score_result      R->C  request_id, rewards [f64], components_json str
//  relay_offer       W->C  endpoint str, public_key str (the worker's weight relay, weight_relay.h)
//  relay_plan        C->W  parent_id str, parent_endpoint str ("" = the controller), parent_key
//                          str, child_keys [str]
// clang-format on
#pragma once
#include <cstddef>
#include <cstdint>
#include <msgpack.hpp>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "kernels/checksum.h"
#include "policy/sample.h"     // gen_result carries the sampler's fields of Sample
#include "rollout/sampling.h"  // SamplingParams travels as the sampling_params map

namespace aha {

// 2: a sample's routing travels in the learner's layout [L, T, K] (routing_num_layers,
// routing_top_k) instead of [T, L, K] with routing_dims.
// 3: weights_announce's checksum is weights_checksum (of the chunks' checksums), so both sides
// compute it from chunk checksums taken in parallel instead of one serial pass over every byte.
constexpr int kProtocolVersion = 3;

enum class MsgType {
  Ready,
  Heartbeat,
  GenRequest,
  GenResult,
  WeightsAnnounce,
  WeightsGet,
  WeightsChunk,
  WeightsAck,
  Bye,
  Shutdown,
  ScoreRequest,
  ScoreResult,
  RelayOffer,  // weight relay tree (rollout/weight_relay.h)
  RelayPlan,
};

// The wire name of a type ("gen_request"); parse fails on names not in the table above.
const char* msg_type_name(MsgType t);
bool msg_type_from_name(const std::string& name, MsgType& out);

// The checksum of weight bytes: checksum64 (kernels/checksum.h).

// The checksums of a weight buffer's chunks of chunk_size bytes (the last may be short), the
// chunks split over up to `threads` threads for large buffers: the same values however many.
std::vector<uint64_t> chunk_checksums(const uint8_t* data, size_t n, uint32_t chunk_size,
                                      int threads);
// A version's whole checksum: checksum64 of its chunk checksums as little-endian u64 words.
uint64_t weights_checksum(const std::vector<uint64_t>& chunk_sums);

struct ReadyMsg {
  std::string worker_id;
  int32_t capacity = 0;  // requests (groups) the worker can hold at once, running or waiting
  uint64_t weights_version = 0;
};

struct HeartbeatMsg {
  std::string worker_id;  // "" when sent by the controller
  uint64_t weights_version = 0;
  int32_t capacity = 0;
  int32_t outstanding = 0;  // requests the sender holds unfinished
};

struct GenRequest {
  uint64_t request_id = 0;
  std::vector<int32_t> prompt_ids;  // [T_prompt]
  int32_t group_size = 1;           // G samples share the prompt
  SamplingParams params;
  uint64_t seed = 0;
  uint64_t min_weights_version = 0;  // never run on a worker holding an older version
  bool return_routing = false;
};

struct GenResult {
  uint64_t request_id = 0;
  std::string worker_id;
  uint64_t weights_version = 0;  // the version that produced every sample (set by the engine)
  double gen_ms = 0;             // worker time from receiving the request to sending the result
  std::vector<Sample> samples;   // [G] completion .. routing on the wire
};

struct WeightsAnnounce {
  uint64_t weights_version = 0;
  uint64_t num_bytes = 0;
  uint64_t checksum = 0;  // weights_checksum of the chunks' checksum64s
  uint32_t chunk_size = 0;
};

struct WeightsGet {
  uint64_t weights_version = 0;
  uint32_t chunk_idx = 0;
};

struct WeightsChunk {
  uint64_t weights_version = 0;
  uint32_t chunk_idx = 0;
  uint64_t checksum = 0;  // checksum64 of data, as the sender computed it
  std::vector<uint8_t> data;
};

struct WeightsAck {
  uint64_t weights_version = 0;
};

struct ByeMsg {
  std::string worker_id;
  std::string reason;
};

struct ShutdownMsg {
  std::string reason;
};

// W->C: the worker serves weight chunks to children at this endpoint (CURVE server key = its own
// public key, "" on a plain socket).
struct RelayOffer {
  std::string endpoint;
  std::string public_key;
};

// C->W: where to fetch weights from ("" parent_endpoint = the controller) and whom to admit.
struct RelayPlan {
  std::string parent_id;
  std::string parent_endpoint;
  std::string parent_key;
  std::vector<std::string> child_keys;
};

struct ScoreRequest {
  uint64_t request_id = 0;
  std::string task;
  std::vector<std::string> completions;  // [G]
  std::string reference_json;
};

struct ScoreResult {
  uint64_t request_id = 0;
  std::vector<double> rewards;  // [G]
  std::string components_json;
};

// Encoders: the msgpack bytes of one message (type and version filled in).
std::string encode(const ReadyMsg& m);
std::string encode(const HeartbeatMsg& m);
std::string encode(const GenRequest& m);
std::string encode(const GenResult& m);
std::string encode(const WeightsAnnounce& m);
std::string encode(const WeightsGet& m);
std::string encode(const WeightsChunk& m);
// The same bytes as encode(WeightsChunk) from a slice of a larger buffer, without copying it first.
std::string encode_weights_chunk(uint64_t weights_version, uint32_t chunk_idx, uint64_t checksum,
                                 const uint8_t* data, size_t n);
std::string encode(const WeightsAck& m);
std::string encode(const ByeMsg& m);
std::string encode(const ShutdownMsg& m);
std::string encode(const RelayOffer& m);
std::string encode(const RelayPlan& m);
std::string encode(const ScoreRequest& m);
std::string encode(const ScoreResult& m);

// A parsed message whose header (map, type, version) was checked; the fields are not yet decoded.
struct Message {
  MsgType type = MsgType::Ready;
  msgpack::object_handle handle;  // owns the parsed map
};

// Parses bytes into a Message. False (err set) on garbage, truncation, trailing bytes, a non-map,
// a missing/unknown type or a version other than kProtocolVersion.
bool parse_message(const void* data, size_t n, Message& out, std::string& err);

// Field decoders: false (err names the field) when the message is not of that type or a field is
// missing or has the wrong type/shape.
bool decode(const Message& msg, ReadyMsg& out, std::string& err);
bool decode(const Message& msg, HeartbeatMsg& out, std::string& err);
bool decode(const Message& msg, GenRequest& out, std::string& err);
bool decode(const Message& msg, GenResult& out, std::string& err);
bool decode(const Message& msg, WeightsAnnounce& out, std::string& err);
bool decode(const Message& msg, WeightsGet& out, std::string& err);
bool decode(const Message& msg, WeightsChunk& out, std::string& err);
bool decode(const Message& msg, WeightsAck& out, std::string& err);
bool decode(const Message& msg, ByeMsg& out, std::string& err);
bool decode(const Message& msg, ShutdownMsg& out, std::string& err);
bool decode(const Message& msg, RelayOffer& out, std::string& err);
bool decode(const Message& msg, RelayPlan& out, std::string& err);
bool decode(const Message& msg, ScoreRequest& out, std::string& err);
bool decode(const Message& msg, ScoreResult& out, std::string& err);

// parse_message + decode in one call (for tests and simple receivers).
template <typename T>
bool decode_bytes(const void* data, size_t n, T& out, std::string& err) {
  Message msg;
  return parse_message(data, n, msg, err) && decode(msg, out, err);
}

// ---- Framing over ZeroMQ (shared by the rollout and reward roles) ----

// Sends one message. On a ROUTER socket `peer` is the destination identity; on a DEALER it must be
// empty. Returns false when the message could not be queued (peer gone, high-water mark), never
// blocks.
bool send_frame(zmq::socket_t& sock, const std::string& peer, const std::string& bytes);

// Receives one message without blocking. On a ROUTER (`router` true) `peer` gets the sender's
// identity. Returns 1 when a well-framed message was read into `bytes`, 0 when nothing was waiting,
// -1 when a malformed multipart was read and dropped (err says why; peer set if known).
int recv_frame(zmq::socket_t& sock, bool router, std::string& peer, std::string& bytes,
               std::string& err);

// A printable form of a ZeroMQ identity (binary ids are hex-escaped) for logs.
std::string printable_peer(const std::string& peer);

}  // namespace aha
