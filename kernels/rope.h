// Rotary position embedding applied in place to D rope dims of NH vectors per token.
// x points at the first rope dim of head 0 of token 0; token n head h starts at
// x + n*token_stride + h*head_stride. interleaved=true rotates pairs (2i, 2i+1) (DeepSeek's layout
// in HF weights); false rotates (i, i+D/2) (Llama/Qwen "rotate_half"). Pair i turns by
// position * inv_freq[i]; cos and sin are multiplied by attn_factor (YaRN's magnitude correction,
// 1 otherwise), so the op is attn_factor * R(position). Backward applies attn_factor * Rᵀ: the
// rotation is orthogonal.
#pragma once

namespace aha {

enum class RopeType { kNone, kLinear, kYarn };

// The config's rope_scaling (HF field names). Defaults are YaRN's paper values.
struct RopeScaling {
  RopeType type = RopeType::kNone;
  double factor = 1.0;
  int original_max_position_embeddings = 0;  // YaRN: the pretraining context
  double beta_fast = 32.0, beta_slow = 1.0;
  double mscale = 0.0, mscale_all_dim = 0.0;  // DeepSeek's YaRN magnitude fields (0 = absent)
  double attention_factor = 0.0;              // explicit YaRN attention factor (0 = derived)
  bool truncate = true;                       // round YaRN's correction range to whole dims
};

// inv_freq[D/2] for base theta under the scaling: theta^(-2i/D); linear divides by factor; YaRN
// blends interpolated (/factor) and original frequencies over a linear ramp between the dims that
// turn beta_fast and beta_slow times within original_max_position_embeddings. Returns the factor
// cos and sin are multiplied by: YaRN's attention factor (0.1 ln(factor) + 1, or the ratio of
// DeepSeek's mscale / mscale_all_dim forms), 1 for the others.
double rope_frequencies(double* inv_freq, int D, double theta, const RopeScaling& s);
// YaRN's magnitude formula: 0.1 * m * ln(scale) + 1 for scale > 1, else 1.
double rope_yarn_mscale(double scale, double m);

// x[N, ...] in place; positions[N]; inv_freq[D/2]
void rope_forward(float* x, const int* positions, int N, int NH, int token_stride, int head_stride,
                  int D, const double* inv_freq, float attn_factor, bool interleaved);
// dx[N, ...] in place: dx <- attn_factor * Rᵀ dx
void rope_backward(float* dx, const int* positions, int N, int NH, int token_stride,
                   int head_stride, int D, const double* inv_freq, float attn_factor,
                   bool interleaved);

}  // namespace aha
