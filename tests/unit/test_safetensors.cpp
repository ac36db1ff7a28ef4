// safetensors reader/writer: round trips, conversions against hand-computed values, and one test
// per malformed-file case (each error must name the file and, where there is one, the tensor).
#include <doctest/doctest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "policy/safetensors.h"

using namespace aha;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at scope exit.
struct TmpDir {
  fs::path p;
  TmpDir() {
    p = fs::temp_directory_path() /
        ("aha_st_" + std::to_string(getpid()) + "_" + std::to_string(counter()++));
    fs::remove_all(p);
    fs::create_directories(p);
  }
  ~TmpDir() { fs::remove_all(p); }
  std::string file(const std::string& name) const { return (p / name).string(); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

uint32_t bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  return x;
}

}  // namespace

TEST_CASE("safetensors: F32 write -> read is bit-exact, metadata and order kept") {
  TmpDir d;
  std::vector<float> a(6), b(5);
  for (size_t i = 0; i < a.size(); i++) a[i] = std::ldexp(1.0f + 0.37f * i, -20 + 7 * int(i));
  for (size_t i = 0; i < b.size(); i++) b[i] = -1.0f / (3.0f + i);
  a[2] = -0.0f;
  a[3] = std::numeric_limits<float>::denorm_min();
  const std::string path = d.file("m.safetensors");
  st_write(path,
           {{"z.weight", "F32", {2, 3}, a.data(), a.size() * 4},
            {"a.bias", "F32", {5}, b.data(), b.size() * 4},
            {"empty", "F32", {0, 4}, nullptr, 0}},
           {{"format", "pt"}});
  CHECK(!fs::exists(path + ".tmp"));
  StFile f = st_open(path);
  CHECK(f.header_size % 8 == 0);
  CHECK(f.gap_bytes == 0);
  CHECK(f.metadata.at("format") == "pt");
  REQUIRE(f.tensors.size() == 3);
  const StTensor* ta = st_find(f, "z.weight");
  const StTensor* tb = st_find(f, "a.bias");
  REQUIRE(ta);
  REQUIRE(tb);
  CHECK(st_find(f, "nope") == nullptr);
  CHECK(ta->shape == std::vector<int64_t>{2, 3});
  CHECK(ta->dtype == "F32");
  CHECK(tb->data_begin < ta->data_begin);  // written sorted by name
  std::vector<float> ra(6), rb(5);
  st_read_f32(*ta, ra.data(), 6, path);
  st_read_f32(*tb, rb.data(), 5, path);
  for (size_t i = 0; i < 6; i++) CHECK(bits(ra[i]) == bits(a[i]));
  for (size_t i = 0; i < 5; i++) CHECK(bits(rb[i]) == bits(b[i]));
  CHECK_THROWS(st_read_f32(*ta, ra.data(), 5, path));
  // Moving keeps the data pointers valid.
  StFile g = std::move(f);
  CHECK(f.map == nullptr);
  st_read_f32(*st_find(g, "z.weight"), ra.data(), 6, path);
  CHECK(bits(ra[5]) == bits(a[5]));
}

// ---- raw files for the malformed cases ----

namespace {

// Writes [8-byte N][header][data] exactly as given (no validation), returns the path.
std::string write_raw(const TmpDir& d, const std::string& name, const std::string& header,
                      size_t data_bytes, int64_t header_size_override = -1) {
  const std::string path = d.file(name);
  std::ofstream o(path, std::ios::binary);
  uint64_t n = header_size_override >= 0 ? uint64_t(header_size_override) : header.size();
  for (int i = 0; i < 8; i++) o.put(char((n >> (8 * i)) & 0xFF));
  o << header;
  for (size_t i = 0; i < data_bytes; i++) o.put(char(i * 7));
  return path;
}

// Opens path expecting an error whose message contains every one of needles.
void check_open_fails(const std::string& path, const std::vector<std::string>& needles) {
  std::string msg;
  try {
    StFile f = st_open(path);
  } catch (const std::runtime_error& e) {
    msg = e.what();
  }
  INFO("message: " << msg);
  REQUIRE(!msg.empty());
  for (const std::string& n : needles) CHECK(msg.find(n) != std::string::npos);
}

}  // namespace

TEST_CASE("safetensors: malformed files give errors naming the file and the tensor") {
  TmpDir d;
  SUBCASE("shorter than 8 bytes") {
    const std::string p = d.file("short.safetensors");
    std::ofstream(p, std::ios::binary) << "abcde";
    check_open_fails(p, {p, "shorter than the 8-byte"});
  }
  SUBCASE("empty file") {
    const std::string p = d.file("empty.safetensors");
    std::ofstream(p, std::ios::binary).flush();
    check_open_fails(p, {p, "0 bytes"});
  }
  SUBCASE("missing file") {
    check_open_fails(d.file("nope.safetensors"), {d.file("nope.safetensors"), "cannot open"});
  }
  SUBCASE("header size past the end") {
    auto p = write_raw(d, "hs.safetensors", "{}", 0, 1000);
    check_open_fails(p, {p, "header size 1000 runs past the end"});
  }
  SUBCASE("header size huge (near 2^64)") {
    auto p = write_raw(d, "hs2.safetensors", "{}", 0, INT64_MAX);
    check_open_fails(p, {p, "runs past the end"});
  }
  SUBCASE("one malformed header a row") {
    // A header written as given, the data bytes after it, and what the error must say besides the
    // file's path.
    struct BadHeader {
      const char* name;
      size_t data_bytes;
      std::vector<std::string> needles;
      const char* header;
    };
    // clang-format off
    const BadHeader bad_headers[] = {
      {"header not JSON", 0, {"not valid JSON", "line 1, column 17"},
       "{\"a\": {\"dtype\": "},
      {"header not an object", 0, {"not a JSON object"},
       "[1, 2]  "},
      {"entry not an object", 0, {"'w'", "not an object"},
       R"({"w": 3})"},
      {"unknown dtype", 6, {"'w.weight'", "unknown dtype 'F24'"},
       R"({"w.weight": {"dtype": "F24", "shape": [2], "data_offsets": [0, 6]}})"},
      {"missing dtype", 8, {"'w'", "dtype"},
       R"({"w": {"shape": [2], "data_offsets": [0, 8]}})"},
      {"negative dimension", 8, {"'w.neg'", "negative"},
       R"({"w.neg": {"dtype": "F32", "shape": [2, -3], "data_offsets": [0, 8]}})"},
      {"non-integer dimension", 8, {"'w.f'", "non-integer"},
       R"({"w.f": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})"},
      {"element count overflows", 8, {"'w.big'", "overflows"},
       R"({"w.big": {"dtype": "F32", "shape": [4294967296, 4294967296, 2], "data_offsets": [0, 8]}})"},
      {"byte size overflows", 8, {"'w.big'", "overflows"},
       R"({"w.big": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 8]}})"},
      {"data_offsets not a pair", 8, {"'w.o'", "data_offsets"},
       R"({"w.o": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}})"},
      {"data_offsets negative", 8, {"'w.o'", "data_offsets"},
       R"({"w.o": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}})"},
      {"data_offsets begin > end", 8, {"'w.o'", "begin > end"},
       R"({"w.o": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})"},
      {"end past the data region", 12, {"'w.past'", "past the data region"},
       R"({"w.past": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})"},
      {"huge end offset (no wrap-around)", 8, {"'w.past'"},
       R"({"w.past": {"dtype": "F32", "shape": [2], "data_offsets": [18446744073709551608, 18446744073709551615]}})"},
      {"byte length != numel * dtype size", 8, {"'w.len'", "needs 6"},
       R"({"w.len": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 8]}})"},
      {"overlapping tensors", 12, {"'b.second'", "overlap", "'a'"},
       R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
       "b.second": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})"},
      {"identical ranges overlap", 8, {"'x2'", "overlap"},
       R"({"x1": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
       "x2": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})"},
      {"duplicate names", 8, {"'w.dup'", "duplicate"},
       R"({"w.dup": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
       "w.dup": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})"},
      {"metadata value not a string", 0, {"__metadata__", "format"},
       R"({"__metadata__": {"format": 1}})"},
    };
    // clang-format on
    for (size_t i = 0; i < std::size(bad_headers); ++i) {
      const BadHeader& c = bad_headers[i];
      CAPTURE(c.name);
      auto p = write_raw(d, "bad" + std::to_string(i) + ".safetensors", c.header, c.data_bytes);
      std::vector<std::string> needles = c.needles;
      needles.insert(needles.begin(), p);
      check_open_fails(p, needles);
    }
  }
  SUBCASE("header nested thousands deep") {
    // Found by fuzzing: 10 MB of '[' took 30 s and 1 GB to parse; in a value that is copied or
    // printed it overflows the stack. Refused before parsing, naming the byte of the file.
    const std::string deep = "{\"w\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    auto p = write_raw(d, "deep.safetensors", deep, 0);
    check_open_fails(p, {p, "JSON nested deeper than 256 levels (at byte 269 of the file)"});
  }
  SUBCASE("truncated real file") {
    std::vector<float> v(100, 1.5f);
    const std::string p = d.file("trunc.safetensors");
    st_write(p, {{"layer.w", "F32", {10, 10}, v.data(), 400}}, {});
    fs::resize_file(p, fs::file_size(p) - 3);
    check_open_fails(p, {p, "'layer.w'", "past the data region"});
  }
}

TEST_CASE("safetensors: gaps are allowed and counted; zero-size tensors never overlap") {
  TmpDir d;
  auto p = write_raw(d, "gap.safetensors",
                     R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
                         "z": {"dtype": "F32", "shape": [0], "data_offsets": [6, 6]},
                         "b": {"dtype": "U8", "shape": [2], "data_offsets": [10, 12]}})",
                     16);
  StFile f = st_open(p);
  CHECK(f.tensors.size() == 3);
  CHECK(f.gap_bytes == 16 - 4 - 2);
  CHECK(st_find(f, "b")->data == static_cast<const uint8_t*>(f.map) + 8 + f.header_size + 10);
  float x;
  CHECK_THROWS_WITH(st_read_f32(*st_find(f, "b"), &x, 2, p),
                    doctest::Contains("cannot be read as float32"));
}

namespace {

// A small valid file (a BF16 and an F32 tensor, metadata k = v) written to d's src.safetensors;
// returns its bytes.
std::string small_file_bytes(TmpDir& d) {
  std::vector<uint16_t> h(12, 0x3F80);
  std::vector<float> v(5, 2.0f);
  const std::string src = d.file("src.safetensors");
  st_write(src, {{"a.w", "BF16", {3, 4}, h.data(), 24}, {"b.w", "F32", {5}, v.data(), 20}},
           {{"k", "v"}});
  std::ifstream in(src, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("safetensors: every truncation and header byte flip of a valid file is caught safely") {
  // Under ASan/UBSan this shows no prefix or corrupted header makes the reader touch bad memory.
  TmpDir d;
  const std::string bytes = small_file_bytes(d);
  const std::string p = d.file("mut.safetensors");
  int opened = 0, failed = 0;
  for (size_t len = 0; len < bytes.size(); len++) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), len);
    try {
      StFile f = st_open(p);
      opened++;
    } catch (const std::runtime_error& e) {
      failed++;
      CHECK(std::string(e.what()).find(p) != std::string::npos);
    }
  }
  CHECK(opened == 0);  // the data region is tightly packed: every strict prefix is invalid
  CHECK(failed == int(bytes.size()));
  const size_t hend = 8 + size_t(bytes[0] & 0xFF) + (size_t(bytes[1] & 0xFF) << 8);
  for (size_t i = 8; i < hend; i++) {
    for (char c : {'9', '-', '"', '}', '\x00'}) {
      std::string m = bytes;
      m[i] = c;
      std::ofstream(p, std::ios::binary | std::ios::trunc).write(m.data(), m.size());
      try {
        StFile f = st_open(p);
        for (const StTensor& t : f.tensors) {  // whatever opened must be readable in bounds
          if (t.dtype != "F32" && t.dtype != "BF16") continue;
          std::vector<float> out(t.nbytes / st_dtype_size(t.dtype));
          st_read_f32(t, out.data(), out.size(), p);
        }
      } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find(p) != std::string::npos);
      }
    }
  }
}

TEST_CASE("safetensors: a flipped bit in the tensor data of a file aha wrote is refused") {
  TmpDir d;
  const std::string bytes = small_file_bytes(d);
  StFile good = st_open(d.file("src.safetensors"));
  CHECK(good.metadata.at("k") == "v");
  CHECK(good.metadata.at("aha_data_checksum64").size() == 16);
  // An independent reference: the 16 hex digits are FNV-1a's word-wise step over the data region.
  const size_t hend = 8 + size_t(bytes[0] & 0xFF) + (size_t(bytes[1] & 0xFF) << 8);
  uint64_t ref = 14695981039346656037ull;
  for (size_t i = hend; i + 8 <= bytes.size(); i += 8) {
    uint64_t w = 0;
    for (int b = 7; b >= 0; b--) w = (w << 8) | static_cast<uint8_t>(bytes[i + b]);
    ref = (ref ^ w) * 1099511628211ull;
  }
  for (size_t i = hend + (bytes.size() - hend) / 8 * 8; i < bytes.size(); i++)
    ref = (ref ^ static_cast<uint8_t>(bytes[i])) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(ref));
  CHECK(good.metadata.at("aha_data_checksum64") == hex);
  const std::string p = d.file("flip.safetensors");
  int refused = 0;
  for (size_t i = hend; i < bytes.size(); i++) {
    for (int bit : {0, 7}) {
      std::string m = bytes;
      m[i] = static_cast<char>(m[i] ^ (1 << bit));
      std::ofstream(p, std::ios::binary | std::ios::trunc).write(m.data(), m.size());
      try {
        StFile f = st_open(p);
      } catch (const std::runtime_error& e) {
        refused++;
        CHECK(std::string(e.what()).find(p) != std::string::npos);
        CHECK(std::string(e.what()).find("corrupt") != std::string::npos);
      }
    }
  }
  CHECK(refused == int(2 * (bytes.size() - hend)));
}

TEST_CASE("safetensors: writer refuses bad tensors") {
  TmpDir d;
  float x[4] = {};
  const std::string p = d.file("w.safetensors");
  CHECK_THROWS_WITH(st_write(p, {{"a", "F32", {4}, x, 16}, {"a", "F32", {4}, x, 16}}, {}),
                    doctest::Contains("'a': duplicate"));
  CHECK_THROWS_WITH(st_write(p, {{"w.x", "F32", {3}, x, 16}}, {}),
                    doctest::Contains("'w.x': nbytes 16 does not match"));
  CHECK_THROWS_WITH(st_write(p, {{"w.y", "Q4", {4}, x, 4}}, {}), doctest::Contains("'w.y'"));
  CHECK(!fs::exists(p));
  CHECK(!fs::exists(p + ".tmp"));
}

// ---- conversions ----

namespace {

// Independent BF16 reference: pick the nearer of the two bracketing bf16 values in double.
uint16_t bf16_ref(float x) {
  uint32_t b = bits(x);
  uint16_t lo = uint16_t(b >> 16), hi = uint16_t(lo + 1);
  if ((b & 0xFFFF) == 0) return lo;
  double dl = std::fabs(double(x) - double(bf16_to_f32(lo)));
  double dh = std::fabs(double(bf16_to_f32(hi)) - double(x));
  if (dl < dh) return lo;
  if (dh < dl) return hi;
  return (lo & 1) ? hi : lo;
}

}  // namespace

TEST_CASE("conversions: BF16 hand values, ties to even, and a nearest-value reference") {
  CHECK(f32_to_bf16(1.0f) == 0x3F80);
  CHECK(f32_to_bf16(-2.5f) == 0xC020);
  CHECK(f32_to_bf16(65504.0f) == 0x4780);                           // 65536 in bf16
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3F808000u)) == 0x3F80);  // tie -> even (down)
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3F818000u)) == 0x3F82);  // tie -> even (up)
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3F808001u)) == 0x3F81);  // just above tie
  CHECK(f32_to_bf16(std::bit_cast<float>(0x7F7FFFFFu)) == 0x7F80);  // FLT_MAX -> inf
  CHECK(f32_to_bf16(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(f32_to_bf16(std::bit_cast<float>(0x00018000u)) == 0x0002);  // subnormal tie -> even
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::bit_cast<float>(0x7F800001u)))));  // sNaN stays NaN
  CHECK(bf16_to_f32(0xC020) == -2.5f);
  CHECK(bf16_to_f32(0x0001) == std::ldexp(1.0f, -133));
  // Exhaustive decode/encode round trip over every non-NaN bf16.
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = bf16_to_f32(uint16_t(h));
    if (!std::isnan(f) && f32_to_bf16(f) != h) bad++;
  }
  CHECK(bad == 0);
  // Random bit patterns against the reference.
  uint64_t s = 12345;
  bad = 0;
  for (int i = 0; i < 200000; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    float x = std::bit_cast<float>(uint32_t(s >> 32));
    if (std::isnan(x) || std::isinf(x) || std::fabs(x) > 3.38e38f) continue;
    if (f32_to_bf16(x) != bf16_ref(x)) bad++;
  }
  CHECK(bad == 0);
}

TEST_CASE("conversions: F16 hand values, subnormals, overflow and ties to even") {
  CHECK(f32_to_f16(1.0f) == 0x3C00);
  CHECK(f32_to_f16(-2.5f) == 0xC100);
  CHECK(f32_to_f16(65504.0f) == 0x7BFF);
  CHECK(f32_to_f16(65519.0f) == 0x7BFF);
  CHECK(f32_to_f16(65520.0f) == 0x7C00);  // tie at the top rounds to even = infinity
  CHECK(f32_to_f16(-1e10f) == 0xFC00);
  CHECK(f32_to_f16(std::ldexp(1.0f, -14)) == 0x0400);         // min normal
  CHECK(f32_to_f16(std::ldexp(1023.0f, -24)) == 0x03FF);      // max subnormal
  CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);         // min subnormal
  CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);         // tie -> even 0
  CHECK(f32_to_f16(std::ldexp(1.5f, -25)) == 0x0001);         // above the tie
  CHECK(f32_to_f16(std::ldexp(3.0f, -25)) == 0x0002);         // 1.5 units: tie -> 2
  CHECK(f32_to_f16(std::ldexp(5.0f, -25)) == 0x0002);         // 2.5 units: tie -> 2
  CHECK(f32_to_f16(std::ldexp(2047.0f, -25)) == 0x0400);      // rounds up into the normals
  CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);  // tie -> even (down)
  CHECK(f32_to_f16(1.0f + std::ldexp(3.0f, -11)) == 0x3C02);  // tie -> even (up)
  CHECK(f32_to_f16(-0.0f) == 0x8000);
  CHECK(f32_to_f16(std::numeric_limits<float>::infinity()) == 0x7C00);
  const uint16_t hn = f32_to_f16(std::numeric_limits<float>::quiet_NaN());
  CHECK((hn & 0x7C00) == 0x7C00);
  CHECK((hn & 0x03FF) != 0);
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
  CHECK(f16_to_f32(0x7BFF) == 65504.0f);
  CHECK(f16_to_f32(0xC100) == -2.5f);
  CHECK(f16_to_f32(0x3555) == std::ldexp(1365.0f, -12));  // e=13, m=341: 1365 * 2^-12
  CHECK(std::isinf(f16_to_f32(0x7C00)));
  CHECK(std::signbit(f16_to_f32(0x8000)));
  CHECK(std::isnan(f16_to_f32(0x7E00)));
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = f16_to_f32(uint16_t(h));
    if (!std::isnan(f) && f32_to_f16(f) != h) bad++;
  }
  CHECK(bad == 0);
#ifdef __FLT16_MAX__
  // The compiler's own _Float16 conversion (round to nearest even) as an independent reference.
  uint64_t s = 999;
  bad = 0;
  for (int i = 0; i < 200000; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    // Exponents around the half range, so subnormals, normals and overflow all occur.
    float x = std::ldexp(float(uint32_t(s >> 40)) / 16777216.0f, int((s >> 20) % 48) - 30);
    if (s & 1) x = -x;
    _Float16 r = static_cast<_Float16>(x);
    uint16_t rb;
    std::memcpy(&rb, &r, 2);
    if (f32_to_f16(x) != rb) bad++;
    float back = f16_to_f32(rb);
    if (bits(back) != bits(static_cast<float>(r))) bad++;
  }
  CHECK(bad == 0);
#endif
}

namespace {
// E4M3FN by its definition, written separately from the library's table.
double e4m3_ref(uint8_t b) {
  int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
  double v = e == 0 ? m / 8.0 * std::pow(2.0, -6) : (1.0 + m / 8.0) * std::pow(2.0, e - 7);
  return s ? -v : v;
}
}  // namespace

TEST_CASE("conversions: FP8 E4M3FN decode table and encode") {
  CHECK(e4m3_to_f32(0x38) == 1.0f);
  CHECK(e4m3_to_f32(0x40) == 2.0f);
  CHECK(e4m3_to_f32(0x7E) == 448.0f);
  CHECK(e4m3_to_f32(0xFE) == -448.0f);
  CHECK(e4m3_to_f32(0x01) == std::ldexp(1.0f, -9));
  CHECK(e4m3_to_f32(0x08) == std::ldexp(1.0f, -6));  // min normal
  CHECK(e4m3_to_f32(0x07) == std::ldexp(7.0f, -9));  // max subnormal
  CHECK(e4m3_to_f32(0x78) == 256.0f);                // e=15 is a normal exponent in FN
  CHECK(e4m3_to_f32(0x00) == 0.0f);
  CHECK(std::signbit(e4m3_to_f32(0x80)));
  CHECK(std::isnan(e4m3_to_f32(0x7F)));
  CHECK(std::isnan(e4m3_to_f32(0xFF)));
  int bad = 0;
  for (int b = 0; b < 256; b++) {
    if ((b & 0x7F) == 0x7F) continue;
    if (double(e4m3_to_f32(uint8_t(b))) != e4m3_ref(uint8_t(b))) bad++;
    if (f32_to_e4m3(e4m3_to_f32(uint8_t(b))) != b) bad++;
  }
  CHECK(bad == 0);
  CHECK(f32_to_e4m3(1.0625f) == 0x38);  // tie between 1 and 1.125 -> even code
  CHECK(f32_to_e4m3(1.1875f) == 0x3A);  // tie between 1.125 and 1.25 -> even code
  CHECK(f32_to_e4m3(1.07f) == 0x39);
  CHECK(f32_to_e4m3(1000.0f) == 0x7E);  // saturates
  CHECK(f32_to_e4m3(-1000.0f) == 0xFE);
  CHECK(f32_to_e4m3(std::ldexp(1.0f, -11)) == 0x00);  // below half the min subnormal
  CHECK(f32_to_e4m3(std::numeric_limits<float>::quiet_NaN()) == 0x7F);
  CHECK(e5m2_to_f32(0x3C) == 1.0f);
  CHECK(std::isinf(e5m2_to_f32(0x7C)));
  CHECK(e5m2_to_f32(0x01) == std::ldexp(1.0f, -16));
}

TEST_CASE("safetensors: BF16/F16/F8 tensors read back as float32") {
  TmpDir d;
  std::vector<float> src = {1.0f, -2.5f, 65504.0f, 3.14159f, std::ldexp(1.0f, -20), -0.0f};
  std::vector<uint16_t> hb(src.size()), hh(src.size());
  f32_to_bf16_n(src.data(), hb.data(), src.size());
  f32_to_f16_n(src.data(), hh.data(), src.size());
  std::vector<uint8_t> q = {0x38, 0x40, 0x7E, 0x01, 0xB8, 0x00};
  const std::string p = d.file("mixed.safetensors");
  st_write(p,
           {{"bf", "BF16", {2, 3}, hb.data(), 12},
            {"hf", "F16", {6}, hh.data(), 12},
            {"q", "F8_E4M3", {6}, q.data(), 6}},
           {});
  StFile f = st_open(p);
  std::vector<float> out(6);
  st_read_f32(*st_find(f, "bf"), out.data(), 6, p);
  for (size_t i = 0; i < 6; i++) CHECK(bits(out[i]) == bits(bf16_to_f32(hb[i])));
  CHECK(out[1] == -2.5f);
  CHECK(out[2] == 65536.0f);
  st_read_f32(*st_find(f, "hf"), out.data(), 6, p);
  CHECK(out[0] == 1.0f);
  CHECK(out[2] == 65504.0f);
  CHECK(out[3] == 3.140625f);  // nearest half to pi-ish: 3.14159 -> 0x4248
  CHECK(out[4] == std::ldexp(16.0f, -24));
  st_read_f32(*st_find(f, "q"), out.data(), 6, p);
  CHECK(out == std::vector<float>{1.0f, 2.0f, 448.0f, std::ldexp(1.0f, -9), -1.0f, 0.0f});
}

TEST_CASE("safetensors: scalar tensors, unaligned sources and on-the-fly conversion") {
  TmpDir d;
  // F32 source starting at an odd address: the writer must not assume alignment.
  std::vector<uint8_t> raw(1 + 4 * 3);
  const float vals[3] = {1.0f, -2.5f, 1.0f + std::ldexp(1.0f, -8)};  // the last is a BF16 tie
  std::memcpy(raw.data() + 1, vals, sizeof vals);
  const float scalar = 0.125f;
  const std::string p = d.file("conv.safetensors");
  st_write_converted(p,
                     {{"v", "F32", {3}, raw.data() + 1, 12},
                      {"s", "F32", {}, &scalar, 4},
                      {"v_scale_inv", "F32", {1}, &scalar, 4}},
                     {}, "BF16");
  StFile f = st_open(p);
  CHECK(st_find(f, "v")->dtype == "BF16");
  CHECK(st_find(f, "v_scale_inv")->dtype == "F32");  // FP8 scales are never down-converted
  CHECK(st_find(f, "s")->shape.empty());
  CHECK(st_find(f, "s")->nbytes == 2);
  float out[3];
  st_read_f32(*st_find(f, "v"), out, 3, p);
  CHECK(out[0] == 1.0f);
  CHECK(out[1] == -2.5f);
  CHECK(out[2] == 1.0f);  // tie rounded to even
  st_read_f32(*st_find(f, "s"), out, 1, p);
  CHECK(out[0] == 0.125f);
}
