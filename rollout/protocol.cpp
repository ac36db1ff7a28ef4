// msgpack encoding and checked decoding of the rollout protocol (see protocol.h for the table).
#include "rollout/protocol.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstring>
#include <limits>
#include <span>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <type_traits>

#include "kernels/check.h"

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

// A msgpack number as a double (a hand-written sender may write 1 for 1.0); false when o is none.
bool as_number(const msgpack::object& o, double& v) {
  if (o.type == msgpack::type::FLOAT32 || o.type == msgpack::type::FLOAT64)
    v = o.via.f64;
  else if (o.type == msgpack::type::POSITIVE_INTEGER)
    v = static_cast<double>(o.via.u64);
  else if (o.type == msgpack::type::NEGATIVE_INTEGER)
    v = static_cast<double>(o.via.i64);
  else
    return false;
  return true;
}

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

  // The field `key`, which must be of msgpack type `want` (`what` names it in the error).
  const msgpack::object& get(const char* key, msgpack::type::object_type want,
                             const char* what) const {
    const msgpack::object& o = get(key);
    if (o.type != want) fail(key, std::string("expected ") + what + ", got " + kind_name(o.type));
    return o;
  }

  uint64_t u64(const char* key, uint64_t max = std::numeric_limits<uint64_t>::max()) const {
    const msgpack::object& o = get(key, msgpack::type::POSITIVE_INTEGER, "unsigned integer");
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

  // Floats also accept integers; NaN is refused.
  double f64(const char* key) const {
    const msgpack::object& o = get(key);
    double v = 0;
    if (!as_number(o, v)) fail(key, std::string("expected number, got ") + kind_name(o.type));
    if (std::isnan(v)) fail(key, "NaN");
    return v;
  }

  bool boolean(const char* key) const {
    return get(key, msgpack::type::BOOLEAN, "bool").via.boolean;
  }

  std::string str(const char* key) const {
    const msgpack::object_str& s = get(key, msgpack::type::STR, "str").via.str;
    return std::string(s.ptr, s.size);
  }

  const msgpack::object_bin& bin(const char* key) const {
    return get(key, msgpack::type::BIN, "bin").via.bin;
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
    return get(key, msgpack::type::ARRAY, "array").via.array;
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

// ---- one field list per message ----
// fields(v, m) names every wire field of a message once, in wire order; the same list drives the
// map size (Count), the encoder (Put) and the decoder (Get). An int32 field may carry the least
// value its decoder accepts (0 by default). check(f, m) holds what one field alone cannot say.

#define AHA_FIELDS(Type)                              \
  template <typename V, typename M>                   \
  requires std::same_as<std::remove_const_t<M>, Type> \
  void fields(V& v, M& m)

AHA_FIELDS(ReadyMsg) {
  v("worker_id", m.worker_id);
  v("capacity", m.capacity);
  v("weights_version", m.weights_version);
}
AHA_FIELDS(HeartbeatMsg) {
  v("worker_id", m.worker_id);
  v("weights_version", m.weights_version);
  v("capacity", m.capacity);
  v("outstanding", m.outstanding);
}
AHA_FIELDS(SamplingParams) {
  v("temperature", m.temperature);
  v("top_p", m.top_p);
  v("top_k", m.top_k, std::numeric_limits<int32_t>::min());  // <= 0: off
  v("min_p", m.min_p);
  v("max_new_tokens", m.max_new_tokens);
  v("stop_token_ids", m.stop_token_ids);
  v("stop_strings", m.stop_strings);
}
AHA_FIELDS(GenRequest) {
  v("request_id", m.request_id);
  v("prompt_ids", m.prompt_ids);
  v("group_size", m.group_size, 1);
  v("params", m.params);
  v("seed", m.seed);
  v("min_weights_version", m.min_weights_version);
  v("return_routing", m.return_routing);
}
// The sampler's part of Sample (policy/sample.h); the rest never travels.
AHA_FIELDS(Sample) {
  v("token_ids", m.completion);
  v("logprobs", m.rollout_logp);
  v("truncated_logprobs", m.trunc_logp);
  v("finish_reason", m.finish_reason);
  v("routing_num_layers", m.routing_num_layers);
  v("routing_top_k", m.routing_top_k);
  v("routed_experts", m.routing);
}
AHA_FIELDS(GenResult) {
  v("request_id", m.request_id);
  v("worker_id", m.worker_id);
  v("weights_version", m.weights_version);
  v("gen_ms", m.gen_ms);
  v("samples", m.samples);
}
AHA_FIELDS(WeightsAnnounce) {
  v("weights_version", m.weights_version);
  v("num_bytes", m.num_bytes);
  v("checksum", m.checksum);
  v("chunk_size", m.chunk_size);
}
AHA_FIELDS(WeightsGet) {
  v("weights_version", m.weights_version);
  v("chunk_idx", m.chunk_idx);
}
// A weights_chunk whose data is a slice of a larger buffer: encode_weights_chunk packs it
// through WeightsChunk's field list without copying the slice first.
struct WeightsChunkSlice {
  uint64_t weights_version = 0;
  uint32_t chunk_idx = 0;
  uint64_t checksum = 0;
  std::span<const uint8_t> data;
};

template <typename V, typename M>
requires std::same_as<std::remove_const_t<M>, WeightsChunk> ||
    std::same_as<std::remove_const_t<M>, WeightsChunkSlice>
void fields(V& v, M& m) {
  v("weights_version", m.weights_version);
  v("chunk_idx", m.chunk_idx);
  v("checksum", m.checksum);
  v("data", m.data);
}
AHA_FIELDS(WeightsAck) {
  v("weights_version", m.weights_version);
}
AHA_FIELDS(ByeMsg) {
  v("worker_id", m.worker_id);
  v("reason", m.reason);
}
AHA_FIELDS(ShutdownMsg) {
  v("reason", m.reason);
}
AHA_FIELDS(ScoreRequest) {
  v("request_id", m.request_id);
  v("task", m.task);
  v("completions", m.completions);
  v("reference_json", m.reference_json);
}
AHA_FIELDS(ScoreResult) {
  v("request_id", m.request_id);
  v("rewards", m.rewards);
  v("components_json", m.components_json);
}
AHA_FIELDS(RelayOffer) {
  v("endpoint", m.endpoint);
  v("public_key", m.public_key);
}
AHA_FIELDS(RelayPlan) {
  v("parent_id", m.parent_id);
  v("parent_endpoint", m.parent_endpoint);
  v("parent_key", m.parent_key);
  v("child_keys", m.child_keys);
}
#undef AHA_FIELDS

template <typename M>
void check(const Fields&, const M&) {}

void check(const Fields& f, const WeightsAnnounce& m) {
  if (m.chunk_size == 0 && m.num_bytes > 0) f.fail("chunk_size", "zero chunk size");
}

void check(const Fields& f, const Sample& s) {
  const size_t n = s.completion.size();
  if (s.rollout_logp.size() != n)
    f.fail("logprobs",
           std::to_string(s.rollout_logp.size()) + " values for " + std::to_string(n) + " tokens");
  if (!s.trunc_logp.empty() && s.trunc_logp.size() != n)
    f.fail("truncated_logprobs",
           std::to_string(s.trunc_logp.size()) + " values for " + std::to_string(n) + " tokens");
  const size_t LK =
      static_cast<size_t>(s.routing_num_layers) * static_cast<size_t>(s.routing_top_k);
  if (LK == 0 ? !s.routing.empty() : s.routing.size() % LK != 0)
    f.fail("routed_experts", std::to_string(s.routing.size()) + " ids do not fill [" +
                                 std::to_string(s.routing_num_layers) + ", T, " +
                                 std::to_string(s.routing_top_k) + "]");
}

// Number of fields in a message's list (the map size the encoder declares).
struct Count {
  uint32_t n = 0;
  template <typename T, typename... Opt>
  void operator()(const char*, const T&, Opt...) {
    n++;
  }
};

template <typename M>
uint32_t num_fields(const M& m) {
  Count c;
  fields(c, m);
  return c.n;
}

struct Put {
  Packer& pk;

  template <typename T, typename... Opt>
  void operator()(const char* key, const T& v, Opt...) {
    pk.pack(key);
    put(v);
  }

  void put(const std::string& v) { pk.pack(v); }
  void put(bool v) { pk.pack(v); }
  void put(uint64_t v) { pk.pack(v); }
  void put(uint32_t v) { pk.pack(v); }
  void put(int32_t v) { pk.pack(v); }
  void put(double v) { pk.pack(v); }
  void put(float v) { pk.pack(static_cast<double>(v)); }
  void put(const std::vector<int32_t>& v) { pack_le(pk, v); }
  void put(const std::vector<float>& v) { pack_le(pk, v); }
  void put(std::span<const uint8_t> v) {
    pk.pack_bin(static_cast<uint32_t>(v.size()));
    pk.pack_bin_body(reinterpret_cast<const char*>(v.data()), static_cast<uint32_t>(v.size()));
  }
  void put(const std::vector<uint8_t>& v) { put(std::span<const uint8_t>(v)); }
  void put(const std::vector<std::string>& v) { pk.pack(v); }
  void put(const std::vector<double>& v) { pk.pack(v); }
  template <typename M>
  void put(const std::vector<M>& v) {  // an array of nested maps
    pk.pack_array(static_cast<uint32_t>(v.size()));
    for (const M& m : v) put(m);
  }
  template <typename M>
  requires std::is_class_v<M>
  void put(const M& m) {  // a nested map
    pk.pack_map(num_fields(m));
    fields(*this, m);
  }
};

struct Get {
  const Fields& f;

  template <typename T>
  void operator()(const char* key, T& v) {
    get(key, v);
  }
  void operator()(const char* key, int32_t& v, int32_t lo) { v = f.i32(key, lo); }

  void get(const char* key, std::string& v) { v = f.str(key); }
  void get(const char* key, bool& v) { v = f.boolean(key); }
  void get(const char* key, uint64_t& v) { v = f.u64(key); }
  void get(const char* key, uint32_t& v) { v = static_cast<uint32_t>(f.u64(key, 0xffffffffu)); }
  void get(const char* key, int32_t& v) { v = f.i32(key); }
  void get(const char* key, double& v) { v = f.f64(key); }
  void get(const char* key, float& v) { v = static_cast<float>(f.f64(key)); }
  void get(const char* key, std::vector<int32_t>& v) { v = f.le_vec<int32_t>(key); }
  void get(const char* key, std::vector<float>& v) { v = f.le_vec<float>(key); }
  void get(const char* key, std::vector<uint8_t>& v) {
    const msgpack::object_bin& b = f.bin(key);
    v.assign(reinterpret_cast<const uint8_t*>(b.ptr),
             reinterpret_cast<const uint8_t*>(b.ptr) + b.size);
  }
  void get(const char* key, std::vector<std::string>& v) { v = f.str_array(key); }
  void get(const char* key, std::vector<double>& v) {
    const msgpack::object_array& a = f.array(key);
    v.clear();
    v.reserve(a.size);
    for (uint32_t i = 0; i < a.size; ++i) {
      const msgpack::object& o = a.ptr[i];
      if (!as_number(o, v.emplace_back()))
        f.fail(key, "[" + std::to_string(i) + "]: expected number, got " + kind_name(o.type));
    }
  }
  template <typename M>
  void get(const char* key, std::vector<M>& v) {  // an array of nested maps
    const msgpack::object_array& a = f.array(key);
    v.clear();
    v.reserve(a.size);
    for (uint32_t i = 0; i < a.size; ++i) {
      v.emplace_back();
      read(Fields(a.ptr[i], f.where + "." + key + "[" + std::to_string(i) + "]"), v.back());
    }
  }
  template <typename M>
  requires std::is_class_v<M>
  void get(const char* key, M& m) {  // a nested map
    read(Fields(f.get(key), f.where + "." + key), m);
  }

  template <typename M>
  static void read(const Fields& nested, M& m) {
    Get g{nested};
    fields(g, m);
    check(nested, m);
  }
};

// `reserve`: the buffer's first size (a weights chunk's bytes, so that packing it never regrows).
template <typename M>
std::string encode_msg(MsgType t, const M& m, size_t reserve = MSGPACK_SBUFFER_INIT_SIZE) {
  msgpack::sbuffer buf(reserve);
  Packer pk(buf);
  pack_header(pk, t, num_fields(m));
  Put put{pk};
  fields(put, m);
  return to_string(buf);
}

// Decodes a message of type `want` into out, turning any error into (false, err).
template <typename M>
bool decode_msg(const Message& msg, MsgType want, M& out, std::string& err) {
  if (msg.type != want) {
    err = std::string("expected a ") + msg_type_name(want) + " message, got " +
          msg_type_name(msg.type);
    return false;
  }
  try {
    Get::read(Fields(msg.handle.get(), msg_type_name(want)), out);
    return true;
  } catch (const std::exception& e) {  // DecodeError, or bad_alloc on absurd sizes
    err = e.what();
    return false;
  }
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

std::vector<uint64_t> chunk_checksums(const uint8_t* data, size_t n, uint32_t chunk_size,
                                      int threads) {
  AHA_CHECK(chunk_size > 0 || n == 0, "chunk_checksums: zero chunk size");
  const size_t num_chunks = n == 0 ? 0 : (n + chunk_size - 1) / chunk_size;
  std::vector<uint64_t> sums(num_chunks);
  auto run = [&](size_t first, size_t last) {
    for (size_t i = first; i < last; ++i) {
      const size_t b = i * chunk_size;
      sums[i] = checksum64(data + b, std::min<size_t>(chunk_size, n - b));
    }
  };
  // Threads pay off from a few tens of MB (a thread start costs about what 1 MB does).
  const size_t num_threads = std::min<size_t>(
      {static_cast<size_t>(std::max(threads, 1)), num_chunks, n / (16u << 20) + 1});
  std::vector<std::thread> pool;
  for (size_t t = 1; t < num_threads; ++t)
    pool.emplace_back(run, num_chunks * t / num_threads, num_chunks * (t + 1) / num_threads);
  run(0, num_chunks / std::max<size_t>(num_threads, 1));
  for (std::thread& th : pool) th.join();
  return sums;
}

uint64_t weights_checksum(const std::vector<uint64_t>& chunk_sums) {
  std::vector<uint8_t> le(chunk_sums.size() * 8);
  for (size_t i = 0; i < chunk_sums.size(); ++i)
    for (int k = 0; k < 8; ++k) le[8 * i + k] = static_cast<uint8_t>(chunk_sums[i] >> (8 * k));
  return checksum64(le.data(), le.size());
}

// ---- encoders ----

#define AHA_CODEC(Msg, type)                                    \
  std::string encode(const Msg& m) {                            \
    return encode_msg(type, m);                                 \
  }                                                             \
  bool decode(const Message& msg, Msg& out, std::string& err) { \
    return decode_msg(msg, type, out, err);                     \
  }
AHA_CODEC(ReadyMsg, MsgType::Ready)
AHA_CODEC(HeartbeatMsg, MsgType::Heartbeat)
AHA_CODEC(GenRequest, MsgType::GenRequest)
AHA_CODEC(GenResult, MsgType::GenResult)
AHA_CODEC(WeightsAnnounce, MsgType::WeightsAnnounce)
AHA_CODEC(WeightsGet, MsgType::WeightsGet)
AHA_CODEC(WeightsAck, MsgType::WeightsAck)
AHA_CODEC(ByeMsg, MsgType::Bye)
AHA_CODEC(ShutdownMsg, MsgType::Shutdown)
AHA_CODEC(ScoreRequest, MsgType::ScoreRequest)
AHA_CODEC(ScoreResult, MsgType::ScoreResult)
AHA_CODEC(RelayOffer, MsgType::RelayOffer)
AHA_CODEC(RelayPlan, MsgType::RelayPlan)
#undef AHA_CODEC

std::string encode_weights_chunk(uint64_t weights_version, uint32_t chunk_idx, uint64_t checksum,
                                 const uint8_t* data, size_t n) {
  return encode_msg(MsgType::WeightsChunk,
                    WeightsChunkSlice{weights_version, chunk_idx, checksum, {data, n}}, n + 128);
}

std::string encode(const WeightsChunk& m) {
  return encode_weights_chunk(m.weights_version, m.chunk_idx, m.checksum, m.data.data(),
                              m.data.size());
}

bool decode(const Message& msg, WeightsChunk& out, std::string& err) {
  return decode_msg(msg, MsgType::WeightsChunk, out, err);
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
