// The CUDA emulator's host side: the fiber scheduler behind cuemu::launch, the subset of the CUDA
// runtime, cuBLAS and cuBLASLt that aha calls, on host memory (tests/cuda_emu/cuemu.h states the
// invariants). Errors a GPU reports asynchronously (a bad launch configuration) become the
// thread's last error; misuse a GPU would hang or corrupt on (a warp collective a lane skips)
// aborts with a message.
#include <cublasLt.h>
#include <cublas_v2.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuemu.h"

// AddressSanitizer follows the switches between fiber stacks (AHA_SANITIZE builds).
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define CUEMU_ASAN 1
#else
#define CUEMU_ASAN 0
#endif

struct CUstream_st {
  bool capturing = false;
  bool invalidated = false;
  std::vector<std::function<void()>>* graph = nullptr;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point t;
};
struct CUgraph_st {
  std::vector<std::function<void()>> nodes;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> nodes;
};

namespace cuemu {
namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "cuemu: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// ---- errors, allocations, capture ---------------------------------------------------------

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local CUstream_st* t_capturing =
    nullptr;  // the stream this thread captures (thread-local mode)
std::mutex g_mem_mu;
std::map<uintptr_t, size_t> g_allocs;  // device allocations: base -> bytes
size_t g_alloc_bytes = 0;

cudaError_t fail(cudaError_t e) {
  t_last_error = e;
  return e;
}

// Whether [p, p + n) lies in one device allocation.
bool is_device(const void* p, size_t n) {
  std::lock_guard<std::mutex> lk(g_mem_mu);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_allocs.upper_bound(a);
  if (it == g_allocs.begin()) return false;
  --it;
  return a >= it->first && a + n <= it->first + it->second;
}

// A synchronous call while this thread captures: refused, and the capture is spoilt, as CUDA
// does in its thread-local capture mode.
bool refuse_in_capture() {
  if (!t_capturing) return false;
  t_capturing->invalidated = true;
  t_last_error = cudaErrorStreamCaptureUnsupported;
  return true;
}

// Runs `op` now, or records it when `s` is being captured.
cudaError_t on_stream(cudaStream_t s, std::function<void()> op) {
  if (s && s->capturing) {
    s->graph->push_back(std::move(op));
    return cudaSuccess;
  }
  if (!s && t_capturing) {  // the legacy stream during a capture: an implicit synchronisation
    refuse_in_capture();
    return cudaErrorStreamCaptureImplicit;
  }
  op();
  return cudaSuccess;
}

// ---- fibers ---------------------------------------------------------------------------------

constexpr size_t kStackBytes = 256 << 10;
enum State { kRun, kBarrier, kWarp, kDone };

// A fiber is made once (makecontext) and then switched with _setjmp/_longjmp, which save no
// signal mask: swapcontext's two system calls per switch made the emulator ten times slower.
// Its loop runs the current launch's body once per block it is armed for.
struct Fiber {
  ucontext_t ctx;
  jmp_buf jb;
  bool started = false;
  void* asan_fake = nullptr;  // ASan's fake stack of this fiber while it is switched out
  char* stack = nullptr;
  State state = kDone;
  uint3 tid{};
  unsigned mask = 0;
  Blob in{}, out{};
  CollectiveFn fn = nullptr;
  struct Copy16 {
    void* dst;
    const void* src;
  };
  std::vector<Copy16> open_copies;               // cp.async since the last commit
  std::vector<std::vector<Copy16>> copy_groups;  // committed, oldest first
};

struct Exec {
  std::vector<Fiber> fibers;  // kept between launches
  jmp_buf sched;
  void* asan_sched_fake = nullptr;  // the scheduler's stack, for ASan's switch annotations
  const void* sched_bottom = nullptr;
  size_t sched_size = 0;
  Fiber* cur = nullptr;
  ThreadIds ids{};
  const std::function<void()>* body = nullptr;
  std::vector<unsigned char> dyn;  // dynamic shared memory
  unsigned char* dyn_aligned = nullptr;
};

std::mutex g_kernel_mu;  // one kernel body at a time: __shared__ statics belong to it
Exec g_exec;

Fiber& self() {
  return *g_exec.cur;
}

// Called first thing on a fiber's stack after every switch to it.
void arrived_on_fiber(Fiber& f) {
#if CUEMU_ASAN
  __sanitizer_finish_switch_fiber(f.asan_fake, &g_exec.sched_bottom, &g_exec.sched_size);
#else
  (void)f;
#endif
}

void yield_to_scheduler() {
  Fiber& f = self();
  if (_setjmp(f.jb) == 0) {
#if CUEMU_ASAN
    __sanitizer_start_switch_fiber(&f.asan_fake, g_exec.sched_bottom, g_exec.sched_size);
#endif
    _longjmp(g_exec.sched, 1);
  }
  arrived_on_fiber(*g_exec.cur);
  g_exec.ids.thread_idx = g_exec.cur->tid;
}

std::string where();

void fiber_main() {
  arrived_on_fiber(*g_exec.cur);
  for (;;) {
    (*g_exec.body)();
    if (!g_exec.cur->open_copies.empty() || !g_exec.cur->copy_groups.empty())
      die(where() + ": a thread exits with cp.async copies it never waited for");
    g_exec.cur->state = kDone;
    yield_to_scheduler();  // parked until armed for the next block
  }
}

// Runs fiber f until it yields.
void resume(Fiber& f) {
  g_exec.cur = &f;
  g_exec.ids.thread_idx = f.tid;
  if (_setjmp(g_exec.sched) != 0) {
#if CUEMU_ASAN
    __sanitizer_finish_switch_fiber(g_exec.asan_sched_fake, nullptr, nullptr);
#endif
    return;
  }
#if CUEMU_ASAN
  __sanitizer_start_switch_fiber(&g_exec.asan_sched_fake, f.stack, kStackBytes);
#endif
  if (f.started) _longjmp(f.jb, 1);
  f.started = true;
  setcontext(&f.ctx);
  die("setcontext failed");
}

std::string where() {
  const ThreadIds& i = g_exec.ids;
  return "block (" + std::to_string(i.block_idx.x) + "," + std::to_string(i.block_idx.y) + "," +
         std::to_string(i.block_idx.z) + ")";
}

// Completes the warp collectives whose lanes are all there; false when none could.
bool resolve_warps(int n) {
  bool any = false;
  for (int w0 = 0; w0 < n; w0 += 32) {
    int first = -1;
    for (int l = 0; l < 32 && w0 + l < n; l++)
      if (g_exec.fibers[w0 + l].state == kWarp) {
        first = l;
        break;
      }
    if (first < 0) continue;
    const unsigned mask = g_exec.fibers[w0 + first].mask;
    bool ready = true;
    for (int l = 0; l < 32; l++) {
      if (!(mask >> l & 1u)) continue;
      if (w0 + l >= n)
        die(where() + ": a warp collective's mask names lane " + std::to_string(l) +
            ", past the block's threads");
      const Fiber& f = g_exec.fibers[w0 + l];
      if (f.state == kDone)
        die(where() + ": a warp collective's mask names lane " + std::to_string(l) + " of warp " +
            std::to_string(w0 / 32) + ", which has exited");
      if (f.state == kBarrier)
        die(where() + ": lane " + std::to_string(l) + " of warp " + std::to_string(w0 / 32) +
            " waits at __syncthreads while its warp waits for it in a collective");
      if (f.state != kWarp)
        ready = false;
      else if (f.mask != mask)
        die(where() + ": lanes of warp " + std::to_string(w0 / 32) +
            " wait in collectives with different masks");
    }
    if (!ready) continue;
    Blob in[32], out[32];
    for (int l = 0; l < 32; l++)
      if (mask >> l & 1u) in[l] = g_exec.fibers[w0 + l].in;
    g_exec.fibers[w0 + first].fn(in, out, mask);
    for (int l = 0; l < 32; l++)
      if (mask >> l & 1u) {
        g_exec.fibers[w0 + l].out = out[l];
        g_exec.fibers[w0 + l].state = kRun;
      }
    any = true;
  }
  return any;
}

void run_block(int n) {
  for (int i = 0; i < n; i++) {
    Fiber& f = g_exec.fibers[i];
    if (!f.stack) {
      void* p = mmap(nullptr, kStackBytes + 4096, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) die("no memory for a fiber stack");
      mprotect(p, 4096, PROT_NONE);  // a guard page: a stack overflow faults
      f.stack = static_cast<char*>(p) + 4096;
      getcontext(&f.ctx);
      f.ctx.uc_stack.ss_sp = f.stack;
      f.ctx.uc_stack.ss_size = kStackBytes;
      f.ctx.uc_link = nullptr;
      makecontext(&f.ctx, fiber_main, 0);
    }
    f.state = kRun;
    const dim3& b = g_exec.ids.block_dim;
    f.tid = uint3{static_cast<unsigned>(i) % b.x, static_cast<unsigned>(i) / b.x % b.y,
                  static_cast<unsigned>(i) / (b.x * b.y)};
  }
  int live = n;
  while (live > 0) {
    bool ran = false;
    for (int i = 0; i < n; i++) {
      Fiber& f = g_exec.fibers[i];
      if (f.state != kRun) continue;
      resume(f);
      if (f.state == kDone) live--;
      ran = true;
    }
    if (ran || live == 0) continue;
    if (resolve_warps(n)) continue;
    bool all_barrier = true;
    for (int i = 0; i < n; i++)
      if (g_exec.fibers[i].state == kWarp) all_barrier = false;
    if (!all_barrier) die(where() + ": warp collectives wait for lanes that never come");
    for (int i = 0; i < n; i++)
      if (g_exec.fibers[i].state == kBarrier) g_exec.fibers[i].state = kRun;
  }
}

std::mutex g_attr_mu;
std::map<const void*, int> g_max_dyn_smem;  // cudaFuncAttributeMaxDynamicSharedMemorySize

void run_launch(dim3 grid, dim3 block, size_t dyn_smem, const std::function<void()>& body) {
  std::lock_guard<std::mutex> lk(g_kernel_mu);
  const int n = static_cast<int>(block.x * block.y * block.z);
  if (static_cast<int>(g_exec.fibers.size()) < n) g_exec.fibers.resize(n);
  g_exec.dyn.assign(dyn_smem + 16, 0);
  g_exec.dyn_aligned = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<uintptr_t>(g_exec.dyn.data()) + 15) & ~uintptr_t{15});
  g_exec.body = &body;
  g_exec.ids.block_dim = block;
  g_exec.ids.grid_dim = grid;
  for (unsigned z = 0; z < grid.z; z++)
    for (unsigned y = 0; y < grid.y; y++)
      for (unsigned x = 0; x < grid.x; x++) {
        g_exec.ids.block_idx = uint3{x, y, z};
        run_block(n);
      }
  g_exec.cur = nullptr;
}

}  // namespace

const ThreadIds& ids() {
  return g_exec.ids;
}

cudaError_t on_stream_public(cudaStream_t stream, std::function<void()> op) {
  return on_stream(stream, std::move(op));
}

void* dynamic_shared() {
  return g_exec.dyn_aligned;
}

unsigned lane_id() {
  const ThreadIds& i = g_exec.ids;
  const unsigned linear =
      i.thread_idx.x + i.block_dim.x * (i.thread_idx.y + i.block_dim.y * i.thread_idx.z);
  return linear % 32;
}

void sync_block() {
  self().state = kBarrier;
  yield_to_scheduler();
}

Blob warp_collective(unsigned mask, const Blob& in, CollectiveFn fn) {
  Fiber& f = self();
  if (!(mask >> lane_id() & 1u))
    die(where() + ": a lane calls a warp collective whose mask leaves it out");
  f.in = in;
  f.fn = fn;
  f.mask = mask;
  f.state = kWarp;
  yield_to_scheduler();
  return self().out;
}

void shuffle_fn(const Blob (&in)[32], Blob (&out)[32], unsigned mask) {
  for (int l = 0; l < 32; l++) {
    if (!(mask >> l & 1u)) continue;
    int src;
    std::memcpy(&src, in[l].b, sizeof src);
    // A source outside the mask gives an undefined value on a GPU: this lane's own.
    out[l] = (src >= 0 && src < 32 && (mask >> src & 1u)) ? in[src] : in[l];
  }
}

void launch_erased(dim3 grid, dim3 block, size_t dyn_smem, cudaStream_t stream, const void* kernel,
                   std::function<void()> body) {
  const unsigned long threads = static_cast<unsigned long>(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535) {
    fail(cudaErrorInvalidConfiguration);
    return;
  }
  int limit = 48 << 10;
  {
    std::lock_guard<std::mutex> lk(g_attr_mu);
    auto it = g_max_dyn_smem.find(kernel);
    if (it != g_max_dyn_smem.end()) limit = std::max(limit, it->second);
  }
  if (dyn_smem > static_cast<size_t>(limit)) {
    fail(cudaErrorInvalidValue);  // as CUDA: more than the kernel's attribute allows
    return;
  }
  on_stream(stream, [grid, block, dyn_smem, body = std::move(body)] {
    run_launch(grid, block, dyn_smem, body);
  });
}

// ---- mma.sync m16n8k16 bf16 (attention.cu's fragment layout) ---------------------------------

namespace {
float bf16_lo(uint32_t r) {
  return __uint_as_float(r << 16);
}
float bf16_hi(uint32_t r) {
  return __uint_as_float(r & 0xffff0000u);
}
struct MmaIn {
  uint32_t a[4], b[2];
  float c[4];
};
void mma_fn(const Blob (&in)[32], Blob (&out)[32], unsigned mask) {
  if (mask != 0xffffffffu) die(where() + ": mma.sync needs the whole warp");
  float A[16][16], B[16][8], C[16][8];
  for (int lane = 0; lane < 32; lane++) {
    const MmaIn v = from_blob<MmaIn>(in[lane]);
    const int g = lane / 4, t = lane % 4;
    A[g][2 * t] = bf16_lo(v.a[0]);
    A[g][2 * t + 1] = bf16_hi(v.a[0]);
    A[g + 8][2 * t] = bf16_lo(v.a[1]);
    A[g + 8][2 * t + 1] = bf16_hi(v.a[1]);
    A[g][2 * t + 8] = bf16_lo(v.a[2]);
    A[g][2 * t + 9] = bf16_hi(v.a[2]);
    A[g + 8][2 * t + 8] = bf16_lo(v.a[3]);
    A[g + 8][2 * t + 9] = bf16_hi(v.a[3]);
    B[2 * t][g] = bf16_lo(v.b[0]);
    B[2 * t + 1][g] = bf16_hi(v.b[0]);
    B[2 * t + 8][g] = bf16_lo(v.b[1]);
    B[2 * t + 9][g] = bf16_hi(v.b[1]);
    C[g][2 * t] = v.c[0];
    C[g][2 * t + 1] = v.c[1];
    C[g + 8][2 * t] = v.c[2];
    C[g + 8][2 * t + 1] = v.c[3];
  }
  float D[16][8];
  for (int i = 0; i < 16; i++)
    for (int j = 0; j < 8; j++) {
      float s = 0.0f;
      for (int k = 0; k < 16; k++) s += A[i][k] * B[k][j];
      D[i][j] = C[i][j] + s;
    }
  for (int lane = 0; lane < 32; lane++) {
    const int g = lane / 4, t = lane % 4;
    const float d[4] = {D[g][2 * t], D[g][2 * t + 1], D[g + 8][2 * t], D[g + 8][2 * t + 1]};
    out[lane] = to_blob(d);
  }
}
}  // namespace

// ---- ldmatrix and cp.async ---------------------------------------------------------------------

namespace {
// [begin, begin + bytes) lies inside the running launch's dynamic shared memory.
bool in_dynamic_shared(const void* begin, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(begin);
  const unsigned char* lo = g_exec.dyn_aligned;
  const unsigned char* hi = g_exec.dyn.data() + g_exec.dyn.size();
  return p >= lo && p + bytes <= hi;
}
uint16_t half_at(const Blob& b, int col) {
  const unsigned char* row;
  std::memcpy(&row, b.b + 8, sizeof row);
  uint16_t v;
  std::memcpy(&v, row + 2 * col, sizeof v);
  return v;
}
// Matrix i's row j comes from lane 8i + j. Lane l = 4g + t holds row g, columns 2t, 2t + 1;
// transposed, column g, rows 2t, 2t + 1 (the lower index in the lower half).
template <bool kTrans>
void ldmatrix_fn(const Blob (&in)[32], Blob (&out)[32], unsigned mask) {
  if (mask != 0xffffffffu) die(where() + ": ldmatrix needs the whole warp");
  for (int l = 0; l < 32; l++) {
    const void* row;
    std::memcpy(&row, in[l].b + 8, sizeof row);
    if (reinterpret_cast<uintptr_t>(row) % 16 != 0 || !in_dynamic_shared(row, 16))
      die(where() + ": ldmatrix row address of lane " + std::to_string(l) +
          " is not a 16-byte aligned row of dynamic shared memory");
  }
  for (int l = 0; l < 32; l++) {
    const int g = l / 4, t = l % 4;
    std::array<uint32_t, 4> r;
    for (int i = 0; i < 4; i++) {
      uint32_t lo, hi;
      if (kTrans) {
        lo = half_at(in[8 * i + 2 * t], g);
        hi = half_at(in[8 * i + 2 * t + 1], g);
      } else {
        lo = half_at(in[8 * i + g], 2 * t);
        hi = half_at(in[8 * i + g], 2 * t + 1);
      }
      r[i] = lo | hi << 16;
    }
    out[l] = to_blob(r);
  }
}
}  // namespace

void ldmatrix_x4(uint32_t (&r)[4], const void* row, bool trans) {
  const Blob b =
      warp_collective(0xffffffffu, to_blob(row), trans ? ldmatrix_fn<true> : ldmatrix_fn<false>);
  const auto v = from_blob<std::array<uint32_t, 4>>(b);
  for (int i = 0; i < 4; i++) r[i] = v[i];
}

void cp_async_16(void* dst, const void* src) {
  if (reinterpret_cast<uintptr_t>(dst) % 16 != 0 || !in_dynamic_shared(dst, 16))
    die(where() + ": cp.async destination is not 16 aligned bytes of dynamic shared memory");
  if (reinterpret_cast<uintptr_t>(src) % 16 != 0)
    die(where() + ": cp.async source is not 16-byte aligned");
  self().open_copies.push_back({dst, src});
}

void cp_async_commit() {
  Fiber& f = self();
  f.copy_groups.push_back(std::move(f.open_copies));
  f.open_copies.clear();
}

void cp_async_wait(int pending) {
  Fiber& f = self();
  const size_t keep = static_cast<size_t>(std::max(pending, 0));
  size_t land = f.copy_groups.size() > keep ? f.copy_groups.size() - keep : 0;
  for (size_t i = 0; i < land; i++)
    for (const Fiber::Copy16& c : f.copy_groups[i]) std::memcpy(c.dst, c.src, 16);
  f.copy_groups.erase(f.copy_groups.begin(), f.copy_groups.begin() + land);
}

void mma_m16n8k16_bf16(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  MmaIn v;
  std::memcpy(v.a, a, sizeof v.a);
  std::memcpy(v.b, b, sizeof v.b);
  std::memcpy(v.c, c, sizeof v.c);
  const Blob r = warp_collective(0xffffffffu, to_blob(v), mma_fn);
  const auto d = from_blob<std::array<float, 4>>(r);
  for (int i = 0; i < 4; i++) c[i] = d[i];
}

}  // namespace cuemu

// ---- warp votes ------------------------------------------------------------------------------

namespace {
void ballot_fn(const cuemu::Blob (&in)[32], cuemu::Blob (&out)[32], unsigned mask) {
  unsigned bits = 0;
  for (int l = 0; l < 32; l++)
    if ((mask >> l & 1u) && cuemu::from_blob<int>(in[l])) bits |= 1u << l;
  for (int l = 0; l < 32; l++)
    if (mask >> l & 1u) out[l] = cuemu::to_blob(bits);
}
}  // namespace

void __syncwarp(unsigned mask) {
  cuemu::warp_collective(mask, cuemu::Blob{}, ballot_fn);
}
unsigned __ballot_sync(unsigned mask, int pred) {
  return cuemu::from_blob<unsigned>(
      cuemu::warp_collective(mask, cuemu::to_blob(pred != 0 ? 1 : 0), ballot_fn));
}
int __any_sync(unsigned mask, int pred) {
  return __ballot_sync(mask, pred) != 0;
}
int __all_sync(unsigned mask, int pred) {
  return __ballot_sync(mask, pred) == mask;
}

// ---- the CUDA runtime -------------------------------------------------------------------------

using cuemu::fail;
using cuemu::is_device;
using cuemu::on_stream;
using cuemu::refuse_in_capture;

extern "C" {

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = cuemu::t_last_error;
  cuemu::t_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) {
  return cuemu::t_last_error;
}
const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorNotSupported:
      return "cudaErrorNotSupported";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit:
      return "cudaErrorStreamCaptureImplicit";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
    default:
      return "cudaError (emulated)";
  }
}
const char* cudaGetErrorString(cudaError_t e) {
  return cudaGetErrorName(e);
}
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceCanAccessPeer(int* can, int, int) {
  *can = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceEnablePeerAccess(int, unsigned int) {
  return fail(cudaErrorInvalidDevice);
}

cudaError_t cudaMalloc(void** p, size_t size) {
  if (refuse_in_capture()) return cudaErrorStreamCaptureUnsupported;
  *p = nullptr;
  if (size == 0) return cudaSuccess;
  void* m = std::aligned_alloc(256, (size + 255) / 256 * 256);
  if (!m) return fail(cudaErrorMemoryAllocation);
  std::memset(m, 0xA5, size);  // device memory is not zeroed: make reads before writes visible
  std::lock_guard<std::mutex> lk(cuemu::g_mem_mu);
  cuemu::g_allocs[reinterpret_cast<uintptr_t>(m)] = size;
  cuemu::g_alloc_bytes += size;
  *p = m;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  if (refuse_in_capture()) return cudaErrorStreamCaptureUnsupported;
  {
    std::lock_guard<std::mutex> lk(cuemu::g_mem_mu);
    auto it = cuemu::g_allocs.find(reinterpret_cast<uintptr_t>(p));
    if (it == cuemu::g_allocs.end()) return fail(cudaErrorInvalidValue);
    cuemu::g_alloc_bytes -= it->second;
    cuemu::g_allocs.erase(it);
  }
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t size) {
  *p = std::aligned_alloc(4096, (size + 4095) / 4096 * 4096);
  return *p || size == 0 ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaHostRegister(void*, size_t, unsigned int) {
  return cudaSuccess;
}
cudaError_t cudaHostUnregister(void*) {
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  const size_t total = size_t{16} << 30;
  std::lock_guard<std::mutex> lk(cuemu::g_mem_mu);
  *total_bytes = total;
  *free_bytes = total > cuemu::g_alloc_bytes ? total - cuemu::g_alloc_bytes : 0;
  return cudaSuccess;
}

}  // extern "C"

namespace {
// A copy's direction checked against where its ends live, as the driver does.
cudaError_t check_copy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  if (n == 0) return cudaSuccess;
  const bool dd = is_device(dst, n), sd = is_device(src, n);
  bool ok = true;
  switch (kind) {
    case cudaMemcpyHostToDevice:
      ok = dd && !sd;
      break;
    case cudaMemcpyDeviceToHost:
      ok = sd && !dd;
      break;
    case cudaMemcpyDeviceToDevice:
      ok = dd && sd;
      break;
    case cudaMemcpyHostToHost:
      ok = !dd && !sd;
      break;
    default:
      break;
  }
  if (!ok) {
    std::fprintf(stderr, "cuemu: a copy of %zu bytes (kind %d) between %s %p and %s %p\n", n,
                 static_cast<int>(kind), dd ? "device" : "host", dst, sd ? "device" : "host", src);
    return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}
}  // namespace

extern "C" {

cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  if (refuse_in_capture()) return cudaErrorStreamCaptureUnsupported;
  if (const cudaError_t e = check_copy(dst, src, n, kind)) return e;
  if (n) std::memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind,
                            cudaStream_t s) {
  if (const cudaError_t e = check_copy(dst, src, n, kind)) return e;
  return on_stream(s, [=] {
    if (n) std::memmove(dst, src, n);
  });
}
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind, cudaStream_t s) {
  if (width > dpitch || width > spitch) return fail(cudaErrorInvalidValue);
  for (size_t r = 0; r < height; r++)
    if (const cudaError_t e = check_copy(static_cast<char*>(dst) + r * dpitch,
                                         static_cast<const char*>(src) + r * spitch, width, kind))
      return e;
  return on_stream(s, [=] {
    for (size_t r = 0; r < height; r++)
      std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch,
                   width);
  });
}
cudaError_t cudaMemset(void* p, int v, size_t n) {
  if (refuse_in_capture()) return cudaErrorStreamCaptureUnsupported;
  if (n && !is_device(p, n)) return fail(cudaErrorInvalidValue);
  std::memset(p, v, n);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t s) {
  if (n && !is_device(p, n)) return fail(cudaErrorInvalidValue);
  return on_stream(s, [=] { std::memset(p, v, n); });
}

cudaError_t cudaDeviceSynchronize(void) {
  if (refuse_in_capture()) return cudaErrorStreamCaptureUnsupported;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) {
  if (refuse_in_capture()) return cudaErrorStreamCaptureUnsupported;
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int) {
  *s = new CUstream_st;
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* s) {
  return cudaStreamCreateWithFlags(s, 0);
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* st) {
  *st = s && s->capturing
            ? (s->invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive)
            : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
  if (!s || s->capturing || cuemu::t_capturing) return fail(cudaErrorIllegalState);
  s->capturing = true;
  s->invalidated = false;
  s->graph = new std::vector<std::function<void()>>;
  cuemu::t_capturing = s;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g) {
  if (!s || !s->capturing) return fail(cudaErrorIllegalState);
  s->capturing = false;
  cuemu::t_capturing = nullptr;
  std::vector<std::function<void()>>* nodes = s->graph;
  s->graph = nullptr;
  if (s->invalidated) {
    delete nodes;
    *g = nullptr;
    return fail(cudaErrorStreamCaptureInvalidated);
  }
  *g = new CUgraph_st{std::move(*nodes)};
  delete nodes;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long) {
  if (!g) return fail(cudaErrorInvalidValue);
  *e = new CUgraphExec_st{g->nodes};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s) {
  if (!e) return fail(cudaErrorInvalidValue);
  return on_stream(s, [e] {
    for (const auto& n : e->nodes) n();
  });
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int) {
  return cudaEventCreate(e);
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  return on_stream(s, [e] { e->t = std::chrono::steady_clock::now(); });
}
cudaError_t cudaEventSynchronize(cudaEvent_t) {
  if (refuse_in_capture()) return cudaErrorStreamCaptureUnsupported;
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr attr, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMultiProcessorCount:
      *v = 132;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *v = 9;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *v = 0;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *v = 232448;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *v = 49152;
      break;
    case cudaDevAttrMaxThreadsPerBlock:
      *v = 1024;
      break;
    case cudaDevAttrWarpSize:
      *v = 32;
      break;
    default:
      *v = 0;
      break;
  }
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "cuemu (CUDA emulated on the CPU)");
  p->totalGlobalMem = size_t{16} << 30;
  p->multiProcessorCount = 132;
  p->major = 9;
  p->minor = 0;
  p->sharedMemPerBlock = 49152;
  p->sharedMemPerBlockOptin = 232448;
  p->maxThreadsPerBlock = 1024;
  p->warpSize = 32;
  return cudaSuccess;
}
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value > 232448) return fail(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> lk(cuemu::g_attr_mu);
    cuemu::g_max_dyn_smem[func] = value;
  }
  return cudaSuccess;
}
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* a, const void*) {
  *a = cudaFuncAttributes{};
  a->maxThreadsPerBlock = 1024;
  a->numRegs = 32;
  return cudaSuccess;
}

cudaError_t cudaIpcGetMemHandle(cudaIpcMemHandle_t*, void*) {
  return fail(cudaErrorNotSupported);
}
cudaError_t cudaIpcOpenMemHandle(void**, cudaIpcMemHandle_t, unsigned int) {
  return fail(cudaErrorNotSupported);
}
cudaError_t cudaIpcCloseMemHandle(void*) {
  return fail(cudaErrorNotSupported);
}

}  // extern "C"

// ---- cuBLAS and cuBLASLt: column-major GEMMs in fp32 accumulation ------------------------------

struct cublasContext {
  cudaStream_t stream = nullptr;
};
struct cublasLtContext {};
struct cublasLtMatmulDescOpaque_emu {
  cublasOperation_t ta = CUBLAS_OP_N, tb = CUBLAS_OP_N;
};
struct cublasLtMatrixLayoutOpaque_emu {
  cudaDataType type;
  uint64_t rows, cols;
  int64_t ld;
};

namespace {
float load(const void* p, cudaDataType t, size_t i) {
  if (t == CUDA_R_32F) return static_cast<const float*>(p)[i];
  if (t == CUDA_R_16BF) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  cuemu::die("a GEMM operand type the emulator does not know");
}
void store(void* p, cudaDataType t, size_t i, float v) {
  if (t == CUDA_R_32F)
    static_cast<float*>(p)[i] = v;
  else if (t == CUDA_R_16BF)
    static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v);
  else
    cuemu::die("a GEMM result type the emulator does not know");
}
// C[m, n] (column-major, ldc) = alpha op(A) op(B) + beta C.
void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
          const void* A, cudaDataType at, long lda, const void* B, cudaDataType bt, long ldb,
          float beta, void* C, cudaDataType ct, long ldc) {
  if (m <= 0 || n <= 0) return;
  if (!is_device(A, 1) || !is_device(B, 1) || !is_device(C, 1))
    cuemu::die("a GEMM operand is not device memory");
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) {
      float s = 0.0f;
      for (int p = 0; p < k; p++) {
        const float a = load(A, at, ta == CUBLAS_OP_N ? i + p * lda : p + i * lda);
        const float b = load(B, bt, tb == CUBLAS_OP_N ? p + j * ldb : j + p * ldb);
        s += a * b;
      }
      const size_t ci = static_cast<size_t>(i) + static_cast<size_t>(j) * ldc;
      store(C, ct, ci, alpha * s + (beta != 0.0f ? beta * load(C, ct, ci) : 0.0f));
    }
}
}  // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* h) {
  *h = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s) {
  h->stream = s;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t, void*, size_t) {
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const void* alpha, const void* A, cudaDataType at,
                            int lda, const void* B, cudaDataType bt, int ldb, const void* beta,
                            void* C, cudaDataType ct, int ldc, cublasComputeType_t,
                            cublasGemmAlgo_t) {
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  on_stream(h->stream, [=] { gemm(ta, tb, m, n, k, al, A, at, lda, B, bt, ldb, be, C, ct, ldc); });
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta,
                                         cublasOperation_t tb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda, long long sa,
                                         const float* B, int ldb, long long sb, const float* beta,
                                         float* C, int ldc, long long sc, int count) {
  const float al = *alpha, be = *beta;
  on_stream(h->stream, [=] {
    for (int i = 0; i < count; i++)
      gemm(ta, tb, m, n, k, al, A + i * sa, CUDA_R_32F, lda, B + i * sb, CUDA_R_32F, ldb, be,
           C + i * sc, CUDA_R_32F, ldc);
  });
  return CUBLAS_STATUS_SUCCESS;
}

// cuBLASLt's opaque handles are host objects of the emulator's own types (templates: C++ linkage).
extern "C++" {
template <typename Opaque, typename Handle, typename... A>
cublasStatus_t new_handle(Handle* h, A&&... args) {
  *h = reinterpret_cast<Handle>(new Opaque{std::forward<A>(args)...});
  return CUBLAS_STATUS_SUCCESS;
}
template <typename Opaque, typename Handle>
cublasStatus_t delete_handle(Handle h) {
  delete reinterpret_cast<Opaque*>(h);
  return CUBLAS_STATUS_SUCCESS;
}
}

cublasStatus_t cublasLtCreate(cublasLtHandle_t* h) {
  return new_handle<cublasLtContext>(h);
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
  return delete_handle<cublasLtContext>(h);
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t,
                                        cudaDataType_t) {
  return new_handle<cublasLtMatmulDescOpaque_emu>(d);
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
  return delete_handle<cublasLtMatmulDescOpaque_emu>(d);
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
                                              cublasLtMatmulDescAttributes_t a, const void* buf,
                                              size_t) {
  auto* desc = reinterpret_cast<cublasLtMatmulDescOpaque_emu*>(d);
  if (a == CUBLASLT_MATMUL_DESC_TRANSA)
    desc->ta = *static_cast<const cublasOperation_t*>(buf);
  else if (a == CUBLASLT_MATMUL_DESC_TRANSB)
    desc->tb = *static_cast<const cublasOperation_t*>(buf);
  else
    return CUBLAS_STATUS_NOT_SUPPORTED;  // an epilogue or scale the emulator does not do
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
  return new_handle<cublasLtMatrixLayoutOpaque_emu>(l, type, rows, cols, ld);
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
  return delete_handle<cublasLtMatrixLayoutOpaque_emu>(l);
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p) {
  return new_handle<char>(p);
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
  return delete_handle<char>(p);
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t,
                                                    cublasLtMatmulPreferenceAttributes_t,
                                                    const void*, size_t) {
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t,
                                              cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                              cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                              cublasLtMatmulPreference_t, int requested,
                                              cublasLtMatmulHeuristicResult_t* results,
                                              int* count) {
  if (requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
  results[0] = cublasLtMatmulHeuristicResult_t{};
  results[0].state = CUBLAS_STATUS_SUCCESS;
  *count = 1;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t d, const void* alpha,
                              const void* A, cublasLtMatrixLayout_t la, const void* B,
                              cublasLtMatrixLayout_t lb, const void* beta, const void* C,
                              cublasLtMatrixLayout_t lc, void* D, cublasLtMatrixLayout_t ld,
                              const cublasLtMatmulAlgo_t*, void*, size_t, cudaStream_t s) {
  const auto* desc = reinterpret_cast<const cublasLtMatmulDescOpaque_emu*>(d);
  const auto* a = reinterpret_cast<const cublasLtMatrixLayoutOpaque_emu*>(la);
  const auto* b = reinterpret_cast<const cublasLtMatrixLayoutOpaque_emu*>(lb);
  const auto* c = reinterpret_cast<const cublasLtMatrixLayoutOpaque_emu*>(lc);
  const auto* dd = reinterpret_cast<const cublasLtMatrixLayoutOpaque_emu*>(ld);
  const int m = static_cast<int>(dd->rows), n = static_cast<int>(dd->cols);
  const int k = static_cast<int>(desc->ta == CUBLAS_OP_N ? a->cols : a->rows);
  const int kb = static_cast<int>(desc->tb == CUBLAS_OP_N ? b->rows : b->cols);
  if (kb != k || c->rows != dd->rows || c->cols != dd->cols || C != D)
    return CUBLAS_STATUS_INVALID_VALUE;  // aha computes in place; other forms are not emulated
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  const cublasOperation_t ta = desc->ta, tb = desc->tb;
  const cudaDataType at = a->type, bt = b->type, dt = dd->type;
  const long lda = a->ld, ldb = b->ld, ldd = dd->ld;
  on_stream(s, [=] { gemm(ta, tb, m, n, k, al, A, at, lda, B, bt, ldb, be, D, dt, ldd); });
  return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
