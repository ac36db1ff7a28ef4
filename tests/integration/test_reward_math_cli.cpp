// `aha reward score` with the math checker from outside: a row nested 100,000 levels deep is
// refused with an error naming its line (it once crashed the scorer), and the other rows are still
// scored.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reward/reward.h"

TEST_CASE("aha reward score: a deeply nested row is refused by line, the rest scored") {
  std::string dir =
      std::filesystem::temp_directory_path() / ("aha-math-cli-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream in(dir + "/in.jsonl");
    in << "{\"completion\": \"\\\\boxed{5}\", \"answer\": \"5\"}\n";
    in << "{\"completion\": \"x\", \"answer\": " << std::string(100000, '[')
       << std::string(100000, ']') << "}\n";
    in << "{\"completion\": \"$\\\\frac13$\", \"answer\": \"13\"}\n";
  }
  std::string cmd = std::string(AHA_BINARY) + " reward score --checker math --threads 2 --input " +
                    dir + "/in.jsonl > " + dir + "/out 2> " + dir + "/err";
  int st = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 1);  // a refused row: non-zero at the end, the others written
  std::ifstream out(dir + "/out"), err(dir + "/err");
  std::stringstream so, se;
  so << out.rdbuf();
  se << err.rdbuf();
  CHECK(se.str().find("in.jsonl:2: JSON nested deeper than 256 levels") != std::string::npos);
  std::istringstream lines(so.str());
  std::string l1, l2, l3;
  std::getline(lines, l1);
  std::getline(lines, l2);
  CHECK_FALSE(std::getline(lines, l3));
  CHECK(nlohmann::json::parse(l1)["reward"] == 1.0);
  CHECK(nlohmann::json::parse(l2)["reward"] == 0.0);  // $\frac13$ is a third, not 13
  std::filesystem::remove_all(dir);
}
