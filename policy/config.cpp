#include "policy/config.h"

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace aha {

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& msg) {
  throw std::runtime_error(where + ": " + msg);
}

template <typename T>
void read_field(const nlohmann::json& j, const char* key, T& out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;  // keep the default
  try {
    out = it->get<T>();
  } catch (const std::exception& e) {
    fail(where, std::string("field '") + key + "' has the wrong type: " + it->dump());
  }
}

}  // namespace

ModelConfig config_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "config is not a JSON object");
  ModelConfig c;
  read_field(j, "model_type", c.model_type, where);
  if (c.model_type != "deepseek_v3" && c.model_type != "deepseek_v2")
    fail(where, "model_type '" + c.model_type + "' is not supported (deepseek_v2, deepseek_v3)");
  // Fields that change the math and that aha lacks: refuse them by name.
  for (const char* key : {"rope_scaling", "attention_bias", "mlp_bias", "sliding_window"}) {
    auto it = j.find(key);
    if (it != j.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>()))
      fail(where, std::string("field '") + key + "' = " + it->dump() +
                      " changes the model's math and is not supported by aha");
  }
  read_field(j, "vocab_size", c.vocab_size, where);
  read_field(j, "hidden_size", c.hidden_size, where);
  read_field(j, "num_hidden_layers", c.num_hidden_layers, where);
  read_field(j, "num_attention_heads", c.num_attention_heads, where);
  c.num_key_value_heads = c.num_attention_heads;
  read_field(j, "num_key_value_heads", c.num_key_value_heads, where);
  read_field(j, "q_lora_rank", c.q_lora_rank, where);
  read_field(j, "kv_lora_rank", c.kv_lora_rank, where);
  read_field(j, "qk_nope_head_dim", c.qk_nope_head_dim, where);
  read_field(j, "qk_rope_head_dim", c.qk_rope_head_dim, where);
  read_field(j, "v_head_dim", c.v_head_dim, where);
  read_field(j, "intermediate_size", c.intermediate_size, where);
  read_field(j, "moe_intermediate_size", c.moe_intermediate_size, where);
  read_field(j, "n_routed_experts", c.n_routed_experts, where);
  read_field(j, "n_shared_experts", c.n_shared_experts, where);
  read_field(j, "num_experts_per_tok", c.num_experts_per_tok, where);
  read_field(j, "first_k_dense_replace", c.first_k_dense_replace, where);
  read_field(j, "moe_layer_freq", c.moe_layer_freq, where);
  read_field(j, "n_group", c.n_group, where);
  read_field(j, "topk_group", c.topk_group, where);
  if (c.model_type == "deepseek_v2") {
    c.scoring_func = "softmax";
    c.topk_method = "greedy";
    c.norm_topk_prob = false;
  }
  read_field(j, "scoring_func", c.scoring_func, where);
  read_field(j, "topk_method", c.topk_method, where);
  read_field(j, "norm_topk_prob", c.norm_topk_prob, where);
  read_field(j, "routed_scaling_factor", c.routed_scaling_factor, where);
  read_field(j, "rope_theta", c.rope_theta, where);
  read_field(j, "rms_norm_eps", c.rms_norm_eps, where);
  read_field(j, "tie_word_embeddings", c.tie_word_embeddings, where);
  read_field(j, "max_position_embeddings", c.max_position_embeddings, where);
  read_field(j, "bos_token_id", c.bos_token_id, where);
  read_field(j, "eos_token_id", c.eos_token_id, where);
  config_validate(c, where);
  return c;
}

void config_validate(const ModelConfig& c, const std::string& where) {
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) fail(where, "invalid config: " + what);
  };
  need(c.vocab_size > 0, "vocab_size must be > 0");
  need(c.hidden_size > 0, "hidden_size must be > 0");
  need(c.num_hidden_layers > 0, "num_hidden_layers must be > 0");
  need(c.num_attention_heads > 0, "num_attention_heads must be > 0");
  need(c.num_key_value_heads == c.num_attention_heads,
       "num_key_value_heads must equal num_attention_heads for MLA");
  need(c.q_lora_rank >= 0, "q_lora_rank must be >= 0");
  need(c.kv_lora_rank > 0, "kv_lora_rank must be > 0");
  need(c.qk_nope_head_dim > 0, "qk_nope_head_dim must be > 0");
  need(c.qk_rope_head_dim > 0 && c.qk_rope_head_dim % 2 == 0,
       "qk_rope_head_dim must be positive and even");
  need(c.v_head_dim > 0, "v_head_dim must be > 0");
  need(c.scoring_func == "sigmoid" || c.scoring_func == "softmax",
       "scoring_func must be sigmoid or softmax, got '" + c.scoring_func + "'");
  need(c.topk_method == "noaux_tc" || c.topk_method == "greedy" ||
           c.topk_method == "group_limited_greedy",
       "topk_method '" + c.topk_method + "' is not supported");
  need(c.moe_layer_freq >= 1, "moe_layer_freq must be >= 1");
  need(c.first_k_dense_replace >= 0, "first_k_dense_replace must be >= 0");
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
  need(c.max_position_embeddings > 0, "max_position_embeddings must be > 0");
  need(c.rms_norm_eps > 0, "rms_norm_eps must be > 0");
}

nlohmann::json config_to_json(const ModelConfig& c) {
  nlohmann::json j;
  j["architectures"] = {c.model_type == "deepseek_v2" ? "DeepseekV2ForCausalLM"
                                                      : "DeepseekV3ForCausalLM"};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["q_lora_rank"] = c.q_lora_rank > 0 ? nlohmann::json(c.q_lora_rank) : nlohmann::json(nullptr);
  j["kv_lora_rank"] = c.kv_lora_rank;
  j["qk_nope_head_dim"] = c.qk_nope_head_dim;
  j["qk_rope_head_dim"] = c.qk_rope_head_dim;
  j["v_head_dim"] = c.v_head_dim;
  j["intermediate_size"] = c.intermediate_size;
  j["moe_intermediate_size"] = c.moe_intermediate_size;
  j["n_routed_experts"] = c.n_routed_experts;
  j["n_shared_experts"] = c.n_shared_experts;
  j["num_experts_per_tok"] = c.num_experts_per_tok;
  j["first_k_dense_replace"] = c.first_k_dense_replace;
  j["moe_layer_freq"] = c.moe_layer_freq;
  j["n_group"] = c.n_group;
  j["topk_group"] = c.topk_group;
  j["scoring_func"] = c.scoring_func;
  j["topk_method"] = c.topk_method;
  j["norm_topk_prob"] = c.norm_topk_prob;
  j["routed_scaling_factor"] = c.routed_scaling_factor;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["max_position_embeddings"] = c.max_position_embeddings;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  j["torch_dtype"] = "float32";
  return j;
}

ModelConfig config_load(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot open config");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": invalid JSON: " + e.what());
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
  ModelConfig c;
  c.vocab_size = 103;  // policy/tiny_tokenizer.h's character vocabulary
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 4;
  c.q_lora_rank = 0;
  c.kv_lora_rank = 32;
  c.qk_nope_head_dim = 16;
  c.qk_rope_head_dim = 8;
  c.v_head_dim = 16;
  c.intermediate_size = 128;
  c.moe_intermediate_size = 64;
  c.n_routed_experts = 4;
  c.n_shared_experts = 1;
  c.num_experts_per_tok = 2;
  c.first_k_dense_replace = 1;
  c.routed_scaling_factor = 1.0f;
  c.max_position_embeddings = 256;
  return c;
}

}  // namespace aha
