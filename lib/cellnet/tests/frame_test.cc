#include "cellnet/frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "cellnet/driver.h"
#include "cellnet/send_queue.h"

namespace nvf::cellnet {
namespace {

Frame sample(size_t payload_bytes, bool bulk = false) {
  Frame f;
  f.type = FrameType::kData;
  f.flags = bulk ? kFlagBulk : 0;
  f.headers.set("cn__destination", "server.job-1");
  f.headers.set("empty", "");
  f.payload.append(Slice::from_string(std::string(payload_bytes / 2, 'a')));
  f.payload.append(Slice::from_string(std::string(payload_bytes - payload_bytes / 2, 'b')));
  return f;
}

TEST(FrameTest, RoundTripKeepsHeadersAndPayloadWithoutCopy) {
  Frame f = sample(1000);
  Buffer wire = encode_frame(f);
  EXPECT_EQ(wire.size(), f.wire_size());
  // The payload slices are appended, not copied.
  ASSERT_EQ(wire.slices().size(), 3u);
  EXPECT_EQ(wire.slices()[1].data, f.payload.slices()[0].data);
  auto back = decode_frame(wire, 1 << 20);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->headers, f.headers);
  EXPECT_EQ(back->payload.to_string(), f.payload.to_string());
  EXPECT_EQ(back->type, FrameType::kData);
}

TEST(FrameTest, RejectsOversizedPayloadFromPrefix) {
  Buffer wire = encode_frame(sample(100));
  std::byte prefix[kFramePrefixSize];
  wire.copy_to(0, kFramePrefixSize, prefix);
  auto r = decode_prefix(prefix, 50);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exceeds max_message_size (50)"), std::string::npos);
}

TEST(FrameTest, RejectsBadMagicVersionTypeAndTruncatedHeaders) {
  Buffer wire = encode_frame(sample(10));
  std::string bytes = wire.to_string();
  for (auto [offset, value, expect] : std::vector<std::tuple<int, char, std::string>>{
           {0, 'X', "magic"}, {1, 9, "version"}, {2, 42, "unknown frame type"}}) {
    std::string bad = bytes;
    bad[offset] = value;
    auto r = decode_frame(Buffer(Slice::from_string(bad)), 1 << 20);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(expect), std::string::npos) << r.status().message();
  }
  std::string bad = bytes;
  bad[kFramePrefixSize + 3] = 100;  // header count far beyond the block
  auto r = decode_frame(Buffer(Slice::from_string(bad)), 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("runs past the header block"), std::string::npos);
  auto shorter = decode_frame(wire.sub(0, wire.size() - 1), 1 << 20);
  EXPECT_FALSE(shorter.ok());
}

TEST(SendQueueTest, ControlFramesOvertakeBulk) {
  SendQueue q;
  ASSERT_TRUE(q.push(sample(10, true)));
  ASSERT_TRUE(q.push(sample(20, true)));
  Frame ctl = sample(5);
  ctl.headers.set("kind", "ack");
  ASSERT_TRUE(q.push(std::move(ctl)));
  EXPECT_GT(q.queued_bytes(), 35u);
  EXPECT_EQ(q.pop()->headers.get_or("kind", ""), "ack");
  EXPECT_EQ(q.pop()->payload.size(), 10u);
  EXPECT_EQ(q.pop()->payload.size(), 20u);
  EXPECT_EQ(q.queued_bytes(), 0u);
  q.close();
  EXPECT_FALSE(q.push(sample(1)));
  EXPECT_FALSE(q.pop().has_value());
}

TEST(UrlTest, ParsesSchemesHostsAndPorts) {
  auto u = parse_url("grpc://127.0.0.1:8002");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "grpc");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8002);
  EXPECT_EQ(parse_url("tcp://0:0")->host, "0.0.0.0");
  EXPECT_EQ(parse_url("uds:///run/nvf/x.sock")->path, "/run/nvf/x.sock");
  EXPECT_EQ(parse_url("tcp://[::1]:9")->host, "::1");
  auto bad = parse_url("tcp://localhost:http");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("port 'http'"), std::string::npos);
  EXPECT_FALSE(parse_url("localhost:8002").ok());
}

// Proves: a receive buffer comes back to its pool when the last slice sharing it goes, and the
// next request of a fitting size gets the same memory (a connection touches a few frames' pages,
// not a model's); blocks much larger than a request are not handed out for it; the pool keeps no
// more than its bound; slices outlive the pool.
TEST(BufferPoolTest, ReusesReturnedBlocksWithinItsBound) {
  auto pool = std::make_unique<BufferPool>(/*max_free_bytes=*/3u << 20);
  std::byte* p1 = nullptr;
  Slice a = pool->allocate(1u << 20, &p1);
  Slice a_part = a.sub(10, 100);
  a = Slice{};
  EXPECT_EQ(pool->free_blocks(), 0u);  // a sub-slice still holds it
  a_part = Slice{};
  EXPECT_EQ(pool->free_blocks(), 1u);
  std::byte* p2 = nullptr;
  Slice b = pool->allocate((1u << 20) - 4096, &p2);  // a little smaller: same block
  EXPECT_EQ(p2, p1);
  EXPECT_EQ(b.size, (1u << 20) - 4096);
  std::byte* p3 = nullptr;
  Slice c = pool->allocate(1000, &p3);  // far smaller: not that block (it is in use anyway)
  EXPECT_NE(p3, p1);
  b = Slice{};
  std::byte* p4 = nullptr;
  Slice d = pool->allocate(1000, &p4);  // the 1 MiB block is free but over twice the size
  EXPECT_NE(p4, p1);
  c = Slice{};
  d = Slice{};
  EXPECT_EQ(pool->free_blocks(), 3u);
  // Four 1 MiB blocks returned: only what fits in 3 MiB is kept.
  std::vector<Slice> many;
  for (int i = 0; i < 4; ++i) {
    std::byte* p = nullptr;
    many.push_back(pool->allocate(1u << 20, &p));
    std::memset(p, i, 1u << 20);
  }
  many.clear();
  EXPECT_LE(pool->free_bytes(), 3u << 20);
  std::byte* p5 = nullptr;
  Slice kept = pool->allocate(1u << 20, &p5);
  p5[0] = std::byte{42};
  pool.reset();  // the slice outlives its pool
  EXPECT_EQ(kept.data[0], std::byte{42});
}

}  // namespace
}  // namespace nvf::cellnet
