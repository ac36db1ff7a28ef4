#!/usr/bin/env python3
"""Step-time model of a synchronous GRPO step on N GPUs split into learner ranks and rollout
workers (experiments/scaling.md explains every term). Standard library only.

  python3 experiments/slurm/scaling_model.py            # the tables of scaling.md
"""
import math

# Hardware: one H200 SXM (public spec sheet figures; ASSUMED, not measured here).
PEAK_FLOPS = 989e12       # dense BF16
HBM_BW = 4.8e12           # bytes/s
HBM = 141e9               # bytes
NVLINK_BUSBW = 400e9      # NCCL ring all-reduce bus bandwidth inside an 8-GPU node
IB_BUSBW = 45e9           # across nodes: 8 x 400 Gb/s NICs per node, ~90% of 50 GB/s per GPU
NIC_BW = 50e9             # one GPU's NIC, bytes/s (rank 0's when it sends weights)
GPUS_PER_NODE = 8
# Efficiencies (ASSUMED; aha's CPU training kernels reach 56-62% of sgemm, experiments/README.md).
TRAIN_MFU = 0.35
DECODE_COMPUTE_EFF = 0.30
DECODE_MEM_EFF = 0.70
DECODE_STEP_FLOOR = 4e-3  # s: launch + sampling + scheduling per decode step, any batch
# Scoring on CPUs beside the GPUs (MEASURED here, experiments/reward.md, one core): a math check
# 24 us (40,875/s); 16 host cores per GPU.
SCORE_S_PER_SAMPLE = 1 / 40875
CORES_PER_GPU = 16

# Workload (R1-Zero-like): prompt 256 tokens, completions of 1,024 on average and 2,048 at most,
# G = 16, 256 samples per GPU per step (weak scaling: the global batch grows with N).
PROMPT, COMPLETION, MAX_NEW = 256, 1024, 2048
SAMPLES_PER_GPU = 256

MODELS = {
    # name: total params, active params, layers, cache values per token per layer, bytes/weight
    # ~1B: a DeepSeek-V3-style MoE of 1.0B total, 0.3B active, 16 layers, MLA latents 256 + 32.
    "~1B MoE": dict(total=1.0e9, active=0.3e9, layers=16, cache=288, wbytes=2, unit=1),
    # DeepSeek-V3: 671B total, 37B active, 61 layers, 512 + 64 latents, FP8 weights for sampling;
    # one rollout replica needs a node (8 x 141 GB).
    "DeepSeek-V3": dict(total=671e9, active=37e9, layers=61, cache=576, wbytes=1, unit=8),
}


def allreduce_s(nbytes, ranks):
    """Ring all-reduce: 2 (R-1)/R of the buffer crosses the slowest link."""
    if ranks <= 1:
        return 0.0
    bw = NVLINK_BUSBW if ranks <= GPUS_PER_NODE else IB_BUSBW
    return 2 * (ranks - 1) / ranks * nbytes / bw


def gen_s(m, samples, rollout_gpus):
    """Decode of `samples` completions on rollout_gpus, replicas of m['unit'] GPUs each."""
    replicas = rollout_gpus // m["unit"]
    if replicas == 0:
        return math.inf
    per_replica = math.ceil(samples / replicas)
    weights = m["total"] * m["wbytes"]
    kv_room = m["unit"] * HBM * 0.9 - weights
    kv_per_seq = m["layers"] * m["cache"] * 2 * (PROMPT + MAX_NEW)
    batch = max(1, min(per_replica, int(kv_room / kv_per_seq)))
    waves = math.ceil(per_replica / batch)
    ctx = PROMPT + COMPLETION / 2
    step_mem = (weights + batch * ctx * m["layers"] * m["cache"] * 2) / (
        m["unit"] * HBM_BW * DECODE_MEM_EFF)
    step_flops = batch * 2 * m["active"] / (m["unit"] * PEAK_FLOPS * DECODE_COMPUTE_EFF)
    step = max(step_mem, step_flops, DECODE_STEP_FLOOR)
    # A wave lasts as long as its longest completion (MAX_NEW steps): synchronous steps wait.
    return waves * MAX_NEW * step


def train_s(m, samples, learner_gpus):
    tokens = samples * (PROMPT + COMPLETION)
    # Old-log-prob forward (2N), forward + backward (6N) per token.
    return tokens * 8 * m["active"] / (learner_gpus * PEAK_FLOPS * TRAIN_MFU)


def sync_one_copy_s(m, rollout_gpus):
    """Today's weight sync: rank 0 sends one bf16 copy to every rollout replica."""
    return (rollout_gpus // m["unit"]) * m["total"] * 2 / NIC_BW


FANOUT = 2                # rollout.broadcast_fanout: children per node of the relay tree
CHUNK = 1 << 20           # weights_chunk_size, bytes
HOP_S = 100e-6            # per-hop latency of one chunk (ZeroMQ + CURVE, ASSUMED)


def sync_broadcast_s(m, rollout_gpus):
    """The relay tree (rollout/weight_relay.h): every node sends each chunk to FANOUT children
    through its NIC, pipelined chunk by chunk, so the time is FANOUT copies through one NIC plus
    one chunk's store-and-forward per level of the tree."""
    replicas = max(rollout_gpus // m["unit"], 1)
    depth = math.ceil(math.log(replicas * (FANOUT - 1) + 1, FANOUT)) if FANOUT > 1 else replicas
    fan = min(FANOUT, replicas)
    return fan * m["total"] * 2 / NIC_BW + depth * (CHUNK / NIC_BW + HOP_S)


def learner_fits(m, learner_gpus):
    """Replicated data parallelism: weights bf16 + fp32 master, grads fp32, AdamW m and v."""
    return m["total"] * (2 + 4 + 4 + 8) < HBM * 0.8


def step(m, n, learner_gpus, broadcast):
    samples = SAMPLES_PER_GPU * n
    rollout = n - learner_gpus
    t = dict(
        gen=gen_s(m, samples, rollout),
        score=samples * SCORE_S_PER_SAMPLE / (CORES_PER_GPU * n),
        train=train_s(m, samples, learner_gpus),
        allreduce=allreduce_s(m["total"] * 4, learner_gpus),  # fp32 gradients, as aha sends them
        sync=(sync_broadcast_s if broadcast else sync_one_copy_s)(m, rollout),
    )
    t["step"] = sum(t.values())
    return t


def best_split(m, n, broadcast):
    best = None
    unit = m["unit"]
    for learners in range(1, n):
        if (n - learners) % unit:
            continue
        t = step(m, n, learners, broadcast)
        if best is None or t["step"] < best[1]["step"]:
            best = (learners, t)
    return best


def table(name, broadcast):
    m = MODELS[name]
    print(f"\n{name}, weight sync {'by relay tree' if broadcast else 'one copy per worker (star)'}")
    print("| GPUs | learner / rollout | samples | gen s | score s | train s | all-reduce s | sync s |"
          " step s | largest |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in (8, 64, 512, 2048):
        b = best_split(m, n, broadcast)
        if b is None:
            print(f"| {n} | no split fits | | | | | | | | |")
            continue
        learners, t = b
        parts = {k: v for k, v in t.items() if k != "step"}
        top = max(parts, key=parts.get)
        note = "" if learner_fits(m, learners) else " (replica does not fit)"
        print(f"| {n} | {learners} / {n - learners}{note} | {SAMPLES_PER_GPU * n:,} |"
              f" {t['gen']:.1f} | {t['score']:.2f} | {t['train']:.1f} | {t['allreduce']:.2f} |"
              f" {t['sync']:.2f} | {t['step']:.1f} | {top} |")


if __name__ == "__main__":
    for name in MODELS:
        for broadcast in (False, True):
            table(name, broadcast)
