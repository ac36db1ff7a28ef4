// CURVE key files, the ZAP allow-list handler, and ipc:// socket permissions.
#include "rollout/auth.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "kernels/user_input.h"

namespace aha {

bool curve_available() {
  return zmq_has("curve") != 0;
}

CurveKeyPair curve_keygen() {
  char pub[41] = {0}, sec[41] = {0};
  if (zmq_curve_keypair(pub, sec) != 0)
    throw std::runtime_error(std::string("cannot make a CURVE key pair: ") +
                             zmq_strerror(zmq_errno()) + " (libzmq without libsodium?)");
  return CurveKeyPair{pub, sec};
}

namespace {

bool valid_z85_key(const std::string& k) {
  if (k.size() != 40) return false;
  uint8_t bin[32];
  return zmq_z85_decode(bin, k.c_str()) != nullptr;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

struct KeyLine {
  int n;  // 1-based line number
  std::string text;
};

// The lines of a key file, trimmed, without empty lines and # comments.
std::vector<KeyLine> key_file_lines(std::ifstream& f) {
  std::vector<KeyLine> out;
  std::string line;
  for (int n = 1; std::getline(f, line); n++) {
    line = trim(line);
    if (!line.empty() && line[0] != '#') out.push_back({n, line});
  }
  return out;
}

}  // namespace

void curve_key_write(const std::string& path, const CurveKeyPair& k, bool public_only) {
  std::string text = "# aha CURVE key (Z85)\npublic " + k.public_key + "\n";
  if (!public_only) text += "secret " + k.secret_key + "\n";
  // Created with its final mode: a secret key is never readable by others, not even briefly.
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, public_only ? 0644 : 0600);
  if (fd < 0) throw std::runtime_error(path + ": cannot create key file");
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) throw std::runtime_error(path + ": write failed");
}

CurveKeyPair curve_key_read(const std::string& path) {
  std::ifstream f = open_input(path, "cannot open key file");
  CurveKeyPair k;
  for (const auto& [n, line] : key_file_lines(f)) {
    std::string* dst = line.rfind("public ", 0) == 0   ? &k.public_key
                       : line.rfind("secret ", 0) == 0 ? &k.secret_key
                                                       : nullptr;
    if (!dst) {
      if (!valid_z85_key(line) || !k.public_key.empty())
        throw std::runtime_error(path + ":" + std::to_string(n) +
                                 ": expected 'public KEY' or 'secret KEY'");
      dst = &k.public_key;  // a bare key: a public key file
      *dst = line;
      continue;
    }
    *dst = trim(line.substr(7));
    if (!valid_z85_key(*dst))
      throw std::runtime_error(path + ":" + std::to_string(n) + ": not a 40-character Z85 key");
  }
  if (k.public_key.empty()) throw std::runtime_error(path + ": no public key");
  if (!k.secret_key.empty()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
      throw std::runtime_error(path + ": holds a secret key but is readable by others (chmod 600)");
  }
  return k;
}

std::vector<std::string> curve_read_authorized(const std::string& path) {
  std::vector<std::string> out;
  if (path.empty()) return out;
  std::ifstream f(path);
  if (!f) return out;
  for (auto [n, line] : key_file_lines(f)) {
    if (line.rfind("public ", 0) == 0) line = trim(line.substr(7));
    if (line.rfind("secret ", 0) == 0) continue;  // a whole key file pasted in: skip the secret
    if (!valid_z85_key(line)) {
      spdlog::warn("{}:{}: not a Z85 public key; ignored", path, n);
      continue;
    }
    out.push_back(line);
  }
  return out;
}

bool endpoint_is_tcp(const std::string& endpoint) {
  return endpoint.rfind("tcp://", 0) == 0;
}

void ipc_restrict_permissions(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) != 0) return;
  std::string path = endpoint.substr(6);
  if (path.empty() || path[0] == '@') return;  // abstract namespace: no file
  if (::chmod(path.c_str(), 0600) != 0)
    throw std::runtime_error(endpoint + ": cannot make the socket owner-only");
}

zmq::socket_t router_bind(zmq::context_t& ctx, const std::string& endpoint,
                          const std::string& curve_secret_key, int hwm, const std::string& who) {
  zmq::socket_t s(ctx, zmq::socket_type::router);
  s.set(zmq::sockopt::router_mandatory, 1);
  s.set(zmq::sockopt::linger, 0);
  if (hwm > 0) {
    s.set(zmq::sockopt::sndhwm, hwm);
    s.set(zmq::sockopt::rcvhwm, hwm);
  }
  if (!curve_secret_key.empty()) curve_make_server(s, {"", curve_secret_key});
  try {
    s.bind(endpoint);
    ipc_restrict_permissions(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(who + ": cannot bind " + endpoint + ": " + e.what());
  }
  return s;
}

struct ZapHandler {
  zmq::socket_t sock;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> allowed;  // Z85 public keys
  std::set<std::string> warned;   // refused keys already logged (bounded)
  std::string file;
  ZapRefusal refusal = ZapRefusal::permanent;
  std::atomic<uint64_t> refused{0};
};

void ZapHandlerDeleter::operator()(ZapHandler* z) const {
  if (!z) return;
  z->stop = true;
  if (z->thread.joinable()) z->thread.join();
  z->sock.close();
  delete z;
}

namespace {

void zap_loop(ZapHandler& z) {
  while (!z.stop) {
    zmq::pollitem_t item{z.sock.handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      std::vector<zmq::message_t> frames;
      while (true) {
        zmq::message_t m;
        if (!z.sock.recv(m, zmq::recv_flags::dontwait)) break;
        bool more = m.more();
        frames.push_back(std::move(m));
        if (!more) break;
      }
      if (frames.size() < 6) continue;  // libzmq's ZAP requests always have 6 or more frames
      std::string version = frames[0].to_string(), request_id = frames[1].to_string();
      std::string address = frames[3].to_string(), mechanism = frames[5].to_string();
      std::string key;
      bool ok = false;
      if (mechanism == "CURVE" && frames.size() >= 7 && frames[6].size() == 32) {
        char z85[41] = {0};
        zmq_z85_encode(z85, static_cast<const uint8_t*>(frames[6].data()), 32);
        key = z85;
        std::lock_guard<std::mutex> lock(z.mu);
        ok = z.allowed.count(key) > 0;
        if (!ok && !z.file.empty()) {  // the operator may have added it since
          for (const std::string& k : curve_read_authorized(z.file)) z.allowed.insert(k);
          ok = z.allowed.count(key) > 0;
        }
      }
      if (!ok) {
        z.refused++;
        std::lock_guard<std::mutex> lock(z.mu);
        if (z.warned.size() < 1024 && z.warned.insert(key).second)
          spdlog::warn("auth: refused a {} client from {} (key {}): not in the allow-list{}",
                       mechanism, address, key.empty() ? "none" : key,
                       z.refusal == ZapRefusal::temporary ? " (yet)" : "");
      }
      const bool temporary = z.refusal == ZapRefusal::temporary;
      const std::string reply[6] = {version,
                                    request_id,
                                    ok ? "200" : (temporary ? "300" : "400"),
                                    ok ? "OK" : "key not allowed",
                                    ok ? key : "",
                                    ""};
      for (int i = 0; i < 6; i++)
        z.sock.send(zmq::buffer(reply[i]),
                    i < 5 ? zmq::send_flags::sndmore : zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      spdlog::error("auth: ZAP handler: {}", e.what());
    } catch (const std::exception& e) {
      spdlog::error("auth: ZAP handler: {}", e.what());
    }
  }
}

}  // namespace

ZapHandlerPtr zap_start(zmq::context_t& ctx, std::vector<std::string> allowed_public_keys,
                        std::string authorized_keys_file, ZapRefusal refusal) {
  ZapHandlerPtr z(new ZapHandler);
  z->refusal = refusal;
  z->sock = zmq::socket_t(ctx, zmq::socket_type::rep);
  z->sock.set(zmq::sockopt::linger, 0);
  try {
    z->sock.bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(std::string("auth: cannot start the ZAP handler: ") + e.what());
  }
  for (std::string& k : allowed_public_keys) z->allowed.insert(std::move(k));
  z->file = std::move(authorized_keys_file);
  for (const std::string& k : curve_read_authorized(z->file)) z->allowed.insert(k);
  ZapHandler* raw = z.get();
  z->thread = std::thread([raw] { zap_loop(*raw); });
  return z;
}

uint64_t zap_refused(ZapHandler& z) {
  return z.refused;
}

void zap_allow(ZapHandler& z, const std::string& public_key) {
  std::lock_guard<std::mutex> lock(z.mu);
  z.allowed.insert(public_key);
}

void curve_make_server(zmq::socket_t& s, const CurveKeyPair& server) {
  s.set(zmq::sockopt::zap_domain, "aha");
  s.set(zmq::sockopt::curve_server, 1);
  s.set(zmq::sockopt::curve_secretkey, server.secret_key);
}

void curve_make_client(zmq::socket_t& s, const CurveKeyPair& client,
                       const std::string& server_pub) {
  s.set(zmq::sockopt::curve_serverkey, server_pub);
  s.set(zmq::sockopt::curve_publickey, client.public_key);
  s.set(zmq::sockopt::curve_secretkey, client.secret_key);
}

}  // namespace aha
