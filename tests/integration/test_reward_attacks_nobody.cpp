// The attack suite (test_reward_attacks) again as a non-root user (nobody, via setpriv) under the
// forced fallback and under the default isolation: without root the sandbox cannot switch uids,
// so its namespaces alone must keep the user's files, the scorer and the host's /tmp safe.
// Skipped (77) where it cannot run: not root, no setpriv, no python3.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/test_util.h"

namespace {

std::string suite_binary() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "test_reward_attacks")
      .string();
}

void require_setup() {
  if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0 ||
      access("/usr/bin/python3", X_OK) != 0 || !std::filesystem::exists(suite_binary())) {
    std::fprintf(stderr, "skipped: needs root (to become nobody), setpriv, python3\n");
    std::exit(77);
  }
}

std::string as_nobody(const std::string& env) {
  return "cd /tmp && env " + env + " /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups " +
         suite_binary() + " --no-version --test-case-exclude='*parallel*,*forced*'";
}

}  // namespace

namespace {

// The attack suite passes as user nobody with AHA_SANDBOX=mode.
void suite_passes_as_nobody(const std::string& mode) {
  require_setup();
  int rc = 0;
  std::string out = aha::test::run_command(as_nobody("AHA_SANDBOX=" + mode), &rc);
  // The suite's failures first (the passing attacks' lines fill the output), then its tail.
  std::string failures;
  for (size_t at = out.find("ERROR:"); at != std::string::npos && failures.size() < 8000;
       at = out.find("ERROR:", at + 1)) {
    size_t from = out.rfind("TEST CASE:", at);
    from = from == std::string::npos || at - from > 2000 ? out.rfind('\n', at) : from;
    from = from == std::string::npos ? 0 : from;
    failures += out.substr(from, out.find("\n\n", at) - from) + "\n";
  }
  MESSAGE(std::string(failures + out.substr(out.size() > 2000 ? out.size() - 2000 : 0)));
  CHECK(rc == 0);
}

}  // namespace

TEST_CASE("attack suite as nobody under the forced fallback") {
  suite_passes_as_nobody("fallback");
}

TEST_CASE("attack suite as nobody under the default isolation") {
  suite_passes_as_nobody("auto");
}
