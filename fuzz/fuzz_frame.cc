// cellnet frames from a peer: the 16-byte prefix, the header block, a whole frame, and the
// download manifest a result message carries.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cellnet/buffer.h"
#include "cellnet/download_manifest.h"
#include "cellnet/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace cn = nvf::cellnet;
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  if (size >= cn::kFramePrefixSize) (void)cn::decode_prefix(bytes, 1u << 20);
  (void)cn::decode_headers(bytes, size);
  cn::Buffer buf;
  buf.append(cn::Slice::copy_of(std::string_view(reinterpret_cast<const char*>(data), size)));
  auto frame = cn::decode_frame(buf, 1u << 20);
  if (frame.ok()) (void)cn::encode_frame(*frame);
  (void)cn::Manifest::decode(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
