// Model configuration with the field names of Hugging Face's DeepSeek-V3 config.json, so a real
// config reads and writes one to one. Invariants after config_validate(): every dimension is
// positive where the architecture needs it, NH % NKV == 0, E % n_group == 0, K <= E.
// Fields that would change the math and that aha does not implement (rope_scaling, for one) are
// refused by config_from_json with a message naming them, never silently ignored.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace aha {

struct ModelConfig {
  std::string model_type = "deepseek_v3";  // deepseek_v2 | deepseek_v3
  int vocab_size = 0;                      // V
  int hidden_size = 0;                     // C
  int num_hidden_layers = 0;               // L
  int num_attention_heads = 0;             // NH
  int num_key_value_heads = 0;             // NKV (MLA: equals NH)
  int q_lora_rank = 0;                     // QR; 0 = plain q_proj
  int kv_lora_rank = 0;                    // R
  int qk_nope_head_dim = 0;                // DN
  int qk_rope_head_dim = 0;                // DR
  int v_head_dim = 0;                      // DV
  int intermediate_size = 0;               // FF, dense layers
  int moe_intermediate_size = 0;           // H, each expert
  int n_routed_experts = 0;                // E (0: every layer dense)
  int n_shared_experts = 0;
  int num_experts_per_tok = 0;    // K
  int first_k_dense_replace = 0;  // layers [0, this) are dense
  int moe_layer_freq = 1;
  int n_group = 1;
  int topk_group = 1;
  std::string scoring_func = "sigmoid";  // sigmoid (V3) | softmax (V2)
  std::string topk_method = "noaux_tc";  // noaux_tc | greedy | group_limited_greedy
  bool norm_topk_prob = true;
  float routed_scaling_factor = 1.0f;
  double rope_theta = 10000.0;
  float rms_norm_eps = 1e-6f;
  bool tie_word_embeddings = false;
  int max_position_embeddings = 4096;
  int bos_token_id = -1;
  int eos_token_id = -1;
};

// Dimensions derived from the config.
inline int cfg_qk_head_dim(const ModelConfig& c) {
  return c.qk_nope_head_dim + c.qk_rope_head_dim;
}
inline bool cfg_layer_is_moe(const ModelConfig& c, int l) {
  return c.n_routed_experts > 0 && l >= c.first_k_dense_replace && l % c.moe_layer_freq == 0;
}
inline int cfg_num_moe_layers(const ModelConfig& c) {
  int n = 0;
  for (int l = 0; l < c.num_hidden_layers; l++) n += cfg_layer_is_moe(c, l);
  return n;
}

// Throws std::runtime_error naming `where` (a file path) and the field on any problem.
ModelConfig config_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json config_to_json(const ModelConfig& c);
ModelConfig config_load(const std::string& path);
void config_save(const ModelConfig& c, const std::string& path);
void config_validate(const ModelConfig& c, const std::string& where);

// The built-in tiny configuration (the default run's model).
ModelConfig config_tiny();

}  // namespace aha
