# FlashInfer's C++ headers (flashinfer/data/include) and the libcudacxx of the CCCL bundled with
# them (flashinfer/data/cccl/libcudacxx: cuda/std, cuda/pipeline...; the toolkit's is older), for
# the MLA decode attention (kernels/cuda/decode_attention_flashinfer.cu). Taken from the
# `flashinfer-python` wheel on PyPI into .cache/flashinfer (ignored, never committed); only those
# two folders are unpacked (about 22 MiB), under .cache/flashinfer/<version>/{include,cccl}. The
# MLA headers need nothing else: no CUB, Thrust, CUTLASS or CuTe (checked with `nvcc -M`). A
# machine with no package registry uses the wheel or the unpacked folders carried in
# .cache/flashinfer (experiments/gpu/fetch.sh puts the folders there, not the 100 MB wheel).
# Sets AHA_FLASHINFER_INCLUDE_DIRS (libcudacxx first, then FlashInfer), or leaves it empty with a
# warning: the decode attention then runs our own kernel only.
include(${CMAKE_CURRENT_LIST_DIR}/pypi_wheel.cmake)
set(AHA_FLASHINFER_VERSION 0.7.4)
set(AHA_FLASHINFER_SHA256 a051a62e09a2738e8b0de47a1944fd2f0f3eff01b728b662141ea660cb09dd32)
set(AHA_FLASHINFER_DIR ${CMAKE_SOURCE_DIR}/.cache/flashinfer CACHE PATH
    "where the flashinfer-python wheel and its unpacked headers are kept")
set(flashinfer_root ${AHA_FLASHINFER_DIR}/${AHA_FLASHINFER_VERSION})
set(flashinfer_probe ${flashinfer_root}/include/flashinfer/attention/mla.cuh
    ${flashinfer_root}/cccl/libcudacxx/include/cuda/std/limits)
set(AHA_FLASHINFER_INCLUDE_DIRS "")

set(flashinfer_found TRUE)
foreach(f ${flashinfer_probe})
  if(NOT EXISTS ${f})
    set(flashinfer_found FALSE)
  endif()
endforeach()

if(NOT flashinfer_found)
  aha_pypi_wheel(flashinfer-python ${AHA_FLASHINFER_VERSION} ${AHA_FLASHINFER_SHA256}
                 ${AHA_FLASHINFER_DIR} flashinfer_wheel)
  if(flashinfer_wheel)
    file(REMOVE_RECURSE ${flashinfer_root}.tmp)
    file(ARCHIVE_EXTRACT INPUT ${flashinfer_wheel} DESTINATION ${flashinfer_root}.tmp
         PATTERNS flashinfer/data/include/* flashinfer/data/cccl/libcudacxx/include/*)
    file(MAKE_DIRECTORY ${flashinfer_root})
    file(REMOVE_RECURSE ${flashinfer_root}/include ${flashinfer_root}/cccl)
    file(RENAME ${flashinfer_root}.tmp/flashinfer/data/include ${flashinfer_root}/include)
    file(RENAME ${flashinfer_root}.tmp/flashinfer/data/cccl ${flashinfer_root}/cccl)
    file(REMOVE_RECURSE ${flashinfer_root}.tmp)
    set(flashinfer_found TRUE)
  endif()
endif()

if(flashinfer_found)
  set(AHA_FLASHINFER_INCLUDE_DIRS ${flashinfer_root}/cccl/libcudacxx/include
      ${flashinfer_root}/include)
  message(STATUS "aha: FlashInfer ${AHA_FLASHINFER_VERSION} headers in ${flashinfer_root}")
else()
  message(WARNING "aha: no FlashInfer headers (pip download of flashinfer-python==${AHA_FLASHINFER_VERSION} "
                  "failed and ${AHA_FLASHINFER_DIR} holds no wheel): MLA decode attention falls back to "
                  "its own kernel")
endif()
