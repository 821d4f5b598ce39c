// OpenSSL's process-wide setup: what every executable that can touch OpenSSL (itself, through
// gRPC's TLS, or through libarchive) calls first in main().
//
// OpenSSL 3 registers an exit handler (OPENSSL_cleanup) at its first initialization; it frees the
// library's global state while other threads may still be inside OpenSSL. gRPC's threads are
// never joined (cellnet_grpc keeps gRPC alive for the process's life), so a short command such as
// `nvflare job submit` died now and then with SIGSEGV after its work was done, its buffered output
// lost (decision 026). Initializing OpenSSL without that handler first leaves its state to the
// kernel at exit.
#pragma once

namespace nvf::security {

/// Initializes OpenSSL without its exit-time cleanup. Call it first thing in main(), before any
/// thread starts and before any library touches OpenSSL: only OpenSSL's first initialization
/// decides. Idempotent and thread-safe. Returns false when OpenSSL could not be initialized
/// (each OpenSSL user then reports its own error).
bool init_openssl_for_process();

}  // namespace nvf::security
