#include "cli/run/spawn.h"

#include <spawn.h>

#include <cstring>
#include <stdexcept>

extern char** environ;

namespace aha {

pid_t spawn_process(const std::vector<std::string>& args) {
  if (args.empty()) throw std::runtime_error("spawn_process: no program");
  // argv is built here, in the parent; posix_spawn reports a failed exec as its return value.
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int err = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (err != 0) throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(err));
  return pid;
}

}  // namespace aha
