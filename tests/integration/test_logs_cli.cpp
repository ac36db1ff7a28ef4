// `aha logs` and `aha report` run as the built binary (AHA_BINARY) on a database generated here:
// the tables hold the expected rows in hand-computed order, --json gives JSONL, errors name the
// database; the report is one well-formed HTML file with inline SVG charts and escaped sample
// texts.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "rollout/log/rundb.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace aha;

namespace {

const int kSteps = 12, kGroups = 2, kPerGroup = 4;
const std::string kEvil = "<script>alert(\"x\")</script> & 'q'";
const std::string kLong =
    "Let me think step by step about this countdown puzzle: 25 * 4 = 100, 100 - 3 = 97, and "
    "finally 97 + 6 = 103 which is the target \xe2\x9c\x93 so the answer is (25*4)-3+6. "
    "END-OF-TEXT";

// Reward pattern (hand-checkable): ((step + 3 * group + 5 * idx) % 7) / 6. Sample ids are assigned
// in write order: step s, group g, index i -> (s - 1) * 8 + g * 4 + i + 1.
double reward_of(int s, int g, int i) {
  return (double)((s + 3 * g + 5 * i) % 7) / 6.0;
}

void write_db(const std::string& dir) {
  RunDb db = rundb_open(dir, true);
  RunRow run;
  run.aha_version = "0.1.0";
  run.git_commit = "0123456789abcdef";
  run.model = "moe-tiny L=3 E=8 K=2";
  run.config = "[learner]\nlr = 1e-5\nkl_coef = \"<b>0.0</b>\"\n";
  int64_t run_id = rundb_begin_run(db, run);
  for (int s = 1; s <= kSteps; s++) {
    std::vector<Sample> samples;
    double sum = 0, num_correct = 0;
    for (int g = 0; g < kGroups; g++)
      for (int i = 0; i < kPerGroup; i++) {
        Sample r;
        r.weight_version = s - 1;
        r.task = g == 0 ? "countdown" : "arith";
        r.prompt_id = r.task + "/" + std::to_string(s);
        r.group_id = g;
        r.sample_idx = i;
        r.prompt_text = "Solve #" + std::to_string(s) + " <" + r.task + ">";
        r.reward = reward_of(s, g, i);
        r.completion_text = "<think>step " + std::to_string(s) + " g" + std::to_string(g) + " i" +
                            std::to_string(i) + "</think><answer>" + std::to_string(s + g + i) +
                            "</answer>";
        if (s == 3 && g == 0 && i == 2) r.completion_text = kEvil;  // the best of step 3
        if (s == 3 && g == 1 && i == 3) r.completion_text = kLong;  // the worst of step 3
        r.num_tokens = 20 + 3 * i;
        r.finish_reason = i == 3 ? "length" : "stop";
        r.components_json = "{\"answer\":" + std::to_string(r.reward) +
                            ",\"format\":" + (i == 3 ? "0.0" : "0.5") + "}";
        r.correct = r.reward >= 5.0 / 6.0;
        r.advantage = r.reward - 0.5;
        r.mean_logp = -0.1 * (i + 1);
        r.mean_abs_dlogp = 0.001 * s;
        r.gen_time_s = 0.5;
        r.extracted = std::to_string(s + g + i);
        r.reason = r.correct ? "correct" : "expected " + std::to_string(s);
        r.completion = {5, 6, 7};
        r.prompt = {1, 2};
        r.rollout_logp = {-0.5f, -0.25f, -0.125f};
        sum += r.reward;
        num_correct += r.correct;
        samples.push_back(r);
      }
    StepRow st;
    st.run_id = run_id;
    st.step = s;
    st.reward_mean = sum / (kGroups * kPerGroup);
    st.accuracy = num_correct / (kGroups * kPerGroup);
    st.adv_mean = 0;
    st.adv_std = 0.3;
    st.len_mean = 40 + 5 * s;
    st.len_max = 80 + 8 * s;
    st.frac_truncated = 0.25 - 0.01 * s;
    st.kl = 0.002 * s * s;
    st.entropy = 1.2 - 0.05 * s;
    st.clip_frac_low = 0.01;
    st.clip_frac_high = 0.02 + 0.001 * s;
    st.frac_zero_var_groups = 0.0;
    st.dlogp_max = 0.05;
    st.dlogp_mean = 0.004;
    st.grad_norm = 1.0 / s;
    st.lr = 1e-5;
    st.tokens_per_s = 1000 + 10 * s;
    st.t_gen = 2.0;
    st.t_reward = 0.1;
    st.t_train = 1.0;
    st.t_sync = 0.05;
    // 3 MoE layers x 8 experts; layer 2 drifts to expert 0.
    nlohmann::json load = nlohmann::json::array();
    for (int l = 0; l < 3; l++) {
      nlohmann::json row = nlohmann::json::array();
      for (int e = 0; e < 8; e++) {
        double hot = l == 2 ? 0.02 * s : 0.0;
        row.push_back(e == 0 ? 0.125 + hot : 0.125 - hot / 7);
      }
      load.push_back(row);
    }
    st.metrics_json = nlohmann::json{{"expert_load", load}}.dump();
    rundb_write_step(db, st, samples);
  }
  rundb_write_evals(db, {{run_id, 0, "countdown", "pass@1", 0.2, 1},
                         {run_id, 12, "countdown", "pass@1", 0.6, 1}});
}

struct Result {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr (kept apart: sanitizer builds may print there)
};

Result run(const std::string& args) {
  const std::string err_path =
      (fs::temp_directory_path() / ("aha_test_logs_cli_" + std::to_string(getpid()) + ".err"))
          .string();
  std::string cmd = std::string(AHA_BINARY) + " " + args + " 2>" + err_path;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  Result r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(err_path);
  r.err.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  fs::remove(err_path);
  return r;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// First column (sample id) of each data row of a samples table.
std::vector<int64_t> table_ids(const std::string& table) {
  std::vector<int64_t> ids;
  std::vector<std::string> lines = lines_of(table);
  for (size_t i = 2; i < lines.size(); i++) {
    if (lines[i].empty() || lines[i][0] == '(') continue;
    ids.push_back(std::stoll(lines[i]));
  }
  return ids;
}

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) n++;
  return n;
}

// Checks that every non-void element is closed in order; returns "" or the first problem.
std::string html_structure_error(const std::string& html) {
  std::vector<std::string> stack;
  size_t pos = 0;
  while ((pos = html.find('<', pos)) != std::string::npos) {
    size_t end = html.find('>', pos);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(pos);
    std::string tag = html.substr(pos + 1, end - pos - 1);
    pos = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '!') continue;  // <!DOCTYPE html>
    bool closing = tag[0] == '/';
    bool self_closing = tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" /"));
    if (name == "meta" || name == "br" || self_closing) continue;
    if (name == "style") {  // CSS may contain '>' (child selectors): skip to </style>
      size_t close = html.find("</style>", pos);
      if (close == std::string::npos) return "unclosed <style>";
      pos = close + 8;
      continue;
    }
    if (!closing) {
      stack.push_back(name);
    } else {
      if (stack.empty() || stack.back() != name)
        return "</" + name + "> closes <" + (stack.empty() ? "" : stack.back()) + ">";
      stack.pop_back();
    }
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

}  // namespace

TEST_CASE("aha logs and aha report on a generated run") {
  test::TempDir tmp("aha_test_logs_cli");
  const std::string dir = tmp.path.string();
  write_db(dir);

  SUBCASE("runs") {
    Result r = run("logs " + dir + " runs");
    REQUIRE(r.code == 0);
    std::vector<std::string> lines = lines_of(r.out);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].find("run  started") == 0);
    CHECK(lines[2].find("0.1.0") != std::string::npos);
    CHECK(lines[2].find("0123456789a\xe2\x80\xa6") != std::string::npos);  // commit cut to 12
    CHECK(lines[2].find("  12       96  moe-tiny L=3 E=8 K=2") != std::string::npos);
  }

  SUBCASE("steps") {
    Result r = run("logs " + dir + " steps");
    REQUIRE(r.code == 0);
    std::vector<std::string> lines = lines_of(r.out);
    REQUIRE(lines.size() == 2 + kSteps);
    // Step 3 rewards: 3,1,6,4 | 6,4,2,0 sevenths*... /6 -> mean 26/48 = 0.542; accuracy 2/8.
    CHECK(lines[4].find("  1     3   0.542  0.250   55.0      104") == 0);
    Result one = run("logs " + dir + " steps --steps 11: --json");
    REQUIRE(one.code == 0);
    std::vector<std::string> js = lines_of(one.out);
    REQUIRE(js.size() == 2);
    nlohmann::json j = nlohmann::json::parse(js[1]);
    CHECK(j["step"] == 12);
    CHECK(j["kl"].get<double>() == doctest::Approx(0.288));
    CHECK(j["metrics"]["expert_load"].size() == 3);
    CHECK(j["metrics"]["entropy"].get<double>() == doctest::Approx(0.6));
  }

  SUBCASE("samples: filters and order") {
    // Step 3 rewards by id 17..24: 3 1 6 4 6 4 2 0 (sixths).
    Result best = run("logs " + dir + " samples --step 3 --best --limit 3");
    REQUIRE(best.code == 0);
    CHECK(table_ids(best.out) == std::vector<int64_t>{19, 21, 20});
    CHECK(best.out.find("(3 of 8 samples; --limit 0 shows all)") != std::string::npos);
    Result worst = run("logs " + dir + " samples --step 3 --worst --limit 2");
    REQUIRE(worst.code == 0);
    CHECK(table_ids(worst.out) == std::vector<int64_t>{24, 18});
    // The long completion is cut with an ellipsis in the table.
    CHECK(worst.out.find("Let me think step by step") != std::string::npos);
    CHECK(worst.out.find("END-OF-TEXT") == std::string::npos);
    CHECK(worst.out.find("\xe2\x80\xa6") != std::string::npos);
    // Zero rewards of arith (group 1): step 1 idx 2 (id 7), step 3 idx 3 (id 24), step 4 idx 0.
    Result arith = run("logs " + dir + " samples --task arith --worst --limit 3 --json");
    REQUIRE(arith.code == 0);
    std::vector<std::string> js = lines_of(arith.out);
    REQUIRE(js.size() == 3);
    std::vector<int64_t> ids;
    for (const std::string& line : js) {
      nlohmann::json j = nlohmann::json::parse(line);
      CHECK(j["task"] == "arith");
      CHECK(j["reward"] == 0.0);
      CHECK_FALSE(j.contains("completion_ids"));  // tokens only with show
      ids.push_back(j["sample_id"]);
    }
    CHECK(ids == std::vector<int64_t>{7, 24, 29});
    Result all = run("logs " + dir + " samples --limit 0");
    CHECK(table_ids(all.out).size() == (size_t)(kSteps * kGroups * kPerGroup));
    Result range = run("logs " + dir + " samples --steps 2:3 --task countdown");
    CHECK(table_ids(range.out) == std::vector<int64_t>{9, 10, 11, 12, 17, 18, 19, 20});
  }

  SUBCASE("show") {
    Result r = run("logs " + dir + " show 24");
    REQUIRE(r.code == 0);
    CHECK(r.out.find(kLong) != std::string::npos);  // the whole text
    CHECK(r.out.find("extracted       7") != std::string::npos);
    CHECK(r.out.find("reason          expected 3") != std::string::npos);
    CHECK(r.out.find("components      {\"answer\":0.000000,\"format\":0.0}") != std::string::npos);
    CHECK(r.out.find("token ids       2 prompt + 3 completion, with rollout log-probs") !=
          std::string::npos);
    Result j = run("logs " + dir + " show 19 --json");
    REQUIRE(j.code == 0);
    nlohmann::json s = nlohmann::json::parse(j.out);
    CHECK(s["completion"] == kEvil);
    CHECK(s["completion_ids"] == std::vector<int>{5, 6, 7});
    CHECK(s["rollout_logps"][2] == -0.125);
  }

  SUBCASE("errors name the database") {
    Result r = run("logs " + dir + "/nope runs");
    CHECK(r.code == 1);
    CHECK(r.err.find("aha: error: " + dir + "/nope/rollouts.db: no rollout database") !=
          std::string::npos);
    r = run("logs " + dir + " show 9999");
    CHECK(r.code == 1);
    CHECK(r.err.find("rollouts.db: no sample with id 9999") != std::string::npos);
    r = run("logs " + dir + " samples --best --worst");
    CHECK(r.code != 0);
    // sft --from-db with a bar no sample reaches names the run and the count.
    r = run("sft --model " + std::string(AHA_SOURCE_DIR) + "/experiments/r1-zero/base --from-db " +
            dir + " --min-reward 100 --out " + dir + "/sft");
    CHECK(r.code == 1);
    CHECK_MESSAGE(r.err.find("--from-db " + dir + ": none of its " +
                             std::to_string(kSteps * kGroups * kPerGroup) +
                             " samples has reward >= 100") != std::string::npos,
                  r.err);
    r = run("logs " + dir + " samples --steps 3:1");
    CHECK(r.code == 1);
    CHECK(r.err.find("--steps 3:1: the first step is after the last") != std::string::npos);
  }

  SUBCASE("report") {
    Result r = run("report " + dir);
    REQUIRE(r.code == 0);
    CHECK(r.out == "wrote " + dir + "/report.html\n");
    std::ifstream f(dir + "/report.html");
    std::string html((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(html_structure_error(html) == "");
    // Charts: 14 training curves, 1 eval chart, 1 imbalance chart, heatmaps of steps 1, 7, 12,
    // 1 length-vs-reward scatter with the 3 x 8 samples of those steps, and (the completions
    // close a think block) the reasoning share and length.
    CHECK(count_of(html, "<svg") == 14 + 1 + 1 + 3 + 1 + 2);
    CHECK(html.find("<h2>Reasoning</h2>") != std::string::npos);
    CHECK(html.find("id=\"chart-thinking\"") != std::string::npos);
    CHECK(count_of(html, "fill-opacity=\"0.35\"") == 24);
    for (const char* id : {"chart-reward", "chart-accuracy", "chart-length", "chart-kl",
                           "chart-entropy", "chart-clip", "chart-imbalance", "chart-len-reward"})
      CHECK(html.find(std::string("id=\"") + id + "\"") != std::string::npos);
    CHECK(count_of(html, "<polyline") >= 14);
    CHECK(html.find("Expert load, step 1<") != std::string::npos);
    CHECK(html.find("Expert load, step 7<") != std::string::npos);
    CHECK(html.find("Expert load, step 12<") != std::string::npos);
    // Per-component reward lines from the samples' components (legend entries).
    CHECK(html.find(">answer</text>") != std::string::npos);
    CHECK(html.find(">format</text>") != std::string::npos);
    // Sample sections of the default steps, texts escaped, nothing that loads from the network.
    CHECK(html.find("<h3>Step 1 ") != std::string::npos);
    CHECK(html.find("<h3>Step 7 ") != std::string::npos);
    CHECK(html.find("<h3>Step 12 ") != std::string::npos);
    CHECK(html.find("<h3>Step 3 ") == std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("src=") == std::string::npos);
    CHECK(html.find("href=") == std::string::npos);
    CHECK(html.find("kl_coef = &quot;&lt;b&gt;0.0&lt;/b&gt;&quot;") != std::string::npos);

    // Chosen steps and another output file: step 3 shows the escaped best and the worst sample.
    std::string out = dir + "/custom.html";
    r = run("report " + dir + " --steps 3,5 --samples 1 --out " + out);
    REQUIRE(r.code == 0);
    std::ifstream g(out);
    std::string h2((std::istreambuf_iterator<char>(g)), std::istreambuf_iterator<char>());
    CHECK(html_structure_error(h2) == "");
    CHECK(h2.find("<h3>Step 3 <span class=\"muted\">(8 samples)") != std::string::npos);
    CHECK(h2.find("<h3>Step 5 ") != std::string::npos);
    CHECK(h2.find("<h3>Step 1 ") == std::string::npos);
    CHECK(h2.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;") !=
          std::string::npos);
    CHECK(h2.find(kLong.substr(0, 40)) != std::string::npos);
    // Best and worst of steps 3 and 5 (the Reasoning section before them shows steps 1 and 12).
    const std::string best_worst = h2.substr(h2.find("<h2>Samples</h2>"));
    CHECK(count_of(best_worst, "class=\"sample good\"") == 2);
    CHECK(count_of(best_worst, "class=\"sample bad\"") == 2);
    CHECK(count_of(h2, "class=\"sample ") == 4 + 2 * 2);
    if (const char* keep = std::getenv("AHA_KEEP_REPORT"))
      fs::copy_file(dir + "/report.html", keep, fs::copy_options::overwrite_existing);
  }
}
