// Starting worker processes from the threaded trainer.
//
// Invariants: nothing runs in the child between fork and exec but the C library's posix_spawn
// (no allocation, no lock another thread may hold); a process that cannot start is an error here,
// never a pid of -1 handed on (waitpid(-1) / kill(-1) would reach every process).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace aha {

// Starts args[0] with arguments args (environment inherited); the child's pid. Throws naming the
// program when it cannot be started (not found, not executable, out of processes).
pid_t spawn_process(const std::vector<std::string>& args);

}  // namespace aha
