// Log-probabilities of target tokens under softmax(logits * inv_temp), the quantity both the
// sampler and the learner compute (the same function, so they agree bit for bit on the CPU).
// A target < 0 marks a position with no target: its logp is 0 and it gets no gradient (lse and
// entropy are still those of its full distribution).
#pragma once

namespace aha {

// logp[N], lse[N] (log-sum-exp of the scaled logits), entropy[N] (may be null);
// logits[N,V]; targets[N]
void logprob_forward(float* logp, float* lse, float* entropy, const float* logits,
                     const int* targets, int N, int V, float inv_temp);
// dlogits[N,V] = dlogp[n] * d logp[n] / d logits[n,:] = dlogp * inv_temp * (onehot - softmax),
// written, not accumulated (no zero-fill needed; rows without a target get zeros). The exps are
// vectorised (kernels/vec.h: within 2 ulp), the forward's sums kept in double.
void logprob_backward(float* dlogits, const float* dlogp, const float* logits, const float* lse,
                      const int* targets, int N, int V, float inv_temp);
// Columns [v0, v0 + vc) of logprob_backward's dlogits, into dlogits_cols[N, vc]: the same values
// bit for bit (each is elementwise), so a head's backward can walk the vocabulary in chunks
// that stay in cache instead of writing and reading back all of [N, V].
void logprob_backward_cols(float* dlogits_cols, const float* dlogp, const float* logits,
                           const float* lse, const int* targets, int N, int V, int v0, int vc,
                           float inv_temp);
// The language-model loss: mean of -logp[n] over positions with targets[n] >= 0 (0 if none).
float logprob_mean_nll(const float* logp, const int* targets, int N);

}  // namespace aha
