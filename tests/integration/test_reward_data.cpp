// Checkers against the shared data: GSM8K train answers score 1 against themselves and 0 against a
// changed number (all 7473 rows); HumanEval (82) and MBPP canonical solutions pass; mutated
// solutions (wrong return value, off-by-one constant) fail. MBPP runs its standard test split
// (task_ids 11-510) here to keep the suite short on 2 cores; AHA_FULL_MBPP=1 runs all 974 rows.
#include <doctest/doctest.h>
#include <re2/re2.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "reward/math.h"
#include "reward/reward.h"
#include "reward/sandbox.h"
#include "tasks/task.h"

namespace {

const std::string kData = AHA_SHARED_DATA_DIR;

void require_data(const char* file) {
  if (!std::filesystem::exists(kData + "/" + file) || access("/usr/bin/python3", X_OK) != 0) {
    MESSAGE("shared data or python3 missing: skipped");
    std::exit(77);
  }
}

// Code rows need a sandbox that holds; where none does, code is refused and these are skipped.
void require_sandbox() {
  if (aha::sandbox_isolation() == aha::Isolation::kNone) {
    MESSAGE("no sandbox that holds here: skipped");
    std::exit(77);
  }
}

// Runs fn(i) for i in [0, n) on `threads` threads.
template <typename F>
void parallel_for(size_t n, int threads, F fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++)
    ts.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) fn(i);
    });
  for (auto& t : ts) t.join();
}

// "Wrong return value": the solution runs, then its result is altered before the caller sees it.
std::string wrong_return(const std::string& fn) {
  return "\n_aha_orig_" + fn + " = " + fn + "\ndef " + fn + "(*a, **k):\n    r = _aha_orig_" + fn +
         "(*a, **k)\n"
         "    if isinstance(r, bool): return not r\n"
         "    if isinstance(r, (int, float)): return r + 1\n"
         "    if isinstance(r, str): return r + 'x'\n"
         "    if isinstance(r, list): return r + [r[0] if r else 1]\n"
         "    if isinstance(r, tuple): return r + (1,)\n"
         "    if r is None: return 1\n"
         "    return None\n";
}

// "Off-by-one": the first integer literal of the solution body goes up by one ("" if none).
std::string off_by_one(const std::string& code) {
  static const RE2 re(R"((^|[^\w.])(\d+)([^\w.]|$))");
  re2::StringPiece in(code), pre, num, post;
  if (!RE2::PartialMatch(in, re, &pre, &num, &post)) return "";
  size_t at = static_cast<size_t>(num.data() - code.data());
  long v = std::stol(std::string(num));
  return code.substr(0, at) + std::to_string(v + 1) + code.substr(at + num.size());
}

std::vector<nlohmann::json> rows_of(const char* file) {
  return aha::read_jsonl(kData + "/" + file);
}

}  // namespace

TEST_CASE("GSM8K train: gold answers match themselves, changed numbers do not") {
  require_data("gsm8k_train.jsonl");
  auto rows = rows_of("gsm8k_train.jsonl");
  REQUIRE(rows.size() == 7473);
  aha::CheckerOptions opt;
  int self_ok = 0, changed_ok = 0;
  std::vector<std::string> failures;
  for (const auto& row : rows) {
    nlohmann::json ref = {{"answer", row["answer"]}};
    std::string gold = aha::math_gold(row["answer"].get<std::string>());
    // The solution itself as a completion (extraction by "####").
    aha::RewardResult r = aha::check_math(row["answer"].get<std::string>(), ref, opt);
    self_ok += r.score == 1.0;
    if (r.score != 1.0 && failures.size() < 5) failures.push_back(gold + ": " + r.reason);
    // The same answer with the number changed by one, boxed.
    std::string plain;
    for (char c : gold)
      if (c != ',') plain += c;
    long long v = std::stoll(plain);
    aha::RewardResult w = aha::check_math("\\boxed{" + std::to_string(v + 1) + "}", ref, opt);
    changed_ok += w.score == 1.0;
  }
  for (const auto& f : failures) MESSAGE(f);
  CHECK(self_ok == 7473);
  CHECK(changed_ok == 0);
}

TEST_CASE("HumanEval: canonical solutions pass, mutants fail") {
  require_data("humaneval_first82.jsonl");
  require_sandbox();
  auto rows = rows_of("humaneval_first82.jsonl");
  REQUIRE(rows.size() == 82);
  aha::sandbox_set_concurrency(2);
  aha::CheckerOptions opt;
  opt.values["timeout_s"] = 10.0;
  std::vector<double> canon(rows.size()), wrong(rows.size()), obo(rows.size(), -1);
  std::vector<std::string> reasons(rows.size());
  parallel_for(rows.size(), 2, [&](size_t i) {
    const auto& row = rows[i];
    std::string sol = row["canonical_solution"];
    aha::RewardResult r = aha::check_code(sol, row, opt);
    canon[i] = r.components[1].second;
    reasons[i] = r.reason;
    wrong[i] = aha::check_code(sol + wrong_return(row["entry_point"]), row, opt).score;
    std::string m = off_by_one(sol);
    if (!m.empty()) obo[i] = aha::check_code(m, row, opt).score;
  });
  int pass = 0, wrong_pass = 0, obo_n = 0, obo_pass = 0;
  for (size_t i = 0; i < rows.size(); i++) {
    pass += canon[i] == 1.0;
    if (canon[i] != 1.0) MESSAGE(rows[i]["task_id"].get<std::string>() << ": " << reasons[i]);
    if (wrong[i] != 0.0)
      MESSAGE(rows[i]["task_id"].get<std::string>() << ": wrong-return mutant passes");
    wrong_pass += wrong[i] != 0.0;
    if (obo[i] >= 0) {
      obo_n++;
      obo_pass += obo[i] != 0.0;
    }
  }
  MESSAGE("HumanEval canonical " << pass << "/82, wrong-return mutants passing " << wrong_pass
                                 << ", off-by-one mutants passing " << obo_pass << "/" << obo_n);
  CHECK(pass == 82);
  CHECK(wrong_pass == 0);
  // A constant moved by one can leave behaviour unchanged (an equivalent mutant); most must fail.
  CHECK(obo_pass * 5 <= obo_n);
}

TEST_CASE("MBPP: canonical solutions pass, mutants fail") {
  require_data("mbpp.jsonl");
  require_sandbox();
  auto all = rows_of("mbpp.jsonl");
  REQUIRE(all.size() == 974);
  bool full = std::getenv("AHA_FULL_MBPP") != nullptr;
  std::vector<nlohmann::json> rows;
  for (const auto& r : all) {
    int id = r["task_id"].get<int>();
    if (full || (id >= 11 && id <= 510)) rows.push_back(r);
  }
  aha::sandbox_set_concurrency(2);
  aha::CheckerOptions opt;
  opt.values["timeout_s"] = 20.0;  // task 123 needs about 4 s of CPU; the machine is shared
  std::vector<double> canon(rows.size()), wrong(rows.size(), -1);
  std::vector<std::string> reasons(rows.size());
  static const RE2 fn_re(
      R"(assert\s*\(?\s*(?:not\s+)?(?:set\(|math\.isclose\()?\s*([A-Za-z_]\w*)\s*\()");
  parallel_for(rows.size(), 2, [&](size_t i) {
    const auto& row = rows[i];
    aha::RewardResult r = aha::check_code(row["code"], row, opt);
    canon[i] = r.components[1].second;
    reasons[i] = r.reason;
    std::string fn;
    if (RE2::PartialMatch(row["test_list"][0].get<std::string>(), fn_re, &fn) && fn != "set" &&
        fn != "sorted")
      wrong[i] = aha::check_code(row["code"].get<std::string>() + wrong_return(fn), row, opt)
                     .components[1]
                     .second;
  });
  int pass = 0, wrong_n = 0, wrong_pass = 0;
  for (size_t i = 0; i < rows.size(); i++) {
    pass += canon[i] == 1.0;
    if (canon[i] != 1.0) MESSAGE("MBPP " << rows[i]["task_id"].get<int>() << ": " << reasons[i]);
    if (wrong[i] >= 0) {
      wrong_n++;
      if (wrong[i] != 0.0) {
        wrong_pass++;
        MESSAGE("MBPP " << rows[i]["task_id"].get<int>()
                        << ": wrong-return mutant passes all tests");
      }
    }
  }
  MESSAGE("MBPP canonical " << pass << "/" << rows.size() << ", wrong-return mutants passing "
                            << wrong_pass << "/" << wrong_n);
  CHECK(pass == static_cast<int>(rows.size()));
  CHECK(wrong_n * 10 >= static_cast<int>(rows.size()) * 9);
  CHECK(wrong_pass * 50 <=
        wrong_n);  // at most 2%: tests that ignore the value (e.g. "is not None")
}

TEST_CASE("built-in tasks load from the shared data with ids and splits") {
  require_data("gsm8k_train.jsonl");
  setenv("AHA_DATA_DIR", kData.c_str(), 1);
  aha::Task g = aha::load_task("gsm8k");
  CHECK(g.train.size() == 7473);
  CHECK(g.eval.size() == 200);
  CHECK(g.train[0].text.find(g.train[0].reference["question"].get<std::string>()) !=
        std::string::npos);
  auto p1 = aha::task_prompts(g, aha::Split::kTrain, 7),
       p2 = aha::task_prompts(g, aha::Split::kTrain, 7);
  CHECK(p1[0].id == p2[0].id);
  CHECK(p1[100].id == p2[100].id);
  auto p3 = aha::task_prompts(g, aha::Split::kTrain, 8);
  CHECK(p1[0].id != p3[0].id);
  // The composed reward: correct + 0.1 format.
  aha::RewardResult r = aha::task_score(
      g.spec,
      "<think>ok</think> <answer>" + aha::math_gold(g.train[0].reference["answer"]) + "</answer>",
      g.train[0].reference);
  CHECK(r.score == doctest::Approx(1.1));
  aha::Task m = aha::load_task("mbpp");
  CHECK(m.eval.size() == 500);
  CHECK(m.train.size() == 464);  // 511..974
  CHECK(m.eval[0].text.find("assert") != std::string::npos);
  aha::Task h = aha::load_task("humaneval");
  CHECK(h.eval.size() == 82);
  CHECK(h.train.empty());
  CHECK(h.eval[0].id == "HumanEval/0");
}
