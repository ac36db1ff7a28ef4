#include "policy/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "kernels/json_depth.h"
#include "kernels/user_input.h"
#include "policy/config_presets.h"
#include "policy/family.h"

namespace aha {

namespace {

using json = nlohmann::json;

const char* const kModelTypes = "deepseek_v2, deepseek_v3, qwen2, qwen3, qwen3_moe";

bool is_off(const json& v) {
  return v.is_null() || (v.is_boolean() && !v.get<bool>());
}

// rope_scaling (legacy hub field) or transformers 5's rope_parameters; "default" = none.
void read_rope_scaling(const json& rs, ModelConfig& c, const std::string& where) {
  if (rs.is_null()) return;
  if (!rs.is_object()) config_fail(where, "field 'rope_scaling' must be an object or null");
  const std::string field = "rope_scaling";
  std::string type;
  if (rs.contains("rope_type") && rs["rope_type"].is_string())
    type = rs["rope_type"].get<std::string>();
  else if (rs.contains("type") && rs["type"].is_string())
    type = rs["type"].get<std::string>();
  RopeScaling& s = c.rope_scaling;
  if (type.empty() || type == "default") {
    s.type = RopeType::kNone;
  } else if (type == "linear") {
    s.type = RopeType::kLinear;
  } else if (type == "yarn") {
    s.type = RopeType::kYarn;
  } else {
    config_fail(where, "rope_scaling type '" + type +
                           "' changes the model's math and is not supported by aha "
                           "(supported: default, linear, yarn)");
  }
  static const std::set<std::string> known = {
      "type",      "rope_type", "rope_theta", "factor",         "original_max_position_embeddings",
      "beta_fast", "beta_slow", "mscale",     "mscale_all_dim", "attention_factor",
      "truncate"};
  for (const auto& [k, v] : rs.items())
    if (!known.count(k))
      config_fail(where, "rope_scaling field '" + k + "' = " + v.dump() +
                             " is not supported by aha (it would change the rope)");
  config_read(rs, "rope_theta", c.rope_theta, where);
  if (s.type == RopeType::kNone) return;
  config_read(rs, "factor", s.factor, where);
  if (!(s.factor > 0)) config_fail(where, field + ".factor must be > 0");
  config_read(rs, "original_max_position_embeddings", s.original_max_position_embeddings, where);
  config_read(rs, "beta_fast", s.beta_fast, where);
  config_read(rs, "beta_slow", s.beta_slow, where);
  config_read(rs, "mscale", s.mscale, where);
  config_read(rs, "mscale_all_dim", s.mscale_all_dim, where);
  config_read(rs, "attention_factor", s.attention_factor, where);
  config_read(rs, "truncate", s.truncate, where);
  if (s.type == RopeType::kYarn && s.original_max_position_embeddings <= 0)
    s.original_max_position_embeddings = c.max_position_embeddings;
}

json rope_scaling_json(const RopeScaling& s) {
  if (s.type == RopeType::kNone) return nullptr;
  json j;
  const char* type = s.type == RopeType::kLinear ? "linear" : "yarn";
  j["type"] = type;
  j["rope_type"] = type;
  j["factor"] = s.factor;
  if (s.type == RopeType::kLinear) return j;
  j["original_max_position_embeddings"] = s.original_max_position_embeddings;
  j["beta_fast"] = s.beta_fast;
  j["beta_slow"] = s.beta_slow;
  if (s.mscale != 0) j["mscale"] = s.mscale;
  if (s.mscale_all_dim != 0) j["mscale_all_dim"] = s.mscale_all_dim;
  if (s.attention_factor > 0) j["attention_factor"] = s.attention_factor;
  if (!s.truncate) j["truncate"] = false;
  return j;
}

// Token ids may be an int or (generation configs, some models) a list: the first one counts.
void read_token_id(const json& j, const char* key, int& out, const std::string& where) {
  auto it = j.find(key);
  if (it != j.end() && it->is_array()) {
    if (!it->empty() && !config_number((*it)[0], out))
      config_fail(where, std::string("field '") + key + "[0]' = " + (*it)[0].dump() +
                             " is not an integer token id");
    return;
  }
  config_read(j, key, out, where);
}

// Fields read into ModelConfig (or refused): the rest passes through to the saved config.
const std::set<std::string>& modelled_fields() {
  static const std::set<std::string> f = {
      "architectures", "model_type", "vocab_size", "hidden_size", "num_hidden_layers",
      "num_attention_heads", "num_key_value_heads", "q_lora_rank", "kv_lora_rank",
      "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "head_dim", "intermediate_size",
      "moe_intermediate_size", "n_routed_experts", "num_experts", "n_shared_experts",
      "num_experts_per_tok", "first_k_dense_replace", "moe_layer_freq", "decoder_sparse_step",
      "mlp_only_layers", "n_group", "topk_group", "scoring_func", "topk_method", "norm_topk_prob",
      "routed_scaling_factor", "rope_theta", "rope_scaling", "rope_parameters", "rms_norm_eps",
      "tie_word_embeddings", "max_position_embeddings", "bos_token_id", "eos_token_id",
      "attention_bias", "mlp_bias", "sliding_window", "use_sliding_window", "hidden_act",
      "layer_types", "partial_rotary_factor", "rope_interleave", "torch_dtype", "dtype",
      // aha saves dequantised weights and no multi-token-prediction layers
      "quantization_config", "num_nextn_predict_layers"};
  return f;
}

}  // namespace

bool cfg_layer_is_moe(const ModelConfig& c, int l) {
  if (c.n_routed_experts <= 0) return false;
  if (cfg_family(c) == Family::kQwen)
    return (l + 1) % c.decoder_sparse_step == 0 &&
           std::find(c.mlp_only_layers.begin(), c.mlp_only_layers.end(), l) ==
               c.mlp_only_layers.end();
  return l >= c.first_k_dense_replace && l % c.moe_layer_freq == 0;
}

int cfg_num_moe_layers(const ModelConfig& c) {
  int n = 0;
  for (int l = 0; l < c.num_hidden_layers; l++) n += cfg_layer_is_moe(c, l);
  return n;
}

ModelConfig config_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) config_fail(where, "config is not a JSON object");
  ModelConfig c;
  config_read(j, "model_type", c.model_type, where);
  static const std::set<std::string> types = {"deepseek_v2", "deepseek_v3", "qwen2", "qwen3",
                                              "qwen3_moe"};
  if (!types.count(c.model_type))
    config_fail(where, "model_type '" + c.model_type + "' is not supported (" + kModelTypes + ")");
  std::string act = "silu";
  config_read(j, "hidden_act", act, where);
  if (act != "silu")
    config_fail(where, "field 'hidden_act' = \"" + act +
                           "\" changes the model's math and is not supported by aha (silu)");
  if (j.contains("mlp_bias") && !is_off(j["mlp_bias"]))
    config_fail(where, "field 'mlp_bias' = " + j["mlp_bias"].dump() +
                           " changes the model's math and is not supported by aha");
  config_read(j, "vocab_size", c.vocab_size, where);
  config_read(j, "hidden_size", c.hidden_size, where);
  config_read(j, "num_hidden_layers", c.num_hidden_layers, where);
  config_read(j, "num_attention_heads", c.num_attention_heads, where);
  c.num_key_value_heads = c.num_attention_heads;
  config_read(j, "num_key_value_heads", c.num_key_value_heads, where);
  config_read(j, "intermediate_size", c.intermediate_size, where);
  config_read(j, "rope_theta", c.rope_theta, where);
  config_read(j, "rms_norm_eps", c.rms_norm_eps, where);
  config_read(j, "tie_word_embeddings", c.tie_word_embeddings, where);
  config_read(j, "max_position_embeddings", c.max_position_embeddings, where);
  read_token_id(j, "bos_token_id", c.bos_token_id, where);
  read_token_id(j, "eos_token_id", c.eos_token_id, where);
  if (j.contains("rope_scaling")) read_rope_scaling(j["rope_scaling"], c, where);
  if (j.contains("rope_parameters") && c.rope_scaling.type == RopeType::kNone)
    read_rope_scaling(j["rope_parameters"], c, where);
  if (cfg_family(c) == Family::kQwen)
    qwen_config_read(j, c, where);
  else
    deepseek_config_read(j, c, where);
  for (const auto& [k, v] : j.items())
    if (!modelled_fields().count(k)) c.extra[k] = v;
  config_validate(c, where);
  return c;
}

void config_validate(const ModelConfig& c, const std::string& where) {
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) config_fail(where, "invalid config: " + what);
  };
  // Sizes far above any real model (DeepSeek-V3: 61 layers, 7168 wide, 256 experts, 129280 tokens)
  // are refused before anything is allocated: a typo or a hostile config must not take the memory.
  auto at_most = [&](long v, long hi, const char* name) {
    need(v <= hi, std::string(name) + " = " + std::to_string(v) + " is over " + std::to_string(hi) +
                      " (far above any real model; refused before allocating)");
  };
  at_most(c.vocab_size, 1 << 22, "vocab_size");
  at_most(c.hidden_size, 1 << 17, "hidden_size");
  at_most(c.num_hidden_layers, 4096, "num_hidden_layers");
  at_most(c.num_attention_heads, 4096, "num_attention_heads");
  at_most(c.num_key_value_heads, 4096, "num_key_value_heads");
  at_most(c.intermediate_size, 1 << 20, "intermediate_size");
  at_most(c.moe_intermediate_size, 1 << 20, "moe_intermediate_size");
  at_most(c.n_routed_experts, 1 << 16, "n_routed_experts");
  at_most(c.n_shared_experts, 1024, "n_shared_experts");
  at_most(c.q_lora_rank, 1 << 17, "q_lora_rank");
  at_most(c.kv_lora_rank, 1 << 17, "kv_lora_rank");
  at_most(c.qk_nope_head_dim, 1 << 14, "qk_nope_head_dim");
  at_most(c.qk_rope_head_dim, 1 << 14, "qk_rope_head_dim");
  at_most(c.v_head_dim, 1 << 14, "v_head_dim");
  at_most(c.head_dim, 1 << 14, "head_dim");
  at_most(c.max_position_embeddings, 1 << 24, "max_position_embeddings");
  // Each bound alone allows an 800M-entry tensor table (minutes, gigabytes); DeepSeek-V3 has ~50k.
  const int64_t tensors = static_cast<int64_t>(std::max(c.num_hidden_layers, 0)) *
                          (3 * static_cast<int64_t>(std::max(c.n_routed_experts, 0)) + 32);
  need(tensors <= (1 << 20), "num_hidden_layers = " + std::to_string(c.num_hidden_layers) +
                                 " with n_routed_experts = " + std::to_string(c.n_routed_experts) +
                                 " makes about " + std::to_string(tensors) +
                                 " tensors, over 1048576 (far above any real model)");
  need(c.vocab_size > 0, "vocab_size must be > 0");
  need(c.hidden_size > 0, "hidden_size must be > 0");
  need(c.num_hidden_layers > 0, "num_hidden_layers must be > 0");
  need(c.num_attention_heads > 0, "num_attention_heads must be > 0");
  need(c.num_key_value_heads > 0 && c.num_attention_heads % c.num_key_value_heads == 0,
       "num_attention_heads must be a multiple of num_key_value_heads");
  if (cfg_family(c) == Family::kQwen)
    qwen_config_validate(c, where);
  else
    deepseek_config_validate(c, where);
  need(c.scoring_func == "sigmoid" || c.scoring_func == "softmax",
       "scoring_func must be sigmoid or softmax, got '" + c.scoring_func + "'");
  need(c.topk_method == "noaux_tc" || c.topk_method == "greedy" ||
           c.topk_method == "group_limited_greedy",
       "topk_method '" + c.topk_method + "' is not supported");
  bool any_dense = false;
  for (int l = 0; l < c.num_hidden_layers; l++) any_dense |= !cfg_layer_is_moe(c, l);
  if (any_dense) need(c.intermediate_size > 0, "intermediate_size must be > 0 (dense layers)");
  if (c.n_routed_experts > 0) {
    need(c.moe_intermediate_size > 0, "moe_intermediate_size must be > 0");
    need(c.num_experts_per_tok > 0 && c.num_experts_per_tok <= c.n_routed_experts,
         "num_experts_per_tok must be in [1, n_routed_experts]");
    need(c.n_shared_experts >= 0, "n_shared_experts must be >= 0");
    need(c.n_group >= 1 && c.n_routed_experts % c.n_group == 0,
         "n_group must divide n_routed_experts");
    need(c.topk_group >= 1 && c.topk_group <= c.n_group, "topk_group must be in [1, n_group]");
  }
  const int rd = cfg_rope_dim(c);
  need(rd > 0 && rd % 2 == 0, "the rope dims per head must be positive and even");
  need(c.rope_theta > 0, "rope_theta must be > 0");
  need(c.max_position_embeddings > 0, "max_position_embeddings must be > 0");
  need(c.rms_norm_eps > 0, "rms_norm_eps must be > 0");
  // Finite rope fields can still combine into NaN frequencies (YaRN beta_fast = 0): NaN logits.
  std::vector<double> inv_freq(static_cast<size_t>(rd / 2));
  double attn_factor = 0;
  try {
    attn_factor = rope_frequencies(inv_freq.data(), rd, c.rope_theta, c.rope_scaling);
  } catch (const std::exception& e) {
    config_fail(where, std::string("invalid config: rope_scaling: ") + e.what());
  }
  const bool finite = std::all_of(inv_freq.begin(), inv_freq.end(),
                                  [](double f) { return std::isfinite(f) && f > 0; });
  need(finite && attn_factor > 0 && attn_factor <= 1e6,
       "rope_theta and rope_scaling give non-finite rope frequencies or attention factor (check "
       "rope_theta > 1 and rope_scaling's beta_fast, beta_slow, mscale, mscale_all_dim, "
       "attention_factor)");
}

json config_to_json(const ModelConfig& c) {
  json j = c.extra;  // fields aha does not model pass through
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["intermediate_size"] = c.intermediate_size;
  j["hidden_act"] = "silu";
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = rope_scaling_json(c.rope_scaling);
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["max_position_embeddings"] = c.max_position_embeddings;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  if (cfg_family(c) == Family::kQwen)
    qwen_config_write(c, j);
  else
    deepseek_config_write(c, j);
  if (!j.contains("torch_dtype")) j["torch_dtype"] = "float32";
  return j;
}

ModelConfig config_load(const std::string& path) {
  std::ifstream f = open_input(path, "cannot open config", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  json_check_depth(text, path);
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": invalid JSON: " + aha::json_error_text(e.what()));
  }
  return config_from_json(j, path);
}

void config_save(const ModelConfig& c, const std::string& path) {
  std::ofstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot write config");
  f << config_to_json(c).dump(2) << "\n";
  if (!f) throw std::runtime_error(path + ": write failed");
}

ModelConfig config_tiny() {
  // policy/tiny_tokenizer.h's character vocabulary; 2 layers, the first dense.
  // clang-format off
  return config_deepseek({.V = 103, .C = 64, .L = 2, .NH = 4, .q_lora_rank = 0, .kv_lora_rank = 32,
      .qk_nope_head_dim = 16, .qk_rope_head_dim = 8, .v_head_dim = 16, .FF = 128, .moe_FF = 64,
      .E = 4, .shared = 1, .K = 2, .first_dense = 1, .max_position_embeddings = 256});
  // clang-format on
}

}  // namespace aha
