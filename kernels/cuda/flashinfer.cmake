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
set(AHA_FLASHINFER_VERSION 0.7.4)
set(AHA_FLASHINFER_SHA256 a051a62e09a2738e8b0de47a1944fd2f0f3eff01b728b662141ea660cb09dd32)
set(AHA_FLASHINFER_DIR ${CMAKE_SOURCE_DIR}/.cache/flashinfer CACHE PATH
    "where the flashinfer-python wheel and its unpacked headers are kept")
set(flashinfer_wheel ${AHA_FLASHINFER_DIR}/flashinfer_python-${AHA_FLASHINFER_VERSION}-py3-none-any.whl)
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
  if(NOT EXISTS ${flashinfer_wheel})
    find_package(Python3 COMPONENTS Interpreter)
    if(Python3_FOUND)
      message(STATUS "aha: downloading flashinfer-python==${AHA_FLASHINFER_VERSION} into ${AHA_FLASHINFER_DIR}")
      execute_process(
        COMMAND ${Python3_EXECUTABLE} -m pip download --quiet --no-deps --disable-pip-version-check
                --timeout 15 --retries 1
                flashinfer-python==${AHA_FLASHINFER_VERSION} -d ${AHA_FLASHINFER_DIR}
        RESULT_VARIABLE pip_rc OUTPUT_QUIET ERROR_QUIET)
    endif()
  endif()
  if(EXISTS ${flashinfer_wheel})
    file(SHA256 ${flashinfer_wheel} got_sha)
    if(NOT got_sha STREQUAL AHA_FLASHINFER_SHA256)
      message(FATAL_ERROR "aha: ${flashinfer_wheel} has sha256 ${got_sha}, expected ${AHA_FLASHINFER_SHA256}")
    endif()
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
                  "failed and ${flashinfer_wheel} is absent): MLA decode attention falls back to "
                  "its own kernel")
endif()
