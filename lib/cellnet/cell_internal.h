// Private to the cellnet module: the state behind Cell. See cell.h for the contract.
//
// Locking: one mutex (mu_) guards every map below. Driver methods (send, close, connect) and user
// callbacks are never called while mu_ is held. Transport threads run on_frame(): routing,
// forwarding, stream reassembly and reply matching are bookkeeping done there; handlers and
// completion callbacks are posted to callbacks_.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "base/executor.h"
#include "cellnet/cell.h"

namespace nvf::cellnet {

using Clock = std::chrono::steady_clock;

class Cell::Impl : public ConnectionHandler {
 public:
  explicit Impl(CellOptions options);
  ~Impl() override;

  Status start();
  void stop();
  void set_alias(const std::string& name, const std::string& fqcn);
  void intercept_forwarded(const std::string& channel, const std::string& topic, ForwardInterceptor f);

  Result<std::string> listen(const std::string& url, IncomingFilter filter);
  Status connect(const std::string& url);
  Status wait_for_peer(const std::string& peer, std::chrono::milliseconds timeout);
  std::vector<std::string> peers() const;
  void register_request_handler(const std::string& channel, const std::string& topic, RequestHandler h);
  void register_message_handler(const std::string& channel, const std::string& topic, MessageHandler h);
  void register_async_request_handler(const std::string& channel, const std::string& topic, AsyncRequestHandler h);
  void on_peer_event(PeerCallback cb);
  void request_async(const std::string& target, const std::string& channel, const std::string& topic,
                     Message message, std::chrono::milliseconds timeout, std::function<void(Result<Message>)> done,
                     bool inline_done = false, ReplyPlacement place = nullptr);
  Status fire(const std::string& target, const std::string& channel, const std::string& topic, Message message);
  CellStats stats() const;
  void set_auth_headers(Headers headers);

  // ConnectionHandler (driver threads).
  void on_connected(const std::shared_ptr<Connection>& conn) override;
  void on_frame(const std::shared_ptr<Connection>& conn, Frame frame) override;
  PayloadTarget payload_target(const std::shared_ptr<Connection>& conn, const Frame& head,
                               uint64_t payload_len) override;
  void on_closed(const std::shared_ptr<Connection>& conn, const Status& reason) override;
  // A connection accepted by a filtered listener (its Gate calls this instead of on_connected).
  void on_accepted(const std::shared_ptr<Connection>& conn,
                   std::shared_ptr<const IncomingFilter> filter);

  CellOptions opt;
  base::Logger log;

 private:
  struct Agent {
    std::shared_ptr<Connection> conn;
    Clock::time_point last_received;
    Clock::time_point last_ping;
    int stall_checks = 0;
  };
  struct Waiter {
    std::string target;
    std::string via;  // next hop the request left through
    Clock::time_point deadline;
    std::function<void(Result<Message>)> done;
    bool inline_done = false;  // done only sets a promise: run it where the reply is matched
    ReplyPlacement place;      // where the reply's payload may be read into; null: anywhere
  };
  struct RxStream {
    const Connection* conn = nullptr;  // the chunks arrive through it: dropped when it closes
    Headers headers;  // of chunk 0
    Buffer data;
    uint64_t total = 0;
    uint64_t last_ack = 0;
    int64_t next_seq = 0;
    Clock::time_point last_activity;
  };
  struct TxStream {
    std::string next;  // the neighbour the chunks leave through: fails when it is lost
    uint64_t acked = 0;
    Clock::time_point last_progress;
    Status error;
  };
  // The ConnectionHandler of a filtered listener: tags the connections it accepts with the filter.
  class Gate;
  struct ConnFilter {
    std::shared_ptr<const IncomingFilter> filter;
    bool logged = false;  // a refusal was logged for this connection
  };
  struct Connector {
    std::string url;
    std::thread thread;
    std::shared_ptr<Connection> conn;  // guarded by Impl::mu_
    bool closed = false;               // guarded by Impl::mu_
  };

  // Sending.
  // `as`: the origin to name instead of this cell (a reply given in another cell's place).
  Status send_message(const std::string& target, Message message, std::string* via, const std::string& as = "");
  Status send_frame_to(const std::string& peer, Frame frame);
  Status stream_message(const std::string& next, Message message);
  void reply_to(const Message& request, Result<Message> result, const std::string& as = "");
  void send_return(const Headers& request_headers, std::string_view code, const std::string& error);
  void send_stream_error(const std::string& to, const std::string& sid, const std::string& error);

  // Receiving.
  void handle_handshake(const std::shared_ptr<Connection>& conn, Frame& frame);
  void handle_data(const std::shared_ptr<Connection>& conn, Frame frame);
  void refuse(const std::shared_ptr<Connection>& conn, const Frame& frame, const Status& why);
  void forward(Frame frame, const std::string& dest);
  // True when an interceptor took this request (intercept_forwarded).
  bool intercepted(const Frame& frame);
  // The cell `target` stands for (set_alias), else `target`.
  std::string resolve(const std::string& target) const;
  void handle_chunk(const Connection* conn, Frame frame);
  void handle_ack(const Frame& frame);
  void dispatch_local(Message message);
  void complete_waiter(const std::string& req_id, Result<Message> result);

  // Background.
  void run_connector(Connector* c);
  void run_monitor();
  void notify_peer(const std::string& peer, bool up);
  std::string new_id(const char* kind);

  mutable std::mutex mu_;
  std::condition_variable cv_;  // agents_ changes, acks, stop, waiter deadlines
  bool started_ = false;
  bool stopping_ = false;
  std::map<std::string, Agent> agents_;                    // peer FQCN → connection
  std::map<const Connection*, std::string> names_;         // connection → peer FQCN (after handshake)
  std::set<std::shared_ptr<Connection>> conns_;            // every live connection
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<Gate>> gates_;         // outlive their listeners and connections
  std::map<const Connection*, ConnFilter> filters_;  // connections accepted by a filtered listener
  std::shared_ptr<const Headers> auth_headers_;      // stamped on outgoing data frames; null: none
  std::map<std::string, std::string> aliases_;       // name → the cell it stands for (set_alias)
  std::map<std::string, ForwardInterceptor> interceptors_;  // "channel\ntopic"
  std::vector<std::unique_ptr<Connector>> connectors_;
  std::map<std::string, AsyncRequestHandler> request_handlers_;  // "channel\ntopic"
  std::map<std::string, MessageHandler> message_handlers_;
  std::vector<PeerCallback> peer_callbacks_;
  std::map<std::string, Waiter> waiters_;
  std::map<std::string, RxStream> rx_streams_;  // "origin\nsid"
  std::map<std::string, TxStream> tx_streams_;  // sid
  CellStats stats_;
  uint64_t next_id_ = 0;

  base::ThreadPool callbacks_;
  base::ThreadPool streams_;
  base::ThreadPool completions_;  // request_async callbacks: never the pool handlers occupy
  std::thread monitor_;
};

}  // namespace nvf::cellnet
