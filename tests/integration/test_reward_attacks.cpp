// Attack suite through the code checker. Two kinds of hostile program:
// - against the sandbox (fork and memory bombs, threads, disk (/tmp, and /, /etc, /dev outside
//   it), network, files outside, killing the scorer, processes left behind, namespaces of its
//   own by unshare or clone, kernel keyrings and io_uring, memory outside RLIMIT_AS in System V
//   shared memory or memfds, the host-wide AIO contexts, the host's stdin file reopened for
//   writing): each must be
//   contained, score 0 with a reason, and leave no process and no file behind;
// - against the verdict (wrong programs, each returning a constant, that try to make the tests
//   pass anyway: redefining exec, swallowing AssertionError, objects equal to everything,
//   re-running under python -O, stealing the pass marker, atexit + SystemExit, shadowing the
//   builtins the tests call, a forged name list carrying __builtins__, an object standing in for
//   a module the tests use, StopIteration ending a test's map() early, builtins shadowed next to
//   a function under test named like a builtin; C++: NDEBUG,
//   #define main/assert, static initialisers that exit, interposed __assert_fail, signal
//   handlers, forged report lines): each must score 0, while the honest version of the same
//   program scores 1.
// Runs under the default isolation and again under the forced fallback (AHA_SANDBOX=fallback is
// read once per process, so that pass runs in a child). test_reward_attacks_nobody runs this
// binary again as a non-root user.
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
#include "tests/test_util.h"

namespace {

// The machine running the suite may be loaded (CI: 2 cores shared with a parallel build, or
// up to 8 helpers): wall-clock bounds here only catch hangs, with a wide margin. Speed is
// measured by `aha bench reward`, not asserted in a test.
constexpr double kSlack = 10.0;

// Exits 77 (skipped) without python3 or g++ (the suite attacks both checkers; a machine that
// built aha has g++) or without a sandbox that holds (then code is refused, which the last test
// case checks through aha reward score).
void require_python() {
  if (access("/usr/bin/python3", X_OK) != 0 || access("/usr/bin/g++", X_OK) != 0) {
    std::fprintf(stderr, "skipped: no /usr/bin/python3 or no /usr/bin/g++\n");
    std::exit(77);
  }
  if (aha::sandbox_isolation() == aha::Isolation::kNone) {
    std::fprintf(stderr, "skipped: no sandbox that holds here\n");
    std::exit(77);
  }
}

struct Attack {
  const char* name;
  std::string code;
};

int count_sandbox_dirs() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/tmp"))
    if (e.path().filename().string().rfind("aha-sbx-", 0) == 0) n++;
  return n;
}

// Processes on the host named like the leftover attack names its daemon.
int count_leftovers() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream f(e.path() / "comm");
    std::string comm;
    if (f >> comm && comm == "ahaleftover") n++;
  }
  return n;
}

// Each defines f(); the test asserts f() == 42, which a contained attack never meets.
std::vector<Attack> sandbox_attacks(const std::string& secret, const std::string& outside,
                                    const std::string& host_tmp) {
  return {
      {"fork bomb",
       "import os\ndef f():\n    n = 0\n    while True:\n        try:\n            os.fork()\n"
       "            n += 1\n        except OSError:\n            break\n    if n > 5000:\n"
       "        return 42\n    raise RuntimeError('fork limited at %d' % n)\n"},
      {"memory bomb", "def f():\n    x = bytearray(8 << 30)\n    return 42\n"},
      {"memory summed over processes",
       "import os\ndef f():\n    kids = []\n    for i in range(6):\n        r, w = os.pipe()\n"
       "        pid = os.fork()\n        if pid == 0:\n            b = bytearray(150 << 20)\n"
       "            for j in range(0, len(b), 4096): b[j] = 1\n            os.write(w, b'k')\n"
       "            import time; time.sleep(30)\n            os._exit(0)\n"
       "        kids.append(r)\n    got = sum(len(os.read(r, 1)) for r in kids)\n"
       "    return 42 if got == 6 else got\n"},
      {"many threads",
       "import threading, time\ndef f():\n    n = 0\n    for _ in range(300):\n        try:\n"
       "            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
       "            n += 1\n        except RuntimeError:\n            break\n"
       "    return 42 if n >= 200 else n\n"},
      {"infinite loop", "def f():\n    while True:\n        pass\n"},
      {"sleep forever", "import time\ndef f():\n    time.sleep(10**6)\n"},
      {"child outlives parent",
       "import os, time\ndef f():\n    if os.fork() == 0:\n        os.setsid()\n"
       "        if os.fork() == 0:\n            open('/proc/self/comm', 'w').write('ahaleftover')\n"
       "            time.sleep(10**6)\n        os._exit(0)\n    return 41\n"},
      {"network connection",
       "import socket\ndef f():\n    s = socket.create_connection(('1.1.1.1', 80), timeout=1)\n"
       "    return 42\n"},
      {"write outside the work dir",
       "def f():\n    open('" + outside + "', 'w').write('pwned')\n    return 42\n"},
      {"write the real /tmp",  // lands in the run's own /tmp; the host's must not have it
       "def f():\n    open('" + host_tmp + "', 'w').write('pwned')\n    return 41\n"},
      {"read a file outside", "def f():\n    data = open('" + secret +
                                  "').read()\n    return 42 if 'TOPSECRET' in data else 0\n"},
      {"read /etc/shadow", "def f():\n    open('/etc/shadow').read()\n    return 42\n"},
      {"kill its parent and everything",
       "import os, signal\ndef f():\n    for p in [os.getppid(), 1]:\n        try:\n"
       "            os.kill(p, signal.SIGKILL)\n        except Exception:\n            pass\n"
       "    for p in range(2, 40000):\n        if p != os.getpid():\n            try:\n"
       "                os.kill(p, signal.SIGKILL)\n            except Exception:\n"
       "                pass\n    try:\n        os.kill(-1, signal.SIGKILL)\n"
       "    except Exception:\n        pass\n    return 41\n"},
      {"print a gigabyte",
       "import sys\ndef f():\n    chunk = 'x' * (1 << 20)\n    for _ in range(1024):\n"
       "        sys.stdout.write(chunk)\n    return 42\n"},
      {"fill the disk",
       "def f():\n    with open('big', 'wb') as fh:\n        fh.write(b'0' * (1 << 30))\n"
       "    return 42\n"},
      {"fill the disk with many files",
       "def f():\n    for i in range(40):\n        with open('/tmp/big%d' % i, 'wb') as fh:\n"
       "            fh.write(b'0' * (8 << 20))\n    return 42\n"},
      {"fill /, /etc, /dev outside the sized /tmp",
       "def f():\n    n = 0\n    for d in ['/', '/etc', '/dev', '/dev/shm']:\n"
       "        for i in range(5):\n            try:\n"
       "                with open('%s/aha-fill%d' % (d, i), 'wb') as fh:\n"
       "                    fh.write(b'0' * (15 << 20))\n                n += 15\n"
       "            except OSError:\n                break\n    return 42 if n >= 240 else n\n"},
      // Namespaces of its own: a nested user namespace owns a mount namespace, where a tmpfs of
      // any size is no longer the sized /tmp (host memory when no cgroup bounds the run).
      {"nested user namespace with its own tmpfs",
       "import ctypes, os\ndef f():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
       "    uid, gid = os.getuid(), os.getgid()\n"
       "    if libc.unshare(0x10000000 | 0x00020000) != 0:\n"
       "        raise OSError(ctypes.get_errno(), 'unshare')\n"
       "    open('/proc/self/setgroups', 'w').write('deny')\n"
       "    open('/proc/self/uid_map', 'w').write('0 %d 1' % uid)\n"
       "    open('/proc/self/gid_map', 'w').write('0 %d 1' % gid)\n"
       "    if libc.mount(b'none', b'/tmp', b'tmpfs', 0, b'size=4g') != 0:\n"
       "        raise OSError(ctypes.get_errno(), 'mount')\n"
       "    for i in range(12):\n        with open('/tmp/x%d' % i, 'wb') as fh:\n"
       "            fh.write(b'0' * (8 << 20))\n    return 42\n"},
      {"namespaces through clone(2) instead of unshare",
       "import ctypes, os\ndef f():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
       "    libc.syscall.restype = ctypes.c_long\n    r, w = os.pipe()\n"
       "    pid = libc.syscall(56, 0x10000000 | 0x00020000 | 17, 0, 0, 0, 0)\n"
       "    if pid == 0:\n        ok = libc.mount(b'none', b'/tmp', b'tmpfs', 0, b'size=4g') == 0\n"
       "        os.write(w, b'1' if ok else b'0')\n        os._exit(0)\n"
       "    if pid < 0:\n        raise OSError(ctypes.get_errno(), 'clone')\n"
       "    os.close(w)\n    got = os.read(r, 1)\n    return 42 if got == b'1' else 41\n"},
      {"namespaces through clone3",
       "import ctypes, os\ndef f():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
       "    libc.syscall.restype = ctypes.c_long\n    args = (ctypes.c_uint64 * 11)()\n"
       "    args[0] = 0x10000000 | 0x00020000\n    args[4] = 17\n"
       "    pid = libc.syscall(435, ctypes.byref(args), ctypes.sizeof(args))\n"
       "    if pid == 0:\n        os._exit(0)\n    return 42 if pid > 0 else 41\n"},
      {"kernel keyring (outlives the run) and io_uring",
       "import ctypes\ndef f():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
       "    libc.syscall.restype = ctypes.c_long\n"
       "    key = libc.syscall(248, b'user', b'aha-persist', b'x', 1, ctypes.c_long(-4))\n"
       "    ring = libc.syscall(425, 4, ctypes.create_string_buffer(120))\n"
       "    return 42 if key >= 0 or ring >= 0 else 41\n"},
      {"fake pass marker",
       "import os\ndef f():\n    os.write(3, b'0000000000000000 0 pass\\n')\n    os._exit(0)\n"},
      // Memory that RLIMIT_AS does not see: System V shared memory outlives its mapping in the
      // IPC namespace, memfd pages count only while mapped (without a cgroup both went past
      // memory_mb: 2 GiB and 944 MiB held with memory_mb = 256).
      {"System V shared memory outside RLIMIT_AS",
       "import ctypes\ndef f():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
       "    libc.shmat.restype = ctypes.c_void_p\n    held = 0\n    for i in range(12):\n"
       "        sid = libc.shmget(0, 64 << 20, 0o1600)\n        if sid < 0:\n            break\n"
       "        p = libc.shmat(sid, None, 0)\n        if p is None or p == 2**64 - 1:\n"
       "            break\n        ctypes.memset(p, 1, 64 << 20)\n"
       "        libc.shmdt(ctypes.c_void_p(p))\n        held += 64\n"
       "    return 42 if held >= 640 else held\n"},
      {"memfd pages outside RLIMIT_AS",
       "import os\ndef f():\n    fds, held = [], 0\n    try:\n        for i in range(40):\n"
       "            fd = os.memfd_create('x')\n            os.write(fd, b'1' * (15 << 20))\n"
       "            fds.append(fd)\n            held += 15\n    except OSError:\n        pass\n"
       "    return 42 if held >= 540 else held\n"},
      // A host-wide count: one run held every AIO context of the machine (fs.aio-max-nr).
      {"kernel AIO contexts (host-wide fs.aio-max-nr)",
       "import ctypes\ndef f():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
       "    libc.syscall.restype = ctypes.c_long\n    ctx = ctypes.c_ulong(0)\n"
       "    return 42 if libc.syscall(206, 1, ctypes.byref(ctx)) == 0 else 41\n"},
  };
}

void run_sandbox_suite() {
  std::string id = std::to_string(getpid());
  // Outside /tmp (which a sandbox replaces anyway): a world-readable file and a world-writable
  // directory of the host that no run may see.
  std::string host_dir = std::filesystem::is_directory("/var/tmp") ? "/var/tmp" : "/tmp";
  std::string secret = host_dir + "/aha-attack-secret-" + id;
  { std::ofstream(secret) << "TOPSECRET"; }
  chmod(secret.c_str(), 0644);  // readable to everyone on the host: only the sandbox must hide it
  std::string outside_dir = host_dir + "/aha-attack-outside-" + id;
  std::filesystem::create_directories(outside_dir);
  chmod(outside_dir.c_str(), 0777);
  std::string outside = outside_dir + "/pwned";
  std::string host_tmp = "/tmp/aha-attack-tmp-" + id;
  int dirs_before = count_sandbox_dirs();
  int leftovers_before = count_leftovers();

  aha::CheckerOptions opt;
  opt.values["timeout_s"] = 3.0;
  opt.values["memory_mb"] = 512;
  for (const Attack& a : sandbox_attacks(secret, outside, host_tmp)) {
    nlohmann::json ref = {{"tests", {"assert f() == 42"}}};
    auto t0 = std::chrono::steady_clock::now();
    aha::RewardResult r = aha::check_code(a.code, ref, opt);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO("attack: " << std::string(a.name) << " reason: " << r.reason << " (" << secs << " s)");
    MESSAGE(std::string(a.name) << ": " << r.reason << " (" << secs << " s)");
    if (std::string(a.name) == "memory summed over processes" && !aha::sandbox_cgroup_limits()) {
      // Without a writable cgroup the bound is per process (RLIMIT_AS) times processes.
      MESSAGE("no cgroup here: the row's memory is bounded by nproc x memory_mb only");
      continue;
    }
    CHECK(r.score == 0.0);
    CHECK(r.reason.find("0/1 tests passed") == 0);
    CHECK(secs <= 3.0 + kSlack);
  }
  // Nothing left behind: no process of this process's sandbox uids, no daemon, no work directory,
  // no file outside. (Other processes on the machine may run sandboxes of their own: only ours
  // and the named daemon are counted.)
  CHECK(aha::sandbox_count_own_processes() == 0);
  CHECK(count_leftovers() <= leftovers_before);
  CHECK(count_sandbox_dirs() == dirs_before);
  CHECK_FALSE(std::filesystem::exists(outside));
  CHECK_FALSE(std::filesystem::exists(host_tmp));
  std::filesystem::remove(secret);
  std::filesystem::remove_all(outside_dir);
}

// Wrong programs (add returns 0, never the right sum) that attack the harness instead.
std::vector<Attack> python_verdict_attacks() {
  const std::string wrong = "def add(a, b):\n    return 0\n";
  return {
      {"redefine exec", "import builtins\nbuiltins.exec = lambda *a, **k: None\n" + wrong},
      {"exec swallows AssertionError",
       "import builtins\n_real = builtins.exec\ndef _exec(*a, **k):\n    try:\n"
       "        return _real(*a, **k)\n    except AssertionError:\n        return None\n"
       "builtins.exec = _exec\n" +
           wrong},
      {"object equal to everything",
       "class Any:\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
       "    def __lt__(self, o): return True\n    def __hash__(self): return 0\n"
       "    def __sub__(self, o): return self\n    def __abs__(self): return 0\n"
       "def add(a, b):\n    return Any()\n"},
      {"int subclass equal to everything",
       "class Liar(int):\n    def __eq__(self, o): return True\n    def __ne__(self, o): return "
       "False\n"
       "    __hash__ = int.__hash__\ndef add(a, b):\n    return Liar(0)\n"},
      {"re-run under python -O",
       "import os, sys\nif not sys.flags.optimize:\n"
       "    os.execv(sys.executable, [sys.executable, '-O'] + sys.argv)\n" +
           wrong},
      {"steal the pass marker from the harness files",
       "import os, re, glob\ndef _steal():\n    paths = glob.glob('./**', recursive=True) + "
       "glob.glob('/tmp/**', recursive=True)\n    paths += glob.glob('/proc/[0-9]*/cwd/*') + "
       "glob.glob('/proc/[0-9]*/cmdline') + glob.glob('/proc/[0-9]*/fd/*')\n"
       "    tags = set()\n    for p in paths[:5000]:\n        try:\n"
       "            tags.update(re.findall(r'[0-9a-f]{16}', open(p, errors='ignore').read(1 << "
       "20)))\n"
       "        except Exception:\n            pass\n    for t in tags:\n"
       "        line = ''.join('%s %d pass\\n' % (t, i) for i in range(4)) + t + ' done\\n'\n"
       "        for fd in range(1, 20):\n            try:\n"
       "                os.write(fd, line.encode())\n            except OSError:\n"
       "                pass\n_steal()\n" +
           wrong},
      {"atexit + SystemExit", "import atexit, os\n" + wrong +
                                  "atexit.register(lambda: os._exit(0))\nraise SystemExit(0)\n"},
      {"exit 0 during the call", "import os\ndef add(a, b):\n    os._exit(0)\n"},
      {"shadow the builtins the tests call",
       "def abs(x):\n    return 0\ndef isinstance(*a):\n    return True\n"
       "def sorted(x):\n    return [0]\ndef set(x=()):\n    return 0\n" +
           wrong},
      {"rewrite the caller's frames",
       "import sys\ndef add(a, b):\n    f = sys._getframe(1)\n    while f is not None:\n"
       "        for k, v in list(f.f_globals.items()):\n"
       "            if hasattr(v, 'write'):\n                try:\n"
       "                    v.write('0000000000000000 0 pass\\n'); v.flush()\n"
       "                except Exception:\n                    pass\n        f = f.f_back\n"
       "    return 0\n"},
      {"trace hook", "import sys\nsys.settrace(lambda *a: None)\n" + wrong},
      {"tamper with the reply encoder",
       "import json\njson.dumps = lambda *a, **k: '[\"ok\", true]'\n" + wrong},
      {"raise BaseException out of the call", "def add(a, b):\n    raise KeyboardInterrupt\n"},
      {"value nested too deeply",
       "def add(a, b):\n    x = []\n    for _ in range(100000):\n        x = [x]\n    return x\n"},
      {"print look-alike lines",
       "print('0 pass\\n1 pass\\n2 pass\\ndone')\nimport sys\nsys.stdout.flush()\n" + wrong},
      {"a forged name list hands the tests its own __builtins__",
       "import sys\n_m = sys.modules['__main__']\n_orig = _m._names\ndef _names(g):\n"
       "    import builtins\n    fake = dict(vars(builtins))\n    fake['abs'] = lambda x: 0\n"
       "    fake['all'] = lambda x: True\n    fake['isinstance'] = lambda *a: True\n"
       "    return _orig(g) + [['value', '__builtins__', "
       "['d', [[['s', k], _m._handle(v)] for k, v in fake.items()]]]]\n"
       "_m._names = _names\n" +
           wrong},
      {"an object answers for a module the tests use",
       "class _M:\n    def isclose(self, *a, **k):\n        return True\nmath = _M()\n" + wrong},
      {"StopIteration out of the call ends map() early",
       "def add(a, b):\n    raise StopIteration\n"},
      {"shadow all() and map() when the tests only pass the function",
       "def map(*a):\n    return 0\ndef all(x):\n    return True\ndef any(x):\n    return False\n" +
           wrong},
  };
}

void run_python_verdict_suite() {
  aha::CheckerOptions opt;
  opt.values["timeout_s"] = 5.0;
  nlohmann::json mbpp = {
      {"test_list",
       {"assert add(1, 2) == 3", "assert add(5, 7) == 12", "assert abs(add(-4, 10) - 6) < 1e-9",
        "assert isinstance(add(2, 2), int) and sorted([add(1, 1)]) == [2]"}},
      {"test_setup_code", "import math"}};
  nlohmann::json humaneval = {
      {"prompt", "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n"},
      {"test",
       "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(5, 7) == 12\n"
       "    assert abs(candidate(-4, 10) - 6) < 1e-9\n"},
      {"entry_point", "add"}};
  // Tests that use a module the program imported, and the function passed rather than called.
  nlohmann::json generic = {
      {"tests",
       {"assert math.isclose(add(1.5, 2), 3.5)",
        "assert all(map(lambda p: add(*p[0]) == p[1], [((1, 1), 2), ((2, 3), 5)]))",
        "assert all(x == 3 for x in map(add, [1, 2], [2, 1]))",
        "assert abs(add(-4, 10) - 6) < 1e-9"}}};
  // The function under test only passed to builtins, never called by name.
  nlohmann::json passed = {
      {"tests", {"assert all(map(add, [1, 2], [2, 1])) and not any(map(add, [0, 2], [0, -2]))"}}};
  // The honest programs pass: the harness is not failing everything.
  CHECK(aha::check_code("def add(a, b):\n    return a + b\n", mbpp, opt).score == 1.0);
  aha::RewardResult h = aha::check_code("    return a + b\n", humaneval, opt);
  INFO(h.reason);
  CHECK(h.score == 1.0);
  aha::RewardResult gh =
      aha::check_code("import math\ndef add(a, b):\n    return a + b\n", generic, opt);
  INFO(gh.reason);
  CHECK(gh.score == 1.0);
  CHECK(aha::check_code("def add(a, b):\n    return a + b\n", passed, opt).score == 1.0);
  // The function under test named like a builtin (MBPP 126's sum) comes in only when the tests
  // call no other builtin; a candidate never supplies abs(), sorted() or all() to the tests.
  nlohmann::json builtin_named = {
      {"test_list", {"assert sum(10, 15) == 6", "assert sum(4, 6) == 3"}}};
  CHECK(aha::check_code("def sum(a, b):\n    t = 0\n    for d in range(1, min(a, b) + 1):\n"
                        "        if a % d == 0 and b % d == 0:\n            t += d\n"
                        "    return t\n",
                        builtin_named, opt)
            .score == 1.0);
  nlohmann::json builtin_and_others = {
      {"test_list", {"assert abs(sum(10, 15)) == 6", "assert sorted([sum(4, 6)]) == [3]"}}};
  aha::RewardResult shadowed = aha::check_code(
      "def sum(a, b):\n    return 0\ndef abs(x):\n    return 6\ndef sorted(x):\n"
      "    return [3]\n",
      builtin_and_others, opt);
  INFO(shadowed.reason);
  CHECK(shadowed.score == 0.0);
  nlohmann::json builtin_in_all = {
      {"test_list", {"assert all([max(10, 15) == 6])", "assert all([max(4, 6) == 3])"}}};
  aha::RewardResult all_only =
      aha::check_code("def all(x):\n    return True\n", builtin_in_all, opt);
  INFO(all_only.reason);
  CHECK(all_only.score == 0.0);
  // A prompt statement that fails in the harness only (standing for an import of a package the
  // candidate's interpreter has and the harness's has not): the helper the tests call after it is
  // still the prompt's, not the candidate's identity.
  nlohmann::json prompt_fails = {
      {"prompt",
       "import os\nif not os.path.exists('candidate.py'):\n    raise ImportError('no such "
       "module')\n\n\ndef enc(s):\n    return s[::-1]\n\n\ndef dec(s):\n    \"\"\"Inverse of "
       "enc.\"\"\"\n"},
      {"test",
       "def check(candidate):\n    assert candidate(enc('abc')) == 'abc'\n"
       "    assert candidate(enc('hello')) == 'hello'\n"},
      {"entry_point", "dec"}};
  CHECK(aha::check_code("    return s[::-1]\n", prompt_fails, opt).score == 1.0);
  aha::RewardResult helper =
      aha::check_code("    return s\n\n\ndef enc(s):\n    return s\n", prompt_fails, opt);
  INFO(helper.reason);
  CHECK(helper.score == 0.0);
  // The function under test may be named like a standard-library module.
  nlohmann::json named_like_module = {
      {"prompt", "def string(s):\n    \"\"\"Return s twice.\"\"\"\n"},
      {"test", "def check(candidate):\n    assert candidate('ab') == 'abab'\n"},
      {"entry_point", "string"}};
  CHECK(aha::check_code("    return s * 2\n", named_like_module, opt).score == 1.0);
  for (const Attack& a : python_verdict_attacks()) {
    for (const nlohmann::json* ref : {&mbpp, &humaneval, &generic, &passed}) {
      aha::RewardResult r = aha::check_code(a.code, *ref, opt);
      std::string mode = ref == &mbpp        ? "mbpp"
                         : ref == &humaneval ? "humaneval"
                         : ref == &generic   ? "tests"
                                             : "tests, function passed";
      INFO("attack: " << std::string(a.name) << " (" << mode << ") reason: " << r.reason);
      MESSAGE(std::string(a.name) << " (" << mode << "): " << r.reason);
      CHECK(r.score == 0.0);
    }
  }
}

std::vector<Attack> cpp_verdict_attacks() {
  const std::string wrong = "int sq(int x) { return 0 * x; }\n";
  std::vector<Attack> attacks = {
      {"#define NDEBUG", "#define NDEBUG\n#include <cassert>\n" + wrong},
      {"#define assert", "#define assert(x) ((void)0)\n" + wrong},
      {"#define main", "#define main not_main\n" + wrong},
      {"#define main() with its own main",
       "#include <cstdlib>\n" + wrong + "int main() { return 0; }\n#define main() aha_x()\n"},
      {"static initialiser calls _Exit(0)",
       "#include <cstdlib>\nstatic int early = (std::_Exit(0), 0);\n" + wrong},
      {"atexit + exit(0) in the function",
       "#include <cstdlib>\nint sq(int) { std::atexit([] { std::_Exit(0); }); std::exit(0); }\n"},
      {"interposed __assert_fail and abort",
       "#include <unistd.h>\nextern \"C\" void __assert_fail(const char*, const char*, unsigned, "
       "const char*) {}\n" +
           wrong},
      {"signal handlers exit 0",
       "#include <csignal>\n#include <unistd.h>\nstatic void h(int) { _exit(0); }\n"
       "static int early = (std::signal(SIGABRT, h), std::signal(SIGILL, h), "
       "std::signal(SIGSEGV, h), std::signal(SIGTRAP, h), 0);\n" +
           wrong},
      {"forged report line",
       "#include <unistd.h>\nstatic int early = (write(3, \"0000000000000000 done\\n\", 22), "
       "_exit(0), 0);\n" +
           wrong},
      {"redefine a keyword the test uses", "#define if(x) if (1)\n" + wrong},
  };
  // Macros that disarm our assert and the test's "return 1", hidden behind a condition that
  // differs between the macro scan and the compile: each must be seen by the scan and undone.
  const std::string disarm =
      "#define __builtin_trap() ((void)0)\n#define return return 0 *\n#endif\n";
  const std::string head = "#include <cstring>\n#include <unistd.h>\n" + wrong;
  for (const char* cond :
       {"#ifdef __OPTIMIZE__", "#if __INCLUDE_LEVEL__ > 0", "#if !__has_include(\"base.cpp\")",
        "#if __has_include(\"test.cpp\")", "#if !__has_include(\"out/cand.macros\")"})
    attacks.push_back({cond, head + cond + "\n" + disarm});
  // A "system" include that is the candidate itself would put its macros into the base list.
  attacks.push_back(
      {"the candidate included as a system header",
       "#pragma once\n#include </tmp/w/candidate.cpp>\n" + head + "#if 1\n" + disarm});
  return attacks;
}

void run_cpp_verdict_suite() {
  aha::CheckerOptions opt;
  opt.values["timeout_s"] = 5.0;
  nlohmann::json ref = {
      {"language", "cpp"},
      {"test",
       "#include <cassert>\nint main() {\n  assert(sq(3) == 9);\n  assert(sq(-2) == 4);\n"
       "  if (sq(5) != 25) return 1;\n}\n"}};
  aha::RewardResult good = aha::check_code("int sq(int x) { return x * x; }\n", ref, opt);
  INFO(good.reason);
  CHECK(good.score == 1.0);
  for (const Attack& a : cpp_verdict_attacks()) {
    aha::RewardResult r = aha::check_code(a.code, ref, opt);
    INFO("attack: " << std::string(a.name) << " reason: " << r.reason);
    MESSAGE(std::string(a.name) << ": " << r.reason);
    CHECK(r.score == 0.0);
  }
  // The test source is in no file the compile can name (the unit arrives on stdin).
  aha::RewardResult incbin = aha::check_code(
      "asm(\".pushsection .rodata\\n.globl aha_t\\naha_t: .incbin \\\"test.cpp\\\"\\n.byte "
      "0\\n.popsection\");\nint sq(int x) { return x * x; }\n",
      ref, opt);
  INFO(incbin.reason);
  CHECK(incbin.reason.find("file not found: test.cpp") != std::string::npos);
  // stdin reopened for writing through /proc/self/fd/0: when stdin was a file of the session
  // directory, that wrote up to file_mb into the host's disk; a sealed memfd takes no write.
  nlohmann::json io9 = {{"language", "cpp"}, {"tests", {{{"input", "3"}, {"output", "9"}}}}};
  aha::RewardResult stdin_w = aha::check_code(
      "#include <cstdio>\n#include <fcntl.h>\n#include <unistd.h>\nint main() {\n"
      "  int fd = open(\"/proc/self/fd/0\", O_WRONLY);\n"
      "  if (fd >= 0 && write(fd, \"pwned\", 5) == 5) std::puts(\"9\");\n}\n",
      io9, opt);
  INFO(stdin_w.reason);
  CHECK(stdin_w.score == 0.0);
  // The reason quotes the program's output and error text, cut by bytes: it must stay valid
  // UTF-8, or the reward worker's JSON encoding throws (type_error 316) and the worker ends.
  std::string e_acute_600;  // the completion's byte 2000 falls inside one of these
  for (int i = 0; i < 600; i++) e_acute_600 += "\xc3\xa9";
  std::vector<aha::RewardResult> texts = {
      aha::check_code("#include <cstdio>\nint main() { std::fputs(\"9 \\xff\\xfe\\xc3\", stdout); "
                      "return 1; }\n",
                      io9, opt),
      aha::check_code("def f():\n    raise ValueError('a' + '\\u00e9' * 300)\n",
                      {{"tests", {"assert f() == 42"}}}, opt),
      aha::check_code("def f():\n    return 41\n#" + std::string(1001, 'x') + e_acute_600,
                      {{"tests", {"assert f() == 42"}}}, opt)};
  for (const aha::RewardResult& t : texts) {
    INFO(t.reason);
    CHECK(t.score == 0.0);
    CHECK_NOTHROW((void)nlohmann::json({{"reason", t.reason}, {"extracted", t.extracted}}).dump());
  }
  // stdin/stdout tests: the output is compared here; exiting 0 early prints nothing right.
  nlohmann::json io = {{"language", "cpp"}, {"tests", {{{"input", "3"}, {"output", "9"}}}}};
  CHECK(aha::check_code("#include <cstdlib>\nstatic int e = (std::_Exit(0), 0);\nint main(){}\n",
                        io, opt)
            .score == 0.0);
  // Just under the time limit on each of many tests: the row stops at its budget (by default
  // 4 x timeout_s) instead of holding the sandbox for tests x timeout_s (30 x 0.9 s here); the
  // tests it did not reach fail.
  nlohmann::json slow = {{"language", "cpp"}, {"tests", nlohmann::json::array()}};
  for (int i = 0; i < 30; i++) slow["tests"].push_back({{"input", "3"}, {"output", "9"}});
  aha::CheckerOptions quick = opt;
  quick.values["timeout_s"] = 1.0;
  auto t0 = std::chrono::steady_clock::now();
  aha::RewardResult r = aha::check_code(
      "#include <unistd.h>\n#include <cstdio>\nint main() { usleep(900000); std::puts(\"9\"); }\n",
      slow, quick);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r.reason << " (" << secs << " s)");
  CHECK(r.score <= 5.0 / 30);
  CHECK(r.reason.find("row time budget (4.0 s) spent") != std::string::npos);
  CHECK(secs < 27.0);  // the 30 sleeps alone take 27 s; a loaded machine may compile slowly
}

}  // namespace

TEST_CASE("sandbox attacks are contained (default isolation)") {
  require_python();
  MESSAGE("isolation: " << std::string(aha::isolation_name(aha::sandbox_isolation()))
                        << ", cgroup limits: " << aha::sandbox_cgroup_limits());
  run_sandbox_suite();
}

TEST_CASE("wrong Python programs that attack the harness score 0") {
  require_python();
  run_python_verdict_suite();
}

TEST_CASE("wrong C++ programs that attack the test main score 0") {
  require_python();
  run_cpp_verdict_suite();
}

TEST_CASE("the attacks again under the forced fallback (in a child process)") {
  require_python();
  if (std::getenv("AHA_SANDBOX")) return;  // already the child (or the caller chose)
  pid_t pid = fork();
  if (pid == 0) {
    setenv("AHA_SANDBOX", "fallback", 1);
    // A fresh process image so the isolation is probed again.
    execl("/proc/self/exe", "test_reward_attacks", "--test-case-exclude=*parallel*,*forced*",
          "--no-version", nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("sandbox runs in parallel up to the pool size") {
  require_python();
  aha::sandbox_set_concurrency(2);
  aha::CheckerOptions opt;
  opt.values["timeout_s"] = 10.0;
  nlohmann::json ref = {{"tests", {"assert f() == 1"}}};
  std::string code = "import time\ndef f():\n    time.sleep(1.0)\n    return 1\n";
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  std::vector<double> scores(4, -1);
  for (int i = 0; i < 4; i++)
    ts.emplace_back([&, i] { scores[i] = aha::check_code(code, ref, opt).score; });
  for (auto& t : ts) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (double s : scores) CHECK(s == 1.0);
  // 4 runs of 1 s on 2 slots: at least two rounds (the pool bounds them; exact on any machine).
  CHECK(secs >= 2.0);
  // Four serial rounds would take >= 4 s; a loaded machine adds seconds of startup, so this bound
  // only catches a pool that serialises everything badly, with slack (see kSlack).
  CHECK(secs < 4.0 + kSlack);
}

TEST_CASE("without a sandbox that holds, code is refused with a clear error") {
  // AHA_SANDBOX=none stands for a host where neither bubblewrap nor the fallback works.
  aha::test::TempDir tmp("aha_refuse");
  std::filesystem::create_directories(tmp.path);
  std::string rows = tmp.str() + "/rows.jsonl";
  std::ofstream(rows)
      << R"({"completion": "def f():\n    return 1\n", "tests": ["assert f() == 1"]})"
      << "\n";
  int rc = 0;
  std::string out = aha::test::run_command("AHA_SANDBOX=none " + std::string(AHA_BINARY) +
                                               " reward score --checker code --input " + rows,
                                           &rc);
  INFO(out);
  CHECK(rc == 1);
  CHECK(out.find("refusing to run generated code without isolation: AHA_SANDBOX=none") !=
        std::string::npos);
  CHECK(out.find("\"reward\":null") != std::string::npos);
}
