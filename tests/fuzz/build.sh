#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into OUT (default build-fuzz); never part of the normal
# build or CI. Usage: bash tests/fuzz/build.sh [OUT] [target...]   (see tests/fuzz/README.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build-fuzz}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors protocol tokenizer encode config)
mkdir -p "$out"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.)
for t in "${targets[@]}"; do
  case $t in
    safetensors) srcs=(policy/safetensors.cpp) libs=() ;;
    protocol) srcs=(rollout/protocol.cpp) libs=(-lzmq) ;;
    tokenizer | encode) srcs=(policy/tokenizer.cpp policy/tokenizer_unicode.cpp) libs=() ;;
    # The model code config.cpp's family hooks sit beside is never reached from a config.
    config) srcs=(policy/config.cpp policy/deepseek.cpp policy/qwen.cpp kernels/rope.cpp)
      libs=(-fno-pie -no-pie -Wl,--unresolved-symbols=ignore-all) ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  echo "building $out/fuzz_$t"
  clang++ "${flags[@]}" -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.cpp" "${srcs[@]}" "${libs[@]}"
done
