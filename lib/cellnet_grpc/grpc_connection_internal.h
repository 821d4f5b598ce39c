// GrpcConnection: one cellnet::Connection carried by one gRPC bidi stream, shared by the client
// and server sides. The stream's reactor (ClientStream / ServerStream) implements StreamOps and
// forwards its reactions here; the connection owns the send queue (control before bulk), keeps
// one write and one read in flight, decodes frames and reports to the handler.
//
// Threads: Connection methods from any thread; on_* reactions from gRPC callback threads, one at
// a time per direction. mu_ guards the state below and is held while calling StreamOps (gRPC runs
// reactions on its own threads, never inline in a Start* call, so this cannot self-deadlock); the
// handler is always called without mu_. Lifetime: the reactor holds a shared_ptr to the
// connection; the connection's pointer to the reactor is cleared in on_stream_done, after which
// no StreamOps call is made.
#pragma once

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "cellnet/driver.h"
#include "cellnet/send_queue.h"

namespace nvf::cellnet_grpc {

/// What a connection asks of its stream's reactor. Always called with the connection's mu_ held.
class StreamOps {
 public:
  virtual ~StreamOps() = default;
  virtual void start_read(grpc::ByteBuffer* message) = 0;
  virtual void start_write(const grpc::ByteBuffer* message) = 0;
  /// Ends our side once, after the last write (client: WritesDone and release the hold that keeps
  /// the reactor alive; server: Finish(status)).
  virtual void end(const grpc::Status& status) = 0;
  /// Aborts the stream (TryCancel); any number of times, before or after end().
  virtual void cancel() = 0;
};

class GrpcConnection final : public cellnet::Connection,
                             public std::enable_shared_from_this<GrpcConnection> {
 public:
  using Clock = std::chrono::steady_clock;

  GrpcConnection(cellnet::PeerInfo peer, cellnet::ConnectionHandler* handler, const cellnet::DriverOptions& options);

  // cellnet::Connection
  /// Errors: UNAVAILABLE once closed; INVALID_ARGUMENT for a payload over max_payload.
  Status send(cellnet::Frame frame) override;
  void close(const Status& reason) override { close_impl(reason, /*force=*/false); }
  const cellnet::PeerInfo& peer() const override { return peer_; }
  size_t queued_bytes() const override { return queue_.queued_bytes(); }
  std::chrono::milliseconds current_write_age() const override;
  bool closed() const override;

  /// Closes and cancels the stream at once (stalled write, driver stop, listener stop).
  void abort(const Status& reason) { close_impl(reason, /*force=*/true); }
  /// "<address> (<url>)" for messages.
  std::string describe() const;

  // --- reactor side ---
  /// Binds the reactor; before start().
  void attach(StreamOps* ops);
  /// Sets the peer CN learned after the handshake (client side); before start().
  void set_common_name(std::string cn) { peer_.common_name = std::move(cn); }
  /// Reports on_connected, then starts reading and writing.
  void start();
  void on_read_done(bool ok);
  void on_write_done(bool ok);
  /// The reactor is done: forget it and report on_closed once (if on_connected was reported).
  /// `final_status` is the client's RPC status (nullopt on the server).
  void on_stream_done(const std::optional<grpc::Status>& final_status);

 private:
  void close_impl(const Status& reason, bool force);
  void pump_locked();  // starts the next write when none is in flight
  void end_locked();   // ends our side once closing and no write is in flight

  cellnet::PeerInfo peer_;
  cellnet::ConnectionHandler* const handler_;
  const uint64_t max_payload_;
  cellnet::SendQueue queue_;

  mutable std::mutex mu_;
  StreamOps* ops_ = nullptr;       // guarded by mu_; null before attach and after on_stream_done
  bool started_ = false;           // guarded by mu_: on_connected reported (or running)
  bool closing_ = false;           // guarded by mu_
  bool in_start_ = false;          // guarded by mu_: on_connected is running
  bool ended_ = false;             // guarded by mu_: ops_->end issued
  bool peer_closed_ = false;       // guarded by mu_: the close came from the peer (read EOF)
  Status reason_;                  // guarded by mu_: why we close (first cause wins)
  bool writing_ = false;           // guarded by mu_
  Clock::time_point write_started_;  // guarded by mu_
  grpc::ByteBuffer write_buf_;     // guarded by mu_ (gRPC reads it while writing_)
  grpc::ByteBuffer read_buf_;      // owned by the single in-flight read
};

/// Live connections of a listener or of the client side, so stop() can abort them and wait
/// until every reactor is done, and the stall watchdog can scan them. Thread-safe.
class StreamRegistry {
 public:
  /// False (and nothing added) once closed: the caller refuses the stream.
  bool add(const std::shared_ptr<GrpcConnection>& conn);
  /// Called by a reactor when it is done.
  void remove(const GrpcConnection* conn);
  std::vector<std::shared_ptr<GrpcConnection>> snapshot() const;
  /// Refuses new streams and aborts the live ones with `reason`.
  void close_all(const Status& reason);
  /// Waits until every registered reactor is done.
  void wait_empty();
  /// Keeps `object` (a client's grpc::Channel) until release_retired(). A reactor must not drop
  /// the last reference to its channel: the channel's destructor may shut down and join the
  /// callback thread the reactor runs on.
  void retire(std::shared_ptr<void> object);
  /// Drops the retired objects; call only from a thread that gRPC does not own.
  void release_retired();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;                                         // guarded by mu_
  std::map<const GrpcConnection*, std::shared_ptr<GrpcConnection>> live_;  // guarded by mu_
  bool closed_ = false;                                                // guarded by mu_
  std::vector<std::shared_ptr<void>> retired_;                         // guarded by mu_
};

/// Maps a gRPC status to ours, prefixed with `context`.
Status from_grpc_status(const grpc::Status& status, const std::string& context);

}  // namespace nvf::cellnet_grpc
