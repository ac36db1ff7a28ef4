// Helpers shared by test files: a temporary directory removed when the test ends, running a
// command for its output, and skipping (exit 77, CTest's skip code here) when data is absent.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace aha::test {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           (prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path.string(); }
};

// Runs cmd through the shell, stdout and stderr together; *rc = its exit code (-1 if killed).
inline std::string run_command(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed: " + cmd);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Exits 77 (the test reports itself skipped) unless every path exists: for tests on shared/ data.
inline bool skip_unless_exist(std::initializer_list<std::string> paths) {
  for (const std::string& p : paths)
    if (!std::filesystem::exists(p)) {
      std::fprintf(stderr, "skipped: %s absent\n", p.c_str());
      std::exit(77);
    }
  return true;
}

// The tiny_add run of experiments/base-arith (the built-in run before the R1-Zero run became the
// default): the overrides that tests written against it put in front of their own --set options.
inline std::vector<std::string> tiny_add_sets() {
  const std::string base = std::string(AHA_SOURCE_DIR) + "/experiments/base-arith";
  return {"--set", "model.path=\"" + base + "\"",
          "--set", "tasks.names=[\"tiny_add\"]",
          "--set", "rollout.prompts_per_step=64",
          "--set", "rollout.max_new_tokens=6",
          "--set", "learner.lr=2e-4",
          "--set", "run.steps=400",
          "--set", "run.eval_every=50"};
}

// The same, quoted for a shell command line (no argument holds a single quote).
inline std::string tiny_add_args() {
  std::string out;
  for (const std::string& a : tiny_add_sets()) out += " '" + a + "'";
  return out;
}

// A TCP port on 127.0.0.1 that nothing uses now, chosen by the kernel (bind to port 0): a port
// computed from the pid can be taken by another test's listener or outgoing connection.
inline int free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("free_tcp_port: socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  if (!ok) throw std::runtime_error("free_tcp_port: bind failed");
  return ntohs(a.sin_port);
}

}  // namespace aha::test
