// Cells over the in-process driver: handshake, routing through parents, request/reply, errors,
// streams with flow control, control traffic overtaking a stream, reconnects.
#include "cellnet/cell.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <numeric>

#include "cellnet/fqcn.h"
#include "cellnet/inproc_driver.h"

namespace nvf::cellnet {
namespace {

using namespace std::chrono_literals;

std::atomic<int> g_counter{0};

class CellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    drivers_.add(std::make_shared<InprocDriver>());
    prefix_ = "inproc://t" + std::to_string(++g_counter) + "-";
  }
  void TearDown() override {
    for (auto it = cells_.rbegin(); it != cells_.rend(); ++it) (*it)->stop();
    drivers_.stop_all();
  }

  CellOptions options(const std::string& name) {
    CellOptions o;
    o.fqcn = name;
    o.drivers = &drivers_;
    o.reconnect_initial = 20ms;
    o.reconnect_max = 100ms;
    o.monitor_interval = 50ms;
    return o;
  }
  Cell* make(CellOptions o) {
    cells_.push_back(std::make_unique<Cell>(std::move(o)));
    EXPECT_TRUE(cells_.back()->start().ok());
    return cells_.back().get();
  }
  Cell* make(const std::string& name) { return make(options(name)); }
  std::string url(const std::string& name) { return prefix_ + name; }

  // server <- site-1 <- site-1.job ; server <- server.job
  void make_federation() {
    server_ = make("server");
    ASSERT_TRUE(server_->listen(url("server")).ok());
    sj_ = make("server.job");
    ASSERT_TRUE(sj_->connect(url("server")).ok());
    cp_ = make("site-1");
    ASSERT_TRUE(cp_->listen(url("site-1")).ok());
    ASSERT_TRUE(cp_->connect(url("server")).ok());
    cj_ = make("site-1.job");
    ASSERT_TRUE(cj_->connect(url("site-1")).ok());
    ASSERT_TRUE(server_->wait_for_peer("site-1", 5s).ok());
    ASSERT_TRUE(server_->wait_for_peer("server.job", 5s).ok());
    ASSERT_TRUE(cp_->wait_for_peer("site-1.job", 5s).ok());
    ASSERT_TRUE(cj_->wait_for_peer("site-1", 5s).ok());
    // Each side registers the other on its own handshake frame: wait for the connecting sides too.
    ASSERT_TRUE(sj_->wait_for_peer("server", 5s).ok());
    ASSERT_TRUE(cp_->wait_for_peer("server", 5s).ok());
    ASSERT_TRUE(cp_->wait_for_peer("site-1.job", 5s).ok());
  }

  DriverRegistry drivers_;
  std::string prefix_;
  std::vector<std::unique_ptr<Cell>> cells_;
  Cell* server_ = nullptr;
  Cell* sj_ = nullptr;
  Cell* cp_ = nullptr;
  Cell* cj_ = nullptr;
};

RequestHandler echo(const std::string& tag) {
  return [tag](const Message& m) -> Result<Message> {
    Message r = Message::of(tag + ":" + m.payload.to_string());
    r.headers.set("seen_origin", m.headers.get_or(hdr::kOrigin, ""));
    return r;
  };
}

TEST_F(CellTest, RequestReplyBetweenNeighbours) {
  Cell* server = make("server");
  ASSERT_TRUE(server->listen(url("server")).ok());
  Cell* site = make("site-1");
  ASSERT_TRUE(site->connect(url("server")).ok());
  ASSERT_TRUE(site->wait_for_peer("server", 5s).ok());
  server->register_request_handler("task", "get_task", echo("server"));
  auto r = site->request("server", "task", "get_task", Message::of("hello"), 5s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "server:hello");
  EXPECT_EQ(r->headers.get_or("seen_origin", ""), "site-1");
  EXPECT_EQ(server->peers(), std::vector<std::string>{"site-1"});
}

// Regression: an exception on a handler thread ended the process (a client daemon died of
// std::out_of_range from one admin command). A throwing request handler now answers with an error
// naming its channel and topic, a throwing message handler is logged, and the cell serves on.
TEST_F(CellTest, AHandlerThatThrowsAnswersWithAnErrorAndTheCellServesOn) {
  Cell* server = make("server");
  ASSERT_TRUE(server->listen(url("server")).ok());
  Cell* site = make("site-1");
  ASSERT_TRUE(site->connect(url("server")).ok());
  ASSERT_TRUE(site->wait_for_peer("server", 5s).ok());
  server->register_request_handler("admin", "boom", [](const Message& m) -> Result<Message> {
    return Message::of(std::to_string(std::stoi(m.payload.to_string())));  // throws on "x" and on 1e30
  });
  std::promise<void> fired;
  server->register_message_handler("admin", "fire", [&](const Message& m) {
    if (m.payload.to_string() == "throw") throw std::out_of_range("vector::at");
    fired.set_value();
  });
  for (const char* bad : {"x", "99999999999999999999"}) {
    auto r = site->request("server", "admin", "boom", Message::of(bad), 5s);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("the handler of channel 'admin' topic 'boom' at server failed: stoi"),
              std::string::npos)
        << r.status().to_string();
  }
  ASSERT_TRUE(site->fire("server", "admin", "fire", Message::of("throw")).ok());
  ASSERT_TRUE(site->fire("server", "admin", "fire", Message::of("fine")).ok());
  EXPECT_EQ(fired.get_future().wait_for(5s), std::future_status::ready);  // served after the throw
  auto r = site->request("server", "admin", "boom", Message::of("41"), 5s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "41");
}

// Proves: handlers registered through a HandlerGate run while it is open; close() waits for a
// handler running now, and afterwards an asynchronous request is answered UNAVAILABLE with the
// gate's message and a message handler is not called (the object behind them may be gone).
TEST_F(CellTest, AClosedHandlerGateAnswersStoppedAndWaitsForRunningHandlers) {
  make_federation();
  auto gate = std::make_unique<HandlerGate>("the test engine has stopped");
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> messages{0};
  server_->register_async_request_handler(
      "t", "slow", gate->wrap([&entered, released](const Message&, Responder r) {
        entered.set_value();
        released.wait();
        r(Message::of("done"));
      }));
  server_->register_async_request_handler(
      "t", "echo", gate->wrap([](const Message& m, Responder r) { r(Message::of(m.payload.to_string())); }));
  server_->register_message_handler("t", "note", gate->wrap([&messages](const Message&) { ++messages; }));

  auto echo = cj_->request("server", "t", "echo", Message::of("hi"), 5s);
  ASSERT_TRUE(echo.ok()) << echo.status().to_string();
  EXPECT_EQ(echo->payload.to_string(), "hi");

  auto slow = std::async(std::launch::async, [&] { return cj_->request("server", "t", "slow", Message{}, 10s); });
  ASSERT_EQ(entered.get_future().wait_for(5s), std::future_status::ready);
  auto closing = std::async(std::launch::async, [&] { gate->close(); });
  EXPECT_EQ(closing.wait_for(200ms), std::future_status::timeout) << "close() did not wait for the running handler";
  release.set_value();
  ASSERT_EQ(closing.wait_for(5s), std::future_status::ready);
  auto slow_reply = slow.get();
  ASSERT_TRUE(slow_reply.ok()) << slow_reply.status().to_string();
  EXPECT_EQ(slow_reply->payload.to_string(), "done");
  gate.reset();  // the gate's owner is gone; the cell still holds the wrapped handlers

  auto after = cj_->request("server", "t", "echo", Message::of("hi"), 5s);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kUnavailable) << after.status().to_string();
  EXPECT_NE(after.status().message().find("the test engine has stopped"), std::string::npos)
      << after.status().message();
  ASSERT_TRUE(cj_->fire("server", "t", "note", Message{}).ok());
  // A request after the note, answered (refused) by the same cell, as a point after which the
  // note has at least arrived.
  auto last = cj_->request("server", "t", "echo", Message{}, 5s);
  EXPECT_FALSE(last.ok());
  EXPECT_EQ(messages.load(), 0);
}

TEST_F(CellTest, RoutesJobToJobThroughParents) {
  make_federation();
  sj_->register_request_handler("server_command", "*", echo("sj"));
  cj_->register_request_handler("aux", "ping", echo("cj"));
  auto up = cj_->request("server.job", "server_command", "get_task", Message::of("x"), 5s);
  ASSERT_TRUE(up.ok()) << up.status().to_string();
  EXPECT_EQ(up->payload.to_string(), "sj:x");
  EXPECT_EQ(up->headers.get_or("seen_origin", ""), "site-1.job");
  auto down = sj_->request("site-1.job", "aux", "ping", Message::of("y"), 5s);
  ASSERT_TRUE(down.ok()) << down.status().to_string();
  EXPECT_EQ(down->payload.to_string(), "cj:y");
  EXPECT_GE(cp_->stats().frames_forwarded, 4u);  // request and reply, both directions
  EXPECT_GE(server_->stats().frames_forwarded, 4u);
}

// Proves: cells of relay tiers ("R1", "R1.R2", "R1.R2.site-3") route by name alone, both ways,
// through every tier; an alias lets the server address a site by its name; a stream passes the
// tiers chunk by chunk.
TEST_F(CellTest, RelayTiersRouteByNameAndAnAliasNamesASiteBehindThem) {
  Cell* server = make("server");
  ASSERT_TRUE(server->listen(url("server")).ok());
  Cell* r1 = make("R1");
  ASSERT_TRUE(r1->listen(url("R1")).ok());
  ASSERT_TRUE(r1->connect(url("server")).ok());
  Cell* r2 = make("R1.R2");
  ASSERT_TRUE(r2->listen(url("R1.R2")).ok());
  ASSERT_TRUE(r2->connect(url("R1")).ok());
  Cell* site = make("R1.R2.site-3");
  ASSERT_TRUE(site->connect(url("R1.R2")).ok());
  ASSERT_TRUE(server->wait_for_peer("R1", 5s).ok());
  ASSERT_TRUE(r1->wait_for_peer("R1.R2", 5s).ok());
  ASSERT_TRUE(r2->wait_for_peer("R1.R2.site-3", 5s).ok());
  ASSERT_TRUE(site->wait_for_peer("R1.R2", 5s).ok());
  // Each side registers the other on its own handshake frame: wait for the connecting sides too.
  ASSERT_TRUE(r1->wait_for_peer("server", 5s).ok());
  ASSERT_TRUE(r2->wait_for_peer("R1", 5s).ok());
  server->register_request_handler("task", "register", echo("server"));
  site->register_request_handler("admin", "deploy", echo("site-3"));

  auto up = site->request("server", "task", "register", Message::of("up"), 5s);
  ASSERT_TRUE(up.ok()) << up.status().to_string();
  EXPECT_EQ(up->headers.get_or("seen_origin", ""), "R1.R2.site-3");
  auto down = server->request("R1.R2.site-3", "admin", "deploy", Message::of("down"), 5s);
  ASSERT_TRUE(down.ok()) << down.status().to_string();
  EXPECT_EQ(down->payload.to_string(), "site-3:down");

  // By the site's name: unreachable until the alias says where it is.
  EXPECT_EQ(server->request("site-3", "admin", "deploy", Message::of("x"), 2s).status().code(),
            StatusCode::kUnavailable);
  server->set_alias("site-3", "R1.R2.site-3");
  auto named = server->request("site-3", "admin", "deploy", Message::of("named"), 5s);
  ASSERT_TRUE(named.ok()) << named.status().to_string();
  EXPECT_EQ(named->payload.to_string(), "site-3:named");
  EXPECT_TRUE(server->fire("site-3", "admin", "deploy", Message::of("f")).ok());
  server->set_alias("site-3", "");
  EXPECT_EQ(server->request("site-3", "admin", "deploy", Message::of("x"), 2s).status().code(),
            StatusCode::kUnavailable);

  // A payload larger than a chunk crosses both relays as a stream.
  std::string big(3 * (1 << 20) + 5, 'q');
  auto streamed = server->request("R1.R2.site-3", "admin", "deploy", Message::of(big), 10s);
  ASSERT_TRUE(streamed.ok()) << streamed.status().to_string();
  EXPECT_EQ(streamed->payload.size(), big.size() + 7);  // "site-3:" + the payload
  EXPECT_GE(r1->stats().frames_forwarded, 6u);
  EXPECT_GE(r2->stats().frames_forwarded, 6u);
  EXPECT_EQ(r1->stats().streams_received, 0u);  // relays pass chunks on, they reassemble nothing
}

TEST_F(CellTest, ErrorsReachTheRequesterWithTheirMeaning) {
  make_federation();
  sj_->register_request_handler("server_command", "submit_update", [](const Message&) -> Result<Message> {
    return InvalidArgumentError("result has no NUM_STEPS_CURRENT_ROUND");
  });
  auto bad = cj_->request("server.job", "server_command", "submit_update", Message::of(""), 5s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("NUM_STEPS_CURRENT_ROUND"), std::string::npos);
  EXPECT_NE(bad.status().message().find("server.job"), std::string::npos);

  auto none = cj_->request("server.job", "no_such_channel", "t", Message::of(""), 5s);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no handler for channel 'no_such_channel'"), std::string::npos);

  auto unreachable = cj_->request("site-9.job", "aux", "t", Message::of(""), 5s);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(unreachable.status().message().find("site-9.job"), std::string::npos);
}

TEST_F(CellTest, RequestTimesOutWhenNoReplyComes) {
  make_federation();
  std::promise<void> release;
  auto released = release.get_future().share();
  sj_->register_request_handler("slow", "*", [released](const Message&) -> Result<Message> {
    released.wait_for(10s);
    return Message::of("late");
  });
  auto start = std::chrono::steady_clock::now();
  auto r = cj_->request("server.job", "slow", "t", Message::of(""), 200ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  release.set_value();
}

TEST_F(CellTest, StreamsLargePayloadUnderTheWindow) {
  make_federation();
  std::string big(40 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 3);
  uint64_t expect = std::accumulate(big.begin(), big.end(), uint64_t{0},
                                    [](uint64_t a, char c) { return a * 31 + static_cast<unsigned char>(c); });
  sj_->register_request_handler("server_command", "submit_update", [](const Message& m) -> Result<Message> {
    std::string s = m.payload.to_string();
    uint64_t sum = std::accumulate(s.begin(), s.end(), uint64_t{0},
                                   [](uint64_t a, char c) { return a * 31 + static_cast<unsigned char>(c); });
    return Message::of(std::to_string(s.size()) + ":" + std::to_string(sum));
  });
  auto r = cj_->request("server.job", "server_command", "submit_update", Message::of(big), 20s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), std::to_string(big.size()) + ":" + std::to_string(expect));
  EXPECT_EQ(cj_->stats().streams_sent, 1u);
  EXPECT_EQ(sj_->stats().streams_received, 1u);
}

// Control traffic overtaking a stream in flight is tested over real sockets in
// cell_transport_test.cc (over inproc the stream can finish before the request is sent).

TEST_F(CellTest, HandlerCanRequestWithOneCallbackThread) {
  CellOptions so = options("server");
  so.callback_threads = 1;
  Cell* server = make(so);
  ASSERT_TRUE(server->listen(url("server")).ok());
  Cell* a = make("site-a");
  Cell* b = make("site-b");
  ASSERT_TRUE(a->connect(url("server")).ok());
  ASSERT_TRUE(b->connect(url("server")).ok());
  ASSERT_TRUE(server->wait_for_peer("site-a", 5s).ok());
  ASSERT_TRUE(server->wait_for_peer("site-b", 5s).ok());
  ASSERT_TRUE(a->wait_for_peer("server", 5s).ok());
  ASSERT_TRUE(b->wait_for_peer("server", 5s).ok());
  b->register_request_handler("x", "y", echo("b"));
  // The server's only handler thread blocks on a request to site-b: its reply must still arrive.
  server->register_request_handler("relay", "*", [server](const Message& m) -> Result<Message> {
    return server->request("site-b", "x", "y", Message::of(m.payload.to_string()), 5s);
  });
  auto r = a->request("server", "relay", "go", Message::of("nested"), 10s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "b:nested");
}

TEST_F(CellTest, ReconnectsAfterTheServerComesBack) {
  Cell* server = make("server");
  ASSERT_TRUE(server->listen(url("server")).ok());
  Cell* site = make("site-1");
  // Shared with the callback: it runs again when TearDown stops server2, after this body returned.
  auto down = std::make_shared<std::promise<void>>();
  auto seen_down = std::make_shared<std::atomic<bool>>(false);
  site->on_peer_event([down, seen_down](const std::string& peer, bool up) {
    if (peer == "server" && !up && !seen_down->exchange(true)) down->set_value();
  });
  ASSERT_TRUE(site->connect(url("server")).ok());
  ASSERT_TRUE(site->wait_for_peer("server", 5s).ok());
  server->stop();
  ASSERT_EQ(down->get_future().wait_for(5s), std::future_status::ready);
  Cell* server2 = make("server");
  ASSERT_TRUE(server2->listen(url("server")).ok());
  ASSERT_TRUE(site->wait_for_peer("server", 5s).ok());
  server2->register_request_handler("t", "t", echo("again"));
  auto r = site->request("server", "t", "t", Message::of("1"), 5s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->payload.to_string(), "again:1");
}

TEST_F(CellTest, LostConnectionFailsPendingRequestQuickly) {
  make_federation();
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  server_->register_request_handler("slow", "*", [&, released](const Message&) -> Result<Message> {
    entered.set_value();
    released.wait_for(10s);
    return Message::of("");
  });
  auto fut = std::async(std::launch::async,
                        [&] { return cp_->request("server", "slow", "t", Message::of(""), 30s); });
  ASSERT_EQ(entered.get_future().wait_for(5s), std::future_status::ready);
  auto start = std::chrono::steady_clock::now();
  // The server goes away while its handler is still busy (stop() closes connections first, then
  // waits for running handlers, so run it aside).
  auto stopper = std::async(std::launch::async, [&] { server_->stop(); });
  auto r = fut.get();
  release.set_value();
  stopper.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST_F(CellTest, AsyncHandlerAnswersLaterWithoutHoldingAThread) {
  CellOptions so = options("server");
  so.callback_threads = 1;
  Cell* server = make(so);
  ASSERT_TRUE(server->listen(url("server")).ok());
  Cell* site = make("site-1");
  ASSERT_TRUE(site->connect(url("server")).ok());
  ASSERT_TRUE(site->wait_for_peer("server", 5s).ok());
  std::mutex mu;
  std::vector<Responder> parked;
  std::promise<void> two_parked;
  server->register_async_request_handler("task", "get_task", [&](const Message&, Responder respond) {
    std::lock_guard<std::mutex> lock(mu);
    parked.push_back(std::move(respond));
    if (parked.size() == 2) two_parked.set_value();
  });
  server->register_request_handler("task", "publish", [&](const Message& m) -> Result<Message> {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& r : parked) r(Message::of("task:" + m.payload.to_string()));
    parked.clear();
    return Message::of("published");
  });
  // Two long polls park on the server's only handler thread's queue without blocking it.
  auto a = std::async(std::launch::async, [&] { return site->request("server", "task", "get_task", Message{}, 5s); });
  auto b = std::async(std::launch::async, [&] { return site->request("server", "task", "get_task", Message{}, 5s); });
  ASSERT_EQ(two_parked.get_future().wait_for(5s), std::future_status::ready);
  auto p = site->request("server", "task", "publish", Message::of("train"), 5s);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(a.get()->payload.to_string(), "task:train");
  EXPECT_EQ(b.get()->payload.to_string(), "task:train");
}

TEST_F(CellTest, InvalidNamesAreRefused) {
  Cell bad(options("bad name"));
  Status s = bad.start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("invalid cell name 'bad name'"), std::string::npos);
  Cell dup(options("site-1.site-1"));
  EXPECT_NE(dup.start().message().find("appears twice"), std::string::npos);
}

class RawHandler : public ConnectionHandler {
 public:
  void on_connected(const std::shared_ptr<Connection>&) override {}
  void on_frame(const std::shared_ptr<Connection>&, Frame) override {}
  void on_closed(const std::shared_ptr<Connection>&, const Status& s) override { closed.set_value(s); }
  std::promise<Status> closed;
};

TEST_F(CellTest, DataBeforeHandshakeClosesOnlyThatConnection) {
  Cell* server = make("server");
  ASSERT_TRUE(server->listen(url("server")).ok());
  auto driver = drivers_.find("inproc");
  RawHandler raw;
  auto conn = (*driver)->connect(url("server"), &raw, 1s);
  ASSERT_TRUE(conn.ok());
  Frame f;
  f.headers.set(std::string(hdr::kDestination), "server");
  ASSERT_TRUE((*conn)->send(std::move(f)).ok());
  auto fut = raw.closed.get_future();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  // A proper client still works.
  Cell* site = make("site-1");
  ASSERT_TRUE(site->connect(url("server")).ok());
  EXPECT_TRUE(site->wait_for_peer("server", 5s).ok());
}

TEST(FqcnTest, NextHopFollowsFlareRouting) {
  using fqcn::next_hop;
  EXPECT_EQ(next_hop("site-1.job", "server.job", {"site-1"}), "site-1");
  EXPECT_EQ(next_hop("site-1", "server.job", {"server", "site-1.job"}), "server");
  EXPECT_EQ(next_hop("server", "server.job", {"site-1", "server.job"}), "server.job");
  EXPECT_EQ(next_hop("server", "R1.site-6.job", {"R1", "site-1"}), "R1");
  EXPECT_EQ(next_hop("R1", "R1.site-6.job", {"server", "R1.site-6"}), "R1.site-6");
  EXPECT_EQ(next_hop("R1.site-6.job", "server.job", {"R1.site-6"}), "R1.site-6");
  EXPECT_EQ(next_hop("site-1.job.trainer", "server.job", {"site-1.job"}), "site-1.job");
  EXPECT_EQ(next_hop("site-1", "site-1.job", {"server"}), "");  // my child is not connected
  EXPECT_EQ(next_hop("server.job", "site-2.job", {"server"}), "server");
  // A cell connected to a grandparent (the preflight dry run behind a relay) goes up through it.
  EXPECT_EQ(next_hop("R1.preflight_1.site-1", "server", {"R1"}), "R1");
  EXPECT_EQ(next_hop("R1.preflight_1.site-1", "R1.site-2", {"R1"}), "R1");
  EXPECT_EQ(next_hop("R1.site-1", "server", {"R1.site-1.job"}), "");  // only a child: no way up
}

}  // namespace
}  // namespace nvf::cellnet
