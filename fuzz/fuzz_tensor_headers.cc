// Tensor files from outside: a safetensors header (JSON + data size) and a whole .npy file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/npy.h"
#include "tensor/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace t = nvf::tensor;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)t::parse_safetensors_header(text, 1 << 16, "fuzz.safetensors");
  auto npy = t::parse_npy(reinterpret_cast<const std::byte*>(data), size, nullptr, "fuzz.npy");
  if (npy.ok()) (void)npy->to_doubles();
  return 0;
}
