// Protocol messages: every type round-trips, and every kind of bad input is a decode error.
#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <random>

#include "rollout/protocol.h"
#include "tests/hand_written_message.h"

using namespace aha;
using namespace aha::test;
using json = nlohmann::json;

namespace {

GenRequest make_request() {
  GenRequest r;
  r.request_id = 0x123456789abcull;
  r.prompt_ids = {1, 2, 3, -4, 2147483647};
  r.group_size = 8;
  r.params.temperature = 0.7f;
  r.params.top_p = 0.95f;
  r.params.top_k = 40;
  r.params.min_p = 0.05f;
  r.params.max_new_tokens = 512;
  r.params.stop_token_ids = {0, 7};
  r.params.stop_strings = {"</answer>", "\n\n"};
  r.seed = 0xfedcba9876543210ull;
  r.min_weights_version = 17;
  r.return_routing = true;
  return r;
}

GenResult make_result() {
  GenResult r;
  r.request_id = 99;
  r.worker_id = "host-1-0";
  r.weights_version = 5;
  r.gen_ms = 12.5;
  for (int g = 0; g < 3; ++g) {
    Sample s;
    for (int t = 0; t < 4 + g; ++t) {
      s.completion.push_back(100 * g + t);
      s.rollout_logp.push_back(-0.25f * static_cast<float>(t) - 1e-7f);
    }
    if (g == 1) s.trunc_logp = std::vector<float>(s.completion.size(), -0.125f);
    s.finish_reason = g == 2 ? "length" : "stop";
    if (g != 0) {
      s.routing_num_layers = 2;
      s.routing_top_k = 3;
      for (size_t i = 0; i < s.completion.size() * 2 * 3; ++i) s.routing.push_back(i % 7);
    }
    r.samples.push_back(s);
  }
  return r;
}

template <typename T>
T round_trip(const T& m) {
  std::string bytes = encode(m);
  T out;
  std::string err;
  bool ok = decode_bytes(bytes.data(), bytes.size(), out, err);
  INFO(err);
  REQUIRE(ok);
  return out;
}

template <typename T>
bool decodes(const std::string& bytes, std::string& err) {
  T out;
  return decode_bytes(bytes.data(), bytes.size(), out, err);
}

}  // namespace

TEST_CASE("fnv1a64 matches the published test vectors") {
  CHECK(fnv1a64("", 0) == 0xcbf29ce484222325ull);
  CHECK(fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
  // Chaining equals hashing the concatenation.
  CHECK(fnv1a64("bar", 3, fnv1a64("foo", 3)) == fnv1a64("foobar", 6));
}

TEST_CASE("checksum64 is FNV-1a over little-endian words, then the tail bytes") {
  // Independent reference: assemble each word from bytes by shifts (no memcpy, no endianness
  // trick).
  std::vector<uint8_t> b(8 * 5 + 3);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 37 + 11);
  uint64_t h = 14695981039346656037ull;
  for (size_t w = 0; w < 5; ++w) {
    uint64_t word = 0;
    for (int k = 0; k < 8; ++k) word |= static_cast<uint64_t>(b[8 * w + k]) << (8 * k);
    h = (h ^ word) * 1099511628211ull;
  }
  for (size_t i = 40; i < b.size(); ++i) h = (h ^ b[i]) * 1099511628211ull;
  CHECK(checksum64(b.data(), b.size()) == h);
  CHECK(checksum64("foobar", 6) == fnv1a64("foobar", 6));  // shorter than a word
  // Any single flipped bit changes it.
  uint64_t base = checksum64(b.data(), b.size());
  for (size_t i = 0; i < b.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      b[i] ^= static_cast<uint8_t>(1 << bit);
      CHECK(checksum64(b.data(), b.size()) != base);
      b[i] ^= static_cast<uint8_t>(1 << bit);
    }
}

TEST_CASE("chunk checksums: any thread count gives checksum64 of each chunk; the whole is theirs") {
  // 40 MB (over the threads' threshold) in chunks of 1 MiB + 1, the last one short.
  std::vector<uint8_t> b((40u << 20) + 5);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  const uint32_t cs = (1u << 20) + 1;
  const size_t num_chunks = (b.size() + cs - 1) / cs;
  std::vector<uint64_t> want;
  for (size_t i = 0; i < num_chunks; ++i)
    want.push_back(checksum64(b.data() + i * cs, std::min<size_t>(cs, b.size() - i * cs)));
  for (int threads : {1, 2, 3, 8}) CHECK(chunk_checksums(b.data(), b.size(), cs, threads) == want);
  CHECK(chunk_checksums(b.data(), 0, cs, 4).empty());
  CHECK(chunk_checksums(b.data(), 7, cs, 4) == std::vector<uint64_t>{checksum64(b.data(), 7)});
  // The whole: checksum64 of the chunk checksums' little-endian bytes, built here by shifts.
  std::vector<uint8_t> le;
  for (uint64_t x : want)
    for (int k = 0; k < 8; ++k) le.push_back(static_cast<uint8_t>(x >> (8 * k)));
  const uint64_t whole = weights_checksum(want);
  CHECK(whole == checksum64(le.data(), le.size()));
  // A changed byte anywhere changes its chunk's checksum and so the whole.
  b[b.size() / 2] ^= 1;
  CHECK(weights_checksum(chunk_checksums(b.data(), b.size(), cs, 2)) != whole);
}

TEST_CASE("encode_weights_chunk equals encoding a WeightsChunk") {
  std::vector<uint8_t> big(1000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i);
  WeightsChunk m;
  m.weights_version = 3;
  m.chunk_idx = 1;
  m.data.assign(big.begin() + 100, big.begin() + 300);
  m.checksum = checksum64(m.data.data(), m.data.size());
  CHECK(encode(m) == encode_weights_chunk(3, 1, m.checksum, big.data() + 100, 200));
}

TEST_CASE("every message type round-trips") {
  SUBCASE("ready") {
    ReadyMsg m{"w-1", 16, 3};
    ReadyMsg o = round_trip(m);
    CHECK(o.worker_id == "w-1");
    CHECK(o.capacity == 16);
    CHECK(o.weights_version == 3);
  }
  SUBCASE("heartbeat") {
    HeartbeatMsg m{"w-2", 9, 4, 2};
    HeartbeatMsg o = round_trip(m);
    CHECK(o.worker_id == "w-2");
    CHECK(o.weights_version == 9);
    CHECK(o.capacity == 4);
    CHECK(o.outstanding == 2);
  }
  SUBCASE("gen_request") {
    GenRequest m = make_request();
    GenRequest o = round_trip(m);
    CHECK(o.request_id == m.request_id);
    CHECK(o.prompt_ids == m.prompt_ids);
    CHECK(o.group_size == 8);
    CHECK(o.params.temperature == 0.7f);
    CHECK(o.params.top_p == 0.95f);
    CHECK(o.params.top_k == 40);
    CHECK(o.params.min_p == 0.05f);
    CHECK(o.params.max_new_tokens == 512);
    CHECK(o.params.stop_token_ids == m.params.stop_token_ids);
    CHECK(o.params.stop_strings == m.params.stop_strings);
    CHECK(o.seed == m.seed);
    CHECK(o.min_weights_version == 17);
    CHECK(o.return_routing);
  }
  SUBCASE("gen_result") {
    GenResult m = make_result();
    GenResult o = round_trip(m);
    CHECK(o.request_id == 99);
    CHECK(o.worker_id == "host-1-0");
    CHECK(o.weights_version == 5);
    CHECK(o.gen_ms == 12.5);
    REQUIRE(o.samples.size() == 3);
    for (size_t g = 0; g < 3; ++g) {
      const Sample& a = m.samples[g];
      const Sample& b = o.samples[g];
      CHECK(b.completion == a.completion);
      CHECK(b.rollout_logp == a.rollout_logp);  // bit-exact floats
      CHECK(b.trunc_logp == a.trunc_logp);
      CHECK(b.finish_reason == a.finish_reason);
      CHECK(b.routing_num_layers == a.routing_num_layers);
      CHECK(b.routing_top_k == a.routing_top_k);
      CHECK(b.routing == a.routing);
    }
  }
  SUBCASE("weights_announce") {
    WeightsAnnounce m{7, 5000000, 0xdeadbeefcafef00dull, 1u << 20};
    WeightsAnnounce o = round_trip(m);
    CHECK(o.weights_version == 7);
    CHECK(o.num_bytes == 5000000);
    CHECK(o.checksum == 0xdeadbeefcafef00dull);
    CHECK(o.chunk_size == (1u << 20));
  }
  SUBCASE("weights_get") {
    WeightsGet o = round_trip(WeightsGet{7, 4});
    CHECK(o.weights_version == 7);
    CHECK(o.chunk_idx == 4);
  }
  SUBCASE("weights_chunk") {
    WeightsChunk m;
    m.weights_version = 7;
    m.chunk_idx = 2;
    for (int i = 0; i < 1000; ++i) m.data.push_back(static_cast<uint8_t>(i * 31));
    m.checksum = fnv1a64(m.data.data(), m.data.size());
    WeightsChunk o = round_trip(m);
    CHECK(o.weights_version == 7);
    CHECK(o.chunk_idx == 2);
    CHECK(o.checksum == m.checksum);
    CHECK(o.data == m.data);
  }
  SUBCASE("weights_ack") {
    CHECK(round_trip(WeightsAck{12}).weights_version == 12);
  }
  SUBCASE("bye") {
    ByeMsg o = round_trip(ByeMsg{"w", "stopped"});
    CHECK(o.worker_id == "w");
    CHECK(o.reason == "stopped");
  }
  SUBCASE("shutdown") {
    CHECK(round_trip(ShutdownMsg{"done"}).reason == "done");
  }
  SUBCASE("score_request") {
    ScoreRequest m{5, "countdown", {"<answer>3+4</answer>", ""}, R"({"target":7})"};
    ScoreRequest o = round_trip(m);
    CHECK(o.request_id == 5);
    CHECK(o.task == "countdown");
    CHECK(o.completions == m.completions);
    CHECK(o.reference_json == m.reference_json);
  }
  SUBCASE("score_result") {
    ScoreResult m{5, {1.0, -0.5, 0.0}, R"([{"format":1}])"};
    ScoreResult o = round_trip(m);
    CHECK(o.request_id == 5);
    CHECK(o.rewards == m.rewards);
    CHECK(o.components_json == m.components_json);
  }
}

TEST_CASE("the header names the type and the protocol version") {
  std::string bytes = encode(WeightsAck{3});
  msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
  std::map<std::string, msgpack::object> m;
  oh.get().convert(m);
  CHECK(m.at("type").as<std::string>() == "weights_ack");
  CHECK(m.at("version").as<int>() == kProtocolVersion);
  CHECK(m.at("weights_version").as<uint64_t>() == 3);
}

TEST_CASE("garbage bytes are a decode error") {
  std::string err;
  Message msg;
  CHECK_FALSE(parse_message("", 0, msg, err));
  CHECK_FALSE(parse_message("hello world", 11, msg, err));
  CHECK(!err.empty());
  const char not_map[] = {'\x93', 1, 2, 3};  // [1,2,3]
  CHECK_FALSE(parse_message(not_map, sizeof(not_map), msg, err));
  CHECK(err.find("expected map") != std::string::npos);
  // An array32 header declaring 4 billion elements: refused before allocating them.
  const char huge[] = {'\xdd', '\xff', '\xff', '\xff', '\xff', 1, 2};
  CHECK_FALSE(parse_message(huge, sizeof(huge), msg, err));
  const char huge_map[] = {'\xdf', '\x7f', '\xff', '\xff', '\xff', '\xa4', 't', 'y', 'p', 'e'};
  CHECK_FALSE(parse_message(huge_map, sizeof(huge_map), msg, err));
  const char huge_bin[] = {'\xc6', '\xff', '\xff', '\xff', '\xf0', 0};
  CHECK_FALSE(parse_message(huge_bin, sizeof(huge_bin), msg, err));
  // Random bytes: never a crash, and a random buffer is (almost surely) not a valid message.
  std::mt19937 rng(7);
  int accepted = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string junk(1 + rng() % 64, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    GenResult out;
    accepted += decode_bytes(junk.data(), junk.size(), out, err);
  }
  CHECK(accepted == 0);
}

TEST_CASE("every truncation of a message and trailing bytes are decode errors") {
  std::string full = encode(make_result());
  std::string err;
  for (size_t n = 0; n < full.size(); ++n) {
    GenResult out;
    bool ok = decode_bytes(full.data(), n, out, err);
    if (ok) INFO("prefix of " << n << " bytes decoded");
    CHECK_FALSE(ok);
  }
  std::string longer = full + "x";
  GenResult out;
  CHECK_FALSE(decode_bytes(longer.data(), longer.size(), out, err));
  CHECK(err.find("trailing") != std::string::npos);
}

TEST_CASE("flipped bytes never crash the decoder") {
  std::string full = encode(make_result());
  std::mt19937 rng(11);
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string b = full;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
    GenResult out;
    std::string err;
    if (!decode_bytes(b.data(), b.size(), out, err)) {
      rejected++;
      CHECK(!err.empty());
    } else {
      // Whatever decoded is self-consistent.
      for (const Sample& s : out.samples) {
        CHECK(s.rollout_logp.size() == s.completion.size());
        const size_t LK = static_cast<size_t>(s.routing_num_layers) * s.routing_top_k;
        CHECK((LK == 0 ? s.routing.empty() : s.routing.size() % LK == 0));
      }
    }
  }
  CHECK(rejected > 0);
}

TEST_CASE("a missing field, a wrong-typed field, an unknown type and a wrong version are errors") {
  std::string err;
  SUBCASE("missing field") {
    CHECK_FALSE(decodes<WeightsGet>(hand_written("weights_get", {{"weights_version", 4}}), err));
    CHECK(err.find("weights_get.chunk_idx") != std::string::npos);
    CHECK(err.find("missing") != std::string::npos);
  }
  SUBCASE("wrong-typed field") {
    CHECK_FALSE(decodes<WeightsGet>(
        hand_written("weights_get", {{"weights_version", "four"}, {"chunk_idx", 0}}), err));
    CHECK(err.find("weights_version") != std::string::npos);
    CHECK(err.find("str") != std::string::npos);
  }
  SUBCASE("negative where unsigned is required") {
    CHECK_FALSE(decodes<WeightsAck>(hand_written("weights_ack", {{"weights_version", -1}}), err));
  }
  // A gen_request whose fields are all well typed but for what a subcase changes.
  json request = {{"request_id", 1},          {"prompt_ids", bin()}, {"group_size", 2},
                  {"params", json::object()}, {"seed", 1},           {"min_weights_version", 0},
                  {"return_routing", false}};
  SUBCASE("bin not a multiple of 4 and mismatched sizes") {
    request["prompt_ids"] = bin({'a', 'b', 'c'});
    CHECK_FALSE(decodes<GenRequest>(hand_written("gen_request", request), err));
    CHECK(err.find("prompt_ids") != std::string::npos);

    GenResult r = make_result();
    r.samples[1].rollout_logp.pop_back();
    std::string b = encode(r);
    CHECK_FALSE(decodes<GenResult>(b, err));
    CHECK(err.find("samples[1].logprobs") != std::string::npos);
    r = make_result();
    r.samples[2].routing_top_k = 4;
    b = encode(r);
    CHECK_FALSE(decodes<GenResult>(b, err));
    CHECK(err.find("routed_experts") != std::string::npos);
  }
  SUBCASE("nested params field missing") {
    request["params"] = {{"temperature", 1.0}};  // lacks top_p and the rest
    CHECK_FALSE(decodes<GenRequest>(hand_written("gen_request", request), err));
    CHECK(err.find("gen_request.params.top_p") != std::string::npos);
  }
  SUBCASE("unknown type") {
    std::string b = hand_written("teleport");
    Message msg;
    CHECK_FALSE(parse_message(b.data(), b.size(), msg, err));
    CHECK(err.find("unknown message type 'teleport'") != std::string::npos);
  }
  SUBCASE("type not a string, or missing") {
    std::string b = hand_written(3);
    Message msg;
    CHECK_FALSE(parse_message(b.data(), b.size(), msg, err));
    std::string b2 = msgpack_bytes({{"version", kProtocolVersion}});
    CHECK_FALSE(parse_message(b2.data(), b2.size(), msg, err));
    CHECK(err.find("type") != std::string::npos);
  }
  SUBCASE("wrong version") {
    CHECK_FALSE(decodes<WeightsAck>(
        hand_written("weights_ack", {{"weights_version", 1}}, kProtocolVersion + 1), err));
    CHECK(err.find("protocol version") != std::string::npos);
  }
  SUBCASE("decoding as the wrong type") {
    std::string b = encode(WeightsAck{1});
    CHECK_FALSE(decodes<ReadyMsg>(b, err));
    CHECK(err.find("expected a ready message") != std::string::npos);
  }
  SUBCASE("extra unknown keys are ignored") {
    std::string b =
        hand_written("weights_ack", {{"weights_version", 6}, {"future_field", json::array()}});
    WeightsAck out;
    CHECK(decode_bytes(b.data(), b.size(), out, err));
    CHECK(out.weights_version == 6);
  }
}

TEST_CASE("printable_peer escapes binary identities") {
  CHECK(printable_peer("w-1") == "w-1");
  CHECK(printable_peer(std::string("\x00\x80k", 3)) == "\\x00\\x80k");
  CHECK(printable_peer("") == "<anonymous>");
}

TEST_CASE("the one Sample type crosses the wire losslessly; the rest of it stays home") {
  // A sample as the engine fills it, with values a narrowing or reordering would change: ids at
  // the int32 limits, log-probs that are not exact in float64 round-trips of float32 text,
  // routing whose [L][T, K] layout a transpose would scramble (each id encodes its l, t, k).
  Sample s;
  s.completion = {0, 2147483647, -2147483647 - 1, 17};
  s.rollout_logp = {-1e-30f, -0.1f, -3.4028235e38f, -0.0f};
  s.trunc_logp = {-2e-30f, -0.2f, -1.0f, -0.0f};
  s.finish_reason = "length";
  const int L = 3, T = 6, K = 2;  // T = 2 prompt + 4 completion tokens
  s.routing_num_layers = L;
  s.routing_top_k = K;
  for (int l = 0; l < L; ++l)
    for (int t = 0; t < T; ++t)
      for (int k = 0; k < K; ++k) s.routing.push_back(100 * l + 10 * t + k);
  // Fields filled later by the trainer never travel.
  s.prompt = {5, 6};
  s.task = "arith";
  s.reward = 0.5f;
  s.completion_text = "x";
  GenResult m;
  m.request_id = 3;
  m.samples = {s, Sample{}};
  GenResult o = round_trip(m);
  REQUIRE(o.samples.size() == 2);
  const Sample& b = o.samples[0];
  CHECK(b.completion == s.completion);
  REQUIRE(b.rollout_logp.size() == s.rollout_logp.size());
  CHECK(std::memcmp(b.rollout_logp.data(), s.rollout_logp.data(), 16) == 0);  // bit-exact, -0.0
  CHECK(std::memcmp(b.trunc_logp.data(), s.trunc_logp.data(), 16) == 0);
  CHECK(b.finish_reason == "length");
  CHECK(b.routing_num_layers == L);
  CHECK(b.routing_top_k == K);
  CHECK(b.routing == s.routing);  // the learner's layout, unchanged
  CHECK(b.routing[(1 * T + 4) * K + 1] == 141);
  CHECK(b.prompt.empty());
  CHECK(b.task.empty());
  CHECK(b.reward == 0.0f);
  CHECK(b.completion_text.empty());
  // An empty sample (an error sample) round-trips as empty.
  CHECK(o.samples[1].completion.empty());
  CHECK(o.samples[1].routing.empty());
  CHECK(o.samples[1].routing_num_layers == 0);
}

TEST_CASE("the field lists: every field's name is in its error, nested paths included") {
  std::string err;
  // The encoder writes exactly the listed fields: a gen_result sample map has 7 keys.
  GenResult g;
  g.samples.resize(1);
  std::string bytes = encode(g);
  msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
  const msgpack::object_map& top = h.get().via.map;
  CHECK(top.size == 2 + 5);
  for (uint32_t i = 0; i < top.size; ++i)
    if (top.ptr[i].key.as<std::string>() == "samples")
      CHECK(top.ptr[i].val.via.array.ptr[0].via.map.size == 7);

  // A wrong-typed field in a nested sample names the message, the sample and the field.
  json sample = {{"token_ids", bin()},
                 {"logprobs", bin()},
                 {"truncated_logprobs", bin()},
                 {"finish_reason", "stop"},
                 {"routing_num_layers", "three"} /* wrong type */,
                 {"routing_top_k", 0},
                 {"routed_experts", bin()}};
  json result = {{"request_id", 1},
                 {"worker_id", "w"},
                 {"weights_version", 0},
                 {"gen_ms", 1.5},
                 {"samples", json::array({sample})}};
  CHECK_FALSE(decodes<GenResult>(hand_written("gen_result", result), err));
  CHECK(err == "gen_result.samples[0].routing_num_layers: expected integer, got str");

  // Routing that does not fill [L, T, K] whole tokens names routed_experts.
  GenResult r;
  r.samples.resize(1);
  r.samples[0].routing_num_layers = 2;
  r.samples[0].routing_top_k = 2;
  r.samples[0].routing = {1, 2, 3};
  CHECK_FALSE(decodes<GenResult>(encode(r), err));
  CHECK(err.find("gen_result.samples[0].routed_experts") == 0);
  // Routing without dims is refused too.
  r.samples[0].routing_num_layers = 0;
  CHECK_FALSE(decodes<GenResult>(encode(r), err));
  CHECK(err.find("gen_result.samples[0].routed_experts") == 0);

  // An old peer's gen_result (protocol 1, routing_dims) is refused by its version.
  std::string old = hand_written("gen_result", {}, 1);
  Message msg;
  CHECK_FALSE(parse_message(old.data(), old.size(), msg, err));
  CHECK(err == "gen_result: protocol version 1, expected " + std::to_string(kProtocolVersion));
  // A protocol-2 peer (the whole weights checksum over every byte) is refused the same way.
  std::string v2 = hand_written("weights_announce", {}, 2);
  CHECK_FALSE(parse_message(v2.data(), v2.size(), msg, err));
  CHECK(err == "weights_announce: protocol version 2, expected 3");

  // Missing fields name themselves, message by message.
  CHECK_FALSE(decodes<WeightsAck>(hand_written("weights_ack"), err));
  CHECK(err == "weights_ack.weights_version: missing field");
  json rewards = {{"request_id", 1}, {"rewards", json::array({1.0, "x"})}};
  CHECK_FALSE(decodes<ScoreResult>(hand_written("score_result", rewards), err));
  CHECK(err == "score_result.rewards: [1]: expected number, got str");
}
