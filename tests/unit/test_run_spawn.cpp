// spawn_process: worker processes start from a threaded trainer without anything running in the
// child before exec, and a program that cannot start is an error (never a pid of -1).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "cli/run/spawn.h"

namespace {

int wait_exit(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("spawn_process passes the arguments and returns the child's pid") {
  pid_t pid = aha::spawn_process(
      {"/bin/sh", "-c", "test \"$1\" = 'two words' && exit 7", "sh", "two words"});
  CHECK(pid > 0);
  CHECK(wait_exit(pid) == 7);
}

TEST_CASE("a program that cannot start is an error naming it, not a pid") {
  const std::string missing = "/nonexistent/aha-no-such-program";
  CHECK_THROWS_WITH_AS(aha::spawn_process({missing, "--x"}),
                       doctest::Contains("cannot start /nonexistent/aha-no-such-program"),
                       std::runtime_error);
  CHECK_THROWS_AS(aha::spawn_process({}), std::runtime_error);
}

TEST_CASE("spawning while other threads allocate never deadlocks the child") {
  // With fork(), a child that allocates may find the allocator's lock held by a thread that does
  // not exist in it and hang forever; posix_spawn runs nothing of ours in the child.
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 4; t++)
    busy.emplace_back([&stop] {
      while (!stop) {
        std::vector<std::string> v;
        for (int i = 0; i < 64; i++) v.push_back(std::string(100 + i, 'x'));
      }
    });
  int ok = 0;
  for (int i = 0; i < 50; i++) ok += wait_exit(aha::spawn_process({"/bin/true"})) == 0;
  stop = true;
  for (std::thread& t : busy) t.join();
  CHECK(ok == 50);
}
