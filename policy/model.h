// The policy as a flat program (llm.c style): one parameter buffer, one gradient buffer with the
// same layout, named tensors mapping one to one onto the HF names of the model's family
// (DeepSeek-V2/V3: MLA + DeepSeekMoE; Qwen2/Qwen3/Qwen3-MoE: GQA + QK-norm, see config.h), and
// activations sized for a packed batch of N tokens. Embedding, norms, dense FFN, MoE and logits
// are shared; the attention of each family lives in its own file (policy/family.h).
//
// Invariants:
// - params and grads have num_params floats; TensorSpec offsets index both.
// - Routed expert e's weights sit contiguously at spec.offset + e * (rows * cols) for each of
//   gate/up/down, so an expert's matrices are plain [rows, cols] row-major blocks.
// - e_score_correction_bias is stored with the parameters but is not trainable (updated by the
//   aux-loss-free balancing rule, never by the optimizer).
// - A packed batch holds B sequences end to end; positions restart at each sequence's start unless
//   given. A target < 0 means "no target" (logp 0, no gradient).
// - model_forward keeps everything model_backward needs in Acts; model_backward ACCUMULATES into
//   grads (zero them with model_zero_grads between steps).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/moe.h"
#include "policy/config.h"

namespace aha {

struct TensorSpec {
  std::string name;            // HF name, e.g. model.layers.0.self_attn.kv_b_proj.weight
  std::vector<int64_t> shape;  // HF shape
  long offset = 0;             // into params / grads
  long numel = 0;
  bool trainable = true;
};

// Pointers into a flat buffer (weights or gradients share the layout). Null when absent.
struct LayerParams {
  float* input_layernorm = nullptr;           // [C]
  float* q_proj = nullptr;                    // [NH*DQK, C]   (MLA with q_lora_rank 0, GQA)
  float* q_bias = nullptr;                    // [NH*HD]       GQA with qkv_bias
  float* k_proj = nullptr;                    // [NKV*HD, C]   GQA
  float* k_bias = nullptr;                    // [NKV*HD]
  float* v_proj = nullptr;                    // [NKV*HD, C]
  float* v_bias = nullptr;                    // [NKV*HD]
  float* q_norm = nullptr;                    // [HD]          GQA with qk_norm
  float* k_norm = nullptr;                    // [HD]
  float* o_bias = nullptr;                    // [C]           GQA with o_bias
  float* q_a_proj = nullptr;                  // [QR, C]
  float* q_a_layernorm = nullptr;             // [QR]
  float* q_b_proj = nullptr;                  // [NH*DQK, QR]
  float* kv_a_proj_with_mqa = nullptr;        // [R+DR, C]
  float* kv_a_layernorm = nullptr;            // [R]
  float* kv_b_proj = nullptr;                 // [NH*(DN+DV), R]
  float* o_proj = nullptr;                    // [C, NH*DV]    (GQA: [C, NH*HD])
  float* post_attention_layernorm = nullptr;  // [C]
  float* gate_proj = nullptr;                 // [FF, C]  dense FFN
  float* up_proj = nullptr;                   // [FF, C]
  float* down_proj = nullptr;                 // [C, FF]
  float* router = nullptr;                    // [E, C]   mlp.gate.weight
  float* router_bias = nullptr;               // [E]      e_score_correction_bias (V3)
  float* experts_gate = nullptr;              // [E][H, C]
  float* experts_up = nullptr;                // [E][H, C]
  float* experts_down = nullptr;              // [E][C, H]
  float* shared_gate = nullptr;               // [SH, C]  SH = n_shared_experts * H
  float* shared_up = nullptr;                 // [SH, C]
  float* shared_down = nullptr;               // [C, SH]
};

struct ParamPtrs {
  float* embed = nullptr;  // [V, C]
  std::vector<LayerParams> layers;
  float* norm = nullptr;     // [C]
  float* lm_head = nullptr;  // [V, C] (aliases embed when tie_word_embeddings)
};

struct Model {
  ModelConfig cfg;
  std::vector<TensorSpec> specs;
  long num_params = 0;
  std::vector<float> params;  // [num_params]
  std::vector<float> grads;   // [num_params] once model_alloc_grads ran
  ParamPtrs w;                // views into params
  ParamPtrs g;                // views into grads
  uint64_t version = 0;       // weight version (bumped by the learner after each update)
  // Derived from the config by model_build: rope frequencies and magnitude, softmax scale.
  std::vector<double> rope_inv_freq;  // [rope dims / 2]
  float rope_attn_factor = 1.0f;
  float attn_scale = 1.0f;
};

// Per-layer activations kept for the backward pass. N tokens, sizes in comments.
struct LayerActs {
  std::vector<float> res_in;    // [N, C] layer input (residual stream)
  std::vector<float> ln1;       // [N, C]
  std::vector<float> ln1_rstd;  // [N]
  std::vector<float> q_a;       // [N, QR]
  std::vector<float> q_a_ln;    // [N, QR]
  std::vector<float> q_a_rstd;  // [N]
  std::vector<float> q;         // [N, NH, DQK] (rope applied; GQA: normed, [N, NH, HD])
  std::vector<float> q_raw;     // [N, NH*HD]  GQA: projection (+ bias) before QK-norm
  std::vector<float> q_rstd;    // [N*NH]
  std::vector<float> k_raw;     // [N, NKV*HD]
  std::vector<float> k_rstd;    // [N*NKV]
  std::vector<float> kv_a;      // [N, R+DR] (k_rope part rope applied)
  std::vector<float> ckv;       // [N, R] normalised latent
  std::vector<float> ckv_rstd;  // [N]
  std::vector<float> kv;        // [N, NH*(DN+DV)]
  std::vector<float> k;         // [N, NH, DQK] (GQA: [N, NKV, HD], normed, rope applied)
  std::vector<float> v;         // [N, NH, DV]  (GQA: [N, NKV, HD])
  std::vector<float> att;       // [N, NH, DV]
  std::vector<float> lse;       // [N, NH]
  std::vector<float> res_mid;   // [N, C] after attention
  std::vector<float> ln2;       // [N, C]
  std::vector<float> ln2_rstd;  // [N]
  // dense FFN or shared experts
  std::vector<float> ff_gate;  // [N, FF or SH]
  std::vector<float> ff_up;    // [N, FF or SH]
  std::vector<float> ff_act;   // [N, FF or SH]
  // routed experts (M = N*K dispatched rows)
  std::vector<float> router_logits;  // [N, E]
  std::vector<float> scores;         // [N, E]
  std::vector<int> topk_idx;         // [N, K]
  std::vector<float> topk_weights;   // [N, K]
  std::vector<int> expert_offsets;   // [E+1]
  std::vector<int> row_token;        // [M]
  std::vector<int> row_slot;         // [M]
  std::vector<float> xe;             // [M, C]
  std::vector<float> he_gate;        // [M, H]
  std::vector<float> he_up;          // [M, H]
  std::vector<float> he_act;         // [M, H]
  std::vector<float> ye;             // [M, C]
};

struct Acts {
  int N = 0;
  std::vector<LayerActs> layers;
  std::vector<int> positions;                  // [N]
  std::vector<float> res_final;                // [N, C]
  std::vector<float> lnf;                      // [N, C]
  std::vector<float> lnf_rstd;                 // [N]
  std::vector<float> logits;                   // [N, V]
  std::vector<float> lse;                      // [N]
  std::vector<float> logp;                     // [N]
  std::vector<float> entropy;                  // [N]
  std::vector<std::vector<long>> expert_load;  // [L][E] tokens routed per expert, last forward
  double balance_loss = 0;                     // the sequence-wise balance loss (if alpha > 0)
};

// A packed batch: B sequences laid end to end.
struct Batch {
  std::vector<int> tokens;     // [N]
  std::vector<int> targets;    // [N], < 0 = no target
  std::vector<int> seq_start;  // [B+1]
  std::vector<int> positions;  // [N] optional; empty = restart at each sequence
};

// Appends one sequence; targets are the next tokens, the last position gets none unless
// loss_mask says otherwise. loss_from: first position whose next token is scored.
void batch_add_sequence(Batch& b, const std::vector<int>& ids, int loss_from);
inline int batch_num_tokens(const Batch& b) {
  return static_cast<int>(b.tokens.size());
}
inline int batch_num_seqs(const Batch& b) {
  return static_cast<int>(b.seq_start.size()) - 1;
}

struct ForwardOptions {
  float inv_temp = 1.0f;                 // logp under softmax(logits * inv_temp)
  const int* replay_topk_idx = nullptr;  // [num_moe_layers][N, K] routing replay, or null
  bool need_entropy = false;
  bool need_logits = true;  // false: stop after the final norm (prefill)
  // DeepSeek-V3's sequence-wise balance loss, alpha * sum_i f_i P_i per sequence and MoE layer,
  // averaged over sequences (0 = off). model_backward adds its gradient to the router's.
  float balance_alpha = 0.0f;
};

// Builds the tensor table and allocates params (zeros). Validates the config.
void model_build(Model& m, const ModelConfig& cfg);
// The tensor table and derived values only, no parameter memory (params stay empty): for
// counting and checking a checkpoint too large to load.
void model_build_table(Model& m, const ModelConfig& cfg);
// Deterministic random init: N(0, 0.02) matrices (output projections scaled by 1/sqrt(2L)),
// ones for norms, zeros for the router bias.
void model_init(Model& m, uint64_t seed);
void model_alloc_grads(Model& m);
void model_zero_grads(Model& m);
// Total parameter count and the count active per token (shared + K routed experts).
long model_num_params(const Model& m);
long model_num_active_params(const Model& m);
const TensorSpec* model_find_tensor(const Model& m, const std::string& name);
RouterParams model_router_params(const ModelConfig& c);

// Forward over a packed batch. Returns the mean of -logp over positions with a target
// (the language-model loss); per-token logp in acts.logp.
float model_forward(Model& m, Acts& acts, const Batch& batch, const ForwardOptions& opt);
// Backward from dlogp[N] (the gradient of the caller's loss wrt each token's logp).
void model_backward(Model& m, Acts& acts, const Batch& batch, const float* dlogp,
                    const ForwardOptions& opt);

// Shared by model_forward and the decode path (policy/decode.h): ln1 and the attention's inputs
// for N tokens (MLA: q, kv_a with rope applied and the normalised latent ckv; GQA: q, k, v).
void layer_attn_inputs(const Model& m, int l, LayerActs& la, const float* x, const int* positions,
                       int N);
// x[N, C] += FFN(rmsnorm(x)) of layer l, dense or MoE; tmp[N, C] scratch. replay_topk_idx [N, K]
// or null; expert_load[E] += routed token counts (may be null for dense layers).
void layer_ffn_forward(const Model& m, int l, LayerActs& la, float* x, float* tmp, int N,
                       const int* replay_topk_idx, long* expert_load);

// Sequence-wise balance loss of one MoE layer over a packed batch and, when dlogits is not null,
// its gradient added into dlogits[N, E]. scores/topk_idx as the router produced them.
double moe_balance_loss(const float* scores, const int* topk_idx, const int* seq_start, int B,
                        const RouterParams& p, float alpha, float* dlogits);

// Approximate FLOPs of one forward over N tokens of mean context T (matmuls + attention).
double model_forward_flops(const Model& m, int N, double mean_ctx);

}  // namespace aha
