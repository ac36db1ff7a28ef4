// report.h: terminal table layout, UTF-8-safe truncation, JSON lines, HTML escaping, per-component
// reward means from samples, and the HTML report of degenerate databases (no run, no steps).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "rollout/log/report.h"
#include "rollout/log/rundb.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace aha;

struct TempDir : aha::test::TempDir {
  TempDir() : aha::test::TempDir("aha_test_rundb_report") {}
};

namespace {

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) n++;
  return n;
}

}  // namespace

TEST_CASE("text_cell flattens lines and cuts at a character boundary") {
  CHECK(text_cell("a\nb\tc", 10) == "a b c");
  CHECK(text_cell("abcdef", 6) == "abcdef");
  CHECK(text_cell("abcdefg", 6) == "abcde\xe2\x80\xa6");
  // "éééé" is 4 characters of 2 bytes; cut to 3 characters = 2 of them plus the ellipsis.
  CHECK(text_cell("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3) == "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
  // A truncated multi-byte sequence at the end of a malformed text does not read past it.
  CHECK(text_cell("abc\xe2\x80", 10) == "abc\xe2\x80");
}

TEST_CASE("table_render pads columns, right-aligns numbers, counts code points") {
  TextTable t;
  t.header = {"id", "name", "x"};
  t.right_align = {true, false, true};
  t.rows = {{"1", "\xc3\xa9t\xc3\xa9", "2.5"}, {"100", "a", "-"}};
  CHECK(table_render(t) ==
        " id  name    x\n"
        "---  ----  ---\n"
        "  1  \xc3\xa9t\xc3\xa9   2.5\n"
        "100  a       -\n");
  CHECK(fmt_metric(std::nan("")) == "-");
  CHECK(fmt_metric(0.000123456) == "0.0001235");
}

TEST_CASE("html_escape escapes the five special characters") {
  CHECK(html_escape("<a href=\"x\">Tom & 'Jerry'</a>") ==
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  CHECK(html_escape("plain \xc3\xa9") == "plain \xc3\xa9");
}

TEST_CASE("JSON lines: NaN is null, components are objects, tokens on request") {
  StepRow s;
  s.run_id = 1;
  s.step = 4;
  s.kl = 0.5;
  s.metrics_json = R"({"x":1})";
  nlohmann::json j = nlohmann::json::parse(step_json(s));
  CHECK(j["step"] == 4);
  CHECK(j["kl"] == 0.5);
  CHECK(j["entropy"].is_null());
  CHECK(j["metrics"]["x"] == 1);

  Sample r;
  r.components_json = R"({"format":0.5})";
  r.completion_text = "bad utf8 \xff end";
  r.completion = {3, 4};
  nlohmann::json a = nlohmann::json::parse(sample_json(r, false));
  CHECK(a["components"]["format"] == 0.5);
  CHECK(a["completion"] == "bad utf8 \xef\xbf\xbd end");  // replaced, not thrown
  CHECK_FALSE(a.contains("completion_ids"));
  nlohmann::json b = nlohmann::json::parse(sample_json(r, true));
  CHECK(b["completion_ids"] == std::vector<int>{3, 4});
  CHECK(b["response_prefix"] == "");
  // The template's prefix is shown apart from the model's own completion.
  r.response_prefix = "<think>\n";
  r.completion_text = "2+2</think> <answer>4</answer>";
  CHECK(nlohmann::json::parse(sample_json(r, false))["response_prefix"] == "<think>\n");
  const std::string text = sample_show_text(r);
  CHECK(text.find("--- response prefix (written by the chat template) ---\n<think>\n--- "
                  "completion ---\n2+2</think> <answer>4</answer>\n") != std::string::npos);
}

TEST_CASE("component means per step from the samples' components") {
  TempDir tmp;
  RunDb db = rundb_open(tmp.path.string(), true);
  RunRow run;
  int64_t id = rundb_begin_run(db, run);
  for (int64_t step = 1; step <= 2; step++) {
    StepRow st;
    st.run_id = id;
    st.step = step;
    std::vector<Sample> samples(3);
    for (int i = 0; i < 3; i++) {
      samples[i].sample_idx = i;
      // answer: step 1 -> 0, 1, 1 (mean 2/3); step 2 -> 1, 1, 1. format: 0.5 * i. note: text.
      double answer = (step == 2 || i > 0) ? 1.0 : 0.0;
      samples[i].components_json = "{\"answer\":" + std::to_string(answer) +
                                   ",\"format\":" + std::to_string(0.5 * i) + ",\"note\":\"x\"}";
    }
    rundb_write_step(db, st, samples);
  }
  std::vector<ComponentMean> m = rundb_component_means(db, id);
  REQUIRE(m.size() == 4);  // "note" is not numeric
  CHECK(m[0].component == "answer");
  CHECK(m[0].step == 1);
  CHECK(m[0].mean == doctest::Approx(2.0 / 3.0));
  CHECK(m[1].mean == 1.0);
  CHECK(m[2].component == "format");
  CHECK(m[2].mean == 0.5);  // (0 + 0.5 + 1) / 3
  CHECK(m[3].step == 2);

  // A run with steps but no metrics: charts say "not measured", the sample section still shows.
  ReportOptions opt;
  std::string html = report_html(db, opt);
  CHECK(count_of(html, "not measured") == 13);  // every curve but reward (from components)
  CHECK(html.find("<h3>Step 1 <span class=\"muted\">(3 samples)") != std::string::npos);
  CHECK(html.find("No \"expert_load\" in the step metrics.") != std::string::npos);
  opt.sample_steps = {7};
  html = report_html(db, opt);
  CHECK(html.find("No samples logged for this step.") != std::string::npos);
  opt.run_id = 5;
  CHECK_THROWS_WITH(report_html(db, opt), doctest::Contains("no run 5"));
}

TEST_CASE("charts of extreme values finish and draw finite coordinates") {
  TempDir tmp;
  RunDb db = rundb_open(tmp.path.string(), true);
  int64_t id = rundb_begin_run(db, RunRow{});
  const double rewards[] = {1e17, 1e17 + 16, std::nan("")};
  const double kls[] = {1e-300, 2e-300, 3e-300};
  for (int64_t step = 0; step < 3; step++) {
    StepRow st;
    st.run_id = id;
    st.step = step * 1000000;
    st.reward_mean = rewards[step];
    st.kl = kls[step];
    st.lr = 1e-5;
    st.entropy = -1e300 * (double)step;
    st.metrics_json = R"({"expert_load":[[0.5,0.5],"bad"]})";  // malformed layer: ignored
    rundb_write_step(db, st, {});
  }
  std::string html = report_html(db, {});
  CHECK(html.find("nan") == std::string::npos);
  CHECK(html.find("inf") == std::string::npos);
  CHECK(count_of(html, "<polyline") >= 4);  // reward, kl, lr, entropy
  CHECK(html.find("No \"expert_load\" in the step metrics.") != std::string::npos);
}

TEST_CASE("report of an empty database") {
  TempDir tmp;
  RunDb db = rundb_open(tmp.path.string(), true);
  std::string html = report_html(db, {});
  CHECK(html.find("No runs logged in this database.") != std::string::npos);
  std::string out = (tmp.path / "r.html").string();
  report_write(db, {}, out);
  CHECK(fs::file_size(out) == html.size());
  CHECK_FALSE(fs::exists(out + ".tmp"));
}
