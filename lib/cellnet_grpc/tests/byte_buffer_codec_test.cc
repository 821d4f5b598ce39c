// Zero-copy conversions between our Buffer and grpc::ByteBuffer: the same bytes, at the same
// addresses, with owners kept alive exactly as long as gRPC holds the slices.
#include "cellnet_grpc/byte_buffer_codec_internal.h"

#include <gtest/gtest.h>

#include "cellnet/frame.h"

namespace nvf::cellnet_grpc {
namespace {

TEST(ByteBufferCodecTest, SendPathLendsOurSlicesWithoutCopying) {
  cellnet::Slice a = cellnet::Slice::from_string(std::string(5000, 'a'));
  cellnet::Slice b = cellnet::Slice::from_string("tail bytes");
  cellnet::Buffer buf(a);
  buf.append(cellnet::Slice{});  // empty slices are skipped
  buf.append(b);
  std::weak_ptr<const void> owner_a = a.owner;
  long before = a.owner.use_count();
  {
    grpc::ByteBuffer bb = to_byte_buffer(buf);
    EXPECT_EQ(bb.Length(), 5010u);
    EXPECT_EQ(a.owner.use_count(), before + 1);  // gRPC holds one reference
    std::vector<grpc::Slice> out;
    ASSERT_TRUE(bb.Dump(&out).ok());
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(static_cast<const void*>(out[0].begin()), static_cast<const void*>(a.data));
    EXPECT_EQ(static_cast<const void*>(out[1].begin()), static_cast<const void*>(b.data));
  }
  EXPECT_EQ(a.owner.use_count(), before);  // released with the last gRPC slice
  buf = cellnet::Buffer();
  a = cellnet::Slice{};
  EXPECT_TRUE(owner_a.expired());
}

TEST(ByteBufferCodecTest, ReceivePathRefersToGrpcSlicesWithoutCopying) {
  grpc::Slice slices[] = {grpc::Slice(std::string(3000, 'x')), grpc::Slice(std::string("0123456789"))};
  grpc::ByteBuffer bb(slices, 2);
  std::vector<grpc::Slice> dumped;
  ASSERT_TRUE(bb.Dump(&dumped).ok());
  auto buf = from_byte_buffer(bb);
  ASSERT_TRUE(buf.ok());
  bb.Clear();  // our slices keep the bytes alive
  ASSERT_EQ(buf->slices().size(), 2u);
  EXPECT_EQ(static_cast<const void*>(buf->slices()[0].data), static_cast<const void*>(dumped[0].begin()));
  dumped.clear();
  EXPECT_EQ(buf->to_string(), std::string(3000, 'x') + "0123456789");
}

TEST(ByteBufferCodecTest, FrameSurvivesARoundTrip) {
  cellnet::Frame f;
  f.type = cellnet::FrameType::kPing;
  f.flags = cellnet::kFlagBulk;
  f.headers.set("k", "v");
  f.payload = cellnet::Buffer(cellnet::Slice::from_string("payload"));
  grpc::ByteBuffer bb = to_byte_buffer(cellnet::encode_frame(f));
  auto buf = from_byte_buffer(bb);
  ASSERT_TRUE(buf.ok());
  auto back = cellnet::decode_frame(*buf, 100);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->type, cellnet::FrameType::kPing);
  EXPECT_TRUE(back->bulk());
  EXPECT_EQ(back->headers, f.headers);
  EXPECT_EQ(back->payload.to_string(), "payload");
  // The payload points into the very slice we sent: no copy on either side in-process.
  EXPECT_EQ(back->payload.slices()[0].data, f.payload.slices()[0].data);
}

}  // namespace
}  // namespace nvf::cellnet_grpc
