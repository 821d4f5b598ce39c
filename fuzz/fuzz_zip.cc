// A job zip from an admin or the server: listing and extraction (into a scratch folder, small
// limits), from memory and streamed.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "job/archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)nvf::job::list_zip_from_memory(bytes);
  static const fs::path scratch = fs::temp_directory_path() / ("nvf-fuzz-zip-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(scratch, ec);
  nvf::job::ExtractLimits limits;
  limits.max_entry_bytes = 1 << 20;
  limits.max_total_bytes = 4 << 20;
  limits.max_entries = 200;
  (void)nvf::job::unpack_zip_from_memory(bytes, scratch / "out", limits);
  fs::remove_all(scratch, ec);
  // As a client parent extracts a pulled zip: read front to back, in pieces of 1 to 256 bytes
  // (the input's first byte says how many).
  const size_t piece = size > 0 ? size_t{data[0]} + 1 : 1;
  size_t at = 0;
  (void)nvf::job::unpack_zip_stream(
      [&]() -> nvf::Result<std::string_view> {
        const std::string_view next = bytes.substr(at, piece);
        at += next.size();
        return next;
      },
      scratch / "out", limits);
  fs::remove_all(scratch, ec);
  return 0;
}
