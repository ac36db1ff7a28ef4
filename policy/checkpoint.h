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

// A model directory a command writes (aha init, sft, pretrain, convert), whole or not at all: the
// files go to a staging sibling (dir()), and commit() renames it onto `out`, so a failure or
// Ctrl-C never leaves a half-written model under that name. `out` must be new or empty; with
// `replace_model` it may also be an earlier model directory (config.json), replaced at commit.
// A file, or a directory holding anything else, is refused naming `flag` before any work.
class ModelOut {
 public:
  ModelOut(const std::string& out, const std::string& flag, bool replace_model = false);
  ~ModelOut();  // removes the staging directory unless committed
  ModelOut(const ModelOut&) = delete;
  ModelOut& operator=(const ModelOut&) = delete;
  const std::string& dir() const { return staging_; }
  void commit();

 private:
  std::string out_, staging_;
};

struct HfCheckpoint;
// Checkpoint tensors that m's table lacks (the tolerated ones left out), and the check that
// throws naming them, or a tensor of the table missing from the checkpoint or of another shape.
// m may be a table only (model_build_table): model_load checks before allocating.
std::vector<std::string> model_unused_tensors(const Model& m, const HfCheckpoint& ck);
void model_check_tensors(const Model& m, const HfCheckpoint& ck);

}  // namespace aha
