#include "kernels/gemm.h"

#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "kernels/parallel.h"

namespace aha {

namespace {

// GEMMs from this many flops up are split over the compute threads (below it a region's
// wake-up costs more than it saves). OpenBLAS itself always runs one thread: its own pool
// spin-waits between calls and would compete with aha's.
constexpr double kSplitFlops = 4e6;
constexpr int kAlign = 16;  // split points on multiples of 16 rows / columns

// The OpenBLAS entry points aha uses (decltype only: the library is not linked).
struct Blas {
  decltype(&::cblas_sgemm) sgemm = nullptr;
  decltype(&::openblas_set_num_threads) set_num_threads = nullptr;
  decltype(&::openblas_get_num_threads) get_num_threads = nullptr;
  decltype(&::openblas_get_corename) get_corename = nullptr;
  decltype(&::openblas_get_config) get_config = nullptr;
  std::string coretype_note;  // how the core type was chosen
};

Blas g_blas;
std::once_flag g_once;

void* symbol(void* lib, const char* name) {
  void* p = dlsym(lib, name);
  if (!p) throw std::runtime_error(std::string("OpenBLAS: symbol ") + name + " not found");
  return p;
}

void open_blas() {
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  const char* mode = std::getenv("AHA_BLAS_CORETYPE");
  const bool library_choice = mode && std::string(mode) == "library";
  if (user && *user) {
    g_blas.coretype_note = "core type from OPENBLAS_CORETYPE";
  } else if (library_choice) {
    g_blas.coretype_note = "core type chosen by OpenBLAS";
  } else {
    const std::string core = gemm_coretype_for_cpu();
    if (!core.empty()) {
      setenv("OPENBLAS_CORETYPE", core.c_str(), 0);
      g_blas.coretype_note =
          std::string("core type from cpuid: ") + (core == "SkylakeX" ? "avx512" : "avx2+fma");
    } else {
      g_blas.coretype_note = "core type chosen by OpenBLAS";
    }
  }
  void* lib = nullptr;
  for (const char* name : {"libopenblas.so.0", "libopenblas.so"}) {
    lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib) break;
  }
  if (!lib)
    throw std::runtime_error(std::string("cannot open OpenBLAS (libopenblas.so.0): ") + dlerror() +
                             " (install libopenblas0)");
  g_blas.sgemm = reinterpret_cast<decltype(g_blas.sgemm)>(symbol(lib, "cblas_sgemm"));
  g_blas.set_num_threads =
      reinterpret_cast<decltype(g_blas.set_num_threads)>(symbol(lib, "openblas_set_num_threads"));
  g_blas.get_num_threads =
      reinterpret_cast<decltype(g_blas.get_num_threads)>(symbol(lib, "openblas_get_num_threads"));
  g_blas.get_corename =
      reinterpret_cast<decltype(g_blas.get_corename)>(symbol(lib, "openblas_get_corename"));
  g_blas.get_config =
      reinterpret_cast<decltype(g_blas.get_config)>(symbol(lib, "openblas_get_config"));
  g_blas.set_num_threads(1);
}

inline const Blas& blas() {
  gemm_init();  // after the first call, one atomic load
  return g_blas;
}

}  // namespace

void gemm_init() {
  std::call_once(g_once, open_blas);
}

std::string gemm_coretype_for_cpu() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

std::string gemm_backend() {
  const Blas& b = blas();
  // openblas_get_config: "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64".
  std::string config = b.get_config();
  std::string version = config.substr(0, config.find(' ', config.find(' ') + 1));
  return version + " " + b.get_corename() + " (" + b.coretype_note + ")";
}

void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  const Blas& b = blas();
  const CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  const int T = compute_threads();
  if (T <= 1 || in_parallel_region() || 2.0 * M * N * K < kSplitFlops) {
    b.sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Split the longer of M and N into T slabs; each C element is still one single-threaded
  // dot over all of K, so the result is the same on any number of threads.
  const bool split_m = M >= N;
  const int len = split_m ? M : N;
  const int step = std::max(kAlign, (len + T - 1) / T / kAlign * kAlign + kAlign);
  const int parts = (len + step - 1) / step;
  parallel_for(parts, [&](int i) {
    const int s0 = i * step, n = std::min(len, s0 + step) - s0;
    if (split_m)  // rows s0.. of op(A) and C
      b.sgemm(CblasRowMajor, TA, TB, n, N, K, alpha, ta ? A + s0 : A + (long)s0 * lda, lda, B, ldb,
              beta, C + (long)s0 * ldc, ldc);
    else  // columns s0.. of op(B) and C
      b.sgemm(CblasRowMajor, TA, TB, M, n, K, alpha, A, lda, tb ? B + (long)s0 * ldb : B + s0, ldb,
              beta, C + s0, ldc);
  });
}

void blas_set_threads(int num_threads) {
  blas().set_num_threads(num_threads);
}

int blas_get_threads() {
  return blas().get_num_threads();
}

}  // namespace aha
