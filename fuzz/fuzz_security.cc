// Security inputs: PEM certificates and keys (a startup kit's files, a peer's certificate) and
// FLARE's authorization policy (authorization.json).
#include <cstddef>
#include <cstdint>
#include <string>

#include "security/authorization.h"
#include "security/pki.h"
#include "security/signing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace s = nvf::security;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)s::describe_certificate(text);
  (void)s::common_name(text);
  (void)s::verify_certificate(text, text);
  (void)s::base64_decode(text);
  (void)s::AuthorizationPolicy::parse(text, "authorization.json");
  return 0;
}
