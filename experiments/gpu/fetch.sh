#!/usr/bin/env bash
# Fetches, on a machine with package registries, what experiments/gpu/check.sh needs on a GPU
# machine that has none, into folders git ignores (carry them with the device tool):
#   .cache/cutlass/   the nvidia-cutlass wheel (CUTLASS/CuTe headers; kernels/cuda/cutlass.cmake unpacks it)
#   .cache/gpu-debs/  Debian packages of OpenBLAS, doctest and nlohmann-json: the CPU references
#                     the gpu tests compare against, the model's config (unpacked by check.sh
#                     under .cache/gpu-root, not into /)
# About 20 MiB together.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -n 's/^set(AHA_CUTLASS_VERSION \(.*\))$/\1/p' kernels/cuda/cutlass.cmake)
mkdir -p .cache/cutlass .cache/gpu-debs
if [ ! -f ".cache/cutlass/nvidia_cutlass-${version}-py3-none-any.whl" ]; then
  python3 -m pip download --quiet --no-deps --disable-pip-version-check \
    "nvidia-cutlass==${version}" -d .cache/cutlass
fi
(cd .cache/gpu-debs && apt-get download -qq libopenblas0-pthread libopenblas-pthread-dev \
   libgfortran5 libquadmath0 doctest-dev nlohmann-json3-dev)
du -sh .cache/cutlass .cache/gpu-debs
