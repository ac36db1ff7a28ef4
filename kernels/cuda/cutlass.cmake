# CUTLASS headers (include/cutlass, include/cute) for the grouped expert GEMM, taken from the
# `nvidia-cutlass` wheel on PyPI into .cache/cutlass (ignored, never committed). A machine with no
# package registry uses the wheel or the unpacked headers carried in that folder (see
# experiments/gpu/check.sh). Sets AHA_CUTLASS_INCLUDE_DIRS, or leaves it empty with a warning.
set(AHA_CUTLASS_VERSION 4.2.0.0)
set(AHA_CUTLASS_SHA256 f9599ada45c7bcb6bf53f7d3f0a7d154183e53451c01bfa59eecd37dd4a693f6)
set(AHA_CUTLASS_DIR ${CMAKE_SOURCE_DIR}/.cache/cutlass CACHE PATH "where the CUTLASS wheel and headers are kept")
set(cutlass_wheel ${AHA_CUTLASS_DIR}/nvidia_cutlass-${AHA_CUTLASS_VERSION}-py3-none-any.whl)
set(cutlass_root ${AHA_CUTLASS_DIR}/${AHA_CUTLASS_VERSION})
set(AHA_CUTLASS_INCLUDE_DIRS "")

if(NOT EXISTS ${cutlass_root}/include/cutlass/cutlass.h)
  if(NOT EXISTS ${cutlass_wheel})
    find_package(Python3 COMPONENTS Interpreter)
    if(Python3_FOUND)
      message(STATUS "aha: downloading nvidia-cutlass==${AHA_CUTLASS_VERSION} into ${AHA_CUTLASS_DIR}")
      execute_process(
        COMMAND ${Python3_EXECUTABLE} -m pip download --quiet --no-deps --disable-pip-version-check
                --timeout 15 --retries 1
                nvidia-cutlass==${AHA_CUTLASS_VERSION} -d ${AHA_CUTLASS_DIR}
        RESULT_VARIABLE pip_rc OUTPUT_QUIET ERROR_QUIET)
    endif()
  endif()
  if(EXISTS ${cutlass_wheel})
    file(SHA256 ${cutlass_wheel} got_sha)
    if(NOT got_sha STREQUAL AHA_CUTLASS_SHA256)
      message(FATAL_ERROR "aha: ${cutlass_wheel} has sha256 ${got_sha}, expected ${AHA_CUTLASS_SHA256}")
    endif()
    file(REMOVE_RECURSE ${cutlass_root}.tmp)
    file(ARCHIVE_EXTRACT INPUT ${cutlass_wheel} DESTINATION ${cutlass_root}.tmp
         PATTERNS cutlass_library/source/include/* cutlass_library/source/tools/util/include/*)
    file(MAKE_DIRECTORY ${cutlass_root})
    file(RENAME ${cutlass_root}.tmp/cutlass_library/source/include ${cutlass_root}/include)
    file(RENAME ${cutlass_root}.tmp/cutlass_library/source/tools/util/include ${cutlass_root}/util_include)
    file(REMOVE_RECURSE ${cutlass_root}.tmp)
  endif()
endif()

if(EXISTS ${cutlass_root}/include/cutlass/cutlass.h)
  set(AHA_CUTLASS_INCLUDE_DIRS ${cutlass_root}/include ${cutlass_root}/util_include)
  message(STATUS "aha: CUTLASS ${AHA_CUTLASS_VERSION} headers in ${cutlass_root}")
else()
  message(WARNING "aha: no CUTLASS headers (pip download of nvidia-cutlass==${AHA_CUTLASS_VERSION} "
                  "failed and ${cutlass_wheel} is absent): the grouped expert GEMM falls back to "
                  "its SIMT kernel")
endif()
