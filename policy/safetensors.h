// safetensors reader and writer, written from the published format:
//   [8 bytes: N, little-endian u64][N bytes: JSON header][data region]
// The header is a JSON object {name: {"dtype", "shape", "data_offsets": [begin, end]}, ...} with an
// optional "__metadata__": {str: str}; offsets are relative to the start of the data region.
//
// Invariants:
// - st_open memory-maps the file read-only and validates the whole header before any tensor byte is
//   touched: after it returns, every StTensor's [data, data + nbytes) lies inside the mapping,
//   nbytes == numel(shape) * dtype size, names are unique and no two tensors overlap. Gaps between
//   tensors are allowed (counted in StFile::gap_bytes). Any violation throws std::runtime_error
//   whose message names the file and, where there is one, the tensor.
// - A file aha wrote carries "aha_data_checksum64" in __metadata__: checksum64 (kernels/checksum.h)
//   of the whole data region, 16 hex digits. st_open verifies it when present (files from elsewhere
//   have none), so a flipped bit in the tensor data is refused naming the file, not loaded.
// - StFile owns its mapping (move-only); StTensor::data points into it and dies with it.
// - Tensor data may be unaligned: readers copy element by element with memcpy, never cast pointers.
// - st_write writes to path + ".tmp", fsyncs and renames, so a crash never leaves a half-written
// file
//   under the final name. Tensors are written sorted by name; the header is padded with spaces to a
//   multiple of 8 bytes so the data region starts 8-byte aligned.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace aha {

// One tensor of an open file; data points into the file's mapping.
struct StTensor {
  std::string name;
  std::string dtype;           // "F32", "BF16", "F16", "F8_E4M3", ...
  std::vector<int64_t> shape;  // row-major
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  size_t data_begin = 0;  // offset within the data region (as in the header)
};

// An open, validated safetensors file. Move-only; unmaps on destruction.
struct StFile {
  std::string path;
  void* map = nullptr;
  size_t map_size = 0;
  size_t header_size = 0;  // N, the JSON header's length
  size_t gap_bytes = 0;    // bytes of the data region covered by no tensor (allowed, just counted)
  std::vector<StTensor> tensors;  // in header order
  std::map<std::string, std::string> metadata;

  StFile() = default;
  StFile(const StFile&) = delete;
  StFile& operator=(const StFile&) = delete;
  StFile(StFile&& o) noexcept;
  StFile& operator=(StFile&& o) noexcept;
  ~StFile();
};

// Bytes per element of a safetensors dtype; throws for an unknown dtype.
size_t st_dtype_size(const std::string& dtype);
bool st_dtype_known(const std::string& dtype);
// Product of dims; throws on a negative dim or overflow (what names the place for the message).
size_t st_numel(const std::vector<int64_t>& shape, const std::string& what);
// "[2, 3]"
std::string st_shape_str(const std::vector<int64_t>& shape);

StFile st_open(const std::string& path);
void st_close(StFile& f);  // unmaps now; the StFile is left empty (also done by the destructor)
const StTensor* st_find(const StFile& f, const std::string& name);  // nullptr if absent

// Converts a tensor of dtype F32, BF16, F16, F8_E4M3 or F8_E5M2 to float32 into out[numel].
// numel must equal the tensor's element count. FP8 values are decoded raw (no block scale applied:
// that is hf_load_f32's job).
void st_read_f32(const StTensor& t, float* out, size_t numel, const std::string& file_for_errors);

// One tensor to write; data holds nbytes already encoded in dtype.
struct StWriteTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
};

// Writes path atomically. Throws (naming path and tensor) on duplicate names, unknown dtype or
// nbytes != numel * dtype size.
void st_write(const std::string& path, const std::vector<StWriteTensor>& tensors,
              const std::map<std::string, std::string>& metadata);

// Same, but every tensor whose dtype is "F32" and whose name does not end in "_scale_inv" is
// converted on the fly (in small chunks, no full copy) to out_dtype ("F32", "BF16" or "F16").
// The header records the converted dtype.
void st_write_converted(const std::string& path, const std::vector<StWriteTensor>& tensors,
                        const std::map<std::string, std::string>& metadata,
                        const std::string& out_dtype);
// Bytes tensor t takes on disk once converted as st_write_converted would.
size_t st_converted_nbytes(const StWriteTensor& t, const std::string& out_dtype);

// Scalar conversions. float -> BF16/F16 round to nearest, ties to even; NaN stays NaN (quiet),
// F16 overflow gives infinity. E4M3 is the "FN" variant: no infinities, 0x7F/0xFF are NaN, max 448.
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float e4m3_to_f32(uint8_t b);
float e5m2_to_f32(uint8_t b);
// The 256-entry decode tables behind e4m3_to_f32 / e5m2_to_f32 (for fused loops).
const float* e4m3_table();
const float* e5m2_table();
// Round to nearest even, saturating to +-448 (NaN -> 0x7F).
uint8_t f32_to_e4m3(float f);

// Bulk conversions over n elements; src may be unaligned.
void bf16_to_f32_n(const void* src, float* dst, size_t n);
void f16_to_f32_n(const void* src, float* dst, size_t n);
void f32_to_bf16_n(const float* src, uint16_t* dst, size_t n);
void f32_to_f16_n(const float* src, uint16_t* dst, size_t n);

}  // namespace aha
