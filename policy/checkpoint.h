// Model directories in the Hugging Face layout: config.json + model.safetensors (or shards with
// model.safetensors.index.json), tensor names identical to the family's HF checkpoints, so a real
// checkpoint maps one to one. Loading checks every tensor's shape against the config and names the
// file and tensor on any mismatch, and refuses a checkpoint holding weights the config does not
// describe (except DeepSeek-V3's multi-token-prediction layers); saving is atomic per file
// (temporary file, then rename) and writes config.json in the family's own field names.
#pragma once
#include <string>
#include <vector>

#include "policy/model.h"

namespace aha {

// dtype: "F32" (bit-exact round trip), "BF16" or "F16"; max_shard_bytes 0 = one file.
void model_save(const Model& m, const std::string& dir, const std::string& dtype = "F32",
                size_t max_shard_bytes = 0);
// Builds m from dir/config.json and loads every tensor (F32, BF16, F16, FP8 with block scales).
void model_load(Model& m, const std::string& dir);

struct HfCheckpoint;
// Checkpoint tensors that m's table lacks (the tolerated ones left out), and the check that
// throws naming them, or a tensor of the table missing from the checkpoint or of another shape.
// m may be a table only (model_build_table): model_load checks before allocating.
std::vector<std::string> model_unused_tensors(const Model& m, const HfCheckpoint& ck);
void model_check_tensors(const Model& m, const HfCheckpoint& ck);

}  // namespace aha
