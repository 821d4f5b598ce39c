// SocketConnection: one connected stream socket (Unix or TCP) carrying frames back to back, used
// by UdsDriver and TcpDriver (socket_driver.h). Private to cellnet.
//
// Threads: start() spawns two threads in the driver's ThreadGroup. The reader calls the handler
// (on_connected, then each frame in arrival order, then on_closed once); it reads the 16-byte
// prefix, validates it before allocating, then reads headers and payload into one allocation and
// hands out the payload as a sub-slice (no further copy); for payloads of kPlaceMinBytes or more
// it reads the headers first and asks the handler's payload_target() where the payload goes. The
// writer pops the SendQueue (control frames first) and writes each encoded frame with sendmsg
// over its slices; a write that makes no progress for `send_timeout` closes the connection with
// DEADLINE_EXCEEDED. The socket stays blocking for reads; writes use MSG_DONTWAIT + poll. close()
// never joins: it shuts the socket down and both threads exit; the last one to finish closes the
// descriptor. Public methods may be called from any thread, including the handler's own callbacks.
//
// With a SecureSession (stcp) the socket is non-blocking both ways and every byte goes through
// the session, under a mutex of its own (the reader and the writer never call it at once; each
// waits for the socket in poll() without the mutex). An accepted secure connection does its
// handshake on the reader thread before on_connected (the writer waits for it), so a slow or
// hostile peer never holds up the accept loop; one that fails the handshake is closed without
// any callback, as if it had never connected.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "cellnet/driver.h"
#include "cellnet/send_queue.h"
#include "cellnet/socket_security.h"
#include "cellnet/thread_group_internal.h"

namespace nvf::cellnet {

class SocketConnection : public Connection, public std::enable_shared_from_this<SocketConnection> {
 public:
  /// Takes ownership of the connected socket `fd` (blocking mode; non-blocking with a session or
  /// `accept_security`). `session`: the connecting side's finished handshake. `accept_security`:
  /// an accepted socket whose handshake the reader does first, within `handshake_timeout`.
  SocketConnection(int fd, PeerInfo peer, ConnectionHandler* handler, const DriverOptions& options,
                   std::unique_ptr<SecureSession> session = nullptr,
                   std::shared_ptr<SocketSecurity> accept_security = nullptr,
                   std::chrono::milliseconds handshake_timeout = std::chrono::milliseconds(0));
  ~SocketConnection() override;
  SocketConnection(const SocketConnection&) = delete;
  SocketConnection& operator=(const SocketConnection&) = delete;

  /// Starts the reader and writer threads in `threads`. Called once.
  void start(ThreadGroup& threads);

  /// Errors: UNAVAILABLE once closed; INVALID_ARGUMENT for a payload over max_message_size or a
  /// header block over kMaxHeaderBytes (the peer would refuse it).
  Status send(Frame frame) override;
  void close(const Status& reason) override;
  const PeerInfo& peer() const override { return peer_; }
  size_t queued_bytes() const override { return out_.queued_bytes(); }
  std::chrono::milliseconds current_write_age() const override;
  bool closed() const override;

 private:
  void read_loop();
  void write_loop();
  void thread_done();
  Status read_frame(const std::shared_ptr<Connection>& self, Frame* out);
  // Reads exactly `n` bytes; `frame_offset`/`frame_size` describe where they sit in the frame
  // (for the truncation message; frame_size 0 while the prefix is still unread).
  Status read_exact(std::byte* p, size_t n, size_t frame_offset, uint64_t frame_size);
  Status write_all(const Buffer& wire);
  Status write_secure(const Buffer& wire);
  // Waits until `fd_` is readable (POLLIN) or writable (POLLOUT), at most `timeout_ms` (-1: no
  // limit); a shut-down socket counts as ready.
  void wait_socket(short events, int timeout_ms) const;
  // A write's wait for the socket (`events`) within what is left of send_timeout_ since
  // `last_progress`; DEADLINE_EXCEEDED once it has all passed (the peer is not reading).
  Status wait_writable(short events, std::chrono::steady_clock::time_point last_progress) const;
  // The accepting side's handshake (reader thread); false when it failed (the connection is
  // closed and no callback runs).
  bool accept_handshake();
  // The writer's wait for the handshake; false when the connection closed first.
  bool wait_handshake();

  PeerInfo peer_;  // common_name is set by the accepting handshake, before on_connected
  ConnectionHandler* const handler_;
  const uint64_t max_payload_;
  const std::chrono::milliseconds send_timeout_;
  SendQueue out_;
  BufferPool frames_;  // memory of received payloads, reused once their frames are gone
  std::atomic<int64_t> write_since_ns_{
      0};  // steady-clock start of the write in progress, 0 if none

  std::unique_ptr<SecureSession> session_;  // null: plain; guarded by session_mu_ once started
  std::mutex session_mu_;
  const std::shared_ptr<SocketSecurity> accept_security_;
  const std::chrono::milliseconds handshake_timeout_;

  const int fd_;  // valid until fd_open_ turns false
  mutable std::mutex mu_;
  bool fd_open_ = true;   // guarded by mu_
  bool closed_ = false;   // guarded by mu_
  Status reason_;         // guarded by mu_
  int threads_left_ = 0;  // guarded by mu_: the last thread to finish closes fd_
  bool secure_ready_;     // guarded by mu_: no handshake pending (the writer may start)
  std::condition_variable ready_cv_;
};

}  // namespace nvf::cellnet
