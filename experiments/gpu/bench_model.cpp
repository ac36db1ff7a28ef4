// `aha bench model` for a GPU machine without the Debian packages the aha binary needs: the same
// forward + backward timing (policy/model_bench.h) from a GPU-only build. check.sh runs it for the
// ~1B config beside experiments/gpu/bench_torch.py.
//
//   bench_model [--config tiny|100m|100m-qwen|1b] [--batch B] [--seq-len T] [--steps N]
//               [--device cpu|cuda|auto] [--recompute]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "kernels/ops.h"
#include "kernels/parallel.h"
#include "policy/config_presets.h"
#include "policy/model_bench.h"

using namespace aha;

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "bench_model: %s\nusage: bench_model [--config tiny|100m|100m-qwen|1b] [--batch B] "
               "[--seq-len T] [--steps N] [--device cpu|cuda|auto] [--recompute]\n",
               why);
  return 2;
}

// A positive integer option value, or -1.
int positive(const char* s) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  return (end != s && *end == 0 && v > 0 && v < (1 << 24)) ? static_cast<int>(v) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = "1b", device = "auto";
  int B = 8, T = 512, steps = 3;
  bool recompute = false;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--recompute") {
      recompute = true;
      continue;
    }
    if (i + 1 >= argc) return usage(("'" + a + "' needs a value or is unknown").c_str());
    const char* v = argv[++i];
    if (a == "--config") {
      config = v;
    } else if (a == "--device") {
      device = v;
    } else if (a == "--batch" || a == "--seq-len" || a == "--steps") {
      const int n = positive(v);
      if (n < 0) return usage((a + " '" + v + "': expected a positive integer").c_str());
      (a == "--batch" ? B : a == "--seq-len" ? T : steps) = n;
    } else {
      return usage(("unknown option '" + a + "'").c_str());
    }
  }
  ModelConfig cfg;
  if (config == "tiny")
    cfg = config_tiny();
  else if (config == "100m")
    cfg = config_100m();
  else if (config == "100m-qwen")
    cfg = config_100m_qwen();
  else if (config == "1b")
    cfg = config_1b();
  else
    return usage(("--config '" + config + "': expected tiny, 100m, 100m-qwen or 1b").c_str());
  try {
    const Device dev = device_choose(device);
    set_compute_threads(hardware_threads());  // the CPU side: every core, as aha bench model
    // The share column: the GPU's dense bf16 peak (H100/H200 SXM), or on the CPU none measured.
    const double peak = dev == Device::kCuda ? 989e3 : 0;
    std::printf("device: %s%s\n", dev == Device::kCuda ? "cuda" : "cpu",
                dev == Device::kCuda ? "; the share is of a 989 TFLOP/s bf16 peak" : "");
    bench_model_header(dev);
    bench_model_config(config == "100m-qwen" ? "100m-q" : config.c_str(), cfg, B, T, peak, dev,
                       steps, recompute);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
