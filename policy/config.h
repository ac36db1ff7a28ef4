// Model configuration with the field names of Hugging Face's config.json, so a real config reads
// and writes one to one. Two families share one struct and one code path (policy/model.cpp), the
// attention variant chosen by the family:
// - DeepSeek (model_type deepseek_v2, deepseek_v3): Multi-head Latent Attention, DeepSeekMoE
//   (shared + routed experts; softmax or sigmoid router with group-limited selection), interleaved
//   rope on qk_rope_head_dim dims (policy/deepseek.cpp).
// - Qwen (qwen2, qwen3, qwen3_moe): grouped-query attention over head_dim, QK-norm (qwen3*),
//   q/k/v biases (qwen2, or attention_bias), rotate-half rope on all head dims, softmax top-k
//   routing without shared experts; dense when num_experts is 0 (policy/qwen.cpp).
// Invariants after config_validate(): every dimension is positive where the family needs it,
// NH % NKV == 0 (MLA: NKV == NH), E % n_group == 0, K <= E. Fields that would change the math and
// that aha does not implement (a rope scaling type, sliding windows, another activation, ...)
// are refused by config_from_json with a message naming them, never silently ignored.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/rope.h"

namespace aha {

enum class Family { kDeepSeek, kQwen };

struct ModelConfig {
  std::string model_type = "deepseek_v3";  // deepseek_v2 | deepseek_v3 | qwen2 | qwen3 | qwen3_moe
  int vocab_size = 0;                      // V
  int hidden_size = 0;                     // C
  int num_hidden_layers = 0;               // L
  int num_attention_heads = 0;             // NH
  int num_key_value_heads = 0;             // NKV (MLA: equals NH)
  // MLA (DeepSeek)
  int q_lora_rank = 0;       // QR; 0 = plain q_proj
  int kv_lora_rank = 0;      // R
  int qk_nope_head_dim = 0;  // DN
  int qk_rope_head_dim = 0;  // DR
  int v_head_dim = 0;        // DV
  // GQA (Qwen)
  int head_dim = 0;             // HD (0 in a config.json: hidden_size / num_attention_heads)
  bool qk_norm = false;         // RMSNorm over each q and k head before rope (qwen3, qwen3_moe)
  bool qkv_bias = false;        // q_proj/k_proj/v_proj have biases (qwen2; attention_bias)
  bool o_bias = false;          // o_proj has a bias (qwen3 attention_bias)
  int decoder_sparse_step = 1;  // qwen3_moe: layer l is MoE when (l + 1) % step == 0 ...
  std::vector<int> mlp_only_layers;  // ... and l is not listed here
  // FFN and MoE
  int intermediate_size = 0;      // FF, dense layers
  int moe_intermediate_size = 0;  // H, each expert
  int n_routed_experts = 0;       // E (0: every layer dense); Qwen's num_experts
  int n_shared_experts = 0;
  int num_experts_per_tok = 0;    // K
  int first_k_dense_replace = 0;  // DeepSeek: layers [0, this) are dense
  int moe_layer_freq = 1;
  int n_group = 1;
  int topk_group = 1;
  std::string scoring_func = "sigmoid";  // sigmoid (V3) | softmax (V2, Qwen)
  std::string topk_method = "noaux_tc";  // noaux_tc | greedy | group_limited_greedy
  bool norm_topk_prob = true;
  double routed_scaling_factor = 1.0;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;     // rope_scaling (type none, linear or yarn)
  bool rope_interleave = true;  // DeepSeek: rotate pairs (2i, 2i+1); Qwen: rotate_half
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  int max_position_embeddings = 4096;
  int bos_token_id = -1;
  int eos_token_id = -1;
  int num_nextn_predict_layers = 0;  // DeepSeek-V3's MTP layers: in the checkpoint, not loaded
  // Passed through from config.json to the saved one (quantization_config is dropped: aha saves
  // dequantised weights).
  nlohmann::json extra = nlohmann::json::object();
};

inline Family cfg_family(const ModelConfig& c) {
  return c.model_type.rfind("qwen", 0) == 0 ? Family::kQwen : Family::kDeepSeek;
}
inline bool cfg_is_mla(const ModelConfig& c) {
  return cfg_family(c) == Family::kDeepSeek;
}
// Query/key width per head: DN + DR (MLA) or HD (GQA); value width DV or HD.
inline int cfg_qk_head_dim(const ModelConfig& c) {
  return cfg_is_mla(c) ? c.qk_nope_head_dim + c.qk_rope_head_dim : c.head_dim;
}
inline int cfg_v_head_dim(const ModelConfig& c) {
  return cfg_is_mla(c) ? c.v_head_dim : c.head_dim;
}
// Dims rope rotates per head: DR (MLA) or HD (GQA).
inline int cfg_rope_dim(const ModelConfig& c) {
  return cfg_is_mla(c) ? c.qk_rope_head_dim : c.head_dim;
}
bool cfg_layer_is_moe(const ModelConfig& c, int l);
int cfg_num_moe_layers(const ModelConfig& c);

// Throws std::runtime_error naming `where` (a file path) and the field on any problem.
ModelConfig config_from_json(const nlohmann::json& j, const std::string& where);
// The family's own config.json fields (architectures, model_type, Qwen's num_experts, ...).
nlohmann::json config_to_json(const ModelConfig& c);
ModelConfig config_load(const std::string& path);
void config_save(const ModelConfig& c, const std::string& path);
void config_validate(const ModelConfig& c, const std::string& where);

// The built-in tiny configuration (the default run's model).
ModelConfig config_tiny();

}  // namespace aha
