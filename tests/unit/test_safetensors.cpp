// safetensors reader/writer: round trips, conversions against hand-computed values, and one test
// per malformed-file case (each error must name the file and, where there is one, the tensor).
#include <doctest/doctest.h>
#include <unistd.h>

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
