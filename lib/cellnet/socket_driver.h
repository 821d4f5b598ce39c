// Stream-socket drivers: frames back to back on a Unix or TCP socket (one implementation,
// SocketDriver, with two faces).
//   UdsDriver: `uds:///abs/path.sock`. The listener creates the socket file with mode 0600 (the
//     directory should be 0700), replaces a stale socket file nobody listens on, refuses a path
//     that does not fit sun_path (107 bytes + NUL), and removes the file when it stops.
//   TcpDriver: `tcp://host:port`, plain. Port 0 lets the OS choose; Listener::url() reports the
//     real port. TCP_NODELAY and 4 MiB socket buffers.
//   With a SocketSecurity (socket_security.h; cellnet_tls makes one with OpenSSL) a TCP driver
//     serves `stcp://host:port` instead: the same frames inside a TLS session. Its connect()
//     returns once the handshake is done and the server accepted the certificate; an accepted
//     peer shakes hands on its connection's reader thread (at most 10 s).
// Each connection has a reader and a writer thread (socket_connection_internal.h); each listener
// has an accept thread. A malformed frame closes only that connection, with INVALID_ARGUMENT naming
// the peer and the problem; the listener keeps serving.
//
// Ownership and threads: the creator owns the driver; listeners and connections may outlive it
// (they are closed by stop()). Methods may be called from any thread; stop() (and the destructor)
// must not be called from a handler callback of this driver, since it joins the threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cellnet/driver.h"
#include "cellnet/socket_security.h"

namespace nvf::cellnet {

class SocketDriver : public Driver {
 public:
  enum class Kind { kUds, kTcp };

  /// `security` (TCP only): serve stcp through it.
  SocketDriver(Kind kind, DriverOptions options, std::shared_ptr<SocketSecurity> security = nullptr);
  ~SocketDriver() override;
  SocketDriver(const SocketDriver&) = delete;
  SocketDriver& operator=(const SocketDriver&) = delete;

  /// {"uds"}, {"tcp"} or {"stcp"}.
  std::vector<std::string> schemes() const override;
  /// Binds and starts accepting. Errors: INVALID_ARGUMENT (bad URL, wrong scheme, relative or too
  /// long socket path), UNAVAILABLE (address in use, cannot bind, driver stopped),
  /// FAILED_PRECONDITION (TLS requested of a plain driver; stcp: a certificate or key unreadable).
  Result<std::unique_ptr<Listener>> listen(const std::string& url,
                                           ConnectionHandler* handler) override;
  /// Connects within `timeout`. Errors: INVALID_ARGUMENT (bad URL), UNAVAILABLE (connection
  /// refused, no socket file, unreachable, driver stopped: the message names the URL),
  /// DEADLINE_EXCEEDED (no answer within `timeout`), FAILED_PRECONDITION (TLS requested of a
  /// plain driver; stcp: TLS files); stcp: UNAVAILABLE also when the handshake fails (the
  /// reason: certificate refused, not a TLS peer).
  Result<std::shared_ptr<Connection>> connect(const std::string& url, ConnectionHandler* handler,
                                              std::chrono::milliseconds timeout) override;
  /// Stops every listener, closes every connection, joins every thread.
  void stop() override;

  struct Core;  // shared with listeners (defined in the .cc)

 private:
  std::shared_ptr<Core> core_;
};

/// Unix-domain stream sockets: `uds:///abs/path.sock`.
class UdsDriver : public SocketDriver {
 public:
  explicit UdsDriver(DriverOptions options = {}) : SocketDriver(Kind::kUds, std::move(options)) {}
};

/// Plain TCP: `tcp://host:port`.
class TcpDriver : public SocketDriver {
 public:
  explicit TcpDriver(DriverOptions options = {}) : SocketDriver(Kind::kTcp, std::move(options)) {}
};

}  // namespace nvf::cellnet
