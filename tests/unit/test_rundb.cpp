// rundb: write a run with several steps to a temp dir and read it back with every filter, checking
// hand-computed orderings and exact values; atomicity of a step (exception and process crash);
// WAL mode; schema version check; error messages.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kernels/utf8.h"
#include "rollout/log/rundb.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace aha;

struct TempDir : aha::test::TempDir {
  TempDir() : aha::test::TempDir("aha_test_rundb") {}
};

namespace {

// Rewards by step (1..3) and position (group*2 + idx); group 0 is countdown, group 1 is arith.
// Sample ids are assigned 1..12 in write order, so ids by step are 1-4, 5-8, 9-12.
const double kRewards[3][4] = {{1.0, 0.0, 0.5, 0.0}, {1.0, 1.0, 0.25, 0.75}, {0.0, 1.5, 1.0, 0.5}};

Sample make_sample(int64_t step, int64_t group, int64_t idx) {
  Sample r;
  r.weight_version = step - 1;
  r.task = group == 0 ? "countdown" : "arith";
  r.prompt_id = r.task + "-" + std::to_string(step * 10 + group);
  r.group_id = group;
  r.sample_idx = idx;
  r.prompt_text =
      "Prompt \"" + std::to_string(step) + "\"\n<tag> & \xc3\xa9";  // quotes, newline, é
  r.completion_text = "<think>" + std::to_string(group * 2 + idx) + "</think>";
  r.num_tokens = 10 + group * 2 + idx;
  r.finish_reason = idx == 1 ? "length" : "stop";
  r.reward = kRewards[(step - 1) % 3][(group * 2 + idx) % 4];  // steps > 3 and groups > 1 wrap
  r.components_json = "{\"answer\":" + std::to_string(r.reward) + ",\"format\":1.0}";
  r.correct = r.reward >= 1.0;
  r.advantage = r.reward - 0.5;
  r.mean_logp = -0.25 * (double)(idx + 1);
  r.mean_abs_dlogp = 0.125;
  r.gen_time_s = 1.5;
  r.extracted = std::to_string(step);
  r.reason = r.correct ? "ok" : "wrong answer";
  r.prompt = {1, 258, -1, (int32_t)step};
  r.completion = {7, 8, (int32_t)(100 + idx)};
  r.rollout_logp = {-0.5f, -1.25f, -3.0e-8f};
  return r;
}

std::vector<Sample> make_step_samples(int64_t step) {
  std::vector<Sample> out;
  for (int64_t g = 0; g < 2; g++)
    for (int64_t i = 0; i < 2; i++) out.push_back(make_sample(step, g, i));
  return out;
}

StepRow make_step(int64_t run_id, int64_t step) {
  StepRow s;
  s.run_id = run_id;
  s.step = step;
  s.time = "2026-01-01T00:00:0" + std::to_string(step) + "Z";
  double sum = 0;
  for (double r : kRewards[(step - 1) % 3]) sum += r;
  s.reward_mean = sum / 4;
  s.accuracy = 0.25 * (double)step;
  s.kl = 0.01 * (double)step;
  s.lr = 1e-6;
  // entropy, grad_norm, ... left unmeasured (NaN -> NULL)
  s.metrics_json = R"({"reward_components":{"answer":0.5,"format":1.0},"kl":99.0,)"
                   R"("expert_load":[[0.5,0.25,0.25],[0.125,0.375,0.5]]})";
  return s;
}

// A db with run 1 (steps 1..3, 12 samples) and run 2 (step 1 only, 4 samples).
void write_fixture(const std::string& dir) {
  RunDb db = rundb_open(dir, true);
  RunRow run;
  run.start_time = "2026-01-01T00:00:00Z";
  run.aha_version = "0.1.0";
  run.git_commit = "abc123";
  run.model = "moe-tiny";
  run.config = "[learner]\nlr = 1e-6\n";
  REQUIRE(rundb_begin_run(db, run) == 1);
  for (int64_t step = 1; step <= 3; step++)
    rundb_write_step(db, make_step(1, step), make_step_samples(step));
  rundb_write_evals(
      db, {{1, 0, "countdown", "pass@1", 0.25, 1}, {1, 3, "countdown", "pass@k", 0.75, 8}});
  run.model = "moe-tiny-2";
  REQUIRE(rundb_begin_run(db, run) == 2);
  rundb_write_step(db, make_step(2, 1), make_step_samples(1));
}

std::vector<int64_t> ids(const std::vector<Sample>& rows) {
  std::vector<int64_t> out;
  for (const Sample& r : rows) out.push_back(r.sample_id);
  return out;
}

std::string raw_text(const std::string& db_path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

void raw_exec(const std::string& db_path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

std::string error_of(auto&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("rundb: sample filters and orderings match hand-computed ids") {
  TempDir tmp;
  write_fixture(tmp.str());
  RunDb db = rundb_open(tmp.str(), false);

  SampleQuery q;
  q.run_id = 1;
  CHECK(ids(rundb_read_samples(db, q)) ==
        std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  CHECK(rundb_count_samples(db, q) == 12);
  q.run_id = 0;
  CHECK(rundb_count_samples(db, q) == 16);
  q.run_id = 2;
  CHECK(ids(rundb_read_samples(db, q)) == std::vector<int64_t>{13, 14, 15, 16});

  q = {};
  q.run_id = 1;
  q.order = SampleOrder::kBest;
  q.limit = 5;
  // 1.5 (id 10), then the 1.0s in id order; sample 11 (1.0) falls past the limit.
  CHECK(ids(rundb_read_samples(db, q)) == std::vector<int64_t>{10, 1, 5, 6, 11});
  CHECK(rundb_count_samples(db, q) == 12);  // limit ignored
  q.order = SampleOrder::kWorst;
  q.limit = 4;
  CHECK(ids(rundb_read_samples(db, q)) == std::vector<int64_t>{2, 4, 9, 7});

  q = {};
  q.run_id = 1;
  q.step_min = 2;
  q.step_max = 2;
  q.order = SampleOrder::kBest;
  CHECK(ids(rundb_read_samples(db, q)) == std::vector<int64_t>{5, 6, 8, 7});
  q.order = SampleOrder::kWorst;
  q.limit = 2;
  CHECK(ids(rundb_read_samples(db, q)) == std::vector<int64_t>{7, 8});
  CHECK(rundb_count_samples(db, q) == 4);

  q = {};
  q.run_id = 1;
  q.task = "arith";
  q.step_min = 2;
  CHECK(ids(rundb_read_samples(db, q)) == std::vector<int64_t>{7, 8, 11, 12});
  q.order = SampleOrder::kBest;
  CHECK(ids(rundb_read_samples(db, q)) == std::vector<int64_t>{11, 8, 12, 7});

  q = {};
  q.run_id = 1;
  q.task = "countdown";
  q.order = SampleOrder::kWorst;
  CHECK(ids(rundb_read_samples(db, q)) == std::vector<int64_t>{2, 9, 1, 5, 6, 10});
  q.step_max = 1;
  CHECK(ids(rundb_read_samples(db, q)) == std::vector<int64_t>{2, 1});

  q = {};
  q.task = "nosuchtask";
  CHECK(rundb_read_samples(db, q).empty());
  CHECK(rundb_count_samples(db, q) == 0);
}

TEST_CASE("rundb: every field round-trips exactly") {
  TempDir tmp;
  write_fixture(tmp.str());
  RunDb db = rundb_open(tmp.str(), false);

  std::optional<Sample> got = rundb_read_sample(db, 8);  // step 2, group 1, idx 1
  REQUIRE(got);
  Sample want = make_sample(2, 1, 1);
  CHECK(got->sample_id == 8);
  CHECK(got->run_id == 1);
  CHECK(got->step == 2);
  CHECK(got->weight_version == 1);
  CHECK(got->task == "arith");
  CHECK(got->prompt_id == "arith-21");
  CHECK(got->group_id == 1);
  CHECK(got->sample_idx == 1);
  CHECK(got->prompt_text == want.prompt_text);
  CHECK(got->completion_text == "<think>3</think>");
  CHECK(got->num_tokens == 13);
  CHECK(got->finish_reason == "length");
  CHECK(got->reward == 0.75);
  CHECK(got->components_json == want.components_json);
  CHECK(got->correct == false);
  CHECK(got->advantage == 0.25);
  CHECK(got->mean_logp == -0.5);
  CHECK(got->mean_abs_dlogp == 0.125);
  CHECK(got->gen_time_s == 1.5);
  CHECK(got->extracted == "2");
  CHECK(got->reason == "wrong answer");
  CHECK(got->prompt == std::vector<int32_t>{1, 258, -1, 2});
  CHECK(got->completion == std::vector<int32_t>{7, 8, 101});
  CHECK(got->rollout_logp == std::vector<float>{-0.5f, -1.25f, -3.0e-8f});
  CHECK_FALSE(rundb_read_sample(db, 999));

  // Tokens only when asked for.
  SampleQuery q;
  q.step_min = q.step_max = 2;
  q.run_id = 1;
  CHECK(rundb_read_samples(db, q)[0].completion.empty());
  q.with_tokens = true;
  CHECK(rundb_read_samples(db, q)[0].completion == std::vector<int32_t>{7, 8, 100});

  // The blobs are little-endian int32 / float32 (-0.5f = 0xBF000000).
  CHECK(raw_text(db.path, "SELECT hex(prompt_ids) FROM samples_with_prompts WHERE sample_id = 8") ==
        "0100000002010000FFFFFFFF02000000");
  CHECK(raw_text(db.path,
                 "SELECT hex(substr(rollout_logps, 1, 4)) FROM samples WHERE sample_id = 8") ==
        "000000BF");

  std::vector<StepRow> steps = rundb_read_steps(db, 1);
  REQUIRE(steps.size() == 3);
  CHECK(steps[1].run_id == 1);
  CHECK(steps[1].step == 2);
  CHECK(steps[1].time == "2026-01-01T00:00:02Z");
  CHECK(steps[1].reward_mean == 0.75);  // (1 + 1 + 0.25 + 0.75) / 4
  CHECK(steps[1].accuracy == 0.5);
  CHECK(steps[1].kl == 0.02);
  CHECK(std::isnan(steps[1].entropy));
  CHECK(std::isnan(steps[1].grad_norm));
  nlohmann::json m = nlohmann::json::parse(steps[1].metrics_json);
  CHECK(m["kl"] == 99.0);           // a key given in metrics_json wins
  CHECK(m["reward_mean"] == 0.75);  // named fields are merged in
  CHECK(m["accuracy"] == 0.5);
  CHECK_FALSE(m.contains("entropy"));  // NaN = not measured
  CHECK(m["expert_load"][1][2] == 0.5);
  CHECK(m["reward_components"]["format"] == 1.0);
  CHECK(raw_text(db.path, "SELECT typeof(entropy) FROM steps WHERE step = 2 AND run_id = 1") ==
        "null");

  CHECK(rundb_read_steps(db, 0).size() == 4);
  CHECK(rundb_read_steps(db, 2).size() == 1);
  std::vector<StepRow> mid = rundb_read_steps(db, 1, 2, 3);
  REQUIRE(mid.size() == 2);
  CHECK(mid[0].step == 2);
  CHECK(mid[1].step == 3);

  std::vector<RunRow> runs = rundb_read_runs(db);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].run_id == 1);
  CHECK(runs[0].start_time == "2026-01-01T00:00:00Z");
  CHECK(runs[0].aha_version == "0.1.0");
  CHECK(runs[0].git_commit == "abc123");
  CHECK(runs[0].model == "moe-tiny");
  CHECK(runs[0].config == "[learner]\nlr = 1e-6\n");
  CHECK(runs[1].model == "moe-tiny-2");

  std::vector<EvalRow> evals = rundb_read_evals(db, 1);
  REQUIRE(evals.size() == 2);
  CHECK(evals[1].step == 3);
  CHECK(evals[1].task == "countdown");
  CHECK(evals[1].metric == "pass@k");
  CHECK(evals[1].value == 0.75);
  CHECK(evals[1].k == 8);
  CHECK(rundb_read_evals(db, 2).empty());
}

// Expected strings from Python's bytes.decode("utf-8", errors="replace"): one U+FFFD per maximal
// subpart of an ill-formed sequence.
TEST_CASE("utf8: ill-formed sequences become one U+FFFD per maximal subpart") {
  const std::string fffd = "\xEF\xBF\xBD";
  const std::string in = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
  CHECK_FALSE(utf8_well_formed(in));
  CHECK(utf8_replace_invalid(in) ==
        "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d");
  CHECK(utf8_replace_invalid("A\xE2\x82") == "A" + fffd);             // a character cut at the end
  CHECK(utf8_replace_invalid("\xED\xA0\x80") == fffd + fffd + fffd);  // a surrogate
  CHECK(utf8_replace_invalid("\xC0\xAF") == fffd + fffd);             // overlong '/'
  CHECK(utf8_replace_invalid("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // > U+10FFFF
  const std::string good = "\x24 \xC3\xA9 \xE2\x82\xAC \xF0\x90\x80\x80 \xF4\x8F\xBF\xBF";
  CHECK(utf8_well_formed(good));
  CHECK(utf8_replace_invalid(good) == good);
  CHECK(utf8_well_formed(""));
}

TEST_CASE("rundb: text columns hold well-formed UTF-8; the token ids keep the exact bytes") {
  TempDir tmp;
  RunDb db = rundb_open(tmp.str(), true);
  REQUIRE(rundb_begin_run(db, RunRow{}) == 1);
  std::vector<Sample> samples = make_step_samples(1);
  // A byte-level tokenizer's completion cut inside a character, with a stray byte before it.
  samples[0].completion_text = "<think>\xFF</think> 12 \xE2\x82";
  samples[0].extracted = "12 \xE2\x82";
  samples[0].reason = "math: wrong (\xC3)";
  rundb_write_step(db, make_step(1, 1), samples);
  CHECK(raw_text(db.path,
                 "SELECT hex(completion) || ' ' || hex(extracted) || ' ' || hex(reason) "
                 "FROM samples WHERE sample_id = 1") ==
        "3C7468696E6B3EEFBFBD3C2F7468696E6B3E20313220EFBFBD 313220EFBFBD "
        "6D6174683A2077726F6E672028EFBFBD29");
  std::optional<Sample> got = rundb_read_sample(db, 1);
  REQUIRE(got);
  CHECK(got->completion_text == "<think>\xEF\xBF\xBD</think> 12 \xEF\xBF\xBD");
  CHECK(got->completion == samples[0].completion);
  // Python's sqlite3 (and pandas on it) refuses a whole query over one ill-formed TEXT value.
  CHECK(raw_text(db.path,
                 "SELECT count(*) FROM samples WHERE completion = "
                 "CAST(X'3C7468696E6B3EEFBFBD3C2F7468696E6B3E20313220EFBFBD' AS TEXT)") == "1");
}

TEST_CASE("rundb: WAL mode and schema version are set") {
  TempDir tmp;
  write_fixture(tmp.str());
  std::string path = (tmp.path / "rollouts.db").string();
  CHECK(raw_text(path, "PRAGMA journal_mode") == "wal");  // persistent, seen by a new connection
  CHECK(raw_text(path, "PRAGMA user_version") == std::to_string(kRunDbSchemaVersion));
  CHECK(raw_text(path,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND "
                 "name IN ('samples_by_step', 'samples_by_task_step', 'samples_by_reward')") ==
        "3");
}

TEST_CASE("rundb: a reader sees only committed data and is not blocked by an open write") {
  TempDir tmp;
  write_fixture(tmp.str());
  RunDb writer = rundb_open(tmp.str(), false);
  RunDb reader = rundb_open(tmp.str(), false);
  REQUIRE(sqlite3_exec(writer.db,
                       "BEGIN IMMEDIATE; INSERT INTO runs (start_time, aha_version) "
                       "VALUES ('t', 'v'); DELETE FROM evals;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(reader.db, 0);  // a blocked read would fail at once instead of waiting
  CHECK(rundb_read_runs(reader).size() == 2);      // the uncommitted run is not visible
  CHECK(rundb_read_evals(reader, 1).size() == 2);  // nor the uncommitted delete
  REQUIRE(sqlite3_exec(writer.db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(rundb_read_runs(reader).size() == 3);
  CHECK(rundb_read_evals(reader, 1).empty());
}

TEST_CASE("rundb: an error mid-step leaves no partial step and the db usable") {
  TempDir tmp;
  write_fixture(tmp.str());
  RunDb db = rundb_open(tmp.str(), false);

  // Duplicate (group, index): SQLite rejects the 4th insert after 3 samples and the step row went
  // in.
  std::vector<Sample> samples = make_step_samples(4);
  samples[3].group_id = samples[2].group_id;
  samples[3].sample_idx = samples[2].sample_idx;
  std::string err = error_of([&] { rundb_write_step(db, make_step(1, 4), samples); });
  CHECK(err.find(db.path) != std::string::npos);
  CHECK(err.find("step 4 sample 3") != std::string::npos);
  CHECK(err.find("INSERT INTO samples") != std::string::npos);
  CHECK(rundb_read_steps(db, 1, 4, 4).empty());
  SampleQuery q;
  q.step_min = 4;
  CHECK(rundb_count_samples(db, q) == 0);

  // Bad components JSON on the 3rd sample: same, with the place named.
  samples = make_step_samples(4);
  samples[2].components_json = "{oops";
  err = error_of([&] { rundb_write_step(db, make_step(1, 4), samples); });
  CHECK(err.find("step 4 sample 2 (group 1, index 0): components_json is not a JSON object") !=
        std::string::npos);
  CHECK(rundb_read_steps(db, 1, 4, 4).empty());
  CHECK(rundb_count_samples(db, q) == 0);

  // Log-probs that do not match the completion length.
  samples = make_step_samples(4);
  samples[1].rollout_logp.pop_back();
  err = error_of([&] { rundb_write_step(db, make_step(1, 4), samples); });
  CHECK(err.find("2 rollout log-probs for 3 completion tokens") != std::string::npos);
  CHECK(rundb_count_samples(db, q) == 0);

  // The transaction was rolled back, not left open: the same step now writes fine.
  rundb_write_step(db, make_step(1, 4), make_step_samples(4));
  CHECK(rundb_count_samples(db, q) == 4);
  CHECK(rundb_read_steps(db, 1).size() == 4);
}

// A progress handler that kills the process: a real crash in the middle of rundb_write_step.
static int crash_handler(void* calls) {
  if (++*static_cast<int*>(calls) == 20) _exit(3);
  return 0;
}

TEST_CASE("rundb: a process crash mid-step leaves no partial step") {
  TempDir tmp;
  write_fixture(tmp.str());
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    RunDb db = rundb_open(tmp.str(), false);
    static int calls = 0;
    sqlite3_progress_handler(db.db, 50, crash_handler, &calls);
    std::vector<Sample> many;
    for (int64_t g = 0; g < 50; g++) {
      Sample r = make_sample(4, g, 0);
      many.push_back(r);
    }
    rundb_write_step(db, make_step(1, 4), many);
    _exit(0);  // reached only when the handler did not fire
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);

  RunDb db = rundb_open(tmp.str(), false);
  CHECK(rundb_read_steps(db, 1, 4, 4).empty());
  SampleQuery q;
  q.run_id = 1;
  CHECK(rundb_count_samples(db, q) == 12);  // the 3 committed steps are intact
  rundb_write_step(db, make_step(1, 4), make_step_samples(4));
  CHECK(rundb_count_samples(db, q) == 16);
}

TEST_CASE("rundb: duplicate step is an error; truncate_after makes room for a resumed run") {
  TempDir tmp;
  write_fixture(tmp.str());
  RunDb db = rundb_open(tmp.str(), false);
  std::string err = error_of([&] { rundb_write_step(db, make_step(1, 3), make_step_samples(3)); });
  CHECK(err.find("run 1 step 3 is already logged") != std::string::npos);
  CHECK(err.find("INSERT INTO steps") != std::string::npos);

  rundb_truncate_after(db, 1, 1);
  CHECK(rundb_read_steps(db, 1).size() == 1);
  SampleQuery q;
  q.run_id = 1;
  CHECK(rundb_count_samples(db, q) == 4);
  CHECK(rundb_read_evals(db, 1).size() == 1);  // the step-3 eval went too
  q.run_id = 2;
  CHECK(rundb_count_samples(db, q) == 4);  // other runs untouched
  rundb_write_step(db, make_step(1, 2), make_step_samples(2));
  CHECK(rundb_read_steps(db, 1).size() == 2);
}

TEST_CASE("rundb: open checks the schema version and the file") {
  TempDir tmp;
  std::string dir = tmp.str();
  std::string err = error_of([&] { rundb_open(dir, false); });
  CHECK(err.find("rollouts.db: no rollout database") != std::string::npos);

  { RunDb db = rundb_open(dir, true); }   // creates the schema
  { RunDb db = rundb_open(dir, false); }  // reopens fine
  std::string path = (tmp.path / "rollouts.db").string();

  raw_exec(path, "PRAGMA user_version = 99");
  err = error_of([&] { rundb_open(dir, false); });
  CHECK(err.find(path) != std::string::npos);
  CHECK(err.find("schema version 99 is newer than this aha understands (3)") != std::string::npos);
  err = error_of([&] { rundb_open(dir, true); });
  CHECK(err.find("schema version 99") != std::string::npos);

  fs::remove(path);
  fs::remove(path + "-wal");
  fs::remove(path + "-shm");
  raw_exec(path, "CREATE TABLE foo (x)");
  err = error_of([&] { rundb_open(dir, true); });
  CHECK(err.find("not an aha rollout database") != std::string::npos);

  fs::remove(path);
  std::ofstream(path) << "this is not a database, just some text that is long enough......";
  err = error_of([&] { rundb_open(dir, false); });
  CHECK(err.find(path) != std::string::npos);
  CHECK(err.find("not a database") != std::string::npos);

  // Moving the owner keeps one live connection.
  fs::remove(path);
  RunDb a = rundb_open(dir, true);
  RunDb b = std::move(a);
  CHECK(a.db == nullptr);
  CHECK(b.db != nullptr);
  RunRow run;
  run.aha_version = "0.1.0";
  CHECK(rundb_begin_run(b, run) == 1);
  CHECK(rundb_read_runs(b)[0].start_time.size() == 20);  // filled: 2026-01-01T00:00:00Z
}

TEST_CASE("rundb: response_prefix round-trips; a version 1 file is migrated and takes new steps") {
  TempDir tmp;
  const std::string dir = tmp.str();
  const std::string path = (tmp.path / "rollouts.db").string();
  {
    RunDb db = rundb_open(dir, true);
    CHECK(db.version == 3);
    REQUIRE(rundb_begin_run(db, RunRow{}) == 1);
    std::vector<Sample> s = make_step_samples(1);
    s[0].response_prefix = "<think>\n";
    rundb_write_step(db, make_step(1, 1), s);
    std::vector<Sample> back = rundb_read_samples(db, SampleQuery{});
    REQUIRE(back.size() == 4);
    CHECK(back[0].response_prefix == "<think>\n");
    CHECK(back[0].completion_text == "<think>0</think>");  // the completion stays the model's own
    CHECK(back[1].response_prefix.empty());
    CHECK(rundb_read_sample(db, back[0].sample_id)->response_prefix == "<think>\n");
  }
  // What an aha before chat templates wrote (user_version 1): each sample row holds its prompt
  // text and ids, and there is no response_prefix column. Rebuilt here from the version 3 file.
  raw_exec(path,
           "ALTER TABLE samples ADD COLUMN prompt TEXT NOT NULL DEFAULT '';"
           "ALTER TABLE samples ADD COLUMN prompt_ids BLOB;"
           "UPDATE samples SET prompt = (SELECT p.prompt FROM prompts p WHERE p.run_id = "
           "samples.run_id AND p.step = samples.step AND p.group_id = samples.group_id), "
           "prompt_ids = (SELECT p.prompt_ids FROM prompts p WHERE p.run_id = samples.run_id AND "
           "p.step = samples.step AND p.group_id = samples.group_id);"
           "DROP VIEW samples_with_prompts; PRAGMA foreign_keys = OFF; DROP TABLE prompts;"
           "ALTER TABLE samples DROP COLUMN response_prefix; PRAGMA user_version = 1");
  CHECK(raw_text(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'prompts'") == "0");
  RunDb db = rundb_open(dir, false);
  CHECK(db.version == 3);
  CHECK(raw_text(path, "PRAGMA user_version") == "3");
  CHECK(raw_text(path, "SELECT count(*) FROM prompts") == "2");  // one per group
  SampleQuery q;
  q.with_tokens = true;
  std::vector<Sample> old = rundb_read_samples(db, q);
  REQUIRE(old.size() == 4);
  for (const Sample& r : old) CHECK(r.response_prefix.empty());
  CHECK(old[3].completion == std::vector<int32_t>{7, 8, 101});
  CHECK(old[3].rollout_logp == std::vector<float>{-0.5f, -1.25f, -3.0e-8f});
  CHECK(old[3].prompt_text == make_sample(1, 1, 1).prompt_text);
  CHECK(rundb_read_sample(db, 2)->prompt == std::vector<int32_t>{1, 258, -1, 1});
  // The migrated run appends its steps, a response_prefix included.
  std::vector<Sample> s2 = make_step_samples(2);
  s2[2].response_prefix = "<think>\n";
  rundb_write_step(db, make_step(1, 2), s2);
  CHECK(rundb_count_samples(db, SampleQuery{}) == 8);
  CHECK(rundb_read_sample(db, 7)->response_prefix == "<think>\n");
  CHECK(rundb_read_steps(db, 1).size() == 2);
}

TEST_CASE("rundb: a group's prompt is stored once; token blobs are optional") {
  TempDir tmp;
  const std::string dir = tmp.str();
  const std::string path = (tmp.path / "rollouts.db").string();
  RunDb db = rundb_open(dir, true);
  REQUIRE(rundb_begin_run(db, RunRow{}) == 1);
  rundb_write_step(db, make_step(1, 1), make_step_samples(1));  // 2 groups of 2
  CHECK(raw_text(path, "SELECT count(*) FROM prompts") == "2");
  CHECK(raw_text(path, "SELECT count(*) FROM samples") == "4");
  // The prompt text appears once per group in the file's tables, not once per sample.
  CHECK(raw_text(path,
                 "SELECT count(*) FROM pragma_table_info('samples') WHERE name IN "
                 "('prompt', 'prompt_ids')") == "0");
  for (const Sample& s : rundb_read_samples(db, SampleQuery{}))
    CHECK(s.prompt_text == make_sample(1, s.group_id, s.sample_idx).prompt_text);

  // A group whose samples disagree on the prompt is refused, and nothing of the step is kept.
  std::vector<Sample> bad = make_step_samples(2);
  bad[1].prompt_text += " (changed)";
  CHECK(error_of([&] {
          rundb_write_step(db, make_step(1, 2), bad);
        }).find("step 2 sample 1 (group 0, index 1): its prompt differs") != std::string::npos);
  CHECK(rundb_read_steps(db, 1).size() == 1);

  // Without blobs: the texts, num_tokens and metrics stay; ids and log-probs read back empty.
  db.token_blobs = false;
  rundb_write_step(db, make_step(1, 2), make_step_samples(2));
  SampleQuery q;
  q.step_min = q.step_max = 2;
  q.with_tokens = true;
  std::vector<Sample> got = rundb_read_samples(db, q);
  REQUIRE(got.size() == 4);
  for (const Sample& s : got) {
    CHECK(s.prompt.empty());
    CHECK(s.completion.empty());
    CHECK(s.rollout_logp.empty());
    CHECK(s.num_tokens == make_sample(2, s.group_id, s.sample_idx).num_tokens);
    CHECK(s.completion_text == make_sample(2, s.group_id, s.sample_idx).completion_text);
  }
  CHECK(raw_text(path,
                 "SELECT count(*) FROM samples WHERE step = 2 AND completion_ids IS NULL "
                 "AND rollout_logps IS NULL") == "4");
  CHECK(raw_text(path, "SELECT count(*) FROM prompts WHERE step = 2 AND prompt_ids IS NULL") ==
        "2");
  // Truncation drops the prompts of the dropped steps too.
  rundb_truncate_after(db, 1, 1);
  CHECK(raw_text(path, "SELECT count(*) FROM prompts") == "2");
}
