// The CLI misused as a new user misuses it: a directory where a file belongs, a malformed JSONL
// line, a flag out of range, an output that already exists, a run directory in use or holding
// another run. Each must fail with exit 1 and a message naming the place (file, line, flag), no
// library text ("[json.exception", "filesystem error:", "stoi", a source file of ours), and
// leave every file that was there as it was, with nothing half-written beside it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace fs = std::filesystem;
using aha::test::run_command;
using aha::test::TempDir;

namespace {

const std::string kAha = AHA_BINARY;
const std::string kBase = std::string(AHA_SOURCE_DIR) + "/experiments/r1-zero/base";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void spit(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// Runs an aha command line that must be refused; checks a plain failure exit (1, or CLI11's
// codes for a flag it refused; no signal), that the message names every
// `place`, and that no library or internal text leaked. Returns the output.
std::string refused(const std::string& args, std::initializer_list<std::string> places) {
  int rc = 0;
  const std::string out = run_command(kAha + " " + args, &rc);
  CHECK_MESSAGE((rc > 0 && rc < 128), args << "\n" << out);
  for (const std::string& p : places) CHECK_MESSAGE(out.find(p) != std::string::npos, p, out);
  for (const char* leak : {"[json.exception", "filesystem error", "stoi", "basic_string",
                           "std::bad_alloc", "_M_", "check failed", ".cpp:"})
    CHECK_MESSAGE(out.find(leak) == std::string::npos, leak, out);
  return out;
}

// Every entry of dir (names only), sorted: what a refused command must leave as it was.
std::string listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) names.push_back(e.path().string());
  std::sort(names.begin(), names.end());
  std::string out;
  for (const std::string& n : names) out += n + "\n";
  return out;
}

}  // namespace

TEST_CASE("a directory where a file belongs is refused naming it") {
  TempDir dir("aha_misuse_dirs");
  const fs::path d = dir.path / "adir";
  fs::create_directories(d);
  const std::string ds = d.string();
  // A config that is a directory once ran the built-in run into runs/adir.
  refused("train " + ds + " --run-dir " + dir.str() + "/run", {ds, "is a directory"});
  CHECK_FALSE(fs::exists(dir.path / "run"));
  refused("tokenize --tokenizer " + kBase + " --input " + ds, {ds, "is a directory"});
  refused("sft --model " + kBase + " --data " + ds + " --out " + dir.str() + "/o",
          {ds, "is a directory"});
  refused("reward tasks --tasks-file " + ds, {ds, "is a directory"});
  refused("init --config " + ds + " --out " + dir.str() + "/m", {ds});
  refused("rollout-worker --connect ipc:///nonexistent --model " + kBase + " --server-key " + ds +
              " --key " + ds,
          {ds, "is a directory"});
  CHECK_FALSE(fs::exists(dir.path / "o"));
  CHECK_FALSE(fs::exists(dir.path / "m"));
}

TEST_CASE("JSON errors name the file and line without the library's exception text") {
  TempDir dir("aha_misuse_json");
  fs::create_directories(dir.path);
  const fs::path data = dir.path / "data.jsonl";
  spit(data,
       "{\"prompt\":\"Mod 10: 1a+1<think>\",\"completion\":\"</think><answer>2</answer>\"}\n"
       "{\"prompt\":\"x\"\n"
       "{\"prompt\":\"a\",\"completion\":\"b\"}\n");
  refused("sft --model " + kBase + " --data " + data.string() + " --out " + dir.str() + "/o",
          {data.string() + ":2"});
  CHECK_FALSE(fs::exists(dir.path / "o"));
  const fs::path cfg = dir.path / "config.json";
  spit(cfg, "{\"hidden_size\": 64,\n");
  refused("init --config " + cfg.string() + " --out " + dir.str() + "/m", {cfg.string()});
  refused("inspect " + cfg.string(), {cfg.string(), "line"});
  spit(dir.path / "t.jsonl", "{\"text\":\"ab\"}\n{bad\n");
  refused("tokenize --tokenizer " + kBase + " --input " + dir.str() + "/t.jsonl",
          {dir.str() + "/t.jsonl:2"});
}

TEST_CASE("numeric flags out of range are refused naming the flag, before any work") {
  TempDir dir("aha_misuse_flags");
  fs::create_directories(dir.path);
  const std::string gen = "generate --model " + kBase + " --prompt hi ";
  refused(gen + "-n 0", {"-n", "0"});
  refused(gen + "-n -1", {"-n"});
  refused(gen + "--temperature nan", {"--temperature", "nan"});
  refused(gen + "--top-p 2", {"--top-p"});
  refused(gen + "--max-new-tokens 0", {"--max-new-tokens"});
  refused(gen + "--max-new-tokens 100000000", {"--max-new-tokens", "1048576"});
  refused(gen + "--max-new-tokens 300", {"--max-new-tokens", "positions"});  // the model has 256
  refused("generate --model " + kBase + " --prompt " + std::string(300, 'a'), {"--prompt", "256"});
  const std::string eval = "eval --model " + kBase + " --task mod10_chain ";
  refused(eval + "--limit -5", {"--limit"});
  refused(eval + "-k 0", {"-k"});
  refused(eval + "--max-new-tokens 300", {"--max-new-tokens", "positions"});
  const fs::path data = dir.path / "d.jsonl";
  spit(data, "{\"prompt\":\"a\",\"completion\":\"b\"}\n");
  const std::string sft =
      "sft --model " + kBase + " --data " + data.string() + " --out " + dir.str() + "/o ";
  refused(sft + "--batch 0", {"--batch"});  // was a division by zero (SIGFPE)
  refused(sft + "--lr nan", {"--lr"});
  refused(sft + "--epochs 0", {"--epochs"});
  CHECK_FALSE(fs::exists(dir.path / "o"));
  refused("convert --model " + kBase + " --out " + dir.str() + "/c --shard-mb -1", {"--shard-mb"});
  refused("init --out " + dir.str() + "/c --dtype FP64", {"--dtype"});
  CHECK_FALSE(fs::exists(dir.path / "c"));
  refused("train --replay " + dir.str() + " --steps a:b", {"--steps a:b"});
  refused("logs " + dir.str() + " samples --limit -1", {"--limit"});
  // Benchmarks: "--batch 0" tripped a model assertion, "--seq-len -1" a std::vector length
  // error, "--config nope" timed nothing and exited 0.
  refused("bench model --config tiny --batch 0", {"--batch"});
  refused("bench model --config tiny --seq-len -1", {"--seq-len"});
  refused("bench model --config nope", {"--config", "nope"});
  refused("bench learner --sequences 0", {"--sequences"});
  refused("bench reward --programs -1", {"--programs"});
  // An endpoint typo fails as parsed: "--listen garbage" once wrote a run directory and its
  // initial checkpoint before the bind failed, and "tcp://host:x" said only "Invalid argument".
  refused("train --listen garbage --run-dir " + dir.str() + "/run", {"--listen", "garbage"});
  CHECK_FALSE(fs::exists(dir.path / "run"));
  refused("reward-worker --connect tcp://nohost:x", {"--connect", "tcp://nohost:x"});
  refused("rollout-worker --model " + kBase + " --connect tcp://*:70000", {"--connect", "70000"});
}

TEST_CASE("outputs that exist are never clobbered nor left half-written") {
  TempDir dir("aha_misuse_outputs");
  fs::create_directories(dir.path);
  // A model directory: init, sft and convert refuse it (sft onto its own --model overwrote it).
  int rc = 0;
  const std::string m = dir.str() + "/m";
  std::string out = run_command(kAha + " init --out " + m, &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  const std::string weights = slurp(m + "/model.safetensors");
  refused("init --out " + m + " --seed 3", {m, "not empty"});
  const fs::path data = dir.path / "d.jsonl";
  spit(data, "{\"prompt\":\"a\",\"completion\":\"b\"}\n");
  refused("sft --model " + m + " --data " + data.string() + " --out " + m, {"--out", m});
  refused("convert --model " + m + " --out " + m, {m, "not empty"});
  CHECK(slurp(m + "/model.safetensors") == weights);
  // A file where the output directory goes: named, with no "filesystem error" text.
  spit(dir.path / "file", "precious");
  refused("init --out " + dir.str() + "/file", {dir.str() + "/file", "not a directory"});
  CHECK(slurp(dir.path / "file") == "precious");
  // A bad row stops tokenize: the earlier --output stays whole, no temporary beside it.
  spit(dir.path / "in.jsonl", "{\"text\":\"ab\"}\n{bad\n");
  spit(dir.path / "out.jsonl", "precious");
  refused("tokenize --tokenizer " + m + " --input " + dir.str() + "/in.jsonl --output " +
              dir.str() + "/out.jsonl",
          {"in.jsonl:2"});
  CHECK(slurp(dir.path / "out.jsonl") == "precious");
  // A key pair in use is never replaced by keygen.
  spit(dir.path / "w.key", "precious");
  refused("keygen --out " + dir.str() + "/w.key", {dir.str() + "/w.key", "exists"});
  CHECK(slurp(dir.path / "w.key") == "precious");
  CHECK_FALSE(fs::exists(dir.path / "w.key.pub"));
  // A good tokenize run still writes its output (and only it).
  spit(dir.path / "in.jsonl", "{\"text\":\"ab\"}\n");
  out = run_command(kAha + " tokenize --tokenizer " + m + " --input " + dir.str() +
                        "/in.jsonl --output " + dir.str() + "/out.jsonl",
                    &rc);
  CHECK_MESSAGE(rc == 0, out);
  CHECK(slurp(dir.path / "out.jsonl").find("\"ids\"") != std::string::npos);
  // An output that is not a regular file (a FIFO here; /dev/null alike) is written through, never
  // renamed over: the pipe is still a pipe, and its reader got the rows.
  const std::string fifo = dir.str() + "/pipe";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  out = run_command("(timeout 10 cat " + fifo + " > " + dir.str() + "/got.txt &) ; " + kAha +
                        " tokenize --tokenizer " + m + " --input " + dir.str() +
                        "/in.jsonl --output " + fifo + "; sleep 0.2",
                    &rc);
  CHECK_MESSAGE(rc == 0, out);
  CHECK(fs::is_fifo(fifo));
  CHECK(slurp(dir.path / "got.txt").find("\"ids\"") != std::string::npos);
  for (const auto& e : fs::directory_iterator(dir.path))
    CHECK_MESSAGE(e.path().filename().string().find(".tmp") == std::string::npos, e.path());
}

TEST_CASE("a run directory in use or holding another run is refused and left as it was") {
  TempDir dir("aha_misuse_rundir");
  const fs::path run = dir.path / "run";
  fs::create_directories(run);
  const std::string train = "train --set run.steps=1 --set run.progress=false --run-dir ";
  // Another trainer holds the lock: refused at once, naming the directory.
  {
    const int fd = open((run / "train.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
    refused(train + run.string(), {run.string(), "in use"});
    close(fd);
  }
  CHECK_FALSE(fs::exists(run / "config.toml"));
  // A directory that already holds a run (here one written by hand) is not started over.
  spit(run / "rollouts.db", "someone's database");
  spit(run / "config.toml", "[run]\nsteps = 7\n");
  const std::string before = listing(run);
  refused(train + run.string(), {run.string(), "--resume"});
  CHECK(listing(run) == before);
  CHECK(slurp(run / "config.toml") == "[run]\nsteps = 7\n");
  CHECK(slurp(run / "rollouts.db") == "someone's database");
  // aha logs and aha report read: a rollouts.db that is not SQLite, or empty, stays as it was.
  const fs::path other = dir.path / "other";
  fs::create_directories(other);
  spit(other / "rollouts.db", "");
  refused("logs " + other.string() + " steps", {other.string() + "/rollouts.db", "empty"});
  refused("report " + other.string(), {other.string() + "/rollouts.db"});
  CHECK(fs::file_size(other / "rollouts.db") == 0);
  spit(other / "rollouts.db", "someone's database");
  refused("logs " + other.string() + " steps", {other.string() + "/rollouts.db", "not a database"});
  CHECK(listing(other) == other.string() + "/rollouts.db\n");
  // --resume of what is not a run directory says so.
  refused("train --resume " + dir.str() + "/nope", {dir.str() + "/nope", "no such run directory"});
  refused("train --resume " + dir.str(), {dir.str(), "not a run directory"});
  // What --resume or --replay would ignore is refused, not dropped.
  spit(dir.path / "my.toml", "[run]\nsteps = 9\n");
  refused("train " + dir.str() + "/my.toml --resume " + run.string(),
          {dir.str() + "/my.toml", "--resume uses the run's own config.toml"});
  refused("train " + dir.str() + "/my.toml --replay " + run.string(),
          {dir.str() + "/my.toml", "--replay uses the run's own config.toml"});
  refused("train --resume " + run.string() + " --replay " + run.string(),
          {"--resume and --replay"});
  refused("train --resume " + run.string() + " --run-dir " + dir.str() + "/elsewhere",
          {"--run-dir " + dir.str() + "/elsewhere"});
  // A --run-dir that is a file.
  spit(dir.path / "f", "x");
  refused(train + dir.str() + "/f", {dir.str() + "/f", "not a directory"});
}

TEST_CASE("a task's rows the model cannot take are refused naming the row, before any work") {
  TempDir dir("aha_misuse_rows");
  fs::create_directories(dir.path);
  // The base model has 256 positions: questions of 300 and 400 characters do not fit.
  spit(dir.path / "long.jsonl", "{\"q\": \"" + std::string(300, '1') + "+1\", \"a\": \"2\"}\n");
  spit(dir.path / "mixed.jsonl", "{\"q\": \"3+4\", \"a\": \"7\"}\n{\"q\": \"" +
                                     std::string(400, '2') + "+1\", \"a\": \"3\"}\n");
  spit(dir.path / "null.jsonl", "{\"q\": \"1+1\", \"a\": \"2\"}\n{\"q\": \"2+2\", \"a\": null}\n");
  spit(dir.path / "t.toml",
       "[tasks.long]\ndata.eval = \"long.jsonl\"\ndata.train = \"mixed.jsonl\"\n"
       "data.fields = { question = \"q\", answer = \"a\" }\ntemplate = \"{question}=\"\n"
       "[[tasks.long.reward]]\nname = \"correct\"\nchecker = \"math\"\n"
       "[tasks.nul]\ndata.eval = \"null.jsonl\"\n"
       "data.fields = { question = \"q\", answer = \"a\" }\ntemplate = \"{question}=\"\n"
       "[[tasks.nul.reward]]\nname = \"correct\"\nchecker = \"math\"\n");
  const std::string tasks = " --tasks-file " + dir.str() + "/t.toml";
  refused("eval --model " + kBase + " --task long" + tasks,
          {"task long, prompt long.jsonl:1", "over the model's 256 positions"});
  // A gold answer that is null fails scoring: the message names the row.
  refused("eval --model " + kBase + " --task nul -k 1" + tasks,
          {"task nul, prompt null.jsonl:2", "holds no answer"});
  // Training counts them and names the longest before it starts (no run directory is left).
  refused("train --run-dir " + dir.str() + "/run --set tasks.names='[\"long\"]'" +
              " --set tasks.tasks_file='\"" + dir.str() + "/t.toml\"'",
          {"task long: 2 of 3 prompts", "rollout.max_new_tokens 48", "256 positions",
           "prompt mixed.jsonl:2"});
  CHECK_FALSE(fs::exists(dir.path / "run"));
}

TEST_CASE("a run refused before it starts leaves no run directory behind") {
  TempDir dir("aha_misuse_newrun");
  fs::create_directories(dir.path);
  const std::string train = "train --set run.steps=1 --set run.progress=false";
  // A model path that is no model: neither the run directory nor its parents stay.
  refused(train + " --run-dir " + dir.str() + "/runs/a --set model.path=" + dir.str() + "/nope",
          {dir.str() + "/nope"});
  CHECK_FALSE(fs::exists(dir.path / "runs"));
  // An empty run directory given by the user stays, empty.
  fs::create_directories(dir.path / "b");
  refused(train + " --run-dir " + dir.str() + "/b --set tasks.names='[\"nope\"]'", {"nope"});
  CHECK(fs::is_directory(dir.path / "b"));
  CHECK(fs::is_empty(dir.path / "b"));
}
