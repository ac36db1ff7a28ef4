"""PyTorch beside `aha bench model --config 1b --device cuda` (issue 12): transformers'
DeepseekV3ForCausalLM with the shapes of aha's config_1b (policy/config_presets.h; keep the two in step),
random weights in bf16 on the GPU, forward+backward of the same batch (B sequences of T tokens),
eager and, when it works, torch.compile. Prints one line per mode:
    torch <mode> tok/s <x> peak_GiB <y>
which experiments/gpu/check.sh divides aha's tok/s by. Without torch, transformers or a GPU it says
so and exits 0 (the check reports the comparison as not run).
Usage: python3 experiments/gpu/bench_torch.py [--batch 8] [--seq-len 512] [--steps 10] [--no-compile]

With --attention (beside bench_kernels' attention lines): torch's scaled_dot_product_attention,
causal, bf16, on the same shapes (8 x 1024 tokens, 16 heads, head dims 192 / 128). Prints
    torch sdpa attention forward ms <x> backward ms <y> backend <name>

With --generate (issue 13, beside `aha bench rollout --config 1b --device cuda`): transformers'
generate() of the same model, greedy with its KV cache, for each --generate-batch of prompts of
--prompt-len random tokens and exactly --max-new-tokens new tokens. Prints one line per batch:
    torch generate batch <B> tok/s <x>
"""
import argparse, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq-len", type=int, default=512)
ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--no-compile", action="store_true")
ap.add_argument("--count-params", action="store_true", help="print the parameter count (meta device) and exit")
ap.add_argument("--generate", action="store_true", help="time generate() instead of training")
ap.add_argument("--generate-batch", type=int, nargs="+", default=[1, 64, 256])
ap.add_argument("--prompt-len", type=int, default=16)
ap.add_argument("--max-new-tokens", type=int, default=64)
ap.add_argument("--attention", action="store_true", help="time torch's SDPA on bench_kernels' shapes")
args = ap.parse_args()

if args.attention:
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:
        print(f"torch attention not run: {e}")
        sys.exit(0)
    if not torch.cuda.is_available():
        print("torch attention not run: torch sees no CUDA device")
        sys.exit(0)
    torch.manual_seed(0)
    B, NH, T, DQK, DV = 8, 16, 1024, 192, 128
    q, k = (torch.randn(B, NH, T, DQK, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(2))
    v = torch.randn(B, NH, T, DV, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    dout = torch.randn(B, NH, T, DV, device="cuda", dtype=torch.bfloat16)

    def timed(fn, reps=10):
        fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(reps):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b))
        return sorted(times)[len(times) // 2]  # the median, as bench_kernels

    try:
        fwd = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        both = timed(lambda: torch.autograd.grad(
            F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v), dout))
        backend = "unknown"
        try:  # which kernel torch chose, where the profiler names it
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
                F.scaled_dot_product_attention(q, k, v, is_causal=True)
                torch.cuda.synchronize()
            names = [e.name for e in prof.events() if "attention" in e.name.lower() or "fmha" in e.name.lower()]
            backend = names[0][:60].replace(" ", "_") if names else "math"
        except Exception:
            pass
        print(f"torch sdpa attention forward ms {fwd:.3f} backward ms {both - fwd:.3f} backend {backend}")
    except Exception as e:
        print(f"torch attention failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    sys.exit(0)

try:
    import torch
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM
except Exception as e:  # a machine without them: the comparison is skipped, not failed
    print(f"torch comparison not run: {e}")
    sys.exit(0)

# aha's config_1b: V 32000, C 1024, L 18 (the first dense), 16 MLA heads (latent 512 + rope 64,
# nope 128, v 128), 32 experts top-4 + 1 shared.
cfg = DeepseekV3Config(
    vocab_size=32000, hidden_size=1024, num_hidden_layers=18, num_attention_heads=16,
    num_key_value_heads=16, q_lora_rank=384, kv_lora_rank=512, qk_nope_head_dim=128,
    qk_rope_head_dim=64, v_head_dim=128, intermediate_size=2816, moe_intermediate_size=512,
    n_routed_experts=32, n_shared_experts=1, num_experts_per_tok=4, first_k_dense_replace=1,
    n_group=1, topk_group=1, max_position_embeddings=4096, tie_word_embeddings=False)
cfg._attn_implementation = "eager"

if args.count_params:
    with torch.device("meta"):
        m = DeepseekV3ForCausalLM(cfg)
    print(f"params {sum(p.numel() for p in m.parameters())}")
    sys.exit(0)

if not torch.cuda.is_available():
    print("torch comparison not run: torch sees no CUDA device")
    sys.exit(0)

torch.manual_seed(0)
dev = torch.device("cuda")
model = DeepseekV3ForCausalLM(cfg).to(device=dev, dtype=torch.bfloat16)

if args.generate:
    model.eval()
    for gb in args.generate_batch:
        try:
            ids = torch.randint(0, cfg.vocab_size, (gb, args.prompt_len), device=dev)
            kw = dict(max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens,
                      do_sample=False, use_cache=True, pad_token_id=0)
            with torch.no_grad():
                model.generate(ids, max_new_tokens=2, min_new_tokens=2, do_sample=False,
                               use_cache=True, pad_token_id=0)  # warm-up
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                out = model.generate(ids, **kw)
                torch.cuda.synchronize()
            el = time.perf_counter() - t0
            new = (out.shape[1] - args.prompt_len) * gb
            print(f"torch generate batch {gb} tok/s {new / el:.0f}", flush=True)
        except Exception as e:
            print(f"torch generate batch {gb} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    sys.exit(0)

model.train()
B, T = args.batch, args.seq_len
ids = torch.randint(0, cfg.vocab_size, (B, T), device=dev)


def step(fn):
    out = fn(input_ids=ids, labels=ids)
    out.loss.backward()
    model.zero_grad(set_to_none=True)


def bench(name, fn):
    try:
        torch.cuda.reset_peak_memory_stats()
        for _ in range(2):  # warm-up (and compilation)
            step(fn)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step(fn)
        torch.cuda.synchronize()
        el = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(f"torch {name} tok/s {B * T * args.steps / el:.0f} peak_GiB {peak:.2f}", flush=True)
    except Exception as e:  # torch.compile may not work on this image: say so, keep eager's figure
        print(f"torch {name} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


bench("eager", model)
if not args.no_compile:
    bench("compile", torch.compile(model))
