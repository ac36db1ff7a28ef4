#include "policy/checkpoint.h"

#include <cstdint>
#include <filesystem>
#include <stdexcept>

#include "policy/hf_checkpoint.h"
#include "policy/safetensors.h"

namespace aha {

void model_save(const Model& m, const std::string& dir, const std::string& dtype,
                size_t max_shard_bytes) {
  std::filesystem::create_directories(dir);
  std::vector<StWriteTensor> tensors;
  tensors.reserve(m.specs.size());
  for (const TensorSpec& s : m.specs) {
    StWriteTensor t;
    t.name = s.name;
    t.dtype = "F32";
    t.shape = s.shape;
    t.data = m.params.data() + s.offset;
    t.nbytes = static_cast<size_t>(s.numel) * sizeof(float);
    tensors.push_back(std::move(t));
  }
  config_save(m.cfg, dir + "/config.json");
  hf_save(dir, tensors, max_shard_bytes == 0 ? SIZE_MAX : max_shard_bytes, dtype);
}

void model_load(Model& m, const std::string& dir) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error(dir + ": not a model directory");
  ModelConfig cfg = config_load(dir + "/config.json");
  model_build(m, cfg);
  HfCheckpoint ckpt = hf_open(dir);
  for (const TensorSpec& s : m.specs)
    hf_load_f32(ckpt, s.name, s.shape, m.params.data() + s.offset);
}

}  // namespace aha
