// Causal packed attention (forward vs a naive softmax, backward vs finite differences) and MLA
// decode attention (vs the expanded attention it stands for), GQA decode attention (vs packed).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/attention.h"
#include "kernels/parallel.h"
#include "kernels_test_util.h"

using namespace aha;
using namespace aha::test;

namespace {

struct Problem {
  std::vector<int> seq_start;
  int B, N, NH, NKV, DQK, DV;
  float scale;
  std::vector<float> q, k, v;
};

Problem make_problem(Rng& rng, const std::vector<int>& lens, int NH, int NKV, int DQK, int DV) {
  Problem p;
  p.B = (int)lens.size();
  p.seq_start = {0};
  for (int l : lens) p.seq_start.push_back(p.seq_start.back() + l);
  p.N = p.seq_start.back();
  p.NH = NH, p.NKV = NKV, p.DQK = DQK, p.DV = DV;
  p.scale = 1.0f / std::sqrt((float)DQK);
  p.q = randn(rng, (size_t)p.N * NH * DQK);
  p.k = randn(rng, (size_t)p.N * NKV * DQK);
  p.v = randn(rng, (size_t)p.N * NKV * DV);
  return p;
}

void forward(const Problem& p, std::vector<float>& out, std::vector<float>& lse) {
  out.assign((size_t)p.N * p.NH * p.DV, 0.0f);
  lse.assign((size_t)p.N * p.NH, 0.0f);
  attention_forward(out.data(), lse.data(), p.q.data(), p.k.data(), p.v.data(), p.seq_start.data(),
                    p.B, p.NH, p.NKV, p.DQK, p.DV, p.scale);
}

// Naive per-token softmax in double.
void check_against_naive(const Problem& p) {
  std::vector<float> out, lse;
  forward(p, out, lse);
  const int G = p.NH / p.NKV;
  for (int b = 0; b < p.B; b++)
    for (int t = p.seq_start[b]; t < p.seq_start[b + 1]; t++)
      for (int h = 0; h < p.NH; h++) {
        const int kh = h / G;
        std::vector<double> s;
        double mx = -1e300;
        for (int j = p.seq_start[b]; j <= t; j++) {
          double d = 0;
          for (int c = 0; c < p.DQK; c++)
            d += (double)p.q[((size_t)t * p.NH + h) * p.DQK + c] *
                 p.k[((size_t)j * p.NKV + kh) * p.DQK + c];
          s.push_back(d * p.scale);
          mx = std::fmax(mx, s.back());
        }
        double sum = 0;
        for (double x : s) sum += std::exp(x - mx);
        CHECK(lse[(size_t)t * p.NH + h] == doctest::Approx(mx + std::log(sum)).epsilon(1e-5));
        for (int c = 0; c < p.DV; c++) {
          double o = 0;
          for (int j = p.seq_start[b]; j <= t; j++)
            o += std::exp(s[j - p.seq_start[b]] - mx) / sum *
                 p.v[((size_t)j * p.NKV + kh) * p.DV + c];
          CHECK(out[((size_t)t * p.NH + h) * p.DV + c] ==
                doctest::Approx(o).epsilon(1e-5).scale(1.0));
        }
      }
}

struct Grads {
  std::vector<float> dq, dk, dv;
};

Grads backward(const Problem& p, const std::vector<float>& w) {
  std::vector<float> out, lse;
  forward(p, out, lse);
  Grads g{prefilled(p.q.size()), prefilled(p.k.size()), prefilled(p.v.size())};
  attention_backward(g.dq.data(), g.dk.data(), g.dv.data(), w.data(), out.data(), lse.data(),
                     p.q.data(), p.k.data(), p.v.data(), p.seq_start.data(), p.B, p.NH, p.NKV,
                     p.DQK, p.DV, p.scale);
  unprefill(g.dq);
  unprefill(g.dk);
  unprefill(g.dv);
  return g;
}

// The scalar the backward tests differentiate: sum(out * w) over the forward's output.
double weighted_out(const Problem& p, const std::vector<float>& w) {
  std::vector<float> out, lse;
  forward(p, out, lse);
  return weighted_sum(out, w);
}

}  // namespace

TEST_CASE("attention forward matches a naive softmax (packed, GQA, blocks of 64 crossed)") {
  Rng rng{11};
  check_against_naive(make_problem(rng, {5, 1, 7}, 4, 4, 6, 5));
  check_against_naive(make_problem(rng, {5, 1, 7}, 4, 2, 6, 5));
  check_against_naive(make_problem(rng, {70, 3, 130}, 2, 1, 4, 3));
}

TEST_CASE("attention backward matches finite differences (packed batch of 3, with/without GQA)") {
  for (int NKV : {4, 2}) {
    CAPTURE(NKV);
    Rng rng{(uint64_t)(12 + NKV)};
    Problem p = make_problem(rng, {5, 1, 7}, 4, NKV, 6, 5);
    auto w = randn(rng, (size_t)p.N * p.NH * p.DV);
    Grads g = backward(p, w);
    auto loss = [&] { return weighted_out(p, w); };
    check_grad("dq", p.q, g.dq, loss);
    check_grad("dk", p.k, g.dk, loss);
    check_grad("dv", p.v, g.dv, loss);
  }
}

TEST_CASE("attention backward on sequences longer than a query block: directional derivatives") {
  // Full finite differences would cost 2 forwards per element; a random direction checks the
  // block-crossing terms in 2 forwards per tensor.
  Rng rng{20};
  Problem p = make_problem(rng, {70, 3, 130}, 2, 1, 4, 3);
  auto w = randn(rng, (size_t)p.N * p.NH * p.DV);
  Grads g = backward(p, w);
  auto loss = [&] { return weighted_out(p, w); };
  auto directional = [&](std::vector<float>& x, const std::vector<float>& gx) {
    auto d = randn(rng, x.size());
    const auto x0 = x;
    const double h = 1e-3;
    for (size_t i = 0; i < x.size(); i++) x[i] = (float)(x0[i] + h * d[i]);
    const double lp = loss();
    for (size_t i = 0; i < x.size(); i++) x[i] = (float)(x0[i] - h * d[i]);
    const double lm = loss();
    x = x0;
    double ana = 0;
    for (size_t i = 0; i < x.size(); i++) ana += (double)gx[i] * d[i];
    CHECK((lp - lm) / (2 * h) == doctest::Approx(ana).epsilon(1e-2));
  };
  directional(p.q, g.dq);
  directional(p.k, g.dk);
  directional(p.v, g.dv);
}

TEST_CASE("attention gives the same bits on 1 and 2 compute threads (short and blocked paths)") {
  Rng rng{31};
  Problem p = make_problem(rng, {5, 40, 1, 7, 70, 12, 3}, 4, 2, 6, 5);
  auto w = randn(rng, (size_t)p.N * p.NH * p.DV);
  std::vector<float> out1, lse1, out2, lse2;
  set_compute_threads(1);
  forward(p, out1, lse1);
  Grads g1 = backward(p, w);
  set_compute_threads(2);  // clamped to the machine's cores; a region still runs with 1
  forward(p, out2, lse2);
  Grads g2 = backward(p, w);
  set_compute_threads(1);
  CHECK(out1 == out2);
  CHECK(lse1 == lse2);
  CHECK(g1.dq == g2.dq);
  CHECK(g1.dk == g2.dk);
  CHECK(g1.dv == g2.dv);
}

TEST_CASE("mla_decode_attention equals expanded attention with k_nope = W_uk c_kv, v = c_kv") {
  Rng rng{30};
  const int B = 3, NH = 2, R = 6, DR = 4, DN = 5, NC = 20;
  const std::vector<int> lens = {4, 1, 6};
  // Cache rows [c_kv (R) ; k_rope (DR)], rows of the batch scattered over the cache.
  auto cache = randn(rng, (size_t)NC * (R + DR));
  std::vector<int> rows = {3, 17, 0, 9, 12, 5, 6, 7, 19, 1, 14};
  std::vector<int> row_start = {0, 4, 5, 11};
  auto W_uk = randn(rng, (size_t)NH * DN * R, 0.5);  // per head [DN, R]
  auto q_nope = randn(rng, (size_t)B * NH * DN), q_rope = randn(rng, (size_t)B * NH * DR);
  const float scale = 1.0f / std::sqrt((float)(DN + DR));
  // Absorbed query: q_lat[b,h] = W_uk[h]ᵀ q_nope[b,h], so q_lat·c = q_nope·(W_uk c).
  std::vector<float> q_lat((size_t)B * NH * R);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int r = 0; r < R; r++) {
        double s = 0;
        for (int d = 0; d < DN; d++)
          s += (double)W_uk[((size_t)h * DN + d) * R + r] * q_nope[((size_t)b * NH + h) * DN + d];
        q_lat[((size_t)b * NH + h) * R + r] = (float)s;
      }
  std::vector<float> out_lat((size_t)B * NH * R);
  // Pages of one token: page_ids are the rows, page_indptr the row starts.
  mla_decode_attention(out_lat.data(), q_lat.data(), q_rope.data(), cache.data(), 1,
                       row_start.data(), rows.data(), lens.data(), B, NH, R, DR, scale);

  // Expanded: sequence b holds its cache entries as tokens; its last token carries the query.
  const int DQK = DN + DR, N = row_start[B];
  std::vector<float> q((size_t)N * NH * DQK, 0.0f), k((size_t)N * NH * DQK), v((size_t)N * NH * R);
  for (int i = 0; i < N; i++) {
    const float* row = cache.data() + (size_t)rows[i] * (R + DR);
    for (int h = 0; h < NH; h++) {
      for (int d = 0; d < DN; d++) {
        double s = 0;
        for (int r = 0; r < R; r++) s += (double)W_uk[((size_t)h * DN + d) * R + r] * row[r];
        k[((size_t)i * NH + h) * DQK + d] = (float)s;
      }
      for (int d = 0; d < DR; d++) k[((size_t)i * NH + h) * DQK + DN + d] = row[R + d];
      for (int r = 0; r < R; r++) v[((size_t)i * NH + h) * R + r] = row[r];
    }
  }
  for (int b = 0; b < B; b++) {
    const int t = row_start[b + 1] - 1;
    for (int h = 0; h < NH; h++) {
      for (int d = 0; d < DN; d++)
        q[((size_t)t * NH + h) * DQK + d] = q_nope[((size_t)b * NH + h) * DN + d];
      for (int d = 0; d < DR; d++)
        q[((size_t)t * NH + h) * DQK + DN + d] = q_rope[((size_t)b * NH + h) * DR + d];
    }
  }
  std::vector<float> out((size_t)N * NH * R), lse((size_t)N * NH);
  attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), row_start.data(), B, NH,
                    NH, DQK, R, scale);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int r = 0; r < R; r++) {
        const float a = out_lat[((size_t)b * NH + h) * R + r];
        const float e = out[((size_t)(row_start[b + 1] - 1) * NH + h) * R + r];
        CHECK(std::fabs(a - e) <= 1e-5f * (1.0f + std::fabs(e)));
      }

  // An empty row attends to nothing and gets zeros.
  std::vector<int> empty_start = {0, 0}, zero_len = {0};
  std::vector<float> o1((size_t)NH * R, 7.0f);
  mla_decode_attention(o1.data(), q_lat.data(), q_rope.data(), cache.data(), 1, empty_start.data(),
                       rows.data(), zero_len.data(), 1, NH, R, DR, scale);
  for (float x : o1) CHECK(x == 0.0f);
}

TEST_CASE("gqa_decode_attention equals packed GQA attention at each sequence's last token") {
  Rng rng{31};
  const int B = 3, NH = 6, NKV = 2, D = 4, NC = 20, W = 2 * NKV * D;
  // Cache rows [k (NKV*D) ; v (NKV*D)], the batch's rows scattered over the cache.
  auto cache = randn(rng, (size_t)NC * W);
  std::vector<int> rows = {3, 17, 0, 9, 12, 5, 6, 7, 19, 1, 14};
  std::vector<int> row_start = {0, 4, 5, 11}, lens = {4, 1, 6};
  auto qd = randn(rng, (size_t)B * NH * D);
  const float scale = 0.37f;
  std::vector<float> out_dec((size_t)B * NH * D);
  gqa_decode_attention(out_dec.data(), qd.data(), cache.data(), 1, row_start.data(), rows.data(),
                       lens.data(), B, NH, NKV, D, scale);
  // Packed: the cache entries of sequence b as its tokens, the query on its last token.
  const int N = row_start[B];
  std::vector<float> q((size_t)N * NH * D, 0.0f), k((size_t)N * NKV * D), v((size_t)N * NKV * D);
  for (int i = 0; i < N; i++)
    for (int c = 0; c < NKV * D; c++) {
      k[(size_t)i * NKV * D + c] = cache[(size_t)rows[i] * W + c];
      v[(size_t)i * NKV * D + c] = cache[(size_t)rows[i] * W + NKV * D + c];
    }
  for (int b = 0; b < B; b++)
    for (int c = 0; c < NH * D; c++)
      q[(size_t)(row_start[b + 1] - 1) * NH * D + c] = qd[(size_t)b * NH * D + c];
  std::vector<float> out((size_t)N * NH * D), lse((size_t)N * NH);
  attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), row_start.data(), B, NH,
                    NKV, D, D, scale);
  for (int b = 0; b < B; b++)
    for (int c = 0; c < NH * D; c++) {
      const float a = out_dec[(size_t)b * NH * D + c];
      const float e = out[(size_t)(row_start[b + 1] - 1) * NH * D + c];
      CHECK(std::fabs(a - e) <= 1e-5f * (1.0f + std::fabs(e)));
    }
  std::vector<int> empty_start = {0, 0}, zero_len = {0};
  std::vector<float> o1((size_t)NH * D, 7.0f);
  gqa_decode_attention(o1.data(), qd.data(), cache.data(), 1, empty_start.data(), rows.data(),
                       zero_len.data(), 1, NH, NKV, D, scale);
  for (float x : o1) CHECK(x == 0.0f);
}

// The same positions named through pages of 4 tokens (scattered pages, partial last pages) or
// through one-token pages give the same bits: paging changes addresses, not arithmetic.
TEST_CASE("decode attention over pages equals it over the same rows listed one by one") {
  Rng rng{32};
  const int P = 4, num_pages = 12, B = 4, NH = 4, NKV = 2, D = 8, R = 8, DR = 8;
  const std::vector<int> lens = {1, 4, 5, 13};
  const std::vector<int> page_indptr = {0, 1, 2, 4, 8};
  const std::vector<int> page_ids = {7, 2, 11, 0, 5, 9, 3, 6};
  std::vector<int> rows, row_start = {0};
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < lens[b]; i++) rows.push_back(page_ids[page_indptr[b] + i / P] * P + i % P);
    row_start.push_back((int)rows.size());
  }
  for (int variant = 0; variant < 2; variant++) {
    CAPTURE(variant);
    const int W = variant == 0 ? R + DR : 2 * NKV * D;
    auto cache = randn(rng, (size_t)num_pages * P * W);
    auto qa = randn(rng, (size_t)B * NH * R), qb = randn(rng, (size_t)B * NH * DR);
    std::vector<float> paged((size_t)B * NH * R), listed((size_t)B * NH * R);
    if (variant == 0) {
      mla_decode_attention(paged.data(), qa.data(), qb.data(), cache.data(), P, page_indptr.data(),
                           page_ids.data(), lens.data(), B, NH, R, DR, 0.3f);
      mla_decode_attention(listed.data(), qa.data(), qb.data(), cache.data(), 1, row_start.data(),
                           rows.data(), lens.data(), B, NH, R, DR, 0.3f);
    } else {
      gqa_decode_attention(paged.data(), qa.data(), cache.data(), P, page_indptr.data(),
                           page_ids.data(), lens.data(), B, NH, NKV, D, 0.3f);
      gqa_decode_attention(listed.data(), qa.data(), cache.data(), 1, row_start.data(), rows.data(),
                           lens.data(), B, NH, NKV, D, 0.3f);
    }
    CHECK(paged == listed);
  }
  // Too few pages for a length is refused.
  const std::vector<int> short_lens = {1, 4, 9, 13};
  std::vector<float> out((size_t)B * NH * D);
  auto cache = randn(rng, (size_t)num_pages * P * 2 * NKV * D);
  auto q = randn(rng, (size_t)B * NH * D);
  CHECK_THROWS(gqa_decode_attention(out.data(), q.data(), cache.data(), P, page_indptr.data(),
                                    page_ids.data(), short_lens.data(), B, NH, NKV, D, 0.3f));
}
