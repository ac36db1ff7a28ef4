// The CUDA emulator's device side: force-included (-include) into every .cu file of an
// AHA_CUDA_EMU build after tests/cuda_emu/rewrite.py turned its launches into cuemu::launch.
//
// clang-format off
// Invariants:
// - A launch runs now, on the calling thread, block after block (x fastest, then y, z); the
//   threads of a block are fibers that run one at a time until they exit or wait at a
//   __syncthreads() or a warp collective (shuffle, ballot, __syncwarp, mma). So a kernel's
//   result is what one legal schedule gives: races between blocks or streams are not found.
// - __shared__ is `static`: one kernel body runs at a time in the process (a global lock), and
//   only one block of it, so its statics are that block's shared memory.
// - A warp collective waits for every lane its mask names; a named lane that exited, or that
//   waits at a __syncthreads() instead, is reported (undefined behaviour on a GPU) and aborts.
// - Device memory is host memory (tests/cuda_emu/cuemu_runtime.cpp tracks every allocation so
//   copies check their direction); a stream being captured records launches and async copies
//   into its graph and refuses synchronous calls, as CUDA does.
// clang-format on
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <utility>

#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __forceinline__
#undef __launch_bounds__
#undef __noinline__
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)

namespace cuemu {

// The fiber running now (its indices); set by the scheduler around every switch.
struct ThreadIds {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};
const ThreadIds& ids();

// The dynamic shared memory of the running launch (16-byte aligned, zero-filled per launch).
void* dynamic_shared();
void sync_block();  // __syncthreads()

// A warp collective: every lane of `mask` deposits `in`; once all are there, `fn` computes each
// lane's `out` from all deposits (fn of the lowest lane of the mask runs).
constexpr int kBlobBytes = 64;
struct Blob {
  alignas(16) unsigned char b[kBlobBytes];
};
using CollectiveFn = void (*)(const Blob (&in)[32], Blob (&out)[32], unsigned mask);
Blob warp_collective(unsigned mask, const Blob& in, CollectiveFn fn);

// Launch: runs `body` for every thread of every block (or records it into the graph of a
// stream being captured). `kernel` identifies the function for cudaFuncSetAttribute's limit.
void launch_erased(dim3 grid, dim3 block, size_t dyn_smem, cudaStream_t stream, const void* kernel,
                   std::function<void()> body);

template <typename... P, typename... A>
void launch(dim3 grid, dim3 block, size_t dyn_smem, cudaStream_t stream, void (*kernel)(P...),
            A&&... args) {
  // Arguments are converted to the parameter types now and copied, as a launch does.
  std::tuple<std::decay_t<P>...> copy(static_cast<P>(std::forward<A>(args))...);
  launch_erased(grid, block, dyn_smem, stream, reinterpret_cast<const void*>(kernel),
                [kernel, copy] { std::apply(kernel, copy); });
}
template <typename... P, typename... A>
void launch(dim3 grid, dim3 block, size_t dyn_smem, void (*kernel)(P...), A&&... args) {
  launch(grid, block, dyn_smem, cudaStream_t{}, kernel, std::forward<A>(args)...);
}
template <typename... P, typename... A>
void launch(dim3 grid, dim3 block, void (*kernel)(P...), A&&... args) {
  launch(grid, block, 0, cudaStream_t{}, kernel, std::forward<A>(args)...);
}

template <typename T>
Blob to_blob(const T& v) {
  static_assert(sizeof(T) <= kBlobBytes - 8, "collective value too large");
  Blob b{};
  std::memcpy(b.b + 8, &v, sizeof(T));
  return b;
}
template <typename T>
T from_blob(const Blob& b) {
  T v;
  std::memcpy(&v, b.b + 8, sizeof(T));
  return v;
}
// Shuffles: the first 4 bytes of a deposit name the source lane.
void shuffle_fn(const Blob (&in)[32], Blob (&out)[32], unsigned mask);
template <typename T>
T shuffle(unsigned mask, T v, int src) {
  Blob b = to_blob(v);
  std::memcpy(b.b, &src, sizeof src);
  return from_blob<T>(warp_collective(mask, b, shuffle_fn));
}
unsigned lane_id();

// mma.sync.m16n8k16 bf16 -> fp32 for the whole warp (kernels/cuda/attention.cu's fragments).
void mma_m16n8k16_bf16(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);

// ldmatrix.sync.aligned.m8n8.x4(.trans).shared.b16 for the whole warp: lane 8i + j gives the
// address of row j of matrix i (16-byte aligned, inside the launch's dynamic shared memory).
void ldmatrix_x4(uint32_t (&r)[4], const void* row, bool trans);

// cp.async of 16 bytes (global to dynamic shared memory): the copy is only queued; the fiber's
// groups land, oldest first, when cp_async_wait leaves at most `pending` newer groups, so a read
// before the wait sees the old bytes (as a GPU may). A fiber that exits with copies queued aborts.
void cp_async_16(void* dst, const void* src);
void cp_async_commit();
void cp_async_wait(int pending);

// Runs `op` now, or records it into the graph of a stream being captured (library shims).
cudaError_t on_stream_public(cudaStream_t stream, std::function<void()> op);

}  // namespace cuemu

#define threadIdx (::cuemu::ids().thread_idx)
#define blockIdx (::cuemu::ids().block_idx)
#define blockDim (::cuemu::ids().block_dim)
#define gridDim (::cuemu::ids().grid_dim)
inline constexpr int warpSize = 32;

inline void __syncthreads() {
  cuemu::sync_block();
}
void __syncwarp(unsigned mask = 0xffffffffu);
unsigned __ballot_sync(unsigned mask, int pred);
int __any_sync(unsigned mask, int pred);
int __all_sync(unsigned mask, int pred);

template <typename T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  const int lane = static_cast<int>(cuemu::lane_id());
  const int base = lane & ~(width - 1);
  return cuemu::shuffle(mask, v, base + (src & (width - 1)));
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int lane = static_cast<int>(cuemu::lane_id());
  const int base = lane & ~(width - 1);
  int src = lane ^ lane_mask;
  if (src < base || src >= base + width) src = lane;
  return cuemu::shuffle(mask, v, src);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = static_cast<int>(cuemu::lane_id());
  const int base = lane & ~(width - 1);
  int src = lane - static_cast<int>(delta);
  if (src < base) src = lane;
  return cuemu::shuffle(mask, v, src);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = static_cast<int>(cuemu::lane_id());
  const int base = lane & ~(width - 1);
  int src = lane + static_cast<int>(delta);
  if (src >= base + width) src = lane;
  return cuemu::shuffle(mask, v, src);
}

// Arithmetic intrinsics: the host's IEEE operations (round-to-nearest unless named).
inline float __expf(float x) {
  return std::exp(x);
}
inline float __logf(float x) {
  return std::log(x);
}
inline float __fdividef(float a, float b) {
  return a / b;
}
inline float rsqrtf(float x) {
  return 1.0f / std::sqrt(x);
}
inline float __fmul_rn(float a, float b) {
  return a * b;
}
inline float __fadd_rn(float a, float b) {
  return a + b;
}
inline float __fsub_rn(float a, float b) {
  return a - b;
}
inline float __fmaf_rn(float a, float b, float c) {
  return std::fma(a, b, c);
}
inline unsigned long long __float2ull_rz(float x) {
  return x <= 0.0f ? 0ull : static_cast<unsigned long long>(x);  // truncation is toward zero
}
namespace cuemu {
template <typename To, typename From>
To bits_as(From x) {
  static_assert(sizeof(To) == sizeof(From), "a bit cast keeps the size");
  To y;
  std::memcpy(&y, &x, sizeof y);
  return y;
}
}  // namespace cuemu
inline unsigned __float_as_uint(float x) {
  return cuemu::bits_as<unsigned>(x);
}
inline float __uint_as_float(unsigned u) {
  return cuemu::bits_as<float>(u);
}
inline int __float_as_int(float x) {
  return cuemu::bits_as<int>(x);
}
inline float __int_as_float(int u) {
  return cuemu::bits_as<float>(u);
}
inline int __popc(unsigned x) {
  return __builtin_popcount(x);
}
inline int __popcll(unsigned long long x) {
  return __builtin_popcountll(x);
}
inline int __ffs(int x) {
  return __builtin_ffs(x);
}
inline int __clz(int x) {
  return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x));
}
inline void __threadfence() {}
template <typename T>
T __ldg(const T* p) {
  return *p;
}
// One kernel body runs at a time, so atomics are plain read-modify-writes.
namespace cuemu {
template <typename T, typename F>
T read_modify_write(T* p, F f) {
  const T old = *p;
  *p = f(old);
  return old;
}
}  // namespace cuemu
template <typename T>
T atomicAdd(T* p, T v) {
  return cuemu::read_modify_write(p, [v](T o) { return o + v; });
}
template <typename T>
T atomicMax(T* p, T v) {
  return cuemu::read_modify_write(p, [v](T o) { return std::max(o, v); });
}
template <typename T>
T atomicMin(T* p, T v) {
  return cuemu::read_modify_write(p, [v](T o) { return std::min(o, v); });
}
template <typename T>
T atomicExch(T* p, T v) {
  return cuemu::read_modify_write(p, [v](T) { return v; });
}
template <typename T>
T atomicCAS(T* p, T cmp, T v) {
  return cuemu::read_modify_write(p, [cmp, v](T o) { return o == cmp ? v : o; });
}
// CUDA's integer min and max, which device code calls unqualified.
template <typename A, typename B>
inline auto min(A a, B b) -> std::common_type_t<A, B> {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(a) : static_cast<C>(b);
}
template <typename A, typename B>
inline auto max(A a, B b) -> std::common_type_t<A, B> {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}
using std::exp;
using std::exp2;
using std::fma;
using std::log;
using std::log2;
using std::sqrt;

// The runtime's function-pointer overloads, which cuda_runtime.h gives nvcc only.
template <typename... P>
cudaError_t cudaFuncSetAttribute(void (*f)(P...), cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(f), attr, value);
}
template <typename... P>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* a, void (*f)(P...)) {
  return cudaFuncGetAttributes(a, reinterpret_cast<const void*>(f));
}
