// HF model directories over safetensors; see hf_checkpoint.h for the invariants.
#include "policy/hf_checkpoint.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "kernels/json_depth.h"
#include "kernels/user_input.h"

namespace aha {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

const char* kSingle = "model.safetensors";
const char* kIndex = "model.safetensors.index.json";

[[noreturn]] void fail(const std::string& where, const std::string& msg) {
  throw std::runtime_error("hf checkpoint: " + where + ": " + msg);
}

std::string join(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

json read_json(const std::string& path) {
  refuse_directory(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  json_check_depth(text, "hf checkpoint: " + path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // its message says where (line, column)
    fail(path, std::string("not valid JSON: ") + aha::json_error_text(e.what()));
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "model.safetensors", the index, or "model-DDDDD-of-DDDDD.safetensors" (std::regex is avoided:
// GCC 12 warns inside it under the sanitizers).
bool is_hf_weight_file(const std::string& f) {
  if (f == kSingle || f == kIndex) return true;
  const std::string pre = "model-", mid = "-of-", post = ".safetensors";
  if (f.size() != pre.size() + 5 + mid.size() + 5 + post.size()) return false;
  auto digits = [&](size_t at) {
    for (size_t i = at; i < at + 5; i++)
      if (f[i] < '0' || f[i] > '9') return false;
    return true;
  };
  return f.compare(0, pre.size(), pre) == 0 && digits(pre.size()) &&
         f.compare(pre.size() + 5, mid.size(), mid) == 0 && digits(pre.size() + 5 + mid.size()) &&
         ends_with(f, post);
}

// Asks the kernel to start reading t's pages now (one large readahead instead of page-by-page
// faults on a cold cache). Advisory: failures are ignored.
void prefetch(const StFile& f, const StTensor& t) {
  if (t.nbytes == 0 || f.map == nullptr) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t base = reinterpret_cast<uintptr_t>(f.map);
  const uintptr_t b = reinterpret_cast<uintptr_t>(t.data) & ~(page - 1);
  const uintptr_t e = std::min(reinterpret_cast<uintptr_t>(t.data) + t.nbytes, base + f.map_size);
  if (b >= base && e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_WILLNEED);
}

bool is_fp8(const std::string& dtype) {
  return dtype == "F8_E4M3" || dtype == "F8_E5M2";
}

// Reads quantization_config from config.json when present; refuses schemes we do not implement.
void read_quant_config(HfCheckpoint& ck) {
  const std::string path = join(ck.dir, "config.json");
  if (!fs::exists(path)) return;
  json cfg = read_json(path);
  if (!cfg.is_object() || !cfg.contains("quantization_config")) return;
  const json& q = cfg["quantization_config"];
  if (!q.is_object()) fail(path, "quantization_config is not an object");
  if (q.contains("quant_method") && q["quant_method"] != "fp8")
    fail(path, "quantization_config.quant_method " + q["quant_method"].dump() +
                   " is not supported (only \"fp8\" with block scales)");
  if (q.contains("fmt") && q["fmt"] != "e4m3")
    fail(path, "quantization_config.fmt " + q["fmt"].dump() + " is not supported (only \"e4m3\")");
  if (q.contains("weight_block_size")) {
    const json& b = q["weight_block_size"];
    if (!b.is_array() || b.size() != 2 || !b[0].is_number_unsigned() ||
        !b[1].is_number_unsigned() || b[0].get<uint64_t>() == 0 || b[1].get<uint64_t>() == 0 ||
        b[0].get<uint64_t>() > (1u << 20) || b[1].get<uint64_t>() > (1u << 20))
      fail(path, "quantization_config.weight_block_size is not [rows, cols] of positive integers");
    ck.fp8_block_rows = b[0].get<int64_t>();
    ck.fp8_block_cols = b[1].get<int64_t>();
  }
}

void add_shard_tensors(HfCheckpoint& ck, size_t shard_idx) {
  const StFile& f = ck.shards[shard_idx];
  for (const StTensor& t : f.tensors) {
    auto [it, inserted] = ck.tensors.emplace(t.name, HfEntry{&t, shard_idx});
    if (!inserted)
      fail(ck.dir, "tensor '" + t.name + "' is in both " + ck.shards[it->second.shard_idx].path +
                       " and " + f.path);
  }
}

}  // namespace

HfCheckpoint hf_open(const std::string& dir) {
  HfCheckpoint ck;
  ck.dir = dir;
  if (!fs::is_directory(dir)) fail(dir, "not a directory");
  const std::string index_path = join(dir, kIndex);
  const std::string single_path = join(dir, kSingle);
  if (fs::exists(index_path)) {
    json idx = read_json(index_path);
    if (!idx.is_object()) fail(index_path, "not a JSON object");
    if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
      fail(index_path, "missing or non-object \"weight_map\"");
    if (idx.contains("metadata")) {
      if (!idx["metadata"].is_object()) fail(index_path, "\"metadata\" is not an object");
      for (auto it = idx["metadata"].begin(); it != idx["metadata"].end(); ++it)
        ck.index_metadata[it.key()] =
            it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    }
    // shard file -> first tensor the index places there (for messages)
    std::map<std::string, std::string> shard_files;
    const json& wm = idx["weight_map"];
    for (auto it = wm.begin(); it != wm.end(); ++it) {
      if (!it.value().is_string())
        fail(index_path, "weight_map entry for tensor '" + it.key() + "' is not a string");
      const std::string shard = it.value().get<std::string>();
      // Shards live in dir itself: refuse paths that would escape it.
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..")
        fail(index_path, "weight_map entry for tensor '" + it.key() + "' names shard '" + shard +
                             "', not a plain file name");
      shard_files.emplace(shard, it.key());
    }
    if (shard_files.empty()) fail(index_path, "weight_map is empty");
    std::map<std::string, size_t> shard_idx;
    for (const auto& [shard, first_tensor] : shard_files) {
      const std::string p = join(dir, shard);
      if (!fs::exists(p))
        fail(index_path, "shard file '" + shard + "' (holding tensor '" + first_tensor +
                             "') is missing from " + dir);
      shard_idx[shard] = ck.shards.size();
      ck.shards.push_back(st_open(p));
    }
    for (size_t i = 0; i < ck.shards.size(); i++) add_shard_tensors(ck, i);
    for (auto it = wm.begin(); it != wm.end(); ++it) {
      const std::string shard = it.value().get<std::string>();
      auto t = ck.tensors.find(it.key());
      if (t == ck.tensors.end() || t->second.shard_idx != shard_idx[shard])
        fail(index_path, "tensor '" + it.key() + "' is listed in shard '" + shard +
                             "' but that shard does not hold it");
    }
  } else if (fs::exists(single_path)) {
    ck.shards.push_back(st_open(single_path));
    add_shard_tensors(ck, 0);
  } else {
    fail(dir, std::string("neither ") + kSingle + " nor " + kIndex + " found");
  }
  read_quant_config(ck);
  return ck;
}

const StTensor* hf_find(const HfCheckpoint& ck, const std::string& name) {
  auto it = ck.tensors.find(name);
  return it == ck.tensors.end() ? nullptr : it->second.tensor;
}

std::string hf_file_of(const HfCheckpoint& ck, const std::string& name) {
  auto it = ck.tensors.find(name);
  return it == ck.tensors.end() ? "" : ck.shards[it->second.shard_idx].path;
}

std::vector<std::string> hf_tensor_names(const HfCheckpoint& ck) {
  std::vector<std::string> names;
  for (const auto& [name, e] : ck.tensors) {
    if (ends_with(name, "_scale_inv")) {
      const StTensor* w = hf_find(ck, name.substr(0, name.size() - 10));
      if (w && is_fp8(w->dtype)) continue;
    }
    names.push_back(name);
  }
  return names;
}

void hf_load_f32(const HfCheckpoint& ck, const std::string& name,
                 const std::vector<int64_t>& expected_shape, float* out) {
  auto it = ck.tensors.find(name);
  if (it == ck.tensors.end()) fail(ck.dir, "tensor '" + name + "' is missing from the checkpoint");
  const StTensor& t = *it->second.tensor;
  const std::string& file = ck.shards[it->second.shard_idx].path;
  const std::string where = "safetensors: " + file + ": tensor '" + name + "': ";
  if (t.shape != expected_shape)
    throw std::runtime_error(where + "shape " + st_shape_str(t.shape) + " but expected " +
                             st_shape_str(expected_shape));
  const size_t numel = st_numel(expected_shape, where + "expected shape");
  prefetch(ck.shards[it->second.shard_idx], t);
  if (!is_fp8(t.dtype)) {
    st_read_f32(t, out, numel, file);
    return;
  }
  // Block-scaled FP8: w = fp8(q) * scale_inv[r / B0][c / B1].
  const std::string sname = name + "_scale_inv";
  auto sit = ck.tensors.find(sname);
  if (sit == ck.tensors.end())
    throw std::runtime_error(where + t.dtype + " weight without its scale tensor '" + sname + "'");
  if (t.shape.size() != 2)
    throw std::runtime_error(where + t.dtype + " weight must be 2-D for block scales, shape is " +
                             st_shape_str(t.shape));
  const StTensor& s = *sit->second.tensor;
  const std::string& sfile = ck.shards[sit->second.shard_idx].path;
  const int64_t R = t.shape[0], C = t.shape[1];
  const int64_t br = ck.fp8_block_rows, bc = ck.fp8_block_cols;
  const int64_t SR = (R + br - 1) / br, SC = (C + bc - 1) / bc;
  if (s.shape != std::vector<int64_t>{SR, SC})
    throw std::runtime_error("safetensors: " + sfile + ": tensor '" + sname + "': shape " +
                             st_shape_str(s.shape) + " but expected " + st_shape_str({SR, SC}) +
                             " for " + std::to_string(br) + "x" + std::to_string(bc) +
                             " blocks of " + st_shape_str(t.shape));
  // The scale grid is tiny (1/16384 of the weight): a float copy of it costs nothing.
  std::vector<float> scale(static_cast<size_t>(SR * SC));
  st_read_f32(s, scale.data(), scale.size(), sfile);
  const float* tab = t.dtype == "F8_E4M3" ? e4m3_table() : e5m2_table();
  for (int64_t r = 0; r < R; r++) {  // decode and scale in one pass over the output
    const float* srow = scale.data() + (r / br) * SC;
    const uint8_t* qrow = t.data + r * C;
    float* orow = out + r * C;
    for (int64_t cb = 0; cb < SC; cb++) {
      const float sv = srow[cb];
      const int64_t c1 = std::min(C, (cb + 1) * bc);
      for (int64_t c = cb * bc; c < c1; c++) orow[c] = tab[qrow[c]] * sv;
    }
  }
}

void hf_save(const std::string& dir, const std::vector<StWriteTensor>& tensors,
             size_t max_shard_bytes, const std::string& dtype) {
  if (dtype != "F32" && dtype != "BF16" && dtype != "F16")
    fail(dir, "cannot save as dtype '" + dtype + "' (F32, BF16 or F16)");
  if (tensors.empty()) fail(dir, "no tensors to save");
  std::set<std::string> names;
  for (const StWriteTensor& t : tensors)
    if (!names.insert(t.name).second) fail(dir, "tensor '" + t.name + "' given twice");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir, "cannot create directory: " + ec.message());

  // Shards follow the caller's order (layer order keeps a layer's tensors together).
  std::vector<std::vector<StWriteTensor>> shards(1);
  size_t cur = 0, total = 0;
  for (const StWriteTensor& t : tensors) {
    const size_t sz = st_converted_nbytes(t, dtype);
    if (!shards.back().empty() && cur + sz > max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(t);
    cur += sz;
    total += sz;
  }
  const std::map<std::string, std::string> meta = {{"format", "pt"}};
  const size_t n = shards.size();
  std::set<std::string> written;
  if (n == 1) {
    st_write_converted(join(dir, kSingle), shards[0], meta, dtype);
    written.insert(kSingle);
  } else {
    json wm = json::object();
    for (size_t i = 0; i < n; i++) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, n);
      st_write_converted(join(dir, buf), shards[i], meta, dtype);
      written.insert(buf);
      for (const StWriteTensor& t : shards[i]) wm[t.name] = buf;
    }
    json idx = {{"metadata", {{"total_size", total}}}, {"weight_map", wm}};
    const std::string p = join(dir, kIndex), tmp = p + ".tmp";
    {
      std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
      o << idx.dump(2) << "\n";
      o.flush();
      if (!o) fail(tmp, "write failed");
    }
    if (std::rename(tmp.c_str(), p.c_str()) != 0) fail(p, "rename from .tmp failed");
    written.insert(kIndex);
  }
  // Remove what an earlier save of another layout left, so hf_open sees only this one.
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string fname = e.path().filename().string();
    if (e.is_regular_file() && is_hf_weight_file(fname) && !written.count(fname))
      fs::remove(e.path());
  }
}

void fp8_quantize_blocks(const float* w, int64_t rows, int64_t cols, int64_t br, int64_t bc,
                         uint8_t* q, float* scale_inv) {
  const int64_t SR = (rows + br - 1) / br, SC = (cols + bc - 1) / bc;
  for (int64_t sr = 0; sr < SR; sr++) {
    for (int64_t sc = 0; sc < SC; sc++) {
      const int64_t r1 = std::min(rows, (sr + 1) * br), c1 = std::min(cols, (sc + 1) * bc);
      float amax = 0.0f;
      for (int64_t r = sr * br; r < r1; r++)
        for (int64_t c = sc * bc; c < c1; c++) amax = std::max(amax, std::fabs(w[r * cols + c]));
      const float s = amax > 0.0f ? amax / 448.0f : 1.0f;
      scale_inv[sr * SC + sc] = s;
      for (int64_t r = sr * br; r < r1; r++)
        for (int64_t c = sc * bc; c < c1; c++) q[r * cols + c] = f32_to_e4m3(w[r * cols + c] / s);
    }
  }
}

}  // namespace aha
