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
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "cellnet/driver.h"
#include "cellnet/send_queue.h"
#include "cellnet/thread_group_internal.h"

namespace nvf::cellnet {

class SocketConnection : public Connection, public std::enable_shared_from_this<SocketConnection> {
 public:
  /// Takes ownership of the connected socket `fd` (blocking mode).
  SocketConnection(int fd, PeerInfo peer, ConnectionHandler* handler, const DriverOptions& options);
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

  const PeerInfo peer_;
  ConnectionHandler* const handler_;
  const uint64_t max_payload_;
  const std::chrono::milliseconds send_timeout_;
  SendQueue out_;
  BufferPool frames_;  // memory of received payloads, reused once their frames are gone
  std::atomic<int64_t> write_since_ns_{
      0};  // steady-clock start of the write in progress, 0 if none

  const int fd_;  // valid until fd_open_ turns false
  mutable std::mutex mu_;
  bool fd_open_ = true;   // guarded by mu_
  bool closed_ = false;   // guarded by mu_
  Status reason_;         // guarded by mu_
  int threads_left_ = 0;  // guarded by mu_: the last thread to finish closes fd_
};

}  // namespace nvf::cellnet
