#include "cellnet/cell.h"

#include <future>

#include "base/version.h"
#include "cellnet/cell_internal.h"
#include "cellnet/fqcn.h"

namespace nvf::cellnet {

// ---------------------------------------------------------------- DriverRegistry

void DriverRegistry::add(std::shared_ptr<Driver> driver) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : driver->schemes()) by_scheme_[s] = driver;
}

Result<Driver*> DriverRegistry::find(const std::string& scheme) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_scheme_.find(scheme);
  if (it != by_scheme_.end()) return it->second.get();
  std::string known;
  for (const auto& [k, v] : by_scheme_) known += (known.empty() ? "" : ", ") + k;
  return InvalidArgumentError("no driver for URL scheme '" + scheme + "' (available: " + known + ")");
}

void DriverRegistry::stop_all() {
  std::set<Driver*> done;
  std::vector<std::shared_ptr<Driver>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, v] : by_scheme_) all.push_back(v);
  }
  for (auto& d : all) {
    if (done.insert(d.get()).second) d->stop();
  }
}

// ---------------------------------------------------------------- Cell (public)

Cell::Cell(CellOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Cell::~Cell() { impl_->stop(); }
Status Cell::start() { return impl_->start(); }
void Cell::stop() { impl_->stop(); }
const std::string& Cell::fqcn() const { return impl_->opt.fqcn; }
const CellOptions& Cell::options() const { return impl_->opt; }
Result<std::string> Cell::listen(const std::string& url) { return impl_->listen(url, nullptr); }
Result<std::string> Cell::listen(const std::string& url, IncomingFilter filter) {
  return impl_->listen(url, std::move(filter));
}
void Cell::set_auth_headers(Headers headers) { impl_->set_auth_headers(std::move(headers)); }
Status Cell::connect(const std::string& url) { return impl_->connect(url); }
Status Cell::wait_for_peer(const std::string& peer, std::chrono::milliseconds timeout) {
  return impl_->wait_for_peer(peer, timeout);
}
std::vector<std::string> Cell::peers() const { return impl_->peers(); }
void Cell::register_request_handler(const std::string& channel, const std::string& topic, RequestHandler h) {
  impl_->register_request_handler(channel, topic, std::move(h));
}
void Cell::register_async_request_handler(const std::string& channel, const std::string& topic,
                                          AsyncRequestHandler h) {
  impl_->register_async_request_handler(channel, topic, std::move(h));
}
void Cell::register_message_handler(const std::string& channel, const std::string& topic, MessageHandler h) {
  impl_->register_message_handler(channel, topic, std::move(h));
}
void Cell::on_peer_event(PeerCallback cb) { impl_->on_peer_event(std::move(cb)); }
void Cell::intercept_forwarded(const std::string& channel, const std::string& topic, ForwardInterceptor f) {
  impl_->intercept_forwarded(channel, topic, std::move(f));
}

void Cell::Impl::intercept_forwarded(const std::string& channel, const std::string& topic, ForwardInterceptor f) {
  std::lock_guard<std::mutex> lock(mu_);
  interceptors_[channel + "\n" + topic] = std::move(f);
}
CellStats Cell::stats() const { return impl_->stats(); }

void Cell::set_alias(const std::string& name, const std::string& fqcn) { impl_->set_alias(name, fqcn); }

void Cell::Impl::set_alias(const std::string& name, const std::string& fqcn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fqcn.empty() || fqcn == name) {
    aliases_.erase(name);
  } else {
    aliases_[name] = fqcn;
  }
}

std::string Cell::Impl::resolve(const std::string& target) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = aliases_.find(target);
  return it == aliases_.end() ? target : it->second;
}

Result<Message> Cell::request(const std::string& target, const std::string& channel, const std::string& topic,
                              Message message, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result<Message>>>();
  auto future = promise->get_future();
  impl_->request_async(target, channel, topic, std::move(message), timeout,
                       [promise](Result<Message> r) { promise->set_value(std::move(r)); }, /*inline_done=*/true);
  return future.get();
}

void Cell::request_async(const std::string& target, const std::string& channel, const std::string& topic,
                         Message message, std::chrono::milliseconds timeout,
                         std::function<void(Result<Message>)> done) {
  impl_->request_async(target, channel, topic, std::move(message), timeout, std::move(done));
}

void Cell::request_async(const std::string& target, const std::string& channel, const std::string& topic,
                         Message message, std::chrono::milliseconds timeout,
                         std::function<void(Result<Message>)> done, ReplyPlacement place) {
  impl_->request_async(target, channel, topic, std::move(message), timeout, std::move(done), false,
                       std::move(place));
}

Status Cell::fire(const std::string& target, const std::string& channel, const std::string& topic,
                  Message message) {
  return impl_->fire(target, channel, topic, std::move(message));
}

// ---------------------------------------------------------------- Impl: lifecycle

class Cell::Impl::Gate : public ConnectionHandler {
 public:
  Gate(Impl* impl, IncomingFilter filter)
      : impl_(impl), filter_(std::make_shared<const IncomingFilter>(std::move(filter))) {}
  void on_connected(const std::shared_ptr<Connection>& conn) override {
    impl_->on_accepted(conn, filter_);
  }
  void on_frame(const std::shared_ptr<Connection>& conn, Frame frame) override {
    impl_->on_frame(conn, std::move(frame));
  }
  void on_closed(const std::shared_ptr<Connection>& conn, const Status& reason) override {
    impl_->on_closed(conn, reason);
  }

 private:
  Impl* impl_;
  std::shared_ptr<const IncomingFilter> filter_;
};

Cell::Impl::Impl(CellOptions options)
    : opt(std::move(options)),
      log(opt.logger ? opt.logger : base::null_logger()),
      callbacks_(opt.fqcn + "-cb", opt.callback_threads),
      streams_(opt.fqcn + "-stm", opt.stream_threads),
      completions_(opt.fqcn + "-done", 2) {}

Cell::Impl::~Impl() { stop(); }

Status Cell::Impl::start() {
  NVF_RETURN_IF_ERROR(fqcn::validate(opt.fqcn));
  if (!opt.drivers) return InvalidArgumentError("cell " + opt.fqcn + " has no drivers");
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return Status::OK();
  started_ = true;
  callbacks_.start();
  streams_.start();
  completions_.start();
  monitor_ = std::thread([this] { run_monitor(); });
  return Status::OK();
}

void Cell::Impl::stop() {
  std::vector<std::shared_ptr<Connection>> conns;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::map<std::string, Waiter> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    conns.assign(conns_.begin(), conns_.end());
    listeners.swap(listeners_);
    waiters.swap(waiters_);
  }
  cv_.notify_all();
  for (auto& c : connectors_) {
    if (c->thread.joinable()) c->thread.join();
  }
  for (auto& l : listeners) l->stop();
  for (auto& c : conns) c->close(CancelledError("cell " + opt.fqcn + " stopped"));
  for (auto& [id, w] : waiters) w.done(CancelledError("cell " + opt.fqcn + " stopped before a reply came"));
  if (monitor_.joinable()) monitor_.join();
  streams_.stop(false);
  callbacks_.stop(true);
  completions_.stop(true);
}

std::string Cell::Impl::new_id(const char* kind) {
  std::lock_guard<std::mutex> lock(mu_);
  return opt.fqcn + ":" + kind + std::to_string(++next_id_);
}

Result<std::string> Cell::Impl::listen(const std::string& url, IncomingFilter filter) {
  NVF_ASSIGN_OR_RETURN(Url u, parse_url(url));
  NVF_ASSIGN_OR_RETURN(Driver * driver, opt.drivers->find(u.scheme));
  ConnectionHandler* handler = this;
  if (filter) {
    // The gate must outlive the listener and every connection it accepts: it lives as long as the
    // cell.
    auto gate = std::make_unique<Gate>(this, std::move(filter));
    handler = gate.get();
    std::lock_guard<std::mutex> lock(mu_);
    gates_.push_back(std::move(gate));
  }
  NVF_ASSIGN_OR_RETURN(std::unique_ptr<Listener> listener, driver->listen(url, handler));
  std::string actual = listener->url();
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    listener->stop();
    return CancelledError("cell " + opt.fqcn + " is stopping");
  }
  listeners_.push_back(std::move(listener));
  log->info("{} listening on {}{}", opt.fqcn, actual,
            handler == this ? "" : " (incoming frames filtered)");
  return actual;
}

Status Cell::Impl::connect(const std::string& url) {
  NVF_ASSIGN_OR_RETURN(Url u, parse_url(url));
  NVF_RETURN_IF_ERROR(opt.drivers->find(u.scheme).status());
  auto c = std::make_unique<Connector>();
  c->url = url;
  Connector* raw = c.get();
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || !started_) return FailedPreconditionError("cell " + opt.fqcn + " is not running");
  connectors_.push_back(std::move(c));
  raw->thread = std::thread([this, raw] { run_connector(raw); });
  return Status::OK();
}

void Cell::Impl::run_connector(Connector* c) {
  auto backoff = opt.reconnect_initial;
  auto driver = opt.drivers->find(parse_url(c->url)->scheme);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      c->closed = false;
    }
    auto conn = (*driver)->connect(c->url, this, opt.connect_timeout);
    if (conn.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        c->conn = *conn;
      }
      Frame hello;
      hello.type = FrameType::kHello;
      hello.headers.set(hdr::kFqcn, opt.fqcn);
      hello.headers.set(hdr::kVersion, NVF_VERSION);
      (*conn)->send(std::move(hello)).ignore();
      std::unique_lock<std::mutex> lock(mu_);
      auto started = Clock::now();
      cv_.wait(lock, [&] { return stopping_ || (*conn)->closed() || c->closed; });
      c->conn.reset();
      if (stopping_) return;
      if (Clock::now() - started > opt.reconnect_max) backoff = opt.reconnect_initial;
    } else {
      log->debug("{}: connect to {} failed: {}", opt.fqcn, c->url, conn.status().message());
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, backoff, [&] { return stopping_; });
    if (stopping_) return;
    backoff = std::min(backoff * 2, opt.reconnect_max);
  }
}

Status Cell::Impl::wait_for_peer(const std::string& peer, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  bool ok = cv_.wait_for(lock, timeout, [&] { return stopping_ || agents_.count(peer) > 0; });
  if (agents_.count(peer)) return Status::OK();
  if (stopping_) return CancelledError("cell " + opt.fqcn + " stopped");
  (void)ok;
  return DeadlineExceededError(opt.fqcn + ": no connection to " + peer + " within " +
                               std::to_string(timeout.count()) + " ms");
}

std::vector<std::string> Cell::Impl::peers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : agents_) out.push_back(k);
  return out;
}

void Cell::Impl::register_request_handler(const std::string& channel, const std::string& topic, RequestHandler h) {
  register_async_request_handler(channel, topic, [h = std::move(h)](const Message& m, Responder respond) {
    respond(h(m));
  });
}

void Cell::Impl::register_async_request_handler(const std::string& channel, const std::string& topic,
                                                AsyncRequestHandler h) {
  std::lock_guard<std::mutex> lock(mu_);
  request_handlers_[channel + "\n" + topic] = std::move(h);
}

void Cell::Impl::register_message_handler(const std::string& channel, const std::string& topic, MessageHandler h) {
  std::lock_guard<std::mutex> lock(mu_);
  message_handlers_[channel + "\n" + topic] = std::move(h);
}

void Cell::Impl::on_peer_event(PeerCallback cb) {
  std::lock_guard<std::mutex> lock(mu_);
  peer_callbacks_.push_back(std::move(cb));
}

CellStats Cell::Impl::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Cell::Impl::set_auth_headers(Headers headers) {
  auto h = headers.size() ? std::make_shared<const Headers>(std::move(headers)) : nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auth_headers_ = std::move(h);
}

void Cell::Impl::notify_peer(const std::string& peer, bool up) {
  std::vector<PeerCallback> cbs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cbs = peer_callbacks_;
  }
  for (auto& cb : cbs) callbacks_.post([cb, peer, up] { cb(peer, up); });
}

// ---------------------------------------------------------------- Impl: connections

void Cell::Impl::on_connected(const std::shared_ptr<Connection>& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  conns_.insert(conn);
}

void Cell::Impl::on_accepted(const std::shared_ptr<Connection>& conn,
                             std::shared_ptr<const IncomingFilter> filter) {
  std::lock_guard<std::mutex> lock(mu_);
  // Tagged even while stopping: no frame of a filtered connection may ever pass unchecked.
  filters_[conn.get()] = ConnFilter{std::move(filter), false};
  if (stopping_) return;
  conns_.insert(conn);
}

void Cell::Impl::on_closed(const std::shared_ptr<Connection>& conn, const Status& reason) {
  std::string peer;
  std::vector<std::function<void()>> fail;
  std::vector<std::string> dropped;  // partial incoming streams whose chunks came through conn
  bool was_agent = false;
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping = stopping_;
    conns_.erase(conn);
    filters_.erase(conn.get());
    // The rest of these streams can only have come through this connection: drop them now, not
    // after streaming_read_timeout (a restarted sender reuses its stream ids).
    for (auto it = rx_streams_.begin(); it != rx_streams_.end();) {
      if (it->second.conn == conn.get()) {
        dropped.push_back(it->first + " from " + it->second.headers.get_or(hdr::kOrigin, "?"));
        it = rx_streams_.erase(it);
      } else {
        ++it;
      }
    }
    auto it = names_.find(conn.get());
    if (it != names_.end()) {
      peer = it->second;
      names_.erase(it);
      auto a = agents_.find(peer);
      if (a != agents_.end() && a->second.conn == conn) {
        agents_.erase(a);
        was_agent = true;
      }
    }
    for (auto& c : connectors_) {
      if (c->conn == conn) c->closed = true;
    }
    if (was_agent) {
      // Requests that left through this connection will get no reply: fail them now.
      for (auto w = waiters_.begin(); w != waiters_.end();) {
        if (w->second.via == peer) {
          auto done = std::move(w->second.done);
          std::string target = w->second.target;
          fail.push_back([done, target, peer, reason] {
            done(UnavailableError("connection to " + peer + " lost while waiting for a reply from " + target +
                                  ": " + reason.message()));
          });
          w = waiters_.erase(w);
        } else {
          ++w;
        }
      }
      // Only the streams leaving through this neighbour: those to others go on.
      for (auto& [sid, tx] : tx_streams_) {
        if (tx.next == peer && tx.error.ok()) {
          tx.error = UnavailableError("connection to " + peer + " lost: " + reason.message());
        }
      }
    }
  }
  cv_.notify_all();
  for (const auto& d : dropped) {
    log->warn("{}: dropping partial stream {}: its connection closed: {}", opt.fqcn, d, reason.message());
  }
  if (was_agent) {
    log->info("{}: connection to {} closed: {}", opt.fqcn, peer, reason.message());
    notify_peer(peer, false);
  } else if (peer.empty() && !stopping) {
    // Never got past the handshake: malformed bytes, data before HELLO, a refused peer. Say why.
    if (reason.code() == StatusCode::kInvalidArgument) {
      log->warn("{}: connection from {} closed before its handshake: {}", opt.fqcn, conn->peer().address,
                reason.message());
    } else {
      log->info("{}: connection from {} closed before its handshake: {}", opt.fqcn, conn->peer().address,
                reason.message());
    }
  }
  for (auto& f : fail) completions_.post(std::move(f));
}

void Cell::Impl::handle_handshake(const std::shared_ptr<Connection>& conn, Frame& frame) {
  std::string peer(frame.headers.get(hdr::kFqcn).value_or(""));
  std::string version(frame.headers.get(hdr::kVersion).value_or(""));
  std::string error;
  if (Status s = fqcn::validate(peer); !s.ok()) {
    error = s.message();
  } else if (peer == opt.fqcn) {
    error = "peer uses this cell's own name " + peer;
  } else if (frame.type == FrameType::kHello && version != NVF_VERSION) {
    error = "version mismatch: " + peer + " runs nvflare " + (version.empty() ? "?" : version) + ", " + opt.fqcn +
            " runs " + NVF_VERSION + "; install the same version on both sides";
  } else if (auto e = frame.headers.get(hdr::kError)) {
    error = std::string(*e);
  }
  if (!error.empty()) {
    log->error("{}: refusing connection from {}: {}", opt.fqcn, conn->peer().address, error);
    if (frame.type == FrameType::kHello) {
      Frame ready;
      ready.type = FrameType::kReady;
      ready.headers.set(hdr::kFqcn, opt.fqcn);
      ready.headers.set(hdr::kError, error);
      conn->send(std::move(ready)).ignore();
    }
    conn->close(FailedPreconditionError(error));
    return;
  }
  std::shared_ptr<Connection> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    auto& agent = agents_[peer];
    if (agent.conn && agent.conn != conn) evicted = agent.conn;  // one connection per endpoint
    agent.conn = conn;
    agent.last_received = agent.last_ping = Clock::now();
    agent.stall_checks = 0;
    names_[conn.get()] = peer;
  }
  if (frame.type == FrameType::kHello) {
    Frame ready;
    ready.type = FrameType::kReady;
    ready.headers.set(hdr::kFqcn, opt.fqcn);
    ready.headers.set(hdr::kVersion, NVF_VERSION);
    conn->send(std::move(ready)).ignore();
  }
  if (evicted) evicted->close(AbortedError("replaced by a new connection from " + peer));
  cv_.notify_all();
  log->info("{}: connected to {}", opt.fqcn, peer);
  notify_peer(peer, true);
}

void Cell::Impl::on_frame(const std::shared_ptr<Connection>& conn, Frame frame) {
  switch (frame.type) {
    case FrameType::kHello:
    case FrameType::kReady:
      handle_handshake(conn, frame);
      return;
    case FrameType::kPing: {
      Frame pong;
      pong.type = FrameType::kPong;
      conn->send(std::move(pong)).ignore();
      break;
    }
    case FrameType::kPong:
      break;
    case FrameType::kData:
      break;
  }
  bool known = false;
  std::shared_ptr<const IncomingFilter> filter;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = names_.find(conn.get());
    if (it != names_.end()) {
      known = true;
      auto a = agents_.find(it->second);
      if (a != agents_.end()) a->second.last_received = Clock::now();
    }
    if (frame.type == FrameType::kData) {
      auto f = filters_.find(conn.get());
      if (f != filters_.end()) filter = f->second.filter;
    }
  }
  if (frame.type != FrameType::kData) return;
  if (!known) {
    conn->close(InvalidArgumentError("data frame from " + conn->peer().address + " before the handshake"));
    return;
  }
  if (filter) {
    Result<std::string> who = (*filter)(frame.headers, conn->peer());
    if (!who.ok()) {
      refuse(conn, frame, who.status());
      return;
    }
    if (who->empty()) {
      frame.headers.erase(hdr::kAuthenticated);
    } else {
      frame.headers.set(hdr::kAuthenticated, *who);
    }
  }
  handle_data(conn, std::move(frame));
}

// ---------------------------------------------------------------- identity of known cells

IncomingFilter identify_known_cells(std::map<std::string, std::string> names) {
  auto table = std::make_shared<const std::map<std::string, std::string>>(std::move(names));
  return [table](const Headers& h, const PeerInfo&) -> Result<std::string> {
    // The nearest known cell at or above the origin: "relay-1.site-1.job" is site-1's even when
    // relay-1 is known too.
    std::string at = h.get_or(hdr::kOrigin, "");
    const std::string origin = at;
    while (!at.empty()) {
      auto it = table->find(at);
      if (it != table->end()) return it->second;
      at = fqcn::parent(at);
    }
    return UnauthenticatedError("a message from an unknown cell '" + origin + "'");
  };
}

}  // namespace nvf::cellnet
