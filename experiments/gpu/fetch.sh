#!/usr/bin/env bash
# Fetches, on a machine with package registries, what experiments/gpu/check.sh needs on a GPU
# machine that has none, into folders git ignores (carry them with the device tool):
#   .cache/cutlass/   the nvidia-cutlass wheel (CUTLASS/CuTe headers; kernels/cuda/cutlass.cmake unpacks it)
#   .cache/flashinfer/<version>/  FlashInfer's headers and its libcudacxx, unpacked from the
#                     flashinfer-python wheel by kernels/cuda/flashinfer.cmake (22 MiB; the 100 MB
#                     wheel itself is not carried: the device tool takes 64 MiB in all)
#   .cache/gpu-debs/  Debian packages of OpenBLAS, doctest and nlohmann-json: the CPU references
#                     the gpu tests compare against, the model's config (unpacked by check.sh
#                     under .cache/gpu-root, not into /)
#   .cache/aha-bundle.tar.xz  the whole aha built here, with its libraries (check.sh's train run)
# About 55 MiB together (carry .cache/flashinfer/<version>, not the folder with the wheel).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n 's/^set(AHA_CUTLASS_VERSION \(.*\))$/\1/p' kernels/cuda/cutlass.cmake)
mkdir -p .cache/cutlass .cache/gpu-debs
if [ ! -f ".cache/cutlass/nvidia_cutlass-${version}-py3-none-any.whl" ]; then
  python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    "nvidia-cutlass==${version}" -d .cache/cutlass
fi
fi_version=$(sed -n 's/^set(AHA_FLASHINFER_VERSION \(.*\))$/\1/p' kernels/cuda/flashinfer.cmake)
if [ ! -f ".cache/flashinfer/${fi_version}/include/flashinfer/attention/mla.cuh" ]; then
  python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    "flashinfer-python==${fi_version}" -d .cache/flashinfer
  # Checks the wheel's sha256 and unpacks the headers: the same code as a configure.
  script=$(mktemp --suffix=.cmake)
  printf 'set(CMAKE_SOURCE_DIR "%s")\ninclude("%s/kernels/cuda/flashinfer.cmake")\n' "$PWD" "$PWD" >"$script"
  cmake -P "$script"
  rm -f "$script"
fi
# The whole aha for check.sh's train run: the binary built here (bash .ci/setup) with the shared
# libraries it links that a PyTorch image lacks (not glibc, libstdc++ or the CUDA libraries,
# which that machine has; NCCL comes from its PyTorch), about 14 MB compressed.
if [ -x build/aha ]; then
  # Built from the tree as it is now (check.sh prints the commit beside its own tree's).
  cmake --build build --target aha -j "$(nproc)" >/dev/null
  rm -rf .cache/aha-bundle && mkdir -p .cache/aha-bundle/lib
  cp build/aha .cache/aha-bundle/
  git rev-parse --short HEAD >.cache/aha-bundle/COMMIT 2>/dev/null || echo unknown >.cache/aha-bundle/COMMIT
  git diff --quiet HEAD 2>/dev/null || echo "+ uncommitted changes" >>.cache/aha-bundle/COMMIT
  ldd build/aha | awk '$3 ~ /^\// {print $3}' |
    grep -vE '/(libc|libm|libpthread|librt|libdl|libresolv|libstdc\+\+|libgcc_s)\.so|ld-linux|/usr/local/cuda|libnccl' |
    while read -r lib; do cp -L "$lib" .cache/aha-bundle/lib/; done
  tar cJf .cache/aha-bundle.tar.xz -C .cache/aha-bundle aha lib COMMIT
  rm -rf .cache/aha-bundle
else
  echo "fetch.sh: no build/aha (run bash .ci/setup first): check.sh will skip the train run"
fi
(cd .cache/gpu-debs && apt-get download -qq libopenblas0-pthread libopenblas-pthread-dev \
   libgfortran5 libquadmath0 doctest-dev nlohmann-json3-dev)
du -sh .cache/cutlass/*.whl ".cache/flashinfer/${fi_version}" .cache/gpu-debs .cache/aha-bundle.tar.xz 2>/dev/null
