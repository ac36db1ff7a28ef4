// FlashInfer's batch MLA paged decode attention behind two plain functions
// (kernels/cuda/decode_attention_flashinfer.h). The only translation unit including FlashInfer:
// built with the libcudacxx bundled with FlashInfer ahead of the toolkit's.
//
// Which kernel: the FA2-style one (flashinfer/attention/mla.cuh, mma.sync + cp.async), not the
// Hopper one (mla_hopper.cuh, wgmma + TMA). It compiles for plain sm_90 with the rest of the
// CUDA twins (the Hopper one needs an sm_90a build of its own) and runs on sm_80 and later; it is
// the kernel FlashInfer's own `fa2` backend uses for decode. Instantiated once: bf16 query, cache
// and output, int32 ids, no mask, 512 + 64.
#include <flashinfer/attention/mla.cuh>
#include <flashinfer/attention/scheduler.cuh>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/decode_attention_flashinfer.h"

namespace aha {

namespace {

using Bf16 = __nv_bfloat16;
using Params = flashinfer::MLAParams<Bf16, Bf16, Bf16, int32_t>;
constexpr uint32_t kR = 512, kDR = 64;
constexpr int kTileQ = 64;            // FlashInfer's CTA_TILE_Q for MLA
constexpr int kMaxWorks = 16384;      // MLAPlan's max_total_num_works
constexpr int kIntArraysPerWork = 9;  // q/kv/partial indptr, q/kv len, q/kv start, kv end, work
constexpr int kIntArraysPerSm = 5;    // the merge offsets and strides

}  // namespace

size_t flashinfer_mla_float_workspace_bytes(int num_sm) {
  // partial_o: 2 * (SMs * 64 rows) * 512 bf16; partial_lse: 2 * (SMs * 64) floats; 16-B alignment.
  return 2ull * num_sm * kTileQ * kR * sizeof(Bf16) + 2ull * num_sm * kTileQ * sizeof(float) + 64;
}

size_t flashinfer_mla_int_workspace_bytes(int num_sm) {
  return (kIntArraysPerWork * (static_cast<size_t>(kMaxWorks) * sizeof(int32_t) + 16)) +
         (kIntArraysPerSm * (static_cast<size_t>(num_sm) * sizeof(int32_t) + 16)) + 64;
}

void flashinfer_mla_plan(int64_t* plan_info, size_t* staged_bytes, void* staging,
                         void* int_workspace, size_t int_bytes, void* float_workspace,
                         size_t float_bytes, const int* page_indptr_host, const int* seq_lens_host,
                         int B, int NH) {
  // One query token per row: qo_indptr = 0, 1, ..., B. MLAPlan takes non-const host arrays.
  std::vector<int32_t> qo_indptr(B + 1), kv_indptr(page_indptr_host, page_indptr_host + B + 1),
      kv_len(seq_lens_host, seq_lens_host + B);
  for (int b = 0; b <= B; b++) qo_indptr[b] = b;
  flashinfer::MLAPlanInfo info;
  cudaError_t err;
  try {
    err = flashinfer::MLAPlan<int32_t>(float_workspace, float_bytes, int_workspace, staging,
                                       int_bytes, info, *staged_bytes, qo_indptr.data(),
                                       kv_indptr.data(), kv_len.data(), B, NH, kR,
                                       /*causal=*/false, /*stream=*/nullptr);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("flashinfer_mla_plan: ") + e.what());
  }
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("flashinfer_mla_plan: ") + cudaGetErrorString(err));
  const std::vector<int64_t> v = info.ToVector();
  if (static_cast<int>(v.size()) != kFlashinferPlanInfoSize)
    throw std::runtime_error("flashinfer_mla_plan: unexpected MLAPlanInfo size");
  for (int i = 0; i < kFlashinferPlanInfoSize; i++) plan_info[i] = v[i];
}

cudaError_t flashinfer_mla_run(const int64_t* plan_info_vec, void* float_workspace,
                               void* int_workspace, Bf16* out, const Bf16* q_lat,
                               const Bf16* q_rope, const Bf16* cache, int page_tokens,
                               const int* page_ids, int NH, float scale, cudaStream_t stream) {
  using flashinfer::GetPtrFromBaseOffset;
  flashinfer::MLAPlanInfo info;
  info.FromVector(std::vector<int64_t>(plan_info_vec, plan_info_vec + kFlashinferPlanInfoSize));
  void* ib = int_workspace;
  constexpr uint32_t W = kR + kDR;  // one cache row: [c_kv ; k_rope]
  Params p;
  // FlashInfer never writes through these; its params are non-const.
  p.q_nope = const_cast<Bf16*>(q_lat);
  p.q_pe = const_cast<Bf16*>(q_rope);
  p.ckv = const_cast<Bf16*>(cache);
  p.kpe = const_cast<Bf16*>(cache) + kR;
  p.q_indptr = GetPtrFromBaseOffset<int32_t>(ib, info.q_indptr_offset);
  p.kv_indptr = GetPtrFromBaseOffset<int32_t>(ib, info.kv_indptr_offset);
  p.partial_indptr = GetPtrFromBaseOffset<int32_t>(ib, info.partial_indptr_offset);
  p.kv_indices = const_cast<int32_t*>(page_ids);
  p.q_len = GetPtrFromBaseOffset<int32_t>(ib, info.q_len_offset);
  p.kv_len = GetPtrFromBaseOffset<int32_t>(ib, info.kv_len_offset);
  p.q_start = GetPtrFromBaseOffset<int32_t>(ib, info.q_start_offset);
  p.kv_start = GetPtrFromBaseOffset<int32_t>(ib, info.kv_start_offset);
  p.kv_end = GetPtrFromBaseOffset<int32_t>(ib, info.kv_end_offset);
  p.work_indptr = GetPtrFromBaseOffset<int32_t>(ib, info.work_indptr_offset);
  p.merge_packed_offset_start =
      GetPtrFromBaseOffset<int32_t>(ib, info.merge_packed_offset_start_offset);
  p.merge_packed_offset_end =
      GetPtrFromBaseOffset<int32_t>(ib, info.merge_packed_offset_end_offset);
  p.merge_partial_packed_offset_start =
      GetPtrFromBaseOffset<int32_t>(ib, info.merge_partial_packed_offset_start_offset);
  p.merge_partial_packed_offset_end =
      GetPtrFromBaseOffset<int32_t>(ib, info.merge_partial_packed_offset_end_offset);
  p.merge_partial_stride = GetPtrFromBaseOffset<int32_t>(ib, info.merge_partial_stride_offset);
  p.final_o = out;
  p.final_lse = nullptr;
  p.partial_o = GetPtrFromBaseOffset<Bf16>(float_workspace, info.partial_o_offset);
  p.partial_lse = GetPtrFromBaseOffset<float>(float_workspace, info.partial_lse_offset);
  p.num_heads = flashinfer::uint_fastdiv(NH);
  p.block_size = flashinfer::uint_fastdiv(page_tokens);
  p.q_nope_stride_n = NH * kR;  // q_lat[B, NH, 512]
  p.q_nope_stride_h = kR;
  p.q_pe_stride_n = NH * kDR;  // q_rope[B, NH, 64]
  p.q_pe_stride_h = kDR;
  p.ckv_stride_page = page_tokens * W;  // both planes: rows of W values, P rows a page
  p.ckv_stride_n = W;
  p.kpe_stride_page = page_tokens * W;
  p.kpe_stride_n = W;
  p.o_stride_n = NH * kR;
  p.o_stride_h = kR;
  p.sm_scale = scale;
  p.ckv_scale = 1.0f;
  p.kpe_scale = 1.0f;
  p.ckv_scale_arr = nullptr;
  p.return_lse_base_on_e = true;
  try {
    return flashinfer::mla::BatchMLAPagedAttention<flashinfer::MaskMode::kNone, kR, kDR, Params>(
        p, static_cast<uint32_t>(info.num_blks_x), static_cast<uint32_t>(info.num_blks_y), stream);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("flashinfer_mla_run: ") + e.what());
  }
}

}  // namespace aha
