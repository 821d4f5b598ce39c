// The frame: the unit every driver carries, one frame per transport message.
//
// Wire layout (all integers big-endian):
//   0  u8  magic 'F'      1  u8  version (1)     2  u8  type     3  u8  flags
//   4  u32 header_len     8  u64 payload_len
//   16 headers: u32 count, then per entry u32 key_len, key, u32 value_len, value
//   16+header_len payload
// Frames with the kBulk flag (stream chunks) may wait behind control frames in a connection's
// send queue; every other frame goes first. Stateless functions; Frame is a value.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "cellnet/buffer.h"
#include "cellnet/headers.h"

namespace nvf::cellnet {

enum class FrameType : uint8_t {
  kHello = 1,  // active side announces itself (headers: fqcn, version)
  kReady = 2,  // passive side accepts (or refuses with an error header)
  kPing = 3,
  kPong = 4,
  kData = 5,   // a message, a stream chunk, an ACK: the cell reads its headers
};

enum FrameFlags : uint8_t {
  kFlagBulk = 0x01,  // a stream chunk: yields to control frames in send queues
};

inline constexpr size_t kFramePrefixSize = 16;
inline constexpr uint8_t kFrameMagic = 'F';
inline constexpr uint8_t kFrameVersion = 1;
inline constexpr uint32_t kMaxHeaderBytes = 1u << 20;

struct Frame {
  FrameType type = FrameType::kData;
  uint8_t flags = 0;
  Headers headers;
  Buffer payload;

  bool bulk() const { return flags & kFlagBulk; }
  /// Bytes on the wire.
  size_t wire_size() const { return kFramePrefixSize + headers.encoded_size() + payload.size(); }
};

struct FramePrefix {
  FrameType type;
  uint8_t flags;
  uint32_t header_len;
  uint64_t payload_len;
};

/// Encodes prefix + headers into one slice and appends the payload slices (no payload copy).
Buffer encode_frame(const Frame& frame);

/// Parses the 16-byte prefix. Errors: INVALID_ARGUMENT for a bad magic/version/type, a header
/// over kMaxHeaderBytes, or a payload over `max_payload` — each naming the value.
Result<FramePrefix> decode_prefix(const std::byte* prefix, uint64_t max_payload);

/// Parses a whole encoded frame; the payload refers into `bytes` (no copy).
/// Errors: INVALID_ARGUMENT (malformed prefix or headers, length mismatch).
Result<Frame> decode_frame(const Buffer& bytes, uint64_t max_payload);

/// Parses the header block of `len` bytes at `data`.
Result<Headers> decode_headers(const std::byte* data, size_t len);

std::string frame_type_name(FrameType type);

}  // namespace nvf::cellnet
