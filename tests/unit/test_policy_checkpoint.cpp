// Model directories: save -> load is bit-exact in F32, BF16 loses only rounding, sharded saves
// load the same, and a config that does not match the tensors is refused by name.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "policy/checkpoint.h"
#include "policy/safetensors.h"
#include "tests/test_util.h"
#include "tests/unit/model_test_util.h"

using namespace aha;
namespace fs = std::filesystem;

namespace {

ModelConfig cfg_with_qlora() {
  ModelConfig c = config_tiny();
  c.q_lora_rank = 24;
  return c;
}

}  // namespace

TEST_CASE("F32 save -> load is bit-exact, also sharded") {
  Model m = test::random_model(cfg_with_qlora(), 42);
  for (size_t shard : {size_t{0}, size_t{64 * 1024}}) {
    test::TempDir tmp(shard ? "aha_ckpt_sharded" : "aha_ckpt_single");
    fs::path d = tmp.path;
    model_save(m, d.string(), "F32", shard);
    CHECK(fs::exists(d / (shard ? "model.safetensors.index.json" : "model.safetensors")));
    Model back;
    model_load(back, d.string());
    REQUIRE(back.num_params == m.num_params);
    CHECK(std::memcmp(back.params.data(), m.params.data(), m.params.size() * sizeof(float)) == 0);
    CHECK(back.cfg.q_lora_rank == 24);
  }
}

TEST_CASE("BF16 save -> load rounds each weight to bfloat16") {
  Model m = test::random_model(config_tiny(), 5);
  test::TempDir tmp("aha_ckpt_bf16");
  fs::path d = tmp.path;
  model_save(m, d.string(), "BF16");
  Model back;
  model_load(back, d.string());
  long not_rounded = 0, too_far = 0;
  for (long i = 0; i < m.num_params; i++) {
    not_rounded += back.params[i] != bf16_to_f32(f32_to_bf16(m.params[i]));
    // bfloat16 keeps 8 significant bits: relative error at most 2^-8.
    too_far += std::fabs(back.params[i] - m.params[i]) > std::fabs(m.params[i]) * (1.0f / 256);
  }
  CHECK(not_rounded == 0);
  CHECK(too_far == 0);
}

TEST_CASE("a config that does not match the tensors is refused, naming the tensor") {
  Model m = test::random_model(config_tiny(), 1);
  test::TempDir tmp("aha_ckpt_mismatch");
  fs::path d = tmp.path;
  model_save(m, d.string());
  ModelConfig wrong = config_tiny();
  wrong.kv_lora_rank = 16;
  config_save(wrong, (d / "config.json").string());
  Model back;
  try {
    model_load(back, d.string());
    CHECK(false);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    CHECK(msg.find("kv_a_proj_with_mqa") != std::string::npos);
  }
  // An unknown, math-changing config field is refused by name.
  std::ofstream(d / "config.json") << R"({"model_type": "deepseek_v3", "vocab_size": 8,
      "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1, "kv_lora_rank": 4,
      "qk_nope_head_dim": 4, "qk_rope_head_dim": 2, "v_head_dim": 4, "intermediate_size": 8,
      "rope_scaling": {"type": "dynamic", "factor": 4}})";
  CHECK_THROWS_WITH(config_load((d / "config.json").string()), doctest::Contains("rope_scaling"));
}
