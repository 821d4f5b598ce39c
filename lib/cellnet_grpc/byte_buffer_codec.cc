#include "cellnet_grpc/byte_buffer_codec_internal.h"

#include <memory>
#include <vector>

namespace nvf::cellnet_grpc {
namespace {

// gRPC calls this when it drops its last reference to a slice we lent it.
void release_owner(void* user_data) { delete static_cast<std::shared_ptr<const void>*>(user_data); }

}  // namespace

grpc::ByteBuffer to_byte_buffer(const cellnet::Buffer& buffer) {
  std::vector<grpc::Slice> slices;
  slices.reserve(buffer.slices().size());
  for (const cellnet::Slice& s : buffer.slices()) {
    if (s.size == 0) continue;
    // gRPC never writes through this pointer; the API just is not const-correct.
    void* data = const_cast<std::byte*>(s.data);
    slices.emplace_back(data, s.size, &release_owner, new std::shared_ptr<const void>(s.owner));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

Result<cellnet::Buffer> from_byte_buffer(const grpc::ByteBuffer& message) {
  auto held = std::make_shared<std::vector<grpc::Slice>>();
  grpc::Status st = message.Dump(held.get());
  if (!st.ok()) return InternalError("cannot read a gRPC message: " + st.error_message());
  cellnet::Buffer out;
  std::shared_ptr<const void> owner = held;
  for (const grpc::Slice& gs : *held) {
    if (gs.size() == 0) continue;
    cellnet::Slice s;
    s.data = reinterpret_cast<const std::byte*>(gs.begin());
    s.size = gs.size();
    s.owner = owner;
    out.append(std::move(s));
  }
  return out;
}

}  // namespace nvf::cellnet_grpc
