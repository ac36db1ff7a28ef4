// Reading files a user names on the command line or in a config: std::ifstream opens a directory
// without error and reads nothing from it, so a directory given for a file would pass as empty;
// and nlohmann's exception texts start with "[json.exception.parse_error.101] ", which is for
// programmers, not for someone who mistyped a line. Header-only and dependency-free like
// json_depth.h, so every library can use it.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

namespace aha {

// Throws "<path>: is a directory, not a file" when path is a directory (stat follows links).
inline void refuse_directory(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw std::runtime_error(path + ": is a directory, not a file");
}

// Opens path for reading; throws "<path>: <what>: <reason>" (No such file or directory,
// Permission denied, is a directory) when it cannot.
inline std::ifstream open_input(const std::string& path, const std::string& what = "cannot open",
                                std::ios::openmode mode = std::ios::in) {
  refuse_directory(path);
  std::ifstream f(path, mode);
  if (!f) throw std::runtime_error(path + ": " + what + " (" + std::strerror(errno) + ")");
  return f;
}

// An output file written whole or not at all: the rows go to PATH.tmp-PID, renamed onto PATH by
// commit(); a failure before it (a bad input line, Ctrl-C's exception path) removes the temporary
// and leaves an earlier PATH as it was, never half-written. A PATH that exists and is not a
// regular file (/dev/null, /dev/stdout, a FIFO) is written directly: renaming over it would
// replace the device or pipe itself.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path, const std::string& flag) : path_(path) {
    refuse_directory(path);
    struct stat st;
    const bool special = ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
    if (!special) tmp_ = path + ".tmp-" + std::to_string(::getpid());
    f_.open(special ? path : tmp_, std::ios::binary | std::ios::trunc);
    if (!f_)
      throw std::runtime_error(flag + " " + path + ": cannot write (" + std::strerror(errno) + ")");
  }
  ~OutputFile() {
    if (!tmp_.empty()) std::remove(tmp_.c_str());
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  std::ofstream& stream() { return f_; }
  void commit() {
    f_.close();
    if (!f_) throw std::runtime_error(path_ + ": write failed (disk full?)");
    if (tmp_.empty()) return;  // written directly (not a regular file)
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
      throw std::runtime_error(path_ + ": cannot replace (" + std::strerror(errno) + ")");
    tmp_.clear();
  }

 private:
  std::string path_, tmp_;
  std::ofstream f_;
};

// A JSON library message for a user: "[json.exception.parse_error.101] parse error at line 1,
// column 5: ..." becomes "parse error at line 1, column 5: ...".
inline std::string json_error_text(const std::string& what) {
  if (what.rfind("[json.exception.", 0) != 0) return what;
  const size_t end = what.find("] ");
  return end == std::string::npos ? what : what.substr(end + 2);
}

}  // namespace aha
