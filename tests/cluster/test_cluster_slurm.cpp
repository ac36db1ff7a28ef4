// The data-parallel learner under a real Slurm (tests/cluster/slurm_fixture.sh: slurmctld and
// slurmd on this machine). An srun step of 2 learner ranks matches 1 rank after 5 steps; then
// experiments/slurm/train.sbatch runs 2 learner ranks, 1 rollout worker and 1 reward worker, one
// learner rank is killed mid-run, and the job resumes from the last checkpoint and finishes with
// every step once in the database and the database intact.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "learner/collective.h"
#include "tests/cluster/cluster_util.h"

namespace fs = std::filesystem;
using aha::test::run_command;

namespace {

const std::string kFixture = std::string(AHA_SOURCE_DIR) + "/tests/cluster/slurm_fixture.sh";

// slurmctld + slurmd for the test's lifetime.
struct Slurm {
  aha::test::TempDir dir{"aha-slurm"};
  std::string conf;  // DIR/slurm.conf
  std::string env;   // "SLURM_CONF=... " to prefix commands with
  Slurm() {
    int rc = 0;
    std::string out = run_command("bash " + kFixture + " start " + dir.str(), &rc);
    if (rc == 77) {
      std::fprintf(stderr, "skipped: %s\n", out.c_str());
      std::exit(77);
    }
    REQUIRE_MESSAGE(rc == 0, out);
    conf = dir.str() + "/slurm.conf";
    env = "SLURM_CONF=" + conf + " ";
  }
  ~Slurm() {
    int rc = 0;
    run_command("bash " + kFixture + " stop " + dir.str(), &rc);
  }
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The pid of the learner rank `rank` of Slurm job `job` of the Slurm configured by `conf` (its
// environment names all three), or 0.
pid_t find_learner_rank(const std::string& conf, const std::string& job, int rank) {
  for (const fs::directory_entry& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = slurp(e.path().string() + "/cmdline"),
                env = slurp(e.path().string() + "/environ");
    if (cmd.find(std::string("train") + '\0') == std::string::npos) continue;
    if (env.find(std::string("SLURM_JOB_ID=") + job + '\0') == std::string::npos) continue;
    if (env.find("SLURM_CONF=" + conf + '\0') == std::string::npos) continue;
    if (env.find("SLURM_PROCID=" + std::to_string(rank) + '\0') == std::string::npos) continue;
    if (env.find(std::string("SLURM_STEP_NUM_TASKS=2") + '\0') == std::string::npos) continue;
    return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

std::string query_one(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    out = t ? reinterpret_cast<const char*>(t) : "";
  }
  sqlite3_finalize(st);
  return out;
}

}  // namespace

TEST_CASE("Slurm: 2 learner ranks in an srun step match 1 rank; a killed rank is resumed") {
  if (!aha::collective_have_mpi()) {
    std::fprintf(stderr, "skipped: built without MPI\n");
    std::exit(77);
  }
  Slurm slurm;
  aha::test::TempDir dir("aha-slurm-runs");
  const std::string aha = AHA_BINARY;
  int rc = 0;

  // 1 rank, then 2 ranks in one srun step (PMIx gives MPI its rank and size).
  const std::string args = aha::test::small_run_args(5);
  std::string out = run_command(aha + " train --run-dir " + dir.str() + "/one" + args, &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  out = run_command(slurm.env + "srun --mpi=pmix --overcommit -n 2 " + aha + " train --run-dir " +
                        dir.str() + "/two" + args,
                    &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("data-parallel learner: 2 ranks (MPI, launched by slurm)") != std::string::npos);
  aha::test::check_same_run(dir.str() + "/one", dir.str() + "/two", 5);

  // The sbatch script: 2 learner ranks, 1 rollout worker, 1 reward worker; kill rank 1 mid-run.
  const int steps = 16;
  const std::string run_dir = dir.str() + "/job";
  const int port = aha::test::free_tcp_port();
  out = run_command(slurm.env + "AHA=" + aha + " AHA_PORT=" + std::to_string(port) +
                        " AHA_SETS='--set rollout.prompts_per_step=4 --set rollout.group_size=8"
                        " --set tasks.eval_prompts=4 --set tasks.eval_samples=2"
                        " --set run.eval_every=0 --set run.checkpoint_every=2 --set run.steps=" +
                        std::to_string(steps) + "' sbatch --parsable --overcommit --ntasks=4" +
                        " --chdir=" + AHA_SOURCE_DIR + " --output=" + dir.str() + "/job.out " +
                        AHA_SOURCE_DIR + "/experiments/slurm/train.sbatch " + run_dir,
                    &rc);
  REQUIRE_MESSAGE(rc == 0, out);
  const std::string job = out.substr(0, out.find_first_of(";\n"));
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  auto waited = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  // After the first checkpoint, before the end.
  pid_t victim = 0;
  while (waited() < 90) {
    if (fs::exists(run_dir + "/checkpoints/latest") &&
        (victim = find_learner_rank(slurm.conf, job, 1)))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE_MESSAGE(victim > 0, slurp(dir.str() + "/job.out"));
  REQUIRE(kill(victim, SIGKILL) == 0);
  std::string state;
  while (waited() < 150) {
    state = run_command(slurm.env + "scontrol show job -o " + job, &rc);
    if (state.find("JobState=COMPLETED") != std::string::npos ||
        state.find("JobState=FAILED") != std::string::npos ||
        state.find("JobState=CANCELLED") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const std::string log = slurp(dir.str() + "/job.out");
  const std::string why = state + "\n" + log;
  REQUIRE_MESSAGE(state.find("JobState=COMPLETED") != std::string::npos, why);
  CHECK_MESSAGE(log.find("resuming from the last checkpoint") != std::string::npos, log);
  CHECK_MESSAGE(log.find("aha-slurm: finished") != std::string::npos, log);
  std::printf("job %s: rank 1 (pid %d) killed; finished after %.1f s\n", job.c_str(), victim,
              waited());
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("aha-slurm", 0) == 0 || line.rfind("resuming", 0) == 0 ||
        line.find("rank") != std::string::npos)
      std::printf("  %s\n", line.c_str());

  // Every step exactly once, every sample of each, and an intact database.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((run_dir + "/rollouts.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
          SQLITE_OK);
  CHECK(query_one(db, "PRAGMA integrity_check") == "ok");
  CHECK(query_one(db, "SELECT count(*) FROM runs") == "1");
  CHECK(query_one(db,
                  "SELECT count(*) || ' ' || count(DISTINCT step) || ' ' || min(step) || ' ' "
                  "|| max(step) FROM steps") ==
        std::to_string(steps) + " " + std::to_string(steps) + " 1 " + std::to_string(steps));
  CHECK(query_one(db, "SELECT count(*) FROM samples") == std::to_string(steps * 4 * 8));
  CHECK(query_one(db,
                  "SELECT count(*) FROM (SELECT step FROM samples GROUP BY step "
                  "HAVING count(*) != 32)") == "0");
  CHECK(query_one(db, "SELECT max(json_extract(metrics, '$.learner_ranks')) FROM steps") == "2");
  sqlite3_close(db);
}
