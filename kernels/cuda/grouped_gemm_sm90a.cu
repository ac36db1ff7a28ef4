// Grouped expert GEMMs on Hopper through CUTLASS's pointer-array TMA warp-specialised kernels.
// All three layouts live in this one translation unit (each takes a minute or two to compile).
// Per-group sizes are written on the device from expert_offsets by a setup kernel, and CUTLASS is
// given no host copy of them, so routing never synchronises with the host.
// Built with -DNDEBUG and for sm_90a only: the wgmma/TMA kernels abort on plain sm_90.
#include <cutlass/cutlass.h>
#include <cutlass/gemm/device/gemm_universal_adapter.h>

#include <algorithm>
#include <cute/tensor.hpp>
#include <cutlass/epilogue/collective/collective_builder.hpp>
#include <cutlass/gemm/collective/collective_builder.hpp>
#include <cutlass/gemm/dispatch_policy.hpp>
#include <cutlass/gemm/group_array_problem_shape.hpp>
#include <cutlass/gemm/kernel/gemm_universal.hpp>
#include <cutlass/util/packed_stride.hpp>
#include <string>

#include "kernels/check.h"
#include "kernels/cuda/grouped_gemm_sm90a.h"
#include "kernels/cuda/ops.h"

namespace aha {
namespace {

using namespace cute;
using ProblemShape = cutlass::gemm::GroupProblemShape<Shape<int, int, int>>;  // (M, N, K) per group
using Shape3 = ProblemShape::UnderlyingProblemShape;
using BF16 = cutlass::bfloat16_t;

// The CUTLASS types of one grouped GEMM D[g] = A[g] · B[g] (+ D[g]) with bf16 A, B and fp32 D,
// spelled out at namespace scope (nvcc's host pass mis-parses these builders inside a template).
#define AHA_GROUPED_GEMM_TYPES(NAME, LAYOUT_A, LAYOUT_B)                                           \
  namespace NAME {                                                                                 \
  using LayoutC = cutlass::layout::RowMajor;                                                       \
  using TileShape = Shape<_128, _128, _64>;                                                        \
  using ClusterShape = Shape<_1, _1, _1>;                                                          \
  using Epilogue = cutlass::epilogue::collective::CollectiveBuilder<                               \
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,                \
      cutlass::epilogue::collective::EpilogueTileAuto, float, float, float, LayoutC*, 4, float,    \
      LayoutC*, 4, cutlass::epilogue::PtrArrayTmaWarpSpecializedCooperative,                       \
      cutlass::epilogue::fusion::LinearCombination<float, float>>::CollectiveOp;                   \
  using Mainloop = cutlass::gemm::collective::CollectiveBuilder<                                   \
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, BF16, LAYOUT_A*, 8, BF16, LAYOUT_B*, 8, \
      float, TileShape, ClusterShape,                                                              \
      cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(                          \
          sizeof(Epilogue::SharedStorage))>,                                                       \
      cutlass::gemm::KernelPtrArrayTmaWarpSpecializedCooperative>::CollectiveOp;                   \
  using Kernel = cutlass::gemm::kernel::GemmUniversal<ProblemShape, Mainloop, Epilogue>;           \
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;                                \
  }

// Forward: ye_e[Me,OC] = xe_e[Me,IC] · w_e[OC,IC]ᵀ; w_e as B (N=OC, K=IC) is K-contiguous.
AHA_GROUPED_GEMM_TYPES(fwd, cutlass::layout::RowMajor, cutlass::layout::ColumnMajor)
// Data gradient: dxe_e[Me,IC] += dye_e[Me,OC] · w_e[OC,IC]; w_e as B (K=OC, N=IC) is N-contiguous.
AHA_GROUPED_GEMM_TYPES(bwd, cutlass::layout::RowMajor, cutlass::layout::RowMajor)
// Weight gradient: dw_e[OC,IC] += dye_eᵀ · xe_e; dye_e as A (M=OC, K=Me) is M-contiguous.
AHA_GROUPED_GEMM_TYPES(wgt, cutlass::layout::ColumnMajor, cutlass::layout::RowMajor)

template <class GemmT>
struct Grouped {
  using Gemm = GemmT;
  using Kernel = typename Gemm::GemmKernel;
  using StrideA = typename Kernel::InternalStrideA;
  using StrideB = typename Kernel::InternalStrideB;
  using StrideC = typename Kernel::InternalStrideC;
  using StrideD = typename Kernel::InternalStrideD;

  // The device arrays CUTLASS reads, carved out of the caller's scratch.
  struct Arrays {
    Shape3* shape;
    const BF16** a;
    const BF16** b;
    const float** c;
    float** d;
    StrideA* sa;
    StrideB* sb;
    StrideC* sc;
    StrideD* sd;
    void* workspace;
  };

  static size_t align(size_t x) { return (x + 255) & ~static_cast<size_t>(255); }
  static size_t arrays_bytes(int E) {
    return align(E * sizeof(Shape3)) + 4 * align(E * sizeof(void*)) + align(E * sizeof(StrideA)) +
           align(E * sizeof(StrideB)) + align(E * sizeof(StrideC)) + align(E * sizeof(StrideD));
  }
  static Arrays carve(void* scratch, int E) {
    char* p = static_cast<char*>(scratch);
    Arrays r;
    auto take = [&](size_t bytes) {
      char* q = p;
      p += align(bytes);
      return q;
    };
    r.shape = reinterpret_cast<Shape3*>(take(E * sizeof(Shape3)));
    r.a = reinterpret_cast<const BF16**>(take(E * sizeof(void*)));
    r.b = reinterpret_cast<const BF16**>(take(E * sizeof(void*)));
    r.c = reinterpret_cast<const float**>(take(E * sizeof(void*)));
    r.d = reinterpret_cast<float**>(take(E * sizeof(void*)));
    r.sa = reinterpret_cast<StrideA*>(take(E * sizeof(StrideA)));
    r.sb = reinterpret_cast<StrideB*>(take(E * sizeof(StrideB)));
    r.sc = reinterpret_cast<StrideC*>(take(E * sizeof(StrideC)));
    r.sd = reinterpret_cast<StrideD*>(take(E * sizeof(StrideD)));
    r.workspace = p;
    return r;
  }

  static cutlass::KernelHardwareInfo hw_info() {
    static const cutlass::KernelHardwareInfo info = [] {
      int device = 0;
      cudaGetDevice(&device);
      return cutlass::KernelHardwareInfo::make_kernel_hardware_info<Kernel>(device);
    }();
    return info;
  }

  static typename Gemm::Arguments arguments(const Arrays& r, int E, float beta) {
    typename Gemm::Arguments args;
    decltype(args.epilogue.thread) fusion;
    fusion.alpha = 1.0f;
    fusion.beta = beta;
    fusion.alpha_ptr = nullptr;
    fusion.beta_ptr = nullptr;
    fusion.alpha_ptr_array = nullptr;
    fusion.beta_ptr_array = nullptr;
    fusion.dAlpha = {_0{}, _0{}, 0};
    fusion.dBeta = {_0{}, _0{}, 0};
    // No host copy of the problem sizes: they are only on the device.
    args = typename Gemm::Arguments{cutlass::gemm::GemmUniversalMode::kGrouped,
                                    {E, r.shape, nullptr},
                                    {r.a, r.sa, r.b, r.sb},
                                    {fusion, r.c, r.sc, r.d, r.sd},
                                    hw_info()};
    return args;
  }

  static size_t scratch_bytes(int E) {
    // Workspace size depends only on the group count and the hardware, not the sizes.
    Arrays r{};
    return arrays_bytes(E) + align(Gemm::get_workspace_size(arguments(r, E, 1.0f)));
  }

  static void run(const Arrays& r, int E, float beta, size_t scratch_bytes, cudaStream_t stream) {
    auto args = arguments(r, E, beta);
    AHA_CHECK(arrays_bytes(E) + Gemm::get_workspace_size(args) <= scratch_bytes,
              "grouped_gemm_sm90a: scratch too small");
    Gemm gemm;
    cutlass::Status st = gemm.can_implement(args);
    AHA_CHECK(st == cutlass::Status::kSuccess,
              std::string("grouped_gemm_sm90a: cannot implement: ") + cutlassGetStatusString(st));
    st = gemm.initialize(args, r.workspace, stream);
    AHA_CHECK(st == cutlass::Status::kSuccess,
              std::string("grouped_gemm_sm90a: initialize: ") + cutlassGetStatusString(st));
    st = gemm.run(stream);
    AHA_CHECK(st == cutlass::Status::kSuccess,
              std::string("grouped_gemm_sm90a: run: ") + cutlassGetStatusString(st));
  }
};

using Fwd = Grouped<fwd::Gemm>;
using Bwd = Grouped<bwd::Gemm>;
using Wgt = Grouped<wgt::Gemm>;

template <class G>
__global__ void setup_kernel(typename G::Arrays r, int op, float* D, const BF16* A, const BF16* B,
                             const int* expert_offsets, int E, int IC, int OC) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= E) return;
  const long r0 = expert_offsets[e];
  const int Me = expert_offsets[e + 1] - expert_offsets[e];
  const long wsz = static_cast<long>(OC) * IC;
  int M, N, K;
  if (op == 0) {
    M = Me, N = OC, K = IC;
    r.a[e] = A + r0 * IC;
    r.b[e] = B + e * wsz;
    r.d[e] = D + r0 * OC;
  } else if (op == 1) {
    M = Me, N = IC, K = OC;
    r.a[e] = A + r0 * OC;
    r.b[e] = B + e * wsz;
    r.d[e] = D + r0 * IC;
  } else {
    // An expert without rows adds nothing: an empty problem, not a K = 0 mainloop.
    M = Me > 0 ? OC : 0, N = IC, K = Me;
    r.a[e] = A + r0 * OC;
    r.b[e] = B + r0 * IC;
    r.d[e] = D + e * wsz;
  }
  r.c[e] = r.d[e];
  r.shape[e] = Shape3{M, N, K};
  r.sa[e] = cutlass::make_cute_packed_stride(typename G::StrideA{}, {M, K, 1});
  r.sb[e] = cutlass::make_cute_packed_stride(typename G::StrideB{}, {N, K, 1});
  r.sc[e] = cutlass::make_cute_packed_stride(typename G::StrideC{}, {M, N, 1});
  r.sd[e] = cutlass::make_cute_packed_stride(typename G::StrideD{}, {M, N, 1});
}

template <class G>
void launch(int op, float beta, float* D, const __nv_bfloat16* A, const __nv_bfloat16* B,
            const int* expert_offsets, int E, int IC, int OC, void* scratch, size_t scratch_bytes,
            cudaStream_t stream) {
  typename G::Arrays r = G::carve(scratch, E);
  setup_kernel<G><<<(E + 127) / 128, 128, 0, stream>>>(r, op, D, reinterpret_cast<const BF16*>(A),
                                                       reinterpret_cast<const BF16*>(B),
                                                       expert_offsets, E, IC, OC);
  AHA_CUDA_CHECK(cudaGetLastError());
  G::run(r, E, beta, scratch_bytes, stream);
}

}  // namespace

size_t grouped_gemm_sm90a_scratch_bytes(int E) {
  return std::max({Fwd::scratch_bytes(E), Bwd::scratch_bytes(E), Wgt::scratch_bytes(E)});
}

void grouped_gemm_sm90a(GroupedGemmOp op, float* D, const __nv_bfloat16* A, const __nv_bfloat16* B,
                        const int* expert_offsets, int E, int IC, int OC, void* scratch,
                        size_t scratch_bytes, cudaStream_t stream) {
  switch (op) {
    case GroupedGemmOp::kForward:
      launch<Fwd>(0, 0.0f, D, A, B, expert_offsets, E, IC, OC, scratch, scratch_bytes, stream);
      break;
    case GroupedGemmOp::kBackwardData:
      launch<Bwd>(1, 1.0f, D, A, B, expert_offsets, E, IC, OC, scratch, scratch_bytes, stream);
      break;
    case GroupedGemmOp::kBackwardWeight:
      launch<Wgt>(2, 1.0f, D, A, B, expert_offsets, E, IC, OC, scratch, scratch_bytes, stream);
      break;
  }
}

}  // namespace aha
