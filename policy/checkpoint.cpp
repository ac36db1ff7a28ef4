#include "policy/checkpoint.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "policy/hf_checkpoint.h"
#include "policy/safetensors.h"

namespace aha {

namespace {

// Layer index of "model.layers.N.…", or -1.
int layer_of(const std::string& name) {
  const std::string pre = "model.layers.";
  if (name.compare(0, pre.size(), pre) != 0) return -1;
  size_t end = name.find('.', pre.size());
  if (end == std::string::npos) return -1;
  try {
    return std::stoi(name.substr(pre.size(), end - pre.size()));
  } catch (const std::exception&) {
    return -1;
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ModelOut::ModelOut(const std::string& out, const std::string& flag, bool replace_model)
    : out_(out) {
  namespace fs = std::filesystem;
  if (out.empty()) throw std::runtime_error(flag + " is empty");
  const fs::file_status st = fs::symlink_status(out);
  if (fs::exists(st)) {
    if (!fs::is_directory(st))
      throw std::runtime_error(flag + " " + out + ": exists and is not a directory");
    const bool model = fs::exists(fs::path(out) / "config.json");
    if (!fs::is_empty(out) && !(replace_model && model))
      throw std::runtime_error(
          flag + " " + out + ": exists and is not empty" +
          (replace_model ? " and is not a model directory (no config.json)"
                         : " (a model directory is never overwritten: remove it or choose "
                           "another)"));
  }
  // A sibling, so the final rename stays on one file system.
  fs::path p = fs::absolute(out).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  fs::create_directories(p.parent_path());
  staging_ = (p.parent_path() / ("." + p.filename().string() + ".tmp-" +
                                 std::to_string(static_cast<long>(::getpid()))))
                 .string();
  fs::remove_all(staging_);
  fs::create_directory(staging_);
}

ModelOut::~ModelOut() {
  std::error_code ec;
  if (!staging_.empty()) std::filesystem::remove_all(staging_, ec);
}

void ModelOut::commit() {
  namespace fs = std::filesystem;
  // An empty directory or an earlier model (checked in the constructor) moves aside first.
  std::string old;
  if (fs::exists(fs::symlink_status(out_))) {
    old = staging_ + ".old";
    fs::rename(out_, old);
  }
  fs::rename(staging_, out_);
  staging_.clear();
  std::error_code ec;
  if (!old.empty()) fs::remove_all(old, ec);
}

void model_save(const Model& m, const std::string& dir, const std::string& dtype,
                size_t max_shard_bytes) {
  if (dtype != "F32" && dtype != "BF16" && dtype != "F16")
    throw std::runtime_error(dir + ": cannot save as dtype '" + dtype + "' (F32, BF16 or F16)");
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
  ModelConfig cfg = m.cfg;
  cfg.extra["torch_dtype"] = dtype == "BF16" ? "bfloat16" : dtype == "F16" ? "float16" : "float32";
  config_save(cfg, dir + "/config.json");
  hf_save(dir, tensors, max_shard_bytes == 0 ? SIZE_MAX : max_shard_bytes, dtype);
}

std::vector<std::string> model_unused_tensors(const Model& m, const HfCheckpoint& ck) {
  std::set<std::string> used;
  for (const TensorSpec& s : m.specs) used.insert(s.name);
  std::vector<std::string> out;
  for (const std::string& name : hf_tensor_names(ck)) {
    if (used.count(name)) continue;
    // Tolerated: DeepSeek-V3's multi-token-prediction layers, rope buffers some exporters keep,
    // and a tied model's copy of the embedding.
    if (m.cfg.num_nextn_predict_layers > 0 && layer_of(name) >= m.cfg.num_hidden_layers) continue;
    if (ends_with(name, "rotary_emb.inv_freq")) continue;
    if (m.cfg.tie_word_embeddings && name == "lm_head.weight") continue;
    out.push_back(name);
  }
  return out;
}

void model_check_tensors(const Model& m, const HfCheckpoint& ck) {
  std::vector<std::string> unused = model_unused_tensors(m, ck);
  if (!unused.empty()) {
    std::string list;
    for (size_t i = 0; i < unused.size() && i < 5; i++) list += (i ? ", " : "") + unused[i];
    if (unused.size() > 5) list += ", ...";
    throw std::runtime_error(ck.dir + ": " + std::to_string(unused.size()) +
                             " tensor(s) the config's model does not have (" + list +
                             "): config.json does not describe these weights");
  }
  // Checked before model_load allocates, so the checkpoint's validated bytes bound the allocation.
  for (const TensorSpec& s : m.specs) {
    const StTensor* t = hf_find(ck, s.name);
    if (!t)
      throw std::runtime_error(ck.dir + ": tensor '" + s.name +
                               "' is missing from the checkpoint (config.json describes a "
                               "different model)");
    if (t->shape != s.shape)
      throw std::runtime_error(hf_file_of(ck, s.name) + ": tensor '" + s.name + "' has shape " +
                               st_shape_str(t->shape) + ", the config needs " +
                               st_shape_str(s.shape));
  }
}

void model_load(Model& m, const std::string& dir) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error(dir + ": not a model directory");
  ModelConfig cfg = config_load(dir + "/config.json");
  HfCheckpoint ckpt = hf_open(dir);
  model_build_table(m, cfg);
  model_check_tensors(m, ckpt);  // before allocating: a wrong config fails fast
  model_build(m, cfg);
  for (const TensorSpec& s : m.specs)
    hf_load_f32(ckpt, s.name, s.shape, m.params.data() + s.offset);
}

}  // namespace aha
