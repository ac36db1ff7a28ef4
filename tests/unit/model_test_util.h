// Models for the unit tests, built from a config with seeded random weights, and config pieces.
#pragma once
#include <algorithm>
#include <cstdint>

#include "policy/model.h"

namespace aha::test {

// A model of config c with model_init's random weights from seed.
inline Model random_model(const ModelConfig& c, uint64_t seed) {
  Model m;
  model_build(m, c);
  model_init(m, seed);
  return m;
}

// The same with every weight scaled by `scale` (sharper logits than the 0.02 init, so that samples
// differ and errors show), then the 1-D tensors set to 1 (trainable: norm weights) or 0 (the
// router's bias).
inline Model sharp_model(const ModelConfig& c, uint64_t seed, float scale) {
  Model m = random_model(c, seed);
  for (float& p : m.params) p *= scale;
  for (const TensorSpec& s : m.specs)
    if (s.shape.size() == 1)
      std::fill(m.params.begin() + s.offset, m.params.begin() + s.offset + s.numel,
                s.trainable ? 1.0f : 0.0f);
  return m;
}

// Three packed sequences (7, 4 and 5 tokens, ids < 19) with loss from 0, 1 and 2.
inline Batch micro_batch() {
  Batch b;
  batch_add_sequence(b, {1, 5, 7, 2, 9, 11, 3}, 0);
  batch_add_sequence(b, {4, 4, 18, 0}, 1);
  batch_add_sequence(b, {6, 13, 12, 8, 15}, 2);
  return b;
}

// YaRN scaling by `factor` of a model pretrained on `original` positions (mscale fields 0: absent).
inline RopeScaling yarn(double factor, int original, double mscale = 0.0,
                        double mscale_all_dim = 0.0) {
  RopeScaling s;
  s.type = RopeType::kYarn;
  s.factor = factor;
  s.original_max_position_embeddings = original;
  s.mscale = mscale;
  s.mscale_all_dim = mscale_all_dim;
  return s;
}

}  // namespace aha::test
