// Model directories in the Hugging Face layout: config.json + model.safetensors (or shards with
// model.safetensors.index.json), tensor names identical to HF DeepSeek-V3, so a real checkpoint
// maps one to one. Loading checks every tensor's shape against the config and names the file and
// tensor on any mismatch; saving is atomic per file (temporary file, then rename).
#pragma once
#include <string>

#include "policy/model.h"

namespace aha {

// dtype: "F32" (bit-exact round trip), "BF16" or "F16"; max_shard_bytes 0 = one file.
void model_save(const Model& m, const std::string& dir, const std::string& dtype = "F32",
                size_t max_shard_bytes = 0);
// Builds m from dir/config.json and loads every tensor (F32, BF16, F16, FP8 with block scales).
void model_load(Model& m, const std::string& dir);

}  // namespace aha
