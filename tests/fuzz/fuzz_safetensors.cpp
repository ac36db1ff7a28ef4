// libFuzzer target: st_open and st_read_f32 on arbitrary file bytes (tests/fuzz/README.md).
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/dev/shm/aha_fuzz_st_" + std::to_string(getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    aha::StFile st = aha::st_open(path);
    for (const aha::StTensor& t : st.tensors) {
      if (t.dtype != "F32" && t.dtype != "BF16" && t.dtype != "F16" && t.dtype != "F8_E4M3" &&
          t.dtype != "F8_E5M2")
        continue;
      const size_t numel = aha::st_numel(t.shape, t.name);
      std::vector<float> out(numel);
      aha::st_read_f32(t, out.data(), numel, path);
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
