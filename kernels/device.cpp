#include "kernels/device.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#ifdef AHA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace aha {

#ifdef AHA_HAVE_CUDA
// Every CUDA runtime call goes through this: without a device the first one fails, and going on
// would dereference nothing.
#define AHA_CUDA_OK(call)                                                                 \
  do {                                                                                    \
    cudaError_t err_ = (call);                                                            \
    AHA_CHECK(err_ == cudaSuccess, std::string(#call) + ": " + cudaGetErrorString(err_)); \
  } while (0)

static cudaStream_t stream_of(const Ctx& ctx) {
  return static_cast<cudaStream_t>(ctx.stream);
}
#else
[[noreturn]] static void no_cuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": this aha was built without CUDA (no nvcc)");
}
#endif

const char* device_name(Device d) {
  return d == Device::kCuda ? "cuda" : "cpu";
}

Device device_from_name(const char* name) {
  std::string s = name;
  if (s == "cpu") return Device::kCpu;
  if (s == "cuda") return Device::kCuda;
  throw std::runtime_error("device '" + s + "': expected cpu or cuda");
}

void* device_alloc(Device d, size_t bytes) {
  if (bytes == 0) return nullptr;
  if (d == Device::kCpu) {
    size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    AHA_CHECK(p != nullptr, "out of host memory allocating " + std::to_string(bytes) + " bytes");
    std::memset(p, 0, bytes);
    return p;
  }
#ifdef AHA_HAVE_CUDA
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, bytes);
  AHA_CHECK(err == cudaSuccess,
            "cudaMalloc of " + std::to_string(bytes) + " bytes: " + cudaGetErrorString(err));
  AHA_CUDA_OK(cudaMemset(p, 0, bytes));
  // Allocation happens when a plan is laid out, never inside a step: waiting here keeps the
  // zeroing ordered before kernels on any (non-blocking) stream.
  AHA_CUDA_OK(cudaDeviceSynchronize());
  return p;
#else
  no_cuda("device_alloc");
#endif
}

void device_free(Device d, void* p) {
  if (!p) return;
  if (d == Device::kCpu) {
    std::free(p);
    return;
  }
#ifdef AHA_HAVE_CUDA
  cudaFree(p);  // not checked: runs in destructors, and a failed free loses nothing
#endif
}

void* host_alloc_locked(size_t bytes, bool* locked) {
  *locked = false;
  if (bytes == 0) return nullptr;
#ifdef AHA_HAVE_CUDA
  if (cuda_available()) {
    void* p = nullptr;
    if (cudaMallocHost(&p, bytes) == cudaSuccess) {
      std::memset(p, 0, bytes);
      *locked = true;
      return p;
    }
    (void)cudaGetLastError();  // a refused lock is not an error for the next launch's check
  }
#endif
  return device_alloc(Device::kCpu, bytes);
}

void host_free(void* p, bool locked) {
  if (!p) return;
#ifdef AHA_HAVE_CUDA
  if (locked) {
    cudaFreeHost(p);  // not checked: runs in destructors, and a failed free loses nothing
    return;
  }
#else
  (void)locked;
#endif
  std::free(p);
}

void device_copy(const Ctx& ctx, void* dst, Device dst_dev, const void* src, Device src_dev,
                 size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::kCpu && src_dev == Device::kCpu) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef AHA_HAVE_CUDA
  cudaMemcpyKind kind = dst_dev == Device::kCpu   ? cudaMemcpyDeviceToHost
                        : src_dev == Device::kCpu ? cudaMemcpyHostToDevice
                                                  : cudaMemcpyDefault;  // peer devices too
  AHA_CUDA_OK(cudaMemcpyAsync(dst, src, bytes, kind, stream_of(ctx)));
  if (kind != cudaMemcpyDefault) AHA_CUDA_OK(cudaStreamSynchronize(stream_of(ctx)));
#else
  (void)ctx;
  no_cuda("device_copy");
#endif
}

#ifdef AHA_HAVE_CUDA
// An IPC call's failure is the caller's to handle (the weights then travel by the wire): it must
// not stay behind as the thread's last error, which the next kernel launch's check would report.
#define AHA_CUDA_IPC_OK(call)                                                         \
  do {                                                                                \
    cudaError_t err_ = (call);                                                        \
    if (err_ != cudaSuccess) {                                                        \
      (void)cudaGetLastError();                                                       \
      throw std::runtime_error(std::string(#call) + ": " + cudaGetErrorString(err_)); \
    }                                                                                 \
  } while (0)
#endif

void cuda_ipc_handle(const void* base, char out[kCudaIpcHandleBytes]) {
#ifdef AHA_HAVE_CUDA
  static_assert(sizeof(cudaIpcMemHandle_t) == kCudaIpcHandleBytes);
  cudaIpcMemHandle_t h;
  AHA_CUDA_IPC_OK(cudaIpcGetMemHandle(&h, const_cast<void*>(base)));
  std::memcpy(out, &h, kCudaIpcHandleBytes);
#else
  (void)base;
  (void)out;
  no_cuda("cuda_ipc_handle");
#endif
}

void* cuda_ipc_open(const char handle[kCudaIpcHandleBytes]) {
#ifdef AHA_HAVE_CUDA
  cudaIpcMemHandle_t h;
  std::memcpy(&h, handle, kCudaIpcHandleBytes);
  void* p = nullptr;
  AHA_CUDA_IPC_OK(cudaIpcOpenMemHandle(&p, h, cudaIpcMemLazyEnablePeerAccess));
  return p;
#else
  (void)handle;
  no_cuda("cuda_ipc_open");
#endif
}

void cuda_ipc_close(void* p) {
#ifdef AHA_HAVE_CUDA
  // Not checked (teardown; a failure loses nothing), but not left as the last error either.
  if (p && cudaIpcCloseMemHandle(p) != cudaSuccess) (void)cudaGetLastError();
#else
  (void)p;
#endif
}

void device_zero(const Ctx& ctx, void* p, size_t bytes) {
  if (bytes == 0) return;
  if (ctx.device == Device::kCpu) {
    std::memset(p, 0, bytes);
    return;
  }
#ifdef AHA_HAVE_CUDA
  AHA_CUDA_OK(cudaMemsetAsync(p, 0, bytes, stream_of(ctx)));
#else
  no_cuda("device_zero");
#endif
}

void ctx_sync(const Ctx& ctx) {
  if (ctx.device == Device::kCpu) return;
#ifdef AHA_HAVE_CUDA
  AHA_CUDA_OK(cudaStreamSynchronize(stream_of(ctx)));
#else
  no_cuda("ctx_sync");
#endif
}

bool cuda_available() {
#ifdef AHA_HAVE_CUDA
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
#else
  return false;
#endif
}

namespace {
thread_local int t_cuda_device = -1;  // this thread's choice; -1: the process default
std::atomic<int> g_cuda_device{0};    // the last choice of any thread
}  // namespace

void cuda_select_device(int ordinal) {
#ifdef AHA_HAVE_CUDA
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) count = 0;  // no driver or no device: nothing further is called
  AHA_CHECK(ordinal >= 0 && ordinal < count,
            "CUDA device " + std::to_string(ordinal) + " requested but " + std::to_string(count) +
                " visible (one GPU per data-parallel rank: launch at most as many ranks per node "
                "as it has GPUs)");
  AHA_CUDA_OK(cudaSetDevice(ordinal));
  t_cuda_device = ordinal;
  g_cuda_device = ordinal;
#else
  (void)ordinal;
  no_cuda("cuda_select_device");
#endif
}

int cuda_selected_device() {
  return t_cuda_device >= 0 ? t_cuda_device : g_cuda_device.load();
}

std::string cuda_device_description() {
#ifdef AHA_HAVE_CUDA
  const int d = cuda_selected_device();
  cudaDeviceProp prop{};
  AHA_CUDA_OK(cudaGetDeviceProperties(&prop, d));
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s (device %d, %d SMs, %.0f GiB)", prop.name, d,
                prop.multiProcessorCount,
                static_cast<double>(prop.totalGlobalMem) / static_cast<double>(1ull << 30));
  return buf;
#else
  no_cuda("cuda_device_description");
#endif
}

void cuda_mem_info(size_t* free_bytes, size_t* total_bytes) {
#ifdef AHA_HAVE_CUDA
  AHA_CUDA_OK(cudaSetDevice(cuda_selected_device()));
  AHA_CUDA_OK(cudaMemGetInfo(free_bytes, total_bytes));
#else
  (void)free_bytes;
  (void)total_bytes;
  no_cuda("cuda_mem_info");
#endif
}

double cuda_copy_bandwidth_gbs(const Ctx& ctx, size_t bytes) {
#ifdef AHA_HAVE_CUDA
  void* a = device_alloc(Device::kCuda, bytes);
  void* b = device_alloc(Device::kCuda, bytes);
  cudaEvent_t t0, t1;
  AHA_CUDA_OK(cudaEventCreate(&t0));
  AHA_CUDA_OK(cudaEventCreate(&t1));
  float best = 0;
  for (int i = 0; i < 6; i++) {  // the first is a warm-up
    AHA_CUDA_OK(cudaEventRecord(t0, stream_of(ctx)));
    AHA_CUDA_OK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream_of(ctx)));
    AHA_CUDA_OK(cudaEventRecord(t1, stream_of(ctx)));
    AHA_CUDA_OK(cudaEventSynchronize(t1));
    float ms = 0;
    AHA_CUDA_OK(cudaEventElapsedTime(&ms, t0, t1));
    if (i > 0 && (best == 0 || ms < best)) best = ms;
  }
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  device_free(Device::kCuda, a);
  device_free(Device::kCuda, b);
  return best > 0 ? 2.0 * static_cast<double>(bytes) / (best * 1e-3) / 1e9 : 0.0;
#else
  (void)ctx;
  (void)bytes;
  no_cuda("cuda_copy_bandwidth_gbs");
#endif
}

}  // namespace aha
