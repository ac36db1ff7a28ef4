// msgpack encoding and checked decoding of the rollout protocol (see protocol.h for the table).
#include "rollout/protocol.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>

namespace aha {

static_assert(std::endian::native == std::endian::little, "bin fields are little-endian");

namespace {

struct TypeName {
  MsgType type;
  const char* name;
};
constexpr TypeName kTypeNames[] = {
    {MsgType::Ready, "ready"},
    {MsgType::Heartbeat, "heartbeat"},
    {MsgType::GenRequest, "gen_request"},
    {MsgType::GenResult, "gen_result"},
    {MsgType::WeightsAnnounce, "weights_announce"},
    {MsgType::WeightsGet, "weights_get"},
    {MsgType::WeightsChunk, "weights_chunk"},
    {MsgType::WeightsAck, "weights_ack"},
    {MsgType::Bye, "bye"},
    {MsgType::Shutdown, "shutdown"},
    {MsgType::ScoreRequest, "score_request"},
    {MsgType::ScoreResult, "score_result"},
    {MsgType::RelayOffer, "relay_offer"},
    {MsgType::RelayPlan, "relay_plan"},
};

using Packer = msgpack::packer<msgpack::sbuffer>;

// Starts a message map of `num_fields` fields plus type and version.
void pack_header(Packer& pk, MsgType t, uint32_t num_fields) {
  pk.pack_map(num_fields + 2);
  pk.pack("type");
  pk.pack(std::string_view(msg_type_name(t)));
  pk.pack("version");
  pk.pack(kProtocolVersion);
}

template <typename T>
void pack_le(Packer& pk, const std::vector<T>& v) {
  static_assert(sizeof(T) == 4);
  pk.pack_bin(static_cast<uint32_t>(v.size() * 4));
  pk.pack_bin_body(reinterpret_cast<const char*>(v.data()), static_cast<uint32_t>(v.size() * 4));
}

std::string to_string(const msgpack::sbuffer& buf) {
  return std::string(buf.data(), buf.size());
}

const char* kind_name(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return "bool";
    case msgpack::type::POSITIVE_INTEGER:
      return "uint";
    case msgpack::type::NEGATIVE_INTEGER:
      return "int";
    case msgpack::type::FLOAT32:
      return "float32";
    case msgpack::type::FLOAT64:
      return "float64";
    case msgpack::type::STR:
      return "str";
    case msgpack::type::BIN:
      return "bin";
    case msgpack::type::ARRAY:
      return "array";
    case msgpack::type::MAP:
      return "map";
    case msgpack::type::EXT:
      return "ext";
  }
  return "?";
}

struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Checked field access on one msgpack map; errors name the path ("gen_result.samples[2].logprobs").
struct Fields {
  const msgpack::object_map* map;
  std::string where;

  Fields(const msgpack::object& o, std::string w) : map(nullptr), where(std::move(w)) {
    if (o.type != msgpack::type::MAP)
      fail_at(where, std::string("expected map, got ") + kind_name(o.type));
    map = &o.via.map;
  }

  [[noreturn]] static void fail_at(const std::string& path, const std::string& what) {
    throw DecodeError(path + ": " + what);
  }
  [[noreturn]] void fail(const char* key, const std::string& what) const {
    fail_at(where + "." + key, what);
  }

  const msgpack::object& get(const char* key) const {
    size_t klen = std::strlen(key);
    for (uint32_t i = 0; i < map->size; ++i) {
      const msgpack::object& k = map->ptr[i].key;
      if (k.type == msgpack::type::STR && k.via.str.size == klen &&
          std::memcmp(k.via.str.ptr, key, klen) == 0)
        return map->ptr[i].val;
    }
    fail(key, "missing field");
  }

  uint64_t u64(const char* key, uint64_t max = std::numeric_limits<uint64_t>::max()) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::POSITIVE_INTEGER)
      fail(key, std::string("expected unsigned integer, got ") + kind_name(o.type));
    if (o.via.u64 > max) fail(key, "value " + std::to_string(o.via.u64) + " out of range");
    return o.via.u64;
  }

  int64_t i64(const char* key, int64_t lo, int64_t hi) const {
    const msgpack::object& o = get(key);
    int64_t v = 0;
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
      if (o.via.u64 > static_cast<uint64_t>(hi)) fail(key, "value out of range");
      v = static_cast<int64_t>(o.via.u64);
    } else if (o.type == msgpack::type::NEGATIVE_INTEGER) {
      v = o.via.i64;
    } else {
      fail(key, std::string("expected integer, got ") + kind_name(o.type));
    }
    if (v < lo || v > hi) fail(key, "value " + std::to_string(v) + " out of range");
    return v;
  }

  int32_t i32(const char* key, int32_t lo = 0,
              int32_t hi = std::numeric_limits<int32_t>::max()) const {
    return static_cast<int32_t>(i64(key, lo, hi));
  }

  // Floats also accept integers (a hand-written sender may write 1 for 1.0); NaN is refused.
  double f64(const char* key) const {
    const msgpack::object& o = get(key);
    double v = 0;
    if (o.type == msgpack::type::FLOAT32 || o.type == msgpack::type::FLOAT64)
      v = o.via.f64;
    else if (o.type == msgpack::type::POSITIVE_INTEGER)
      v = static_cast<double>(o.via.u64);
    else if (o.type == msgpack::type::NEGATIVE_INTEGER)
      v = static_cast<double>(o.via.i64);
    else
      fail(key, std::string("expected number, got ") + kind_name(o.type));
    if (std::isnan(v)) fail(key, "NaN");
    return v;
  }

  bool boolean(const char* key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::BOOLEAN)
      fail(key, std::string("expected bool, got ") + kind_name(o.type));
    return o.via.boolean;
  }

  std::string str(const char* key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::STR)
      fail(key, std::string("expected str, got ") + kind_name(o.type));
    return std::string(o.via.str.ptr, o.via.str.size);
  }

  const msgpack::object_bin& bin(const char* key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::BIN)
      fail(key, std::string("expected bin, got ") + kind_name(o.type));
    return o.via.bin;
  }

  template <typename T>
  std::vector<T> le_vec(const char* key) const {
    static_assert(sizeof(T) == 4);
    const msgpack::object_bin& b = bin(key);
    if (b.size % 4 != 0)
      fail(key, "bin of " + std::to_string(b.size) + " bytes is not a multiple of 4");
    std::vector<T> v(b.size / 4);
    if (b.size) std::memcpy(v.data(), b.ptr, b.size);
    return v;
  }

  const msgpack::object_array& array(const char* key) const {
    const msgpack::object& o = get(key);
    if (o.type != msgpack::type::ARRAY)
      fail(key, std::string("expected array, got ") + kind_name(o.type));
    return o.via.array;
  }

  std::vector<std::string> str_array(const char* key) const {
    const msgpack::object_array& a = array(key);
    std::vector<std::string> v;
    v.reserve(a.size);
    for (uint32_t i = 0; i < a.size; ++i) {
      const msgpack::object& o = a.ptr[i];
      if (o.type != msgpack::type::STR)
        fail(key, "[" + std::to_string(i) + "]: expected str, got " + kind_name(o.type));
      v.emplace_back(o.via.str.ptr, o.via.str.size);
    }
    return v;
  }
};

// Runs a field decoder, turning any error into (false, err).
template <typename Fn>
bool guarded(const Message& msg, MsgType want, std::string& err, Fn&& fn) {
  if (msg.type != want) {
    err = std::string("expected a ") + msg_type_name(want) + " message, got " +
          msg_type_name(msg.type);
    return false;
  }
  try {
    fn(Fields(msg.handle.get(), msg_type_name(want)));
    return true;
  } catch (const std::exception& e) {  // DecodeError, or bad_alloc on absurd sizes
    err = e.what();
    return false;
  }
}

void pack_params(Packer& pk, const SamplingParams& p) {
  pk.pack_map(7);
  pk.pack("temperature");
  pk.pack(static_cast<double>(p.temperature));
  pk.pack("top_p");
  pk.pack(static_cast<double>(p.top_p));
  pk.pack("top_k");
  pk.pack(p.top_k);
  pk.pack("min_p");
  pk.pack(static_cast<double>(p.min_p));
  pk.pack("max_new_tokens");
  pk.pack(p.max_new_tokens);
  pk.pack("stop_token_ids");
  pack_le(pk, p.stop_token_ids);
  pk.pack("stop_strings");
  pk.pack(p.stop_strings);
}

SamplingParams read_params(const Fields& f) {
  SamplingParams p;
  p.temperature = static_cast<float>(f.f64("temperature"));
  p.top_p = static_cast<float>(f.f64("top_p"));
  p.top_k = f.i32("top_k", std::numeric_limits<int32_t>::min());  // <= 0: off
  p.min_p = static_cast<float>(f.f64("min_p"));
  p.max_new_tokens = f.i32("max_new_tokens");
  p.stop_token_ids = f.le_vec<int32_t>("stop_token_ids");
  p.stop_strings = f.str_array("stop_strings");
  return p;
}

void pack_sample(Packer& pk, const Sample& s) {
  pk.pack_map(6);
  pk.pack("token_ids");
  pack_le(pk, s.token_ids);
  pk.pack("logprobs");
  pack_le(pk, s.logprobs);
  pk.pack("truncated_logprobs");
  pack_le(pk, s.truncated_logprobs);
  pk.pack("finish_reason");
  pk.pack(s.finish_reason);
  pk.pack("routing_dims");
  pk.pack_array(3);
  pk.pack(s.routing_num_tokens);
  pk.pack(s.routing_num_layers);
  pk.pack(s.routing_top_k);
  pk.pack("routed_experts");
  pack_le(pk, s.routed_experts);
}

Sample read_sample(const Fields& f) {
  Sample s;
  s.token_ids = f.le_vec<int32_t>("token_ids");
  s.logprobs = f.le_vec<float>("logprobs");
  s.truncated_logprobs = f.le_vec<float>("truncated_logprobs");
  s.finish_reason = f.str("finish_reason");
  if (s.logprobs.size() != s.token_ids.size())
    f.fail("logprobs", std::to_string(s.logprobs.size()) + " values for " +
                           std::to_string(s.token_ids.size()) + " tokens");
  if (!s.truncated_logprobs.empty() && s.truncated_logprobs.size() != s.token_ids.size())
    f.fail("truncated_logprobs", std::to_string(s.truncated_logprobs.size()) + " values for " +
                                     std::to_string(s.token_ids.size()) + " tokens");
  const msgpack::object_array& dims = f.array("routing_dims");
  if (dims.size != 3) f.fail("routing_dims", "expected 3 dims, got " + std::to_string(dims.size));
  int64_t d[3];
  for (int i = 0; i < 3; ++i) {
    const msgpack::object& o = dims.ptr[i];
    if (o.type != msgpack::type::POSITIVE_INTEGER || o.via.u64 > (1u << 30))
      f.fail("routing_dims", "dim " + std::to_string(i) + " is not a small unsigned integer");
    d[i] = static_cast<int64_t>(o.via.u64);
  }
  s.routing_num_tokens = static_cast<int32_t>(d[0]);
  s.routing_num_layers = static_cast<int32_t>(d[1]);
  s.routing_top_k = static_cast<int32_t>(d[2]);
  s.routed_experts = f.le_vec<int32_t>("routed_experts");
  if (static_cast<uint64_t>(d[0]) * static_cast<uint64_t>(d[1]) * static_cast<uint64_t>(d[2]) !=
      s.routed_experts.size())
    f.fail("routed_experts", std::to_string(s.routed_experts.size()) + " ids do not match dims [" +
                                 std::to_string(d[0]) + ", " + std::to_string(d[1]) + ", " +
                                 std::to_string(d[2]) + "]");
  return s;
}

}  // namespace

const char* msg_type_name(MsgType t) {
  for (const TypeName& tn : kTypeNames)
    if (tn.type == t) return tn.name;
  return "?";
}

bool msg_type_from_name(const std::string& name, MsgType& out) {
  for (const TypeName& tn : kTypeNames)
    if (name == tn.name) {
      out = tn.type;
      return true;
    }
  return false;
}

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t checksum64(const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t h = kFnvOffset;
  size_t num_words = n / 8;
  for (size_t i = 0; i < num_words; ++i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    h ^= w;
    h *= 1099511628211ull;
  }
  return fnv1a64(p + 8 * num_words, n % 8, h);
}

// ---- encoders ----

std::string encode(const ReadyMsg& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::Ready, 3);
  pk.pack("worker_id");
  pk.pack(m.worker_id);
  pk.pack("capacity");
  pk.pack(m.capacity);
  pk.pack("weights_version");
  pk.pack(m.weights_version);
  return to_string(buf);
}

std::string encode(const HeartbeatMsg& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::Heartbeat, 4);
  pk.pack("worker_id");
  pk.pack(m.worker_id);
  pk.pack("weights_version");
  pk.pack(m.weights_version);
  pk.pack("capacity");
  pk.pack(m.capacity);
  pk.pack("outstanding");
  pk.pack(m.outstanding);
  return to_string(buf);
}

std::string encode(const GenRequest& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::GenRequest, 7);
  pk.pack("request_id");
  pk.pack(m.request_id);
  pk.pack("prompt_ids");
  pack_le(pk, m.prompt_ids);
  pk.pack("group_size");
  pk.pack(m.group_size);
  pk.pack("params");
  pack_params(pk, m.params);
  pk.pack("seed");
  pk.pack(m.seed);
  pk.pack("min_weights_version");
  pk.pack(m.min_weights_version);
  pk.pack("return_routing");
  pk.pack(m.return_routing);
  return to_string(buf);
}

std::string encode(const GenResult& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::GenResult, 5);
  pk.pack("request_id");
  pk.pack(m.request_id);
  pk.pack("worker_id");
  pk.pack(m.worker_id);
  pk.pack("weights_version");
  pk.pack(m.weights_version);
  pk.pack("gen_ms");
  pk.pack(m.gen_ms);
  pk.pack("samples");
  pk.pack_array(static_cast<uint32_t>(m.samples.size()));
  for (const Sample& s : m.samples) pack_sample(pk, s);
  return to_string(buf);
}

std::string encode(const WeightsAnnounce& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::WeightsAnnounce, 4);
  pk.pack("weights_version");
  pk.pack(m.weights_version);
  pk.pack("num_bytes");
  pk.pack(m.num_bytes);
  pk.pack("checksum");
  pk.pack(m.checksum);
  pk.pack("chunk_size");
  pk.pack(m.chunk_size);
  return to_string(buf);
}

std::string encode(const WeightsGet& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::WeightsGet, 2);
  pk.pack("weights_version");
  pk.pack(m.weights_version);
  pk.pack("chunk_idx");
  pk.pack(m.chunk_idx);
  return to_string(buf);
}

std::string encode_weights_chunk(uint64_t weights_version, uint32_t chunk_idx, uint64_t checksum,
                                 const uint8_t* data, size_t n) {
  msgpack::sbuffer buf(n + 128);
  Packer pk(buf);
  pack_header(pk, MsgType::WeightsChunk, 4);
  pk.pack("weights_version");
  pk.pack(weights_version);
  pk.pack("chunk_idx");
  pk.pack(chunk_idx);
  pk.pack("checksum");
  pk.pack(checksum);
  pk.pack("data");
  pk.pack_bin(static_cast<uint32_t>(n));
  pk.pack_bin_body(reinterpret_cast<const char*>(data), static_cast<uint32_t>(n));
  return to_string(buf);
}

std::string encode(const WeightsChunk& m) {
  return encode_weights_chunk(m.weights_version, m.chunk_idx, m.checksum, m.data.data(),
                              m.data.size());
}

std::string encode(const WeightsAck& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::WeightsAck, 1);
  pk.pack("weights_version");
  pk.pack(m.weights_version);
  return to_string(buf);
}

std::string encode(const ByeMsg& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::Bye, 2);
  pk.pack("worker_id");
  pk.pack(m.worker_id);
  pk.pack("reason");
  pk.pack(m.reason);
  return to_string(buf);
}

std::string encode(const ShutdownMsg& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::Shutdown, 1);
  pk.pack("reason");
  pk.pack(m.reason);
  return to_string(buf);
}

std::string encode(const RelayOffer& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::RelayOffer, 2);
  pk.pack("endpoint");
  pk.pack(m.endpoint);
  pk.pack("public_key");
  pk.pack(m.public_key);
  return to_string(buf);
}

std::string encode(const RelayPlan& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::RelayPlan, 4);
  pk.pack("parent_id");
  pk.pack(m.parent_id);
  pk.pack("parent_endpoint");
  pk.pack(m.parent_endpoint);
  pk.pack("parent_key");
  pk.pack(m.parent_key);
  pk.pack("child_keys");
  pk.pack(m.child_keys);
  return to_string(buf);
}

std::string encode(const ScoreRequest& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::ScoreRequest, 4);
  pk.pack("request_id");
  pk.pack(m.request_id);
  pk.pack("task");
  pk.pack(m.task);
  pk.pack("completions");
  pk.pack(m.completions);
  pk.pack("reference_json");
  pk.pack(m.reference_json);
  return to_string(buf);
}

std::string encode(const ScoreResult& m) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack_header(pk, MsgType::ScoreResult, 3);
  pk.pack("request_id");
  pk.pack(m.request_id);
  pk.pack("rewards");
  pk.pack(m.rewards);
  pk.pack("components_json");
  pk.pack(m.components_json);
  return to_string(buf);
}

// ---- parsing and decoders ----

bool parse_message(const void* data, size_t n, Message& out, std::string& err) {
  if (n == 0) {
    err = "empty message";
    return false;
  }
  // Every element takes at least one byte, so no honest container declares more elements than the
  // message has bytes; this bounds the allocation garbage could ask for.
  msgpack::unpack_limit limit(n, n, n, n, n, 32);
  size_t off = 0;
  try {
    out.handle = msgpack::unpack(static_cast<const char*>(data), n, off, nullptr, nullptr, limit);
  } catch (const std::exception& e) {
    err = std::string("not msgpack (") + e.what() + ")";
    return false;
  }
  if (off != n) {
    err = "trailing " + std::to_string(n - off) + " bytes after the message";
    return false;
  }
  const msgpack::object& o = out.handle.get();
  try {
    Fields f(o, "message");
    std::string type = f.str("type");
    if (!msg_type_from_name(type, out.type)) {
      err = "unknown message type '" + type.substr(0, 64) + "'";
      return false;
    }
    int64_t version =
        f.i64("version", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    if (version != kProtocolVersion) {
      err = std::string(msg_type_name(out.type)) + ": protocol version " + std::to_string(version) +
            ", expected " + std::to_string(kProtocolVersion);
      return false;
    }
  } catch (const std::exception& e) {
    err = e.what();
    return false;
  }
  return true;
}

bool decode(const Message& msg, ReadyMsg& out, std::string& err) {
  return guarded(msg, MsgType::Ready, err, [&](const Fields& f) {
    out.worker_id = f.str("worker_id");
    out.capacity = f.i32("capacity");
    out.weights_version = f.u64("weights_version");
  });
}

bool decode(const Message& msg, HeartbeatMsg& out, std::string& err) {
  return guarded(msg, MsgType::Heartbeat, err, [&](const Fields& f) {
    out.worker_id = f.str("worker_id");
    out.weights_version = f.u64("weights_version");
    out.capacity = f.i32("capacity");
    out.outstanding = f.i32("outstanding");
  });
}

bool decode(const Message& msg, GenRequest& out, std::string& err) {
  return guarded(msg, MsgType::GenRequest, err, [&](const Fields& f) {
    out.request_id = f.u64("request_id");
    out.prompt_ids = f.le_vec<int32_t>("prompt_ids");
    out.group_size = f.i32("group_size", 1);
    out.params = read_params(Fields(f.get("params"), f.where + ".params"));
    out.seed = f.u64("seed");
    out.min_weights_version = f.u64("min_weights_version");
    out.return_routing = f.boolean("return_routing");
  });
}

bool decode(const Message& msg, GenResult& out, std::string& err) {
  return guarded(msg, MsgType::GenResult, err, [&](const Fields& f) {
    out.request_id = f.u64("request_id");
    out.worker_id = f.str("worker_id");
    out.weights_version = f.u64("weights_version");
    out.gen_ms = f.f64("gen_ms");
    const msgpack::object_array& a = f.array("samples");
    out.samples.clear();
    out.samples.reserve(a.size);
    for (uint32_t i = 0; i < a.size; ++i)
      out.samples.push_back(
          read_sample(Fields(a.ptr[i], f.where + ".samples[" + std::to_string(i) + "]")));
  });
}

bool decode(const Message& msg, WeightsAnnounce& out, std::string& err) {
  return guarded(msg, MsgType::WeightsAnnounce, err, [&](const Fields& f) {
    out.weights_version = f.u64("weights_version");
    out.num_bytes = f.u64("num_bytes");
    out.checksum = f.u64("checksum");
    out.chunk_size = static_cast<uint32_t>(f.u64("chunk_size", 0xffffffffu));
    if (out.chunk_size == 0 && out.num_bytes > 0) f.fail("chunk_size", "zero chunk size");
  });
}

bool decode(const Message& msg, WeightsGet& out, std::string& err) {
  return guarded(msg, MsgType::WeightsGet, err, [&](const Fields& f) {
    out.weights_version = f.u64("weights_version");
    out.chunk_idx = static_cast<uint32_t>(f.u64("chunk_idx", 0xffffffffu));
  });
}

bool decode(const Message& msg, WeightsChunk& out, std::string& err) {
  return guarded(msg, MsgType::WeightsChunk, err, [&](const Fields& f) {
    out.weights_version = f.u64("weights_version");
    out.chunk_idx = static_cast<uint32_t>(f.u64("chunk_idx", 0xffffffffu));
    out.checksum = f.u64("checksum");
    const msgpack::object_bin& b = f.bin("data");
    out.data.assign(reinterpret_cast<const uint8_t*>(b.ptr),
                    reinterpret_cast<const uint8_t*>(b.ptr) + b.size);
  });
}

bool decode(const Message& msg, WeightsAck& out, std::string& err) {
  return guarded(msg, MsgType::WeightsAck, err,
                 [&](const Fields& f) { out.weights_version = f.u64("weights_version"); });
}

bool decode(const Message& msg, ByeMsg& out, std::string& err) {
  return guarded(msg, MsgType::Bye, err, [&](const Fields& f) {
    out.worker_id = f.str("worker_id");
    out.reason = f.str("reason");
  });
}

bool decode(const Message& msg, ShutdownMsg& out, std::string& err) {
  return guarded(msg, MsgType::Shutdown, err,
                 [&](const Fields& f) { out.reason = f.str("reason"); });
}

bool decode(const Message& msg, RelayOffer& out, std::string& err) {
  return guarded(msg, MsgType::RelayOffer, err, [&](const Fields& f) {
    out.endpoint = f.str("endpoint");
    out.public_key = f.str("public_key");
  });
}

bool decode(const Message& msg, RelayPlan& out, std::string& err) {
  return guarded(msg, MsgType::RelayPlan, err, [&](const Fields& f) {
    out.parent_id = f.str("parent_id");
    out.parent_endpoint = f.str("parent_endpoint");
    out.parent_key = f.str("parent_key");
    out.child_keys = f.str_array("child_keys");
  });
}

bool decode(const Message& msg, ScoreRequest& out, std::string& err) {
  return guarded(msg, MsgType::ScoreRequest, err, [&](const Fields& f) {
    out.request_id = f.u64("request_id");
    out.task = f.str("task");
    out.completions = f.str_array("completions");
    out.reference_json = f.str("reference_json");
  });
}

bool decode(const Message& msg, ScoreResult& out, std::string& err) {
  return guarded(msg, MsgType::ScoreResult, err, [&](const Fields& f) {
    out.request_id = f.u64("request_id");
    const msgpack::object_array& a = f.array("rewards");
    out.rewards.clear();
    out.rewards.reserve(a.size);
    for (uint32_t i = 0; i < a.size; ++i) {
      const msgpack::object& o = a.ptr[i];
      if (o.type == msgpack::type::FLOAT32 || o.type == msgpack::type::FLOAT64)
        out.rewards.push_back(o.via.f64);
      else if (o.type == msgpack::type::POSITIVE_INTEGER)
        out.rewards.push_back(static_cast<double>(o.via.u64));
      else if (o.type == msgpack::type::NEGATIVE_INTEGER)
        out.rewards.push_back(static_cast<double>(o.via.i64));
      else
        f.fail("rewards", "[" + std::to_string(i) + "]: expected number, got " + kind_name(o.type));
    }
    out.components_json = f.str("components_json");
  });
}

// ---- framing ----

bool send_frame(zmq::socket_t& sock, const std::string& peer, const std::string& bytes) {
  try {
    if (!peer.empty()) {
      zmq::message_t id(peer.data(), peer.size());
      if (!sock.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    }
    zmq::message_t body(bytes.data(), bytes.size());
    return sock.send(body, zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {  // EHOSTUNREACH with ROUTER_MANDATORY, ETERM
    return false;
  }
}

int recv_frame(zmq::socket_t& sock, bool router, std::string& peer, std::string& bytes,
               std::string& err) {
  std::vector<zmq::message_t> parts;
  zmq::message_t part;
  if (!sock.recv(part, zmq::recv_flags::dontwait)) return 0;
  parts.push_back(std::move(part));
  while (parts.back().more()) {
    zmq::message_t next;
    // The remaining parts of a multipart message arrive atomically with the first.
    if (!sock.recv(next, zmq::recv_flags::dontwait)) break;
    parts.push_back(std::move(next));
  }
  size_t first = 0;
  peer.clear();
  if (router) {
    peer = parts[0].to_string();
    first = 1;
  }
  if (parts.size() != first + 1) {
    err =
        "expected " + std::to_string(first + 1) + " frame(s), got " + std::to_string(parts.size());
    return -1;
  }
  bytes = parts[first].to_string();
  return 1;
}

std::string printable_peer(const std::string& peer) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : peer) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      s += static_cast<char>(c);
    } else {
      s += "\\x";
      s += hex[c >> 4];
      s += hex[c & 15];
    }
  }
  return s.empty() ? "<anonymous>" : s;
}

}  // namespace aha
