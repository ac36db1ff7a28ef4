"""Open a model trained by aha on tiny_add (prompts `a+b=`) with transformers and compare, prompt by
prompt, aha's greedy completion and per-token log-probs (`aha generate --temperature 0
--show-tokens`) with transformers'. Needs torch + transformers from PyPI:
    python experiments/check_transformers.py build/aha MODEL_DIR [NUM_PROMPTS]
"""
import random, re, subprocess, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

aha, model_dir = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 50
torch.set_num_threads(1)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()
tok = AutoTokenizer.from_pretrained(model_dir)
print(type(model).__name__)
rng = random.Random(7)
worst, same, correct = 0.0, 0, 0
for _ in range(n):
    a, b = rng.randrange(100), rng.randrange(100)
    prompt = f"{a}+{b}="
    out = subprocess.run([aha, "generate", "--model", model_dir, "--prompt", prompt, "-n", "1",
                          "--temperature", "0", "--show-tokens"], check=True, capture_output=True, text=True).stdout
    rows = re.findall(r"id\s+(\d+)\s+logp\s+(\S+)", out)
    aha_ids = [int(i) for i, _ in rows]
    aha_lp = [float(l) for _, l in rows]
    ids = [model.config.bos_token_id] + tok.encode(prompt, add_special_tokens=False)
    with torch.no_grad():
        g = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False,
                           eos_token_id=model.config.eos_token_id, pad_token_id=0)
        hf_ids = g[0, len(ids):].tolist()
        full = torch.tensor([ids + aha_ids])
        lp = torch.log_softmax(model(full).logits[0].float(), -1)
        hf_lp = [lp[len(ids) - 1 + t, aha_ids[t]].item() for t in range(len(aha_ids))]
    same += hf_ids == aha_ids
    worst = max(worst, max(abs(x - y) for x, y in zip(aha_lp, hf_lp)))
    correct += tok.decode(aha_ids, skip_special_tokens=True) == str(a + b)
print(f"{n} prompts: greedy completions equal {same}/{n}, correct {correct}/{n}, "
      f"max |aha logp - transformers logp| {worst:.2e} (aha prints 4 decimals)")
