#!/usr/bin/env bash
# The device check of issue 12, for a GPU machine with the CUDA toolkit, CMake and PyTorch but no
# package registry: builds the GPU targets, runs every gpu test, runs the GPU benchmark when this
# build has one, and prints one summary. Aims to finish within 8 minutes.
#
# What it needs that such a machine lacks is fetched here first, into folders git ignores:
#   bash experiments/gpu/fetch.sh          # .cache/cutlass (CUTLASS wheel), .cache/flashinfer/0.7.4
#                                          # (FlashInfer's headers + libcudacxx, unpacked),
#                                          # .cache/gpu-debs (OpenBLAS, doctest, nlohmann-json),
#                                          # .cache/aha-bundle.tar.xz (aha built here + its libraries)
# then, with the device tool (it carries ignored folders, 64 MiB at most; these are ~55 MiB):
#   run(command="bash experiments/gpu/check.sh", timeout_s=540,
#       carry=[".cache/cutlass/nvidia_cutlass-4.2.0.0-py3-none-any.whl",
#              ".cache/flashinfer/0.7.4", ".cache/gpu-debs", ".cache/aha-bundle.tar.xz"])
# (not ".cache/flashinfer" itself: it holds the 100 MB wheel). Without the FlashInfer folder the
# build warns and the MLA decode attention runs our own kernel only (the summary says which).
# On a machine that already has the Debian packages (.ci/setup), no carried folder is needed.
#
# Builds in build-gpu/ (AHA_GPU_ONLY: kernels, CUDA twins, the model, the learner's update, gpu
# tests (test_cuda_learner among them: GRPO updates on CPU and CUDA compared; test_cuda_learner_nccl
# and, with two GPUs, test_cuda_learner_dp2: data-parallel CUDA ranks over NCCL), and bench_kernels,
# which times each twin on DeepSeek-V3-like shapes, and bench_model, `aha bench model` without the
# aha binary). The model benchmark (100m, then the ~1B config beside transformers'
# DeepseekV3ForCausalLM via bench_torch.py when python3 has torch and transformers) runs from that
# build. The train smoke (the built-in run, `aha train --device cuda`) needs the whole aha binary:
# built here when every Debian package is present, else the carried bundle; the summary says why
# it did not run otherwise (AHA_CHECK_BENCH=0 skips the benchmarks and the smoke). The same aha
# runs issue 13's rollout benchmark first (`aha bench rollout --config 1b --device cuda`: decode
# tok/s at batch 1..512, the share of the copy bandwidth, transformers' generate() beside it;
# AHA_CHECK_ROLLOUT=0 skips it; its tests, test_cuda_engine, run with the gpu tests), then the
# batch-invariant mode's cost (100m, batch 1 and 64, with and without; AHA_CHECK_INVARIANT=0;
# AHA_CHECK_TESTS=REGEX limits the gpu tests to those it matches), and after the train smoke the
# weight handoff (learner and CUDA engine sharing a GPU, in one process and across two through
# CUDA IPC; AHA_CHECK_HANDOFF=0 skips it), and, with 100 s left, the 1b model at 16 x 1024 tokens
# beside PyTorch eager. With time left the train smoke
# is the whole run, whose held-out accuracy is compared with the CPU run's, else 3 steps. Exit
# status 0 only when the build succeeded, every gpu test ran and passed, and the train run (when
# it ran) finished.
set -uo pipefail
cd "$(dirname "$0")/../.."
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
# The whole check keeps within AHA_CHECK_SECONDS (8 minutes): each later step's limit is cut to
# what is left, so a slow step costs the ones after it, never the summary and the logs.
budget=${AHA_CHECK_SECONDS:-480}
cap() {
  local left=$((budget - $(elapsed) - 15))
  if [ "$1" -lt "$left" ]; then echo "$1"; elif [ "$left" -gt 5 ]; then echo "$left"; else echo 5; fi
}
export PATH=/usr/local/cuda/bin:$PATH
jobs=$(nproc)
summary=()
status=0

gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
summary+=("gpu: ${gpu:-none found}")
summary+=("nvcc: $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p') cmake: $(cmake --version | head -1 | awk '{print $3}')")

# CPU references (OpenBLAS) and doctest from carried .debs, unpacked beside the tree, not into /.
root=$PWD/.cache/gpu-root
extra=()
if compgen -G ".cache/gpu-debs/*.deb" >/dev/null; then
  mkdir -p "$root"
  for f in .cache/gpu-debs/*.deb; do dpkg-deb -x "$f" "$root"; done
  arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  libdirs="$root/usr/lib/$arch/openblas-pthread:$root/usr/lib/$arch"
  export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  extra=(-DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,${libdirs}")
fi

# NCCL: the toolkit's, else the one PyTorch's image carries as a pip package (nvidia-nccl-*), whose
# library has only its versioned name, so find_library would miss it.
if ! ls /usr/local/cuda/lib64/libnccl.so* /usr/lib/*/libnccl.so* >/dev/null 2>&1; then
  nccl_dir=$(python3 -c "import nvidia.nccl as m; print(list(m.__path__)[0])" 2>/dev/null)
  nccl_lib=$(ls "$nccl_dir"/lib/libnccl.so* 2>/dev/null | head -1)
  if [ -n "$nccl_lib" ] && [ -f "$nccl_dir/include/nccl.h" ]; then
    extra+=(-DAHA_NCCL_LIBRARY="$nccl_lib" -DAHA_NCCL_INCLUDE="$nccl_dir/include")
  fi
fi

echo "== configure (GPU-only build in build-gpu)"
mkdir -p build-gpu
if cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DAHA_GPU_ONLY=ON \
     -DCMAKE_CUDA_ARCHITECTURES=90 "${extra[@]}" >build-gpu/check-configure.log 2>&1; then
  grep "aha:" build-gpu/check-configure.log
else
  cat build-gpu/check-configure.log
  summary+=("configure: FAILED (build-gpu/check-configure.log)")
  status=1
fi

if [ $status -eq 0 ]; then
  echo "== build"
  b0=$(date +%s)
  if timeout 360 cmake --build build-gpu -j "$jobs" >build-gpu/check-build.log 2>&1; then
    cutlass=absent
    [ -f build-gpu/kernels/libaha_kernels_cutlass.a ] && cutlass=built
    flashinfer=absent
    [ -f build-gpu/kernels/libaha_kernels_flashinfer.a ] && flashinfer=built
    summary+=("build: ok in $(($(date +%s) - b0)) s on $jobs cores (CUTLASS grouped GEMM: $cutlass, FlashInfer MLA decode: $flashinfer)")
  else
    grep -E "error|FAILED" build-gpu/check-build.log | head -40
    summary+=("build: FAILED after $(($(date +%s) - b0)) s (build-gpu/check-build.log)")
    status=1
  fi
fi

if [ $status -eq 0 ]; then
  echo "== gpu tests"
  # In parallel: each test takes a small share of the GPU's memory and time.
  # AHA_CHECK_TESTS=REGEX runs only the gpu tests it matches (a quick rerun after a fix).
  only=()
  [ -n "${AHA_CHECK_TESTS:-}" ] && only=(-R "$AHA_CHECK_TESTS")
  timeout $(cap 240) ctest --test-dir build-gpu -L gpu ${only[@]+"${only[@]}"} -j 6 --output-on-failure --timeout 120 2>&1 |
    tee build-gpu/check-ctest.log | grep -E "Test +#|tests passed|tests failed"
  # A failed test again under compute-sanitizer (memcheck), while time is left: names the kernel
  # and the access when one reads or writes out of bounds.
  for name in $(sed -n 's/.* - \(test_[a-z0-9_]*\) .*(\(Failed\|SEGFAULT\|Exception\|Timeout\)).*/\1/p' \
                  build-gpu/check-ctest.log | head -3); do
    [ "$(elapsed)" -gt $((budget * 5 / 8)) ] && break
    command -v compute-sanitizer >/dev/null || break
    exe=$(find build-gpu/tests -name "$name" -type f -perm -u+x | head -1)
    [ -n "$exe" ] || continue
    echo "== $name under compute-sanitizer"
    timeout $(cap 60) compute-sanitizer --print-limit 10 "$exe" >"build-gpu/check-sanitizer-$name.log" 2>&1
    grep -E "ERROR SUMMARY|Invalid|at .*\(|by thread" "build-gpu/check-sanitizer-$name.log" | head -12
  done
  summary+=("gpu tests: $(grep -E 'tests passed|tests failed' build-gpu/check-ctest.log | tail -1)")
  grep -E "^\s+[0-9]+ - .*(Failed|Not Run|Timeout|SEGFAULT|Exception)" build-gpu/check-ctest.log | sed 's/^/  /' >build-gpu/check-failed.txt || true
  while read -r line; do summary+=("$line"); done <build-gpu/check-failed.txt
  grep -q "100% tests passed" build-gpu/check-ctest.log || status=1
  # Skips that are expected here: the two-GPU data-parallel test on a one-GPU machine, the NCCL
  # tests in a build without NCCL (the configure line says). Any other skip fails the check.
  ngpu=$(nvidia-smi -L 2>/dev/null | grep -c "^GPU")
  have_nccl=0
  grep -q "aha: NCCL found" build-gpu/check-configure.log && have_nccl=1
  while read -r line; do
    name=$(echo "$line" | sed -n 's/.* - \(test_[a-z0-9_]*\) .*/\1/p')
    if [ "$name" = test_cuda_learner_dp2 ] && [ "$ngpu" -lt 2 ] && [ $have_nccl = 1 ]; then
      summary+=("gpu tests: $name skipped (needs 2 GPUs, this machine has $ngpu)")
    elif [[ "$name" == test_cuda_learner_nccl || "$name" == test_cuda_learner_dp2 ]] && [ $have_nccl = 0 ]; then
      summary+=("gpu tests: $name skipped (this build found no NCCL: data-parallel CUDA ranks not checked)")
    else
      summary+=("gpu tests: ${name:-a test} SKIPPED unexpectedly (no CUDA device seen by it?)")
      status=1
    fi
  done < <(grep "(Skipped)" build-gpu/check-ctest.log)
fi

if [ "${AHA_CHECK_BENCH:-1}" != 0 ] && { [ $status -eq 0 ] || [ -x build-gpu/experiments/gpu/bench_kernels ]; }; then
  echo "== kernel timings (bench_kernels)"
  if timeout $(cap 180) build-gpu/experiments/gpu/bench_kernels 2>&1 | tee build-gpu/check-bench-kernels.log; then
    while read -r line; do summary+=("  $line"); done < <(grep -E "ms|device" build-gpu/check-bench-kernels.log)
    # torch's SDPA on the same attention shapes, for the ratio to attention_*_cuda.
    timeout $(cap 40) python3 experiments/gpu/bench_torch.py --attention 2>&1 | grep -E "^torch " | tail -1 |
      tee build-gpu/check-bench-torch-attention.log
    summary+=("  $(cat build-gpu/check-bench-torch-attention.log)")
  else
    summary+=("bench_kernels: FAILED or no device (build-gpu/check-bench-kernels.log)")
  fi
fi

echo "== model benchmark (bench_model: aha bench model from the GPU-only build)"
bm=build-gpu/experiments/gpu/bench_model
if [ "${AHA_CHECK_BENCH:-1}" = 0 ]; then
  summary+=("model benchmark: skipped (AHA_CHECK_BENCH=0)")
elif [ ! -x $bm ]; then
  summary+=("model benchmark: not built (see the build line)")
else
  if timeout $(cap 60) $bm --config 100m --device cuda --batch 8 --seq-len 512 --steps 5 \
       >build-gpu/check-bench.log 2>&1; then
    cat build-gpu/check-bench.log
    summary+=("100m (8 x 512 tokens): $(grep -E '^100m|device memory' build-gpu/check-bench.log | tr -s ' ' | tr '\n' ';')")
  else
    tail -5 build-gpu/check-bench.log
    summary+=("100m benchmark: FAILED or timed out (build-gpu/check-bench.log)")
  fi
  # The ~1B DeepSeek-V3-style config beside transformers' DeepseekV3ForCausalLM (same shapes and
  # batch, bf16, eager and torch.compile): tok/s, share of the bf16 peak, peak memory, ratio.
  b1=(--batch 8 --seq-len 512)
  if timeout $(cap 120) $bm --config 1b --device cuda --steps 3 "${b1[@]}" \
       >build-gpu/check-bench-1b.log 2>&1; then
    cat build-gpu/check-bench-1b.log
    aha_tok=$(awk '$1 == "1b" {print $5}' build-gpu/check-bench-1b.log)
    summary+=("1b (8 x 512 tokens): $(grep -E '^1b|device memory' build-gpu/check-bench-1b.log | tr -s ' ' | tr '\n' ';')")
    torch_opts=()
    [ "$(elapsed)" -gt 300 ] && torch_opts=(--no-compile)  # keep the whole check within 8 minutes
    timeout $(cap 150) python3 experiments/gpu/bench_torch.py "${b1[@]}" --steps 5 "${torch_opts[@]}" \
      2>&1 | tee build-gpu/check-bench-torch.log | tail -5
    while read -r mode tok peak; do
      summary+=("  vs torch $mode: ${tok} tok/s, peak ${peak} GiB; aha/torch = $(awk -v a="$aha_tok" -v t="$tok" 'BEGIN { if (t > 0) printf "%.2f", a / t; else print "n/a" }')")
    done < <(awk '$1 == "torch" && $3 == "tok/s" {print $2, $4, $6}' build-gpu/check-bench-torch.log)
    while read -r l; do summary+=("  $l"); done < <(grep -hE "not run|failed" build-gpu/check-bench-torch.log | head -2)
  else
    tail -5 build-gpu/check-bench-1b.log
    summary+=("1b benchmark: FAILED or timed out (build-gpu/check-bench-1b.log)")
  fi
fi

echo "== train smoke (the whole aha)"
# The whole aha needs every Debian package: built here when they are all present, else taken from
# .cache/aha-bundle.tar.xz (fetch.sh: aha built on Debian with the libraries it links that a
# PyTorch image lacks; NCCL and the CUDA libraries come from this machine).
need=(libzmq re2 ginac libseccomp openblas)
aha=""
if [ "${AHA_CHECK_BENCH:-1}" = 0 ]; then
  summary+=("train smoke: skipped (AHA_CHECK_BENCH=0)")
elif command -v pkg-config >/dev/null && pkg-config --exists "${need[@]}" 2>/dev/null; then
  if timeout 240 cmake -S . -B build-gpu-full -G Ninja -DCMAKE_BUILD_TYPE=Release \
       -DCMAKE_CUDA_ARCHITECTURES=90 -DBUILD_TESTING=OFF >/dev/null 2>&1 &&
     timeout 240 cmake --build build-gpu-full --target aha -j "$jobs" >build-gpu/check-full-build.log 2>&1; then
    aha=./build-gpu-full/aha
  else
    summary+=("train smoke: skipped (the full aha build failed: build-gpu/check-full-build.log)")
  fi
elif [ -f .cache/aha-bundle.tar.xz ]; then
  rm -rf .cache/aha-bundle && mkdir -p .cache/aha-bundle && tar xJf .cache/aha-bundle.tar.xz -C .cache/aha-bundle
  nccl_lib=$(python3 -c "import nvidia.nccl as m; print(list(m.__path__)[0])" 2>/dev/null)/lib
  export LD_LIBRARY_PATH="$PWD/.cache/aha-bundle/lib:$nccl_lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if missing=$(ldd .cache/aha-bundle/aha | grep "not found"); [ -z "$missing" ]; then
    aha=.cache/aha-bundle/aha
    summary+=("aha bundle: built from $(tr '\n' ' ' <.cache/aha-bundle/COMMIT 2>/dev/null || echo '?')(fetch.sh; rerun it after changing the tree)")
  else
    summary+=("train smoke: skipped (the carried aha lacks libraries here: $(echo "$missing" | awk '{print $1}' | tr '\n' ' '))")
  fi
else
  summary+=("train smoke: skipped (aha needs the Debian packages of .ci/setup, or .cache/aha-bundle.tar.xz from fetch.sh)")
fi
if [ -n "$aha" ] && [ "${AHA_CHECK_ROLLOUT:-1}" != 0 ]; then
  # Issue 13: the CUDA engine's decode tokens/s against batch size for the ~1B config, the bytes a
  # step reads against the copy bandwidth, and transformers' generate() on the same config.
  echo "== rollout benchmark (aha bench rollout --config 1b --device cuda)"
  rb=(--prompt-len 16 --max-new-tokens 64)
  if timeout $(cap 150) "$aha" bench rollout --config 1b --device cuda --batch 1 16 64 256 512 "${rb[@]}" \
       >build-gpu/check-bench-rollout.log 2>&1; then
    cat build-gpu/check-bench-rollout.log
    while read -r l; do summary+=("  rollout: $l"); done < <(grep -E "^ +[0-9]+ |copy bandwidth|cache bytes" build-gpu/check-bench-rollout.log)
    timeout $(cap 120) python3 experiments/gpu/bench_torch.py --generate --generate-batch 1 64 256 "${rb[@]}" \
      2>&1 | tee build-gpu/check-bench-torch-generate.log | tail -4
    while read -r gb tok; do
      ours=$(awk -v b="$gb" '$1 == b {print $2}' build-gpu/check-bench-rollout.log)
      summary+=("  vs torch generate() batch $gb: ${tok} tok/s; aha/torch = $(awk -v a="$ours" -v t="$tok" 'BEGIN { if (t > 0 && a > 0) printf "%.1f", a / t; else print "n/a" }')")
    done < <(awk '$1 == "torch" && $2 == "generate" && $5 == "tok/s" {print $4, $6}' build-gpu/check-bench-torch-generate.log)
  else
    tail -20 build-gpu/check-bench-rollout.log
    summary+=("rollout benchmark: FAILED or timed out (build-gpu/check-bench-rollout.log)")
    status=1
  fi
  # Issue 13's batch-invariant mode on CUDA (the fp32 mode's kernels; its exactness is
  # test_cuda_engine's): what it costs beside the default engine, same config and batches
  # (AHA_CHECK_INVARIANT=0 skips it).
  if [ "${AHA_CHECK_INVARIANT:-1}" != 0 ]; then
    echo "== batch-invariant mode (aha bench rollout --config 100m --device cuda [--batch-invariant])"
    for mode in "" --batch-invariant; do
      log=build-gpu/check-bench-invariant${mode:+-on}.log
      if timeout $(cap 60) "$aha" bench rollout --config 100m --device cuda $mode --batch 1 64 \
           --prompt-len 16 --max-new-tokens 32 >"$log" 2>&1; then
        grep -E "^ +[0-9]+ " "$log"
        while read -r l; do summary+=("  rollout 100m ${mode:-default}: $l"); done < <(grep -E "^ +[0-9]+ " "$log")
      else
        tail -5 "$log"
        summary+=("rollout 100m ${mode:-default}: FAILED or timed out ($log)")
        status=1
      fi
    done
  fi
fi
if [ -n "$aha" ]; then
  # The built-in R1-Zero run with the learner on the GPU (rollout stays on the CPU): all of it
  # when the check has time left (the CPU run ends at 17.4% -> 97.6%), else 3 steps.
  rm -rf build-gpu/check-train
  steps=(--set run.steps=3 --set run.eval_every=0 --set tasks.eval_prompts=8 --set tasks.eval_samples=1)
  what="3 steps"
  if [ "$(elapsed)" -lt 360 ]; then steps=(); what="the whole built-in run; CPU: 17.4% -> 97.6%"; fi
  if timeout $(cap 150) "$aha" train --device cuda --run-dir build-gpu/check-train \
       --set run.checkpoint_every=0 --set run.progress=false "${steps[@]}" \
       >build-gpu/check-train.log 2>&1; then
    summary+=("train (--device cuda, $what): ok; $(grep -E '^learner|held-out accuracy' build-gpu/check-train.log | tail -2 | tr '\n' ';')")
  else
    tail -20 build-gpu/check-train.log
    summary+=("train (--device cuda, $what): FAILED (build-gpu/check-train.log)")
    status=1
  fi
fi

if [ -n "$aha" ] && [ "${AHA_CHECK_HANDOFF:-1}" != 0 ] && [ $((budget - $(elapsed))) -lt 100 ]; then
  summary+=("weight handoff: skipped, under 100 s left (AHA_CHECK_ROLLOUT=0 leaves it more room)")
elif [ -n "$aha" ] && [ "${AHA_CHECK_HANDOFF:-1}" != 0 ]; then
  # Issue 13's weight updates without host copies: learner and CUDA engine in one process (the
  # engine copies the learner's device buffer) and in a worker process (CUDA IPC), 3 steps each;
  # AHA_CHECK_HANDOFF=0 skips it.
  echo "== weight handoff (aha train --device cuda, rollout.device cuda: threads, then --workers 1)"
  for mode in threads processes; do
    log=build-gpu/check-handoff-$mode.log
    extra=()
    [ "$mode" = processes ] && extra=(--workers 1 --set "rollout.cuda_devices=[0]")
    rm -rf "build-gpu/check-handoff-$mode"
    if AHA_LOG=info timeout $(cap 90) "$aha" train --device cuda --set rollout.device='"cuda"' \
         --run-dir "build-gpu/check-handoff-$mode" --set run.steps=3 --set run.eval_every=0 \
         --set tasks.eval_prompts=8 --set tasks.eval_samples=1 --set run.checkpoint_every=0 \
         --set run.progress=false "${extra[@]}" >"$log" 2>&1; then
      copied=$(grep -c "from the learner's memory" "$log")
      fetched=$(grep -c "fetching weights" "$log")
      dlogp=$(grep -E '^step +3 ' "$log" | grep -oE '\|dlogp\| [^ ]+')
      sync=$(python3 -c "import sqlite3, sys; print(' '.join('%.3f' % r[0] for r in sqlite3.connect(sys.argv[1]).execute('select t_sync from steps order by step')))" \
        "build-gpu/check-handoff-$mode/rollouts.db" 2>/dev/null)
      summary+=("weight handoff ($mode): $copied version(s) copied from the learner's memory, $fetched fetched over the wire; step 3 $dlogp; publish s per step: ${sync:-?}")
      [ "$copied" -ge 3 ] || status=1
    else
      tail -20 "$log"
      summary+=("weight handoff ($mode): FAILED ($log)")
      status=1
    fi
  done
fi

# The 1b model at an RL learner's micro-batch (16 x 1024 tokens, where the expert GEMMs get
# 2,048 rows each) beside PyTorch eager, last, so it only ever takes time the rest left over.
bm_big=(--batch 16 --seq-len 1024)
if [ "${AHA_CHECK_BENCH:-1}" != 0 ] && [ -x "$bm" ] && [ $((budget - $(elapsed))) -ge 100 ]; then
  echo "== model benchmark, 1b at 16 x 1024 tokens"
  if timeout $(cap 60) $bm --config 1b --device cuda --steps 3 "${bm_big[@]}" \
       >build-gpu/check-bench-1b-big.log 2>&1; then
    cat build-gpu/check-bench-1b-big.log
    aha_tok=$(awk '$1 == "1b" {print $5}' build-gpu/check-bench-1b-big.log)
    summary+=("1b (16 x 1024 tokens): $(grep -E '^1b|device memory' build-gpu/check-bench-1b-big.log | tr -s ' ' | tr '\n' ';')")
    timeout $(cap 90) python3 experiments/gpu/bench_torch.py "${bm_big[@]}" --steps 3 --no-compile \
      2>&1 | tee build-gpu/check-bench-torch-big.log | tail -3
    while read -r mode tok peak; do
      summary+=("  vs torch $mode: ${tok} tok/s, peak ${peak} GiB; aha/torch = $(awk -v a="$aha_tok" -v t="$tok" 'BEGIN { if (t > 0) printf "%.2f", a / t; else print "n/a" }')")
    done < <(awk '$1 == "torch" && $3 == "tok/s" {print $2, $4, $6}' build-gpu/check-bench-torch-big.log)
    while read -r l; do summary+=("  $l"); done < <(grep -hE "not run|failed" build-gpu/check-bench-torch-big.log | head -2)
  else
    tail -5 build-gpu/check-bench-1b-big.log
    summary+=("1b (16 x 1024 tokens): FAILED or timed out (build-gpu/check-bench-1b-big.log)")
  fi
else
  summary+=("1b (16 x 1024 tokens): skipped (benchmarks off, or under 100 s left)")
fi

# With the device tool, the logs come back as one archive in $OUT.
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
  tar czf "$OUT/check-logs.tgz" build-gpu/check-*.log build-gpu/check-failed.txt 2>/dev/null
fi

echo
echo "== summary ($(elapsed) s)"
for line in "${summary[@]}"; do echo "$line"; done
exit $status
