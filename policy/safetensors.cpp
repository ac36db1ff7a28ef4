// safetensors reader/writer; see safetensors.h for the format and the invariants.
#include "policy/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "kernels/checksum.h"
#include "kernels/json_depth.h"
#include "kernels/user_input.h"

namespace aha {

// The __metadata__ key of the data region's checksum (kernels/checksum.h), 16 hex digits.
constexpr const char* kDataChecksumKey = "aha_data_checksum64";

namespace {

using json = nlohmann::json;

// A header bigger than this is refused before parsing (real headers are a few MB at most).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw std::runtime_error("safetensors: " + path + ": " + msg);
}
[[noreturn]] void fail_t(const std::string& path, const std::string& tensor,
                         const std::string& msg) {
  throw std::runtime_error("safetensors: " + path + ": tensor '" + tensor + "': " + msg);
}

struct DtypeInfo {
  const char* name;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8},
};

const DtypeInfo* find_dtype(const std::string& d) {
  for (const auto& x : kDtypes)
    if (d == x.name) return &x;
  return nullptr;
}

std::string errno_str() {
  return std::strerror(errno);
}

// 256-entry decode tables for the two FP8 formats, built once.
struct Fp8Tables {
  float e4m3[256];
  float e5m2[256];
  Fp8Tables() {
    for (int b = 0; b < 256; b++) {
      const float sign = (b & 0x80) ? -1.0f : 1.0f;
      {  // E4M3FN: bias 7, no infinities, S.1111.111 is NaN.
        const int e = (b >> 3) & 0xF, m = b & 0x7;
        float v;
        if (e == 15 && m == 7)
          v = std::numeric_limits<float>::quiet_NaN();
        else if (e == 0)
          v = std::ldexp(static_cast<float>(m), -9);
        else
          v = std::ldexp(static_cast<float>(8 + m), e - 10);
        e4m3[b] = std::isnan(v) ? v : sign * v;
      }
      {  // E5M2: bias 15, IEEE-like with infinities and NaNs.
        const int e = (b >> 2) & 0x1F, m = b & 0x3;
        float v;
        if (e == 31)
          v = m == 0 ? std::numeric_limits<float>::infinity()
                     : std::numeric_limits<float>::quiet_NaN();
        else if (e == 0)
          v = std::ldexp(static_cast<float>(m), -16);
        else
          v = std::ldexp(static_cast<float>(4 + m), e - 17);
        e5m2[b] = std::isnan(v) ? v : sign * v;
      }
    }
  }
};
const Fp8Tables& fp8_tables() {
  static const Fp8Tables t;
  return t;
}

void write_all(int fd, const void* p, size_t n, const std::string& path) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, b, std::min<size_t>(n, 1u << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail(path, "write failed: " + errno_str());
    }
    b += w;
    n -= static_cast<size_t>(w);
  }
}

// Whether st_write_converted converts this tensor.
bool converts(const StWriteTensor& t, const std::string& out_dtype) {
  if (t.dtype != "F32" || out_dtype == "F32") return false;
  const std::string suffix = "_scale_inv";  // FP8 block scales stay F32
  return !(t.name.size() >= suffix.size() &&
           t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0);
}

}  // namespace

// ---- dtypes and shapes ----

bool st_dtype_known(const std::string& dtype) {
  return find_dtype(dtype) != nullptr;
}

size_t st_dtype_size(const std::string& dtype) {
  const DtypeInfo* d = find_dtype(dtype);
  if (!d) throw std::runtime_error("safetensors: unknown dtype '" + dtype + "'");
  return d->size;
}

size_t st_numel(const std::vector<int64_t>& shape, const std::string& what) {
  size_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      throw std::runtime_error(what + ": negative dimension in shape " + st_shape_str(shape));
    if (__builtin_mul_overflow(n, static_cast<size_t>(d), &n))
      throw std::runtime_error(what + ": element count of shape " + st_shape_str(shape) +
                               " overflows");
  }
  return n;
}

std::string st_shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// ---- StFile ----

StFile::StFile(StFile&& o) noexcept {
  *this = std::move(o);
}

StFile& StFile::operator=(StFile&& o) noexcept {
  if (this != &o) {
    st_close(*this);
    path = std::move(o.path);
    map = o.map;
    map_size = o.map_size;
    header_size = o.header_size;
    gap_bytes = o.gap_bytes;
    tensors = std::move(o.tensors);
    metadata = std::move(o.metadata);
    o.map = nullptr;
    o.map_size = 0;
    o.tensors.clear();
  }
  return *this;
}

StFile::~StFile() {
  st_close(*this);
}

void st_close(StFile& f) {
  if (f.map) munmap(f.map, f.map_size);
  f.map = nullptr;
  f.map_size = 0;
  f.tensors.clear();
  f.metadata.clear();
}

const StTensor* st_find(const StFile& f, const std::string& name) {
  for (const StTensor& t : f.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

// ---- reading ----

StFile st_open(const std::string& path) {
  StFile f;
  f.path = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open: " + errno_str());
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, "cannot stat: " + errno_str());
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  const size_t file_size = static_cast<size_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail(path, "file is " + std::to_string(file_size) +
                   " bytes, shorter than the 8-byte header size (truncated)");
  }
  void* m = mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file alive
  if (m == MAP_FAILED) fail(path, "mmap failed: " + errno_str());
  f.map = m;
  f.map_size = file_size;
  const uint8_t* base = static_cast<const uint8_t*>(m);

  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | base[i];  // little-endian regardless of host
  if (n > file_size - 8)
    fail(path, "header size " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(file_size) + " bytes; truncated?)");
  if (n > kMaxHeaderBytes)
    fail(path, "header size " + std::to_string(n) + " exceeds the limit of " +
                   std::to_string(kMaxHeaderBytes) + " bytes");
  f.header_size = n;
  const char* hbeg = reinterpret_cast<const char*>(base + 8);
  const uint8_t* data = base + 8 + n;
  const size_t data_size = file_size - 8 - n;

  // Duplicate top-level keys: nlohmann keeps the last silently, so catch them during parsing.
  std::vector<std::string> dups;
  std::set<std::string> seen;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::key && depth == 1) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (!seen.insert(k).second) dups.push_back(k);
    }
    return true;
  };
  const std::string_view header(hbeg, n);
  if (json_too_deep_at(header) != std::string_view::npos)
    fail(path, "header: JSON nested deeper than " + std::to_string(kJsonMaxDepth) +
                   " levels (at byte " + std::to_string(8 + json_too_deep_at(header)) +
                   " of the file)");
  json h;
  try {
    h = json::parse(header, cb);
  } catch (const json::exception& e) {  // its message says where (line, column)
    fail(path, std::string("header is not valid JSON: ") + aha::json_error_text(e.what()));
  }
  if (!h.is_object()) fail(path, "header is not a JSON object");
  if (!dups.empty()) fail_t(path, dups[0], "duplicate tensor name in header");

  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "__metadata__ is not an object");
      for (auto mi = v.begin(); mi != v.end(); ++mi) {
        if (!mi.value().is_string())
          fail(path, "__metadata__ value of '" + mi.key() + "' is not a string");
        f.metadata[mi.key()] = mi.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail_t(path, name, "entry is not an object");
    StTensor t;
    t.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) fail_t(path, name, "missing or non-string dtype");
    t.dtype = dt->get<std::string>();
    const DtypeInfo* di = find_dtype(t.dtype);
    if (!di) fail_t(path, name, "unknown dtype '" + t.dtype + "'");

    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) fail_t(path, name, "missing or non-array shape");
    for (const json& d : *sh) {
      if (d.is_number_unsigned())
        t.shape.push_back(d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                              ? -1
                              : static_cast<int64_t>(d.get<uint64_t>()));
      else if (d.is_number_integer())
        t.shape.push_back(d.get<int64_t>());
      else
        fail_t(path, name, "shape has a non-integer dimension");
      if (t.shape.back() < 0) fail_t(path, name, "shape has a negative dimension");
    }
    size_t numel = 0, nbytes = 0;
    try {
      numel = st_numel(t.shape, "shape");
    } catch (const std::exception& e) {
      fail_t(path, name, e.what());
    }
    if (__builtin_mul_overflow(numel, di->size, &nbytes))
      fail_t(path, name, "byte size of shape " + st_shape_str(t.shape) + " overflows");

    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      fail_t(path, name, "data_offsets is not [begin, end] with non-negative integers");
    const uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
    if (b > e)
      fail_t(path, name,
             "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] has begin > end");
    if (e > data_size)
      fail_t(path, name,
             "data_offsets end " + std::to_string(e) + " is past the data region (" +
                 std::to_string(data_size) + " bytes; truncated?)");
    if (e - b != nbytes)
      fail_t(path, name,
             "data_offsets span " + std::to_string(e - b) + " bytes but " + t.dtype + " " +
                 st_shape_str(t.shape) + " needs " + std::to_string(nbytes));
    t.data = data + b;
    t.nbytes = nbytes;
    t.data_begin = b;
    f.tensors.push_back(std::move(t));
  }

  // Overlaps: sort the non-empty ranges by begin and compare neighbours.
  std::vector<const StTensor*> order;
  for (const StTensor& t : f.tensors)
    if (t.nbytes > 0) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const StTensor* a, const StTensor* b) {
    return a->data_begin != b->data_begin ? a->data_begin < b->data_begin : a->name < b->name;
  });
  size_t covered = 0, prev_end = 0;
  for (size_t i = 0; i < order.size(); i++) {
    const StTensor* t = order[i];
    if (i > 0 && t->data_begin < prev_end)
      fail_t(path, t->name,
             "data_offsets overlap tensor '" + order[i - 1]->name + "' (begins at " +
                 std::to_string(t->data_begin) + ", previous ends at " + std::to_string(prev_end) +
                 ")");
    prev_end = t->data_begin + t->nbytes;
    covered += t->nbytes;
  }
  f.gap_bytes = data_size - covered;
  // Files aha wrote carry the data region's checksum: a flipped bit or a torn copy is found here,
  // not as silently wrong weights.
  auto sum = f.metadata.find(kDataChecksumKey);
  if (sum != f.metadata.end()) {
    char want[17];
    std::snprintf(want, sizeof want, "%016llx",
                  static_cast<unsigned long long>(checksum64(data, data_size)));
    if (sum->second != want)
      fail(path, std::string("the tensor data does not match the checksum aha wrote with it (") +
                     kDataChecksumKey + " " + sum->second + ", the data gives " + want +
                     "): the file is corrupt (a flipped bit or a torn copy)");
  }
  return f;
}

void st_read_f32(const StTensor& t, float* out, size_t numel, const std::string& file_for_errors) {
  const size_t have = t.nbytes / std::max<size_t>(1, st_dtype_size(t.dtype));
  if (numel != have)
    fail_t(file_for_errors, t.name,
           "asked for " + std::to_string(numel) + " elements, tensor has " + std::to_string(have));
  if (numel == 0) return;
  if (t.dtype == "F32") {
    std::memcpy(out, t.data, numel * sizeof(float));
  } else if (t.dtype == "BF16") {
    bf16_to_f32_n(t.data, out, numel);
  } else if (t.dtype == "F16") {
    f16_to_f32_n(t.data, out, numel);
  } else if (t.dtype == "F8_E4M3") {
    const float* tab = fp8_tables().e4m3;
    for (size_t i = 0; i < numel; i++) out[i] = tab[t.data[i]];
  } else if (t.dtype == "F8_E5M2") {
    const float* tab = fp8_tables().e5m2;
    for (size_t i = 0; i < numel; i++) out[i] = tab[t.data[i]];
  } else {
    fail_t(file_for_errors, t.name, "dtype " + t.dtype + " cannot be read as float32");
  }
}

// ---- writing ----

size_t st_converted_nbytes(const StWriteTensor& t, const std::string& out_dtype) {
  if (!converts(t, out_dtype)) return t.nbytes;
  return t.nbytes / 4 * st_dtype_size(out_dtype);
}

void st_write_converted(const std::string& path, const std::vector<StWriteTensor>& tensors,
                        const std::map<std::string, std::string>& metadata,
                        const std::string& out_dtype) {
  if (out_dtype != "F32" && out_dtype != "BF16" && out_dtype != "F16")
    fail(path, "cannot write float32 sources as '" + out_dtype + "' (F32, BF16 or F16)");
  std::vector<const StWriteTensor*> order;
  for (const StWriteTensor& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const StWriteTensor* a, const StWriteTensor* b) { return a->name < b->name; });

  json h = json::object();
  json meta = metadata;
  meta[kDataChecksumKey] = std::string(16, '0');  // filled in once the data is written
  // transformers refuses a __metadata__ without "format" (and these are PyTorch-layout tensors).
  if (!meta.contains("format")) meta["format"] = "pt";
  h["__metadata__"] = meta;
  size_t offset = 0;
  for (size_t i = 0; i < order.size(); i++) {
    const StWriteTensor& t = *order[i];
    if (t.name == "__metadata__") fail_t(path, t.name, "reserved name");
    if (i > 0 && order[i - 1]->name == t.name) fail_t(path, t.name, "duplicate tensor name");
    if (!find_dtype(t.dtype)) fail_t(path, t.name, "unknown dtype '" + t.dtype + "'");
    size_t numel = 0;
    try {
      numel = st_numel(t.shape, "shape");
    } catch (const std::exception& e) {
      fail_t(path, t.name, e.what());
    }
    size_t want = 0;
    if (__builtin_mul_overflow(numel, st_dtype_size(t.dtype), &want) || want != t.nbytes)
      fail_t(path, t.name,
             "nbytes " + std::to_string(t.nbytes) + " does not match " + t.dtype + " " +
                 st_shape_str(t.shape));
    if (t.nbytes > 0 && t.data == nullptr) fail_t(path, t.name, "null data");
    const size_t disk = st_converted_nbytes(t, out_dtype);
    h[t.name] = {{"dtype", converts(t, out_dtype) ? out_dtype : t.dtype},
                 {"shape", t.shape},
                 {"data_offsets", {offset, offset + disk}}};
    offset += disk;
  }
  std::string hs = h.dump();
  hs.append((8 - hs.size() % 8) % 8, ' ');  // data region starts 8-byte aligned
  const std::string sum_field = std::string("\"") + kDataChecksumKey + "\":\"";
  const size_t sum_at = 8 + hs.find(sum_field) + sum_field.size();  // the 16 zeros in the file

  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644);  // read back for the checksum
  if (fd < 0) fail(tmp, "cannot create: " + errno_str());
  try {
    uint8_t len[8];
    uint64_t n = hs.size();
    for (int i = 0; i < 8; i++) len[i] = static_cast<uint8_t>(n >> (8 * i));
    write_all(fd, len, 8, tmp);
    write_all(fd, hs.data(), hs.size(), tmp);
    constexpr size_t kChunk = 1 << 16;  // elements converted per write
    std::vector<uint16_t> buf;
    for (const StWriteTensor* t : order) {
      if (!converts(*t, out_dtype)) {
        write_all(fd, t->data, t->nbytes, tmp);
        continue;
      }
      buf.resize(kChunk);
      const size_t numel = t->nbytes / 4;
      const uint8_t* src = static_cast<const uint8_t*>(t->data);
      for (size_t i = 0; i < numel; i += kChunk) {
        const size_t m = std::min(kChunk, numel - i);
        for (size_t j = 0; j < m; j++) {
          float x;
          std::memcpy(&x, src + 4 * (i + j), 4);  // source may be unaligned
          buf[j] = out_dtype == "BF16" ? f32_to_bf16(x) : f32_to_f16(x);
        }
        write_all(fd, buf.data(), m * 2, tmp);
      }
    }
    // The data region's checksum, read back from what was written, into the header's field.
    std::vector<uint8_t> back(1 << 20);  // a multiple of 8: chained pieces give the whole sum
    uint64_t sum = kFnvOffset;
    for (size_t done = 0; done < offset;) {  // offset: the data region's size
      const size_t want = std::min(back.size(), offset - done);
      size_t have = 0;
      while (have < want) {
        const ssize_t got = ::pread(fd, back.data() + have, want - have,
                                    static_cast<off_t>(8 + hs.size() + done + have));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) fail(tmp, "read back failed: " + errno_str());
        have += static_cast<size_t>(got);
      }
      sum = checksum64_chain(back.data(), want, sum);
      done += want;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(sum));
    if (::pwrite(fd, hex, 16, static_cast<off_t>(sum_at)) != 16)
      fail(tmp, "cannot write the checksum: " + errno_str());
    if (fsync(fd) != 0) fail(tmp, "fsync failed: " + errno_str());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    fail(tmp, "close failed: " + errno_str());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    fail(path, "rename from .tmp failed: " + errno_str());
  }
  // Make the rename durable.
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    ::close(dfd);
  }
}

void st_write(const std::string& path, const std::vector<StWriteTensor>& tensors,
              const std::map<std::string, std::string>& metadata) {
  st_write_converted(path, tensors, metadata, "F32");
}

// ---- scalar conversions ----

float bf16_to_f32(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

uint16_t f32_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  x += 0x7FFFu + ((x >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<uint16_t>(x >> 16);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
  uint32_t x;
  if (e == 0) {
    if (m == 0) {
      x = sign;
    } else {  // subnormal: m * 2^-24, exact in float
      x = std::bit_cast<uint32_t>(static_cast<float>(m) * 0x1p-24f) | sign;
    }
  } else if (e == 31) {
    x = sign | 0x7F800000u | (m << 13);
  } else {
    x = sign | ((e + 112) << 23) | (m << 13);  // rebias 15 -> 127
  }
  return std::bit_cast<float>(x);
}

uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u) return sign | (ax > 0x7F800000u ? 0x7E00 : 0x7C00);
  if (ax >= 0x477FF000u) return sign | 0x7C00;  // >= 65520 rounds to infinity
  if (ax >= 0x38800000u) {                      // normal half
    const uint32_t e = (ax >> 23) - 112, mant = ax & 0x7FFFFF;
    uint32_t h = (e << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;  // a carry into the exponent is right
    return sign | static_cast<uint16_t>(h);
  }
  if (ax <= 0x33000000u) return sign;  // <= 2^-25 rounds to zero (the tie goes to even 0)
  // Subnormal half: units of 2^-24.
  const int E = static_cast<int>(ax >> 23) - 127;  // in [-25, -15]
  const uint32_t m24 = (ax & 0x7FFFFF) | 0x800000;
  const int shift = -(E + 1);  // in [14, 24]
  uint32_t h = m24 >> shift;
  const uint32_t rem = m24 & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (h & 1))) h++;
  return sign | static_cast<uint16_t>(h);
}

float e4m3_to_f32(uint8_t b) {
  return fp8_tables().e4m3[b];
}
float e5m2_to_f32(uint8_t b) {
  return fp8_tables().e5m2[b];
}
const float* e4m3_table() {
  return fp8_tables().e4m3;
}
const float* e5m2_table() {
  return fp8_tables().e5m2;
}

uint8_t f32_to_e4m3(float f) {
  if (std::isnan(f)) return 0x7F;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  const double a = std::fabs(static_cast<double>(f));
  const float* tab = fp8_tables().e4m3;
  if (a >= 448.0) return sign | 0x7E;
  // Codes 0x00..0x7E are increasing in value: find the last one <= a.
  int lo = 0, hi = 0x7E;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (tab[mid] <= a)
      lo = mid;
    else
      hi = mid - 1;
  }
  if (tab[lo] == a) return sign | static_cast<uint8_t>(lo);
  const double d_lo = a - tab[lo], d_hi = tab[lo + 1] - a;
  const int c = d_lo < d_hi ? lo : d_hi < d_lo ? lo + 1 : ((lo & 1) ? lo + 1 : lo);
  return sign | static_cast<uint8_t>(c);
}

void bf16_to_f32_n(const void* src, float* dst, size_t n) {
  // Fixed-size blocks through aligned locals so the compiler vectorises the widening at -O2.
  constexpr size_t kB = 64;
  const uint8_t* s = static_cast<const uint8_t*>(src);
  size_t i = 0;
  for (; i + kB <= n; i += kB) {
    uint16_t h[kB];
    uint32_t x[kB];
    std::memcpy(h, s + 2 * i, sizeof h);
    for (size_t j = 0; j < kB; j++) x[j] = static_cast<uint32_t>(h[j]) << 16;
    std::memcpy(dst + i, x, sizeof x);
  }
  for (; i < n; i++) {
    uint16_t h;
    std::memcpy(&h, s + 2 * i, 2);
    const uint32_t x = static_cast<uint32_t>(h) << 16;
    std::memcpy(dst + i, &x, 4);
  }
}

void f16_to_f32_n(const void* src, float* dst, size_t n) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  for (size_t i = 0; i < n; i++) {
    uint16_t h;
    std::memcpy(&h, s + 2 * i, 2);
    dst[i] = f16_to_f32(h);
  }
}

void f32_to_bf16_n(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = f32_to_bf16(src[i]);
}

void f32_to_f16_n(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = f32_to_f16(src[i]);
}

}  // namespace aha
