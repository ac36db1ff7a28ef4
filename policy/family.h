// Internal to policy/: what each model family provides to the shared code in model.cpp,
// decode.cpp and config.cpp. One file per family, in the llama.cpp way:
// - policy/deepseek.cpp: config fields and Multi-head Latent Attention (forward, backward, the
//   latent cache and the absorbed decode), as kMlaOps.
// - policy/qwen.cpp: config fields and grouped-query attention with QK-norm and biases, as
//   kGqaOps.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "policy/decode.h"
#include "policy/model.h"

namespace aha {

[[noreturn]] inline void config_fail(const std::string& where, const std::string& msg) {
  throw std::runtime_error(where + ": " + msg);
}

// A JSON number as T, refusing what does not fit: nlohmann's get<int>() converts 1e20, 2.5 or
// 2^32 + 1 with a plain cast (undefined or wrapped) and get<float>() turns 1e400 into inf.
template <typename T>
bool config_number(const nlohmann::json& v, T& out) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    const double lo = static_cast<double>(std::numeric_limits<T>::min());
    const double hi = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;  // exclusive
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
      out = static_cast<T>(u);
    } else if (v.is_number_integer()) {
      const int64_t i = v.get<int64_t>();
      if (i < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (i > 0 &&
           static_cast<uint64_t>(i) > static_cast<uint64_t>(std::numeric_limits<T>::max())))
        return false;
      out = static_cast<T>(i);
    } else if (v.is_number_float()) {  // 4096.0 is an integer; 2.5 is not
      const double d = v.get<double>();
      if (!(d >= lo && d < hi) || d != std::trunc(d)) return false;
      out = static_cast<T>(d);
    } else {
      return false;
    }
    return true;
  } else {
    static_assert(std::is_floating_point_v<T>);
    if (!v.is_number()) return false;
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max()))
      return false;
    out = static_cast<T>(d);
    return true;
  }
}

// Reads j[key] into out when present and not null; a wrong type or a number out of T's range is
// an error naming the field.
template <typename T>
void config_read(const nlohmann::json& j, const char* key, T& out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;  // keep the default
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (!config_number(*it, out))
      config_fail(where,
                  std::string("field '") + key + "' = " + it->dump() + " is not " +
                      (std::is_integral_v<T>
                           ? "an integer in [" + std::to_string(std::numeric_limits<T>::min()) +
                                 ", " + std::to_string(std::numeric_limits<T>::max()) + "]"
                           : std::string("a finite number")));
  } else if constexpr (std::is_same_v<T, std::vector<int>>) {
    if (!it->is_array())
      config_fail(where, std::string("field '") + key + "' = " + it->dump() + " is not an array");
    std::vector<int> v(it->size());
    for (size_t k = 0; k < v.size(); k++)
      if (!config_number((*it)[k], v[k]))
        config_fail(where, std::string("field '") + key + "[" + std::to_string(k) +
                               "]' = " + (*it)[k].dump() + " is not an integer");
    out = std::move(v);
  } else {
    try {
      out = it->get<T>();
    } catch (const std::exception&) {
      config_fail(where, std::string("field '") + key + "' has the wrong type: " + it->dump());
    }
  }
}

// Per family: fields of config.json beyond the shared ones, validation and the fields written
// back (the shared ones are written by config_to_json).
void deepseek_config_read(const nlohmann::json& j, ModelConfig& c, const std::string& where);
void deepseek_config_validate(const ModelConfig& c, const std::string& where);
void deepseek_config_write(const ModelConfig& c, nlohmann::json& j);
void qwen_config_read(const nlohmann::json& j, ModelConfig& c, const std::string& where);
void qwen_config_validate(const ModelConfig& c, const std::string& where);
void qwen_config_write(const ModelConfig& c, nlohmann::json& j);

// Appends a tensor to m's table at the next offset (params are allocated after the table).
void model_add_spec(Model& m, const std::string& name, std::vector<int64_t> shape,
                    bool trainable = true);

// The attention of a family as a table of plain functions, so that model.cpp and decode.cpp
// hold no family branches and every function runs wherever m.ctx says (the kernels it calls
// take the Ctx). Each works on the layer's rmsnorm'd input la.ln1 (computed by the caller) and
// keeps what its backward needs in LayerActs.
struct AttentionOps {
  const char* name;  // "mla" or "gqa"
  // Attention tensors of layer l under prefix pre ("model.layers.L."), in Model's table.
  void (*add_specs)(Model& m, const std::string& pre);
  // Softmax scale of the attention scores (DeepSeek's YaRN multiplies it by mscale^2).
  float (*softmax_scale)(const ModelConfig& c);
  // Floats one token's cache row takes per layer.
  int (*cache_row_width)(const ModelConfig& c);
  // The LayerActs views the attention uses, for N tokens; its backward scratch in GradScratch.
  void (*plan_acts)(const ModelConfig& c, LayerActs& la, ArenaPlan& p, int N);
  void (*plan_grads)(const ModelConfig& c, GradScratch& g, ArenaPlan& p, int N);
  // From la.ln1 [N, C]: the projections the attention needs, rope applied (and, for MLA, the
  // normalised latent). Shared by the learner's forward and the decode path.
  void (*inputs)(const Model& m, int l, LayerActs& la, const int* positions, int N);
  // Full causal attention over a packed batch: out[N, C] = o_proj(attention) (overwritten).
  void (*forward)(const Model& m, int l, LayerActs& la, const int* seq_start, int B, int N,
                  float* out);
  // Backward from dout[N, C]; parameter gradients += into m.g.layers[l]; dln[N, C] += the
  // gradient wrt la.ln1. Scratch from g (plan_grads).
  void (*backward)(Model& m, int l, LayerActs& la, GradScratch& g, const int* positions,
                   const int* seq_start, int B, int N, const float* dout, float* dln);
  // Cache rows of N tokens from the inputs in la (row n of token n goes to rows[n]).
  void (*cache_write)(const Model& m, KvCache& cache, int l, const LayerActs& la, const int* rows,
                      int N);
  // Decode attention of B single-token rows against their pages of the cache (decode_step's
  // page_indptr, page_ids, seq_lens): out[B, C] = o_proj(attention).
  void (*decode)(const Model& m, int l, const LayerActs& la, DecodeScratch& s, KvCache& cache,
                 const int* page_indptr, const int* page_ids, const int* seq_lens, int B,
                 float* out);
  // The decode scratch the attention uses for B rows.
  void (*plan_decode)(const ModelConfig& c, DecodeScratch& s, ArenaPlan& p, int B);
  // Before a decode step's layers, from host copies of its page_indptr[B+1] and seq_lens[B]: the
  // schedule CUDA's MLA decode needs per batch composition (nothing on the CPU, nothing for GQA).
  // Returns whether the step's attention launches may be replayed from a CUDA graph for another
  // composition of the same B, with *key what the graph bakes in (decode_attention_plan).
  bool (*decode_plan)(const Model& m, const int* page_indptr_host, const int* seq_lens_host, int B,
                      DecodeLaunchKey* key);
};

extern const AttentionOps kMlaOps;  // policy/deepseek.cpp
extern const AttentionOps kGqaOps;  // policy/qwen.cpp
inline const AttentionOps& attention_ops(const ModelConfig& c) {
  return cfg_family(c) == Family::kDeepSeek ? kMlaOps : kGqaOps;
}

}  // namespace aha
