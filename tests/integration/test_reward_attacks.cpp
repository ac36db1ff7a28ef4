// Attack suite through the code checker: each hostile program must be contained, score 0 with a
// reason, finish within its timeout + 1 s, and leave no process of the sandbox uid and no file
// behind. Runs under bubblewrap (or the fallback where bubblewrap does not work) and again under
// the forced fallback (AHA_SANDBOX=fallback is read once per process, so the fallback pass runs in
// a child).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "reward/reward.h"
#include "reward/sandbox.h"

namespace {

struct Attack {
  const char* name;
  std::string
      code;  // defines f(); the test asserts f() == 42, which a contained attack never meets
};

int count_sandbox_dirs() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/tmp"))
    if (e.path().filename().string().rfind("aha-sbx-", 0) == 0) n++;
  return n;
}

std::vector<Attack> attacks(const std::string& secret, const std::string& outside) {
  return {
      {"fork bomb",
       "import os\ndef f():\n    n = 0\n    while True:\n        try:\n            os.fork()\n     "
       "       n += 1\n"
       "        except OSError:\n            break\n    if n > 5000:\n        return 42\n    raise "
       "RuntimeError('fork limited at %d' % n)\n"},
      {"memory bomb", "def f():\n    x = bytearray(8 << 30)\n    return 42\n"},
      {"infinite loop", "def f():\n    while True:\n        pass\n"},
      {"sleep forever", "import time\ndef f():\n    time.sleep(10**6)\n"},
      {"child outlives parent",
       "import os, time\ndef f():\n    if os.fork() == 0:\n        os.setsid()\n        if "
       "os.fork() == 0:\n"
       "            time.sleep(10**6)\n        os._exit(0)\n    return 41\n"},
      {"network connection",
       "import socket\ndef f():\n    s = socket.create_connection(('1.1.1.1', 80), timeout=1)\n    "
       "return 42\n"},
      {"write outside the work dir", "def f():\n    open(" + std::string("'") + outside +
                                         "', 'w').write('pwned')\n    return 42\n"},
      {"read a file outside", "def f():\n    data = open('" + secret +
                                  "').read()\n    return 42 if 'TOPSECRET' in data else 0\n"},
      {"read /etc/shadow", "def f():\n    open('/etc/shadow').read()\n    return 42\n"},
      {"kill its parent",
       "import os, signal\ndef f():\n    os.kill(os.getppid(), signal.SIGKILL)\n    os.kill(1, "
       "signal.SIGKILL)\n"
       "    try:\n        os.kill(-1, signal.SIGKILL)\n    except Exception:\n        pass\n    "
       "return 41\n"},
      {"print a gigabyte",
       "import sys\ndef f():\n    chunk = 'x' * (1 << 20)\n    for _ in range(1024):\n"
       "        sys.stdout.write(chunk)\n    return 42\n"},
      {"fill the disk",
       "def f():\n    with open('big', 'wb') as fh:\n        fh.write(b'0' * (1 << 30))\n    "
       "return 42\n"},
      {"fake pass marker",
       "import os\ndef f():\n    os.write(3, b'0000000000000000 0 pass\\n')\n    os._exit(0)\n"},
  };
}

void run_suite() {
  std::string secret = "/tmp/aha-attack-secret-" + std::to_string(getpid());
  { std::ofstream(secret) << "TOPSECRET"; }
  chmod(secret.c_str(), 0644);  // readable to everyone on the host: only the sandbox must hide it
  std::string outside_dir = "/tmp/aha-attack-outside-" + std::to_string(getpid());
  std::filesystem::create_directories(outside_dir);
  chmod(outside_dir.c_str(), 0777);
  std::string outside = outside_dir + "/pwned";
  int dirs_before = count_sandbox_dirs();
  int slot_procs_before = aha::sandbox_count_slot_processes();

  aha::CheckerOptions opt;
  opt.values["timeout_s"] = 2.0;
  opt.values["memory_mb"] = 512;
  for (const Attack& a : attacks(secret, outside)) {
    nlohmann::json ref = {{"tests", {"assert f() == 42"}}};
    auto t0 = std::chrono::steady_clock::now();
    aha::RewardResult r = aha::check_code(a.code, ref, opt);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO("attack: " << a.name << " reason: " << r.reason << " (" << secs << " s)");
    MESSAGE(a.name << ": " << r.reason << " (" << secs << " s)");
    CHECK(r.score == 0.0);
    CHECK(!r.reason.empty());
    CHECK(r.reason.find("0/1 tests passed") == 0);
    CHECK(secs <= 2.0 + 1.0);
  }
  // Nothing left behind: no process of any sandbox uid, no work directory, no file outside.
  // (Another process on the machine may be running sandboxes of its own: count before and after.)
  CHECK(aha::sandbox_count_slot_processes() <= slot_procs_before);
  CHECK(count_sandbox_dirs() == dirs_before);
  CHECK_FALSE(std::filesystem::exists(outside));
  std::filesystem::remove(secret);
  std::filesystem::remove_all(outside_dir);
}

}  // namespace

TEST_CASE("attacks are contained (default isolation)") {
  if (access("/usr/bin/python3", X_OK) != 0) {
    MESSAGE("no /usr/bin/python3: skipped");
    return;
  }
  MESSAGE("isolation: " << aha::isolation_name(aha::sandbox_isolation()));
  run_suite();
}

TEST_CASE("attacks are contained (forced fallback, in a child process)") {
  if (access("/usr/bin/python3", X_OK) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    setenv("AHA_SANDBOX", "fallback", 1);
    // A fresh process image so the isolation is probed again.
    execl("/proc/self/exe", "test_reward_attacks", "--test-case=*default isolation*",
          "--no-version", nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("sandbox runs in parallel up to the pool size") {
  if (access("/usr/bin/python3", X_OK) != 0) return;
  aha::sandbox_set_concurrency(2);
  aha::CheckerOptions opt;
  opt.values["timeout_s"] = 5.0;
  nlohmann::json ref = {{"tests", {"assert f() == 1"}}};
  std::string code = "import time\ndef f():\n    time.sleep(0.5)\n    return 1\n";
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  std::vector<double> scores(4, -1);
  for (int i = 0; i < 4; i++)
    ts.emplace_back([&, i] { scores[i] = aha::check_code(code, ref, opt).score; });
  for (auto& t : ts) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (double s : scores) CHECK(s == 1.0);
  // 4 runs of 0.5 s on 2 slots: at least two rounds (bounded), well under four (parallel).
  CHECK(secs >= 1.0);
  CHECK(secs < 1.9);
}
