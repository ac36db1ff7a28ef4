// `aha init` as a user runs it on a config.json of their own: the result must be usable by
// `aha generate` (a tokenizer goes with it), and a tokenizer that does not fit is refused. A run's
// database row records the git commit the binary was built from.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/test_util.h"

namespace fs = std::filesystem;
using aha::test::run_command;
using aha::test::TempDir;

namespace {

// Writes the tiny config with another vocab_size next to dir, returns its path.
std::string config_with_vocab(const TempDir& dir, int vocab) {
  int rc = 0;
  const std::string base = dir.str() + "/base";
  if (!fs::exists(base)) {  // init never overwrites a model directory
    std::string out = run_command(std::string(AHA_BINARY) + " init --out " + base, &rc);
    REQUIRE_MESSAGE(rc == 0, out);
  }
  std::ifstream in(base + "/config.json");
  nlohmann::json cfg = nlohmann::json::parse(in);
  cfg["vocab_size"] = vocab;
  cfg.erase("bos_token_id");
  cfg.erase("eos_token_id");
  const std::string path = dir.str() + "/config_" + std::to_string(vocab) + ".json";
  std::ofstream(path) << cfg.dump(2);
  return path;
}

}  // namespace

TEST_CASE("init from a config.json writes a tokenizer that generate can use") {
  TempDir dir("aha_init_cli");
  fs::create_directories(dir.path);
  const std::string cfg = config_with_vocab(dir, 160);
  int rc = 0;
  std::string out = run_command(
      std::string(AHA_BINARY) + " init --config " + cfg + " --out " + dir.str() + "/m", &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(fs::exists(dir.path / "m" / "tokenizer.json"));
  out = run_command(std::string(AHA_BINARY) + " generate --model " + dir.str() +
                        "/m --prompt '12+3=' -n 2 --max-new-tokens 3",
                    &rc);
  CHECK_MESSAGE(rc == 0, out);
}

TEST_CASE("init --tokenizer copies a tokenizer and refuses one that does not fit the vocabulary") {
  TempDir dir("aha_init_tok");
  fs::create_directories(dir.path);
  const std::string small = config_with_vocab(dir, 64);
  int rc = 0;
  // Without --tokenizer a vocabulary too small for the built-in one gets none, and says so.
  std::string out = run_command(
      std::string(AHA_BINARY) + " init --config " + small + " --out " + dir.str() + "/s", &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("--tokenizer") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "s" / "tokenizer.json"));
  // The built-in tokenizer (ids up to 102) does not fit 64 ids: refused, naming both sizes.
  out = run_command(std::string(AHA_BINARY) + " init --config " + small + " --tokenizer " +
                        dir.str() + "/base --out " + dir.str() + "/t",
                    &rc);
  CHECK(rc != 0);
  CHECK(out.find("102") != std::string::npos);
  CHECK(out.find("64") != std::string::npos);
  // A fitting one is copied byte for byte.
  const std::string big = config_with_vocab(dir, 300);
  out = run_command(std::string(AHA_BINARY) + " init --config " + big + " --tokenizer " +
                        dir.str() + "/base --out " + dir.str() + "/u",
                    &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  std::ifstream a(dir.str() + "/base/tokenizer.json"), b(dir.str() + "/u/tokenizer.json");
  CHECK(std::string(std::istreambuf_iterator<char>(a), {}) ==
        std::string(std::istreambuf_iterator<char>(b), {}));
}

TEST_CASE("a run's database row carries the git commit of the build") {
  int rc = 0;
  std::string head = run_command("git -C " + std::string(AHA_SOURCE_DIR) + " rev-parse HEAD", &rc);
  if (rc != 0) {
    MESSAGE("source is not a git checkout: nothing to compare");
    return;
  }
  head = head.substr(0, 40);
  TempDir dir("aha_init_git");
  const std::string tasks = std::string(AHA_SOURCE_DIR) + "/experiments/base-arith/tasks.toml";
  std::string out = run_command(
      std::string(AHA_BINARY) + " train --run-dir " + dir.str() + aha::test::tiny_add_args() +
          " --set run.steps=1" + " --set rollout.prompts_per_step=2 --set rollout.group_size=2" +
          " --set tasks.eval_prompts=2 --set tasks.eval_samples=1 --set run.eval_every=0",
      &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir.str() + "/rollouts.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT git_commit FROM runs", -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  const std::string commit = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  // The binary under test was built from this tree: same commit (maybe marked -dirty).
  CHECK(commit.substr(0, 40) == head);
  out = run_command(std::string(AHA_BINARY) + " report " + dir.str(), &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  std::ifstream html(dir.str() + "/report.html");
  const std::string page(std::istreambuf_iterator<char>(html), {});
  CHECK(page.find(head.substr(0, 12)) != std::string::npos);
}
