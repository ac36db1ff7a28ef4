// oneDNN bf16 matmul (fp32->bf16 conversion of both operands included) against OpenBLAS sgemm
// at the 100m config's GEMM shapes, row-major C = op(A) op(B), timed in process CPU seconds (a
// shared machine: wall time mostly measures waiting for a core). A benchmark, not part of aha.
//   g++ -O2 -fopenmp bench.cpp -I/usr/include/x86_64-linux-gnu/openblas-pthread -o /tmp/gemm-bf16 \
//       -ldnnl -lopenblas && OPENBLAS_CORETYPE=SkylakeX /tmp/gemm-bf16 1
// Columns: GFLOP/s of OpenBLAS, of oneDNN bf16 with conversion (and without), the ratio, the
// conversion and matmul times, the oneDNN implementation, primitive creation time (a JIT) and a
// re-creation that hits oneDNN's own primitive cache.
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <vector>
using namespace dnnl;
using bf16 = uint16_t;
__attribute__((target("avx512f,avx512bf16"))) void cvt(const float* x, bf16* y, long n) {
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
    _mm256_storeu_si256((__m256i*)(y + i), (__m256i)v);
  }
  for (; i < n; ++i) {
    uint32_t u;
    memcpy(&u, x + i, 4);
    u += 0x7fff + ((u >> 16) & 1);
    y[i] = u >> 16;
  }
}
static double now() {  // process CPU seconds
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
engine eng(engine::kind::cpu, 0);
stream strm(eng);
struct Case {
  int M, N, K;
  bool ta, tb;
  const char* what;
};
int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
  printf("openblas core %s, threads %d\n", openblas_get_corename(), threads);
  std::vector<Case> cases = {
      {512, 512, 512, false, true, "square"},        {512, 1536, 512, false, true, "mlp up"},
      {512, 512, 1536, false, false, "mlp down dx"}, {1536, 512, 512, true, false, "mlp dW"},
      {128, 128, 64, false, true, "attn"},           {64, 384, 512, false, true, "expert up"},
      {64, 512, 384, false, true, "expert down"},    {512, 32000, 512, false, true, "lm head"},
      {512, 512, 32000, false, false, "lm head dx"}, {32000, 512, 512, true, false, "lm head dW"},
      {512, 384, 512, false, true, "shared up"},     {512, 192, 512, false, true, "q_a"},
      {1024, 1024, 1024, false, true, "1024"}};
  for (auto& c : cases) {
    int M = c.M, N = c.N, K = c.K;
    std::vector<float> A((long)M * K), B((long)K * N), C((long)M * N);
    for (auto& v : A) v = rand() / (float)RAND_MAX - 0.5f;
    for (auto& v : B) v = rand() / (float)RAND_MAX - 0.5f;
    int lda = c.ta ? M : K, ldb = c.tb ? K : N;
    double flop = 2.0 * M * N * K;
    int reps = std::max(2, (int)(2e8 / flop));
    auto tblas = [&] {
      cblas_sgemm(CblasRowMajor, c.ta ? CblasTrans : CblasNoTrans, c.tb ? CblasTrans : CblasNoTrans,
                  M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N);
    };
    memory::desc sd({M, K}, memory::data_type::bf16,
                    c.ta ? memory::format_tag::ba : memory::format_tag::ab);
    memory::desc wd({K, N}, memory::data_type::bf16,
                    c.tb ? memory::format_tag::ba : memory::format_tag::ab);
    memory::desc dd({M, N}, memory::data_type::f32, memory::format_tag::ab);
    double tc0 = now();
    matmul::primitive_desc pd(matmul::desc(sd, wd, dd), eng);
    matmul mm(pd);
    double tcreate = now() - tc0;
    std::vector<bf16> a16((long)M * K), b16((long)K * N);
    memory ms(sd, eng, a16.data()), mw(wd, eng, b16.data()), md(dd, eng, C.data());
    auto tconv = [&] {
      cvt(A.data(), a16.data(), (long)M * K);
      cvt(B.data(), b16.data(), (long)K * N);
    };
    auto tmm = [&] {
      mm.execute(strm, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}});
    };
    auto best = [&](auto f) {
      double b = 1e9;
      for (int round = 0; round < 5; ++round) {
        double t0 = now();
        for (int r = 0; r < reps; ++r) f();
        b = std::min(b, (now() - t0) / reps);
      }
      return b;
    };
    tblas();
    tconv();
    tmm();
    double tb1 = 1e9, tc1 = 1e9, tm1 = 1e9;
    for (int i = 0; i < 3; ++i) {
      tb1 = std::min(tb1, best(tblas));
      tc1 = std::min(tc1, best(tconv));
      tm1 = std::min(tm1, best(tmm));
    }
    double gb = flop / tb1 / 1e9, gd = flop / (tc1 + tm1) / 1e9, gd0 = flop / tm1 / 1e9;
    // recreate cost (primitive cache hit)
    tc0 = now();
    {
      matmul::primitive_desc pd2(matmul::desc(sd, wd, dd), eng);
      matmul mm2(pd2);
    }
    double trecreate = now() - tc0;
    printf(
        "%-12s %5dx%5dx%5d ta%d tb%d  openblas %6.1f  dnnl-bf16 %6.1f (no cvt %6.1f)  x%.2f cvt "
        "%.0fus mm %.0fus impl %s create %.2fms recreate %.1fus\n",
        c.what, M, N, K, c.ta, c.tb, gb, gd, gd0, gd / gb, tc1 * 1e6, tm1 * 1e6, pd.impl_info_str(),
        tcreate * 1e3, trecreate * 1e6);
  }
}
