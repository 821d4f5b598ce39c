// A Cell is one named endpoint of the cellnet (FLARE's CoreCell + Cell): it listens and connects
// through drivers, routes messages by FQCN through its neighbours, matches requests with replies,
// streams large payloads in chunks under a window of ACKs, and runs request handlers.
//
// Ownership: a Cell is owned by its process role (server parent, client job, trainer, ...); it owns
// its connections, its callback pool and its monitor thread. Drivers (a DriverRegistry) are owned
// by the caller and must outlive the cell.
// Threads: every public method may be called from any thread. Handlers run on the cell's callback
// pool, never on a transport thread; a handler may itself send requests (the pool that completes
// them is not the pool the handler occupies: replies and stream chunks are processed on the
// transport threads, which only do bookkeeping and never call user code — except a listener's
// IncomingFilter, which must therefore be quick and non-blocking).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/logging.h"
#include "base/status.h"
#include "cellnet/driver.h"
#include "cellnet/message.h"

namespace nvf::cellnet {

/// Drivers by URL scheme. Owned by the process; shared by its cells; not a singleton.
class DriverRegistry {
 public:
  /// Adds a driver for all its schemes (a later driver for the same scheme replaces it).
  void add(std::shared_ptr<Driver> driver);
  /// Errors: INVALID_ARGUMENT naming the scheme and those available.
  Result<Driver*> find(const std::string& scheme) const;
  void stop_all();

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Driver>> by_scheme_;  // guarded by mu_
};

/// Knobs of one cell; defaults are the timeout registry's (DESIGN §4.8) — see CellOptions::from.
struct CellOptions {
  std::string fqcn;
  DriverRegistry* drivers = nullptr;
  base::Logger logger;  // null → a null logger
  size_t callback_threads = 4;  // handlers
  size_t stream_threads = 4;    // senders of streamed payloads (request_async, fire)
  std::chrono::milliseconds default_request_timeout{10000};
  size_t chunk_size = 1 << 20;         // streaming_chunk_size; larger payloads are streamed
  size_t window_size = 16 << 20;       // streaming_window_size
  size_t ack_interval = 4 << 20;       // streaming_ack_interval
  std::chrono::milliseconds ack_progress_timeout{60000};  // streaming_ack_progress_timeout
  std::chrono::milliseconds ack_check_interval{5000};     // streaming_ack_progress_check_interval
  std::chrono::milliseconds read_timeout{300000};         // streaming_read_timeout
  std::chrono::milliseconds heartbeat_interval{60000};    // SFM PING after receive silence
  std::chrono::milliseconds monitor_interval{1000};       // stall / heartbeat / stream janitor tick
  std::chrono::milliseconds send_stall_timeout{45000};    // sfm_send_stall_timeout
  int send_stall_consecutive_checks = 3;                  // sfm_send_stall_consecutive_checks
  bool close_stalled_connection = false;                  // sfm_close_stalled_connection
  std::chrono::milliseconds reconnect_initial{1000};
  std::chrono::milliseconds reconnect_max{10000};
  std::chrono::milliseconds connect_timeout{10000};
  uint64_t max_message_size = 2144337904;
};

/// Where the payload of a request's reply may be read into: called with the reply's headers and
/// payload size, on a transport thread, before the payload is read; returns memory for exactly
/// that many bytes or an empty target (then the driver allocates). Only drivers that read payloads
/// themselves ask (uds, tcp), only for a reply that reaches this cell in one frame (not streamed)
/// through a connection without an IncomingFilter, and only while the request waits. Must not
/// block. The memory must hold nothing the caller still needs until the reply is delivered: a
/// connection lost mid-payload leaves it partly written.
using ReplyPlacement = std::function<PayloadTarget(const Headers& reply_headers, uint64_t payload_len)>;

/// A request handler: returns the reply, or an error the requester receives as a Status.
using RequestHandler = std::function<Result<Message>(const Message& request)>;
/// Sends the reply of an asynchronous request handler; may be called once, from any thread, later.
using Responder = std::function<void(Result<Message> reply)>;
/// A request handler that answers later (long polls: get_task waits until a task exists).
using AsyncRequestHandler = std::function<void(const Message& request, Responder respond)>;
/// A handler for fire-and-forget messages.
using MessageHandler = std::function<void(const Message& message)>;
/// Looks at a request this cell is about to forward to another cell (a relay's view of traffic
/// passing through): returns false to let it pass on as usual, or true after taking it, in which
/// case it calls `respond` once (any thread, now or later) and the reply reaches the requester as
/// if the request's destination had sent it. Only unstreamed requests are shown. Runs on the
/// transport thread that read the frame: it must be quick and must not block.
using ForwardInterceptor = std::function<bool(const Message& request, Responder respond)>;
/// Called with a neighbour's FQCN when its connection comes up (true) or goes down (false).
using PeerCallback = std::function<void(const std::string& peer, bool up)>;
/// Checks one incoming frame's headers (data frames, stream chunks and acks, forwarded or local)
/// arriving on a connection accepted by a listener, and says who sent it: OK with the name the
/// sender authenticated as lets the frame through with that name in hdr::kAuthenticated (replacing
/// any value the sender set; "" — a frame that needs no identity, such as a registration request —
/// removes the header). Frames through unfiltered listeners (a process's local links) keep the
/// header as it came, so a name stamped at the edge reaches the job processes behind it. An error drops the frame; a
/// request gets a "return" with rc unauthenticated and the error's message (FLARE drops silently
/// and the requester times out; we answer), counted in CellStats::unauthenticated_frames and logged
/// once per connection. A refused stream chunk also gets a stream error, so that its sender stops
/// at once instead of waiting out streaming_ack_progress_timeout. Runs on the transport thread that
/// read the frame, for every data frame: it must be quick, must not block, and must not call back
/// into the cell. The handshake (HELLO/READY) and heartbeats are not filtered.
using IncomingFilter = std::function<Result<std::string>(const Headers& headers, const PeerInfo& peer)>;

/// An IncomingFilter for a process that made its peers' cells itself (the simulator, tests): a
/// frame from a cell of `names` (cell FQCN -> identity) or from any cell below one of them is from
/// that identity; any other frame is refused (UNAUTHENTICATED naming its origin).
IncomingFilter identify_known_cells(std::map<std::string, std::string> names);

/// Counters for tests and diagnostics.
struct CellStats {
  uint64_t frames_forwarded = 0;
  uint64_t streams_sent = 0;
  uint64_t streams_received = 0;
  uint64_t malformed_messages = 0;
  uint64_t stalled_connections_closed = 0;
  uint64_t late_replies = 0;
  uint64_t unauthenticated_frames = 0;  // data frames an IncomingFilter refused
};

/// For an object that registers handlers on a cell that outlives it (a cell cannot drop a
/// handler): register wrap(handler) instead of the handler, and close() the gate in the object's
/// stop() or destructor. close() waits for handlers running now; later calls do nothing (an
/// asynchronous request is answered UNAVAILABLE with `closed_message`). Copies share one gate.
class HandlerGate {
 public:
  explicit HandlerGate(std::string closed_message = "the handler's owner has stopped")
      : state_(std::make_shared<State>()) {
    state_->closed_message = std::move(closed_message);
  }
  AsyncRequestHandler wrap(AsyncRequestHandler h) const {
    return [state = state_, h = std::move(h)](const Message& m, Responder r) {
      std::shared_lock<std::shared_mutex> open(state->mu);
      if (!state->open) return r(UnavailableError(state->closed_message));
      h(m, std::move(r));
    };
  }
  MessageHandler wrap(MessageHandler h) const {
    return [state = state_, h = std::move(h)](const Message& m) {
      std::shared_lock<std::shared_mutex> open(state->mu);
      if (state->open) h(m);
    };
  }
  void close() {
    std::unique_lock<std::shared_mutex> lock(state_->mu);
    state_->open = false;
  }

 private:
  struct State {
    std::shared_mutex mu;
    bool open = true;  // guarded by mu
    std::string closed_message;
  };
  std::shared_ptr<State> state_;
};

class Cell {
 public:
  explicit Cell(CellOptions options);
  ~Cell();
  Cell(const Cell&) = delete;
  Cell& operator=(const Cell&) = delete;

  /// Errors: INVALID_ARGUMENT (bad FQCN, no drivers).
  Status start();
  /// Closes connections and listeners, fails pending requests with CANCELLED, joins threads.
  void stop();
  const std::string& fqcn() const;

  /// Listens on `url` (e.g. "grpc://127.0.0.1:0"); returns the URL with the chosen port.
  Result<std::string> listen(const std::string& url);
  /// As listen(url); every data frame arriving on connections accepted by this listener passes
  /// `filter` first (a null filter lets everything through, as listen(url)). Errors: those of
  /// listen(url).
  Result<std::string> listen(const std::string& url, IncomingFilter filter);
  /// Connects to `url` in the background and reconnects with backoff (1 s doubling to 10 s) until
  /// stop(). Errors: INVALID_ARGUMENT (bad URL or unknown scheme).
  Status connect(const std::string& url);
  /// Waits until `peer` is reachable as a direct neighbour. Errors: DEADLINE_EXCEEDED.
  Status wait_for_peer(const std::string& peer, std::chrono::milliseconds timeout);
  /// Names of the directly connected neighbours.
  std::vector<std::string> peers() const;

  /// Handlers by channel and topic; "*" matches any topic.
  void register_request_handler(const std::string& channel, const std::string& topic, RequestHandler handler);
  void register_message_handler(const std::string& channel, const std::string& topic, MessageHandler handler);
  /// As register_request_handler, for handlers that reply later through the Responder.
  void register_async_request_handler(const std::string& channel, const std::string& topic,
                                      AsyncRequestHandler handler);
  void on_peer_event(PeerCallback callback);
  /// Installs `interceptor` for requests on (channel, topic) that pass through this cell (see
  /// ForwardInterceptor); a later one for the same pair replaces it.
  void intercept_forwarded(const std::string& channel, const std::string& topic, ForwardInterceptor interceptor);

  /// Sends a request and waits for the reply. timeout 0 → default_request_timeout.
  /// Errors: DEADLINE_EXCEEDED, UNAVAILABLE (unreachable / connection lost), the handler's error
  /// mapped through return codes (each naming the target), CANCELLED on stop().
  Result<Message> request(const std::string& target, const std::string& channel, const std::string& topic,
                          Message message, std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  /// As request(), calling `done` once (on a cell thread) instead of blocking.
  void request_async(const std::string& target, const std::string& channel, const std::string& topic,
                     Message message, std::chrono::milliseconds timeout,
                     std::function<void(Result<Message>)> done);
  /// As above; `place` may name the memory the reply's payload is read into as it arrives (see
  /// ReplyPlacement), so a download lands in its destination without a copy.
  void request_async(const std::string& target, const std::string& channel, const std::string& topic,
                     Message message, std::chrono::milliseconds timeout,
                     std::function<void(Result<Message>)> done, ReplyPlacement place);
  /// Fire-and-forget. Errors: UNAVAILABLE when no route exists now; later failures are logged.
  Status fire(const std::string& target, const std::string& channel, const std::string& topic, Message message);

  /// Headers stamped on every data frame this cell sends (its own messages, their stream chunks and
  /// acks, and frames it forwards) that does not carry them already: a forwarded frame keeps its
  /// origin's values. Each header is stamped on its own (a frame carrying `__token__` but no `ssid`
  /// gets this cell's `ssid`). Thread-safe; replaces the previous set (an empty set stamps
  /// nothing); frames already queued keep what they had.
  void set_auth_headers(Headers headers);

  /// Names a cell by another name: messages this cell sends to `name` (request, request_async,
  /// fire) go to the cell `fqcn` instead. The server parent addresses a client by its site name;
  /// behind a relay that site's cell is "R1.site-1". An empty `fqcn` drops the alias. Frames
  /// forwarded through this cell are not affected. Thread-safe.
  void set_alias(const std::string& name, const std::string& fqcn);

  CellStats stats() const;
  const CellOptions& options() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nvf::cellnet
