// Model configs built from their sizes: one place for the shipped presets (config_tiny, and the
// 100m, 100m-qwen and 1b configs of `aha model` and `aha bench model`) and the tests' micro
// models, so that a layout rule (which layers are dense, QK-norm for Qwen3, ...) is written once.
//
// Invariants:
// - config_deepseek: Multi-head Latent Attention (q_lora_rank 0 = no query compression), layers
//   [0, first_dense) dense, the rest MoE with `shared` shared experts; scoring, top-k method and
//   the other routing fields keep ModelConfig's defaults (DeepSeek-V3's) unless the caller changes
//   them afterwards.
// - config_qwen: GQA with NH query and NKV key/value heads of head_dim dims, rotate_half rope with
//   theta 1e6, QK-norm for qwen3 and qwen3_moe, q/k/v bias for qwen2; qwen3_moe: layer 0 dense
//   (mlp_only_layers), E experts, top-K, softmax scores renormalised over the K chosen, no shared
//   expert.
#pragma once
#include <string>

#include "policy/config.h"

namespace aha {

struct DeepSeekSize {
  int V, C, L, NH;                // vocabulary, width, layers, heads
  int q_lora_rank, kv_lora_rank;  // MLA compressions
  int qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
  int FF, moe_FF;                 // dense and per-expert widths
  int E, shared, K, first_dense;  // experts, shared experts, top-k, dense layers
  int max_position_embeddings;
};

inline ModelConfig config_deepseek(const DeepSeekSize& s) {
  ModelConfig c;
  c.vocab_size = s.V;
  c.hidden_size = s.C;
  c.num_hidden_layers = s.L;
  c.num_attention_heads = s.NH;
  c.num_key_value_heads = s.NH;
  c.q_lora_rank = s.q_lora_rank;
  c.kv_lora_rank = s.kv_lora_rank;
  c.qk_nope_head_dim = s.qk_nope_head_dim;
  c.qk_rope_head_dim = s.qk_rope_head_dim;
  c.v_head_dim = s.v_head_dim;
  c.intermediate_size = s.FF;
  c.moe_intermediate_size = s.moe_FF;
  c.n_routed_experts = s.E;
  c.n_shared_experts = s.shared;
  c.num_experts_per_tok = s.K;
  c.first_k_dense_replace = s.first_dense;
  c.max_position_embeddings = s.max_position_embeddings;
  return c;
}

struct QwenSize {
  int V, C, L, NH, NKV, head_dim;  // vocabulary, width, layers, query heads, key/value heads
  int FF;                          // dense width
  int moe_FF = 0, E = 0, K = 0;    // qwen3_moe only: per-expert width, experts, top-k
  int max_position_embeddings = 128;
};

inline ModelConfig config_qwen(const std::string& model_type, const QwenSize& s) {
  ModelConfig c;
  c.model_type = model_type;
  c.vocab_size = s.V;
  c.hidden_size = s.C;
  c.num_hidden_layers = s.L;
  c.num_attention_heads = s.NH;
  c.num_key_value_heads = s.NKV;
  c.head_dim = s.head_dim;
  c.rope_interleave = false;
  c.rope_theta = 1e6;
  c.qk_norm = model_type != "qwen2";
  c.qkv_bias = model_type == "qwen2";
  c.intermediate_size = s.FF;
  c.scoring_func = "softmax";
  c.topk_method = "greedy";
  c.max_position_embeddings = s.max_position_embeddings;
  if (model_type == "qwen3_moe") {
    c.moe_intermediate_size = s.moe_FF;
    c.n_routed_experts = s.E;
    c.num_experts_per_tok = s.K;
    c.norm_topk_prob = true;
    c.mlp_only_layers = {0};
  }
  return c;
}

// The shipped benchmark presets (`aha model`, `aha bench model`, experiments/gpu/bench_model).

// The ~100M-parameter benchmark configuration (16 experts, top-2, one shared).
inline ModelConfig config_100m() {
  // clang-format off
  return config_deepseek({.V = 32000, .C = 512, .L = 8, .NH = 8, .q_lora_rank = 192,
      .kv_lora_rank = 128, .qk_nope_head_dim = 32, .qk_rope_head_dim = 16, .v_head_dim = 32,
      .FF = 1536, .moe_FF = 384, .E = 16, .shared = 1, .K = 2, .first_dense = 1,
      .max_position_embeddings = 2048});
  // clang-format on
}

// The same size in the Qwen3-MoE layout: GQA 8/2 heads of 64 dims with QK-norm, 16 experts
// top-2, no shared expert (layer 0 dense like the DeepSeek one).
inline ModelConfig config_100m_qwen() {
  // clang-format off
  return config_qwen("qwen3_moe", {.V = 32000, .C = 512, .L = 8, .NH = 8, .NKV = 2, .head_dim = 64,
      .FF = 1536, .moe_FF = 384, .E = 16, .K = 2, .max_position_embeddings = 2048});
  // clang-format on
}

// The ~1B-parameter DeepSeek-V3-style config of the GPU benchmarks: 32 experts top-4, one shared,
// MLA with DeepSeek-V3's per-head dims (latent 512 + rope 64, so decode takes FlashInfer's MLA
// kernel; nope 128, v 128): 1,071,600,384 parameters (transformers counts the same), 0.32B active.
// experiments/gpu/bench_torch.py builds these shapes in DeepseekV3ForCausalLM (keep in step).
inline ModelConfig config_1b() {
  // clang-format off
  return config_deepseek({.V = 32000, .C = 1024, .L = 18, .NH = 16, .q_lora_rank = 384,
      .kv_lora_rank = 512, .qk_nope_head_dim = 128, .qk_rope_head_dim = 64, .v_head_dim = 128,
      .FF = 2816, .moe_FF = 512, .E = 32, .shared = 1, .K = 4, .first_dense = 1,
      .max_position_embeddings = 4096});
  // clang-format on
}

}  // namespace aha
