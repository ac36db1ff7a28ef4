#include "kernels/gemm.h"

#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "kernels/invariant.h"
#include "kernels/parallel.h"

#if AHA_HAVE_ONEDNN
#include <immintrin.h>

#include <oneapi/dnnl/dnnl.hpp>
extern "C" void omp_set_num_threads(int);  // libgomp: oneDNN's threads on the calling thread
#endif

namespace aha {

namespace {

// GEMMs from this many flops up are split over the compute threads (below it a region's
// wake-up costs more than it saves). OpenBLAS itself always runs one thread: its own pool
// spin-waits between calls and would compete with aha's.
constexpr double kSplitFlops = 4e6;
constexpr int kBf16MinRowsPerPart = 32;  // two AMX tiles of rows
constexpr int kF32MinRowsPerPart = 16;   // one oneDNN fp32 row block
// fp32 GEMMs that oneDNN runs faster than OpenBLAS (measured per shape: experiments/README.md).
constexpr int kDnnlF32MaxDim = 4096;      // N, K past it (a vocabulary): OpenBLAS as fast or faster
constexpr int kDnnlF32MinRows = 8;        // below it (decode rows) OpenBLAS's GEMV-like kernels win
constexpr double kDnnlF32MinFlops = 1e6;  // below it oneDNN's per-call cost dominates
constexpr int kAlign = 16;                // split points on multiples of 16 rows / columns
constexpr long kWeightChunkSize = 1L << 16;  // elements of a weight cache converted together

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

namespace {

std::atomic<GemmPrecision> g_precision{GemmPrecision::kFp32};
std::atomic<bool> g_batch_invariant{false};

#if AHA_HAVE_ONEDNN
// clang-format off
// bf16 GEMMs through oneDNN's matmul primitive. Operands are converted into per-thread bf16
// buffers in their stored layout (op(A) as [M,K] "ab" or [K,M] "ba", op(B) as [K,N] "ab" or
// [N,K] "ba": both run on AMX in oneDNN 2.6, unlike strided ones), so a transpose costs nothing.
// C is written in place when ldc == N (alpha as output scale, beta as a sum post-op); otherwise
// (a column slab of a split GEMM) into a per-thread fp32 buffer, then C = alpha*T + beta*C.
// clang-format on
using bf16_t = uint16_t;

struct DnnlKey {
  int M = 0, N = 0, K = 0;
  bool ta = false, tb = false, direct = false;
  float alpha = 1, beta = 0;
  bool f32 = false;  // fp32 operands (kernels/gemm.h: fp32 through oneDNN)
  bool operator==(const DnnlKey& o) const {
    return M == o.M && N == o.N && K == o.K && ta == o.ta && tb == o.tb && direct == o.direct &&
           alpha == o.alpha && beta == o.beta && f32 == o.f32;
  }
};

struct DnnlEntry {
  bool used = false;
  DnnlKey key;
  dnnl::matmul prim;
  dnnl::memory::desc src, wei, dst;
  size_t scratch_bytes = 0;
  std::string impl;
};

// A fixed table: a run has a few hundred shapes at most (MoE experts add one per token count).
// Past it, primitives are made per call (oneDNN's own cache makes that ~50 us, not a JIT).
constexpr int kDnnlTable = 2048;

struct DnnlState {
  dnnl::engine eng;
  std::string impl;      // the implementation oneDNN picks, e.g. "brg:avx512_core_amx_bf16"
  std::string why;       // empty when bf16 runs natively
  std::string f32_impl;  // oneDNN's fp32 matmul here, e.g. "brg:avx512_core"
  bool f32_ok = false;   // fp32 GEMMs may go through oneDNN (a brgemm kernel, not a fallback)
  std::mutex mu;         // guards the table
  std::vector<DnnlEntry> table;
  std::atomic<int> num_entries{0};
};

struct DnnlThread {
  bool omp_set = false;
  std::vector<bf16_t> a, b;
  std::vector<float> c;
  std::vector<uint8_t> scratch;
  dnnl::stream strm;
};

thread_local DnnlThread t_dnnl;

void omp_one_thread() {
  if (!t_dnnl.omp_set) {
    omp_set_num_threads(1);  // per calling thread: aha's pool owns the cores
    t_dnnl.omp_set = true;
  }
}

DnnlEntry make_entry(DnnlState& st, const DnnlKey& k) {
  using dt = dnnl::memory::data_type;
  using ft = dnnl::memory::format_tag;
  DnnlEntry e;
  e.key = k;
  const dt in = k.f32 ? dt::f32 : dt::bf16;
  e.src = dnnl::memory::desc({k.M, k.K}, in, k.ta ? ft::ba : ft::ab);
  e.wei = dnnl::memory::desc({k.K, k.N}, in, k.tb ? ft::ba : ft::ab);
  e.dst = dnnl::memory::desc({k.M, k.N}, dt::f32, ft::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (k.alpha != 1.0f) attr.set_output_scales(0, {k.alpha});
  if (k.beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(k.beta);
    attr.set_post_ops(po);
  }
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(e.src, e.wei, e.dst), attr, st.eng);
  e.prim = dnnl::matmul(pd);
  e.scratch_bytes = pd.scratchpad_desc().get_size();
  e.impl = pd.impl_info_str();
  e.used = true;
  return e;
}

DnnlState& dnnl_state() {
  static DnnlState* st = [] {
    auto* s = new DnnlState;  // leaked on purpose: pool threads may run GEMMs at exit
    omp_one_thread();
    s->eng = dnnl::engine(dnnl::engine::kind::cpu, 0);
    s->table.resize(kDnnlTable);
    // What oneDNN picks for a model-sized shape says whether bf16 is native here.
    DnnlKey k{512, 512, 512, false, true, true, 1.0f, 0.0f};
    try {
      DnnlEntry e = make_entry(*s, k);
      s->impl = e.impl;
    } catch (const std::exception& ex) {
      s->why = std::string("oneDNN has no bf16 matmul here: ") + ex.what();
    }
    try {
      DnnlKey f{512, 512, 512, false, true, true, 1.0f, 0.0f, true};
      s->f32_impl = make_entry(*s, f).impl;
    } catch (const std::exception& ex) {
      s->f32_impl = std::string("none (") + ex.what() + ")";
    }
    const char* choice = std::getenv("AHA_GEMM_FP32");  // "openblas": every fp32 GEMM there
    s->f32_ok = s->f32_impl.rfind("brg:", 0) == 0 && !(choice && std::string(choice) == "openblas");
    if (s->why.empty() && s->impl.find("amx") == std::string::npos &&
        s->impl.find("avx512_core_bf16") == std::string::npos)
      s->why = "oneDNN's bf16 matmul here is '" + s->impl +
               "' (no AMX-BF16 or AVX512-BF16 on this CPU: emulated, slower than fp32)";
    return s;
  }();
  return *st;
}

// The primitive for key from the table (created on first use), or made into local when the
// table's probe window is full. Entries are never removed, so a pointer stays valid.
const DnnlEntry* dnnl_entry(DnnlState& st, const DnnlKey& key, DnnlEntry& local) {
  const size_t h = (static_cast<size_t>(key.M) * 73856093u) ^
                   (static_cast<size_t>(key.N) * 19349663u) ^
                   (static_cast<size_t>(key.K) * 83492791u) ^ (key.ta ? 1u : 0u) ^
                   (key.tb ? 2u : 0u) ^ (key.direct ? 4u : 0u) ^ (key.f32 ? 8u : 0u);
  std::lock_guard<std::mutex> lk(st.mu);
  for (int probe = 0; probe < 16; ++probe) {
    DnnlEntry& slot = st.table[(h + probe) % kDnnlTable];
    if (slot.used && slot.key == key) return &slot;
    if (!slot.used) {
      slot = make_entry(st, key);
      st.num_entries++;
      return &slot;
    }
  }
  local = make_entry(st, key);
  return &local;
}

// One matmul with the entry's primitive on this thread (user scratchpad, one OpenMP thread).
void dnnl_execute(DnnlState& st, const DnnlEntry& e, const void* a, const void* b, float* dst) {
  DnnlThread& th = t_dnnl;
  omp_one_thread();
  if (th.scratch.size() < e.scratch_bytes) th.scratch.resize(e.scratch_bytes);
  if (!th.strm) th.strm = dnnl::stream(st.eng);
  // oneDNN reads the sources only; its memory objects take non-const handles.
  dnnl::memory ms(e.src, st.eng, const_cast<void*>(a)), mw(e.wei, st.eng, const_cast<void*>(b)),
      md(e.dst, st.eng, dst);
  dnnl::memory mscr(dnnl::memory::desc({static_cast<dnnl::memory::dim>(e.scratch_bytes)},
                                       dnnl::memory::data_type::u8, dnnl::memory::format_tag::a),
                    st.eng, th.scratch.data());
  e.prim.execute(th.strm, {{DNNL_ARG_SRC, ms},
                           {DNNL_ARG_WEIGHTS, mw},
                           {DNNL_ARG_DST, md},
                           {DNNL_ARG_SCRATCHPAD, mscr}});
}

uint16_t bf16_round_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

__attribute__((target("avx512f,avx512bf16"))) void to_bf16_avx512(const float* x, bf16_t* y,
                                                                  long n) {
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), reinterpret_cast<const __m256i&>(v));
  }
  for (; i < n; ++i) y[i] = bf16_round_bits(x[i]);
}

// rows x cols of x (row stride ld) into y [rows, cols], rounded to bf16.
void to_bf16(const float* x, long ld, int rows, int cols, bf16_t* y) {
  static const bool avx512bf16 = __builtin_cpu_supports("avx512bf16");
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + r * ld;
    bf16_t* yr = y + static_cast<long>(r) * cols;
    if (avx512bf16) {
      to_bf16_avx512(xr, yr, cols);
    } else {
      for (int c = 0; c < cols; ++c) yr[c] = bf16_round_bits(xr[c]);
    }
  }
}

// op(A) and op(B) of run_bf16, stored rows x cols with row stride ld: fp32 (f) to convert, or
// already bf16 (h: a cached weight or an operand converted before the split).
struct Operand {
  const float* f = nullptr;
  const bf16_t* h = nullptr;
  int ld = 0;
  // The same operand from row r, column c of its stored layout.
  Operand at(long r, long c) const {
    Operand o = *this;
    if (f) o.f = f + r * ld + c;
    if (h) o.h = h + r * ld + c;
    return o;
  }
};

// The stored rows x cols of op as a contiguous bf16 matrix: op.h itself when it already is one,
// otherwise converted (fp32) or copied (strided bf16) into buf.
const bf16_t* contiguous_bf16(const Operand& op, int rows, int cols, std::vector<bf16_t>& buf) {
  if (op.h && (op.ld == cols || rows == 1)) return op.h;
  const size_t n = static_cast<size_t>(rows) * cols;
  if (buf.size() < n) buf.resize(n);
  if (op.h) {
    for (int r = 0; r < rows; ++r)
      std::memcpy(buf.data() + static_cast<size_t>(r) * cols, op.h + static_cast<long>(r) * op.ld,
                  sizeof(bf16_t) * cols);
  } else {
    to_bf16(op.f, op.ld, rows, cols, buf.data());
  }
  return buf.data();
}

void run_bf16(bool ta, bool tb, int M, int N, int K, float alpha, const Operand& A,
              const Operand& B, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // C = beta*C, as BLAS does (beta 0 writes zeros without reading C)
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j)
        C[static_cast<long>(i) * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(long)i * ldc + j];
    return;
  }
  DnnlState& st = dnnl_state();
  DnnlThread& th = t_dnnl;
  omp_one_thread();
  const bool direct = ldc == N;
  const DnnlKey key{M, N, K, ta, tb, direct, direct ? alpha : 1.0f, direct ? beta : 0.0f};
  DnnlEntry local;
  const DnnlEntry* e = dnnl_entry(st, key, local);
  // Stored layout kept: ta stores A as K rows of M, tb stores B as N rows of K.
  const bf16_t* a = contiguous_bf16(A, ta ? K : M, ta ? M : K, th.a);
  const bf16_t* b = contiguous_bf16(B, tb ? N : K, tb ? K : N, th.b);
  float* dst = C;
  if (!direct) {
    if (th.c.size() < static_cast<size_t>(M) * N) th.c.resize(static_cast<size_t>(M) * N);
    dst = th.c.data();
  }
  dnnl_execute(st, *e, a, b, dst);
  if (!direct) {
    for (int i = 0; i < M; ++i) {
      float* c = C + static_cast<long>(i) * ldc;
      const float* t = dst + static_cast<long>(i) * N;
      if (beta == 0.0f) {
        for (int j = 0; j < N; ++j) c[j] = alpha * t[j];
      } else {
        for (int j = 0; j < N; ++j) c[j] = alpha * t[j] + beta * c[j];
      }
    }
  }
}

#endif

// One single-threaded fp32 GEMM.
inline void gemm1(const Blas& b, bool ta, bool tb, int M, int N, int K, float alpha, const float* A,
                  int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  b.sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K,
          alpha, A, lda, B, ldb, beta, C, ldc);
}

// How sgemm splits a GEMM over the compute threads: T slabs of the longer of M and N (parts
// == 1: no split), on multiples of kAlign.
struct Split {
  bool split_m = true;
  int len = 0, step = 0, parts = 1;
};

// min_rows_per_part > 0: split rows whenever each part gets that many (bf16: a column slab
// writes C with a stride, which oneDNN runs off AMX, so it goes through a temporary).
Split split_for(int M, int N, int K, int min_rows_per_part = 0) {
  Split sp;
  const int T = compute_threads();
  if (T <= 1 || in_parallel_region() || 2.0 * M * N * K < kSplitFlops) return sp;
  sp.split_m = M >= N || (min_rows_per_part > 0 && M >= min_rows_per_part * T);
  sp.len = sp.split_m ? M : N;
  sp.step = std::max(kAlign, ((sp.len + T - 1) / T + kAlign - 1) / kAlign * kAlign);
  sp.parts = (sp.len + sp.step - 1) / sp.step;
  return sp;
}

#if AHA_HAVE_ONEDNN
// Whether an fp32 GEMM goes through oneDNN's brgemm matmul (kernels/gemm.h says where and why).
// Decided on the whole GEMM before any split, so a slab never changes backend.
bool dnnl_f32_for(bool ta, bool tb, int M, int N, int K, int lda, int ldb, int ldc) {
  if (ta || M < kDnnlF32MinRows || N > kDnnlF32MaxDim || K > kDnnlF32MaxDim) return false;
  if (2.0 * M * N * K < kDnnlF32MinFlops) return false;
  if (lda != K || ldb != (tb ? K : N) || ldc != N) return false;
  return dnnl_state().f32_ok;
}

void sgemm_f32_dnnl(bool tb, int M, int N, int K, float alpha, const float* A, const float* B,
                    float beta, float* C) {
  if (M <= 0) return;
  DnnlState& st = dnnl_state();
  auto run = [&](int m0, int m) {
    const DnnlKey key{m, N, K, false, tb, true, alpha, beta, true};
    DnnlEntry local;
    dnnl_execute(st, *dnnl_entry(st, key, local), A + static_cast<long>(m0) * K, B,
                 C + static_cast<long>(m0) * N);
  };
  // Rows only: a column slab writes C with a stride, which oneDNN runs with another kernel
  // (other roundings), so a GEMM too short to split by rows runs whole on this thread.
  const Split sp = split_for(M, N, K, kF32MinRowsPerPart);
  if (sp.parts <= 1 || !sp.split_m) {
    run(0, M);
    return;
  }
  parallel_for(sp.parts, [&](int i) {
    const int s0 = i * sp.step;
    run(s0, std::min(sp.len, s0 + sp.step) - s0);
  });
}
#endif

thread_local GemmWeightScope* t_scope = nullptr;

}  // namespace

// The bf16 copy of one fp32 buffer [n], and per chunk of kWeightChunkSize elements the
// generation it was converted at (stale when it differs from gen).
struct GemmWeightCopy {
  const float* base = nullptr;
  long n = 0;
  std::vector<uint16_t> bf16;
  std::vector<uint32_t> chunk_gen;
  uint32_t gen = 0;
  uint64_t last_used = 0;
};

namespace {

#if AHA_HAVE_ONEDNN
thread_local std::vector<long> t_stale;  // chunk indices cached_weight converts together

// op's bf16 copy when the stored rows x cols (stride ld) at f lie in this thread's weight scope,
// converting the stale chunks first; null otherwise.
const bf16_t* cached_weight(const float* f, int rows, int cols, int ld) {
  GemmWeightScope* sc = t_scope;
  if (!sc || !sc->copy || in_parallel_region() || rows <= 0 || cols <= 0) return nullptr;
  GemmWeightCopy& c = *sc->copy;
  if (f < c.base || f >= c.base + c.n) return nullptr;
  const long off = f - c.base, end = off + static_cast<long>(rows - 1) * ld + cols;
  if (end > c.n) return nullptr;
  const long c0 = off / kWeightChunkSize, c1 = (end - 1) / kWeightChunkSize;
  long num_stale = 0;
  for (long i = c0; i <= c1; ++i) num_stale += c.chunk_gen[i] != c.gen;
  if (num_stale > 0) {
    // The first stale touch after a refresh converts every stale chunk of the buffer, split
    // over the threads: a forward reads nearly all of its weights, and one expert's few chunks
    // converted here alone would leave the other threads idle.
    std::vector<long>& stale = t_stale;
    stale.clear();
    for (long i = 0; i < static_cast<long>(c.chunk_gen.size()); ++i)
      if (c.chunk_gen[i] != c.gen) stale.push_back(i);
    const int T = std::max(1, std::min(compute_threads(), static_cast<int>(stale.size())));
    parallel_for(T, [&](int t) {
      for (size_t j = static_cast<size_t>(t); j < stale.size(); j += static_cast<size_t>(T)) {
        const long e0 = stale[j] * kWeightChunkSize;
        const long len = std::min(c.n, e0 + kWeightChunkSize) - e0;
        to_bf16(c.base + e0, len, 1, static_cast<int>(len), c.bf16.data() + e0);
      }
    });
    for (long i : stale) c.chunk_gen[i] = c.gen;
  }
  return reinterpret_cast<const bf16_t*>(c.bf16.data()) + off;
}

// The caller thread's buffer for an operand every slab reads whole, converted once.
thread_local std::vector<bf16_t> t_shared;

void sgemm_bf16(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                const float* B, int ldb, float beta, float* C, int ldc) {
  const int ra = ta ? K : M, ca = ta ? M : K, rb = tb ? N : K, cb = tb ? K : N;
  Operand oa{A, cached_weight(A, ra, ca, lda), lda};
  Operand ob{B, cached_weight(B, rb, cb, ldb), ldb};
  const Split sp = split_for(M, N, K, kBf16MinRowsPerPart);
  if (sp.parts <= 1) {
    run_bf16(ta, tb, M, N, K, alpha, oa, ob, beta, C, ldc);
    return;
  }
  // The operand all slabs read whole, converted once here rather than once per slab.
  Operand& whole = sp.split_m ? ob : oa;
  const int rw = sp.split_m ? rb : ra, cw = sp.split_m ? cb : ca;
  if (!whole.h && rw > 0 && cw > 0) {
    const size_t n = static_cast<size_t>(rw) * cw;
    if (t_shared.size() < n) t_shared.resize(n);
    const int T = compute_threads(), rows = (rw + T - 1) / T;
    const float* f = whole.f;
    const int ld = whole.ld;
    bf16_t* dst = t_shared.data();  // this thread's buffer (thread_local), filled by all
    parallel_for(T, [&](int i) {
      const int r0 = i * rows, r1 = std::min(rw, r0 + rows);
      if (r0 < r1)
        to_bf16(f + static_cast<long>(r0) * ld, ld, r1 - r0, cw,
                dst + static_cast<size_t>(r0) * cw);
    });
    whole = Operand{nullptr, dst, cw};
  }
  parallel_for(sp.parts, [&](int i) {
    const int s0 = i * sp.step, n = std::min(sp.len, s0 + sp.step) - s0;
    if (sp.split_m)  // rows s0.. of op(A) and C
      run_bf16(ta, tb, n, N, K, alpha, ta ? oa.at(0, s0) : oa.at(s0, 0), ob, beta,
               C + (long)s0 * ldc, ldc);
    else  // columns s0.. of op(B) and C
      run_bf16(ta, tb, M, n, K, alpha, oa, tb ? ob.at(s0, 0) : ob.at(0, s0), beta, C + s0, ldc);
  });
}
#endif

}  // namespace

bool gemm_bf16_supported(std::string* why) {
#if AHA_HAVE_ONEDNN
  DnnlState& st = dnnl_state();
  if (why) *why = st.why;
  return st.why.empty();
#else
  if (why) *why = "this build has no oneDNN (libdnnl-dev)";
  return false;
#endif
}

void gemm_set_precision(GemmPrecision p) {
  std::string why;
  if (p == GemmPrecision::kBf16 && g_batch_invariant)
    throw std::runtime_error("gemm precision bf16: the batch-invariant mode runs fp32 only");
  if (p == GemmPrecision::kBf16 && !gemm_bf16_supported(&why))
    throw std::runtime_error("gemm precision bf16: " + why + "; use fp32");
  g_precision = p;
}

void gemm_set_batch_invariant(bool on) {
  if (on && g_precision == GemmPrecision::kBf16)
    throw std::runtime_error("the batch-invariant mode runs fp32 GEMMs only, not bf16");
  g_batch_invariant = on;
}

bool gemm_batch_invariant() {
  return g_batch_invariant.load(std::memory_order_relaxed);
}

GemmPrecision gemm_precision() {
  return g_precision;
}

const char* gemm_precision_name(GemmPrecision p) {
  return p == GemmPrecision::kBf16 ? "bf16" : "fp32";
}

GemmPrecision gemm_precision_parse(const std::string& s) {
  if (s == "fp32") return GemmPrecision::kFp32;
  if (s == "bf16") return GemmPrecision::kBf16;
  throw std::runtime_error("gemm precision '" + s + "': fp32 or bf16");
}

void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  if (g_batch_invariant.load(std::memory_order_relaxed)) {
    sgemm_invariant(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  sgemm_gradient(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_gradient(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                    const float* B, int ldb, float beta, float* C, int ldc) {
  const Blas& b = blas();
#if AHA_HAVE_ONEDNN
  if (g_precision.load(std::memory_order_relaxed) == GemmPrecision::kBf16) {
    sgemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
#if AHA_HAVE_ONEDNN
  if (dnnl_f32_for(ta, tb, M, N, K, lda, ldb, ldc)) {
    sgemm_f32_dnnl(tb, M, N, K, alpha, A, B, beta, C);
    return;
  }
#endif
  const Split sp = split_for(M, N, K);
  if (sp.parts <= 1) {
    gemm1(b, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Each C element is still one single-threaded dot over all of K, so the result is the same
  // on any number of threads.
  parallel_for(sp.parts, [&](int i) {
    const int s0 = i * sp.step, n = std::min(sp.len, s0 + sp.step) - s0;
    if (sp.split_m)  // rows s0.. of op(A) and C
      gemm1(b, ta, tb, n, N, K, alpha, ta ? A + s0 : A + (long)s0 * lda, lda, B, ldb, beta,
            C + (long)s0 * ldc, ldc);
    else  // columns s0.. of op(B) and C
      gemm1(b, ta, tb, M, n, K, alpha, A, lda, tb ? B + (long)s0 * ldb : B + s0, ldb, beta, C + s0,
            ldc);
  });
}

namespace {
std::mutex g_copies_mu;  // guards the table; a copy is used by one scope's thread at a time
GemmWeightCopy g_copies[kGemmWeightCopies];
uint64_t g_copies_tick = 0;
}  // namespace

GemmWeightScope::GemmWeightScope(const float* base, long n, bool refresh) : prev(t_scope) {
  t_scope = this;
  if (gemm_precision() != GemmPrecision::kBf16 || !base || n <= 0) return;
  std::lock_guard<std::mutex> lk(g_copies_mu);
  GemmWeightCopy* c = nullptr;
  for (GemmWeightCopy& e : g_copies)
    if (e.base == base && e.n == n) c = &e;
  if (!c) {  // a free slot, else the least recently used one
    c = &g_copies[0];
    for (GemmWeightCopy& e : g_copies)
      if (e.last_used < c->last_used) c = &e;
    c->base = base;
    c->n = n;
    c->bf16.assign(static_cast<size_t>(n), 0);  // once per buffer: later scopes reuse it
    c->chunk_gen.assign(static_cast<size_t>((n + kWeightChunkSize - 1) / kWeightChunkSize), 0u);
    c->gen = 1;
  } else if (refresh && ++c->gen == 0) {  // wrapped: every chunk stale again
    std::fill(c->chunk_gen.begin(), c->chunk_gen.end(), 0u);
    c->gen = 1;
  }
  c->last_used = ++g_copies_tick;
  copy = c;
}

GemmWeightScope::~GemmWeightScope() {
  t_scope = prev;
}

std::string gemm_backend() {
  if (g_batch_invariant)
    return std::string("aha batch-invariant fp32 (a fixed-order dot per element: 16 lanes of ") +
           "fused multiply-adds, one tree; " + invariant_isa_name() + ")";
  const Blas& b = blas();
#if AHA_HAVE_ONEDNN
  if (g_precision == GemmPrecision::kBf16) {
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + " bf16 (" + dnnl_state().impl + "), fp32 accumulation";
  }
#endif
  // openblas_get_config: "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64".
  std::string config = b.get_config();
  std::string version = config.substr(0, config.find(' ', config.find(' ') + 1));
  std::string name = version + " " + b.get_corename() + " (" + b.coretype_note + ")";
#if AHA_HAVE_ONEDNN
  DnnlState& st = dnnl_state();
  if (st.f32_ok) {
    const dnnl_version_t* v = dnnl_version();
    name = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + " fp32 (" + st.f32_impl + ") + " + name;
  }
#endif
  return name;
}

void blas_set_threads(int num_threads) {
  blas().set_num_threads(num_threads);
}

int blas_get_threads() {
  return blas().get_num_threads();
}

}  // namespace aha
