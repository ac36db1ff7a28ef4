// The device seam: where a buffer lives and on which stream a kernel runs.
//
// clang-format off
// Invariants:
// - A Ctx names one device and, for CUDA, one stream (an opaque cudaStream_t, null = the default
//   stream). Every kernel entry point of kernels/ops.h takes one; on the CPU it is {kCpu, null}.
// - A Buffer<T> owns n elements on one device, zero-filled when allocated, and is move-only (its
//   storage never moves, so pointers into it stay valid when the owner is moved). Element access
//   (operator[], begin, end) is for host buffers only; the vector conversions copy across devices.
//   A host Buffer may be page-locked (alloc_host_locked); it is freed the way it was allocated.
// - A View<T> is a non-owning (pointer, count) into a Buffer or an Arena.
// - An Arena is one allocation carved into views by a plan function that is run twice (count, then
//   assign). The layout depends only on what the plan takes, so re-planning with the same sizes
//   gives the same pointers and keeps the data; a plan that no longer fits reallocates (zeroed).
// - Without a CUDA build or a device, every CUDA request fails an AHA_CHECK naming the call.
// clang-format on
#pragma once
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "kernels/check.h"

namespace aha {

enum class Device { kCpu, kCuda };

struct Ctx {
  Device device = Device::kCpu;
  void* stream = nullptr;  // cudaStream_t when device is kCuda
  void* cuda = nullptr;    // the twins' handles and workspaces (kernels/ops.cpp), kCuda only
};

const char* device_name(Device d);
// "cpu" or "cuda"; anything else fails naming the value.
Device device_from_name(const char* name);

// Zero-filled allocation of bytes on d (64-byte aligned on the host); null for 0 bytes.
void* device_alloc(Device d, size_t bytes);
void device_free(Device d, void* p);
// Zero-filled host memory, page-locked when a CUDA device answers (copies to and from a device
// then run at the link's speed, not through the driver's staging buffers); plain host memory
// otherwise, or when locking fails (a memlock limit): *locked says which. Free with host_free.
void* host_alloc_locked(size_t bytes, bool* locked);
void host_free(void* p, bool locked);
// Copies bytes between any two devices on ctx's stream (host <-> device waits for the copy).
void device_copy(const Ctx& ctx, void* dst, Device dst_dev, const void* src, Device src_dev,
                 size_t bytes);
void device_zero(const Ctx& ctx, void* p, size_t bytes);
// Waits until every kernel queued on ctx's stream has finished (no-op on the CPU).
void ctx_sync(const Ctx& ctx);

// Whether this build has CUDA and a device answers (every CUDA call's status is checked).
bool cuda_available();
// The CUDA device this thread's new Ctxs use (cuda_ctx_create) and the runtime's current device:
// a data-parallel rank picks its own (device = local rank, one GPU per rank). It becomes the
// process's default too (threads that never select one); without a call, device 0. Fails saying
// how many devices there are when `ordinal` is not one of them (nothing past cudaGetDeviceCount).
void cuda_select_device(int ordinal);
int cuda_selected_device();
// The selected device as "NVIDIA H200 (device 0, 132 SMs, 140 GiB)" (CUDA only).
std::string cuda_device_description();
// Free and total bytes of the selected device's memory (CUDA only).
void cuda_mem_info(size_t* free_bytes, size_t* total_bytes);
// The device's copy bandwidth in GB/s (bytes read + written per second) of a device-to-device
// copy of `bytes` on ctx's stream, best of a few: what a memory-bound kernel can hope for.
double cuda_copy_bandwidth_gbs(const Ctx& ctx, size_t bytes);

// CUDA IPC, for processes of one node: the handle of a device allocation (its base pointer, as
// cudaMalloc returned it) and another process's mapping of it, on this thread's device (peer
// access enabled as needed). A mapping stays until cuda_ipc_close; a process cannot open its own.
constexpr size_t kCudaIpcHandleBytes = 64;
void cuda_ipc_handle(const void* base, char out[kCudaIpcHandleBytes]);
void* cuda_ipc_open(const char handle[kCudaIpcHandleBytes]);
void cuda_ipc_close(void* p);

template <typename T>
struct View {
  T* ptr = nullptr;
  size_t n = 0;
  T* data() const { return ptr; }
  size_t size() const { return n; }
  bool empty() const { return n == 0; }
  T& operator[](size_t i) const { return ptr[i]; }
  T* begin() const { return ptr; }
  T* end() const { return ptr + n; }
};

template <typename T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      reset();
      swap(o);
    }
    return *this;
  }
  ~Buffer() { reset(); }

  // n zeroed elements on d (the old contents are freed).
  void alloc(Device d, size_t n) {
    reset();
    p_ = static_cast<T*>(device_alloc(d, n * sizeof(T)));
    n_ = n;
    dev_ = d;
  }
  // n zeroed host elements, page-locked where possible (host_alloc_locked): for a host copy that
  // goes to or comes from a device often.
  void alloc_host_locked(size_t n) {
    reset();
    p_ = static_cast<T*>(host_alloc_locked(n * sizeof(T), &locked_));
    n_ = n;
    dev_ = Device::kCpu;
  }
  void reset() {
    if (p_) locked_ ? host_free(p_, true) : device_free(dev_, p_);
    p_ = nullptr;
    n_ = 0;
    locked_ = false;
  }
  // Same size and device as src, src's contents.
  void copy_from(const Buffer& src, const Ctx& ctx = Ctx{}) {
    if (this == &src) return;
    if (n_ != src.n_ || dev_ != src.dev_) alloc(src.dev_, src.n_);
    device_copy(ctx, p_, dev_, src.p_, src.dev_, n_ * sizeof(T));
  }
  // Host data into this buffer (a host buffer of v.size() when sizes differ).
  Buffer& operator=(const std::vector<T>& v) {
    if (n_ != v.size()) alloc(p_ ? dev_ : Device::kCpu, v.size());
    device_copy(Ctx{dev_, nullptr}, p_, dev_, v.data(), Device::kCpu, n_ * sizeof(T));
    return *this;
  }
  // A host copy.
  operator std::vector<T>() const {
    std::vector<T> v(n_);
    device_copy(Ctx{dev_, nullptr}, v.data(), Device::kCpu, p_, dev_, n_ * sizeof(T));
    return v;
  }

  T* data() { return p_; }
  const T* data() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  Device device() const { return dev_; }
  bool host_locked() const { return locked_; }
  View<T> view() { return View<T>{p_, n_}; }
  // Host buffers only.
  T& operator[](size_t i) { return p_[i]; }
  const T& operator[](size_t i) const { return p_[i]; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }
  const T* begin() const { return p_; }
  const T* end() const { return p_ + n_; }

 private:
  void swap(Buffer& o) {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(dev_, o.dev_);
    std::swap(locked_, o.locked_);
  }
  T* p_ = nullptr;
  size_t n_ = 0;
  Device dev_ = Device::kCpu;
  bool locked_ = false;  // host memory from host_alloc_locked
};

// Hands out aligned views of one allocation. With a null base it only counts.
class ArenaPlan {
 public:
  explicit ArenaPlan(char* base) : base_(base) {}
  template <typename T>
  void take(View<T>& v, size_t n) {
    off_ = (off_ + kAlign - 1) / kAlign * kAlign;
    v.ptr = base_ ? reinterpret_cast<T*>(base_ + off_) : nullptr;
    v.n = n;
    off_ += n * sizeof(T);
  }
  size_t bytes() const { return off_; }

 private:
  static constexpr size_t kAlign = 256;  // cudaMalloc's alignment; whole cache lines on the host
  char* base_;
  size_t off_ = 0;
};

struct Arena {
  Buffer<char> mem;
};

// Lays out the views plan(ArenaPlan&) takes in arena, reallocating on device d when they do not
// fit (or the arena lives elsewhere). Returns true when it (re)allocated.
template <typename F>
bool arena_plan(Arena& arena, Device d, F&& plan) {
  ArenaPlan count(nullptr);
  plan(count);
  bool grew = false;
  if (arena.mem.size() < count.bytes() || (arena.mem.data() && arena.mem.device() != d)) {
    arena.mem.alloc(d, count.bytes());
    grew = true;
  }
  ArenaPlan assign(arena.mem.data());
  plan(assign);
  return grew;
}

}  // namespace aha
