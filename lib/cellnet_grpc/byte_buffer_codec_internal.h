// Conversions between our Buffer (ref-counted slices) and grpc::ByteBuffer without copying bytes:
// each of our slices becomes a grpc::Slice whose destroy callback drops a heap reference to the
// slice's owner, and each received grpc::Slice becomes one of our slices owned by the dumped
// vector of grpc::Slice. Private to cellnet_grpc (includes gRPC headers). Stateless functions,
// safe from any thread.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include "base/status.h"
#include "cellnet/buffer.h"

namespace nvf::cellnet_grpc {

/// A ByteBuffer referring to `buffer`'s bytes (no copy); they stay alive until gRPC drops the
/// last reference to each slice.
grpc::ByteBuffer to_byte_buffer(const cellnet::Buffer& buffer);

/// A Buffer referring to `message`'s slices (no copy); `message` may be cleared afterwards.
/// Errors: INTERNAL when gRPC cannot dump the buffer (a compressed message, which we never send).
Result<cellnet::Buffer> from_byte_buffer(const grpc::ByteBuffer& message);

}  // namespace nvf::cellnet_grpc
