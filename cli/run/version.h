// The build's identity, recorded in every run's database row and shown by `aha report`.
#pragma once

namespace aha {

constexpr const char* kAhaVersion = "0.1.0";
// The git commit the binary was built from ("<sha>-dirty" with uncommitted changes; "" when the
// source was not a git checkout). Refreshed at every build, not only at configure time.
const char* build_git_commit();

}  // namespace aha
