// Hugging Face model directories: tensors by name across `model.safetensors` or the shards listed
// in `model.safetensors.index.json` ({"metadata": {...}, "weight_map": {tensor: shard file}}).
//
// Invariants:
// - hf_open memory-maps every shard (read-only, validated by st_open) and builds one name -> tensor
//   map; a shard named in the index that is missing, a tensor the index places in a shard that does
//   not hold it, or a name present in two shards is an error naming the directory, shard and
//   tensor.
// - hf_load_f32 converts straight from the mapping into the caller's float buffer: the model is
//   never held twice in memory. FP8 (F8_E4M3) weights are dequantised with their companion tensor
//   `<name>_scale_inv` (F32, shape [ceil(rows/B0), ceil(cols/B1)], block B0 x B1 = 128 x 128 unless
//   config.json's quantization_config.weight_block_size says otherwise):
//   w[r][c] = fp8(q[r][c]) * scale_inv[r / B0][c / B1] (DeepSeek-V3's weight_dequant convention).
// - hf_save writes `model.safetensors` when everything fits in max_shard_bytes, else HF-named
//   shards model-00001-of-0000N.safetensors plus the index (written last, atomically); a stale
//   index or single file of the other layout is removed so hf_open never sees two layouts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policy/safetensors.h"

namespace aha {

struct HfEntry {
  const StTensor* tensor = nullptr;  // points into shards[shard_idx]
  size_t shard_idx = 0;
};

struct HfCheckpoint {
  std::string dir;
  std::vector<StFile> shards;              // move-only; the mappings live as long as this
  std::map<std::string, HfEntry> tensors;  // every tensor of every shard, by name
  std::map<std::string, std::string> index_metadata;   // the index's "metadata" (values as text)
  int64_t fp8_block_rows = 128, fp8_block_cols = 128;  // from config.json if it says so
};

// Opens dir (see the invariants). Throws std::runtime_error naming dir / shard / tensor.
HfCheckpoint hf_open(const std::string& dir);
const StTensor* hf_find(const HfCheckpoint& ck, const std::string& name);  // nullptr if absent
// Path of the shard holding name ("" if absent), for messages.
std::string hf_file_of(const HfCheckpoint& ck, const std::string& name);
// Names sorted, without the FP8 scale companions (`*_scale_inv` next to an F8 tensor).
std::vector<std::string> hf_tensor_names(const HfCheckpoint& ck);

// Loads tensor name as float32 into out[numel(expected_shape)], checking its shape; handles F32,
// BF16, F16 and block-scaled F8_E4M3. Errors name the file, tensor and both shapes, or the tensor
// and directory when it is missing.
void hf_load_f32(const HfCheckpoint& ck, const std::string& name,
                 const std::vector<int64_t>& expected_shape, float* out);

// Writes the tensors into dir (created if needed) in HF layout. F32 sources are converted to dtype
// ("F32", "BF16" or "F16") on the fly, except `*_scale_inv` tensors which stay F32; sources of
// other dtypes are written as they are. max_shard_bytes bounds each shard's data (a single tensor
// larger than it gets a shard of its own). Every shard carries __metadata__ {"format": "pt"}, which
// transformers expects.
void hf_save(const std::string& dir, const std::vector<StWriteTensor>& tensors,
             size_t max_shard_bytes, const std::string& dtype);

// FP8 block quantisation, for writing DeepSeek-V3-style test checkpoints: w[rows x cols] ->
// q[rows x cols] (E4M3 codes) and scale_inv[ceil(rows/br) x ceil(cols/bc)] = amax(block) / 448
// (1 for an all-zero block), so that e4m3_to_f32(q) * scale_inv approximates w.
void fp8_quantize_blocks(const float* w, int64_t rows, int64_t cols, int64_t br, int64_t bc,
                         uint8_t* q, float* scale_inv);

}  // namespace aha
