// The transport interface: a Driver listens and connects by URL scheme and produces Connections
// that carry Frames. Drivers know nothing of cells, routing or streams (Arrow Flight's split):
// `inproc` (one process), `uds` (Unix sockets), `tcp` here; `grpc` in cellnet_grpc. Every driver
// passes the same conformance suite (tests/driver_conformance.h).
//
// Threads: a driver calls a ConnectionHandler from its own threads, for one connection always
// from one thread at a time and in arrival order; handlers must only decode and post work (never
// block). Connection methods may be called from any thread. A Driver owns its threads; stop()
// closes every listener and connection and joins them. A handler must outlive the listeners and
// connections it was given.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "cellnet/frame.h"

namespace nvf::cellnet {

/// Transport security, as FLARE's connection_security: clear, tls (server auth only) or mtls.
struct TlsConfig {
  enum class Mode { kClear, kTls, kMtls };
  Mode mode = Mode::kClear;
  std::string root_ca_path;  // PEM: verifies the peer
  std::string cert_path;     // PEM: our certificate (server always; client with mtls)
  std::string key_path;      // PEM: our private key
  std::string target_name;   // client: the server identity to check (TLS target name override)
};

/// Reads one of a TlsConfig's PEM files for a driver that does TLS; `field` is its name
/// ("cert_path", "key_path", "root_ca_path"). Errors: FAILED_PRECONDITION naming the file and
/// tls.<field>: empty, unreadable, or holding no PEM block.
Result<std::string> read_tls_pem(const std::string& path, const char* field);

struct DriverOptions {
  uint64_t max_payload = 2144337904;  // max_message_size: a larger frame is refused
  std::chrono::milliseconds send_timeout{30000};  // streaming_send_timeout: one blocked write
  TlsConfig tls;
  /// The TLS of listeners, when it differs from that of connections (a relay accepts its children
  /// with its server certificate and connects to its parent with its client certificate); unset:
  /// `tls` for both.
  std::optional<TlsConfig> listen_tls;
};

struct PeerInfo {
  std::string url;          // the URL connected to, or the listener's URL for accepted ones
  std::string address;      // the remote address as the transport sees it
  std::string common_name;  // the peer certificate's CN (TLS/mTLS), else empty
};

class Connection {
 public:
  virtual ~Connection() = default;

  /// Queues a frame. Never waits for the network: frames without kFlagBulk are written before
  /// any queued bulk frame; within each class, order is kept. Errors: UNAVAILABLE once closed.
  virtual Status send(Frame frame) = 0;
  /// Closes the connection; queued frames are dropped; the handler's on_closed runs once.
  virtual void close(const Status& reason) = 0;
  virtual const PeerInfo& peer() const = 0;
  /// Bytes queued and not yet handed to the transport.
  virtual size_t queued_bytes() const = 0;
  /// How long the write in progress has been waiting (zero when none): the stall guard reads it.
  virtual std::chrono::milliseconds current_write_age() const = 0;
  virtual bool closed() const = 0;
};

/// Memory a driver may read a received payload into instead of a buffer of its own (a download
/// writes straight into the destination tensor): writable for the payload's length; `owner`
/// keeps it valid for as long as the frame's slices live.
struct PayloadTarget {
  std::byte* data = nullptr;
  std::shared_ptr<const void> owner;
};

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  /// A new connection (accepted or connected), before any of its frames.
  virtual void on_connected(const std::shared_ptr<Connection>& conn) = 0;
  /// One received frame. Called on a driver thread: decode and post, never block.
  virtual void on_frame(const std::shared_ptr<Connection>& conn, Frame frame) = 0;
  /// Optional, asked by drivers that read payloads themselves (uds, tcp) before reading a payload
  /// of kPlaceMinBytes or more: where to put it. `head` has the frame's type, flags and headers
  /// (no payload). Called on the driver thread, in frame order; must not block. An empty target
  /// (the default) lets the driver allocate.
  virtual PayloadTarget payload_target(const std::shared_ptr<Connection>& conn, const Frame& head,
                                       uint64_t payload_len) {
    (void)conn, (void)head, (void)payload_len;
    return {};
  }
  static constexpr uint64_t kPlaceMinBytes = 64u << 10;
  /// The connection ended (peer closed, error, malformed frame, close()). Called once.
  virtual void on_closed(const std::shared_ptr<Connection>& conn, const Status& reason) = 0;
};

class Listener {
 public:
  virtual ~Listener() = default;
  /// The URL peers connect to, with the port the OS chose for ":0".
  virtual std::string url() const = 0;
  /// Stops accepting and closes the connections it accepted.
  virtual void stop() = 0;
};

class Driver {
 public:
  virtual ~Driver() = default;
  /// URL schemes served, e.g. {"tcp", "stcp"}.
  virtual std::vector<std::string> schemes() const = 0;
  /// Errors: INVALID_ARGUMENT (bad URL), UNAVAILABLE (cannot bind), FAILED_PRECONDITION (TLS files).
  virtual Result<std::unique_ptr<Listener>> listen(const std::string& url, ConnectionHandler* handler) = 0;
  /// Errors: INVALID_ARGUMENT (bad URL), UNAVAILABLE (refused / unreachable / TLS handshake failed,
  /// with the reason), DEADLINE_EXCEEDED.
  virtual Result<std::shared_ptr<Connection>> connect(const std::string& url, ConnectionHandler* handler,
                                                      std::chrono::milliseconds timeout) = 0;
  /// Closes every listener and connection and joins the driver's threads.
  virtual void stop() = 0;
};

/// scheme://host:port[/path]; `uds:///path/to.sock` and `inproc://name` have only a path/name.
struct Url {
  std::string scheme;
  std::string host;
  int port = 0;
  std::string path;
  std::string to_string() const;
};

/// Errors: INVALID_ARGUMENT naming the URL and what is wrong.
Result<Url> parse_url(const std::string& url);

}  // namespace nvf::cellnet
