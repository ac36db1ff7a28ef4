// The tiny models and batch of the whole-model GPU tests: a DeepSeek-V3 (MLA, sigmoid noaux_tc
// router with group-limited selection, shared expert), a Qwen3-MoE (GQA with QK-norm, softmax
// router) and three packed sequences of odd lengths, one of a single token.
#pragma once
#include <vector>

#include "kernels/rng.h"
#include "policy/config_presets.h"
#include "policy/model.h"

namespace model_fixture {

using namespace aha;

inline ModelConfig tiny_deepseek_v3() {
  ModelConfig c = config_tiny();  // 2 layers (the first dense), MLA, 4 routed + 1 shared, top-2
  c.n_group = 2;                  // group-limited selection too
  c.topk_group = 1;
  return c;
}

inline ModelConfig tiny_qwen3_moe(int L) {
  // clang-format off
  return config_qwen("qwen3_moe", {.V = 67, .C = 64, .L = L, .NH = 4, .NKV = 2, .head_dim = 16,
      .FF = 96, .moe_FF = 32, .E = 8, .K = 2, .max_position_embeddings = 128});
  // clang-format on
}

inline Batch make_batch(int V) {
  Batch b;
  Rng rng{5};
  for (int len : {17, 1, 40}) {
    std::vector<int> ids(len);
    for (int& id : ids) id = static_cast<int>(rng.next_u64() % V);
    batch_add_sequence(b, ids, 0);
  }
  return b;
}

}  // namespace model_fixture
