#include "kernels/ops.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/embedding.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/logprob.h"
#include "kernels/mla.h"
#include "kernels/rmsnorm.h"
#include "kernels/rope.h"
#include "kernels/rows.h"
#include "kernels/swiglu.h"

#ifdef AHA_HAVE_CUDA
#include "kernels/cuda/fp32_reference.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/rows.h"
#endif

namespace aha {

namespace {

// Ops with no CUDA twin: refuse rather than run host code on device pointers.
[[noreturn]] void no_cuda_twin(const char* op) {
  throw std::runtime_error(std::string(op) + ": no CUDA kernel for this op in this build");
}

#ifndef AHA_HAVE_CUDA
// Every op of the model's forward and backward (a build without nvcc has none on CUDA).
const char* const kModelOps[] = {
    "add_inplace",          "copy_rows",           "embedding_forward",    "embedding_backward",
    "rmsnorm_forward",      "rmsnorm_backward",    "linear_forward",       "linear_backward",
    "bias_forward",         "bias_backward",       "rope_forward",         "rope_backward",
    "attention_forward",    "attention_backward",  "mla_expand_kv",        "mla_expand_kv_backward",
    "swiglu_forward",       "swiglu_backward",     "moe_router_forward",   "moe_router_backward",
    "moe_dispatch",         "moe_gather",          "moe_gather_backward",  "moe_combine",
    "moe_combine_backward", "moe_experts_forward", "moe_experts_backward", "logprob_forward",
    "logprob_backward",
};
#endif

}  // namespace

std::vector<std::string> ops_without_cuda_twin() {
#ifdef AHA_HAVE_CUDA
  return {};
#else
  return std::vector<std::string>(std::begin(kModelOps), std::end(kModelOps));
#endif
}

Device device_choose(const std::string& name) {
  if (name == "cpu") return Device::kCpu;
  if (name != "cuda" && name != "auto")
    throw std::runtime_error("--device '" + name + "': expected cpu, cuda or auto");
  // The batch-invariant mode trains on the CPU, and its CUDA kernels are the slow fp32 mode's:
  // `auto` stays on the CPU; an explicit cuda runs the engine there.
  if (name == "auto" && gemm_batch_invariant()) return Device::kCpu;
#ifndef AHA_HAVE_CUDA
  if (name == "auto") return Device::kCpu;
  throw std::runtime_error("--device cuda: this aha was built without CUDA (nvcc not found)");
#else
  const bool have = cuda_available();
  const std::vector<std::string> missing = ops_without_cuda_twin();
  const std::string unrunnable = have ? cuda_kernels_unrunnable_reason() : "";
  if (name == "auto")
    return have && missing.empty() && unrunnable.empty() ? Device::kCuda : Device::kCpu;
  if (!have)
    throw std::runtime_error("--device cuda: no CUDA device (cudaGetDeviceCount found none)");
  if (!unrunnable.empty()) throw std::runtime_error("--device cuda: " + unrunnable);
  return Device::kCuda;
#endif
}

// ----------------------------------------------------------------------------------------------
// The CUDA context: handles, workspaces and bf16 operand buffers of the twins

#ifdef AHA_HAVE_CUDA
namespace {

// A device buffer that grows to the largest request (the first steps allocate, later ones not).
// Each move bumps *generation (its ctx's): captured CUDA graphs that point into it are stale.
struct Scratch {
  void* p = nullptr;
  size_t bytes = 0;
  unsigned long* generation = nullptr;
  void* get(size_t n) {
    if (n > bytes) {
      if (generation) ++*generation;
      if (p) AHA_CUDA_CHECK(cudaFree(p));  // waits for the kernels still reading it
      p = nullptr;
      bytes = 0;
      AHA_CUDA_CHECK(cudaMalloc(&p, n));
      bytes = n;
    }
    return p;
  }
  void release() {
    if (p) cudaFree(p);
    p = nullptr;
    bytes = 0;
  }
};

struct CudaState {
  cudaStream_t stream = nullptr;
  Blas* blas = nullptr;
  std::vector<GroupedGemm*> grouped;  // by expert count
  Scratch workspace;
  Scratch operands[3];             // bf16 GEMM operands (CudaSizes::operands)
  const float* weights = nullptr;  // the registered fp32 parameters [num_weights]
  long num_weights = 0;
  Scratch weights_bf16;          // their bf16 copy
  unsigned long generation = 0;  // moves of the Scratch buffers above (cuda_buffers_generation)
  DecodeAttention* decode = nullptr;  // decode attention's workspaces, made at the first plan
  bool fp32 = false;                  // the fp32 test mode (cuda_ctx_set_fp32)
  struct OpEvents {
    const char* name;
    cudaEvent_t start, stop;
  };
  bool profiling = false;     // AHA_CUDA_PROFILE at creation
  std::vector<OpEvents> ops;  // events reused across reports; the first num_ops are this round's
  size_t num_ops = 0;
};

CudaState& state(const Ctx& ctx) {
  AHA_CHECK(ctx.cuda != nullptr, "a CUDA Ctx made without cuda_ctx_create");
  return *static_cast<CudaState*>(ctx.cuda);
}

cudaStream_t stream(const Ctx& ctx) {
  return static_cast<cudaStream_t>(ctx.stream);
}

// In the fp32 test mode (forward ops only: it serves decoding and the forward of a comparison).
bool fp32_mode(const Ctx& ctx) {
  return state(ctx).fp32;
}
void no_fp32_backward(const Ctx& ctx, const char* op) {
  AHA_CHECK(!state(ctx).fp32, std::string(op) + ": the CUDA fp32 test mode runs forward ops only");
}

DecodeAttention* decode_state(const Ctx& ctx) {
  CudaState& s = state(ctx);
  if (!s.decode) s.decode = decode_attention_create();
  return s.decode;
}

void* workspace(const Ctx& ctx, size_t bytes) {
  return state(ctx).workspace.get(std::max<size_t>(bytes, 1));
}

// inp[n] as a bf16 operand in slot.
const bf16* as_bf16(const Ctx& ctx, int slot, const float* inp, long n) {
  CudaState& s = state(ctx);
  bf16* out = static_cast<bf16*>(s.operands[slot].get(std::max<long>(n, 1) * sizeof(bf16)));
  cast_to_bf16_cuda(out, inp, n, s.stream);
  return out;
}

// A weight inside the registered parameters, as its bf16 copy.
const bf16* weight_bf16(const Ctx& ctx, const float* w) {
  CudaState& s = state(ctx);
  AHA_CHECK(s.weights && w >= s.weights && w < s.weights + s.num_weights,
            "a GEMM weight outside the registered parameters (cuda_ctx_set_weights)");
  return static_cast<const bf16*>(s.weights_bf16.p) + (w - s.weights);
}

// Records a start event on construction and a stop event when the op returns (profiling only).
struct OpTimer {
  CudaState* s = nullptr;
  size_t i = 0;
  OpTimer(const Ctx& ctx, const char* name) {
    CudaState& st = state(ctx);
    if (!st.profiling) return;
    if (st.num_ops == st.ops.size()) {
      CudaState::OpEvents e{name, nullptr, nullptr};
      AHA_CUDA_CHECK(cudaEventCreate(&e.start));
      AHA_CUDA_CHECK(cudaEventCreate(&e.stop));
      st.ops.push_back(e);
    }
    s = &st;
    i = st.num_ops++;
    st.ops[i].name = name;
    AHA_CUDA_CHECK(cudaEventRecord(st.ops[i].start, st.stream));
  }
  ~OpTimer() {
    if (s) cudaEventRecord(s->ops[i].stop, s->stream);
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;
};

GroupedGemm* grouped(const Ctx& ctx, int E) {
  CudaState& s = state(ctx);
  for (GroupedGemm* g : s.grouped)
    if (g->E == E) return g;
  s.grouped.push_back(grouped_gemm_create(E));
  return s.grouped.back();
}

}  // namespace

Ctx cuda_ctx_create() {
  AHA_CHECK(cuda_available(), "no CUDA device (cudaGetDeviceCount found none)");
  AHA_CUDA_CHECK(cudaSetDevice(cuda_selected_device()));
  CudaState* s = new CudaState;
  AHA_CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
  s->blas = blas_create();
  s->workspace.generation = &s->generation;
  for (Scratch& o : s->operands) o.generation = &s->generation;
  s->weights_bf16.generation = &s->generation;
  const char* prof = std::getenv("AHA_CUDA_PROFILE");
  s->profiling = prof && *prof && std::string(prof) != "0";
  const char* fp32 = std::getenv("AHA_CUDA_FP32");
  // The batch-invariant mode runs CUDA on the fp32 mode's kernels: one thread per output element
  // and one block per (token, head), so no result depends on the batch's size.
  s->fp32 = (fp32 && *fp32 && std::string(fp32) != "0") || gemm_batch_invariant();
  return Ctx{Device::kCuda, s->stream, s};
}

std::string cuda_ctx_profile_report(const Ctx& ctx) {
  if (ctx.device != Device::kCuda || !ctx.cuda) return "";
  CudaState& s = state(ctx);
  if (!s.profiling || s.num_ops == 0) return "";
  AHA_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  struct Sum {
    std::string name;
    int calls = 0;
    double ms = 0;
  };
  std::vector<Sum> sums;
  for (size_t i = 0; i < s.num_ops; i++) {
    float ms = 0;
    AHA_CUDA_CHECK(cudaEventElapsedTime(&ms, s.ops[i].start, s.ops[i].stop));
    auto it = std::find_if(sums.begin(), sums.end(),
                           [&](const Sum& x) { return x.name == s.ops[i].name; });
    if (it == sums.end()) it = sums.insert(sums.end(), Sum{s.ops[i].name, 0, 0});
    it->calls++;
    it->ms += ms;
  }
  float span = 0;
  AHA_CUDA_CHECK(cudaEventElapsedTime(&span, s.ops[0].start, s.ops[s.num_ops - 1].stop));
  s.num_ops = 0;
  std::sort(sums.begin(), sums.end(), [](const Sum& a, const Sum& b) { return a.ms > b.ms; });
  double total = 0;
  for (const Sum& x : sums) total += x.ms;
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-24s %7s %10s %7s\n", "op", "calls", "ms", "share");
  out += line;
  for (const Sum& x : sums) {
    std::snprintf(line, sizeof line, "%-24s %7d %10.3f %6.1f%%\n", x.name.c_str(), x.calls, x.ms,
                  span > 0 ? 100.0 * x.ms / span : 0.0);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-24s %7s %10.3f %6.1f%% (the rest: host waits, copies)\n",
                "ops in all", "", total, span > 0 ? 100.0 * total / span : 0.0);
  out += line;
  std::snprintf(line, sizeof line, "%-24s %7s %10.3f\n", "span", "", static_cast<double>(span));
  out += line;
  return out;
}

void cuda_ctx_destroy(Ctx& ctx) {
  if (ctx.device == Device::kCuda && ctx.cuda) {
    CudaState* s = static_cast<CudaState*>(ctx.cuda);
    cudaStreamSynchronize(s->stream);
    for (GroupedGemm* g : s->grouped) grouped_gemm_destroy(g);
    blas_destroy(s->blas);
    decode_attention_destroy(s->decode);
    s->workspace.release();
    for (Scratch& o : s->operands) o.release();
    s->weights_bf16.release();
    for (CudaState::OpEvents& e : s->ops) {
      cudaEventDestroy(e.start);
      cudaEventDestroy(e.stop);
    }
    cudaStreamDestroy(s->stream);
    delete s;
  }
  ctx = Ctx{};
}

size_t cuda_sizes_operand_bytes(const CudaSizes& s) {
  size_t bytes = 0;
  for (long n : s.operands) bytes += static_cast<size_t>(std::max<long>(n, 1)) * sizeof(bf16);
  return bytes;
}

size_t cuda_sizes_workspace_bytes(const CudaSizes& s) {
  if (!cuda_available()) return 0;  // the radix sorts' scratch is only known with a device
  size_t ws = std::max(embedding_backward_workspace_size(s.N),
                       attention_backward_workspace_size(s.N, s.NH, s.NKV, s.DQK, s.DV));
  ws = std::max(ws, attention_forward_workspace_size(s.N, s.NH, s.NKV, s.DQK, s.DV));
  if (s.K > 0) {
    ws = std::max(ws, moe_dispatch_workspace_size(s.N, s.K));
    ws = std::max(ws, moe_balance_loss_workspace_size(s.N, s.N, s.E));  // at most N sequences
  }
  for (const std::pair<long, int>& n : s.norms)
    ws = std::max(ws, rmsnorm_backward_workspace_size(static_cast<int>(n.first), n.second));
  return ws;
}

void cuda_ctx_reserve(const Ctx& ctx, const CudaSizes& sizes) {
  CudaState& s = state(ctx);
  for (int i = 0; i < 3; i++)
    s.operands[i].get(static_cast<size_t>(std::max<long>(sizes.operands[i], 1)) * sizeof(bf16));
  s.workspace.get(std::max<size_t>(cuda_sizes_workspace_bytes(sizes), 1));
}

void cuda_ctx_set_weights(const Ctx& ctx, const float* params, long n) {
  CudaState& s = state(ctx);
  s.weights = params;
  s.num_weights = n;
  s.weights_bf16.get(std::max<long>(n, 1) * sizeof(bf16));
  cuda_ctx_sync_weights(ctx);
}

void cuda_ctx_sync_weights(const Ctx& ctx) {
  CudaState& s = state(ctx);
  if (s.num_weights > 0)
    cast_to_bf16_cuda(static_cast<bf16*>(s.weights_bf16.p), s.weights, s.num_weights, s.stream);
}

void* cuda_ctx_weights_bf16(const Ctx& ctx) {
  CudaState& s = state(ctx);
  return s.num_weights > 0 ? s.weights_bf16.p : nullptr;
}

void cuda_ctx_set_fp32(const Ctx& ctx, bool on) {
  CudaState& s = state(ctx);
  if (s.fp32 != on) s.generation++;  // graphs captured in the other mode launch other kernels
  s.fp32 = on;
}

bool cuda_ctx_fp32(const Ctx& ctx) {
  return ctx.device == Device::kCuda && state(ctx).fp32;
}

struct CudaGraph {
  cudaGraphExec_t exec = nullptr;
};

bool cuda_graph_begin(const Ctx& ctx) {
  if (ctx.device != Device::kCuda || state(ctx).profiling) return false;
  AHA_CUDA_CHECK(cudaStreamBeginCapture(stream(ctx), cudaStreamCaptureModeThreadLocal));
  return true;
}

CudaGraph* cuda_graph_end(const Ctx& ctx, std::string* why) {
  cudaGraph_t graph = nullptr;
  cudaError_t err = cudaStreamEndCapture(stream(ctx), &graph);
  cudaGraphExec_t exec = nullptr;
  if (err == cudaSuccess) err = cudaGraphInstantiate(&exec, graph, 0);
  if (graph) cudaGraphDestroy(graph);
  if (err != cudaSuccess) {
    cudaGetLastError();  // a failed capture's error is not sticky: clear it
    if (why) *why = cudaGetErrorString(err);
    return nullptr;
  }
  return new CudaGraph{exec};
}

void cuda_graph_launch(const Ctx& ctx, CudaGraph* g) {
  AHA_CUDA_CHECK(cudaGraphLaunch(g->exec, stream(ctx)));
}

void cuda_graph_destroy(CudaGraph* g) {
  if (!g) return;
  cudaGraphExecDestroy(g->exec);
  delete g;
}

unsigned long cuda_buffers_generation(const Ctx& ctx) {
  return state(ctx).generation;
}

#else
Ctx cuda_ctx_create() {
  throw std::runtime_error("cuda_ctx_create: this aha was built without CUDA (nvcc not found)");
}
void cuda_ctx_destroy(Ctx& ctx) {
  ctx = Ctx{};
}
void cuda_ctx_set_weights(const Ctx&, const float*, long) {
  no_cuda_twin("cuda_ctx_set_weights");
}
void cuda_ctx_sync_weights(const Ctx&) {
  no_cuda_twin("cuda_ctx_sync_weights");
}
void* cuda_ctx_weights_bf16(const Ctx&) {
  no_cuda_twin("cuda_ctx_weights_bf16");
}
void cuda_ctx_set_fp32(const Ctx&, bool) {
  no_cuda_twin("cuda_ctx_set_fp32");
}
bool cuda_ctx_fp32(const Ctx&) {
  return false;
}
struct CudaGraph {};
bool cuda_graph_begin(const Ctx&) {
  return false;
}
CudaGraph* cuda_graph_end(const Ctx&, std::string* why) {
  if (why) *why = "this aha was built without CUDA";
  return nullptr;
}
void cuda_graph_launch(const Ctx&, CudaGraph*) {
  no_cuda_twin("cuda_graph_launch");
}
void cuda_graph_destroy(CudaGraph* g) {
  delete g;
}
unsigned long cuda_buffers_generation(const Ctx&) {
  return 0;
}
std::string cuda_ctx_profile_report(const Ctx&) {
  return "";
}
size_t cuda_sizes_operand_bytes(const CudaSizes&) {
  return 0;
}
size_t cuda_sizes_workspace_bytes(const CudaSizes&) {
  return 0;
}
void cuda_ctx_reserve(const Ctx&, const CudaSizes&) {
  no_cuda_twin("cuda_ctx_reserve");
}
#endif

// ----------------------------------------------------------------------------------------------
// Entry points. AHA_CUDA(stmt) runs stmt in a CUDA build, else refuses naming the op.

#ifdef AHA_HAVE_CUDA
#define AHA_CUDA(op, ...)           \
  do {                              \
    OpTimer aha_op_timer_(ctx, op); \
    __VA_ARGS__;                    \
    return;                         \
  } while (0)
#else
#define AHA_CUDA(op, ...) no_cuda_twin(op)
#endif

void add_inplace(const Ctx& ctx, float* x, const float* y, long n) {
  if (ctx.device == Device::kCpu) return add_inplace(x, y, n);
  AHA_CUDA("add_inplace", add_inplace_cuda(x, y, n, stream(ctx)));
}

void copy_rows(const Ctx& ctx, float* dst, int ld_dst, const float* src, int ld_src, int rows,
               int cols) {
  if (ctx.device == Device::kCpu) return copy_rows(dst, ld_dst, src, ld_src, rows, cols);
  AHA_CUDA("copy_rows", copy_rows_cuda(dst, ld_dst, src, ld_src, rows, cols, stream(ctx)));
}

void cache_write_rows(const Ctx& ctx, void* cache, int W, int col, const int* rows, int num_rows,
                      const float* src, int ld_src, int N, int cols) {
  if (ctx.device == Device::kCpu)
    return scatter_rows(static_cast<float*>(cache) + col, W, rows, num_rows, src, ld_src, N, cols);
  AHA_CUDA("cache_write_rows", {
    if (fp32_mode(ctx))
      scatter_rows_f32_cuda(static_cast<float*>(cache) + col, W, rows, num_rows, src, ld_src, N,
                            cols, stream(ctx));
    else
      scatter_rows_bf16_cuda(static_cast<bf16*>(cache) + col, W, rows, num_rows, src, ld_src, N,
                             cols, stream(ctx));
  });
}

void embedding_forward(const Ctx& ctx, float* out, const int* tokens, const float* wte, int N,
                       int V, int C) {
  if (ctx.device == Device::kCpu) return embedding_forward(out, tokens, wte, N, V, C);
  AHA_CUDA("embedding_forward", embedding_forward_cuda(out, tokens, wte, N, V, C, stream(ctx)));
}

void embedding_backward(const Ctx& ctx, float* dwte, const float* dout, const int* tokens, int N,
                        [[maybe_unused]] int V, int C) {
  if (ctx.device == Device::kCpu) return embedding_backward(dwte, dout, tokens, N, C);
  AHA_CUDA("embedding_backward", {
    const size_t ws = embedding_backward_workspace_size(N);
    embedding_backward_cuda(dwte, dout, tokens, N, V, C, workspace(ctx, ws), ws, stream(ctx));
  });
}

void rmsnorm_forward(const Ctx& ctx, float* out, float* rstd, const float* inp, const float* weight,
                     int N, int C, float eps) {
  if (ctx.device == Device::kCpu) return rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
  AHA_CUDA("rmsnorm_forward", rmsnorm_forward_cuda(out, rstd, inp, weight, N, C, eps, stream(ctx)));
}

void rmsnorm_backward(const Ctx& ctx, float* dinp, float* dweight, const float* dout,
                      const float* inp, const float* weight, const float* rstd, int N, int C) {
  if (ctx.device == Device::kCpu)
    return rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
  AHA_CUDA("rmsnorm_backward", {
    const size_t ws = rmsnorm_backward_workspace_size(N, C);
    rmsnorm_backward_cuda(dinp, dweight, dout, inp, weight, rstd, N, C, workspace(ctx, ws), ws,
                          stream(ctx));
  });
}

void linear_forward(const Ctx& ctx, float* out, const float* inp, const float* weight, int N,
                    int IC, int OC) {
  if (ctx.device == Device::kCpu) return linear_forward(out, inp, weight, N, IC, OC);
  AHA_CUDA("linear_forward", {
    if (fp32_mode(ctx)) return linear_forward_f32_cuda(out, inp, weight, N, IC, OC, stream(ctx));
    const bf16* a = as_bf16(ctx, 0, inp, static_cast<long>(N) * IC);
    linear_forward_cuda(state(ctx).blas, out, a, weight_bf16(ctx, weight), N, IC, OC, stream(ctx));
  });
}

void linear_backward(const Ctx& ctx, float* dinp, float* dweight, const float* dout,
                     const float* inp, const float* weight, int N, int IC, int OC) {
  if (ctx.device == Device::kCpu)
    return linear_backward(dinp, dweight, dout, inp, weight, N, IC, OC);
  AHA_CUDA("linear_backward", {
    no_fp32_backward(ctx, "linear_backward");
    const bf16* d = as_bf16(ctx, 0, dout, static_cast<long>(N) * OC);
    const bf16* a = dweight ? as_bf16(ctx, 1, inp, static_cast<long>(N) * IC) : nullptr;
    linear_backward_cuda(state(ctx).blas, dinp, dweight, d, a, weight_bf16(ctx, weight), N, IC, OC,
                         stream(ctx));
  });
}

void bias_forward(const Ctx& ctx, float* out, const float* bias, int N, int OC) {
  if (ctx.device == Device::kCpu) return bias_forward(out, bias, N, OC);
  AHA_CUDA("bias_forward", bias_forward_cuda(out, bias, N, OC, stream(ctx)));
}

void bias_backward(const Ctx& ctx, float* dbias, const float* dout, int N, int OC) {
  if (ctx.device == Device::kCpu) return bias_backward(dbias, dout, N, OC);
  AHA_CUDA("bias_backward", bias_backward_cuda(dbias, dout, N, OC, stream(ctx)));
}

void rope_forward(const Ctx& ctx, float* x, const int* positions, int N, int H, int token_stride,
                  int head_stride, int D, const double* inv_freq, float attn_factor,
                  bool interleaved) {
  if (ctx.device == Device::kCpu)
    return rope_forward(x, positions, N, H, token_stride, head_stride, D, inv_freq, attn_factor,
                        interleaved);
  AHA_CUDA("rope_forward", rope_forward_cuda(x, positions, N, H, token_stride, head_stride, D,
                                             inv_freq, attn_factor, interleaved, stream(ctx)));
}

void rope_backward(const Ctx& ctx, float* dx, const int* positions, int N, int H, int token_stride,
                   int head_stride, int D, const double* inv_freq, float attn_factor,
                   bool interleaved) {
  if (ctx.device == Device::kCpu)
    return rope_backward(dx, positions, N, H, token_stride, head_stride, D, inv_freq, attn_factor,
                         interleaved);
  AHA_CUDA("rope_backward", rope_backward_cuda(dx, positions, N, H, token_stride, head_stride, D,
                                               inv_freq, attn_factor, interleaved, stream(ctx)));
}

void attention_forward(const Ctx& ctx, float* out, float* lse, const float* q, const float* k,
                       const float* v, const int* seq_start, int B, [[maybe_unused]] int N, int NH,
                       int NKV, int DQK, int DV, float scale) {
  if (ctx.device == Device::kCpu)
    return attention_forward(out, lse, q, k, v, seq_start, B, NH, NKV, DQK, DV, scale);
  AHA_CUDA("attention_forward", {
    if (fp32_mode(ctx))
      return attention_forward_f32_cuda(out, lse, q, k, v, seq_start, B, N, NH, NKV, DQK, DV, scale,
                                        stream(ctx));
    const size_t ws = attention_forward_workspace_size(N, NH, NKV, DQK, DV);
    attention_forward_cuda(out, lse, q, k, v, seq_start, B, N, NH, NKV, DQK, DV, scale,
                           workspace(ctx, ws), ws, stream(ctx));
  });
}

void attention_backward(const Ctx& ctx, float* dq, float* dk, float* dv, const float* dout,
                        const float* out, const float* lse, const float* q, const float* k,
                        const float* v, const int* seq_start, int B, [[maybe_unused]] int N, int NH,
                        int NKV, int DQK, int DV, float scale) {
  if (ctx.device == Device::kCpu)
    return attention_backward(dq, dk, dv, dout, out, lse, q, k, v, seq_start, B, NH, NKV, DQK, DV,
                              scale);
  AHA_CUDA("attention_backward", {
    no_fp32_backward(ctx, "attention_backward");
    const size_t ws = attention_backward_workspace_size(N, NH, NKV, DQK, DV);
    attention_backward_cuda(dq, dk, dv, dout, out, lse, q, k, v, seq_start, B, N, NH, NKV, DQK, DV,
                            scale, workspace(ctx, ws), ws, stream(ctx));
  });
}

bool decode_attention_plan(const Ctx& ctx, const int* page_indptr_host, const int* seq_lens_host,
                           int B, int NH, int R, int DR, DecodeLaunchKey* key) {
  *key = DecodeLaunchKey{};
  if (ctx.device == Device::kCpu) return true;
#ifdef AHA_HAVE_CUDA
  OpTimer timer(ctx, "decode_attention_plan");
  if (fp32_mode(ctx)) return true;  // the fp32 kernel needs no schedule
  DecodeAttention* d = decode_state(ctx);
  mla_decode_plan_cuda(d, page_indptr_host, seq_lens_host, B, NH, R, DR, stream(ctx));
  if (mla_decode_uses_flashinfer(d, R, DR) && B > 0) {
    static_assert(sizeof(d->plan_info) == sizeof(key->v));
    std::copy(std::begin(d->plan_info), std::end(d->plan_info), key->v);
    key->n = static_cast<int>(std::size(d->plan_info));
  }
  return true;
#else
  (void)page_indptr_host, (void)seq_lens_host, (void)B, (void)NH, (void)R, (void)DR;
  no_cuda_twin("decode_attention_plan");
#endif
}

void mla_decode_attention(const Ctx& ctx, float* out_lat, const float* q_lat, const float* q_rope,
                          const void* cache, int page_tokens, const int* page_indptr,
                          const int* page_ids, const int* seq_lens, int B, int NH, int R, int DR,
                          float scale) {
  if (ctx.device == Device::kCpu)
    return mla_decode_attention(out_lat, q_lat, q_rope, static_cast<const float*>(cache),
                                page_tokens, page_indptr, page_ids, seq_lens, B, NH, R, DR, scale);
  AHA_CUDA("mla_decode_attention", {
    if (fp32_mode(ctx))
      return mla_decode_attention_f32_cuda(out_lat, q_lat, q_rope, static_cast<const float*>(cache),
                                           page_tokens, page_indptr, page_ids, seq_lens, B, NH, R,
                                           DR, scale, stream(ctx));
    const long n = static_cast<long>(B) * NH;
    const bf16* ql = as_bf16(ctx, 0, q_lat, n * R);
    const bf16* qr = as_bf16(ctx, 1, q_rope, n * DR);
    bf16* o = static_cast<bf16*>(state(ctx).operands[2].get(std::max<long>(n * R, 1) * 2));
    mla_decode_attention_cuda(decode_state(ctx), o, ql, qr, static_cast<const bf16*>(cache),
                              page_tokens, page_indptr, page_ids, seq_lens, B, NH, R, DR, scale,
                              stream(ctx));
    cast_to_f32_cuda(out_lat, o, n * R, stream(ctx));
  });
}

void gqa_decode_attention(const Ctx& ctx, float* out, const float* q, const void* cache,
                          int page_tokens, const int* page_indptr, const int* page_ids,
                          const int* seq_lens, int B, int NH, int NKV, int D, float scale) {
  if (ctx.device == Device::kCpu)
    return gqa_decode_attention(out, q, static_cast<const float*>(cache), page_tokens, page_indptr,
                                page_ids, seq_lens, B, NH, NKV, D, scale);
  AHA_CUDA("gqa_decode_attention", {
    if (fp32_mode(ctx))
      return gqa_decode_attention_f32_cuda(out, q, static_cast<const float*>(cache), page_tokens,
                                           page_indptr, page_ids, seq_lens, B, NH, NKV, D, scale,
                                           stream(ctx));
    const long n = static_cast<long>(B) * NH * D;
    const bf16* qb = as_bf16(ctx, 0, q, n);
    bf16* o = static_cast<bf16*>(state(ctx).operands[2].get(std::max<long>(n, 1) * 2));
    gqa_decode_attention_cuda(o, qb, static_cast<const bf16*>(cache), page_tokens, page_indptr,
                              page_ids, seq_lens, B, NH, NKV, D, scale, stream(ctx));
    cast_to_f32_cuda(out, o, n, stream(ctx));
  });
}

void paged_attention_invariant(const Ctx& ctx, float* out, const float* q, const void* cache,
                               int page_tokens, const int* page_indptr, const int* page_ids,
                               const int* seq_lens, int B, int NH, int NKV, int DQK, int DV, long W,
                               long k_col, long v_col, float scale) {
  if (ctx.device == Device::kCpu)
    return paged_attention_invariant(out, q, static_cast<const float*>(cache), page_tokens,
                                     page_indptr, page_ids, seq_lens, B, NH, NKV, DQK, DV, W, k_col,
                                     v_col, scale);
  AHA_CUDA("paged_attention_invariant", {
    AHA_CHECK(fp32_mode(ctx), "paged_attention_invariant: CUDA runs it in the fp32 mode only");
    return paged_attention_f32_cuda(out, q, static_cast<const float*>(cache), page_tokens,
                                    page_indptr, page_ids, seq_lens, B, NH, NKV, DQK, DV, W, k_col,
                                    v_col, scale, stream(ctx));
  });
}

void mla_expand_kv(const Ctx& ctx, float* k, float* v, const float* kv, const float* kv_a, int N,
                   int NH, int DN, int DR, int DV, int R) {
  if (ctx.device == Device::kCpu) return mla_expand_kv(k, v, kv, kv_a, N, NH, DN, DR, DV, R);
  AHA_CUDA("mla_expand_kv", mla_expand_kv_cuda(k, v, kv, kv_a, N, NH, DN, DR, DV, R, stream(ctx)));
}

void mla_expand_kv_backward(const Ctx& ctx, float* dkv, float* dkv_a, const float* dk,
                            const float* dv, int N, int NH, int DN, int DR, int DV, int R) {
  if (ctx.device == Device::kCpu)
    return mla_expand_kv_backward(dkv, dkv_a, dk, dv, N, NH, DN, DR, DV, R);
  AHA_CUDA("mla_expand_kv_backward",
           mla_expand_kv_backward_cuda(dkv, dkv_a, dk, dv, N, NH, DN, DR, DV, R, stream(ctx)));
}

void mla_absorb_q(const Ctx& ctx, float* q_lat, float* q_rope, const float* q, const float* kv_b,
                  int B, int NH, int DN, int DR, int DV, int R) {
  if (ctx.device == Device::kCpu) return mla_absorb_q(q_lat, q_rope, q, kv_b, B, NH, DN, DR, DV, R);
  AHA_CUDA("mla_absorb_q", {
    if (fp32_mode(ctx))
      return mla_absorb_q_f32_cuda(q_lat, q_rope, q, kv_b, B, NH, DN, DR, DV, R, stream(ctx));
    mla_absorb_q_cuda(state(ctx).blas, q_lat, q_rope, q, kv_b, B, NH, DN, DR, DV, R, stream(ctx));
  });
}

void mla_absorb_out(const Ctx& ctx, float* att, const float* out_lat, const float* kv_b, int B,
                    int NH, int DN, int DV, int R) {
  if (ctx.device == Device::kCpu) return mla_absorb_out(att, out_lat, kv_b, B, NH, DN, DV, R);
  AHA_CUDA("mla_absorb_out", {
    if (fp32_mode(ctx))
      return mla_absorb_out_f32_cuda(att, out_lat, kv_b, B, NH, DN, DV, R, stream(ctx));
    mla_absorb_out_cuda(state(ctx).blas, att, out_lat, kv_b, B, NH, DN, DV, R, stream(ctx));
  });
}

void swiglu_forward(const Ctx& ctx, float* out, const float* gate, const float* up, long N) {
  if (ctx.device == Device::kCpu) return swiglu_forward(out, gate, up, N);
  AHA_CUDA("swiglu_forward", swiglu_forward_cuda(out, gate, up, N, stream(ctx)));
}

void swiglu_backward(const Ctx& ctx, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, long N) {
  if (ctx.device == Device::kCpu) return swiglu_backward(dgate, dup, dout, gate, up, N);
  AHA_CUDA("swiglu_backward", swiglu_backward_cuda(dgate, dup, dout, gate, up, N, stream(ctx)));
}

void moe_router_forward(const Ctx& ctx, float* scores, int* topk_idx, float* topk_weights,
                        const float* logits, const float* bias, int N, const RouterParams& p,
                        bool select) {
  if (ctx.device == Device::kCpu)
    return moe_router_forward(scores, topk_idx, topk_weights, logits, bias, N, p, select);
  AHA_CUDA("moe_router_forward", moe_router_forward_cuda(scores, topk_idx, topk_weights, logits,
                                                         bias, N, p, select, stream(ctx)));
}

void moe_router_backward(const Ctx& ctx, float* dlogits, const float* dtopk_weights,
                         const float* scores, const int* topk_idx, int N, const RouterParams& p) {
  if (ctx.device == Device::kCpu)
    return moe_router_backward(dlogits, dtopk_weights, scores, topk_idx, N, p);
  AHA_CUDA("moe_router_backward",
           moe_router_backward_cuda(dlogits, dtopk_weights, scores, topk_idx, N, p, stream(ctx)));
}

void moe_dispatch(const Ctx& ctx, int* expert_offsets, int* row_token, int* row_slot, int* slot_row,
                  const int* topk_idx, int N, int E, int K, long* expert_load) {
  if (ctx.device == Device::kCpu) {
    moe_dispatch(expert_offsets, row_token, row_slot, topk_idx, N, E, K, expert_load);
    for (long r = 0; r < static_cast<long>(N) * K; r++) slot_row[row_slot[r]] = static_cast<int>(r);
    return;
  }
  AHA_CUDA("moe_dispatch", {
    const size_t ws = moe_dispatch_workspace_size(N, K);
    moe_dispatch_cuda(expert_offsets, row_token, row_slot, slot_row, topk_idx, N, E, K, expert_load,
                      workspace(ctx, ws), ws, stream(ctx));
  });
}

void moe_gather(const Ctx& ctx, float* xe, const float* x, const int* row_token, int M, int C) {
  if (ctx.device == Device::kCpu) return moe_gather(xe, x, row_token, M, C);
  AHA_CUDA("moe_gather", moe_gather_cuda(xe, x, row_token, M, C, stream(ctx)));
}

void moe_gather_backward(const Ctx& ctx, float* dx, const float* dxe, const int* row_token,
                         [[maybe_unused]] const int* slot_row, int N, int K, int C) {
  if (ctx.device == Device::kCpu) return moe_gather_backward(dx, dxe, row_token, N * K, C);
  AHA_CUDA("moe_gather_backward",
           moe_gather_backward_cuda(dx, dxe, slot_row, N, K, C, stream(ctx)));
}

void moe_combine(const Ctx& ctx, float* out, const float* ye, const float* topk_weights,
                 const int* row_token, const int* row_slot, [[maybe_unused]] const int* slot_row,
                 int N, int K, int C) {
  if (ctx.device == Device::kCpu)
    return moe_combine(out, ye, topk_weights, row_token, row_slot, N * K, C);
  AHA_CUDA("moe_combine", moe_combine_cuda(out, ye, topk_weights, slot_row, N, K, C, stream(ctx)));
}

void moe_combine_backward(const Ctx& ctx, float* dye, float* dtopk_weights, const float* dout,
                          const float* ye, const float* topk_weights, const int* row_token,
                          const int* row_slot, int M, int C) {
  if (ctx.device == Device::kCpu)
    return moe_combine_backward(dye, dtopk_weights, dout, ye, topk_weights, row_token, row_slot, M,
                                C);
  AHA_CUDA("moe_combine_backward",
           moe_combine_backward_cuda(dye, dtopk_weights, dout, ye, topk_weights, row_token,
                                     row_slot, M, C, stream(ctx)));
}

// On CUDA: one grouped GEMM per projection over all experts, the per-expert row counts read on
// the device from expert_offsets (no host sync for routing). M = N*K is the caller's row count.
void moe_experts_forward(const Ctx& ctx, float* ye, float* he_gate, float* he_up, float* he_act,
                         const float* xe, const float* w_gate, const float* w_up,
                         const float* w_down, const int* expert_offsets, int E, int C, int H,
                         [[maybe_unused]] int M) {
  if (ctx.device == Device::kCpu)
    return moe_experts_forward(ye, he_gate, he_up, he_act, xe, w_gate, w_up, w_down, expert_offsets,
                               E, C, H);
  AHA_CUDA("moe_experts_forward", {
    if (fp32_mode(ctx))
      return moe_experts_forward_f32_cuda(ye, he_gate, he_up, he_act, xe, w_gate, w_up, w_down,
                                          expert_offsets, E, C, H, M, stream(ctx));
    GroupedGemm* g = grouped(ctx, E);
    cudaStream_t s = stream(ctx);
    const bf16* x16 = as_bf16(ctx, 0, xe, static_cast<long>(M) * C);
    grouped_gemm_cuda(g, GroupedGemmOp::kForward, he_gate, x16, weight_bf16(ctx, w_gate),
                      expert_offsets, M, C, H, s);
    grouped_gemm_cuda(g, GroupedGemmOp::kForward, he_up, x16, weight_bf16(ctx, w_up),
                      expert_offsets, M, C, H, s);
    swiglu_forward_cuda(he_act, he_gate, he_up, static_cast<long>(M) * H, s);
    const bf16* a16 = as_bf16(ctx, 1, he_act, static_cast<long>(M) * H);
    grouped_gemm_cuda(g, GroupedGemmOp::kForward, ye, a16, weight_bf16(ctx, w_down), expert_offsets,
                      M, H, C, s);
  });
}

void moe_experts_backward(const Ctx& ctx, float* dxe, float* dw_gate, float* dw_up, float* dw_down,
                          const float* dye, const float* he_gate, const float* he_up,
                          const float* he_act, const float* xe, const float* w_gate,
                          const float* w_up, const float* w_down, const int* expert_offsets, int E,
                          int C, int H, [[maybe_unused]] int M, float* dgate, float* dup,
                          float* dact) {
  if (ctx.device == Device::kCpu)
    return moe_experts_backward(dxe, dw_gate, dw_up, dw_down, dye, he_gate, he_up, he_act, xe,
                                w_gate, w_up, w_down, expert_offsets, E, C, H, dgate, dup, dact);
  AHA_CUDA("moe_experts_backward", {
    no_fp32_backward(ctx, "moe_experts_backward");
    GroupedGemm* g = grouped(ctx, E);
    cudaStream_t s = stream(ctx);
    const long mh = static_cast<long>(M) * H, mc = static_cast<long>(M) * C;
    // down: dact = dye · W_down_e, dW_down_e += dye_eᵀ · act_e
    const bf16* dy16 = as_bf16(ctx, 0, dye, mc);
    const bf16* a16 = as_bf16(ctx, 1, he_act, mh);
    device_zero(ctx, dact, mh * sizeof(float));
    grouped_gemm_cuda(g, GroupedGemmOp::kBackwardData, dact, dy16, weight_bf16(ctx, w_down),
                      expert_offsets, M, H, C, s);
    grouped_gemm_cuda(g, GroupedGemmOp::kBackwardWeight, dw_down, dy16, a16, expert_offsets, M, H,
                      C, s);
    device_zero(ctx, dgate, mh * sizeof(float));
    device_zero(ctx, dup, mh * sizeof(float));
    swiglu_backward_cuda(dgate, dup, dact, he_gate, he_up, mh, s);
    // gate and up: dxe += dgate · W_gate_e + dup · W_up_e, dW += dᵀ · xe_e
    const bf16* x16 = as_bf16(ctx, 0, xe, mc);
    const bf16* dg16 = as_bf16(ctx, 1, dgate, mh);
    const bf16* du16 = as_bf16(ctx, 2, dup, mh);
    grouped_gemm_cuda(g, GroupedGemmOp::kBackwardData, dxe, dg16, weight_bf16(ctx, w_gate),
                      expert_offsets, M, C, H, s);
    grouped_gemm_cuda(g, GroupedGemmOp::kBackwardData, dxe, du16, weight_bf16(ctx, w_up),
                      expert_offsets, M, C, H, s);
    grouped_gemm_cuda(g, GroupedGemmOp::kBackwardWeight, dw_gate, dg16, x16, expert_offsets, M, C,
                      H, s);
    grouped_gemm_cuda(g, GroupedGemmOp::kBackwardWeight, dw_up, du16, x16, expert_offsets, M, C, H,
                      s);
  });
}

void moe_balance_loss(const Ctx& ctx, double* loss, const float* scores, const int* topk_idx,
                      const int* seq_start, int B, [[maybe_unused]] int N, const RouterParams& p,
                      float alpha, float* dlogits) {
  if (ctx.device == Device::kCpu) {
    const double v = moe_balance_loss(scores, topk_idx, seq_start, B, p, alpha, dlogits);
    if (loss) *loss += v;
    return;
  }
  AHA_CUDA("moe_balance_loss", {
    const size_t ws = moe_balance_loss_workspace_size(N, B, p.E);
    moe_balance_loss_cuda(loss, dlogits, scores, topk_idx, seq_start, B, N, p, alpha,
                          workspace(ctx, ws), ws, stream(ctx));
  });
}

void logprob_forward(const Ctx& ctx, float* logp, float* lse, float* entropy, const float* logits,
                     const int* targets, int N, int V, float inv_temp) {
  if (ctx.device == Device::kCpu)
    return logprob_forward(logp, lse, entropy, logits, targets, N, V, inv_temp);
  AHA_CUDA("logprob_forward",
           logprob_forward_cuda(logp, lse, entropy, logits, targets, N, V, inv_temp, stream(ctx)));
}

void logprob_backward(const Ctx& ctx, float* dlogits, const float* dlogp, const float* logits,
                      const float* lse, const int* targets, int N, int V, float inv_temp) {
  if (ctx.device == Device::kCpu)
    return logprob_backward(dlogits, dlogp, logits, lse, targets, N, V, inv_temp);
  AHA_CUDA("logprob_backward", logprob_backward_cuda(dlogits, dlogp, logits, lse, targets, N, V,
                                                     inv_temp, stream(ctx)));
}

// The loss for logging: N values to the host (the one sync of a forward).
float logprob_mean_nll(const Ctx& ctx, const float* logp, const int* targets, int N) {
  if (ctx.device == Device::kCpu) return logprob_mean_nll(logp, targets, N);
  std::vector<float> l(N);
  std::vector<int> t(N);
  device_copy(ctx, l.data(), Device::kCpu, logp, ctx.device, N * sizeof(float));
  device_copy(ctx, t.data(), Device::kCpu, targets, ctx.device, N * sizeof(int));
  return logprob_mean_nll(l.data(), t.data(), N);
}

void adamw_update(const Ctx& ctx, float* params, const float* grads, float* m, float* v, long n,
                  int step, const AdamWParams& p) {
  if (ctx.device == Device::kCpu) return adamw_update(params, grads, m, v, n, step, p);
  no_cuda_twin("adamw_update");  // the learner's CUDA update is not wired (learner_device)
}

double grad_norm(const Ctx& ctx, const float* grads, long n) {
  if (ctx.device == Device::kCpu) return grad_norm(grads, n);
  no_cuda_twin("grad_norm");
}

}  // namespace aha
