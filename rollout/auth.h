// Who may talk to the controller: CURVE keys for tcp:// endpoints (ZeroMQ's CurveZMQ: every
// message encrypted and the client authenticated by its key pair) and owner-only ipc:// sockets.
//
// Invariants:
// - Keys are Z85 text (40 characters for 32 bytes). A key file holds "public KEY" and, for a key
//   pair, "secret KEY" lines; files holding a secret key are created owner-only (0600) and a key
//   file readable by others is refused.
// - A ZAP handler (one per zmq context, bound before any CURVE server socket) admits a client only
//   when its public key is in the allow-list: the keys given at start plus those in the
//   authorized-keys file, which is re-read whenever an unknown key knocks (so workers can be added
//   while a run goes on). Every refusal is logged with the key and the peer address.
// - endpoint_is_tcp decides where CURVE applies; inproc:// needs nothing and ipc:// relies on the
//   socket file's permissions (ipc_restrict_permissions after bind).
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

namespace aha {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 chars
  std::string secret_key;  // Z85, 40 chars ("" when only the public key is known)
};

// True when the linked libzmq was built with CURVE (libsodium).
bool curve_available();
CurveKeyPair curve_keygen();
// Writes a key pair owner-only (public + secret) or, with public_only, a public key file (0644).
void curve_key_write(const std::string& path, const CurveKeyPair& k, bool public_only = false);
// Reads a key file; throws naming the file when it is missing, malformed, or (with a secret key)
// readable by group or others.
CurveKeyPair curve_key_read(const std::string& path);
// Public keys of an authorized-keys file: one Z85 key per line ("#" comments, blank lines and a
// leading "public " allowed). A missing file is an empty list.
std::vector<std::string> curve_read_authorized(const std::string& path);

bool endpoint_is_tcp(const std::string& endpoint);
// chmod 0600 the socket file of an ipc:// endpoint (no-op for other kinds).
void ipc_restrict_permissions(const std::string& endpoint);

// The ZAP handler thread of one context.
struct ZapHandler;
struct ZapHandlerDeleter {
  void operator()(ZapHandler* z) const;
};
using ZapHandlerPtr = std::unique_ptr<ZapHandler, ZapHandlerDeleter>;

// How a key outside the allow-list is refused. permanent (ZAP 400): the client gets an ERROR and
// libzmq never reconnects that socket. temporary (ZAP 300): the handshake is left unanswered, so a
// client with a short handshake_ivl times out and reconnects by itself, and a key admitted later
// (a relay child whose plan reached it before its parent's) gets in on the same socket.
enum class ZapRefusal { permanent, temporary };

// Each refused key is logged once (a temporary refusal repeats with every reconnect).
ZapHandlerPtr zap_start(zmq::context_t& ctx, std::vector<std::string> allowed_public_keys,
                        std::string authorized_keys_file,
                        ZapRefusal refusal = ZapRefusal::permanent);
// Clients refused so far.
uint64_t zap_refused(ZapHandler& z);
// Adds a public key to the allow-list (a relay parent admitting the children it was given).
void zap_allow(ZapHandler& z, const std::string& public_key);

// The ROUTER socket a service hands work out on (the rollout controller, the reward service):
// a send to a vanished peer fails rather than vanishes (router_mandatory), nothing lingers, a
// CURVE server when curve_secret_key is set, an ipc:// socket file owner-only, high-water marks
// of hwm messages (0 = ZeroMQ's default). Throws "WHO: cannot bind ENDPOINT: why" on failure.
zmq::socket_t router_bind(zmq::context_t& ctx, const std::string& endpoint,
                          const std::string& curve_secret_key, int hwm, const std::string& who);

// Socket set-up: a CURVE server with this key pair, or a client that knows the server's public key.
void curve_make_server(zmq::socket_t& s, const CurveKeyPair& server);
void curve_make_client(zmq::socket_t& s, const CurveKeyPair& client, const std::string& server_pub);

}  // namespace aha
