# CUTLASS headers (include/cutlass, include/cute) for the grouped expert GEMM, taken from the
# `nvidia-cutlass` wheel on PyPI into .cache/cutlass (ignored, never committed). A machine with no
# package registry uses the wheel or the unpacked headers carried in that folder (see
# experiments/gpu/check.sh). Sets AHA_CUTLASS_INCLUDE_DIRS, or leaves it empty with a warning.
include(${CMAKE_CURRENT_LIST_DIR}/pypi_wheel.cmake)
set(AHA_CUTLASS_VERSION 4.2.0.0)
set(AHA_CUTLASS_SHA256 f9599ada45c7bcb6bf53f7d3f0a7d154183e53451c01bfa59eecd37dd4a693f6)
set(AHA_CUTLASS_DIR ${CMAKE_SOURCE_DIR}/.cache/cutlass CACHE PATH "where the CUTLASS wheel and headers are kept")
set(cutlass_root ${AHA_CUTLASS_DIR}/${AHA_CUTLASS_VERSION})
set(AHA_CUTLASS_INCLUDE_DIRS "")

if(NOT EXISTS ${cutlass_root}/include/cutlass/cutlass.h)
  aha_pypi_wheel(nvidia-cutlass ${AHA_CUTLASS_VERSION} ${AHA_CUTLASS_SHA256} ${AHA_CUTLASS_DIR}
                 cutlass_wheel)
  if(cutlass_wheel)
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
                  "failed and ${AHA_CUTLASS_DIR} holds no wheel): the grouped expert GEMM falls back to "
                  "its SIMT kernel")
endif()
