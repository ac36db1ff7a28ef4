"""aha beside PyTorch eager and TRL on the same model, task and batch (a benchmark, not a test).

Runs, each side by side in this one process tree, PyTorch at --torch-threads (default 2):
  learner  aha's GRPO learner update (aha bench learner) vs PyTorch eager forward+backward+AdamW
           of the same GRPO loss on the same batch shape (experiments/base-arith, 512 x 11 tokens)
  model    100m config forward+backward tok/s (aha bench model --config 100m) vs PyTorch eager,
           --rounds interleaved rounds (aha, then PyTorch, per round), median ratio
  generate decode tok/s at batch 256 (aha bench rollout) vs transformers generate()
  grpo     the tiny_add run (aha train experiments/base-arith/train.toml, 64 prompts x 8, 6 new tokens) vs TRL's
           GRPOTrainer with the same hyperparameters: seconds per step, and held-out accuracy of
           both trained models on the same 200 prompts x 4 samples at the same step
and prints aha's speed-up over each. With bf16 in --gemm-precision (the default), learner and
model also run aha with bf16 GEMMs (`--gemm-precision bf16`: oneDNN on AMX, fp32 accumulation)
against PyTorch fp32 AND PyTorch under torch.autocast("cpu", dtype=torch.bfloat16), the fair
comparison; each row says which. Usage (see README.md beside this file):
  /work/venv-peers/bin/python experiments/peers/peers.py --aha build/aha [--only learner,model]
"""
import argparse, json, os, random, re, shutil, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--aha", default="build/aha")
ap.add_argument("--model", default="experiments/base-arith")
ap.add_argument("--only", default="learner,model,generate,grpo")
ap.add_argument("--torch-threads", type=int, default=2)
ap.add_argument("--steps", type=int, default=50, help="GRPO steps of both runs (built-in: 400)")
ap.add_argument("--workdir", default=None)
ap.add_argument("--rounds", type=int, default=3, help="interleaved aha/PyTorch rounds of `model`")
ap.add_argument("--gemm-precision", default="fp32,bf16",
                help="aha GEMM precisions for learner and model (bf16: also PyTorch autocast)")
args = ap.parse_args()

import torch
torch.set_num_threads(args.torch_threads)
from transformers import AutoModelForCausalLM, AutoTokenizer

work = args.workdir or tempfile.mkdtemp(prefix="aha-peers-")
os.makedirs(work, exist_ok=True)
only = set(args.only.split(","))
results = []
precisions = args.gemm_precision.split(",")


def aha(*a):
    out = subprocess.run([args.aha, *a], check=True, capture_output=True, text=True).stdout
    return out


def report(name, aha_v, torch_v, unit, higher_better, target, ratio=None):
    if ratio is None:
        ratio = aha_v / torch_v if higher_better else torch_v / aha_v
    results.append((name, aha_v, torch_v, unit, ratio, target))
    print(f"  {name}: aha {aha_v:.4g} {unit}, peer {torch_v:.4g} {unit}: aha {ratio:.2f}x "
          f"(target {target}x) {'MET' if ratio >= target else 'NOT MET'}", flush=True)


def load(path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32,
                                                attn_implementation="eager")


def timed(fn, seconds=3.0, min_iters=3):
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < min_iters:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def bf16_ok():
    r = subprocess.run([args.aha, "bench", "sgemm", "--n", "64", "--gemm-precision", "bf16"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"  bf16 skipped: {r.stderr.strip()}", flush=True)
    return r.returncode == 0


if "bf16" in precisions and not bf16_ok():
    precisions.remove("bf16")


def autocast(on):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=on)


def backend():
    out = aha("bench", "sgemm", "--n", "256")
    return out.strip()


print(f"torch {torch.__version__} ({args.torch_threads} threads); aha: "
      f"{aha('bench', 'sgemm', '--n', '512', '--plain').strip()} (sgemm GFLOP/s, OpenBLAS core)", flush=True)

# --- learner update: 512 sequences of 7 prompt + 4 completion tokens ------------------------
if "learner" in only:
    S, P, C = 512, 7, 4
    aha_s = {}
    for p in precisions:
        out = aha("bench", "learner", "--model", args.model, "--sequences", str(S), "--prompt-len",
                  str(P), "--completion-len", str(C), "--gemm-precision", p)
        aha_s[p] = float(re.search(r"learner update: ([\d.]+) s", out).group(1))
    model = load(args.model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=0.0)
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(0, model.config.vocab_size, (S, P + C), generator=g)
    adv = torch.tensor([1.0 if i % 2 else -1.0 for i in range(S)]).unsqueeze(1)

    amp = False

    def step():
        with autocast(amp):
            logits = model(ids).logits[:, P - 1:-1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, ids[:, P:].unsqueeze(-1)).squeeze(-1)
        ratio = torch.exp(logp - logp.detach())
        loss = -torch.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    torch_s = timed(step)
    print(f"learner update, {S} x ({P}+{C}) tokens:")
    if "fp32" in precisions:
        report("learner update", aha_s["fp32"], torch_s, "s", False, 1.5)
    if "bf16" in precisions:
        amp = True
        torch_amp_s = timed(step)
        report("learner aha-bf16 vs torch-fp32", aha_s["bf16"], torch_s, "s", False, 1.5)
        report("learner aha-bf16 vs torch-autocast-bf16", aha_s["bf16"], torch_amp_s, "s", False,
               1.5)

# --- 100m config forward+backward -------------------------------------------------------------
# Interleaved rounds (aha fp32, aha bf16, torch fp32, torch autocast per round) and median ratios,
# so a load drift on the shared machine hits both sides of a ratio alike.
if "model" in only:
    B, T = 4, 128
    d = os.path.join(work, "m100")
    shutil.rmtree(d, ignore_errors=True)
    aha("init", "--config", "100m", "--out", d)
    model = load(d).train()
    ids = torch.randint(0, model.config.vocab_size, (B, T), generator=torch.Generator().manual_seed(2))

    amp = False

    def fb():
        with autocast(amp):
            logits = model(ids).logits[:, :-1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:].unsqueeze(-1))
        model.zero_grad(set_to_none=True)
        (-logp.mean()).backward()

    def aha_model(p):
        out = aha("bench", "model", "--config", "100m", "--batch", str(B), "--seq-len", str(T),
                  "--gemm-precision", p, "--sgemm-ref", "1", "--steps", "6")
        row = [l for l in out.splitlines() if l.startswith("100m ")][0].split()
        return float(row[4])

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else 0.5 * (xs[len(xs) // 2 - 1] + xs[len(xs) // 2])

    rounds = {k: [] for k in ("fp32", "bf16", "torch", "torch_amp")}
    for r in range(args.rounds):
        for p in precisions:
            rounds[p].append(aha_model(p))
        amp = False
        rounds["torch"].append(B * T / timed(fb, seconds=4.0, min_iters=2))
        if "bf16" in precisions:
            amp = True
            rounds["torch_amp"].append(B * T / timed(fb, seconds=4.0, min_iters=2))
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rounds.items() if v)
              + " tok/s", flush=True)

    def median_ratio(a, b):
        return median([x / y for x, y in zip(rounds[a], rounds[b])])

    print(f"100m forward+backward, {B} x {T} tokens, {args.rounds} interleaved rounds "
          f"(medians; ratios are medians of per-round ratios):")
    if "fp32" in precisions:
        report("100m fwd+bwd", median(rounds["fp32"]), median(rounds["torch"]), "tok/s", True,
               1.5, median_ratio("fp32", "torch"))
    if "bf16" in precisions:
        report("100m aha-bf16 vs torch-fp32", median(rounds["bf16"]), median(rounds["torch"]),
               "tok/s", True, 1.5, median_ratio("bf16", "torch"))
        report("100m aha-bf16 vs torch-autocast-bf16", median(rounds["bf16"]),
               median(rounds["torch_amp"]), "tok/s", True, 1.5, median_ratio("bf16", "torch_amp"))

# --- generation at batch 256 --------------------------------------------------------------
if "generate" in only:
    B, P, NEW = 256, 16, 64
    out = aha("bench", "rollout", "--model", args.model, "--max-new-tokens", str(NEW))
    aha_tok = float(re.search(r"^\s+256\s+(\d+)", out, re.M).group(1))
    model = load(args.model).eval()
    V = model.config.vocab_size
    ids = torch.tensor([[(b * 31 + t * 7) % V for t in range(P)] for b in range(B)])

    def gen():
        with torch.no_grad():
            model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True,
                           temperature=1.0, max_new_tokens=NEW, min_new_tokens=NEW,
                           pad_token_id=0, eos_token_id=None)

    torch_tok = B * NEW / timed(gen, seconds=5.0, min_iters=1)
    print(f"generation, batch {B}, {P}-token prompts, {NEW} new tokens:")
    report("generate b256", aha_tok, torch_tok, "tok/s", True, 2.0)

# --- the built-in GRPO run vs TRL ------------------------------------------------------------
def heldout_prompts():
    # aha's held-out split of tiny_add, as aha writes it (one JSON object per sample).
    f = os.path.join(work, "heldout.jsonl")
    subprocess.run([args.aha, "eval", "--model", args.model, "--task", "tiny_add", "-k", "1",
                    "--samples-out", f], check=True, capture_output=True)
    seen, out = set(), []
    for line in open(f):
        r = json.loads(line)
        if r["prompt_id"] not in seen:
            seen.add(r["prompt_id"])
            out.append(r["prompt"])
    return out


def accuracy(model_dir, prompts, samples=4):
    """Held-out pass@1 of a model directory with transformers sampling at temperature 1."""
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = load(model_dir).eval()
    torch.manual_seed(0)
    correct = 0
    for p in prompts:
        a, b = map(int, re.findall(r"\d+", p)[-2:])
        ids = torch.tensor([tok.encode(p, add_special_tokens=False)] * samples)
        with torch.no_grad():
            g = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True,
                               temperature=1.0, max_new_tokens=6, pad_token_id=0,
                               eos_token_id=model.config.eos_token_id)
        for row in g[:, ids.shape[1]:]:
            nums = re.findall(r"-?\d+", tok.decode(row, skip_special_tokens=True))
            correct += bool(nums) and int(nums[-1]) == a + b
    return correct / (samples * len(prompts))


if "grpo" in only:
    steps = args.steps
    run_dir = os.path.join(work, "aha-run")
    shutil.rmtree(run_dir, ignore_errors=True)
    t0 = time.perf_counter()
    out = subprocess.run([args.aha, "train", "experiments/base-arith/train.toml", "--run-dir", run_dir, "--set", f"run.steps={steps}",
                          "--set", f"run.eval_every={steps}", "--set", "run.progress=false"],
                         check=True, capture_output=True, text=True).stdout
    aha_wall = time.perf_counter() - t0
    import sqlite3
    db = sqlite3.connect(os.path.join(run_dir, "rollouts.db"))
    t = [r[0] for r in db.execute("SELECT t_gen + t_reward + t_train + t_sync FROM steps ORDER BY step")]
    aha_step = sum(t[1:]) / max(1, len(t) - 1)

    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    from transformers import TrainerCallback
    tok = AutoTokenizer.from_pretrained(args.model)
    bos = tok.bos_token
    rng = random.Random(1)
    rows = [{"prompt": f"{bos}{a}+{b}=", "answer": str(a + b)}
            for a, b in ((rng.randrange(100), rng.randrange(100)) for _ in range(64 * steps))]

    def correct(completions, answer, **kw):
        out = []
        for c, ans in zip(completions, answer):
            nums = re.findall(r"-?\d+", c)
            out.append(1.0 if nums and nums[-1] == ans else 0.0)
        return out

    class StepTimes(TrainerCallback):
        def __init__(self):
            self.t = []
            self.last = None

        def on_step_begin(self, a, s, c, **kw):
            self.last = time.perf_counter()

        def on_step_end(self, a, s, c, **kw):
            self.t.append(time.perf_counter() - self.last)

    cfg = GRPOConfig(output_dir=os.path.join(work, "trl-run"), learning_rate=2e-4,
                     adam_beta1=0.9, adam_beta2=0.95, adam_epsilon=1e-8, weight_decay=0.0,
                     max_grad_norm=1.0, lr_scheduler_type="constant", warmup_steps=0,
                     per_device_train_batch_size=512, gradient_accumulation_steps=1,
                     num_generations=8, max_completion_length=6, temperature=1.0, beta=0.0,
                     epsilon=0.2, loss_type="dapo", max_steps=steps, logging_steps=10,
                     save_strategy="no", report_to=[], use_cpu=True, bf16=False,
                     seed=0, dataloader_num_workers=0, disable_tqdm=True)
    timer = StepTimes()
    trainer = GRPOTrainer(model=load(args.model), reward_funcs=correct, args=cfg,
                          train_dataset=Dataset.from_list(rows), processing_class=tok,
                          callbacks=[timer])
    t0 = time.perf_counter()
    trainer.train()
    trl_wall = time.perf_counter() - t0
    trl_dir = os.path.join(work, "trl-model")
    trainer.save_model(trl_dir)
    tok.save_pretrained(trl_dir)
    trl_step = sum(timer.t[1:]) / max(1, len(timer.t) - 1)
    print(f"GRPO, tiny_add, 64 prompts x 8, {steps} steps (aha wall {aha_wall:.0f} s, "
          f"TRL wall {trl_wall:.0f} s):")
    report("GRPO step", aha_step, trl_step, "s", False, 2.0)
    prompts = heldout_prompts()
    acc_aha = accuracy(os.path.join(run_dir, "final-model"), prompts)
    acc_trl = accuracy(trl_dir, prompts)
    acc_base = accuracy(args.model, prompts)
    print(f"  held-out accuracy at step {steps} (same 200 prompts x 4 samples, transformers "
          f"sampling): base {100 * acc_base:.1f}%, aha {100 * acc_aha:.1f}%, TRL {100 * acc_trl:.1f}%")

print("\nsummary (aha speed-up over the peer; machine shared, figures noisy):")
for name, a, t, unit, ratio, target in results:
    print(f"  {name:40s} {ratio:5.2f}x  (target {target}x)")
