// Reward workers as processes (`aha reward-worker` over ipc://) that fail mid-step: one is killed
// while it holds a job, which is re-issued to the other; one is declared dead (stopped past the
// job timeout), comes back and answers late: its stale answer is dropped, not counted twice.
// Every job is answered once, with the scores the checkers give in this process.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cli/run/reward_service.h"
#include "tasks/task.h"
#include "tests/test_util.h"

namespace {

const std::string kTasks = std::string(AHA_FIXTURES_DIR) + "/reward/user_tasks.toml";

pid_t spawn_reward_worker(const std::string& endpoint, const std::string& id) {
  pid_t pid = fork();
  if (pid == 0) {
    execl(AHA_BINARY, AHA_BINARY, "reward-worker", "--connect", endpoint.c_str(), "--tasks-file",
          kTasks.c_str(), "--id", id.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// 24 groups of 4 completions of the toy task, some right, some wrong, some unformatted.
std::vector<aha::ScoreJob> make_jobs(int round) {
  std::vector<aha::ScoreJob> jobs;
  for (int j = 0; j < 24; j++) {
    aha::ScoreJob job;
    job.task = "toy";
    const int answer = 10 * round + j;
    job.reference = {{"question", "q" + std::to_string(j)}, {"answer", std::to_string(answer)}};
    for (int g = 0; g < 4; g++) {
      const int said = g % 2 ? answer : answer + g;
      job.completions.push_back(g == 3 ? std::to_string(said)
                                       : "<answer>" + std::to_string(said) + "</answer>");
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// Each job answered once, with the scores computed here.
void check_scores(const std::vector<aha::ScoreJob>& jobs,
                  const std::vector<std::vector<aha::Scored>>& out) {
  const aha::TaskSpec spec = aha::find_task_spec("toy", kTasks);
  REQUIRE(out.size() == jobs.size());
  for (size_t j = 0; j < jobs.size(); j++) {
    REQUIRE(out[j].size() == jobs[j].completions.size());
    for (size_t g = 0; g < out[j].size(); g++) {
      aha::RewardResult want = aha::task_score(spec, jobs[j].completions[g], jobs[j].reference);
      CHECK(out[j][g].result.score == want.score);
      CHECK(out[j][g].result.reason == want.reason);
    }
  }
}

void reap(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

}  // namespace

TEST_CASE(
    "a reward worker killed mid-step: its job is re-issued; a returning one is not counted twice") {
  aha::test::TempDir dir("aha-reward-faults");
  std::filesystem::create_directories(dir.path);
  const std::string endpoint = "ipc://" + dir.str() + "/reward.sock";
  zmq::context_t ctx;
  // A job a worker holds for 1.5 s without answering is re-issued.
  aha::RewardServiceOptions so;
  so.endpoint = endpoint;
  so.context = &ctx;
  so.job_timeout_ms = 1500;
  so.tasks_file = kTasks;  // the toy task's reward range
  aha::RewardServicePtr svc = aha::reward_service_create(so);
  pid_t a = spawn_reward_worker(endpoint, "reward-a");
  pid_t b = spawn_reward_worker(endpoint, "reward-b");
  REQUIRE(aha::reward_service_wait_workers(*svc, 2, 30000));

  // Round 1: a is frozen, so the job it is handed stays with it; then it is killed, mid-step.
  REQUIRE(kill(a, SIGSTOP) == 0);
  std::thread killer([a] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    kill(a, SIGKILL);
  });
  std::vector<aha::ScoreJob> jobs = make_jobs(1);
  std::vector<std::vector<aha::Scored>> out;
  auto t0 = std::chrono::steady_clock::now();
  std::string error;
  try {
    aha::reward_service_score(*svc, jobs, out);
  } catch (const std::exception& e) {
    error = e.what();
  }
  const double s1 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  killer.join();
  if (!error.empty()) {
    reap(a);
    reap(b);
    FAIL(error);
  }
  int status = 0;
  REQUIRE(waitpid(a, &status, 0) == a);
  CHECK(WIFSIGNALED(status));
  check_scores(jobs, out);
  // It waited for the timeout on the killed worker's job, so the job was held and re-issued.
  CHECK(s1 >= 1.4);
  MESSAGE("round 1 (one worker killed holding a job): " << s1 << " s");

  // Round 2: c joins; b freezes past the timeout (declared dead), then comes back.
  pid_t c = spawn_reward_worker(endpoint, "reward-c");
  REQUIRE(aha::reward_service_wait_workers(*svc, 2, 30000));
  REQUIRE(kill(b, SIGSTOP) == 0);
  jobs = make_jobs(2);
  aha::reward_service_score(*svc, jobs, out);
  check_scores(jobs, out);
  REQUIRE(kill(b, SIGCONT) == 0);
  // b answers its stale job and heart-beats again: the next round sees the stale answer first.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  jobs = make_jobs(3);
  aha::reward_service_score(*svc, jobs, out);
  check_scores(jobs, out);

  aha::reward_service_shutdown(*svc);
  reap(b);
  reap(c);
}
