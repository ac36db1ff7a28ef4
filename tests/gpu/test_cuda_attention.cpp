// The CUDA flash-style attention equals the CPU attention (kernels/attention.h), forward and
// backward, over packed variable-length batches: MLA's head dims (tiny and DeepSeek-V3's 192/128),
// grouped-query heads (Qwen3's 128), one-token and empty sequences, sequences longer than a tile,
// many short sequences straddling the 64-row blocks. The kernels multiply bf16 operands (fp32
// accumulation), so the bounds are bf16 ones: atol + |ref|·2⁻⁸, atol a small multiple of 2⁻⁸ times
// the magnitude each output is made of (a wrong mask or index errs by that magnitude itself).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/attention.h"
#include "tests/gpu/gpu_main.h"
#include "tests/gpu/gpu_util.h"

using namespace aha;
using gpu_test::check_close;
using gpu_test::Dev;
using gpu_test::randn;

namespace {

double max_abs(const std::vector<float>& a) {
  double m = 0;
  for (float x : a) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}
double rms(const std::vector<float>& a) {
  double s = 0;
  for (float x : a) s += static_cast<double>(x) * x;
  return a.empty() ? 0 : std::sqrt(s / a.size());
}
// max |a - b|: the size of what the backward added to its accumulators.
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); i++)
    m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

struct Case {
  const char* name;
  int NH, NKV, DQK, DV;
  std::vector<int> lens;
};

void run_case(const Case& c) {
  INFO(c.name);
  const int B = static_cast<int>(c.lens.size());
  std::vector<int> seq_start(B + 1, 0);
  for (int b = 0; b < B; b++) seq_start[b + 1] = seq_start[b] + c.lens[b];
  const int N = seq_start[B];
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.DQK));
  const size_t nq = static_cast<size_t>(N) * c.NH * c.DQK,
               nk = static_cast<size_t>(N) * c.NKV * c.DQK;
  const size_t nv = static_cast<size_t>(N) * c.NKV * c.DV,
               no = static_cast<size_t>(N) * c.NH * c.DV;
  std::vector<float> q = randn(nq, 31, 1.5), k = randn(nk, 32, 1.5), v = randn(nv, 33);
  std::vector<float> dout = randn(no, 34);
  std::vector<float> out(no), lse(static_cast<size_t>(N) * c.NH);
  std::vector<float> dq = randn(nq, 35), dk = randn(nk, 36), dv = randn(nv, 37);
  std::vector<float> dq0 = dq, dk0 = dk, dv0 = dv;
  attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), seq_start.data(), B, c.NH,
                    c.NKV, c.DQK, c.DV, scale);
  attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), out.data(), lse.data(), q.data(),
                     k.data(), v.data(), seq_start.data(), B, c.NH, c.NKV, c.DQK, c.DV, scale);

  Dev<float> dQ(q), dK(k), dV(v), dO(no), dL(lse.size()), dDO(dout), dDQ(dq0), dDK(dk0), dDV(dv0);
  Dev<int> dS(seq_start);
  // Workspaces start as NaN (0xff bytes): the kernels must write every padding byte they read.
  Dev<char> fws(attention_forward_workspace_size(N, c.NH, c.NKV, c.DQK, c.DV));
  REQUIRE(cudaMemset(fws.p, 0xff, fws.n) == cudaSuccess);
  attention_forward_cuda(dO.p, dL.p, dQ.p, dK.p, dV.p, dS.p, B, N, c.NH, c.NKV, c.DQK, c.DV, scale,
                         fws.p, fws.n, 0);
  const double u = std::ldexp(1.0, -8);
  // A score's typical size (independent q, k entries): bf16 q, k err it by ~2⁻⁹ of that.
  const double s_typ = scale * std::sqrt(static_cast<double>(c.DQK)) * rms(q) * rms(k);
  std::vector<float> got_out = dO.download();
  // out is a P-weighted mean of v rows: bf16 v, bf16 P and the scores' error each move it by
  // about 2⁻⁹·max|v| (a CPU emulation of the kernels needed at most 1.1·2⁻⁸·max|v|).
  check_close(got_out, out, 4 * u * max_abs(v), "out");
  // lse moves by at most the scores' error (the emulation needed at most 1.9·2⁻⁸·s_typ).
  check_close(dL.download(), lse, 4 * u * s_typ, "lse");
  // The backward from the CPU forward's out and lse, so only the backward is compared.
  Dev<float> cpu_out(out), cpu_lse(lse);
  size_t ws_bytes = attention_backward_workspace_size(N, c.NH, c.NKV, c.DQK, c.DV);
  Dev<char> ws(ws_bytes);
  REQUIRE(cudaMemset(ws.p, 0xff, ws.n) == cudaSuccess);
  attention_backward_cuda(dDQ.p, dDK.p, dDV.p, dDO.p, cpu_out.p, cpu_lse.p, dQ.p, dK.p, dV.p, dS.p,
                          B, N, c.NH, c.NKV, c.DQK, c.DV, scale, ws.p, ws_bytes, 0);
  std::vector<float> gdq = dDQ.download(), gdk = dDK.download(), gdv = dDV.download();
  // A gradient is a sum of terms with bf16 factors, so it errs by ~2⁻⁸ of its terms' size: the
  // largest gradient, or where the terms cancel (dS = P·(dP − D), dP from bf16 dO, v) one term,
  // scale·|dP|·|k| for dq (|q| for dk), |dO| for dv (the emulation needed at most 1.4·2⁻⁸ of it).
  const double dp_typ = std::sqrt(static_cast<double>(c.DV)) * rms(dout) * rms(v);
  check_close(gdq, dq, 4 * u * (max_abs_diff(dq, dq0) + scale * dp_typ * max_abs(k)), "dq");
  check_close(gdk, dk, 4 * u * (max_abs_diff(dk, dk0) + scale * dp_typ * max_abs(q)), "dk");
  check_close(gdv, dv, 4 * u * (max_abs_diff(dv, dv0) + max_abs(dout)), "dv");
  // Two runs give the same bits.
  dDQ.upload(dq0);
  dDK.upload(dk0);
  dDV.upload(dv0);
  attention_backward_cuda(dDQ.p, dDK.p, dDV.p, dDO.p, cpu_out.p, cpu_lse.p, dQ.p, dK.p, dV.p, dS.p,
                          B, N, c.NH, c.NKV, c.DQK, c.DV, scale, ws.p, ws_bytes, 0);
  CHECK(gpu_test::bit_equal(dDQ.download(), gdq));
  CHECK(gpu_test::bit_equal(dDK.download(), gdk));
  CHECK(gpu_test::bit_equal(dDV.download(), gdv));
}

}  // namespace

TEST_CASE("attention_cuda: MLA head dims (expanded), tiny config") {
  run_case({"mla tiny", 4, 4, 24, 16, {1, 37, 100, 5}});
}

TEST_CASE("attention_cuda: DeepSeek-V3 head dims 192/128, empty and one-token sequences") {
  run_case({"mla v3", 2, 2, 192, 128, {0, 1, 70, 0, 33}});
}

TEST_CASE("attention_cuda: DeepSeek-V3 head dims 192/128, a sequence over several tiles") {
  run_case({"mla v3 long", 2, 2, 192, 128, {0, 1, 200, 129}});
}

TEST_CASE("attention_cuda: grouped-query heads, Qwen3 head dim 128") {
  run_case({"gqa 128", 8, 2, 128, 128, {33, 1, 64}});
}

TEST_CASE("attention_cuda: one kv head, odd head dim, a long sequence") {
  run_case({"gqa odd", 4, 1, 65, 65, {300}});
}

TEST_CASE("attention_cuda: a single token") {
  run_case({"one token", 3, 3, 16, 8, {1}});
}

TEST_CASE("attention_cuda: many short sequences straddling the blocks of rows") {
  run_case({"straddling", 4, 2, 128, 128, {5, 1,  17, 2, 9,  31, 3,  12, 1,  20, 7, 15,
                                           4, 26, 8,  1, 13, 6,  19, 2,  11, 0,  40}});
}

TEST_CASE(
    "attention_cuda: grouped-query heads with a small head dim, the tiny Qwen3-MoE's shapes") {
  run_case({"gqa 16", 4, 2, 16, 16, {17, 1, 40}});
}
