// Authentication hooks of the Cell over the in-process driver: a listener's IncomingFilter sees
// every data frame (requests, stream chunks and acks, forwarded frames), refused requests fail fast
// with UNAUTHENTICATED, and set_auth_headers stamps frames that lack the headers (FLARE's auth
// headers, spec runtime §1.2 step 4).
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <mutex>

#include "cellnet/cell.h"
#include "cellnet/inproc_driver.h"

namespace nvf::cellnet {
namespace {

using namespace std::chrono_literals;

std::atomic<int> g_counter{0};

constexpr std::string_view kToken = "__token__";
constexpr std::string_view kClientName = "client_name";

/// One data frame as a filter saw it.
struct Seen {
  std::string token;
  std::string client_name;
  std::string stream_type;  // "" for a whole message
  std::string msg_type;
  std::string origin;
};

/// Records what the filter saw and refuses frames whose __token__ is not "t1"; a "t1" frame is
/// from the identity "holder-of-t1".
class TokenGate {
 public:
  IncomingFilter filter() {
    return [this](const Headers& h, const PeerInfo&) -> Result<std::string> {
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back(Seen{h.get_or(kToken, ""), h.get_or(kClientName, ""),
                             h.get_or(hdr::kStreamType, ""), h.get_or(hdr::kMsgType, ""),
                             h.get_or(hdr::kOrigin, "")});
      }
      auto token = h.get(kToken);
      if (!token)
        return UnauthenticatedError("no __token__ in the message from " +
                                    h.get_or(kClientName, "?"));
      if (*token != "t1")
        return UnauthenticatedError("bad __token__ '" + std::string(*token) + "'");
      return std::string("holder-of-t1");
    };
  }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<Seen> seen_;
};

class CountingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  size_t count(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t n = 0;
    for (const auto& l : lines_) n += l.find(text) != std::string::npos;
    return n;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

Headers auth(const std::string& name, const std::string& token) {
  Headers h;
  h.set(kClientName, name);
  h.set(kToken, token);
  h.set("__token_signature__", "sig-" + token);
  h.set("ssid", "ssid-1");
  return h;
}

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131) >> 2);
  return s;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    drivers_.add(std::make_shared<InprocDriver>());
    prefix_ = "inproc://auth" + std::to_string(++g_counter) + "-";
  }
  void TearDown() override {
    for (auto it = cells_.rbegin(); it != cells_.rend(); ++it) (*it)->stop();
    drivers_.stop_all();
  }

  // Small chunks, windows and ACK intervals: a 64 KiB payload is a stream of many chunks with ACKs.
  CellOptions options(const std::string& name) {
    CellOptions o;
    o.fqcn = name;
    o.drivers = &drivers_;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 100ms;
    o.monitor_interval = 50ms;
    o.chunk_size = 1024;
    o.window_size = 4096;
    o.ack_interval = 2048;
    return o;
  }
  Cell* make(CellOptions o) {
    cells_.push_back(std::make_unique<Cell>(std::move(o)));
    EXPECT_TRUE(cells_.back()->start().ok());
    return cells_.back().get();
  }
  Cell* make(const std::string& name) { return make(options(name)); }
  std::string url(const std::string& name) { return prefix_ + name; }

  // A server whose listener admits only __token__ == "t1"; it answers "task"/"echo" with the
  // payload's size and the client_name it saw, and "task"/"big" with a 64 KiB streamed reply.
  Cell* make_server(CellOptions o) {
    Cell* server = make(std::move(o));
    EXPECT_TRUE(server->listen(url("server"), gate_.filter()).ok());
    server->register_request_handler("task", "echo", [](const Message& m) -> Result<Message> {
      return Message::of(std::to_string(m.payload.size()) + ":" +
                         m.headers.get_or(kClientName, ""));
    });
    server->register_request_handler("task", "who", [](const Message& m) -> Result<Message> {
      return Message::of(m.headers.get_or(hdr::kAuthenticated, "<none>"));
    });
    server->register_request_handler("task", "big", [](const Message&) -> Result<Message> {
      return Message::of(pattern(64 << 10));
    });
    return server;
  }
  Cell* make_server() { return make_server(options("server")); }

  Cell* connect(Cell* cell, const std::string& to, const std::string& peer) {
    EXPECT_TRUE(cell->connect(url(to)).ok());
    EXPECT_TRUE(cell->wait_for_peer(peer, 5s).ok());
    return cell;
  }

  TokenGate gate_;
  DriverRegistry drivers_;
  std::string prefix_;
  std::vector<std::unique_ptr<Cell>> cells_;
};

TEST_F(AuthTest, AuthenticatedCellRequestsAndStreamsThroughAFilteredListener) {
  Cell* server = make_server();
  Cell* site = make("site-1");
  site->set_auth_headers(auth("site-1", "t1"));
  connect(site, "server", "server");
  ASSERT_TRUE(server->wait_for_peer("site-1", 5s).ok());

  auto r = site->request("server", "task", "echo", Message::of("hello"), 5s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "5:site-1");

  // A request streamed in chunks: every chunk passes the filter with the headers.
  gate_.clear();
  auto up = site->request("server", "task", "echo", Message::of(pattern(64 << 10)), 10s);
  ASSERT_TRUE(up.ok()) << up.status().to_string();
  EXPECT_EQ(up->payload.to_string(), std::to_string(64 << 10) + ":site-1");
  auto seen = gate_.seen();
  size_t chunks = 0;
  for (const auto& s : seen) {
    EXPECT_EQ(s.token, "t1");
    EXPECT_EQ(s.client_name, "site-1");
    chunks += s.stream_type == "chunk";
  }
  EXPECT_EQ(chunks, 64u);

  // A reply streamed to the site: its ACKs come back through the filter with the headers.
  gate_.clear();
  auto down = site->request("server", "task", "big", Message::of(""), 10s);
  ASSERT_TRUE(down.ok()) << down.status().to_string();
  EXPECT_EQ(down->payload.to_string(), pattern(64 << 10));
  size_t acks = 0;
  for (const auto& s : gate_.seen()) {
    EXPECT_EQ(s.token, "t1");
    acks += s.stream_type == "ack";
  }
  EXPECT_GE(acks, 8u);  // one per 2 KiB received, but the last
  EXPECT_EQ(server->stats().unauthenticated_frames, 0u);
}

TEST_F(AuthTest, CellWithoutHeadersIsRefusedFastWithTheReason) {
  CellOptions so = options("server");
  auto sink = std::make_shared<CountingSink>();
  so.logger = std::make_shared<spdlog::logger>("server", sink);
  Cell* server = make_server(so);
  std::atomic<int> fired{0};
  server->register_message_handler("task", "note", [&](const Message&) { ++fired; });
  Cell* site = connect(make("site-2"), "server", "server");

  // Fire-and-forget is dropped: it is counted, not handled.
  ASSERT_TRUE(site->fire("server", "task", "note", Message::of("x")).ok());
  auto start = std::chrono::steady_clock::now();
  auto r = site->request("server", "task", "echo", Message::of("hello"), 10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << r.status().to_string();
  EXPECT_NE(r.status().message().find("no __token__ in the message from ?"), std::string::npos)
      << r.status().to_string();
  EXPECT_NE(r.status().message().find("server"), std::string::npos) << r.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);

  // Frames on one connection arrive in order: the fire was refused before the request.
  EXPECT_EQ(server->stats().unauthenticated_frames, 2u);
  EXPECT_EQ(fired.load(), 0);
  EXPECT_EQ(sink->count("refusing a message from site-2"), 1u);  // once per connection

  // Wrong token: refused, naming why.
  site->set_auth_headers(auth("site-2", "t0"));
  auto bad = site->request("server", "task", "echo", Message::of("hello"), 10s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(bad.status().message().find("bad __token__ 't0'"), std::string::npos)
      << bad.status().to_string();
  EXPECT_EQ(server->stats().unauthenticated_frames, 3u);
  EXPECT_EQ(sink->count("refusing a message from site-2"), 1u);

  // The replacing set takes effect for the next message.
  site->set_auth_headers(auth("site-2", "t1"));
  auto good = site->request("server", "task", "echo", Message::of("hello"), 10s);
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_EQ(good->payload.to_string(), "5:site-2");
}

TEST_F(AuthTest, StreamedRequestWithoutHeadersIsRefusedFastAndItsStreamStops) {
  Cell* server = make_server();
  // One stream thread: a refused stream still waiting for ACKs would hold up the second request
  // for streaming_ack_progress_timeout.
  CellOptions co = options("site-2");
  co.stream_threads = 1;
  co.ack_progress_timeout = 60s;
  Cell* site = connect(make(co), "server", "server");
  for (int i = 0; i < 2; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto r = site->request("server", "task", "echo", Message::of(pattern(64 << 10)), 10s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << r.status().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  }
  EXPECT_EQ(server->stats().streams_received, 0u);
  EXPECT_GE(server->stats().unauthenticated_frames, 2u);
  EXPECT_EQ(site->stats().streams_sent, 2u);
}

// site-1.job → site-1 (forwarder, plain listener) → server (filtered listener).
class AuthForwardTest : public AuthTest {
 protected:
  void SetUp() override {
    AuthTest::SetUp();
    server_ = make_server();
    cp_ = make("site-1");
    ASSERT_TRUE(cp_->listen(url("site-1")).ok());
    connect(cp_, "server", "server");
    cj_ = connect(make("site-1.job"), "site-1", "site-1");
    ASSERT_TRUE(cp_->wait_for_peer("site-1.job", 5s).ok());
    ASSERT_TRUE(server_->wait_for_peer("site-1", 5s).ok());
  }
  Cell* server_ = nullptr;
  Cell* cp_ = nullptr;
  Cell* cj_ = nullptr;
};

TEST_F(AuthForwardTest, ForwardedFrameKeepsItsOriginsHeaders) {
  cj_->set_auth_headers(auth("site-1.job", "t1"));
  cp_->set_auth_headers(
      auth("site-1", "t-of-site-1"));  // would be refused, were it stamped over the job's
  auto r = cj_->request("server", "task", "echo", Message::of("hi"), 5s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "2:site-1.job");
  auto big = cj_->request("server", "task", "echo", Message::of(pattern(64 << 10)), 10s);
  ASSERT_TRUE(big.ok()) << big.status().to_string();
  for (const auto& s : gate_.seen()) {
    EXPECT_EQ(s.origin, "site-1.job");
    EXPECT_EQ(s.client_name, "site-1.job");
    EXPECT_EQ(s.token, "t1");
  }
  EXPECT_GE(cp_->stats().frames_forwarded,
            66u);  // two requests (one in 64 chunks) and a reply, forwarded

  // A job with a bad token is refused even though its forwarder holds a good one.
  cj_->set_auth_headers(auth("site-1.job", "t0"));
  cp_->set_auth_headers(auth("site-1", "t1"));
  auto bad = cj_->request("server", "task", "echo", Message::of("hi"), 10s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated) << bad.status().to_string();
  EXPECT_NE(bad.status().message().find("bad __token__ 't0'"), std::string::npos)
      << bad.status().to_string();
  EXPECT_EQ(server_->stats().unauthenticated_frames, 1u);
}

TEST_F(AuthForwardTest, ForwarderStampsItsOwnHeadersOnFramesThatLackThem) {
  cp_->set_auth_headers(auth("site-1", "t1"));
  auto r = cj_->request("server", "task", "echo", Message::of("hi"), 5s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "2:site-1");
  auto big = cj_->request("server", "task", "echo", Message::of(pattern(64 << 10)), 10s);
  ASSERT_TRUE(big.ok()) << big.status().to_string();
  auto seen = gate_.seen();
  ASSERT_FALSE(seen.empty());
  for (const auto& s : seen) {
    EXPECT_EQ(s.origin, "site-1.job");
    EXPECT_EQ(s.client_name, "site-1");
  }

  // Without headers anywhere on the path the forwarded request is refused, and the return finds its
  // way back.
  cp_->set_auth_headers(Headers{});
  auto bad = cj_->request("server", "task", "echo", Message::of("hi"), 10s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnauthenticated) << bad.status().to_string();
}

TEST_F(AuthTest, PlainListenerIsNotFiltered) {
  Cell* server = make_server();
  ASSERT_TRUE(server->listen(url("server-plain")).ok());
  ASSERT_TRUE(server->listen(url("server-null"), nullptr).ok());
  Cell* a = connect(make("site-a"), "server-plain", "server");
  Cell* b = connect(make("site-b"), "server-null", "server");
  for (Cell* c : {a, b}) {
    auto r = c->request("server", "task", "echo", Message::of("hey"), 5s);
    ASSERT_TRUE(r.ok()) << c->fqcn() << ": " << r.status().to_string();
    EXPECT_EQ(r->payload.to_string(), "3:");
    auto big = c->request("server", "task", "big", Message::of(""), 10s);
    ASSERT_TRUE(big.ok()) << c->fqcn() << ": " << big.status().to_string();
  }
  EXPECT_TRUE(gate_.seen().empty());
  EXPECT_EQ(server->stats().unauthenticated_frames, 0u);
}

TEST(ReturnCodeTest, UnauthenticatedMapsToUnauthenticatedStatus) {
  Status s = status_for_return_code(rc::kUnauthenticated, "bad token", "server");
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message(), "server: bad token");
  EXPECT_EQ(return_code_for(UnauthenticatedError("x")), rc::kUnauthenticated);
  EXPECT_EQ(status_for_return_code(rc::kUnauthenticated, "", "server").message(),
            "server: unauthenticated");
}

// The identity a handler sees is the one the listener's filter gave, never one the sender wrote.
TEST_F(AuthTest, TheFiltersIdentityReplacesAForgedOne) {
  make_server();
  Cell* site = make("site-1");
  Headers h = auth("site-1", "t1");
  h.set(hdr::kAuthenticated, "site-2");  // a lie
  site->set_auth_headers(h);
  connect(site, "server", "server");
  auto r = site->request("server", "task", "who", Message{}, 5s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "holder-of-t1");
}

// identify_known_cells: sites named like relay children ("R1.site-1") and the cells below them
// (their job cells) are who the table says; an origin outside the table is refused by name.
TEST_F(AuthTest, KnownCellsAreIdentifiedWithRelayStyleNames) {
  Cell* server = make(options("server"));
  ASSERT_TRUE(server->listen(url("server"),
                             identify_known_cells({{"R1.site-1", "site-1"}, {"R1.R2.site-2", "site-2"}, {"R1", "R1"}}))
                  .ok());
  server->register_request_handler("task", "who", [](const Message& m) -> Result<Message> {
    return Message::of(m.headers.get_or(hdr::kAuthenticated, "<none>"));
  });
  // Regression: with the relay R1 known too, its children were taken for R1 (the first match in
  // name order won, not the nearest known cell).
  for (auto [cell, expected] : {std::pair{"R1.site-1", "site-1"}, {"R1.site-1.job-7", "site-1"},
                                {"R1.R2.site-2.job-7", "site-2"}, {"R1", "R1"}, {"R1.R3", "R1"}}) {
    Cell* c = make(cell);
    connect(c, "server", "server");
    auto r = c->request("server", "task", "who", Message{}, 5s);
    ASSERT_TRUE(r.ok()) << cell << ": " << r.status().to_string();
    EXPECT_EQ(r->payload.to_string(), expected) << cell;
  }
  for (const char* liar : {"R2.site-10", "R2", "site-1"}) {
    Cell* c = make(liar);
    connect(c, "server", "server");
    auto r = c->request("server", "task", "who", Message{}, 5s);
    ASSERT_FALSE(r.ok()) << liar;
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << liar;
    EXPECT_NE(r.status().message().find(std::string("unknown cell '") + liar + "'"), std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace nvf::cellnet
