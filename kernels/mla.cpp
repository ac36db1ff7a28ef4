#include "kernels/mla.h"

#include <cstddef>
#include <cstring>

#include "kernels/gemm.h"

namespace aha {

void mla_expand_kv(float* k, float* v, const float* kv, const float* kv_a, int N, int NH, int DN,
                   int DR, int DV, int R) {
  const int DQK = DN + DR, KVW = NH * (DN + DV);
  for (int n = 0; n < N; n++) {
    const float* kr = kv_a + static_cast<size_t>(n) * (R + DR) + R;
    for (int h = 0; h < NH; h++) {
      const float* src = kv + static_cast<size_t>(n) * KVW + h * (DN + DV);
      float* kd = k + (static_cast<size_t>(n) * NH + h) * DQK;
      std::memcpy(kd, src, DN * sizeof(float));
      std::memcpy(kd + DN, kr, DR * sizeof(float));
      std::memcpy(v + (static_cast<size_t>(n) * NH + h) * DV, src + DN, DV * sizeof(float));
    }
  }
}

void mla_expand_kv_backward(float* dkv, float* dkv_a, const float* dk, const float* dv, int N,
                            int NH, int DN, int DR, int DV, int R) {
  const int DQK = DN + DR, KVW = NH * (DN + DV), KA = R + DR;
  for (int n = 0; n < N; n++) {
    float* dkr = dkv_a + static_cast<size_t>(n) * KA + R;
    for (int h = 0; h < NH; h++) {
      float* dst = dkv + static_cast<size_t>(n) * KVW + h * (DN + DV);
      const float* dkh = dk + (static_cast<size_t>(n) * NH + h) * DQK;
      std::memcpy(dst, dkh, DN * sizeof(float));
      std::memcpy(dst + DN, dv + (static_cast<size_t>(n) * NH + h) * DV, DV * sizeof(float));
      for (int i = 0; i < DR; i++) dkr[i] += dkh[DN + i];
    }
  }
}

void mla_absorb_q(float* q_lat, float* q_rope, const float* q, const float* kv_b, int B, int NH,
                  int DN, int DR, int DV, int R) {
  const int DQK = DN + DR;
  for (int h = 0; h < NH; h++) {
    const float* wuk = kv_b + static_cast<size_t>(h) * (DN + DV) * R;  // [DN, R]
    sgemm(false, false, B, R, DN, 1.0f, q + static_cast<size_t>(h) * DQK, NH * DQK, wuk, R, 0.0f,
          q_lat + static_cast<size_t>(h) * R, NH * R);
    for (int b = 0; b < B; b++)
      std::memcpy(q_rope + (static_cast<size_t>(b) * NH + h) * DR,
                  q + (static_cast<size_t>(b) * NH + h) * DQK + DN, DR * sizeof(float));
  }
}

void mla_absorb_out(float* att, const float* out_lat, const float* kv_b, int B, int NH, int DN,
                    int DV, int R) {
  for (int h = 0; h < NH; h++) {
    const float* wuv = kv_b + (static_cast<size_t>(h) * (DN + DV) + DN) * R;  // [DV, R]
    sgemm(false, true, B, DV, R, 1.0f, out_lat + static_cast<size_t>(h) * R, NH * R, wuv, R, 0.0f,
          att + static_cast<size_t>(h) * DV, NH * DV);
  }
}

}  // namespace aha
