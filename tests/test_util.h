// Helpers shared by test files: a temporary directory removed when the test ends, running a
// command for its output, and skipping (exit 77, CTest's skip code here) when data is absent.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <stdexcept>
#include <string>

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

}  // namespace aha::test
