// The cell-over-real-transport suite: the failure modes FLARE 2.7.2 got wrong, checked at the
// cell level with real kernel buffers, real partial writes and real connection teardown
// (cell_test.cc covers the same cell logic over the in-process driver, where none of that exists).
//
// This header holds the TEST_Ps; a test binary includes it from exactly one source file and
// instantiates both suites with its transports (cell_transport_test.cc: uds, tcp;
// cellnet_grpc/tests/grpc_cell_transport_test.cc: grpc):
//
//   INSTANTIATE_TEST_SUITE_P(Socket, CellTransportTest, ::testing::Values(uds(), tcp()), TransportName());
//   INSTANTIATE_TEST_SUITE_P(Socket, StalledPeerTest, ::testing::Values(uds(), tcp()), TransportName());
//
//   RequestOvertakesA256MiBStream           control traffic is not queued behind a bulk stream
//                                           (the head-of-line stall of spec §3.3 / §11.1), both
//                                           directions, with the stream verifiably mid-flight.
//   LosingOnePeerDoesNotAbortStreamsToOthers  a lost neighbour fails only the streams through it.
//   PeerThatStopsReading*                   a neighbour that stops reading is detected and
//                                           isolated by each guard on its own (driver
//                                           send_timeout, the monitor's stall guard, the ACK
//                                           progress watchdog) while traffic with another
//                                           neighbour, streams included, keeps completing.
//   ErrorSignalMidReceiveDoesNotDeadlock    an ERROR for a stream being received (§11.3) and
//                                           chunks of unknown streams are rejected, logged, and
//                                           the cell keeps serving.
//   PartialStreamIsDroppedWhenItsSenderDies a sender that dies mid-stream leaves no partial
//                                           stream behind: the restarted sender (whose stream
//                                           ids start again at 1) streams to the cell at once.
//   MalformedFramesAreRejectedAndServiceContinues  garbage, oversized prefixes, data before the
//                                           handshake, bad destinations: only that connection
//                                           (or message) is dropped, with a logged reason.
//   ReconnectsWithBackoffAfterServerRestart the client cell reconnects to a new server on the
//                                           same URL and a request succeeds.
//
// cell_transport_placement_suite.h adds the replies read in place (ReplyPlacement); the test
// files include both headers.
//
// No test sleeps: every wait is on a future, a condition or a socket poll with a deadline.
// Sockets are 127.0.0.1 with OS-chosen ports, or Unix sockets in a fresh mkdtemp dir under /tmp.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "base/sanitizer_slowdown.h"
#include "base/version.h"
#include "cellnet/cell.h"

// Everything lives in a named namespace (not an anonymous one, which is wrong in a header); the
// header is included by exactly one source file per test binary.
namespace nvf::cellnet::transport_suite {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Only reached when a test fails: the bound on waits for things that normally take milliseconds.
constexpr milliseconds kWait = 2000ms * base::kSanitizerSlowdown;
// The bound on moving hundreds of MiB through a loaded 2-core machine (again only hit on failure).
constexpr milliseconds kBulkWait = 60000ms * base::kSanitizerSlowdown;

// ---------------------------------------------------------------- helpers

/// Collects log lines so tests can check that a reason was logged; wait_for() blocks (with a
/// deadline) until a line containing a text shows up.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  bool wait_for(const std::string& text, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& l : lines_) {
        if (l.find(text) != std::string::npos) return true;
      }
      return false;
    });
  }
  std::string all() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
    cv_.notify_all();
  }
  void flush_() override {}

 private:
  std::condition_variable_any cv_;
  std::vector<std::string> lines_;
};

/// A peer that speaks the cell protocol by hand over a driver connection: it answers a HELLO with
/// READY (or sends its own HELLO), records every frame, and can stop reading: with block_data set,
/// its driver thread parks inside on_frame at the first DATA frame until `release` is ready, so
/// the kernel socket buffers between it and the cell fill up.
class RawPeer : public ConnectionHandler {
 public:
  explicit RawPeer(std::string name) : name_(std::move(name)) {}

  void block_data(std::shared_future<void> release) {
    std::lock_guard<std::mutex> lock(mu_);
    block_ = true;
    release_ = std::move(release);
  }

  void on_connected(const std::shared_ptr<Connection>& conn) override {
    std::lock_guard<std::mutex> lock(mu_);
    conns_.push_back(conn);
    cv_.notify_all();
  }
  void on_frame(const std::shared_ptr<Connection>& conn, Frame frame) override {
    if (frame.type == FrameType::kHello) {
      Frame ready;
      ready.type = FrameType::kReady;
      ready.headers.set(hdr::kFqcn, name_);
      ready.headers.set(hdr::kVersion, NVF_VERSION);
      conn->send(std::move(ready)).ignore();
    }
    std::shared_future<void> wait;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (frame.type == FrameType::kData && block_) {
        wait = release_;
        ++blocked_;
      }
      frames_.push_back(std::move(frame));
      cv_.notify_all();
    }
    if (wait.valid()) wait.wait();
  }
  void on_closed(const std::shared_ptr<Connection>&, const Status& reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_.push_back(reason);
    cv_.notify_all();
  }

  /// Waits for a frame matching `pred` (among all received so far); false on timeout.
  bool wait_frame(const std::function<bool(const Frame&)>& pred, milliseconds timeout, Frame* out = nullptr) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& f : frames_) {
        if (pred(f)) {
          if (out) *out = f;
          return true;
        }
      }
      return false;
    });
  }
  bool wait_closed(size_t n, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return closed_.size() >= n; });
  }
  bool wait_blocked(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return blocked_ > 0; });
  }
  std::shared_ptr<Connection> last_connection() {
    std::lock_guard<std::mutex> lock(mu_);
    return conns_.empty() ? nullptr : conns_.back();
  }

 private:
  const std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool block_ = false;
  int blocked_ = 0;
  std::shared_future<void> release_;
  std::vector<std::shared_ptr<Connection>> conns_;
  std::vector<Frame> frames_;
  std::vector<Status> closed_;
};

inline bool is_type(const Frame& f, FrameType t) { return f.type == t; }

inline Frame hello(const std::string& name) {
  Frame f;
  f.type = FrameType::kHello;
  f.headers.set(hdr::kFqcn, name);
  f.headers.set(hdr::kVersion, NVF_VERSION);
  return f;
}

inline Frame ping() {
  Frame f;
  f.type = FrameType::kPing;
  return f;
}

// A stream chunk as Cell::stream_message sends it, but not flagged bulk, so that it cannot be
// overtaken by a later control frame of the test (a PING used as a barrier).
inline Frame chunk(const std::string& origin, const std::string& dest, const std::string& sid, int64_t seq,
            uint64_t offset, uint64_t total, size_t n) {
  Frame f;
  f.type = FrameType::kData;
  f.headers.set(hdr::kOrigin, origin);
  f.headers.set(hdr::kDestination, dest);
  if (seq == 0) {
    f.headers.set(hdr::kChannel, "bulk");
    f.headers.set(hdr::kTopic, "model");
    f.headers.set(hdr::kMsgType, "fire");
    f.headers.set_int(hdr::kStreamSize, static_cast<int64_t>(total));
  }
  f.headers.set(hdr::kStreamType, "chunk");
  f.headers.set(hdr::kStreamId, sid);
  f.headers.set_int(hdr::kStreamSeq, seq);
  f.headers.set_int(hdr::kStreamOffset, static_cast<int64_t>(offset));
  f.payload = Buffer(Slice::from_string(std::string(n, 'c')));
  return f;
}

// ---- raw stream sockets (uds / tcp), for bytes no driver would send

inline int raw_connect(const std::string& url) {
  auto u = parse_url(url);
  if (!u.ok()) return -1;
  int fd = -1;
  if (u->scheme == "uds") {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, u->path.c_str(), sizeof(sa.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      ::close(fd);
      return -1;
    }
  } else {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(u->port));
    ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

inline bool raw_write(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// True when the peer closes the socket (EOF or reset) before the deadline; data is discarded.
inline bool raw_wait_closed(int fd, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
    if (r <= 0) return true;
  }
}

// ---------------------------------------------------------------- the fixture

/// How to make and address one transport under test.
struct Transport {
  std::string name;  // gtest parameter name
  std::function<std::shared_ptr<Driver>(const DriverOptions&)> make_driver;
  /// A URL to listen on for the listener named `who`, inside the test's temp dir.
  std::function<std::string(const std::string& dir, const std::string& who)> listen_url;
  /// Listeners read frames straight off a stream socket (uds, tcp): enables the raw-byte cases.
  bool raw_socket = false;
  /// A handler may park inside on_frame without stalling other connections (each socket
  /// connection has its own reader thread; gRPC runs handlers on its shared callback threads).
  bool handler_may_block = false;
};

inline void PrintTo(const Transport& t, std::ostream* os) { *os << t.name; }

struct TransportName {
  std::string operator()(const ::testing::TestParamInfo<Transport>& info) const { return info.param.name; }
};

class CellTransportTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvfct-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sink_ = std::make_shared<CaptureSink>();
    logger_ = std::make_shared<spdlog::logger>("cells", sink_);
    logger_->set_level(spdlog::level::debug);
  }
  void TearDown() override {
    for (auto it = cells_.rbegin(); it != cells_.rend(); ++it) (*it)->stop();
    release_.set_value();  // raw peers parked in on_frame return before their driver stops
    for (auto& r : registries_) r->stop_all();
    for (auto& d : raw_drivers_) d->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (HasFailure()) std::cerr << "---- cell log ----\n" << sink_->all();
  }

  static DriverOptions driver_options() {
    DriverOptions o;
    o.send_timeout = 2000ms;
    return o;
  }
  /// A registry holding one driver of the transport under test (made per cell when needed, so
  /// each cell can have its own DriverOptions).
  DriverRegistry* registry(const DriverOptions& o = driver_options()) {
    registries_.push_back(std::make_unique<DriverRegistry>());
    registries_.back()->add(GetParam().make_driver(o));
    return registries_.back().get();
  }
  /// A bare driver of the transport under test for raw peers.
  Driver* raw_driver(const DriverOptions& o = driver_options()) {
    raw_drivers_.push_back(GetParam().make_driver(o));
    return raw_drivers_.back().get();
  }
  CellOptions options(const std::string& name, DriverRegistry* drivers = nullptr) {
    CellOptions o;
    o.fqcn = name;
    o.drivers = drivers ? drivers : registry();
    o.logger = logger_;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 100ms;
    o.connect_timeout = kWait;
    o.monitor_interval = 50ms;
    o.default_request_timeout = kWait;
    return o;
  }
  Cell* make(CellOptions o) {
    cells_.push_back(std::make_unique<Cell>(std::move(o)));
    EXPECT_TRUE(cells_.back()->start().ok());
    return cells_.back().get();
  }
  Cell* make(const std::string& name) { return make(options(name)); }
  std::string listen(Cell* cell) {
    auto url = cell->listen(GetParam().listen_url(dir_, cell->fqcn()));
    EXPECT_TRUE(url.ok()) << url.status().to_string();
    return url.ok() ? *url : std::string();
  }
  // `a` connects to `b` (listening) and both see each other.
  void link(Cell* a, const std::string& url, Cell* b) {
    ASSERT_TRUE(a->connect(url).ok());
    ASSERT_TRUE(a->wait_for_peer(b->fqcn(), kWait).ok());
    ASSERT_TRUE(b->wait_for_peer(a->fqcn(), kWait).ok());
  }
  /// A raw peer that lives until the end of the test (its driver may call it until TearDown).
  RawPeer* raw_peer(const std::string& name) {
    raw_peers_.push_back(std::make_unique<RawPeer>(name));
    return raw_peers_.back().get();
  }

  std::string dir_;
  std::shared_ptr<CaptureSink> sink_;
  base::Logger logger_;
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  std::vector<std::unique_ptr<RawPeer>> raw_peers_;  // outlive the drivers that call them
  std::vector<std::unique_ptr<DriverRegistry>> registries_;
  std::vector<std::shared_ptr<Driver>> raw_drivers_;
  std::vector<std::unique_ptr<Cell>> cells_;
};

/// Records the first "down" event of one peer as a future (state shared with the callback, which
/// the cell may still call after the test body returns).
class PeerEvents {
 public:
  PeerEvents(Cell* cell, const std::string& peer) : state_(std::make_shared<State>()) {
    state_->down_future = state_->down.get_future().share();
    cell->on_peer_event([state = state_, peer](const std::string& p, bool up) {
      if (p != peer || up) return;
      std::lock_guard<std::mutex> lock(state->mu);
      if (!state->down_seen) {
        state->down_seen = true;
        state->down.set_value();
      }
    });
  }
  std::shared_future<void> down() const { return state_->down_future; }

 private:
  struct State {
    std::mutex mu;
    bool down_seen = false;
    std::promise<void> down;
    std::shared_future<void> down_future;
  };
  std::shared_ptr<State> state_;
};

inline RequestHandler echo(const std::string& tag) {
  return [tag](const Message& m) -> Result<Message> { return Message::of(tag + ":" + m.payload.to_string()); };
}

// ---------------------------------------------------------------- 1. HOL: requests overtake a stream

// Proves: with a 256 MiB fire streaming from A to B over a real socket, a request A→B and a
// request B→A are answered while the stream is still in flight — B has started reassembling it
// (streams_received == 1) and its handler has not run when the small requests' handlers run.
// FLARE 2.7.2 wrote each frame under the connection's lock, so these waited for the whole frame.
TEST_P(CellTransportTest, RequestOvertakesA256MiBStream) {
  Cell* a = make("site-a");
  std::string url = listen(a);
  Cell* b = make("site-b");
  link(b, url, a);

  constexpr size_t kBig = 256u << 20;
  // Shared with the handlers, which the cells may still call if the test body fails early.
  struct State {
    std::atomic<bool> big_done{false};
    std::promise<size_t> big_arrived;
  };
  auto st = std::make_shared<State>();
  b->register_message_handler("bulk", "model", [st](const Message& m) {
    st->big_done = true;
    st->big_arrived.set_value(m.payload.size());
  });
  // Each handler reports whether B's big-message handler had already run when it ran.
  auto report = [st](const Message&) -> Result<Message> { return Message::of(st->big_done ? "after" : "before"); };
  b->register_request_handler("task", "ping", report);
  a->register_request_handler("task", "ping", report);

  ASSERT_TRUE(a->fire("site-b", "bulk", "model", Message::of(std::string(kBig, 'm'))).ok());
  // Round trips until B is reassembling the stream (its first chunk arrived).
  auto deadline = Clock::now() + kWait;
  while (b->stats().streams_received == 0) {
    ASSERT_LT(Clock::now(), deadline) << "the stream never started";
    auto r = a->request("site-b", "task", "ping", Message::of(""), kWait);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
  auto to_b = a->request("site-b", "task", "ping", Message::of(""), kWait);
  auto to_a = b->request("site-a", "task", "ping", Message::of(""), kWait);
  ASSERT_TRUE(to_b.ok()) << to_b.status().to_string();
  ASSERT_TRUE(to_a.ok()) << to_a.status().to_string();
  EXPECT_EQ(to_b->payload.to_string(), "before");
  EXPECT_EQ(to_a->payload.to_string(), "before");

  auto arrived = st->big_arrived.get_future();
  ASSERT_EQ(arrived.wait_for(kBulkWait), std::future_status::ready);
  EXPECT_EQ(arrived.get(), kBig);
  EXPECT_EQ(a->stats().streams_sent, 1u);
  EXPECT_EQ(b->stats().malformed_messages, 0u);
}

// ---------------------------------------------------------------- 2. a peer that stops reading

enum class Guard { kDriverSendTimeout, kStallMonitor, kAckProgress };

// A is connected to a raw peer B (which completes the handshake, then parks its reader on the
// first DATA frame) and to a normal cell C. A streams 64 MiB to B. run() checks that the stream
// fails within its deadline through `guard` while A↔C traffic (small requests both ways and
// streamed requests A→C) keeps completing, and that only the guard meant to act did.
class StalledPeerTest : public CellTransportTest {
 public:
  void run(Guard guard) {
    if (!GetParam().handler_may_block) {
      GTEST_SKIP() << GetParam().name << ": a raw peer parked in on_frame would hold a shared driver thread";
    }
    DriverOptions dopt = driver_options();
    CellOptions ao = options("site-a");
    // 64 MiB is far above what the kernel buffers between A and B hold (wmem/rmem caps): A's
    // writer ends up blocked in the middle of a frame.
    constexpr size_t kStalled = 64u << 20;
    ao.window_size = kStalled;  // send everything without waiting for B's ACKs ...
    ao.ack_progress_timeout = 30000ms;
    ao.send_stall_timeout = 30000ms;
    ao.close_stalled_connection = false;
    dopt.send_timeout = 30000ms;
    switch (guard) {
      case Guard::kDriverSendTimeout:
        dopt.send_timeout = 500ms;
        break;
      case Guard::kStallMonitor:
        ao.close_stalled_connection = true;
        ao.send_stall_timeout = 200ms;
        ao.send_stall_consecutive_checks = 2;
        ao.monitor_interval = 50ms;
        break;
      case Guard::kAckProgress:
        ao.window_size = 4u << 20;  // ... except here: the window stalls, B never ACKs
        ao.ack_progress_timeout = 500ms;
        ao.ack_check_interval = 50ms;
        break;
    }
    ao.drivers = registry(dopt);
    Cell* a = make(ao);
    Cell* c = make("site-c");
    std::string c_url = listen(c);

    RawPeer& b = *raw_peer("site-b");
    b.block_data(released_);
    auto bl = raw_driver()->listen(GetParam().listen_url(dir_, "site-b"), &b);
    ASSERT_TRUE(bl.ok()) << bl.status().to_string();
    raw_listeners_.push_back(std::move(*bl));

    PeerEvents b_events(a, "site-b");
    PeerEvents c_events(a, "site-c");
    ASSERT_TRUE(a->connect(raw_listeners_.back()->url()).ok());
    ASSERT_TRUE(a->wait_for_peer("site-b", kWait).ok());
    link(a, c_url, c);
    c->register_request_handler("task", "ping", echo("c"));
    a->register_request_handler("task", "ping", echo("a"));

    auto start = Clock::now();
    auto stalled = std::make_shared<std::promise<Result<Message>>>();
    auto stalled_done = stalled->get_future();
    a->request_async("site-b", "bulk", "model", Message::of(std::string(kStalled, 's')), 10000ms,
                     [stalled](Result<Message> r) { stalled->set_value(std::move(r)); });
    ASSERT_TRUE(b.wait_blocked(kWait)) << "B never got the first chunk";

    // A↔C keeps working while A→B is stuck, until the guard acts (and a little after).
    int rounds = 0;
    while (stalled_done.wait_for(0ms) != std::future_status::ready) {
      ASSERT_LT(Clock::now() - start, 5000ms) << "the stalled stream did not fail in time";
      auto up = c->request("site-a", "task", "ping", Message::of(std::to_string(rounds)), kWait);
      ASSERT_TRUE(up.ok()) << up.status().to_string();
      EXPECT_EQ(up->payload.to_string(), "a:" + std::to_string(rounds));
      // Streamed (2 MiB > chunk size): fails if the loss of B aborts A's other streams.
      auto down = a->request("site-c", "task", "ping", Message::of(std::string(2u << 20, 'x')), kWait);
      ASSERT_TRUE(down.ok()) << down.status().to_string();
      EXPECT_EQ(down->payload.size(), 2 + (2u << 20));
      ++rounds;
    }
    Result<Message> r = stalled_done.get();
    auto took = Clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_GE(rounds, 1);
    EXPECT_LT(took, 5000ms);
    switch (guard) {
      case Guard::kDriverSendTimeout:
      case Guard::kStallMonitor:
        // The connection to B was closed: the request through it failed as such.
        EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();
        EXPECT_NE(r.status().message().find("site-b"), std::string::npos) << r.status().to_string();
        ASSERT_EQ(b_events.down().wait_for(kWait), std::future_status::ready);
        if (guard == Guard::kStallMonitor) {
          EXPECT_GE(a->stats().stalled_connections_closed, 1u);
          EXPECT_TRUE(sink_->wait_for("Detected stalled send on connection to site-b (1/2)", kWait));
          EXPECT_TRUE(sink_->wait_for("sfm_close_stalled_connection", kWait));
        } else {
          EXPECT_EQ(a->stats().stalled_connections_closed, 0u);
          EXPECT_TRUE(sink_->wait_for("streaming_send_timeout", kWait));
        }
        break;
      case Guard::kAckProgress:
        // The stream gave up; the connection stays (only its stream failed).
        EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().to_string();
        EXPECT_NE(r.status().message().find("streaming_ack_progress_timeout"), std::string::npos)
            << r.status().to_string();
        EXPECT_EQ(a->stats().stalled_connections_closed, 0u);
        EXPECT_EQ(b_events.down().wait_for(0ms), std::future_status::timeout);
        break;
    }
    // C was never affected, and still answers.
    EXPECT_EQ(c_events.down().wait_for(0ms), std::future_status::timeout);
    auto after = a->request("site-c", "task", "ping", Message::of("after"), kWait);
    ASSERT_TRUE(after.ok()) << after.status().to_string();
    EXPECT_EQ(after->payload.to_string(), "c:after");
  }

  std::vector<std::unique_ptr<Listener>> raw_listeners_;

  void TearDown() override {
    CellTransportTest::TearDown();
    for (auto& l : raw_listeners_) l->stop();
  }
};

// Proves: the driver's streaming_send_timeout alone (stall guard off, ACK watchdog far away)
// closes a connection whose write is blocked, fails what was in flight through it with
// UNAVAILABLE, fires "site-b down", and leaves traffic with C (and A's streams to C) untouched.
TEST_P(StalledPeerTest, PeerThatStopsReadingDoesNotBlockOthers_DriverSendTimeout) { run(Guard::kDriverSendTimeout); }

// Proves: the monitor's stall guard alone (driver send_timeout far away) warns "Detected stalled
// send ... (1/2)" and closes the connection after 2 consecutive stalled ticks
// (stalled_connections_closed >= 1), with the same isolation of C.
TEST_P(StalledPeerTest, PeerThatStopsReadingDoesNotBlockOthers_StallMonitor) { run(Guard::kStallMonitor); }

// Proves: with a window smaller than the message, the ACK-progress watchdog fails the stream
// with DEADLINE_EXCEEDED (streaming_ack_progress_timeout) without closing the connection, and C
// keeps being served.
TEST_P(StalledPeerTest, PeerThatStopsReadingDoesNotBlockOthers_AckProgress) { run(Guard::kAckProgress); }

// Proves: losing one neighbour aborts only the streams that went through it. A streams 8 MiB to
// a raw peer C under a 4 MiB window (so the stream is parked waiting for C's ACK) when its
// connection to B closes; C then ACKs by hand and must receive the remaining chunks, not a stream
// error. (Before the fix, Cell::on_closed failed every outgoing stream of the cell.)
TEST_P(CellTransportTest, LosingOnePeerDoesNotAbortStreamsToOthers) {
  CellOptions ao = options("site-a");
  ao.window_size = 4u << 20;
  Cell* a = make(ao);
  std::string a_url = listen(a);
  Cell* b = make("site-b");
  PeerEvents b_events(a, "site-b");
  link(b, a_url, a);
  RawPeer& c = *raw_peer("site-c");
  auto conn = raw_driver()->connect(a_url, &c, kWait);
  ASSERT_TRUE(conn.ok()) << conn.status().to_string();
  ASSERT_TRUE((*conn)->send(hello("site-c")).ok());
  ASSERT_TRUE(a->wait_for_peer("site-c", kWait).ok());

  constexpr size_t kChunk = 1u << 20;
  constexpr size_t kTotal = 8 * kChunk;
  ASSERT_TRUE(a->fire("site-c", "bulk", "model", Message::of(std::string(kTotal, 'w'))).ok());
  auto is_chunk = [](int64_t seq) {
    return [seq](const Frame& f) {
      return f.type == FrameType::kData && f.headers.get_or(hdr::kStreamType, "") == "chunk" &&
             f.headers.get_int(hdr::kStreamSeq) == seq;
    };
  };
  Frame first;
  ASSERT_TRUE(c.wait_frame(is_chunk(0), kWait, &first));
  ASSERT_TRUE(c.wait_frame(is_chunk(3), kWait));  // the whole window

  b->stop();
  ASSERT_EQ(b_events.down().wait_for(kWait), std::future_status::ready);

  Frame ack;
  ack.headers.set(hdr::kOrigin, "site-c");
  ack.headers.set(hdr::kDestination, "site-a");
  ack.headers.set(hdr::kStreamType, "ack");
  ack.headers.set(hdr::kStreamId, first.headers.get_or(hdr::kStreamId, ""));
  ack.headers.set_int(hdr::kStreamOffset, static_cast<int64_t>(4 * kChunk));
  ASSERT_TRUE((*conn)->send(std::move(ack)).ok());
  auto is_error = [](const Frame& f) { return f.headers.get_or(hdr::kStreamType, "") == "error"; };
  EXPECT_TRUE(c.wait_frame(is_chunk(7), kWait)) << "the stream to site-c did not resume";
  Frame error;
  EXPECT_FALSE(c.wait_frame(is_error, 0ms, &error)) << error.headers.get_or(hdr::kError, "");
}

// ---------------------------------------------------------------- 3. stream errors mid-receive

// Proves (spec §11.3): while B is reassembling a stream from a raw sender, an ERROR signal for
// that stream is handled on B's transport thread without deadlock — B drops the partial stream
// (a following chunk of it is rejected as unknown, logged, counted as malformed, and answered
// with a stream error), a chunk of a never-seen stream is rejected the same way, the big
// message's handler never runs, and B keeps answering requests from another cell.
TEST_P(CellTransportTest, ErrorSignalMidReceiveDoesNotDeadlock) {
  Cell* b = make("site-b");
  std::string url = listen(b);
  Cell* c = make("site-c");
  link(c, url, b);
  b->register_request_handler("task", "ping", echo("b"));
  auto delivered = std::make_shared<std::atomic<int>>(0);
  b->register_message_handler("bulk", "model", [delivered](const Message&) { ++*delivered; });

  RawPeer& a = *raw_peer("site-a");
  auto conn = raw_driver()->connect(url, &a, kWait);
  ASSERT_TRUE(conn.ok()) << conn.status().to_string();
  ASSERT_TRUE((*conn)->send(hello("site-a")).ok());
  ASSERT_TRUE(b->wait_for_peer("site-a", kWait).ok());

  constexpr size_t kChunk = 1u << 20;
  constexpr uint64_t kTotal = 8 * kChunk;
  const std::string sid = "site-a:s1";
  ASSERT_TRUE((*conn)->send(chunk("site-a", "site-b", sid, 0, 0, kTotal, kChunk)).ok());
  ASSERT_TRUE((*conn)->send(chunk("site-a", "site-b", sid, 1, kChunk, kTotal, kChunk)).ok());
  Frame error;
  error.headers.set(hdr::kOrigin, "site-a");
  error.headers.set(hdr::kDestination, "site-b");
  error.headers.set(hdr::kStreamType, "error");
  error.headers.set(hdr::kStreamId, sid);
  error.headers.set(hdr::kError, "sender aborted");
  ASSERT_TRUE((*conn)->send(std::move(error)).ok());
  // B answers a PING only after the frames before it: its reader got through the ERROR.
  ASSERT_TRUE((*conn)->send(ping()).ok());
  ASSERT_TRUE(a.wait_frame([](const Frame& f) { return is_type(f, FrameType::kPong); }, kWait));
  EXPECT_EQ(b->stats().streams_received, 1u);
  EXPECT_EQ(b->stats().malformed_messages, 0u);

  // The next chunk of the aborted stream: unknown now.
  ASSERT_TRUE((*conn)->send(chunk("site-a", "site-b", sid, 2, 2 * kChunk, kTotal, kChunk)).ok());
  Frame rejected;
  ASSERT_TRUE(a.wait_frame(
      [&](const Frame& f) {
        return f.type == FrameType::kData && f.headers.get_or(hdr::kStreamType, "") == "error" &&
               f.headers.get_or(hdr::kStreamId, "") == sid;
      },
      kWait, &rejected));
  EXPECT_NE(rejected.headers.get_or(hdr::kError, "").find("unknown stream " + sid), std::string::npos)
      << rejected.headers.get_or(hdr::kError, "");
  EXPECT_TRUE(sink_->wait_for("unknown stream " + sid, kWait));

  // A chunk (seq > 0) of a stream B never saw.
  const std::string ghost = "site-a:s99";
  ASSERT_TRUE((*conn)->send(chunk("site-a", "site-b", ghost, 3, 3 * kChunk, kTotal, kChunk)).ok());
  ASSERT_TRUE(a.wait_frame(
      [&](const Frame& f) {
        return f.type == FrameType::kData && f.headers.get_or(hdr::kStreamId, "") == ghost &&
               f.headers.get_or(hdr::kStreamType, "") == "error";
      },
      kWait));
  EXPECT_TRUE(sink_->wait_for("unknown stream " + ghost, kWait));
  EXPECT_EQ(b->stats().malformed_messages, 2u);

  // B keeps serving: requests from C and from the raw peer's own connection still work.
  auto r = c->request("site-b", "task", "ping", Message::of("still"), kWait);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "b:still");
  EXPECT_EQ(delivered->load(), 0);
  EXPECT_FALSE((*conn)->closed());
}

// Proves: a sender that dies in the middle of a stream leaves nothing behind at the receiver.
// A raw "site-a" sends 2 of 8 chunks of stream site-a:s1 and its connection closes; then the real
// cell site-a starts (its first stream id is site-a:s1 again, as after a CJ restart) and fires an
// 8 MiB message to B, which must arrive intact and without waiting for streaming_read_timeout.
// (Before the fix, B kept the stale partial stream: it dropped the new chunk 0 as a "duplicate",
// rejected chunk 1 as out of order and the restarted sender's message was lost.)
TEST_P(CellTransportTest, PartialStreamIsDroppedWhenItsSenderDies) {
  Cell* b = make("site-b");
  std::string url = listen(b);
  Cell* c = make("site-c");
  link(c, url, b);
  b->register_request_handler("task", "ping", echo("b"));
  struct State {
    std::promise<size_t> delivered;
    std::atomic<int> deliveries{0};
  };
  auto st = std::make_shared<State>();
  b->register_message_handler("bulk", "model", [st](const Message& m) {
    if (++st->deliveries == 1) st->delivered.set_value(m.payload.size());
  });
  PeerEvents a_events(b, "site-a");

  constexpr size_t kChunk = 1u << 20;
  constexpr uint64_t kTotal = 8 * kChunk;
  {
    RawPeer& raw = *raw_peer("site-a");
    auto conn = raw_driver()->connect(url, &raw, kWait);
    ASSERT_TRUE(conn.ok()) << conn.status().to_string();
    ASSERT_TRUE((*conn)->send(hello("site-a")).ok());
    ASSERT_TRUE((*conn)->send(chunk("site-a", "site-b", "site-a:s1", 0, 0, kTotal, kChunk)).ok());
    ASSERT_TRUE((*conn)->send(chunk("site-a", "site-b", "site-a:s1", 1, kChunk, kTotal, kChunk)).ok());
    ASSERT_TRUE((*conn)->send(ping()).ok());
    ASSERT_TRUE(raw.wait_frame([](const Frame& f) { return is_type(f, FrameType::kPong); }, kWait));
    EXPECT_EQ(b->stats().streams_received, 1u);
    (*conn)->close(CancelledError("site-a died"));
    ASSERT_TRUE(raw.wait_closed(1, kWait));
  }
  ASSERT_EQ(a_events.down().wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(sink_->wait_for("dropping partial stream site-a:s1", kWait));

  // B still serves, and the restarted sender's first stream gets through.
  auto r = c->request("site-b", "task", "ping", Message::of("x"), kWait);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  Cell* a = make("site-a");
  link(a, url, b);
  ASSERT_TRUE(a->fire("site-b", "bulk", "model", Message::of(std::string(kTotal, 'n'))).ok());
  auto got = st->delivered.get_future();
  ASSERT_EQ(got.wait_for(kWait), std::future_status::ready) << "the restarted sender's stream was lost";
  EXPECT_EQ(got.get(), kTotal);
  EXPECT_EQ(st->deliveries.load(), 1);
  EXPECT_EQ(b->stats().malformed_messages, 0u);
}

// ---------------------------------------------------------------- 4. malformed frames

// Proves: bytes that are not a valid frame, a prefix announcing a 1 TiB payload, a DATA frame
// before the handshake each close only their own connection, with the reason in the cell's log;
// a DATA frame with an invalid destination name after a handshake is dropped (counted in
// malformed_messages) while that connection stays usable; a request to an unknown cell is
// answered with target_unreachable. A neighbour connected throughout never notices, and a new
// cell connects and completes a request afterwards.
TEST_P(CellTransportTest, MalformedFramesAreRejectedAndServiceContinues) {
  Cell* server = make("server");
  std::string url = listen(server);
  server->register_request_handler("task", "ping", echo("server"));
  Cell* site1 = make("site-1");
  PeerEvents server_events(site1, "server");
  link(site1, url, server);

  auto check_alive = [&](const std::string& what) {
    auto r = site1->request("server", "task", "ping", Message::of(what), kWait);
    ASSERT_TRUE(r.ok()) << what << ": " << r.status().to_string();
    EXPECT_EQ(r->payload.to_string(), "server:" + what);
  };

  if (GetParam().raw_socket) {  // Garbage: an HTTP request.
    int fd = raw_connect(url);
    ASSERT_GE(fd, 0);
    std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_TRUE(raw_write(fd, junk.data(), junk.size()));
    EXPECT_TRUE(raw_wait_closed(fd, kWait));
    ::close(fd);
    EXPECT_TRUE(sink_->wait_for("bad frame magic", kWait)) << sink_->all();
    check_alive("after garbage");
  }
  if (GetParam().raw_socket) {  // A valid prefix announcing a 1 TiB payload: refused early.
    int fd = raw_connect(url);
    ASSERT_GE(fd, 0);
    uint8_t prefix[kFramePrefixSize] = {kFrameMagic, kFrameVersion, static_cast<uint8_t>(FrameType::kData), 0,
                                        0, 0, 0, 4, 0, 0, 1, 0, 0, 0, 0, 0};  // header_len 4, payload 2^40
    ASSERT_TRUE(raw_write(fd, prefix, sizeof(prefix)));
    EXPECT_TRUE(raw_wait_closed(fd, kWait));
    ::close(fd);
    EXPECT_TRUE(sink_->wait_for("frame payload of 1099511627776 bytes exceeds max_message_size", kWait))
        << sink_->all();
    check_alive("after oversized");
  }
  {  // A DATA frame before the handshake (sent through the driver: any transport).
    RawPeer& raw = *raw_peer("early");
    auto conn = raw_driver()->connect(url, &raw, kWait);
    ASSERT_TRUE(conn.ok()) << conn.status().to_string();
    Frame f;
    f.headers.set(hdr::kOrigin, "site-x");
    f.headers.set(hdr::kDestination, "server");
    f.headers.set(hdr::kChannel, "task");
    f.headers.set(hdr::kTopic, "ping");
    f.headers.set(hdr::kMsgType, "fire");
    ASSERT_TRUE((*conn)->send(std::move(f)).ok());
    EXPECT_TRUE(raw.wait_closed(1, kWait));
    EXPECT_TRUE(sink_->wait_for("before the handshake", kWait)) << sink_->all();
    check_alive("after early data");
  }
  {  // After a handshake: a bad destination name is dropped; the connection stays usable.
    RawPeer& raw = *raw_peer("site-x");
    auto conn = raw_driver()->connect(url, &raw, kWait);
    ASSERT_TRUE(conn.ok()) << conn.status().to_string();
    ASSERT_TRUE((*conn)->send(hello("site-x")).ok());
    Frame ready;
    ASSERT_TRUE(raw.wait_frame([](const Frame& f) { return is_type(f, FrameType::kReady); }, kWait, &ready));
    EXPECT_EQ(ready.headers.get_or(hdr::kFqcn, ""), "server");
    EXPECT_FALSE(ready.headers.has(hdr::kError));
    ASSERT_TRUE(server->wait_for_peer("site-x", kWait).ok());

    Frame bad;
    bad.headers.set(hdr::kOrigin, "site-x");
    bad.headers.set(hdr::kDestination, "bad name!");
    bad.headers.set(hdr::kMsgType, "fire");
    ASSERT_TRUE((*conn)->send(std::move(bad)).ok());
    // Frames are handled in order: the PONG means the bad frame has been dealt with. (Both are
    // control frames, so the driver keeps their order on the way out too.)
    ASSERT_TRUE((*conn)->send(ping()).ok());
    ASSERT_TRUE(raw.wait_frame([](const Frame& f) { return is_type(f, FrameType::kPong); }, kWait));
    EXPECT_EQ(server->stats().malformed_messages, 1u);
    EXPECT_TRUE(sink_->wait_for("dropping a malformed message", kWait));

    // A well-formed request to a cell that does not exist: answered, not dropped.
    Frame req;
    req.headers.set(hdr::kOrigin, "site-x");
    req.headers.set(hdr::kDestination, "site-9");
    req.headers.set(hdr::kChannel, "task");
    req.headers.set(hdr::kTopic, "ping");
    req.headers.set(hdr::kMsgType, "req");
    req.headers.set(hdr::kReqId, "site-x:r1");
    ASSERT_TRUE((*conn)->send(std::move(req)).ok());
    Frame ret;
    ASSERT_TRUE(raw.wait_frame(
        [](const Frame& f) { return f.headers.get_or(hdr::kReqId, "") == "site-x:r1"; }, kWait, &ret));
    EXPECT_EQ(ret.headers.get_or(hdr::kMsgType, ""), "return");
    EXPECT_EQ(ret.headers.get_or(hdr::kReturnCode, ""), rc::kTargetUnreachable);
    EXPECT_FALSE((*conn)->closed());
    (*conn)->close(CancelledError("test done"));
    check_alive("after bad destination");
  }

  EXPECT_EQ(server_events.down().wait_for(0ms), std::future_status::timeout);
  Cell* site2 = make("site-2");
  link(site2, url, server);
  auto r = site2->request("server", "task", "ping", Message::of("new"), kWait);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "server:new");
}

// ---------------------------------------------------------------- 5. reconnect

// Proves: when the server cell stops, the client sees "server down", keeps retrying with its
// backoff (reconnect_initial 20 ms doubling to reconnect_max 100 ms), connects to a new server
// cell listening on the same URL (same port / same socket path), and a request succeeds.
TEST_P(CellTransportTest, ReconnectsWithBackoffAfterServerRestart) {
  Cell* server = make("server");
  std::string url = listen(server);
  Cell* site = make("site-1");
  PeerEvents events(site, "server");
  link(site, url, server);

  server->stop();
  ASSERT_EQ(events.down().wait_for(kWait), std::future_status::ready);
  auto r0 = site->request("server", "t", "t", Message::of("0"), kWait);
  ASSERT_FALSE(r0.ok());
  EXPECT_EQ(r0.status().code(), StatusCode::kUnavailable) << r0.status().to_string();

  Cell* server2 = make("server");
  auto again = server2->listen(url);  // the same URL, with the port the first one got
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(*again, url);
  server2->register_request_handler("t", "t", echo("again"));
  ASSERT_TRUE(site->wait_for_peer("server", kWait).ok());
  auto r = site->request("server", "t", "t", Message::of("1"), kWait);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "again:1");
}

}  // namespace nvf::cellnet::transport_suite
