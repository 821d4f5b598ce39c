// The gRPC driver over plain grpc:// on 127.0.0.1: connect, frames both ways with exact bytes,
// order, control before bulk, close from either side, refused connects, malformed frames, the
// send-timeout watchdog, and stop().
#include "base/sanitizer_slowdown.h"
#include "cellnet_grpc/grpc_driver.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <thread>

#include "recording_handler.h"

namespace nvf::cellnet_grpc {
namespace {

using namespace std::chrono_literals;
using cellnet::Frame;
using testing::RecordingHandler;

Frame make_frame(size_t payload_size, uint8_t seed, bool bulk = false) {
  std::byte* p = nullptr;
  cellnet::Slice s = cellnet::Slice::allocate(payload_size, &p);
  for (size_t i = 0; i < payload_size; ++i) p[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
  Frame f;
  f.type = cellnet::FrameType::kData;
  f.flags = bulk ? cellnet::kFlagBulk : 0;
  f.headers.set("seed", std::to_string(seed));
  f.headers.set_int("size", static_cast<int64_t>(payload_size));
  f.payload = cellnet::Buffer(std::move(s));
  return f;
}

// Whether `f` carries exactly the bytes make_frame(size, seed) made.
bool same_bytes(const Frame& f, size_t size, uint8_t seed) {
  if (f.payload.size() != size) return false;
  size_t i = 0;
  for (const auto& s : f.payload.slices()) {
    for (size_t k = 0; k < s.size; ++k, ++i) {
      if (s.data[k] != static_cast<std::byte>((i * 31 + seed) & 0xff)) return false;
    }
  }
  return true;
}

class GrpcDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    driver_ = make_grpc_driver(options_);
    auto listener = driver_->listen("grpc://127.0.0.1:0", &server_);
    ASSERT_TRUE(listener.ok()) << listener.status().to_string();
    listener_ = std::move(listener).value();
  }
  void TearDown() override { driver_->stop(); }

  // Connects a client and returns both ends.
  std::pair<std::shared_ptr<cellnet::Connection>, std::shared_ptr<cellnet::Connection>> connect_pair() {
    auto client = driver_->connect(listener_->url(), &client_, 3000ms);
    EXPECT_TRUE(client.ok()) << client.status().to_string();
    if (!client.ok()) return {};
    auto server_end = server_.wait_connected();
    EXPECT_NE(server_end, nullptr);
    return {*client, server_end};
  }

  cellnet::DriverOptions options_;
  std::unique_ptr<cellnet::Driver> driver_;
  std::unique_ptr<cellnet::Listener> listener_;
  RecordingHandler server_;
  RecordingHandler client_;
};

TEST_F(GrpcDriverTest, ListenerUrlCarriesTheOsChosenPort) {
  auto url = cellnet::parse_url(listener_->url());
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->scheme, "grpc");
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_GT(url->port, 0);
  EXPECT_EQ(driver_->schemes(), (std::vector<std::string>{"grpc", "grpcs"}));
}

// Regression: gRPC's default SO_REUSEPORT let a second server bind a taken port (two POC systems
// on one port, connections split between them). A taken port is now an error naming it.
TEST_F(GrpcDriverTest, ASecondListenerOnATakenPortFailsNamingIt) {
  RecordingHandler other;
  auto second = driver_->listen(listener_->url(), &other);
  ASSERT_FALSE(second.ok()) << "a second server bound " << listener_->url();
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("cannot listen on " + listener_->url()), std::string::npos)
      << second.status().to_string();
}

TEST_F(GrpcDriverTest, ConnectReportsTheConnectionOnBothSides) {
  auto [client, server_end] = connect_pair();
  ASSERT_TRUE(client && server_end);
  EXPECT_EQ(client_.wait_connected(), client);  // on_connected ran before connect() returned
  EXPECT_EQ(client->peer().url, listener_->url());
  EXPECT_EQ(server_end->peer().url, listener_->url());
  EXPECT_EQ(server_end->peer().address.rfind("127.0.0.1:", 0), 0u) << server_end->peer().address;
  EXPECT_TRUE(client->peer().common_name.empty());
  EXPECT_FALSE(client->closed());
  EXPECT_EQ(client->current_write_age(), 0ms);
}

TEST_F(GrpcDriverTest, FramesCrossBothWaysWithIdenticalBytes) {
  auto [client, server_end] = connect_pair();
  ASSERT_TRUE(client && server_end);
  const std::vector<size_t> sizes = {0, 1, 100, 65536, (1u << 20) + 3, 64u << 20};
  for (size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(client->send(make_frame(sizes[i], static_cast<uint8_t>(i))).ok());
    ASSERT_TRUE(server_end->send(make_frame(sizes[i], static_cast<uint8_t>(i + 50))).ok());
  }
  auto at_server = server_.wait_frames(sizes.size(), 20000ms * base::kSanitizerSlowdown);
  auto at_client = client_.wait_frames(sizes.size(), 20000ms * base::kSanitizerSlowdown);
  ASSERT_TRUE(at_server && at_client);
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_TRUE(same_bytes((*at_server)[i], sizes[i], static_cast<uint8_t>(i))) << "size " << sizes[i];
    EXPECT_TRUE(same_bytes((*at_client)[i], sizes[i], static_cast<uint8_t>(i + 50))) << "size " << sizes[i];
    EXPECT_EQ((*at_server)[i].headers.get_int("size"), static_cast<int64_t>(sizes[i]));
    EXPECT_EQ((*at_server)[i].type, cellnet::FrameType::kData);
  }
}

TEST_F(GrpcDriverTest, KeepsOrderWithinAClass) {
  auto [client, server_end] = connect_pair();
  ASSERT_TRUE(client && server_end);
  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i) {
    Frame f = make_frame(static_cast<size_t>(i % 7), 1);
    f.headers.set_int("seq", i);
    ASSERT_TRUE(client->send(std::move(f)).ok());
  }
  auto frames = server_.wait_frames(kCount);
  ASSERT_TRUE(frames);
  for (int i = 0; i < kCount; ++i) ASSERT_EQ((*frames)[i].headers.get_int("seq"), i);
}

TEST_F(GrpcDriverTest, ClientCloseReachesTheServerOnce) {
  auto [client, server_end] = connect_pair();
  ASSERT_TRUE(client && server_end);
  client->close(CancelledError("test closes"));
  auto at_server = server_.wait_closed();
  auto at_client = client_.wait_closed();
  ASSERT_TRUE(at_server && at_client);
  EXPECT_EQ(at_client->code(), StatusCode::kCancelled);  // our own reason
  EXPECT_FALSE(at_server->ok());
  EXPECT_TRUE(server_end->closed());
  EXPECT_EQ(client->send(make_frame(1, 1)).code(), StatusCode::kUnavailable);
  client->close(CancelledError("again"));  // idempotent
  driver_->stop();
  EXPECT_EQ(server_.closed_count(), 1u);
  EXPECT_EQ(client_.closed_count(), 1u);
}

TEST_F(GrpcDriverTest, ServerCloseReachesTheClient) {
  auto [client, server_end] = connect_pair();
  ASSERT_TRUE(client && server_end);
  ASSERT_TRUE(server_end->send(make_frame(100, 3)).ok());
  server_end->close(AbortedError("server is done"));
  auto at_client = client_.wait_closed();
  ASSERT_TRUE(at_client);
  EXPECT_EQ(at_client->code(), StatusCode::kUnavailable);
  EXPECT_NE(at_client->message().find("server is done"), std::string::npos) << at_client->to_string();
  auto frames = client_.wait_frames(1);  // the frame written before the close still arrived
  ASSERT_TRUE(frames);
  EXPECT_TRUE(same_bytes(frames->front(), 100, 3));
  EXPECT_EQ(server_.wait_closed()->code(), StatusCode::kAborted);
}

TEST_F(GrpcDriverTest, RefusedConnectIsUnavailableAndNamesTheUrl) {
  std::string url = listener_->url();
  listener_->stop();
  auto start = std::chrono::steady_clock::now();
  auto conn = driver_->connect(url, &client_, 3000ms);
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable) << conn.status().to_string();
  EXPECT_NE(conn.status().message().find(url), std::string::npos) << conn.status().to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);  // fails fast, not at the deadline
  EXPECT_EQ(client_.connected_count(), 0u);
}

TEST_F(GrpcDriverTest, RejectsBadUrlsAndSchemes) {
  EXPECT_EQ(driver_->connect("tcp://127.0.0.1:1", &client_, 100ms).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_->connect("grpc://127.0.0.1", &client_, 100ms).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_->listen("uds:///tmp/x", &server_).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GrpcDriverTest, OversizedPayloadIsRefusedAtSend) {
  driver_->stop();
  options_.max_payload = 1000;
  SetUp();
  auto [client, server_end] = connect_pair();
  ASSERT_TRUE(client && server_end);
  EXPECT_EQ(client->send(make_frame(1001, 1)).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(client->send(make_frame(1000, 1)).ok());
  ASSERT_TRUE(server_.wait_frames(1));
}

TEST_F(GrpcDriverTest, MalformedFrameClosesWithInvalidArgumentNamingThePeer) {
  // A raw gRPC client sends bytes that are not a frame.
  auto channel = grpc::CreateChannel(listener_->url().substr(7), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  grpc::CompletionQueue cq;
  void* tag = nullptr;
  bool ok = false;
  auto call = stub.PrepareCall(&ctx, "/nvflare.Cellnet/Stream", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice junk(std::string("this is not an nvflare frame"));
  grpc::ByteBuffer message(&junk, 1);
  call->Write(message, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  auto reason = server_.wait_closed();
  ASSERT_TRUE(reason);
  EXPECT_EQ(reason->code(), StatusCode::kInvalidArgument) << reason->to_string();
  EXPECT_NE(reason->message().find("127.0.0.1:"), std::string::npos) << reason->to_string();
  grpc::Status final_status;
  call->Finish(&final_status, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_FALSE(final_status.ok());
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

// Blocks the server's reads until released, so the client's writes stall.
class BlockingHandler : public RecordingHandler {
 public:
  void on_frame(const std::shared_ptr<cellnet::Connection>& conn, Frame frame) override {
    release_.wait();
    RecordingHandler::on_frame(conn, std::move(frame));
  }
  void release() {
    std::call_once(released_, [this] { gate_.set_value(); });
  }

 private:
  std::once_flag released_;
  std::promise<void> gate_;
  std::shared_future<void> release_ = gate_.get_future().share();
};

TEST(GrpcDriverQueueTest, ControlFrameOvertakesQueuedBulkFrames) {
  BlockingHandler server;
  RecordingHandler client_handler;
  auto driver = make_grpc_driver(cellnet::DriverOptions{});
  auto listener = driver->listen("grpc://127.0.0.1:0", &server);
  ASSERT_TRUE(listener.ok());
  auto client = driver->connect((*listener)->url(), &client_handler, 3000ms);
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  struct Release {  // destroyed first: stopping the listener needs the parked reader back
    BlockingHandler* h;
    ~Release() { h->release(); }
  } release{&server};
  constexpr int kBulk = 32;
  std::vector<Frame> bulk;
  for (int i = 0; i < kBulk; ++i) bulk.push_back(make_frame(1u << 20, 7, /*bulk=*/true));
  ASSERT_TRUE((*client)->send(make_frame(1, 1)).ok());  // parks the server's reader: writes back up
  for (auto& f : bulk) ASSERT_TRUE((*client)->send(std::move(f)).ok());
  EXPECT_GT((*client)->queued_bytes(), 0u);  // 32 MiB cannot all be on the wire
  Frame control = make_frame(10, 9);
  control.headers.set("control", "1");
  ASSERT_TRUE((*client)->send(std::move(control)).ok());
  server.release();
  auto frames = server.wait_frames(kBulk + 2, 20000ms);
  ASSERT_TRUE(frames);
  size_t pos = 0;
  while (pos < frames->size() && !(*frames)[pos].headers.has("control")) ++pos;
  // Only the bulk frames already handed to gRPC precede it; the queued rest follow.
  EXPECT_LT(pos, static_cast<size_t>(kBulk));
  EXPECT_TRUE(same_bytes((*frames)[pos], 10, 9));
}

TEST(GrpcDriverStallTest, StalledWriteClosesTheConnectionAfterSendTimeout) {
  cellnet::DriverOptions options;
  options.send_timeout = 300ms;
  BlockingHandler server;
  RecordingHandler client_handler;
  auto driver = make_grpc_driver(options);
  auto listener = driver->listen("grpc://127.0.0.1:0", &server);
  ASSERT_TRUE(listener.ok());
  auto client = driver->connect((*listener)->url(), &client_handler, 3000ms);
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  struct Release {  // destroyed first: stopping the listener needs the parked reader back
    BlockingHandler* h;
    ~Release() { h->release(); }
  } release{&server};
  std::vector<Frame> bulk;
  for (int i = 0; i < 4; ++i) bulk.push_back(make_frame(32u << 20, 2, true));
  ASSERT_TRUE((*client)->send(make_frame(10, 1)).ok());  // parks the server's reader
  for (auto& f : bulk) (*client)->send(std::move(f)).ignore();  // fails once the watchdog closed it
  auto reason = client_handler.wait_closed(10000ms);
  ASSERT_TRUE(reason);
  EXPECT_EQ(reason->code(), StatusCode::kDeadlineExceeded) << reason->to_string();
  EXPECT_NE(reason->message().find((*listener)->url()), std::string::npos) << reason->to_string();
}

TEST_F(GrpcDriverTest, StopClosesEveryConnectionAndRefusesNewOnes) {
  auto [client, server_end] = connect_pair();
  ASSERT_TRUE(client && server_end);
  driver_->stop();
  EXPECT_EQ(client_.closed_count(), 1u);
  EXPECT_EQ(server_.closed_count(), 1u);
  EXPECT_TRUE(client->closed());
  EXPECT_EQ(client->send(make_frame(1, 1)).code(), StatusCode::kUnavailable);
  EXPECT_EQ(driver_->connect(listener_->url(), &client_, 500ms).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(driver_->listen("grpc://127.0.0.1:0", &server_).status().code(), StatusCode::kUnavailable);
}

TEST_F(GrpcDriverTest, ManyConnectionsToOneListener) {
  std::vector<std::shared_ptr<cellnet::Connection>> clients;
  for (int i = 0; i < 8; ++i) {
    auto c = driver_->connect(listener_->url(), &client_, 3000ms);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    ASSERT_TRUE((*c)->send(make_frame(1000, static_cast<uint8_t>(i))).ok());
    clients.push_back(*c);
  }
  ASSERT_TRUE(server_.wait_connected(8));
  auto frames = server_.wait_frames(8);
  ASSERT_TRUE(frames);
  clients[3]->close(CancelledError("only this one"));
  ASSERT_TRUE(server_.wait_closed());
  EXPECT_EQ(server_.closed_count(), 1u);
  EXPECT_TRUE(clients[4]->send(make_frame(5, 5)).ok());
  EXPECT_TRUE(server_.wait_frames(9));
}

}  // namespace
}  // namespace nvf::cellnet_grpc
