#include "kernels/moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/check.h"
#include "kernels/gemm.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"
#include "kernels/swiglu.h"

namespace aha {

static void check_params(const RouterParams& p) {
  AHA_CHECK(p.E > 0 && p.K > 0 && p.K <= p.E, "router: need 0 < K <= E");
  AHA_CHECK(p.num_groups >= 1 && p.E % p.num_groups == 0,
            "router: E must be a multiple of num_groups");
  AHA_CHECK(p.topk_groups >= 1 && p.topk_groups <= p.num_groups,
            "router: need 1 <= topk_groups <= num_groups");
  AHA_CHECK(p.K <= p.topk_groups * (p.E / p.num_groups),
            "router: K exceeds the experts of the kept groups");
}

// Index of the largest c[i] over i with allowed[i], ties to the lowest index; -1 if none.
// A plain scan, not a sort: NaN scores then cannot break a comparator's ordering.
static int argmax_allowed(const float* c, const char* allowed, int n) {
  int best = -1;
  for (int i = 0; i < n; i++)
    if (allowed[i] && (best < 0 || c[i] > c[best])) best = i;
  return best;
}

void moe_router_forward(float* scores, int* topk_idx, float* topk_weights, const float* logits,
                        const float* bias, int N, const RouterParams& p, bool select) {
  check_params(p);
  const int E = p.E, K = p.K, G = p.num_groups, GS = E / G;
  std::vector<float> c(E), gscore(G);
  std::vector<char> allowed(E), gallowed(G), keep(G);
  for (int n = 0; n < N; n++) {
    const float* l = logits + (long)n * E;
    float* s = scores + (long)n * E;
    if (p.scoring == ScoringFunc::kSigmoid) {
      for (int e = 0; e < E; e++) s[e] = 1.0f / (1.0f + std::exp(-l[e]));
    } else {
      float mx = l[0];
      for (int e = 1; e < E; e++) mx = std::fmax(mx, l[e]);
      double sum = 0.0;
      for (int e = 0; e < E; e++) sum += std::exp((double)l[e] - mx);
      for (int e = 0; e < E; e++) s[e] = (float)(std::exp((double)l[e] - mx) / sum);
    }
    int* idx = topk_idx + (long)n * K;
    if (select) {
      for (int e = 0; e < E; e++) c[e] = bias ? s[e] + bias[e] : s[e];
      std::fill(allowed.begin(), allowed.end(), 1);
      if (G > 1) {
        // Group score: sum of the group's top-2 (top-1 when a group has one expert or group_max).
        for (int g = 0; g < G; g++) {
          const float* cg = c.data() + g * GS;
          int a = 0;
          for (int i = 1; i < GS; i++)
            if (cg[i] > cg[a]) a = i;
          int b2 = -1;
          for (int i = 0; i < GS; i++)
            if (i != a && (b2 < 0 || cg[i] > cg[b2])) b2 = i;
          gscore[g] = b2 >= 0 && !p.group_max ? cg[a] + cg[b2] : cg[a];
        }
        std::fill(gallowed.begin(), gallowed.end(), 1);
        std::fill(keep.begin(), keep.end(), 0);
        for (int j = 0; j < p.topk_groups; j++) {
          int g = argmax_allowed(gscore.data(), gallowed.data(), G);
          keep[g] = 1;
          gallowed[g] = 0;
        }
        for (int e = 0; e < E; e++) allowed[e] = keep[e / GS];
      }
      // Top-K in descending order of s + bias.
      for (int k = 0; k < K; k++) {
        int e = argmax_allowed(c.data(), allowed.data(), E);
        idx[k] = e;
        allowed[e] = 0;
      }
    } else {
      for (int k = 0; k < K; k++)
        AHA_CHECK(idx[k] >= 0 && idx[k] < E, "router replay: topk_idx " + std::to_string(idx[k]) +
                                                 " of token " + std::to_string(n) +
                                                 " outside [0, E)");
    }
    float* w = topk_weights + (long)n * K;
    double sum = 0.0;
    for (int k = 0; k < K; k++) sum += s[idx[k]];
    const double f = p.norm_topk_prob ? p.scaling / (sum + 1e-20) : p.scaling;
    for (int k = 0; k < K; k++) w[k] = (float)(s[idx[k]] * f);
  }
}

void moe_router_backward(float* dlogits, const float* dtopk_weights, const float* scores,
                         const int* topk_idx, int N, const RouterParams& p) {
  check_params(p);
  const int E = p.E, K = p.K;
  std::vector<double> du(K), acc(E);
  for (int n = 0; n < N; n++) {
    const float* s = scores + (long)n * E;
    const int* idx = topk_idx + (long)n * K;
    const float* g = dtopk_weights + (long)n * K;
    float* dl = dlogits + (long)n * E;
    // du_k = d loss / d s[idx_k] through w_k = scaling * s_k / (Σ s + 1e-20).
    if (p.norm_topk_prob) {
      double sum = 0.0, gu = 0.0;
      for (int k = 0; k < K; k++) {
        sum += s[idx[k]];
        gu += (double)g[k] * s[idx[k]];
      }
      const double den = sum + 1e-20;
      for (int k = 0; k < K; k++) du[k] = p.scaling * (g[k] / den - gu / (den * den));
    } else {
      for (int k = 0; k < K; k++) du[k] = (double)p.scaling * g[k];
    }
    if (p.scoring == ScoringFunc::kSigmoid) {
      for (int k = 0; k < K; k++) {
        const double se = s[idx[k]];
        dl[idx[k]] += (float)(du[k] * se * (1.0 - se));
      }
    } else {
      // Softmax Jacobian: dl_e = s_e (ds_e - Σ_j s_j ds_j), ds nonzero only at the K selected.
      double dot = 0.0;
      for (int k = 0; k < K; k++) dot += du[k] * s[idx[k]];
      for (int e = 0; e < E; e++) acc[e] = -dot * s[e];
      for (int k = 0; k < K; k++) acc[idx[k]] += du[k] * s[idx[k]];
      for (int e = 0; e < E; e++) dl[e] += (float)acc[e];
    }
  }
}

void moe_dispatch(int* expert_offsets, int* row_token, int* row_slot, const int* topk_idx, int N,
                  int E, int K, long* expert_load) {
  std::vector<int> cursor(E, 0);
  const long M = (long)N * K;
  for (long i = 0; i < M; i++) {
    const int e = topk_idx[i];
    AHA_CHECK(e >= 0 && e < E, "moe_dispatch: topk_idx " + std::to_string(e) + " at slot " +
                                   std::to_string(i) + " outside [0, " + std::to_string(E) + ")");
    cursor[e]++;
  }
  expert_offsets[0] = 0;
  for (int e = 0; e < E; e++) {
    if (expert_load) expert_load[e] += cursor[e];
    expert_offsets[e + 1] = expert_offsets[e] + cursor[e];
    cursor[e] = expert_offsets[e];
  }
  // Slots are visited in token order, so each expert's rows keep token order (stable).
  for (long i = 0; i < M; i++) {
    const int r = cursor[topk_idx[i]]++;
    row_token[r] = (int)(i / K);
    row_slot[r] = (int)i;
  }
}

void moe_gather(float* xe, const float* x, const int* row_token, int M, int C) {
  for (int m = 0; m < M; m++)
    std::memcpy(xe + (long)m * C, x + (long)row_token[m] * C, sizeof(float) * C);
}

void moe_gather_backward(float* dx, const float* dxe, const int* row_token, int M, int C) {
  for (int m = 0; m < M; m++) {
    float* d = dx + (long)row_token[m] * C;
    const float* s = dxe + (long)m * C;
    for (int c = 0; c < C; c++) d[c] += s[c];
  }
}

void moe_combine(float* out, const float* ye, const float* topk_weights, const int* row_token,
                 const int* row_slot, int M, int C) {
  for (int m = 0; m < M; m++) {
    const float w = topk_weights[row_slot[m]];
    float* o = out + (long)row_token[m] * C;
    const float* y = ye + (long)m * C;
    for (int c = 0; c < C; c++) o[c] += w * y[c];
  }
}

void moe_combine_backward(float* dye, float* dtopk_weights, const float* dout, const float* ye,
                          const float* topk_weights, const int* row_token, const int* row_slot,
                          int M, int C) {
  for (int m = 0; m < M; m++) {
    const float w = topk_weights[row_slot[m]];
    const float* d = dout + (long)row_token[m] * C;
    const float* y = ye + (long)m * C;
    float* dy = dye + (long)m * C;
    double dot = 0.0;
    for (int c = 0; c < C; c++) {
      dy[c] = w * d[c];
      dot += (double)d[c] * y[c];
    }
    dtopk_weights[row_slot[m]] += (float)dot;
  }
}

namespace {

// The non-empty experts, largest first, when they should run one per thread (each expert's
// GEMMs then run whole on one core); empty when the GEMMs should be split instead. Splitting an
// expert's ~64-row GEMM over two cores runs at 60% of one core each (every part packs its share
// of the weights for few rows, and every GEMM is a fork-join), while whole experts on each core
// run at ~80%; so experts go in parallel whenever there are at least two per thread. Largest
// first balances the threads' loads (parallel_for hands items out as threads free up).
std::vector<int> parallel_expert_order(const int* expert_offsets, int E) {
  std::vector<int> order;
  const int T = compute_threads();
  // fp32 only: bf16 GEMMs read the weights' bf16 copy only outside parallel regions (gemm.h).
  if (T <= 1 || in_parallel_region() || gemm_precision() != GemmPrecision::kFp32) return order;
  for (int e = 0; e < E; e++)
    if (expert_offsets[e + 1] > expert_offsets[e]) order.push_back(e);
  if (static_cast<int>(order.size()) < 2 * T) return {};
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return expert_offsets[a + 1] - expert_offsets[a] > expert_offsets[b + 1] - expert_offsets[b];
  });
  return order;
}

void expert_forward(float* ye, float* he_gate, float* he_up, float* he_act, const float* xe,
                    const float* w_gate, const float* w_up, const float* w_down,
                    const int* expert_offsets, int e, int C, int H) {
  const size_t esz = static_cast<size_t>(H) * C;
  const int r0 = expert_offsets[e], Me = expert_offsets[e + 1] - r0;
  if (Me == 0) return;
  const size_t oc = static_cast<size_t>(r0) * C, oh = static_cast<size_t>(r0) * H;
  linear_forward(he_gate + oh, xe + oc, w_gate + e * esz, Me, C, H);
  linear_forward(he_up + oh, xe + oc, w_up + e * esz, Me, C, H);
  swiglu_forward(he_act + oh, he_gate + oh, he_up + oh, static_cast<long>(Me) * H);
  linear_forward(ye + oc, he_act + oh, w_down + e * esz, Me, H, C);
}

void expert_backward(float* dxe, float* dw_gate, float* dw_up, float* dw_down, const float* dye,
                     const float* he_gate, const float* he_up, const float* he_act, const float* xe,
                     const float* w_gate, const float* w_up, const float* w_down,
                     const int* expert_offsets, int e, int C, int H, float* dgate, float* dup,
                     float* dact) {
  const size_t esz = static_cast<size_t>(H) * C;
  const int r0 = expert_offsets[e], Me = expert_offsets[e + 1] - r0;
  if (Me == 0) return;
  const size_t oc = static_cast<size_t>(r0) * C, oh = static_cast<size_t>(r0) * H;
  const size_t nw = static_cast<size_t>(Me) * H;
  std::memset(dact + oh, 0, nw * sizeof(float));
  std::memset(dgate + oh, 0, nw * sizeof(float));
  std::memset(dup + oh, 0, nw * sizeof(float));
  linear_backward(dact + oh, dw_down + e * esz, dye + oc, he_act + oh, w_down + e * esz, Me, H, C);
  swiglu_backward(dgate + oh, dup + oh, dact + oh, he_gate + oh, he_up + oh, static_cast<long>(nw));
  linear_backward(dxe + oc, dw_gate + e * esz, dgate + oh, xe + oc, w_gate + e * esz, Me, C, H);
  linear_backward(dxe + oc, dw_up + e * esz, dup + oh, xe + oc, w_up + e * esz, Me, C, H);
}

}  // namespace

// Each expert writes only its own rows of the outputs and its own weights' gradients, and each
// of its GEMMs computes an element as one dot over all of K on any thread, so running experts
// in parallel or one after the other gives the same bits.
void moe_experts_forward(float* ye, float* he_gate, float* he_up, float* he_act, const float* xe,
                         const float* w_gate, const float* w_up, const float* w_down,
                         const int* expert_offsets, int E, int C, int H) {
  const std::vector<int> order = parallel_expert_order(expert_offsets, E);
  if (order.empty()) {
    for (int e = 0; e < E; e++)
      expert_forward(ye, he_gate, he_up, he_act, xe, w_gate, w_up, w_down, expert_offsets, e, C, H);
    return;
  }
  parallel_for(static_cast<int>(order.size()), [&](int i) {
    expert_forward(ye, he_gate, he_up, he_act, xe, w_gate, w_up, w_down, expert_offsets,
                   order[static_cast<size_t>(i)], C, H);
  });
}

void moe_experts_backward(float* dxe, float* dw_gate, float* dw_up, float* dw_down,
                          const float* dye, const float* he_gate, const float* he_up,
                          const float* he_act, const float* xe, const float* w_gate,
                          const float* w_up, const float* w_down, const int* expert_offsets, int E,
                          int C, int H, float* dgate, float* dup, float* dact) {
  const std::vector<int> order = parallel_expert_order(expert_offsets, E);
  if (order.empty()) {
    for (int e = 0; e < E; e++)
      expert_backward(dxe, dw_gate, dw_up, dw_down, dye, he_gate, he_up, he_act, xe, w_gate, w_up,
                      w_down, expert_offsets, e, C, H, dgate, dup, dact);
    return;
  }
  parallel_for(static_cast<int>(order.size()), [&](int i) {
    expert_backward(dxe, dw_gate, dw_up, dw_down, dye, he_gate, he_up, he_act, xe, w_gate, w_up,
                    w_down, expert_offsets, order[static_cast<size_t>(i)], C, H, dgate, dup, dact);
  });
}

double moe_balance_loss(const float* scores, const int* topk_idx, const int* seq_start, int B,
                        const RouterParams& p, float alpha, float* dlogits) {
  const int E = p.E, K = p.K;
  double loss = 0;
  std::vector<double> f(E), P(E), g(E);
  for (int b = 0; b < B; b++) {
    const int t0 = seq_start[b], T = seq_start[b + 1] - seq_start[b];
    if (T == 0) continue;
    // f_i = E / (K T) * (tokens selecting i); P_i = mean over tokens of s_i / sum_j s_j.
    std::fill(f.begin(), f.end(), 0.0);
    std::fill(P.begin(), P.end(), 0.0);
    for (int t = t0; t < t0 + T; t++) {
      for (int k = 0; k < K; k++) f[topk_idx[static_cast<size_t>(t) * K + k]] += 1.0;
      const float* s = scores + static_cast<size_t>(t) * E;
      double z = 0;
      for (int i = 0; i < E; i++) z += s[i];
      for (int i = 0; i < E; i++) P[i] += s[i] / z;
    }
    for (int i = 0; i < E; i++) {
      f[i] *= static_cast<double>(E) / (static_cast<double>(K) * T);
      P[i] /= T;
      loss += alpha * f[i] * P[i] / B;
    }
    if (!dlogits) continue;
    // dL/ds'_i = alpha f_i / (T B), then through s' = s / sum(s) and the scoring function.
    for (int t = t0; t < t0 + T; t++) {
      const float* s = scores + static_cast<size_t>(t) * E;
      float* dl = dlogits + static_cast<size_t>(t) * E;
      double z = 0, gs = 0;
      for (int i = 0; i < E; i++) z += s[i];
      for (int i = 0; i < E; i++) {
        g[i] = alpha * f[i] / (static_cast<double>(T) * B);
        gs += g[i] * s[i] / z;
      }
      if (p.scoring == ScoringFunc::kSigmoid) {
        for (int i = 0; i < E; i++)
          dl[i] += static_cast<float>((g[i] - gs) / z * s[i] * (1.0 - s[i]));
      } else {  // softmax scores already sum to one: s' = s
        for (int i = 0; i < E; i++) dl[i] += static_cast<float>(s[i] * (g[i] - gs));
      }
    }
  }
  return loss;
}

}  // namespace aha
