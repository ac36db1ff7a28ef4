// The one doorway to FlashInfer (kernels/cuda/decode_attention_flashinfer.cu, built only when
// kernels/cuda/flashinfer.cmake found its headers, AHA_HAVE_FLASHINFER): its batch MLA paged
// attention, FA2-style kernel (mla.cuh), for DeepSeek's latent dims R = 512, DR = 64, bf16 query,
// cache and output, int32 page ids. Used by kernels/cuda/decode_attention.cu only.
//
// clang-format off
// Invariants:
// - The schedule (FlashInfer's MLAPlan: a load-balanced split of every row's context over the
//   SMs) is computed on the host from host copies of page_indptr and seq_lens, written into a
//   pinned staging buffer and copied into the device int workspace by the caller.
// - The run reads the schedule, page_ids and the caches; nothing else of page_indptr/seq_lens.
// - Workspace sizes depend on the SM count only (FlashInfer caps a schedule at 16,384 work items).
// clang-format on
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace aha {

constexpr int kFlashinferPlanInfoSize = 18;  // FlashInfer's MLAPlanInfo as int64s

// Device float workspace (partial outputs and log-sum-exps of split rows) and device int
// workspace (the schedule; the pinned staging buffer has the same size), for num_sm SMs.
size_t flashinfer_mla_float_workspace_bytes(int num_sm);
size_t flashinfer_mla_int_workspace_bytes(int num_sm);

// Host only (no CUDA call but the device's SM count): the schedule for B >= 1 rows of one query
// token each and NH heads, written into staging (pinned, int_bytes) at the offsets it will have
// in int_workspace (FlashInfer aligns them against that address, hence the device pointers);
// *staged_bytes = how much of it the caller copies into int_workspace. Throws on FlashInfer's
// errors (std::runtime_error).
void flashinfer_mla_plan(int64_t* plan_info, size_t* staged_bytes, void* staging,
                         void* int_workspace, size_t int_bytes, void* float_workspace,
                         size_t float_bytes, const int* page_indptr_host, const int* seq_lens_host,
                         int B, int NH);

// out[B,NH,512] bf16; q_lat[B,NH,512], q_rope[B,NH,64] bf16; cache rows [c_kv (512) ; k_rope (64)]
// bf16 of page_tokens rows per page (FlashInfer's ckv and kpe planes are two views of it, with
// the row stride 576). Launches one cooperative kernel on stream.
cudaError_t flashinfer_mla_run(const int64_t* plan_info, void* float_workspace, void* int_workspace,
                               __nv_bfloat16* out, const __nv_bfloat16* q_lat,
                               const __nv_bfloat16* q_rope, const __nv_bfloat16* cache,
                               int page_tokens, const int* page_ids, int NH, float scale,
                               cudaStream_t stream);

}  // namespace aha
