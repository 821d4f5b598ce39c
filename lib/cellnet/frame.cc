#include "cellnet/frame.h"

#include <cstring>

namespace nvf::cellnet {
namespace {

void put_u32(std::byte* p, uint32_t v) {
  for (int i = 3; i >= 0; --i) {
    p[i] = static_cast<std::byte>(v & 0xff);
    v >>= 8;
  }
}
void put_u64(std::byte* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<std::byte>(v & 0xff);
    v >>= 8;
  }
}
uint32_t get_u32(const std::byte* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t get_u64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

std::string frame_type_name(FrameType type) {
  switch (type) {
    case FrameType::kHello: return "HELLO";
    case FrameType::kReady: return "READY";
    case FrameType::kPing: return "PING";
    case FrameType::kPong: return "PONG";
    case FrameType::kData: return "DATA";
  }
  return "type " + std::to_string(static_cast<int>(type));
}

Buffer encode_frame(const Frame& frame) {
  size_t hlen = frame.headers.encoded_size();
  std::byte* p = nullptr;
  Slice head = Slice::allocate(kFramePrefixSize + hlen, &p);
  p[0] = static_cast<std::byte>(kFrameMagic);
  p[1] = static_cast<std::byte>(kFrameVersion);
  p[2] = static_cast<std::byte>(frame.type);
  p[3] = static_cast<std::byte>(frame.flags);
  put_u32(p + 4, static_cast<uint32_t>(hlen));
  put_u64(p + 8, frame.payload.size());
  std::byte* h = p + kFramePrefixSize;
  put_u32(h, static_cast<uint32_t>(frame.headers.size()));
  h += 4;
  for (const auto& [k, v] : frame.headers.entries()) {
    put_u32(h, static_cast<uint32_t>(k.size()));
    std::memcpy(h + 4, k.data(), k.size());
    h += 4 + k.size();
    put_u32(h, static_cast<uint32_t>(v.size()));
    std::memcpy(h + 4, v.data(), v.size());
    h += 4 + v.size();
  }
  Buffer out(std::move(head));
  out.append(frame.payload);
  return out;
}

Result<FramePrefix> decode_prefix(const std::byte* p, uint64_t max_payload) {
  if (static_cast<uint8_t>(p[0]) != kFrameMagic) {
    return InvalidArgumentError("bad frame magic 0x" + std::to_string(static_cast<int>(p[0])) +
                                ": the peer does not speak this protocol");
  }
  if (static_cast<uint8_t>(p[1]) != kFrameVersion) {
    return InvalidArgumentError("frame version " + std::to_string(static_cast<int>(p[1])) + " (expected " +
                                std::to_string(kFrameVersion) + "): the peer runs another nvflare version");
  }
  uint8_t type = static_cast<uint8_t>(p[2]);
  if (type < 1 || type > 5) return InvalidArgumentError("unknown frame type " + std::to_string(type));
  FramePrefix out{static_cast<FrameType>(type), static_cast<uint8_t>(p[3]), get_u32(p + 4), get_u64(p + 8)};
  if (out.header_len > kMaxHeaderBytes || out.header_len < 4) {
    return InvalidArgumentError("frame header length " + std::to_string(out.header_len) + " outside 4.." +
                                std::to_string(kMaxHeaderBytes));
  }
  if (out.payload_len > max_payload) {
    return InvalidArgumentError("frame payload of " + std::to_string(out.payload_len) +
                                " bytes exceeds max_message_size (" + std::to_string(max_payload) + ")");
  }
  return out;
}

Result<Headers> decode_headers(const std::byte* data, size_t len) {
  Headers h;
  if (len < 4) return InvalidArgumentError("frame headers truncated");
  uint32_t count = get_u32(data);
  size_t pos = 4;
  auto read_str = [&](std::string& out) -> bool {
    if (len - pos < 4) return false;
    uint32_t n = get_u32(data + pos);
    pos += 4;
    if (len - pos < n) return false;
    out.assign(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    return true;
  };
  for (uint32_t i = 0; i < count; ++i) {
    std::string k, v;
    if (!read_str(k) || !read_str(v)) {
      return InvalidArgumentError("frame header entry " + std::to_string(i) + " of " + std::to_string(count) +
                                  " runs past the header block");
    }
    h.set(k, std::move(v));
  }
  if (pos != len) return InvalidArgumentError("frame header block has " + std::to_string(len - pos) + " trailing bytes");
  return h;
}

Result<Frame> decode_frame(const Buffer& bytes, uint64_t max_payload) {
  if (bytes.size() < kFramePrefixSize) return InvalidArgumentError("frame shorter than its 16-byte prefix");
  std::byte prefix[kFramePrefixSize];
  bytes.copy_to(0, kFramePrefixSize, prefix);
  NVF_ASSIGN_OR_RETURN(FramePrefix pf, decode_prefix(prefix, max_payload));
  if (bytes.size() != kFramePrefixSize + pf.header_len + pf.payload_len) {
    return InvalidArgumentError("frame length " + std::to_string(bytes.size()) + " does not match its prefix (" +
                                std::to_string(kFramePrefixSize + pf.header_len + pf.payload_len) + ")");
  }
  Buffer hb = bytes.sub(kFramePrefixSize, pf.header_len);
  Slice hs = hb.flatten();
  NVF_ASSIGN_OR_RETURN(Headers headers, decode_headers(hs.data, hs.size));
  Frame f;
  f.type = pf.type;
  f.flags = pf.flags;
  f.headers = std::move(headers);
  f.payload = bytes.sub(kFramePrefixSize + pf.header_len, pf.payload_len);
  return f;
}

}  // namespace nvf::cellnet
