// stcp: cellnet's TCP driver (frames back to back, read in place) inside TLS 1.3 sessions made
// with OpenSSL. FLARE's `tcp` scheme with connection_security tls/mtls; the gRPC driver's
// alternative where a byte's CPU cost matters (docs/decisions/025-tls-sockets-for-large-models.md).
//
// Certificates and modes as the gRPC driver (DriverOptions::tls, listen_tls for listeners):
//   - mtls: both sides show a certificate signed by root_ca_path and check the other's;
//   - tls (and clear, which stcp promotes to tls like grpcs): the server shows its certificate,
//     the client checks it and shows none.
// The client checks the server certificate's name against TlsConfig::target_name (else the URL's
// host): a DNS name against the SAN's DNS entries, an IP address against its IP entries. The peer
// certificate's CN is reported as PeerInfo::common_name on both sides. connect() returns once the
// server has accepted the client certificate (the server's first session ticket confirms it), so a
// refused certificate fails connect() with the server's alert ("certificate expired"). Ciphers:
// TLS 1.3 only, AES-128-GCM preferred (it runs 1.2x faster than AES-256-GCM here), then
// AES-256-GCM and ChaCha20-Poly1305.
//
// Threads: as SocketDriver (socket_driver.h). OpenSSL's objects stay inside this module.
#pragma once

#include <memory>

#include "cellnet/driver.h"
#include "cellnet/socket_security.h"

namespace nvf::cellnet_tls {

/// The OpenSSL side of stcp for `options` (its TLS files are read by prepare()).
std::shared_ptr<cellnet::SocketSecurity> make_tls_security(const cellnet::DriverOptions& options);

/// A driver serving "stcp". listen()/connect() errors: FAILED_PRECONDITION for a missing or bad
/// certificate, key or CA file (naming it and its field), UNAVAILABLE for a failed handshake
/// (with OpenSSL's reason), else as SocketDriver's.
std::unique_ptr<cellnet::Driver> make_stcp_driver(cellnet::DriverOptions options);

}  // namespace nvf::cellnet_tls
