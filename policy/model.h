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
// - Recomputation (ForwardOptions::recompute, acts_reserve's recompute): Acts keeps each layer's
//   input (res_in) and ONE LayerActs laid out for the widest layer; model_backward re-runs layer
//   l's forward (layer_forward, the forward's own code, with the same routing replay) into it
//   before l's backward. Expert loads and the balance loss are counted by the forward only, and
//   the forward is deterministic, so losses and gradients are bit-identical to a run without.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/moe.h"
#include "kernels/ops.h"
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

struct AttentionOps;  // the family's attention (policy/family.h)

// Not copyable: w and g point into params and grads (moving keeps them valid, the storage does
// not move). Copy weights with params.copy_from.
struct Model {
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  ModelConfig cfg;
  Ctx ctx;             // where params, grads and activations live; the kernels' stream
  CtxOwner ctx_owner;  // releases a CUDA ctx with the model
  const AttentionOps* attn = nullptr;  // the family's attention, set by model_build_table
  std::vector<TensorSpec> specs;
  long num_params = 0;
  Buffer<float> params;  // [num_params]
  Buffer<float> grads;   // [num_params] once model_alloc_grads ran
  ParamPtrs w;           // views into params
  ParamPtrs g;           // views into grads
  uint64_t version = 0;  // weight version (bumped by the learner after each update)
  // Derived from the config by model_build: rope frequencies and magnitude, softmax scale.
  Buffer<double> rope_inv_freq;  // [rope dims / 2], on ctx's device
  float rope_attn_factor = 1.0f;
  float attn_scale = 1.0f;
};

// Per-layer activations kept for the backward pass, views into the layer's arena, laid out for N
// tokens by layer_acts_reserve (fields a layer does not use are empty). Sizes in comments. The
// layer's input is Acts::res_in: it is what a recomputation starts from.
struct LayerActs {
  Arena arena;
  int N = 0;             // tokens the views are laid out for
  View<float> ln1;       // [N, C]
  View<float> ln1_rstd;  // [N]
  View<float> q_a;       // [N, QR]
  View<float> q_a_ln;    // [N, QR]
  View<float> q_a_rstd;  // [N]
  View<float> q;         // [N, NH, DQK] (rope applied; GQA: normed, [N, NH, HD])
  View<float> q_raw;     // [N, NH*HD]  GQA: projection (+ bias) before QK-norm
  View<float> q_rstd;    // [N*NH]
  View<float> k_raw;     // [N, NKV*HD]
  View<float> k_rstd;    // [N*NKV]
  View<float> kv_a;      // [N, R+DR] (k_rope part rope applied)
  View<float> ckv_raw;   // [N, R] the latent before its norm (kv_a's first R, contiguous)
  View<float> ckv;       // [N, R] normalised latent
  View<float> ckv_rstd;  // [N]
  View<float> kv;        // [N, NH*(DN+DV)]
  View<float> k;         // [N, NH, DQK] (GQA: [N, NKV, HD], normed, rope applied)
  View<float> v;         // [N, NH, DV]  (GQA: [N, NKV, HD])
  View<float> att;       // [N, NH, DV]
  View<float> lse;       // [N, NH]
  View<float> res_mid;   // [N, C] after attention
  View<float> ln2;       // [N, C]
  View<float> ln2_rstd;  // [N]
  // dense FFN or shared experts
  View<float> ff_gate;  // [N, FF or SH]
  View<float> ff_up;    // [N, FF or SH]
  View<float> ff_act;   // [N, FF or SH]
  // routed experts (M = N*K dispatched rows)
  View<float> router_logits;  // [N, E]
  View<float> scores;         // [N, E]
  View<int> topk_idx;         // [N, K]
  View<float> topk_weights;   // [N, K]
  View<int> expert_offsets;   // [E+1]
  View<int> row_token;        // [M]
  View<int> row_slot;         // [M]
  View<int> slot_row;         // [M]  row of each slot (row_slot's inverse)
  View<float> xe;             // [M, C]
  View<float> he_gate;        // [M, H]
  View<float> he_up;          // [M, H]
  View<float> he_act;         // [M, H]
  View<float> ye;             // [M, C]
};

// Gradient scratch of model_backward for N tokens, reused by every layer (its own arena, laid out
// by the first backward or acts_reserve(..., backward = true)).
struct GradScratch {
  Arena arena;
  View<float> dlogits;     // [N, V]
  View<float> dx;          // [N, C] gradient of the residual stream
  View<float> dln;         // [N, C]
  View<float> s1, s2, s3;  // [max(N*FF, N*SH, M*H)] FFN scratch
  View<float> dye, dxe;    // [M, C]
  View<float> dtopk;       // [N, K]
  View<float> drouter;     // [N, E]
  // attention (the family's plan_grads takes what it uses)
  View<float> datt;            // [N, NH*DV]
  View<float> dq, dk, dv;      // as q, k, v
  View<float> dq_raw, dk_raw;  // GQA with QK-norm
  View<float> dkv;             // [N, NH*(DN+DV)]
  View<float> dkv_a;           // [N, R+DR]
  View<float> dckv, dckv_raw;  // [N, R]
  View<float> dq_a_ln, dq_a;   // [N, QR]
};

struct Acts {
  int N = 0;
  bool recompute = false;                      // how layers is laid out (acts_reserve)
  std::vector<LayerActs> layers;               // [L]; [1] with recompute, shared by all
  Arena arena;                                 // everything below but expert_load and grad
  View<float> res_in;                          // [L, N, C] each layer's input (residual stream)
  View<int> tokens;                            // [N]  the batch, where the model runs
  View<int> targets;                           // [N]
  View<int> seq_start;                         // [B+1]
  View<int> positions;                         // [N]
  View<float> x, tmp;                          // [N, C] residual stream and a branch output
  View<float> res_final;                       // [N, C]
  View<float> lnf;                             // [N, C]
  View<float> lnf_rstd;                        // [N]
  View<float> logits;                          // [N, V]  (empty without need_logits)
  View<float> lse;                             // [N]
  View<float> logp;                            // [N]
  View<float> entropy;                         // [N]
  std::vector<std::vector<long>> expert_load;  // [L][E] tokens routed per expert, last forward
  View<long> expert_load_dev;                  // [L, E] where the model runs (not on the CPU)
  std::vector<long> expert_load_host;          // [L * E] its one copy per forward (not on the CPU)
  View<double> balance_loss_dev;               // [1] balance_loss summed there (not on the CPU)
  double balance_loss = 0;                     // the sequence-wise balance loss (if alpha > 0)
  GradScratch grad;
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
  // Per-layer recomputation: keep only the layers' inputs and one shared LayerActs, re-run each
  // layer's forward in model_backward (about one more forward of compute). The forward and its
  // backward take the same value; acts_reserve lays Acts out for it beforehand.
  bool recompute = false;
  // CUDA: refresh the GEMMs' bf16 copy of the weights first (a cast of every parameter). The
  // decode engine, which refreshes it when its weights change, passes false.
  bool sync_weights = true;
};

// Builds the tensor table and allocates params (zeros) on device (m.ctx, a CUDA stream
// created for kCuda). Validates the config.
void model_build(Model& m, const ModelConfig& cfg, Device device = Device::kCpu);
// The tensor table and derived values only, no parameter memory (params stay empty): for
// counting and checking a checkpoint too large to load.
void model_build_table(Model& m, const ModelConfig& cfg);
// Deterministic random init: N(0, 0.02) matrices (output projections scaled by 1/sqrt(2L)),
// ones for norms, zeros for the router bias.
void model_init(Model& m, uint64_t seed);
// m's weights moved to device d (a new model there with m's config, parameters and version; a
// CUDA model's bf16 GEMM copy made). No-op when m is already there. Grads are not kept.
void model_to_device(Model& m, Device d);
void model_alloc_grads(Model& m);
void model_zero_grads(Model& m);
// A host model's params moved into page-locked memory (Buffer::alloc_host_locked), contents and
// views kept: for the host copy a CUDA learner downloads every update. Pointers into the old
// params other than m.w are stale afterwards, so call it right after model_build.
void model_lock_host_params(Model& m);
// Total parameter count and the count active per token (shared + K routed experts).
long model_num_params(const Model& m);
long model_num_active_params(const Model& m);
const TensorSpec* model_find_tensor(const Model& m, const std::string& name);
RouterParams model_router_params(const ModelConfig& c);

// Lays out acts (and, with backward, acts.grad) for batches of up to max_tokens tokens in
// max_seqs sequences, so that no step allocates. A later batch that does not fit reallocates.
// recompute: one LayerActs for the widest layer instead of one per layer (ForwardOptions).
void acts_reserve(const Model& m, Acts& acts, int max_tokens, int max_seqs, bool need_logits,
                  bool backward, bool recompute = false);
// The same for one layer's activations (N tokens).
void layer_acts_reserve(const Model& m, int l, LayerActs& la, int N);
// Bytes acts_reserve takes for these sizes (the activation arena of a memory plan): the per-layer
// sets (L of them, or the widest one with recompute) + Acts' own arena (layer inputs, head) + the
// backward's scratch.
size_t acts_bytes(const Model& m, int max_tokens, int max_seqs, bool backward,
                  bool recompute = false);
// The largest CUDA calls of a forward+backward over max_tokens tokens: bf16 GEMM operands (every
// linear layer's input and output, the experts' [N*K, C] and [N*K, H] rows) and the twins'
// workspaces. acts_reserve lays them out on a CUDA model's ctx (cuda_ctx_reserve). They are sized
// per call, not per layer, so recomputation does not change them.
CudaSizes model_cuda_sizes(const Model& m, int max_tokens);

// Device memory of a step, one allocation per line (the memory plan; Acts' arenas are
// per layer plus one, or one shared set plus one with recompute, all laid out before the first
// step).
struct MemoryPlan {
  size_t weights = 0;       // fp32 parameters [num_params] (the master weights)
  size_t weights_bf16 = 0;  // their bf16 copy, which the GEMMs read (CUDA)
  size_t operands = 0;      // bf16 GEMM operand buffers and the twins' workspace (CUDA)
  size_t grads = 0;         // fp32 gradients, same layout
  size_t adam = 0;          // AdamW m and v (with the optimizer)
  size_t activations = 0;   // acts_bytes for the largest batch, backward scratch included
  size_t total() const { return weights + weights_bf16 + operands + grads + adam + activations; }
};
// m needs its table only (model_build_table), no parameter memory.
MemoryPlan model_memory_plan(const Model& m, int max_tokens, int max_seqs, bool with_optimizer,
                             bool recompute = false);
// Throws when the plan does not fit in d's free memory, saying what it needs and what is free.
void memory_plan_check(const MemoryPlan& plan, Device d, const std::string& what);

// Forward over a packed batch. Returns the mean of -logp over positions with a target
// (the language-model loss); per-token logp in acts.logp.
float model_forward(Model& m, Acts& acts, const Batch& batch, const ForwardOptions& opt);
// Backward from dlogp[N] (the gradient of the caller's loss wrt each token's logp). With
// opt.recompute (as in its forward), each layer's forward runs again first.
void model_backward(Model& m, Acts& acts, const Batch& batch, const float* dlogp,
                    const ForwardOptions& opt);

// Shared by model_forward and the decode path (policy/decode.h): ln1 and the attention's inputs
// for N tokens (MLA: q, kv_a with rope applied and the normalised latent ckv; GQA: q, k, v).
void layer_attn_inputs(const Model& m, int l, LayerActs& la, const float* x, const int* positions,
                       int N);
// One transformer layer over a packed batch: x[N, C] += attention, then += FFN; la keeps what
// the backward needs; tmp[N, C] scratch. replay_topk_idx and expert_load as layer_ffn_forward's.
// model_forward runs it, and model_backward again with recompute.
void layer_forward(const Model& m, int l, LayerActs& la, float* x, float* tmp, const int* positions,
                   const int* seq_start, int B, int N, const int* replay_topk_idx,
                   long* expert_load);
// x[N, C] += FFN(rmsnorm(x)) of layer l, dense or MoE; tmp[N, C] scratch. replay_topk_idx [N, K]
// (host memory) or null; expert_load[E] += routed token counts, where m runs (may be null for
// dense layers).
void layer_ffn_forward(const Model& m, int l, LayerActs& la, float* x, float* tmp, int N,
                       const int* replay_topk_idx, long* expert_load);

// Approximate FLOPs of one forward over N tokens of mean context T (matmuls + attention).
double model_forward_flops(const Model& m, int N, double mean_ctx);

}  // namespace aha
