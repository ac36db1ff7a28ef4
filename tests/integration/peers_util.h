// Helpers of the hostile-peer and fault suites: `aha train` as a background child with its output
// in a file, waits with deadlines, and a fake worker's DEALER socket speaking the protocol (with
// CURVE keys from the run directory when given).
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "rollout/auth.h"
#include "rollout/protocol.h"

namespace aha::test {

inline std::string slurp_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline bool wait_until(const std::function<bool()>& pred, double timeout_s) {
  const double t0 = now_s();
  while (!pred()) {
    if (now_s() - t0 > timeout_s) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// `aha train ARGS...` in the background, stdout and stderr to log_path.
struct Child {
  pid_t pid = -1;
  std::string log_path;
  int rc = -2;  // exit code once reaped (128 + signal when killed)
  std::string log() const { return slurp_file(log_path); }
  // Waits up to timeout_s for `text` to appear in the log.
  bool log_shows(const std::string& text, double timeout_s) const {
    return wait_until([&] { return log().find(text) != std::string::npos; }, timeout_s);
  }
  // Waits up to timeout_s for the exit; false if it is still running.
  bool wait(double timeout_s) {
    const double t0 = now_s();
    while (true) {
      int status = 0;
      pid_t got = waitpid(pid, &status, WNOHANG);
      if (got == pid) {
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
      }
      if (now_s() - t0 > timeout_s) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~Child() {
    if (pid > 0 && rc == -2) {  // a failed test must not leave it running
      kill(pid, SIGKILL);
      wait(10);
    }
  }
};

inline void start_child(Child& c, const std::vector<std::string>& args, const std::string& log) {
  c.log_path = log;
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (std::string& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  c.pid = fork();
  if (c.pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
}

// The child processes of pid whose command line contains `what` (e.g. "reward-worker").
inline std::vector<pid_t> children_of(pid_t pid, const std::string& what) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = slurp_file(e.path().string() + "/stat");
    size_t rp = stat.rfind(')');
    if (rp == std::string::npos) continue;
    std::istringstream s(stat.substr(rp + 2));
    char state;
    pid_t ppid = 0;
    s >> state >> ppid;
    if (ppid != pid) continue;
    std::string cmd = slurp_file(e.path().string() + "/cmdline");
    for (char& ch : cmd)
      if (ch == 0) ch = ' ';
    if (cmd.find(what) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

// A fake peer: a DEALER with routing id `id`, connected to endpoint; CURVE when keys are given.
struct FakePeer {
  zmq::context_t ctx{1};
  zmq::socket_t sock;
  std::string id;  // also the worker_id it sends
  FakePeer(const std::string& endpoint, const std::string& routing_id,
           const std::string& server_pub = "", const CurveKeyPair& key = {})
      : id(routing_id) {
    sock = zmq::socket_t(ctx, zmq::socket_type::dealer);
    sock.set(zmq::sockopt::routing_id, id);
    sock.set(zmq::sockopt::linger, 0);
    if (!server_pub.empty()) curve_make_client(sock, key, server_pub);
    sock.connect(endpoint);
  }
  void send(const std::string& bytes) { send_frame(sock, "", bytes); }
  // Registers as a worker holding `capacity` requests (claiming `weights_version`).
  void send_ready(int32_t capacity, uint64_t weights_version = 0) {
    ReadyMsg m;
    m.worker_id = id;
    m.capacity = capacity;
    m.weights_version = weights_version;
    send(encode(m));
  }
  // Sends a heartbeat when period_s has passed since last_s (then set to now).
  void heartbeat_every(double period_s, double& last_s, int32_t capacity = 0) {
    if (now_s() - last_s <= period_s) return;
    HeartbeatMsg m;
    m.worker_id = id;
    m.capacity = capacity;
    send(encode(m));
    last_s = now_s();
  }
  void send_ack(uint64_t weights_version) { send(encode(WeightsAck{weights_version})); }
  // One message within timeout_ms: true with its parsed form.
  bool recv(Message& msg, std::string& bytes, int timeout_ms) {
    zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0) return false;
    std::string peer, err;
    if (recv_frame(sock, false, peer, bytes, err) != 1) return false;
    return parse_message(bytes.data(), bytes.size(), msg, err);
  }
  // How many of `polls` waits of timeout_ms each heard a message.
  int count_heard(int polls, int timeout_ms) {
    Message msg;
    std::string bytes;
    int heard = 0;
    for (int i = 0; i < polls; i++) heard += recv(msg, bytes, timeout_ms);
    return heard;
  }
};

}  // namespace aha::test
