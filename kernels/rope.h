// Rotary position embedding applied in place to D rope dims of H vectors per token.
// x points at the first rope dim of head 0 of token 0; token n head h starts at
// x + n*token_stride + h*head_stride. interleaved=true rotates pairs (2i, 2i+1) (DeepSeek's layout
// in HF weights); false rotates (i, i+D/2) (Llama/Qwen "rotate_half"). Frequency of pair i is
// theta^(-2i/D). Backward rotates by the opposite angle: the rotation is orthogonal.
#pragma once

namespace aha {

// x[N, ...] in place; positions[N]
void rope_forward(float* x, const int* positions, int N, int H, int token_stride, int head_stride,
                  int D, float theta, bool interleaved);
// dx[N, ...] in place: dx <- Rᵀ dx
void rope_backward(float* dx, const int* positions, int N, int H, int token_stride, int head_stride,
                   int D, float theta, bool interleaved);

}  // namespace aha
