// HF model directories: single-file and sharded save/load round trips, FP8 block-scale dequant
// against a naive reference, and the errors for broken directories.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy/hf_checkpoint.h"

using namespace aha;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct TmpDir {
  fs::path p;
  TmpDir() {
    static int c = 0;
    p = fs::temp_directory_path() /
        ("aha_hf_" + std::to_string(getpid()) + "_" + std::to_string(c++));
    fs::remove_all(p);
    fs::create_directories(p);
  }
  ~TmpDir() { fs::remove_all(p); }
  std::string str() const { return p.string(); }
};

uint32_t bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  return x;
}

std::vector<float> ramp(size_t n, float scale, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = scale * (float(s >> 8) / 16777216.0f - 0.5f);
  }
  return v;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& msg, const std::string& needle) {
  return msg.find(needle) != std::string::npos;
}

// A small model-shaped tensor set (names as in HF DeepSeek-V3).
struct Model {
  std::vector<float> emb = ramp(64 * 16, 2.0f, 1), q = ramp(24 * 16, 1.0f, 2),
                     norm = ramp(16, 1.0f, 3), head = ramp(64 * 16, 0.5f, 4);
  std::vector<StWriteTensor> tensors() const {
    return {{"model.embed_tokens.weight", "F32", {64, 16}, emb.data(), emb.size() * 4},
            {"model.layers.0.self_attn.q_proj.weight", "F32", {24, 16}, q.data(), q.size() * 4},
            {"model.norm.weight", "F32", {16}, norm.data(), norm.size() * 4},
            {"lm_head.weight", "F32", {64, 16}, head.data(), head.size() * 4}};
  }
};

}  // namespace

TEST_CASE("hf: single-file F32 save -> load is bit-exact") {
  TmpDir d;
  Model m;
  hf_save(d.str(), m.tensors(), size_t(1) << 30, "F32");
  CHECK(fs::exists(d.p / "model.safetensors"));
  CHECK(!fs::exists(d.p / "model.safetensors.index.json"));
  HfCheckpoint ck = hf_open(d.str());
  CHECK(ck.shards.size() == 1);
  CHECK(ck.shards[0].metadata.at("format") == "pt");
  CHECK(hf_tensor_names(ck).size() == 4);
  std::vector<float> out(64 * 16);
  hf_load_f32(ck, "lm_head.weight", {64, 16}, out.data());
  for (size_t i = 0; i < out.size(); i++) CHECK(bits(out[i]) == bits(m.head[i]));
  CHECK(hf_find(ck, "model.norm.weight")->dtype == "F32");
}

TEST_CASE("hf: sharded BF16 save -> load round trip, HF names and index") {
  TmpDir d;
  Model m;
  // 64*16*2 = 2048 bytes per big tensor in BF16: a 2500-byte cap gives 3 shards.
  hf_save(d.str(), m.tensors(), 2500, "BF16");
  CHECK(fs::exists(d.p / "model-00001-of-00003.safetensors"));
  CHECK(fs::exists(d.p / "model-00003-of-00003.safetensors"));
  CHECK(!fs::exists(d.p / "model.safetensors"));
  std::ifstream in(d.p / "model.safetensors.index.json");
  json idx = json::parse(in);
  CHECK(idx["metadata"]["total_size"] == (64 * 16 * 2 + 24 * 16 * 2 + 16 * 2 + 64 * 16 * 2));
  CHECK(idx["weight_map"]["model.embed_tokens.weight"] == "model-00001-of-00003.safetensors");
  CHECK(idx["weight_map"]["lm_head.weight"] == "model-00003-of-00003.safetensors");

  HfCheckpoint ck = hf_open(d.str());
  CHECK(ck.shards.size() == 3);
  CHECK(ck.index_metadata.at("total_size") ==
        std::to_string(idx["metadata"]["total_size"].get<int>()));
  CHECK(hf_find(ck, "model.layers.0.self_attn.q_proj.weight")->dtype == "BF16");
  CHECK(has(hf_file_of(ck, "lm_head.weight"), "model-00003-of-00003"));
  std::vector<float> out(24 * 16);
  hf_load_f32(ck, "model.layers.0.self_attn.q_proj.weight", {24, 16}, out.data());
  for (size_t i = 0; i < out.size(); i++)
    CHECK(bits(out[i]) == bits(bf16_to_f32(f32_to_bf16(m.q[i]))));

  // Save the loaded weights again (BF16 -> exact in F32) and reload: identical.
  std::vector<float> all[4];
  std::vector<StWriteTensor> again;
  auto src = m.tensors();
  for (int i = 0; i < 4; i++) {
    all[i].resize(src[i].nbytes / 4);
    hf_load_f32(ck, src[i].name, src[i].shape, all[i].data());
    again.push_back({src[i].name, "F32", src[i].shape, all[i].data(), src[i].nbytes});
  }
  TmpDir d2;
  hf_save(d2.str(), again, 2500, "BF16");
  HfCheckpoint ck2 = hf_open(d2.str());
  for (int i = 0; i < 4; i++) {
    std::vector<float> o(all[i].size());
    hf_load_f32(ck2, src[i].name, src[i].shape, o.data());
    CHECK(std::memcmp(o.data(), all[i].data(), o.size() * 4) == 0);
  }
  // Re-saving into the same directory as one file removes the shards and the index.
  hf_save(d.str(), m.tensors(), size_t(1) << 30, "F16");
  CHECK(fs::exists(d.p / "model.safetensors"));
  CHECK(!fs::exists(d.p / "model.safetensors.index.json"));
  CHECK(!fs::exists(d.p / "model-00001-of-00003.safetensors"));
  HfCheckpoint ck3 = hf_open(d.str());
  hf_load_f32(ck3, "model.norm.weight", {16}, out.data());
  for (size_t i = 0; i < 16; i++) CHECK(bits(out[i]) == bits(f16_to_f32(f32_to_f16(m.norm[i]))));
}

TEST_CASE("hf: FP8 E4M3 block-scale dequant of a 130x260 matrix matches a naive reference") {
  TmpDir d;
  const int64_t R = 130, C = 260, SR = 2, SC = 3;
  std::vector<uint8_t> q(R * C);
  uint32_t s = 7;
  for (auto& b : q) {
    s = s * 1664525u + 1013904223u;
    b = uint8_t(s >> 24);
    if ((b & 0x7F) == 0x7F) b = 0x38;  // no NaN codes
  }
  const std::vector<float> scale = {0.5f, 3.0f, 1e-3f, -2.0f, 0.1f, 7.25f};  // [2, 3]
  hf_save(d.str(),
          {{"model.layers.0.mlp.experts.0.up_proj.weight", "F8_E4M3", {R, C}, q.data(), q.size()},
           {"model.layers.0.mlp.experts.0.up_proj.weight_scale_inv",
            "F32",
            {SR, SC},
            scale.data(),
            scale.size() * 4}},
          size_t(1) << 30, "BF16");  // BF16 must not touch the F32 scales
  HfCheckpoint ck = hf_open(d.str());
  CHECK(hf_find(ck, "model.layers.0.mlp.experts.0.up_proj.weight_scale_inv")->dtype == "F32");
  CHECK(hf_tensor_names(ck) ==
        std::vector<std::string>{"model.layers.0.mlp.experts.0.up_proj.weight"});
  std::vector<float> out(R * C);
  hf_load_f32(ck, "model.layers.0.mlp.experts.0.up_proj.weight", {R, C}, out.data());
  int bad = 0;
  for (int64_t r = 0; r < R; r++) {
    for (int64_t c = 0; c < C; c++) {
      const uint8_t b = q[r * C + c];
      // E4M3FN from its definition, independent of the library's table.
      const int e = (b >> 3) & 15, m = b & 7;
      float v = e == 0 ? std::ldexp(float(m), -9) : std::ldexp(float(8 + m), e - 10);
      if (b & 0x80) v = -v;
      const float ref = v * scale[(r / 128) * SC + c / 128];
      if (bits(out[r * C + c]) != bits(ref)) bad++;
    }
  }
  CHECK(bad == 0);
}

TEST_CASE("hf: fp8_quantize_blocks + load reproduces the weights within E4M3 precision") {
  TmpDir d;
  const int64_t R = 200, C = 150;
  std::vector<float> w = ramp(R * C, 4.0f, 11);
  for (int64_t c = 0; c < C; c++) w[5 * C + c] *= 100.0f;  // one block row with a big range
  std::vector<uint8_t> q(R * C);
  std::vector<float> sc(2 * 2);
  fp8_quantize_blocks(w.data(), R, C, 128, 128, q.data(), sc.data());
  hf_save(d.str(),
          {{"w.weight", "F8_E4M3", {R, C}, q.data(), q.size()},
           {"w.weight_scale_inv", "F32", {2, 2}, sc.data(), 16}},
          size_t(1) << 30, "F32");
  HfCheckpoint ck = hf_open(d.str());
  std::vector<float> out(R * C);
  hf_load_f32(ck, "w.weight", {R, C}, out.data());
  int bad = 0;
  for (int64_t r = 0; r < R; r++)
    for (int64_t c = 0; c < C; c++) {
      const float s = sc[(r / 128) * 2 + c / 128];
      // E4M3 keeps 3 mantissa bits (relative error <= 2^-4) down to the subnormals (step 2^-9 s).
      const float tol = std::max(std::fabs(w[r * C + c]) / 16.0f, s * std::ldexp(1.0f, -10));
      if (std::fabs(out[r * C + c] - w[r * C + c]) > tol * 1.0001f) bad++;
    }
  CHECK(bad == 0);
}

TEST_CASE("hf: config.json weight_block_size is honoured and unknown quantisation refused") {
  TmpDir d;
  const int64_t R = 10, C = 9;
  std::vector<uint8_t> q(R * C, 0x38);  // all 1.0
  std::vector<float> sc(9);             // 4x4 blocks: [ceil(10/4), ceil(9/4)] = [3, 3]
  for (int i = 0; i < 9; i++) sc[i] = float(i + 1);
  hf_save(d.str(),
          {{"x.weight", "F8_E4M3", {R, C}, q.data(), q.size()},
           {"x.weight_scale_inv", "F32", {3, 3}, sc.data(), 36}},
          size_t(1) << 30, "F32");
  std::ofstream(d.p / "config.json")
      << R"({"quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [4, 4]}})";
  HfCheckpoint ck = hf_open(d.str());
  std::vector<float> out(R * C);
  hf_load_f32(ck, "x.weight", {R, C}, out.data());
  CHECK(out[0] == 1.0f);
  CHECK(out[4] == 2.0f);          // row 0, col 4 -> block (0, 1)
  CHECK(out[9 * C + 8] == 9.0f);  // row 9, col 8 -> block (2, 2)
  std::ofstream(d.p / "config.json", std::ios::trunc)
      << R"({"quantization_config": {"quant_method": "gptq", "bits": 4}})";
  std::string msg = error_of([&] { hf_open(d.str()); });
  CHECK(has(msg, "config.json"));
  CHECK(has(msg, "gptq"));
}

TEST_CASE("hf: broken directories give errors naming directory, shard and tensor") {
  TmpDir d;
  Model m;
  hf_save(d.str(), m.tensors(), 2500, "BF16");
  const std::string idx_path = (d.p / "model.safetensors.index.json").string();
  // Points the index's entry for `tensor` at `shard`.
  auto remap = [&](const std::string& tensor, const std::string& shard) {
    std::ifstream in(idx_path);
    json idx = json::parse(in);
    in.close();
    idx["weight_map"][tensor] = shard;
    std::ofstream(idx_path, std::ios::trunc) << idx.dump();
  };
  HfCheckpoint ck = hf_open(d.str());
  std::vector<float> out(64 * 16);

  SUBCASE("missing tensor names the tensor and directory") {
    std::string msg =
        error_of([&] { hf_load_f32(ck, "model.layers.7.mlp.gate.weight", {4}, out.data()); });
    CHECK(has(msg, "model.layers.7.mlp.gate.weight"));
    CHECK(has(msg, d.str()));
    CHECK(hf_find(ck, "model.layers.7.mlp.gate.weight") == nullptr);
  }
  SUBCASE("shape mismatch names file, tensor and both shapes") {
    std::string msg = error_of([&] { hf_load_f32(ck, "lm_head.weight", {16, 64}, out.data()); });
    CHECK(has(msg, "model-00003-of-00003.safetensors"));
    CHECK(has(msg, "'lm_head.weight'"));
    CHECK(has(msg, "[64, 16]"));
    CHECK(has(msg, "[16, 64]"));
  }
  SUBCASE("missing shard names the shard file and a tensor in it") {
    fs::remove(d.p / "model-00002-of-00003.safetensors");
    std::string msg = error_of([&] { hf_open(d.str()); });
    CHECK(has(msg, "model-00002-of-00003.safetensors"));
    CHECK(has(msg, "is missing"));
    CHECK((has(msg, "model.layers.0.self_attn.q_proj.weight") || has(msg, "model.norm.weight")));
  }
  SUBCASE("index lists a tensor its shard lacks") {
    remap("model.layers.0.mlp.gate.weight", "model-00001-of-00003.safetensors");
    std::string msg = error_of([&] { hf_open(d.str()); });
    CHECK(has(msg, "'model.layers.0.mlp.gate.weight'"));
    CHECK(has(msg, "model-00001-of-00003.safetensors"));
    CHECK(has(msg, "does not hold it"));
  }
  SUBCASE("index points to a shard outside the directory") {
    remap("lm_head.weight", "../evil.safetensors");
    std::string msg = error_of([&] { hf_open(d.str()); });
    CHECK(has(msg, "'lm_head.weight'"));
    CHECK(has(msg, "not a plain file name"));
  }
  SUBCASE("index not JSON") {
    std::ofstream(idx_path, std::ios::trunc) << "{\"weight_map\": ";
    std::string msg = error_of([&] { hf_open(d.str()); });
    CHECK(has(msg, idx_path));
    CHECK(has(msg, "line 1, column 16"));  // where the text breaks off
  }
  SUBCASE("index or config.json nested thousands deep") {
    // A metadata value nested 10^5 deep was printed with dump(), which recursed off the stack.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    std::ofstream(idx_path, std::ios::trunc)
        << "{\"metadata\": {\"x\": " + deep + "}, \"weight_map\": {}}";
    std::string msg = error_of([&] { hf_open(d.str()); });
    CHECK(has(msg, idx_path + ": JSON nested deeper than 256 levels (at byte 273)"));
  }
  SUBCASE("corrupt shard names the shard") {
    const fs::path sp = d.p / "model-00003-of-00003.safetensors";
    fs::resize_file(sp, fs::file_size(sp) - 1);
    std::string msg = error_of([&] { hf_open(d.str()); });
    CHECK(has(msg, sp.string()));
    CHECK(has(msg, "'lm_head.weight'"));
  }
  SUBCASE("tensor in two shards") {
    std::vector<float> x(16, 1.0f);
    st_write((d.p / "model-00003-of-00003.safetensors").string(),
             {{"lm_head.weight", "F32", {4, 4}, x.data(), 64},
              {"model.norm.weight", "F32", {16}, x.data(), 64}},
             {});
    std::string msg = error_of([&] { hf_open(d.str()); });
    CHECK(has(msg, "'model.norm.weight'"));
    CHECK(has(msg, "in both"));
  }
  SUBCASE("empty directory") {
    TmpDir e;
    std::string msg = error_of([&] { hf_open(e.str()); });
    CHECK(has(msg, e.str()));
    CHECK(has(msg, "model.safetensors"));
  }
}

TEST_CASE("hf: FP8 weight without or with a wrong scale tensor is refused") {
  TmpDir d;
  std::vector<uint8_t> q(4 * 4, 0x38);
  std::vector<float> sc(4, 1.0f);
  hf_save(d.str(),
          {{"a.weight", "F8_E4M3", {4, 4}, q.data(), 16},
           {"b.weight", "F8_E4M3", {4, 4}, q.data(), 16},
           {"b.weight_scale_inv", "F32", {2, 2}, sc.data(), 16}},
          size_t(1) << 30, "F32");
  HfCheckpoint ck = hf_open(d.str());
  std::vector<float> out(16);
  std::string msg = error_of([&] { hf_load_f32(ck, "a.weight", {4, 4}, out.data()); });
  CHECK(has(msg, "'a.weight'"));
  CHECK(has(msg, "a.weight_scale_inv"));
  msg = error_of([&] { hf_load_f32(ck, "b.weight", {4, 4}, out.data()); });
  CHECK(has(msg, "'b.weight_scale_inv'"));
  CHECK(has(msg, "[2, 2] but expected [1, 1]"));
}

TEST_CASE("hf: save refuses duplicate names and unknown dtypes") {
  TmpDir d;
  float x[4] = {};
  CHECK_THROWS_WITH(
      hf_save(d.str(), {{"a", "F32", {4}, x, 16}, {"a", "F32", {4}, x, 16}}, 100, "F32"),
      doctest::Contains("'a' given twice"));
  CHECK_THROWS_WITH(hf_save(d.str(), {{"a", "F32", {4}, x, 16}}, 100, "F8_E4M3"),
                    doctest::Contains("F8_E4M3"));
}
