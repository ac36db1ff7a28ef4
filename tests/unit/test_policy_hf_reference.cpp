// aha's forward against PyTorch + transformers 5.24 on the same weights: tiny random models of
// every supported architecture, written by transformers-loadable HF directories in
// tests/fixtures/hf_models (made by make_fixtures.py there; see its README). Each reference.json
// holds float32 logits of three sequences, each run alone, and a greedy continuation. Also the
// round trips: load -> forward -> save (sharded BF16, F32, FP8 with block scales) -> load gives
// identical logits.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "policy/checkpoint.h"
#include "policy/decode.h"
#include "policy/hf_checkpoint.h"
#include "policy/model.h"
#include "rollout/engine.h"
#include "tests/test_util.h"

using namespace aha;
namespace fs = std::filesystem;

namespace {

const std::string kDir = std::string(AHA_FIXTURES_DIR) + "/hf_models/";

nlohmann::json read_reference(const std::string& name) {
  std::ifstream f(kDir + name + "/reference.json");
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}

// Logits [T, V] of one sequence run alone (positions 0..T-1).
std::vector<float> logits_of(Model& m, const std::vector<int>& ids) {
  Batch b;
  batch_add_sequence(b, ids, 0);
  Acts a;
  ForwardOptions opt;
  model_forward(m, a, b, opt);
  return std::vector<float>(a.logits.begin(),
                            a.logits.begin() + static_cast<long>(ids.size()) * m.cfg.vocab_size);
}

// Max |aha - reference| over every logit of every sequence.
double max_logit_diff(Model& m, const nlohmann::json& ref) {
  double worst = 0;
  for (size_t s = 0; s < ref["sequences"].size(); s++) {
    std::vector<int> ids = ref["sequences"][s].get<std::vector<int>>();
    std::vector<float> got = logits_of(m, ids);
    const auto& want = ref["logits"][s];
    REQUIRE(want.size() == ids.size());
    for (size_t t = 0; t < ids.size(); t++)
      for (int v = 0; v < m.cfg.vocab_size; v++)
        worst =
            std::fmax(worst, std::fabs(got[t * m.cfg.vocab_size + v] - want[t][v].get<double>()));
  }
  return worst;
}

std::vector<int> greedy(Model& m, const std::vector<int>& prompt, int n) {
  Engine e;
  EngineOptions eo;
  eo.max_tokens_in_flight = 256;
  engine_init(e, m, eo);
  EngineRequest r;
  r.prompt = prompt;
  r.params.temperature = 0.0f;
  r.params.max_new_tokens = n;
  engine_submit(e, r);
  std::vector<EngineResult> done;
  engine_run(e, done);
  REQUIRE(done.size() == 1);
  return done[0].samples[0].completion;
}

// Every logit of every reference sequence, for bit-exact comparisons.
std::vector<float> all_logits(Model& m, const nlohmann::json& ref) {
  std::vector<float> out;
  for (const auto& seq : ref["sequences"]) {
    std::vector<float> l = logits_of(m, seq.get<std::vector<int>>());
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// fp32 noise: the fixtures' f32-vs-f64 differences are below 1.3e-5; every semantic mistake the
// fixture script ablates moves some logit by more than 1e-4.
constexpr double kTol = 5e-5;

}  // namespace

TEST_CASE("logits equal transformers' on every architecture (fixtures of tiny random models)") {
  for (const char* name :
       {"deepseek_v3", "deepseek_v3_fp8", "deepseek_v2", "qwen3_moe", "qwen3", "qwen2"}) {
    CAPTURE(std::string(name));
    nlohmann::json ref = read_reference(name);
    Model m;
    model_load(m, kDir + name);
    const double diff = max_logit_diff(m, ref);
    INFO(std::string(name), ": max |logit - transformers| = ", diff, " (max |logit| ",
         ref["max_abs_logit"].get<double>(), ")");
    CHECK(diff < kTol);
    MESSAGE(std::string(name), ": max |logit - transformers| = ", diff);
    // Greedy decoding through the cache reproduces transformers' generate().
    std::vector<int> prompt = ref["greedy"]["prompt"].get<std::vector<int>>();
    std::vector<int> want = ref["greedy"]["tokens"].get<std::vector<int>>();
    CHECK(greedy(m, prompt, static_cast<int>(want.size())) == want);
  }
}

TEST_CASE("the packed learner batch gives each sequence its own logits") {
  nlohmann::json ref = read_reference("qwen3_moe");
  Model m;
  model_load(m, kDir + "qwen3_moe");
  Batch b;
  for (const auto& seq : ref["sequences"]) batch_add_sequence(b, seq.get<std::vector<int>>(), 0);
  Acts a;
  model_forward(m, a, b, ForwardOptions{});
  double worst = 0;
  int n = 0;
  for (size_t s = 0; s < ref["sequences"].size(); s++)
    for (const auto& row : ref["logits"][s]) {
      for (int v = 0; v < m.cfg.vocab_size; v++)
        worst = std::fmax(worst, std::fabs(a.logits[static_cast<size_t>(n) * m.cfg.vocab_size + v] -
                                           row[v].get<double>()));
      n++;
    }
  CHECK(worst < kTol);
}

TEST_CASE("load -> forward -> save -> load gives identical logits (sharded BF16, F32, FP8)") {
  test::TempDir tmp("aha_hf_roundtrip");
  for (const char* name : {"deepseek_v3", "qwen3_moe", "qwen3", "qwen2", "deepseek_v2"}) {
    CAPTURE(std::string(name));
    nlohmann::json ref = read_reference(name);
    Model m;
    model_load(m, kDir + name);
    std::vector<float> before = all_logits(m, ref);
    // The fixtures' weights are bf16-exact, so a BF16 save loses nothing. Small shards force an
    // index with several files.
    const std::string out = (tmp.path / (std::string(name) + "_bf16")).string();
    model_save(m, out, "BF16", 40000);
    CHECK(fs::exists(out + "/model.safetensors.index.json"));
    int num_shards = 0;
    for (const auto& e : fs::directory_iterator(out))
      num_shards += e.path().extension() == ".safetensors";
    CHECK(num_shards >= 2);
    Model back;
    model_load(back, out);
    CHECK(bit_equal(before, all_logits(back, ref)));
    CHECK(back.cfg.model_type == m.cfg.model_type);
    CHECK(config_to_json(back.cfg) == config_to_json(m.cfg));
  }
  SUBCASE("FP8 with 16x16 block scales (transformers-side fixture) -> F32 -> identical") {
    nlohmann::json ref = read_reference("deepseek_v3_fp8");
    Model m;
    model_load(m, kDir + "deepseek_v3_fp8");
    std::vector<float> before = all_logits(m, ref);
    const std::string out = (tmp.path / "fp8_to_f32").string();
    model_save(m, out, "F32");
    Model back;
    model_load(back, out);
    CHECK(bit_equal(before, all_logits(back, ref)));
    // The saved config drops quantization_config: the weights are dequantised now.
    std::ifstream f(out + "/config.json");
    CHECK_FALSE(nlohmann::json::parse(f).contains("quantization_config"));
  }
  SUBCASE("FP8 written by aha (128x128 blocks, sharded) -> load -> save -> load") {
    Model m;
    model_load(m, kDir + "deepseek_v3");
    // Quantise every 2-D linear weight of the layers as DeepSeek-V3's checkpoint does.
    std::vector<std::vector<uint8_t>> q(m.specs.size());
    std::vector<std::vector<float>> sc(m.specs.size());
    std::vector<StWriteTensor> ts;
    for (size_t i = 0; i < m.specs.size(); i++) {
      const TensorSpec& s = m.specs[i];
      StWriteTensor t;
      t.name = s.name;
      t.shape = s.shape;
      const bool fp8 = s.shape.size() == 2 && s.name.find("model.layers.") == 0 &&
                       s.name.find("mlp.gate.weight") == std::string::npos;
      if (!fp8) {
        t.dtype = "F32";
        t.data = m.params.data() + s.offset;
        t.nbytes = static_cast<size_t>(s.numel) * sizeof(float);
        ts.push_back(t);
        continue;
      }
      const int64_t rows = s.shape[0], cols = s.shape[1];
      q[i].resize(static_cast<size_t>(s.numel));
      sc[i].resize(static_cast<size_t>(((rows + 127) / 128) * ((cols + 127) / 128)));
      fp8_quantize_blocks(m.params.data() + s.offset, rows, cols, 128, 128, q[i].data(),
                          sc[i].data());
      t.dtype = "F8_E4M3";
      t.data = q[i].data();
      t.nbytes = q[i].size();
      ts.push_back(t);
      StWriteTensor st;
      st.name = s.name + "_scale_inv";
      st.dtype = "F32";
      st.shape = {(rows + 127) / 128, (cols + 127) / 128};
      st.data = sc[i].data();
      st.nbytes = sc[i].size() * sizeof(float);
      ts.push_back(st);
    }
    const std::string dir = (tmp.path / "aha_fp8").string();
    fs::create_directories(dir);
    nlohmann::json cfg = config_to_json(m.cfg);
    cfg["quantization_config"] = {{"quant_method", "fp8"},
                                  {"fmt", "e4m3"},
                                  {"activation_scheme", "dynamic"},
                                  {"weight_block_size", {128, 128}}};
    std::ofstream(dir + "/config.json") << cfg.dump(2);
    hf_save(dir, ts, 30000, "F32");
    Model f8;
    model_load(f8, dir);
    nlohmann::json ref = read_reference("deepseek_v3");
    std::vector<float> l8 = all_logits(f8, ref);
    // E4M3 keeps 3 mantissa bits: each weight within 2^-4 relative (plus the subnormal step of
    // its block, amax / 448 * 2^-9) of the bf16 original, and the logits move.
    for (size_t i = 0; i < m.specs.size(); i++) {
      if (q[i].empty()) continue;
      const TensorSpec& s = m.specs[i];
      float amax = 0;
      for (long j = 0; j < s.numel; j++) amax = std::fmax(amax, std::fabs(m.params[s.offset + j]));
      int bad = 0;
      for (long j = 0; j < s.numel; j++) {
        const float w = m.params[s.offset + j], w8 = f8.params[s.offset + j];
        bad += std::fabs(w8 - w) > 0.0625f * std::fabs(w) + amax / 448.0f / 512.0f;
      }
      INFO(s.name);
      CHECK(bad == 0);
    }
    std::vector<float> l16 = all_logits(m, ref);
    double moved = 0;
    for (size_t i = 0; i < l8.size(); i++) moved = std::fmax(moved, std::fabs(l8[i] - l16[i]));
    CHECK(moved > 1e-4);
    const std::string out = (tmp.path / "aha_fp8_saved").string();
    model_save(f8, out, "F32", 50000);
    Model back;
    model_load(back, out);
    CHECK(bit_equal(l8, all_logits(back, ref)));
  }
}

TEST_CASE("config.json fields aha does not implement are refused by name") {
  std::ifstream f(kDir + "qwen3_moe/config.json");
  const nlohmann::json base = nlohmann::json::parse(f);
  auto refusal = [&](auto edit) {
    nlohmann::json j = base;
    edit(j);
    try {
      config_from_json(j, "cfg.json");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  auto has = [](const std::string& msg, const char* what) {
    INFO(msg);
    CHECK(msg.find(what) != std::string::npos);
    CHECK(msg.find("cfg.json") == 0);
  };
  has(refusal([](auto& j) {
        j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
      }),
      "dynamic");
  has(refusal([](auto& j) {
        j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
      }),
      "llama3");
  has(refusal([](auto& j) {
        j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 2.0}, {"low_freq_factor", 1.0}};
      }),
      "low_freq_factor");
  has(refusal([](auto& j) { j["use_sliding_window"] = true; }), "use_sliding_window");
  has(refusal([](auto& j) {
        j["layer_types"] = {"full_attention", "sliding_attention"};
      }),
      "layer_types");
  has(refusal([](auto& j) { j["hidden_act"] = "gelu"; }), "hidden_act");
  has(refusal([](auto& j) { j["model_type"] = "qwen2_moe"; }), "qwen2_moe");
  has(refusal([](auto& j) { j["mlp_only_layers"] = {7}; }), "mlp_only_layers");
  has(refusal([](auto& j) { j["num_key_value_heads"] = 3; }), "num_key_value_heads");
  // Harmless fields pass: sliding_window is ignored while use_sliding_window is false.
  CHECK(refusal([](auto& j) { j["sliding_window"] = 4096; }) == "accepted");
  // Qwen3's head_dim default is transformers' 128 when the field is absent.
  nlohmann::json q3 = base;
  q3["model_type"] = "qwen3";
  q3.erase("head_dim");
  CHECK(config_from_json(q3, "q3.json").head_dim == 128);
}

TEST_CASE("config.json numbers that do not fit their field are refused, naming the field") {
  std::ifstream f(kDir + "qwen3_moe/config.json");
  const nlohmann::json base = nlohmann::json::parse(f);
  auto refusal = [&](const char* key, const nlohmann::json& v) {
    nlohmann::json j = base;
    j[key] = v;
    try {
      config_from_json(j, "cfg.json");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  // Found by fuzzing: get<int>() cast 1.8e19 to int (undefined behaviour), wrapped 2^32 + 2 to 2
  // and truncated 2.5 to 2; get<double>() took 1e400 as infinity.
  CHECK(refusal("hidden_size", 1.8446744073709552e19) ==
        "cfg.json: field 'hidden_size' = 1.8446744073709552e+19 is not an integer in "
        "[-2147483648, 2147483647]");
  CHECK(refusal("num_hidden_layers", 4294967298ull)
            .find("field 'num_hidden_layers' = "
                  "4294967298 is not an integer") != std::string::npos);
  CHECK(refusal("num_hidden_layers", 2.5).find("'num_hidden_layers' = 2.5") != std::string::npos);
  CHECK(refusal("num_hidden_layers", -9223372036854775807LL).find("is not an integer") !=
        std::string::npos);
  CHECK(refusal("rope_theta", std::numeric_limits<double>::infinity()) ==
        "cfg.json: field 'rope_theta' = null is not a finite number");
  CHECK(refusal("mlp_only_layers", {0, 1e10}).find("field 'mlp_only_layers[1]'") !=
        std::string::npos);
  CHECK(refusal("eos_token_id", {4294967296.0, 3}).find("field 'eos_token_id[0]'") !=
        std::string::npos);
  CHECK(refusal("eos_token_id", {"x"}).find("field 'eos_token_id[0]'") != std::string::npos);
  // Finite fields whose combination gives NaN rope frequencies (every logit NaN) are refused.
  auto yarn = [](double beta_fast, double beta_slow) {
    return nlohmann::json{{"rope_type", "yarn"},
                          {"factor", 4.0},
                          {"original_max_position_embeddings", 4096},
                          {"beta_fast", beta_fast},
                          {"beta_slow", beta_slow}};
  };
  CHECK(refusal("rope_scaling", yarn(0, 1)).find("non-finite rope frequencies") !=
        std::string::npos);
  CHECK(refusal("rope_scaling", yarn(32, -1)).find("non-finite rope frequencies") !=
        std::string::npos);
  CHECK(refusal("rope_scaling", yarn(32, 1)) == "accepted");
  // Integral floats and plain integers still pass.
  CHECK(refusal("num_hidden_layers", 2.0) == "accepted");
  CHECK(refusal("eos_token_id", {7, 8}) == "accepted");
}

TEST_CASE("a checkpoint with weights the config does not describe is refused, naming them") {
  test::TempDir tmp("aha_hf_extra");
  const std::string dir = (tmp.path / "m").string();
  fs::create_directories(dir);
  fs::copy(kDir + "qwen3_moe", dir, fs::copy_options::recursive);
  // Layer 1 declared dense: its 8 experts and router would be dropped silently otherwise.
  std::ifstream f(dir + "/config.json");
  nlohmann::json j = nlohmann::json::parse(f);
  j["mlp_only_layers"] = {0, 1};
  std::ofstream(dir + "/config.json") << j.dump();
  Model back;
  try {
    model_load(back, dir);
    CHECK(false);
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("model.layers.1.mlp.experts.0.") != std::string::npos);
    CHECK(msg.find("does not describe") != std::string::npos);
    CHECK(msg.find(dir) != std::string::npos);
  }
}

TEST_CASE("a small config.json naming a huge model is refused before anything is allocated") {
  test::TempDir tmp("aha_hf_huge");
  const std::string dir = (tmp.path / "m").string();
  fs::create_directories(dir);
  fs::copy(kDir + "qwen3_moe", dir, fs::copy_options::recursive);
  std::ifstream f(dir + "/config.json");
  const nlohmann::json base = nlohmann::json::parse(f);
  f.close();
  auto load_error = [&](auto edit) {
    nlohmann::json j = base;
    edit(j);
    std::ofstream(dir + "/config.json", std::ios::trunc) << j.dump();
    Model m;
    try {
      model_load(m, dir);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  // Found with a mutated config: 4096 layers of 65536 experts built an 800M-entry tensor table
  // (minutes, gigabytes) before any check; each field alone is within its bound.
  std::string e = load_error([](auto& j) {
    j["num_hidden_layers"] = 4096;
    j["num_experts"] = 65536;
  });
  CHECK(e.find("config.json: invalid config: num_hidden_layers = 4096 with n_routed_experts = "
               "65536 makes about 805437440 tensors") != std::string::npos);
  // 4096 layers of experts 2^20 wide pass the config's bounds, but the checkpoint lacks their tensors:
  // refused before model_build would allocate terabytes (ASan: allocation-size-too-big).
  e = load_error([](auto& j) {
    j["num_hidden_layers"] = 4096;
    j["moe_intermediate_size"] = 1 << 20;
  });
  INFO(e);
  CHECK(e.find("model.safetensors: tensor 'model.layers.") != std::string::npos);
  CHECK(e.find(".mlp.experts.0.gate_proj.weight' has shape [") != std::string::npos);
  CHECK(e.find(", the config needs [1048576, ") != std::string::npos);
  e = load_error([](auto& j) { j["num_hidden_layers"] = 4096; });
  CHECK(e == dir +
                 ": tensor 'model.layers.3.input_layernorm.weight' is missing from the checkpoint "
                 "(config.json describes a different model)");
  CHECK(load_error([](auto&) {}) == "loaded");
}

// The hub's config.json files of real models (tests/fixtures/hub_configs) parse, and their tensor
// tables count the parameters the model cards publish (table only: nothing is allocated).
TEST_CASE("real hub configs parse and count the published parameter totals") {
  struct Card {
    const char* file;
    double total_b, active_b, non_embedding_b;  // published, in billions (0 = not published)
    double rel_tol;
  };
  const Card cards[] = {
      {"DeepSeek-V3.json", 671.0, 37.0, 0, 0.02},  // paper: 671B total, 37B activated (no MTP)
      {"DeepSeek-V2-Lite.json", 15.7, 0, 0, 0.005}, {"Qwen3-30B-A3B.json", 30.5, 3.3, 29.9, 0.02},
      {"Qwen3-8B.json", 8.2, 0, 6.95, 0.005},       {"Qwen2.5-7B.json", 7.61, 0, 6.53, 0.002},
      {"Qwen3-0.6B.json", 0.6, 0, 0.44, 0.01},
  };
  for (const Card& card : cards) {
    CAPTURE(std::string(card.file));
    ModelConfig c = config_load(std::string(AHA_FIXTURES_DIR) + "/hub_configs/" + card.file);
    Model m;
    model_build_table(m, c);
    CHECK(m.params.empty());
    const double total = model_num_params(m) / 1e9, active = model_num_active_params(m) / 1e9;
    const double emb = static_cast<double>(c.vocab_size) * c.hidden_size / 1e9;
    const double non_emb = total - emb * (c.tie_word_embeddings ? 1 : 2);
    INFO("total ", total, "B, active ", active, "B, non-embedding ", non_emb, "B");
    CHECK(std::fabs(total / card.total_b - 1) < card.rel_tol);
    if (card.active_b > 0) CHECK(std::fabs(active / card.active_b - 1) < card.rel_tol);
    if (card.non_embedding_b > 0)
      CHECK(std::fabs(non_emb / card.non_embedding_b - 1) < card.rel_tol);
  }
  // The decode cache per token and layer: V3's 512 + 64 latent values, Qwen3-30B-A3B's
  // 2 * 4 heads * 128 of k and v.
  ModelConfig v3 = config_load(std::string(AHA_FIXTURES_DIR) + "/hub_configs/DeepSeek-V3.json");
  CHECK(cache_row_width(v3) == 576);
  CHECK(v3.rope_scaling.type == RopeType::kYarn);
  CHECK(v3.num_nextn_predict_layers == 1);
  ModelConfig q = config_load(std::string(AHA_FIXTURES_DIR) + "/hub_configs/Qwen3-30B-A3B.json");
  CHECK(cache_row_width(q) == 1024);
  CHECK(cfg_num_moe_layers(q) == 48);
}

TEST_CASE("DeepSeek-V3's multi-token-prediction layer is skipped, and only when declared") {
  test::TempDir tmp("aha_hf_mtp");
  Model m;
  model_load(m, kDir + "deepseek_v3");
  std::vector<StWriteTensor> ts;
  for (const TensorSpec& s : m.specs)
    ts.push_back({s.name, "F32", s.shape, m.params.data() + s.offset,
                  static_cast<size_t>(s.numel) * sizeof(float)});
  // The hub's layer 61 of V3 is the MTP module: here layer 3 of a 3-layer model.
  std::vector<float> eh(32 * 64, 0.5f);
  ts.push_back({"model.layers.3.eh_proj.weight", "F32", {32, 64}, eh.data(), eh.size() * 4});
  const std::string dir = (tmp.path / "mtp").string();
  hf_save(dir, ts, SIZE_MAX, "BF16");
  nlohmann::json cfg = config_to_json(m.cfg);
  cfg["num_nextn_predict_layers"] = 1;
  std::ofstream(dir + "/config.json") << cfg.dump();
  Model with_mtp;
  model_load(with_mtp, dir);
  nlohmann::json ref = read_reference("deepseek_v3");
  CHECK(bit_equal(all_logits(with_mtp, ref), all_logits(m, ref)));
  cfg["num_nextn_predict_layers"] = 0;
  std::ofstream(dir + "/config.json") << cfg.dump();
  Model refused;
  CHECK_THROWS_WITH(model_load(refused, dir), doctest::Contains("model.layers.3.eh_proj.weight"));
}
