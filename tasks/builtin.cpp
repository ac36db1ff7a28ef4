// The built-in tasks, written in the same TOML a user writes (see tasks/README in
// reward/README.md).
#include <string>

namespace aha {

// R1-style instruction shared by the reasoning tasks: think first, answer in tags.
extern const char* const kBuiltinTasksToml;
const char* const kBuiltinTasksToml = R"TOML(
[templates]
r1 = """The user asks a question and the assistant solves it. The assistant first reasons step by step inside <think> </think> tags and then gives only the final answer inside <answer> </answer> tags, for example <think> reasoning here </think> <answer> answer here </answer>.
User: {question}
Assistant: <think>"""
# The same instruction as the user turn of a chat template (which writes the turns itself).
r1_chat = """{question}
Reason step by step inside <think> </think> tags, then give only the final answer inside <answer> </answer> tags."""

[tasks.gsm8k]
description = "Grade-school math word problems (GSM8K); the gold answer follows '####'."
data.train = "${AHA_DATA_DIR}/gsm8k_train.jsonl"
data.eval = "${AHA_DATA_DIR}/gsm8k_test_first200.jsonl"
data.fields = { question = "question", answer = "answer" }
template = "r1"
chat_prompt = "r1_chat"
[[tasks.gsm8k.reward]]
name = "correct"
checker = "math"
weight = 1.0
options = { extract = "answer_tag,boxed,gsm8k,answer_is,last_number" }
[[tasks.gsm8k.reward]]
name = "format"
checker = "format"
weight = 0.1

[tasks.math]
description = "Competition math (MATH / MATH-500 rows: problem, answer or solution with a final boxed answer)."
data.train = "${AHA_DATA_DIR}/math_train.jsonl"
data.eval = "${AHA_DATA_DIR}/math500.jsonl"
data.fields = { question = "problem", answer = ["answer", "solution"] }  # MATH rows have only the solution (its last boxed answer is the gold)
template = "r1"
chat_prompt = "r1_chat"
[[tasks.math.reward]]
name = "correct"
checker = "math"
weight = 1.0
options = { extract = "answer_tag,boxed,answer_is" }
[[tasks.math.reward]]
name = "format"
checker = "format"
weight = 0.1

[tasks.countdown]
description = "Reach the target with + - * / over the given numbers, each at most once."
generator = { name = "countdown", numbers = 4, min = 1, max = 99, target_min = 10, target_max = 999 }
train_count = 10000
eval_count = 500
seed = 1
template = "r1"
chat_prompt = "r1_chat"
[[tasks.countdown.reward]]
name = "correct"
checker = "countdown"
weight = 1.0
[[tasks.countdown.reward]]
name = "format"
checker = "format"
weight = 0.1

[tasks.arith]
description = "Multi-digit arithmetic: a op b with op in + - *."
generator = { name = "arith", min_digits = 2, max_digits = 5, ops = "+-*" }
train_count = 10000
eval_count = 500
seed = 2
template = "r1"
chat_prompt = "r1_chat"
[[tasks.arith.reward]]
name = "correct"
checker = "math"
weight = 1.0
options = { extract = "answer_tag,boxed,answer_is,last_number" }
[[tasks.arith.reward]]
name = "format"
checker = "format"
weight = 0.1

[tasks.mod10_chain]
description = "A start digit and six labelled operations applied left to right, keeping the last digit ('Mod 10: 7a*3b+4c-5...'), in the R1-Zero format: the prompt opens <think>, the completion closes it and answers in <answer></answer>. A tiny model fails to answer at once (chance) and succeeds by writing each step ('a*3=1,b+4=5,...'; see experiments/r1-zero)."
generator = { name = "mod10_chain", ops = 6, labels = true, form = "steps" }
train_count = 20000
eval_count = 200
seed = 11
template = "Mod 10: {question}<think>"
[[tasks.mod10_chain.reward]]
name = "correct"
checker = "math"
weight = 1.0
options = { extract = "answer_tag" }
# The think block may be empty: a direct answer is as well formed as a worked one, so the reward
# favours no way of answering; only the final answer counts.
[[tasks.mod10_chain.reward]]
name = "format"
checker = "format"
weight = 0.1
options = { think_pattern = '^(.*?)</think>', single_think = false }

[tasks.humaneval]
description = "HumanEval: complete the function; the row's check() must pass."
data.eval = "${AHA_DATA_DIR}/humaneval_first82.jsonl"
data.fields = { prompt = "prompt", test = "test", entry_point = "entry_point", canonical_solution = "canonical_solution" }
data.id_field = "task_id"
template = """Complete the following Python function. Reply with the whole function in a ```python code block.
```python
{prompt}```
"""
[[tasks.humaneval.reward]]
name = "correct"
checker = "code"
weight = 1.0
options = { mode = "humaneval", timeout_s = 5.0 }

[tasks.mbpp]
description = "MBPP: write a Python function that passes the asserts (standard split: 11-510 eval, 511-1000 train)."
data.train = "${AHA_DATA_DIR}/mbpp.jsonl"
data.fields = { text = "text", code = "code", test_list = "test_list", test_setup_code = "test_setup_code" }
data.id_field = "task_id"
split.eval_ids = [11, 510]
split.train_ids = [511, 1000]
template = """{text}
Your code should pass these tests:
{test_list}
Reply with the code in a ```python code block."""
[[tasks.mbpp.reward]]
name = "correct"
checker = "code"
weight = 1.0
options = { mode = "mbpp", timeout_s = 5.0 }
)TOML";

}  // namespace aha
