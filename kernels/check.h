// Always-on checks (also in release builds, the llama.cpp way). A failed check throws
// std::runtime_error naming the file, line and condition, so callers can report and recover.
#pragma once
#include <stdexcept>
#include <string>

#define AHA_CHECK(cond, msg)                                                            \
  do {                                                                                  \
    if (!(cond))                                                                        \
      throw std::runtime_error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                               ": check failed: " #cond ": " + std::string(msg));       \
  } while (0)
