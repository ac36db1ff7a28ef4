// fp32 GEMMs against a naive fp64 GEMM, the same bits on 1 and 2 threads and, for the shapes
// oneDNN runs, in any slab of rows; bf16 GEMMs
// (kernels/gemm.h, oneDNN): against a naive fp64 GEMM of the bf16-rounded operands
// (tight: only fp32 accumulation differs) and of the fp32 ones (loose: bf16 rounding), every
// transpose, odd shapes, strides, alpha/beta and split GEMMs; a small model's forward+backward
// under bf16 against fp32. On a CPU without native bf16 the setting must be refused; the rest
// then exits 77 (skipped).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "kernels/rng.h"
#include "policy/config_presets.h"
#include "policy/model.h"
#include "tests/unit/model_test_util.h"

using namespace aha;

namespace {

// Round to the nearest bf16, ties to even (written independently of kernels/gemm.cpp).
float bf16_round(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t lsb = (u >> 16) & 1u;
  u = (u + 0x7fffu + lsb) & 0xffff0000u;
  float y;
  std::memcpy(&y, &u, 4);
  return y;
}

void require_bf16() {
  std::string why;
  if (!gemm_bf16_supported(&why)) {
    std::printf("skipped: %s\n", why.c_str());
    std::exit(77);
  }
}

struct Case {
  bool ta, tb;
  int M, N, K;
  int pad;  // extra columns in every leading dimension (ldc != N takes the scratch path)
  float alpha, beta;
};

// bf16: checks against the rounded operands (tight) and the fp32 ones (loose); fp32: tight
// against the fp32 operands.
void check_case(const Case& c, bool bf16 = true) {
  const int lda = (c.ta ? c.M : c.K) + c.pad, ldb = (c.tb ? c.K : c.N) + c.pad, ldc = c.N + c.pad;
  const int arows = c.ta ? c.K : c.M, brows = c.tb ? c.N : c.K;
  std::vector<float> A(static_cast<size_t>(arows) * lda), B(static_cast<size_t>(brows) * ldb),
      C(static_cast<size_t>(c.M) * ldc);
  Rng rng{static_cast<uint64_t>(c.M * 1000003 + c.N * 1009 + c.K)};
  for (float& x : A) x = static_cast<float>(rng.normal());
  for (float& x : B) x = static_cast<float>(rng.normal());
  for (float& x : C) x = static_cast<float>(rng.normal());
  const std::vector<float> C0 = C;
  sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  auto a = [&](int m, int k) { return c.ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k]; };
  auto b = [&](int k, int n) { return c.tb ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n]; };
  double worst_tight = 0, worst_loose = 0;
  for (int m = 0; m < c.M; m++)
    for (int n = 0; n < c.N; n++) {
      double r16 = 0, r32 = 0, mag = 0;
      for (int k = 0; k < c.K; k++) {
        r16 += static_cast<double>(bf16_round(a(m, k))) * bf16_round(b(k, n));
        r32 += static_cast<double>(a(m, k)) * b(k, n);
        mag += std::fabs(static_cast<double>(a(m, k)) * b(k, n));
      }
      const double c0 = c.beta == 0 ? 0.0 : c.beta * static_cast<double>(C0[(size_t)m * ldc + n]);
      const double got = C[(size_t)m * ldc + n];
      const double scale = std::fabs(c.alpha) * mag + std::fabs(c0) + 1e-30;
      worst_tight = std::max(worst_tight, std::fabs(got - (c.alpha * r16 + c0)) / scale);
      worst_loose = std::max(worst_loose, std::fabs(got - (c.alpha * r32 + c0)) / scale);
    }
  // Padding columns of C are not written.
  for (int m = 0; m < c.M; m++)
    for (int n = c.N; n < ldc; n++) CHECK(C[(size_t)m * ldc + n] == C0[(size_t)m * ldc + n]);
  INFO("ta=", c.ta, " tb=", c.tb, " M=", c.M, " N=", c.N, " K=", c.K, " pad=", c.pad,
       " alpha=", c.alpha, " beta=", c.beta, " tight=", worst_tight, " loose=", worst_loose);
  if (!bf16) {
    CHECK(worst_loose < 1e-5);  // fp32 products and accumulation
    return;
  }
  CHECK(worst_tight < 1e-5);  // fp32 accumulation of exact bf16 products
  CHECK(worst_loose < 1e-2);  // two operands rounded to 8 significant bits
  CHECK(worst_loose > 0);     // the operands really were rounded
}

// sgemm's C for case c (operands from its seed) on the given compute threads.
std::vector<float> run_case(const Case& c, int threads) {
  const int lda = (c.ta ? c.M : c.K) + c.pad, ldb = (c.tb ? c.K : c.N) + c.pad, ldc = c.N + c.pad;
  std::vector<float> A(static_cast<size_t>(c.ta ? c.K : c.M) * lda),
      B(static_cast<size_t>(c.tb ? c.N : c.K) * ldb), C(static_cast<size_t>(c.M) * ldc);
  Rng rng{7};
  for (float& x : A) x = static_cast<float>(rng.normal());
  for (float& x : B) x = static_cast<float>(rng.normal());
  for (float& x : C) x = static_cast<float>(rng.normal());
  set_compute_threads(threads);
  sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  set_compute_threads(1);
  return C;
}

ModelConfig small_config() {
  // Layer 0 dense, layer 1 MoE.
  // clang-format off
  return config_deepseek({.V = 97, .C = 64, .L = 2, .NH = 4, .q_lora_rank = 32, .kv_lora_rank = 32,
      .qk_nope_head_dim = 16, .qk_rope_head_dim = 8, .v_head_dim = 16, .FF = 96, .moe_FF = 48,
      .E = 4, .shared = 1, .K = 2, .first_dense = 1, .max_position_embeddings = 64});
  // clang-format on
}

}  // namespace

TEST_CASE("gemm precision: parsing, and bf16 refused where it is not native") {
  CHECK(gemm_precision() == GemmPrecision::kFp32);
  CHECK(gemm_precision_parse("bf16") == GemmPrecision::kBf16);
  CHECK(gemm_precision_parse("fp32") == GemmPrecision::kFp32);
  CHECK_THROWS_AS(gemm_precision_parse("fp16"), std::runtime_error);
  std::string why;
  if (gemm_bf16_supported(&why)) {
    CHECK(why.empty());
    gemm_set_precision(GemmPrecision::kBf16);
    CHECK(gemm_backend().find("bf16") != std::string::npos);
    gemm_set_precision(GemmPrecision::kFp32);
    CHECK(gemm_backend().find("OpenBLAS") != std::string::npos);
  } else {
    CHECK(!why.empty());
    CHECK_THROWS_AS(gemm_set_precision(GemmPrecision::kBf16), std::runtime_error);
    CHECK(gemm_precision() == GemmPrecision::kFp32);
  }
}

// The fp32 path (OpenBLAS): every transpose, odd shapes, strides, alpha/beta, row and column
// splits; the same bits on 1 and 2 threads.
TEST_CASE("fp32 sgemm matches fp64, every transpose, odd shapes, splits; same bits on 1 and 2") {
  CHECK(gemm_precision() == GemmPrecision::kFp32);
  MESSAGE("fp32 backend: " << gemm_backend());
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      for (const Case& c :
           {Case{ta, tb, 1, 1, 1, 0, 1.0f, 0.0f}, Case{ta, tb, 7, 13, 5, 0, 1.0f, 0.0f},
            Case{ta, tb, 33, 17, 65, 3, 1.0f, 0.0f}, Case{ta, tb, 64, 48, 96, 0, 0.5f, 1.5f},
            Case{ta, tb, 31, 70, 257, 5, -2.0f, 1.0f}})
        check_case(c, false);
      // >= 4 MFLOP: split rows (M >= N) or columns.
      for (const Case& c :
           {Case{ta, tb, 200, 96, 130, 0, 1.0f, 0.0f}, Case{ta, tb, 72, 210, 150, 1, 1.0f, 1.0f},
            Case{ta, tb, 40, 300, 400, 2, 1.0f, 1.0f}}) {
        set_compute_threads(2);
        check_case(c, false);
        set_compute_threads(1);
        INFO("ta=", ta, " tb=", tb, " M=", c.M, " N=", c.N, " K=", c.K);
        CHECK(run_case(c, 1) == run_case(c, 2));
      }
    }
}

// fp32 shapes oneDNN runs where it is there (op(A) not transposed, contiguous, M >= 8, N, K <=
// 4096, >= 1 MFLOP; kernels/gemm.h): fp64 match, the same bits on 1 and 2 threads, and a row of
// C the same bits whether computed in the whole GEMM or in a slab of rows that oneDNN also runs
// (8 rows and up here). (Neither library promises that across its own small-M kernels: OpenBLAS
// gives rows of 1-16-row GEMMs other bits than the same rows of a 64-row one.)
TEST_CASE("fp32 sgemm of layer shapes: fp64 match; rows independent of the slab and threads") {
  CHECK(gemm_precision() == GemmPrecision::kFp32);
  MESSAGE("fp32 backend: " << gemm_backend());
  for (bool tb : {false, true})
    for (const Case& c : {Case{false, tb, 64, 384, 512, 0, 1.0f, 1.0f},
                          Case{false, tb, 77, 512, 384, 0, 0.5f, 0.0f},
                          Case{false, tb, 130, 1536, 512, 0, 1.0f, 1.0f}}) {
      set_compute_threads(2);
      check_case(c, false);
      set_compute_threads(1);
      const std::vector<float> whole = run_case(c, 1);
      CHECK(whole == run_case(c, 2));
      // The same GEMM in slabs of 8, 24 and the rest of the rows, each its own call.
      const int lda = c.K, ldb = tb ? c.K : c.N;
      std::vector<float> A(static_cast<size_t>(c.M) * lda),
          B(static_cast<size_t>(tb ? c.N : c.K) * ldb), C(static_cast<size_t>(c.M) * c.N);
      Rng rng{7};  // run_case's operands
      for (float& x : A) x = static_cast<float>(rng.normal());
      for (float& x : B) x = static_cast<float>(rng.normal());
      for (float& x : C) x = static_cast<float>(rng.normal());
      for (int r0 : {0, 8, 32}) {
        const int r1 = r0 == 0 ? 8 : r0 == 8 ? 32 : c.M;
        sgemm(false, tb, r1 - r0, c.N, c.K, c.alpha, A.data() + static_cast<size_t>(r0) * lda, lda,
              B.data(), ldb, c.beta, C.data() + static_cast<size_t>(r0) * c.N, c.N);
      }
      INFO("tb=", tb, " M=", c.M, " N=", c.N, " K=", c.K);
      CHECK(C == whole);
    }
}

TEST_CASE("bf16 sgemm matches fp64 of the rounded operands, every transpose, odd shapes") {
  require_bf16();
  gemm_set_precision(GemmPrecision::kBf16);
  set_compute_threads(1);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_case({ta, tb, 1, 1, 1, 0, 1.0f, 0.0f});
      check_case({ta, tb, 7, 13, 5, 0, 1.0f, 0.0f});
      check_case({ta, tb, 33, 17, 65, 3, 1.0f, 0.0f});
      check_case({ta, tb, 64, 48, 96, 0, 0.5f, 1.5f});
      check_case({ta, tb, 31, 70, 257, 5, -2.0f, 1.0f});
    }
  // Split over two threads (>= 4 MFLOP): rows (direct) and columns (via the scratch buffer).
  set_compute_threads(2);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_case({ta, tb, 200, 96, 130, 0, 1.0f, 0.0f});
      check_case({ta, tb, 72, 210, 150, 1, 1.0f, 1.0f});
    }
  set_compute_threads(1);
  gemm_set_precision(GemmPrecision::kFp32);
}

TEST_CASE(
    "bf16 weight copies (GemmWeightScope): the same bits as converting, refreshed on request") {
  require_bf16();
  gemm_set_precision(GemmPrecision::kBf16);
  // A parameter buffer holding two weights; A activations. Every transpose of the weight, split
  // (2 threads, >= 4 MFLOP) and not.
  const int M = 150, N = 140, K = 130;
  std::vector<float> params(static_cast<size_t>(2) * N * K + 7), act(static_cast<size_t>(M) * K);
  Rng rng{41};
  for (float& x : params) x = static_cast<float>(rng.normal());
  for (float& x : act) x = static_cast<float>(rng.normal());
  const float* w = params.data() + static_cast<size_t>(N) * K + 7;  // the second weight, offset
  for (int threads : {1, 2})
    for (bool tb : {false, true}) {
      set_compute_threads(threads);
      const int ldb = tb ? K : N;
      std::vector<float> plain(static_cast<size_t>(M) * N), cached(plain.size());
      sgemm(false, tb, M, N, K, 1.0f, act.data(), K, w, ldb, 0.0f, plain.data(), N);
      {
        GemmWeightScope scope(params.data(), static_cast<long>(params.size()), true);
        sgemm(false, tb, M, N, K, 1.0f, act.data(), K, w, ldb, 0.0f, cached.data(), N);
        CHECK(cached == plain);
        // The weight as op(A) (transposed) reads the same copy.
        std::vector<float> ct(plain.size()), pt(plain.size());
        sgemm(true, false, N, M, K, 1.0f, w, N, act.data(), M, 0.0f, ct.data(), M);
        GemmWeightScope off(nullptr, 0, false);  // nested inactive scope: converts again
        sgemm(true, false, N, M, K, 1.0f, w, N, act.data(), M, 0.0f, pt.data(), M);
        CHECK(ct == pt);
      }
      // Weights change: a scope without refresh keeps the old copy; one with refresh sees them.
      params[static_cast<size_t>(N) * K + 7] += 100.0f;
      std::vector<float> fresh(plain.size()), stale(plain.size()), now(plain.size());
      sgemm(false, tb, M, N, K, 1.0f, act.data(), K, w, ldb, 0.0f, fresh.data(), N);
      {
        GemmWeightScope scope(params.data(), static_cast<long>(params.size()), false);
        sgemm(false, tb, M, N, K, 1.0f, act.data(), K, w, ldb, 0.0f, stale.data(), N);
      }
      {
        GemmWeightScope scope(params.data(), static_cast<long>(params.size()), true);
        sgemm(false, tb, M, N, K, 1.0f, act.data(), K, w, ldb, 0.0f, now.data(), N);
      }
      CHECK(stale == plain);
      CHECK(now == fresh);
      CHECK(now != plain);
      params[static_cast<size_t>(N) * K + 7] -= 100.0f;
      GemmWeightScope refresh(params.data(), static_cast<long>(params.size()), true);
    }
  set_compute_threads(1);
  gemm_set_precision(GemmPrecision::kFp32);
}

TEST_CASE("a small model's forward+backward under bf16 GEMMs stays within bf16 of fp32") {
  require_bf16();
  Model m = test::random_model(small_config(), 7);
  Batch b;
  Rng rng{3};
  for (int s = 0; s < 3; s++) {
    std::vector<int> ids(20 + 5 * s);
    for (int& id : ids) id = static_cast<int>(rng.next_u64() % 97);
    batch_add_sequence(b, ids, s);
  }
  const int N = batch_num_tokens(b);
  std::vector<float> dlogp(N, -1.0f / N);
  auto run = [&](GemmPrecision p, std::vector<float>& logp, std::vector<float>& grads,
                 std::vector<int>& routing) {
    gemm_set_precision(p);
    Acts a;
    ForwardOptions opt;
    if (!routing.empty()) opt.replay_topk_idx = routing.data();  // same experts both ways
    model_forward(m, a, b, opt);
    if (routing.empty())
      for (int l = 0; l < m.cfg.num_hidden_layers; l++)
        if (cfg_layer_is_moe(m.cfg, l))
          routing.insert(
              routing.end(), a.layers[l].topk_idx.begin(),
              a.layers[l].topk_idx.begin() + static_cast<long>(a.N) * m.cfg.num_experts_per_tok);
    model_zero_grads(m);
    model_backward(m, a, b, dlogp.data(), opt);
    logp.assign(a.logp.begin(), a.logp.begin() + N);
    grads.assign(m.grads.begin(), m.grads.end());
  };
  std::vector<float> logp32, g32, logp16, g16;
  std::vector<int> routing;
  run(GemmPrecision::kFp32, logp32, g32, routing);
  run(GemmPrecision::kBf16, logp16, g16, routing);
  gemm_set_precision(GemmPrecision::kFp32);
  double worst = 0, diff = 0;
  for (int n = 0; n < N; n++)
    worst = std::max(worst, std::fabs(static_cast<double>(logp16[n]) - logp32[n]));
  double dot = 0, n32 = 0, n16 = 0;
  for (size_t i = 0; i < g32.size(); i++) {
    dot += static_cast<double>(g32[i]) * g16[i];
    n32 += static_cast<double>(g32[i]) * g32[i];
    n16 += static_cast<double>(g16[i]) * g16[i];
    diff += (static_cast<double>(g16[i]) - g32[i]) * (static_cast<double>(g16[i]) - g32[i]);
  }
  const double rel = std::sqrt(diff / n32), cosine = dot / std::sqrt(n32 * n16);
  MESSAGE("bf16 vs fp32: max |dlogp| ", worst, ", gradient relative error ", rel, ", cosine ",
          cosine);
  // Measured: max |dlogp| 1.1e-3, gradient relative error 3e-3; bounds with a margin of ~10x.
  CHECK(worst < 2e-2);
  CHECK(worst > 0);  // bf16 really ran
  CHECK(rel < 3e-2);
  CHECK(cosine > 0.9995);
}
