#include "cellnet/inproc_driver.h"

#include <atomic>
#include <map>
#include <mutex>

#include "cellnet/send_queue.h"
#include "cellnet/thread_group_internal.h"

namespace nvf::cellnet {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status check_frame_size(const Frame& frame, uint64_t max_payload) {
  if (frame.payload.size() > max_payload) {
    return InvalidArgumentError("frame payload of " + std::to_string(frame.payload.size()) +
                                " bytes exceeds max_message_size (" + std::to_string(max_payload) +
                                "): send it as a stream");
  }
  return Status::OK();
}

// One side of an inproc connection. Frames sent on this side go into the peer's inbox; this
// side's delivery thread drains its own inbox into its own handler.
class InprocConnection : public Connection, public std::enable_shared_from_this<InprocConnection> {
 public:
  InprocConnection(PeerInfo peer, ConnectionHandler* handler, uint64_t max_payload)
      : peer_info_(std::move(peer)), handler_(handler), max_payload_(max_payload) {}

  // Called once, before the delivery threads start.
  void link(const std::shared_ptr<InprocConnection>& peer) { peer_ = peer; }

  Status send(Frame frame) override {
    NVF_RETURN_IF_ERROR(check_frame_size(frame, max_payload_));
    auto peer = peer_.lock();
    if (closed() || !peer || !peer->inbox_.push(std::move(frame))) {
      return UnavailableError("inproc connection to " + peer_info_.address + " is closed");
    }
    return Status::OK();
  }

  void close(const Status& reason) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
      reason_ = reason.ok() ? CancelledError("connection closed") : reason;
    }
    inbox_.close();
    if (auto peer = peer_.lock()) {
      peer->close(UnavailableError("peer closed the connection (" + peer_info_.address +
                                   "): " + reason_.message()));
    }
  }

  const PeerInfo& peer() const override { return peer_info_; }

  size_t queued_bytes() const override {
    auto peer = peer_.lock();
    return peer ? peer->inbox_.queued_bytes() : 0;
  }

  std::chrono::milliseconds current_write_age() const override {
    auto peer = peer_.lock();
    int64_t since = peer ? peer->delivering_since_.load() : 0;
    if (since == 0) return std::chrono::milliseconds(0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(now_ns() - since));
  }

  bool closed() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  // The delivery thread: on_connected, the frames in order, then on_closed once.
  void run() {
    auto self = shared_from_this();
    handler_->on_connected(self);
    while (auto frame = inbox_.pop()) {
      delivering_since_ = now_ns();
      handler_->on_frame(self, std::move(*frame));
      delivering_since_ = 0;
    }
    Status reason;
    {
      std::lock_guard<std::mutex> lock(mu_);
      reason = reason_;
    }
    handler_->on_closed(self, reason);
  }

 private:
  const PeerInfo peer_info_;
  ConnectionHandler* const handler_;
  const uint64_t max_payload_;
  std::weak_ptr<InprocConnection> peer_;  // set by link() before the threads start
  SendQueue inbox_;                       // frames the peer sent to us
  std::atomic<int64_t> delivering_since_{0};
  mutable std::mutex mu_;
  bool closed_ = false;  // guarded by mu_
  Status reason_;        // guarded by mu_
};

struct ListenerState {
  std::string name;
  std::string url;
  ConnectionHandler* handler = nullptr;
  std::mutex mu;
  bool stopped = false;                                   // guarded by mu
  std::vector<std::weak_ptr<InprocConnection>> accepted;  // guarded by mu
};

}  // namespace

struct InprocDriver::Network {
  DriverOptions options;
  std::mutex mu;
  bool stopped = false;                                             // guarded by mu
  std::map<std::string, std::shared_ptr<ListenerState>> listeners;  // guarded by mu
  std::vector<std::weak_ptr<InprocConnection>> conns;               // guarded by mu
  uint64_t next_conn = 1;                                           // guarded by mu
  ThreadGroup threads;

  void stop_listener(const std::shared_ptr<ListenerState>& st) {
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = listeners.find(st->name);
      if (it != listeners.end() && it->second == st) listeners.erase(it);
    }
    std::vector<std::weak_ptr<InprocConnection>> accepted;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      if (st->stopped) return;
      st->stopped = true;
      accepted.swap(st->accepted);
    }
    for (auto& w : accepted) {
      if (auto c = w.lock()) c->close(UnavailableError("listener " + st->url + " stopped"));
    }
  }
};

namespace {

class InprocListener : public Listener {
 public:
  InprocListener(std::shared_ptr<InprocDriver::Network> net, std::shared_ptr<ListenerState> st)
      : net_(std::move(net)), st_(std::move(st)) {}
  ~InprocListener() override { stop(); }
  std::string url() const override { return st_->url; }
  void stop() override { net_->stop_listener(st_); }

 private:
  std::shared_ptr<InprocDriver::Network> net_;
  std::shared_ptr<ListenerState> st_;
};

Result<std::string> inproc_name(const std::string& url) {
  NVF_ASSIGN_OR_RETURN(Url u, parse_url(url));
  if (u.scheme != "inproc") {
    return InvalidArgumentError("the inproc driver cannot serve '" + url +
                                "' (expected inproc://name)");
  }
  return u.path;
}

}  // namespace

InprocDriver::InprocDriver(DriverOptions options) : net_(std::make_shared<Network>()) {
  net_->options = std::move(options);
}

InprocDriver::~InprocDriver() { stop(); }

std::vector<std::string> InprocDriver::schemes() const { return {"inproc"}; }

Result<std::unique_ptr<Listener>> InprocDriver::listen(const std::string& url,
                                                       ConnectionHandler* handler) {
  NVF_ASSIGN_OR_RETURN(std::string name, inproc_name(url));
  auto st = std::make_shared<ListenerState>();
  st->name = name;
  st->url = "inproc://" + name;
  st->handler = handler;
  std::lock_guard<std::mutex> lock(net_->mu);
  if (net_->stopped)
    return UnavailableError("cannot listen on " + url + ": the inproc driver was stopped");
  if (!net_->listeners.emplace(name, st).second) {
    return UnavailableError("cannot listen on " + url +
                            ": another listener already uses that name");
  }
  return std::unique_ptr<Listener>(std::make_unique<InprocListener>(net_, st));
}

Result<std::shared_ptr<Connection>> InprocDriver::connect(const std::string& url,
                                                          ConnectionHandler* handler,
                                                          std::chrono::milliseconds /*timeout*/) {
  NVF_ASSIGN_OR_RETURN(std::string name, inproc_name(url));
  std::lock_guard<std::mutex> lock(net_->mu);
  if (net_->stopped)
    return UnavailableError("cannot connect to " + url + ": the inproc driver was stopped");
  auto it = net_->listeners.find(name);
  if (it == net_->listeners.end()) {
    return UnavailableError("cannot connect to " + url +
                            ": nothing listens on that name (connection refused)");
  }
  std::shared_ptr<ListenerState> st = it->second;
  uint64_t id = net_->next_conn++;
  uint64_t max_payload = net_->options.max_payload;
  std::string client_addr = "inproc client #" + std::to_string(id) + " of " + st->url;
  auto client =
      std::make_shared<InprocConnection>(PeerInfo{st->url, st->url, ""}, handler, max_payload);
  auto server = std::make_shared<InprocConnection>(PeerInfo{st->url, client_addr, ""}, st->handler,
                                                   max_payload);
  client->link(server);
  server->link(client);
  {
    std::lock_guard<std::mutex> l(st->mu);
    if (st->stopped)
      return UnavailableError("cannot connect to " + url + ": the listener is stopping");
    std::erase_if(st->accepted, [](const auto& w) { return w.expired(); });
    st->accepted.push_back(server);
  }
  std::erase_if(net_->conns, [](const auto& w) { return w.expired(); });
  net_->conns.push_back(client);
  net_->conns.push_back(server);
  net_->threads.spawn([server] { server->run(); });
  net_->threads.spawn([client] { client->run(); });
  return std::shared_ptr<Connection>(client);
}

void InprocDriver::stop() {
  std::vector<std::shared_ptr<ListenerState>> listeners;
  std::vector<std::weak_ptr<InprocConnection>> conns;
  {
    std::lock_guard<std::mutex> lock(net_->mu);
    net_->stopped = true;
    for (auto& [name, st] : net_->listeners) listeners.push_back(st);
    conns.swap(net_->conns);
  }
  for (auto& st : listeners) net_->stop_listener(st);
  for (auto& w : conns) {
    if (auto c = w.lock()) c->close(UnavailableError("the inproc driver stopped"));
  }
  net_->threads.join_all();
}

}  // namespace nvf::cellnet
