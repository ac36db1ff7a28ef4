// `aha reward score` from outside (the built binary), and the code checker on C++ and Python rows.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "reward/reward.h"
#include "reward/sandbox.h"

namespace {

const std::string kFix = std::string(AHA_FIXTURES_DIR) + "/reward";

struct Run {
  int rc;
  std::string out, err;
};

Run run(const std::string& cmd) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("aha-cli-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string full = cmd + " > " + dir + "/out 2> " + dir + "/err";
  int st = std::system(full.c_str());
  Run r;
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream o(dir + "/out"), e(dir + "/err");
  std::stringstream so, se;
  so << o.rdbuf();
  se << e.rdbuf();
  r.out = so.str();
  r.err = se.str();
  std::filesystem::remove_all(dir);
  return r;
}

std::vector<nlohmann::json> lines(const std::string& s) {
  std::vector<nlohmann::json> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(nlohmann::json::parse(l));
  return v;
}

std::string write_tmp(const std::string& name, const std::string& content) {
  std::string p = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(getpid()));
  std::ofstream(p) << content;
  return p;
}

}  // namespace

TEST_CASE("aha reward score: a user TOML task, rows in order, bad rows reported") {
  std::string in = write_tmp(
      "aha-score-in.jsonl",
      "{\"completion\": \"<think>6*7</think><answer>42</answer>\", \"answer\": \"42\"}\n"
      "{\"completion\": \"<answer>x=2</answer>\", \"answer\": \"2\"}\n"
      "this is not json\n"
      "{\"answer\": \"1\"}\n"
      "{\"completion\": \"<think>t</think><answer>(-1,1]</answer>\", \"answer\": \"(-1, 1)\"}\n");
  Run r = run(std::string(AHA_BINARY) + " reward score --task toy --tasks-file " + kFix +
              "/user_tasks.toml --input " + in + " --threads 2");
  CHECK(r.rc == 1);  // bad rows: non-zero at the end, after writing the good ones
  auto rows = lines(r.out);
  REQUIRE(rows.size() == 4);  // the malformed line cannot be written back
  CHECK(rows[0]["reward"].get<double>() == doctest::Approx(1.2));
  CHECK(rows[0]["components"]["correct"] == 1.0);
  CHECK(rows[0]["components"]["format.think"] == 1.0);
  CHECK(rows[0]["extracted"] == "42");
  CHECK(rows[1]["reward"].get<double>() == doctest::Approx(1.1));
  CHECK(rows[2]["reward"].is_null());
  CHECK(rows[2]["error"] == "missing field 'completion' (a string)");
  CHECK(rows[3]["components"]["correct"] == 0.0);  // (-1,1] is not (-1,1)
  CHECK(r.err.find(":3: malformed JSON") != std::string::npos);
  CHECK(r.err.find(":4: missing field 'completion'") != std::string::npos);
  std::filesystem::remove(in);
}

TEST_CASE("aha reward tasks: the descriptions start in one column, however long a name") {
  Run r = run(std::string(AHA_BINARY) + " reward tasks --tasks-file " + kFix + "/user_tasks.toml");
  REQUIRE(r.rc == 0);
  std::istringstream in(r.out);
  size_t column = 0;
  int n = 0;
  for (std::string l; std::getline(in, l); n++) {
    const size_t at = l.find_first_not_of(' ', l.find(' '));
    if (n == 0) column = at;
    CHECK_MESSAGE(at == column, l);
  }
  CHECK(r.out.find("mod10_chain ") != std::string::npos);
  CHECK(n >= 9);
}

TEST_CASE("aha reward score: checker with options, stdin/stdout, config errors") {
  std::string in = write_tmp("aha-score-cd.jsonl",
                             "{\"completion\": \"<answer>(3 + 5) * 2</answer>\", \"numbers\": [3, "
                             "5, 2, 7], \"target\": 16}\n");
  Run r = run("cat " + in + " | " + AHA_BINARY + " reward score --checker countdown");
  CHECK(r.rc == 0);
  CHECK(lines(r.out)[0]["reward"] == 1.0);
  r = run("cat " + in + " | " + AHA_BINARY +
          " reward score --checker countdown --option exactly_once=true");
  CHECK(r.rc == 0);
  CHECK(lines(r.out)[0]["reward"] == 0.0);
  CHECK(lines(r.out)[0]["reason"].get<std::string>().find("exactly once") != std::string::npos);
  r = run(std::string(AHA_BINARY) + " reward score --checker nope --input " + in);
  CHECK(r.rc != 0);
  CHECK(r.err.find("unknown checker 'nope'") != std::string::npos);
  CHECK(r.out.empty());
  // A misspelt option is refused before any row is read, naming it and the near name.
  r = run(std::string(AHA_BINARY) + " reward score --checker math --option extrct=boxed --input " +
          in);
  CHECK(r.rc != 0);
  CHECK(r.err.find("--option: checker 'math' has no option 'extrct'; did you mean 'extract'?") !=
        std::string::npos);
  CHECK(r.out.empty());
  r = run(std::string(AHA_BINARY) + " reward score --task nope --input " + in);
  CHECK(r.rc != 0);
  CHECK(r.err.find("unknown task 'nope'") != std::string::npos);
  r = run(std::string(AHA_BINARY) + " reward score --checker math --input /no/such/file.jsonl");
  CHECK(r.rc != 0);
  CHECK(r.err.find("/no/such/file.jsonl: cannot open") != std::string::npos);
  std::filesystem::remove(in);
}

// Where no sandbox holds, code is refused with the reason (and these checks are that).
bool sandbox_refuses() {
  if (aha::sandbox_isolation() != aha::Isolation::kNone) return false;
  CHECK_THROWS_WITH_AS(aha::check_code("x = 1", {{"tests", {"assert x == 1"}}}, {}),
                       doctest::Contains("refusing to run generated code"), std::runtime_error);
  return true;
}

TEST_CASE("code checker: C++ solutions compiled and run in the sandbox") {
  if (access("/usr/bin/g++", X_OK) != 0 || sandbox_refuses()) return;
  aha::CheckerOptions o;
  o.values["timeout_s"] = 5.0;
  nlohmann::json io = {
      {"language", "cpp"},
      {"tests", {{{"input", "2 3\n"}, {"output", "5\n"}}, {{"input", "10 -4"}, {"output", "6"}}}}};
  std::string good =
      "```cpp\n#include <iostream>\nint main(){long "
      "a,b;std::cin>>a>>b;std::cout<<a+b<<\"\\n\";}\n```";
  auto r = aha::check_code(good, io, o);
  CHECK(r.score == 1.0);
  CHECK(r.reason == "2/2 tests passed");
  std::string off =
      "#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b+(a>5)<<\"\\n\";}\n";
  r = aha::check_code(off, io, o);
  CHECK(r.score == 0.5);
  CHECK(r.components[1].second == 0.0);
  r = aha::check_code("int main( {", io, o);
  CHECK(r.score == 0.0);
  CHECK(r.reason.find("compile error") != std::string::npos);
  nlohmann::json with_main = {
      {"language", "cpp"},
      {"test", "#include <cassert>\nint main(){ assert(sq(3) == 9); assert(sq(-2) == 4); }"}};
  CHECK(aha::check_code("int sq(int x){ return x*x; }", with_main, o).score == 1.0);
  r = aha::check_code("int sq(int x){ return x+x; }", with_main, o);
  CHECK(r.score == 0.0);
  CHECK(r.reason.find("Assertion") != std::string::npos);  // the failed assert, from stderr
  r = aha::check_code("int sq(int x){ while(true){} return x; }", with_main, o);
  CHECK(r.reason.find("timeout") != std::string::npos);
}

TEST_CASE("code checker: the code is the answer's last block that defines what the tests call") {
  if (access("/usr/bin/python3", X_OK) != 0 || sandbox_refuses()) return;
  aha::CheckerOptions o;
  const nlohmann::json ref = {{"tests", {"assert f(1) == 2", "assert f(2) == 4"}}};
  const std::string right = "```python\ndef f(x):\n    return 2 * x\n```";
  const std::string wrong = "```python\ndef f(x):\n    return 3 * x\n```";
  struct Case {
    std::string completion;
    double score;
  };
  const Case cases[] = {
      {right, 1.0},
      // A snippet tried while thinking is not the answer.
      {"<think>\n" + wrong + "\nno, that is wrong\n</think>\n" + right, 1.0},
      {"<think>\n" + right + "\n</think>\n" + wrong, 0.0},
      // A corrected attempt follows the wrong one; usage examples and shell lines follow the code.
      {"First try:\n" + wrong + "\nThat fails f(2). Fixed:\n" + right, 1.0},
      {right + "\nUsage:\n```python\nprint(f(3))\n```\n```bash\npython3 f.py\n```", 1.0},
      {"```python\ndef g(x):\n    return x\n```\n" + wrong + "\n```python\nprint(g(1))\n```", 0.0},
      // No fence after the reasoning: the answer part is the code; a fence cut at max_tokens runs
      // to the end.
      {"<think>\ndouble it\n</think>\ndef f(x):\n    return 2 * x\n", 1.0},
      {"```python\ndef f(x):\n    return 2 * x\n", 1.0},
  };
  for (const Case& c : cases)
    CHECK_MESSAGE(aha::check_code(c.completion, ref, o).score == c.score, c.completion);
  // C++: the block that defines the function the test main calls.
  if (access("/usr/bin/g++", X_OK) != 0) return;
  const nlohmann::json cpp = {{"language", "cpp"},
                              {"test", "#include <cassert>\nint main(){ assert(sq(3) == 9); }"}};
  CHECK(aha::check_code("```cpp\nint sq(int x){ return x*x; }\n```\nTry it:\n```cpp\nsq(3);\n```",
                        cpp, o)
            .score == 1.0);
}

TEST_CASE("code checker: held-out answer formats (~~~, list-indented fences, HTML, split blocks)") {
  if (access("/usr/bin/python3", X_OK) != 0 || sandbox_refuses()) return;
  aha::CheckerOptions o;
  const nlohmann::json ref = {{"tests", {"assert f(1) == 1", "assert f(4) == 2"}}};
  const std::string right = "def f(x):\n    return int(math.sqrt(x))\n";
  const std::string wrong = "def f(x):\n    return int(math.sqrt(x)) + 1\n";
  struct Case {
    std::string completion;
    double score;
  };
  const Case cases[] = {
      {"~~~python\nimport math\n" + right + "~~~\nDone.", 1.0},
      {"~~~python\nimport math\n" + wrong + "~~~\nDone.", 0.0},
      // A fence inside a list item: its lines carry the item's indentation.
      {"1. Write it:\n\n   ```python\n   import math\n   def f(x):\n       return "
       "int(math.sqrt(x))\n   ```\n2. Test it.",
       1.0},
      {"1. Write it:\n\n   ```python\n   import math\n   def f(x):\n       return "
       "int(math.sqrt(x)) + 1\n   ```\n",
       0.0},
      // HTML code blocks, entities as a browser shows them.
      {"<pre><code class=\"language-python\">import math\ndef f(x):\n    return int(math.sqrt(x)) "
       "if x &gt; 0 else 0\n</code></pre>",
       1.0},
      {"<pre><code>import math\n" + wrong + "</code></pre>", 0.0},
      // The imports in one block, the function in the next: the answer is both.
      {"First:\n```python\nimport math\n```\nThen:\n```python\n" + right + "```", 1.0},
      {"First:\n```python\nimport math\n```\nThen:\n```python\n" + wrong + "```", 0.0},
      // A draft before the final block adds nothing the final block does not use.
      {"```python\nimport math\n" + right + "```\nBetter:\n```python\nimport math\n" + wrong +
           "```",
       0.0},
      // A block inside the reasoning never joins the answer.
      {"<think>\n```python\nimport math\n```\n</think>\n```python\n" + right + "```", 0.0},
  };
  for (const Case& c : cases)
    CHECK_MESSAGE(aha::check_code(c.completion, ref, o).score == c.score, c.completion);
  if (access("/usr/bin/g++", X_OK) != 0) return;
  const nlohmann::json cpp = {
      {"language", "cpp"},
      {"test", "#include <cassert>\nint main(){ assert(sq({3}) == 9); assert(sq({-2}) == 4); }"}};
  const std::string sq = "int sq(const vector<int>& v){ return v[0] * v[0]; }\n";
  const std::string demo = "int main(){ std::cout << sq({5}) << std::endl; return 0; }\n";
  // The candidate's demo main beside the function: the test main is the program's.
  CHECK(aha::check_code("```cpp\n#include <iostream>\n#include <vector>\nusing namespace std;\n" +
                            sq + demo + "```",
                        cpp, o)
            .score == 1.0);
  CHECK(aha::check_code("```cpp\n#include <iostream>\n#include <vector>\nusing namespace std;\n" +
                            std::string("int sq(const vector<int>& v){ return v[0] + v[0]; }\n") +
                            demo + "```",
                        cpp, o)
            .score == 0.0);
  // Includes in one block, the function in the next.
  CHECK(aha::check_code(
            "```cpp\n#include <vector>\nusing namespace std;\n```\nThen:\n```cpp\n" + sq + "```",
            cpp, o)
            .score == 1.0);
}

TEST_CASE("code checker: held-out answer formats (prose around unfenced code, cut in <think>)") {
  if (access("/usr/bin/python3", X_OK) != 0 || sandbox_refuses()) return;
  aha::CheckerOptions o;
  const nlohmann::json ref = {{"tests", {"assert f(1) == 2", "assert f(3) == 6"}}};
  const std::string right = "def f(x):\n    return 2 * x\n";
  const std::string wrong = "def f(x):\n    return x + 1\n";  // passes f(1) only
  struct Case {
    std::string completion;
    double score;
    std::string reason;  // a part of the reason, when the score is not 1
  };
  const Case cases[] = {
      // Without fences, top-level prose before or after the code is not part of the program.
      {right + "\nThis function works by doubling x.\n", 1.0, ""},
      {wrong + "\nThis function works by doubling x.\n", 0.5, "AssertionError"},
      {"Here's my solution:\n\n" + right + "\nIt's linear.\nExample:\n    >>> f(3)\n    6\n", 1.0,
       ""},
      {"**Explanation**\n1. We double x.\n\n" + right, 1.0, ""},
      {right + "\nExample:\n>>> f(3)\n6\n\n| x | f(x) |\n|---|---|\n| 3 | 6 |\n", 1.0, ""},
      // A short sentence, also between the parts of a try statement.
      {"try:\n    import math\nThat is optional.\nexcept ImportError:\n    pass\n\n" + right +
           "\nThis is it.\n",
       1.0, ""},
      // A line of prose inside the function: the code around it is the program.
      {"def f(x):\n    if x > 1:\n        return 2 * x\nOtherwise we double it too:\n    return x "
       "+ x\n",
       1.0, ""},
      // Code that does not compile stays a syntax error, at its own line, with prose around it.
      {"Here is the code:\ndef f(x)\n    return 2 * x\n\nThis doubles x.\n", 0.0,
       "SyntaxError: expected ':' (solution.py, line 2)"},
      {right + "print(f(3)\n\nThis prints 6.\n", 0.0, "SyntaxError"},
      {right + "print f(3)\n", 0.0, "SyntaxError"},
      // A line inside a docstring is never prose to drop: the error stays the program's own.
      {"def f(x):\n    \"\"\"Doubles x.\nReturns 2x.\n    \"\"\"\n    return 2 * x +\n", 0.0,
       "SyntaxError: invalid syntax (solution.py, line 5)"},
      // Inside a fence the block is the program: prose in it is a syntax error.
      {"```python\n" + right + "\nThis works.\n```", 0.0, "SyntaxError"},
      // Code only inside the reasoning, referred to after it: no answer.
      {"<think>\n```python\n" + right + "```\n</think>\n\nThe function above is my answer.", 0.0,
       "the answer has no code, only prose"},
      // Cut inside <think> (max_tokens while reasoning): a draft there is no answer.
      {"<think>\nLet me write it:\n```python\n" + right + "```\nNow the edge cases", 0.0,
       "no answer: the completion ends inside <think>"},
      {"<think>\n" + right, 0.0, "no answer: the completion ends inside <think>"},
      // An answer given before a second reasoning block that is cut still counts; a closed
      // reasoning block with nothing after it is read whole, as the math checker reads it.
      {"<think>a</think>\n```python\n" + right + "```\n<think>\nmore", 1.0, ""},
      {"<think>\n```python\n" + right + "```\n</think>", 1.0, ""},
  };
  for (const Case& c : cases) {
    aha::RewardResult r = aha::check_code(c.completion, ref, o);
    CHECK_MESSAGE(r.score == c.score, c.completion, " -> ", r.reason);
    if (!c.reason.empty())
      CHECK_MESSAGE(r.reason.find(c.reason) != std::string::npos, c.completion, " -> ", r.reason);
  }
  // HumanEval: the completion follows the prompt; the prompt itself is never dropped.
  const nlohmann::json he = {{"prompt", "def add(a, b):\n    \"\"\"a + b\"\"\"\n"},
                             {"test", "def check(candidate):\n    assert candidate(1, 2) == 3\n"},
                             {"entry_point", "add"}};
  CHECK(aha::check_code("    return a + b\n\nThis adds the two numbers.\n", he, o).score == 1.0);
  CHECK(aha::check_code("Here is the body:\n    return a + b\n", he, o).score == 1.0);
  CHECK(aha::check_code("    return a - b\n\nThis adds the two numbers.\n", he, o).score == 0.0);
  auto r = aha::check_code("This is easy, nothing to add.", he, o);
  CHECK(r.score == 0.0);
  CHECK(r.reason.find("no code") != std::string::npos);
  r = aha::check_code("<think>\n    return a + b\n", he, o);
  CHECK(r.reason ==
        "0/1 tests passed: no answer: the completion ends inside <think> (no </think>)");
  // C++ alike (nothing is compiled); the reference is still checked.
  const nlohmann::json io = {{"language", "cpp"}, {"tests", {{{"input", ""}, {"output", "1"}}}}};
  r = aha::check_code("<think>\n```cpp\nint main() { return 0; }\n```\n", io, o);
  CHECK(r.score == 0.0);
  CHECK(r.reason.find("ends inside <think>") != std::string::npos);
  CHECK_THROWS_AS(aha::check_code("<think>\n", nlohmann::json{{"language", "cpp"}}, o),
                  std::invalid_argument);
}

TEST_CASE("code checker: a whole solution loads as a module, its future imports first") {
  if (access("/usr/bin/python3", X_OK) != 0 || sandbox_refuses()) return;
  aha::CheckerOptions o;
  const nlohmann::json ref = {
      {"prompt",
       "from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    \"\"\"a + b\"\"\"\n"},
      {"test", "def check(candidate):\n    assert candidate(1, 2) == 3\n"},
      {"entry_point", "add"}};
  const std::string fn = "def add(a: int, b: int) -> int:\n    return a + b\n";
  // A demo under the main guard reads stdin, which the checker does not feed: it must not run,
  // as it does not when the file is imported.
  CHECK(aha::check_code(
            "```python\n" + fn +
                "\nif __name__ == '__main__':\n    print(add(*map(int, input().split())))\n```",
            ref, o)
            .score == 1.0);
  CHECK(aha::check_code("```python\n" + fn + "assert __name__ == 'solution'\n```", ref, o).score ==
        1.0);
  // Code that runs at load still runs: reading stdin there fails the program.
  CHECK(aha::check_code("```python\n" + fn + "x = input()\n```", ref, o).score == 0.0);
  // A solution opening with a future import stays valid after the prompt that precedes it; one
  // misplaced in the solution stays a syntax error.
  CHECK(aha::check_code("```python\n# solution\nfrom __future__ import annotations\n" + fn + "```",
                        ref, o)
            .score == 1.0);
  auto r = aha::check_code("```python\n" + fn + "from __future__ import annotations\n```", ref, o);
  CHECK(r.score == 0.0);
  CHECK(r.reason.find("SyntaxError") != std::string::npos);
}

TEST_CASE("code checker: generic Python asserts count tests one by one") {
  if (access("/usr/bin/python3", X_OK) != 0 || sandbox_refuses()) return;
  aha::CheckerOptions o;
  nlohmann::json ref = {{"tests", {"assert f(1) == 2", "assert f(2) == 4", "assert f(3) == 7"}}};
  auto r = aha::check_code("```python\ndef f(x):\n    return 2 * x\n```", ref, o);
  CHECK(r.score == doctest::Approx(2.0 / 3));
  CHECK(r.components[1].second == 0.0);
  CHECK(r.reason.find("2/3 tests passed") == 0);
  r = aha::check_code("def f(x):\n    return 2 * x + (x == 3)\n", ref, o);
  CHECK(r.score == 1.0);
  CHECK(r.components[1].second == 1.0);
  r = aha::check_code("def f(x) return", ref, o);
  CHECK(r.score == 0.0);
  CHECK(r.reason.find("SyntaxError") != std::string::npos);
  // Exiting early or printing look-alike lines earns nothing.
  r = aha::check_code("import sys\nprint('0 pass')\nsys.exit(0)\n", ref, o);
  CHECK(r.score == 0.0);
  CHECK_THROWS_AS(aha::check_code("x", nlohmann::json{{"foo", 1}}, o), std::invalid_argument);
}
