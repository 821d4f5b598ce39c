#include "security/openssl_process.h"

#include <openssl/crypto.h>

namespace nvf::security {

bool init_openssl_for_process() {
  // Whether the exit handler is registered is settled once, by the first initialization that asks
  // for more than the base: libssl's (gRPC's first TLS credentials run it) goes through this one
  // and finds it settled.
  return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1;
}

}  // namespace nvf::security
