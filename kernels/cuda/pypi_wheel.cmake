# aha_pypi_wheel(PACKAGE VERSION SHA256 DIR OUT_VAR): the pure-Python wheel PACKAGE==VERSION kept in
# DIR (an ignored cache folder), downloaded with pip when it is not there yet. The download gives
# up after 15 s and one retry, so a configure without network goes on: OUT_VAR is then "". A wheel
# whose sha256 is not SHA256 stops the configure. Otherwise OUT_VAR is the wheel's path.
include_guard(GLOBAL)

function(aha_pypi_wheel package version sha256 dir out_var)
  string(REPLACE "-" "_" stem ${package})
  set(wheel ${dir}/${stem}-${version}-py3-none-any.whl)
  if(NOT EXISTS ${wheel})
    find_package(Python3 COMPONENTS Interpreter)
    if(Python3_FOUND)
      message(STATUS "aha: downloading ${package}==${version} into ${dir}")
      execute_process(
        COMMAND ${Python3_EXECUTABLE} -m pip download --quiet --no-deps --disable-pip-version-check
                --timeout 15 --retries 1 ${package}==${version} -d ${dir}
        RESULT_VARIABLE pip_rc OUTPUT_QUIET ERROR_QUIET)
    endif()
  endif()
  if(NOT EXISTS ${wheel})
    set(${out_var} "" PARENT_SCOPE)
    return()
  endif()
  file(SHA256 ${wheel} got_sha)
  if(NOT got_sha STREQUAL sha256)
    message(FATAL_ERROR "aha: ${wheel} has sha256 ${got_sha}, expected ${sha256}")
  endif()
  set(${out_var} ${wheel} PARENT_SCOPE)
endfunction()
