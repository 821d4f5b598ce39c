#include "cellnet/tests/driver_conformance.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>

namespace nvf::cellnet {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// ---- payloads ------------------------------------------------------------------------------

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// `size` pseudo-random bytes that depend on `seed`, so a swapped or shifted payload shows.
Buffer make_payload(size_t size, uint64_t seed) {
  std::byte* p = nullptr;
  Slice s = Slice::allocate(size, &p);
  uint64_t state = seed;
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = splitmix(state);
    std::memcpy(p + i, &v, std::min<size_t>(8, size - i));
  }
  return Buffer(std::move(s));
}

uint64_t checksum(const Buffer& b) {  // FNV-1a over all bytes
  uint64_t h = 1469598103934665603ull;
  for (const Slice& s : b.slices()) {
    for (size_t i = 0; i < s.size; ++i)
      h = (h ^ static_cast<uint8_t>(s.data[i])) * 1099511628211ull;
  }
  return h;
}

Frame data_frame(Headers headers, Buffer payload, bool bulk = false) {
  Frame f;
  f.type = FrameType::kData;
  f.flags = bulk ? kFlagBulk : 0;
  f.headers = std::move(headers);
  f.payload = std::move(payload);
  return f;
}

Frame seq_frame(int64_t seq, bool bulk = false, Buffer payload = {}) {
  Headers h;
  h.set_int("seq", seq);
  return data_frame(std::move(h), std::move(payload), bulk);
}

// ---- raw sockets (for drivers that read frames straight off a socket) ----------------------

int raw_connect(const std::string& url) {
  auto u = parse_url(url);
  if (!u.ok()) return -1;
  int fd = -1;
  if (u->scheme == "uds") {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, u->path.c_str(), sizeof(sa.sun_path) - 1);
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) return fd;
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(u->port));
    ::inet_pton(AF_INET, u->host.c_str(), &sa.sin_addr);
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) return fd;
  }
  if (fd >= 0) ::close(fd);
  return -1;
}

bool raw_write(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string be(uint64_t v, int bytes) {
  std::string out(bytes, '\0');
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

std::string raw_prefix(uint8_t type, uint32_t header_len, uint64_t payload_len) {
  return std::string{static_cast<char>(kFrameMagic), static_cast<char>(kFrameVersion),
                     static_cast<char>(type), 0} +
         be(header_len, 4) + be(payload_len, 8);
}

}  // namespace

// ---- RecordingHandler ----------------------------------------------------------------------

void RecordingHandler::on_connected(const std::shared_ptr<Connection>& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_.count(conn.get()))
    violations_.push_back("on_connected twice for " + conn->peer().address);
  state_[conn.get()] = 1;
  connected_.push_back(conn);
  cv_.notify_all();
}

void RecordingHandler::on_frame(const std::shared_ptr<Connection>& conn, Frame frame) {
  if (hook_) hook_(conn, frame);
  if (echo_) conn->send(frame).ignore();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.find(conn.get());
  if (it == state_.end())
    violations_.push_back("on_frame before on_connected from " + conn->peer().address);
  if (it != state_.end() && it->second == 2)
    violations_.push_back("on_frame after on_closed from " + conn->peer().address);
  frames_.push_back({conn, std::move(frame)});
  cv_.notify_all();
}

void RecordingHandler::on_closed(const std::shared_ptr<Connection>& conn, const Status& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.find(conn.get());
  if (it == state_.end())
    violations_.push_back("on_closed before on_connected for " + conn->peer().address);
  if (it != state_.end() && it->second == 2)
    violations_.push_back("on_closed twice for " + conn->peer().address);
  state_[conn.get()] = 2;
  closed_.push_back({conn, reason});
  cv_.notify_all();
}

void RecordingHandler::set_frame_hook(
    std::function<void(const std::shared_ptr<Connection>&, const Frame&)> hook) {
  hook_ = std::move(hook);
}
void RecordingHandler::set_echo(bool echo) { echo_ = echo; }

bool RecordingHandler::wait_for(const std::function<bool()>& pred, milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, pred);
}

bool RecordingHandler::wait_connected(size_t n, milliseconds timeout) {
  return wait_for([&] { return connected_.size() >= n; }, timeout);
}
bool RecordingHandler::wait_frames(size_t n, milliseconds timeout) {
  return wait_for([&] { return frames_.size() >= n; }, timeout);
}
bool RecordingHandler::wait_closed(size_t n, milliseconds timeout) {
  return wait_for([&] { return closed_.size() >= n; }, timeout);
}

std::vector<std::shared_ptr<Connection>> RecordingHandler::connected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connected_;
}

std::vector<RecordingHandler::Closed> RecordingHandler::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

std::vector<RecordingHandler::Received> RecordingHandler::take_frames() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(frames_, {});
}

std::vector<std::string> RecordingHandler::violations(bool expect_all_closed) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out = violations_;
  if (expect_all_closed) {
    for (const auto& c : connected_) {
      if (state_.at(c.get()) != 2) out.push_back("no on_closed for " + c->peer().address);
    }
  }
  return out;
}

// ---- fixture -------------------------------------------------------------------------------

void DriverConformance::SetUp() {
  char tmpl[] = "/tmp/nvfct-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  tmp_dir_ = tmpl;
}

void DriverConformance::TearDown() {
  listener_.reset();
  if (driver_) driver_->stop();  // joins every driver thread: no callback can follow
  for (const auto& v : server_.violations(true)) ADD_FAILURE() << "server handler: " << v;
  for (const auto& v : client_.violations(true)) ADD_FAILURE() << "client handler: " << v;
  driver_.reset();
  std::error_code ec;
  std::filesystem::remove_all(tmp_dir_, ec);
}

DriverOptions DriverConformance::test_options() {
  DriverOptions o;
  o.send_timeout = milliseconds(2000);
  return o;
}

Driver& DriverConformance::make_driver(const DriverOptions& options) {
  driver_ = GetParam().make_driver(options);
  return *driver_;
}

Listener* DriverConformance::listen() {
  if (!driver_) make_driver();
  auto l = driver_->listen(GetParam().listen_url(tmp_dir_), &server_);
  if (!l.ok()) {
    ADD_FAILURE() << "listen: " << l.status().to_string();
    return nullptr;
  }
  listener_ = std::move(*l);
  return listener_.get();
}

std::shared_ptr<Connection> DriverConformance::connect(ConnectionHandler* handler) {
  auto c = driver_->connect(listener_->url(), handler ? handler : &client_, milliseconds(5000));
  if (!c.ok()) {
    ADD_FAILURE() << "connect: " << c.status().to_string();
    return nullptr;
  }
  return *c;
}

std::pair<std::shared_ptr<Connection>, std::shared_ptr<Connection>>
DriverConformance::connect_pair() {
  size_t before_s = server_.connected().size();
  size_t before_c = client_.connected().size();
  auto client = connect();
  if (!client) return {};
  if (!server_.wait_connected(before_s + 1) || !client_.wait_connected(before_c + 1)) {
    ADD_FAILURE() << "on_connected did not arrive on both sides";
    return {};
  }
  return {client, server_.connected()[before_s]};
}

// ---- the suite -----------------------------------------------------------------------------

TEST_P(DriverConformance, ConnectCallsOnConnectedOnBothSides) {
  ASSERT_NE(listen(), nullptr);
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  EXPECT_EQ(client_.connected().at(0), client);  // the client handler sees the returned connection
  EXPECT_FALSE(client->closed());
  EXPECT_FALSE(server->closed());
  EXPECT_EQ(client->peer().url, listener_->url());
  EXPECT_FALSE(server->peer().address.empty());
  EXPECT_EQ(client->current_write_age(), milliseconds(0));
}

TEST_P(DriverConformance, FramesArriveIntactInBothDirections) {
  ASSERT_NE(listen(), nullptr);
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  const size_t sizes[] = {0, 1, 64 << 10, 8 << 20, 64 << 20};
  for (size_t size : sizes) {
    for (bool to_server : {true, false}) {
      SCOPED_TRACE("payload " + std::to_string(size) + (to_server ? " to server" : " to client"));
      Headers h;
      h.set("cn__destination", "server.job-1");
      h.set("empty", "");
      h.set_int("size", static_cast<int64_t>(size));
      Buffer payload = make_payload(size, size * 2 + to_server);
      uint64_t sum = checksum(payload);
      RecordingHandler& rx = to_server ? server_ : client_;
      ASSERT_TRUE(
          (to_server ? client : server)->send(data_frame(h, std::move(payload), size > 1)).ok());
      ASSERT_TRUE(rx.wait_frames(1));
      auto got = rx.take_frames();
      ASSERT_EQ(got.size(), 1u);
      const Frame& f = got[0].frame;
      EXPECT_EQ(got[0].conn, to_server ? server : client);
      EXPECT_EQ(f.type, FrameType::kData);
      EXPECT_EQ(f.bulk(), size > 1);
      EXPECT_EQ(f.headers, h);
      EXPECT_EQ(f.payload.size(), size);
      EXPECT_EQ(checksum(f.payload), sum);
    }
  }
}

TEST_P(DriverConformance, KeepsOrderOfThousandSmallFramesPerConnection) {
  ASSERT_NE(listen(), nullptr);
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  constexpr int kFrames = 1000;
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(client->send(seq_frame(i, false, make_payload(i % 97, i))).ok());
    ASSERT_TRUE(server->send(seq_frame(i)).ok());
  }
  ASSERT_TRUE(server_.wait_frames(kFrames));
  ASSERT_TRUE(client_.wait_frames(kFrames));
  auto at_server = server_.take_frames();
  auto at_client = client_.take_frames();
  ASSERT_EQ(at_server.size(), size_t{kFrames});
  ASSERT_EQ(at_client.size(), size_t{kFrames});
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_EQ(at_server[i].frame.headers.get_int("seq"), i);
    ASSERT_EQ(at_server[i].frame.payload.size(), size_t(i % 97));
    ASSERT_EQ(checksum(at_server[i].frame.payload), checksum(make_payload(i % 97, i)));
    ASSERT_EQ(at_client[i].frame.headers.get_int("seq"), i);
  }
}

TEST_P(DriverConformance, ControlFramesOvertakeQueuedBulkFrames) {
  // The server holds its first bulk frame until everything is queued, so the queue (and the
  // transport's buffers) are full of bulk frames when the control frame is queued.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  bool first = true;
  server_.set_frame_hook([&, released](const std::shared_ptr<Connection>&, const Frame& f) {
    if (f.bulk() && first) {
      first = false;
      released.wait_for(std::chrono::seconds(10));
    }
  });
  ASSERT_NE(listen(), nullptr);
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  constexpr int kBulk = 50;
  Buffer chunk = make_payload(1 << 20, 7);  // shared by all bulk frames: no copies
  for (int i = 0; i < kBulk; ++i) ASSERT_TRUE(client->send(seq_frame(i, true, chunk)).ok());
  Headers h;
  h.set("control", "yes");
  ASSERT_TRUE(client->send(data_frame(h, Buffer(Slice::copy_of("ping")))).ok());
  release.set_value();
  ASSERT_TRUE(server_.wait_frames(kBulk + 1));
  auto got = server_.take_frames();
  ASSERT_EQ(got.size(), size_t{kBulk + 1});
  int control_at = -1;
  int64_t next_bulk = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].frame.headers.has("control")) {
      control_at = static_cast<int>(i);
      EXPECT_EQ(got[i].frame.payload.to_string(), "ping");
    } else {
      EXPECT_EQ(got[i].frame.headers.get_int("seq"), next_bulk++);  // bulk keeps its own order
    }
  }
  EXPECT_GE(control_at, 0);
  EXPECT_LT(control_at, kBulk) << "the control frame waited behind every bulk frame";
}

static void expect_closed_pair(RecordingHandler& closer, RecordingHandler& other,
                               const std::shared_ptr<Connection>& closer_conn,
                               const std::shared_ptr<Connection>& other_conn) {
  ASSERT_TRUE(closer.wait_closed(1));
  ASSERT_TRUE(other.wait_closed(1));
  auto c1 = closer.closed();
  auto c2 = other.closed();
  ASSERT_EQ(c1.size(), 1u);
  ASSERT_EQ(c2.size(), 1u);
  EXPECT_EQ(c1[0].conn, closer_conn);
  EXPECT_EQ(c1[0].reason.code(), StatusCode::kCancelled) << c1[0].reason.to_string();
  EXPECT_EQ(c1[0].reason.message(), "test closes");
  EXPECT_EQ(c2[0].conn, other_conn);
  EXPECT_EQ(c2[0].reason.code(), StatusCode::kUnavailable) << c2[0].reason.to_string();
  EXPECT_TRUE(closer_conn->closed());
  EXPECT_TRUE(other_conn->closed());
  EXPECT_EQ(closer_conn->send(seq_frame(1)).code(), StatusCode::kUnavailable);
  EXPECT_EQ(other_conn->send(seq_frame(1)).code(), StatusCode::kUnavailable);
  closer_conn->close(
      CancelledError("again"));  // idempotent: no second on_closed (checked at TearDown)
}

TEST_P(DriverConformance, CloseFromClientClosesBothSidesOnce) {
  ASSERT_NE(listen(), nullptr);
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  client->close(CancelledError("test closes"));
  expect_closed_pair(client_, server_, client, server);
}

TEST_P(DriverConformance, CloseFromServerClosesBothSidesOnce) {
  ASSERT_NE(listen(), nullptr);
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  server->close(CancelledError("test closes"));
  expect_closed_pair(server_, client_, server, client);
}

TEST_P(DriverConformance, CloseFromOwnHandlerCallbackDoesNotDeadlock) {
  // The server closes the connection from inside on_frame (on the driver's own thread).
  server_.set_frame_hook([](const std::shared_ptr<Connection>& conn, const Frame& f) {
    if (f.headers.has("close")) conn->close(CancelledError("closing from on_frame"));
  });
  ASSERT_NE(listen(), nullptr);
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  Headers h;
  h.set("close", "1");
  ASSERT_TRUE(client->send(data_frame(h, {})).ok());
  ASSERT_TRUE(server_.wait_closed(1));
  ASSERT_TRUE(client_.wait_closed(1));
  EXPECT_EQ(server_.closed()[0].reason.message(), "closing from on_frame");
}

TEST_P(DriverConformance, ConnectWithoutListenerFailsUnavailableQuickly) {
  make_driver();
  std::string url = GetParam().unused_url(tmp_dir_);
  auto start = Clock::now();
  auto c = driver_->connect(url, &client_, milliseconds(2000));
  auto took = Clock::now() - start;
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable) << c.status().to_string();
  EXPECT_NE(c.status().message().find(url), std::string::npos) << c.status().message();
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_TRUE(client_.connected().empty());
}

TEST_P(DriverConformance, ListenerStopClosesAcceptedConnections) {
  ASSERT_NE(listen(), nullptr);
  std::vector<std::shared_ptr<Connection>> clients;
  for (int i = 0; i < 3; ++i) {
    auto [client, server] = connect_pair();
    ASSERT_TRUE(client && server);
    clients.push_back(client);
  }
  std::string url = listener_->url();
  listener_->stop();
  ASSERT_TRUE(server_.wait_closed(3));
  ASSERT_TRUE(client_.wait_closed(3));
  for (const auto& c : clients) EXPECT_EQ(c->send(seq_frame(0)).code(), StatusCode::kUnavailable);
  auto again = driver_->connect(url, &client_, milliseconds(2000));
  EXPECT_EQ(again.status().code(), StatusCode::kUnavailable) << again.status().to_string();
}

TEST_P(DriverConformance, DriverStopClosesEverything) {
  ASSERT_NE(listen(), nullptr);
  auto [client, server] = connect_pair();
  ASSERT_TRUE(client && server);
  std::string url = listener_->url();
  driver_->stop();  // joins: every on_closed has run when it returns
  EXPECT_EQ(server_.closed().size(), 1u);
  EXPECT_EQ(client_.closed().size(), 1u);
  EXPECT_EQ(client->send(seq_frame(0)).code(), StatusCode::kUnavailable);
  EXPECT_EQ(driver_->connect(url, &client_, milliseconds(1000)).status().code(),
            StatusCode::kUnavailable);
}

TEST_P(DriverConformance, ManyConnectionsToOneListenerWorkConcurrently) {
  server_.set_echo(true);
  ASSERT_NE(listen(), nullptr);
  constexpr int kConns = 20;
  constexpr int kFrames = 10;
  std::vector<std::shared_ptr<Connection>> conns(kConns);
  std::vector<std::thread> threads;
  for (int i = 0; i < kConns; ++i) {
    threads.emplace_back([&, i] {
      conns[i] = connect();
      if (!conns[i]) return;
      for (int j = 0; j < kFrames; ++j) {
        Headers h;
        h.set_int("client", i);
        h.set_int("seq", j);
        conns[i]->send(data_frame(h, make_payload(1000 + i, i * 100 + j))).ignore();
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(client_.wait_frames(kConns * kFrames));
  ASSERT_EQ(server_.connected().size(), size_t{kConns});
  std::map<const Connection*, std::vector<Frame>> by_conn;
  for (auto& r : client_.take_frames()) by_conn[r.conn.get()].push_back(std::move(r.frame));
  for (int i = 0; i < kConns; ++i) {
    ASSERT_NE(conns[i], nullptr);
    const auto& frames = by_conn[conns[i].get()];
    ASSERT_EQ(frames.size(), size_t{kFrames}) << "connection " << i;
    for (int j = 0; j < kFrames; ++j) {
      EXPECT_EQ(frames[j].headers.get_int("client"), i);
      EXPECT_EQ(frames[j].headers.get_int("seq"), j);
      EXPECT_EQ(checksum(frames[j].payload), checksum(make_payload(1000 + i, i * 100 + j)));
    }
  }
}

// ---- raw-socket tests: malformed input and a peer that stops reading -------------------------

class RawSocket {
 public:
  explicit RawSocket(const std::string& url) : fd_(raw_connect(url)) {}
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Writes `bytes` on a raw connection; the server must close it with INVALID_ARGUMENT whose
// message contains `expect`; then a proper connection on the same listener still works.
static void raw_case(RecordingHandler& server,
                     const std::function<std::shared_ptr<Connection>()>& connect_fn,
                     const std::string& url, const std::string& bytes, bool shut_write,
                     const std::string& expect) {
  RawSocket raw(url);
  ASSERT_GE(raw.fd(), 0) << "raw connect to " << url;
  ASSERT_TRUE(server.wait_connected(1));
  ASSERT_TRUE(raw_write(raw.fd(), bytes));
  if (shut_write) ::shutdown(raw.fd(), SHUT_WR);
  ASSERT_TRUE(server.wait_closed(1));
  auto closed = server.closed();
  EXPECT_EQ(closed[0].reason.code(), StatusCode::kInvalidArgument) << closed[0].reason.to_string();
  EXPECT_NE(closed[0].reason.message().find(expect), std::string::npos)
      << closed[0].reason.message();
  EXPECT_NE(closed[0].reason.message().find(closed[0].conn->peer().address), std::string::npos)
      << "the reason must name the peer: " << closed[0].reason.message();
  // The listener still serves.
  auto conn = connect_fn();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(server.wait_connected(2));
  ASSERT_TRUE(conn->send(seq_frame(42, false, make_payload(100, 1))).ok());
  ASSERT_TRUE(server.wait_frames(1));
  auto frames = server.take_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].frame.headers.get_int("seq"), 42);
  EXPECT_EQ(checksum(frames[0].frame.payload), checksum(make_payload(100, 1)));
}

#define NVF_RAW_CASE(bytes, shut_write, expect)                                              \
  do {                                                                                       \
    if (!GetParam().raw_socket)                                                              \
      GTEST_SKIP() << "the driver does not read frames off a raw socket";                    \
    DriverOptions o = test_options();                                                        \
    o.max_payload = 1 << 20;                                                                 \
    make_driver(o);                                                                          \
    ASSERT_NE(listen(), nullptr);                                                            \
    raw_case(                                                                                \
        server_, [this] { return connect(); }, listener_->url(), bytes, shut_write, expect); \
  } while (0)

TEST_P(DriverConformance, RawGarbageBytesCloseOnlyThatConnection) {
  NVF_RAW_CASE("GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, "magic");
}

TEST_P(DriverConformance, RawOversizedPayloadLengthIsRefusedBeforeAllocating) {
  NVF_RAW_CASE(raw_prefix(5, 4, uint64_t{1} << 40), false, "exceeds max_message_size");
}

TEST_P(DriverConformance, RawTruncatedFrameIsReported) {
  NVF_RAW_CASE(raw_prefix(5, 4, 1000) + be(0, 4) + std::string(100, 'x'), true, "truncated");
}

TEST_P(DriverConformance, RawUnparsableHeaderBlockIsRefused) {
  NVF_RAW_CASE(raw_prefix(5, 8, 0) + be(5, 4) + be(1000, 4), false, "header");
}

TEST_P(DriverConformance, RawUnknownFrameTypeIsRefused) {
  NVF_RAW_CASE(raw_prefix(99, 4, 0) + be(0, 4), false, "type 99");
}

TEST_P(DriverConformance, PeerThatStopsReadingHitsSendTimeout) {
  if (!GetParam().raw_socket) GTEST_SKIP() << "needs a raw socket peer that never reads";
  DriverOptions o = test_options();
  o.send_timeout = milliseconds(300);
  make_driver(o);
  ASSERT_NE(listen(), nullptr);
  RawSocket raw(listener_->url());  // connects and never reads
  ASSERT_GE(raw.fd(), 0);
  ASSERT_TRUE(server_.wait_connected(1));
  auto server = server_.connected()[0];
  Buffer chunk = make_payload(1 << 20, 3);
  auto start = Clock::now();
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(server->send(seq_frame(i, true, chunk)).ok());
  ASSERT_TRUE(server_.wait_closed(1, milliseconds(10000)));
  auto took = Clock::now() - start;
  auto closed = server_.closed();
  EXPECT_EQ(closed[0].reason.code(), StatusCode::kDeadlineExceeded) << closed[0].reason.to_string();
  EXPECT_NE(closed[0].reason.message().find(server->peer().address), std::string::npos)
      << closed[0].reason.message();
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(5000));
  EXPECT_EQ(server->send(seq_frame(0)).code(), StatusCode::kUnavailable);
}

}  // namespace nvf::cellnet
