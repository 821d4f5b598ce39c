// The gRPC driver: URL schemes "grpc" (plain unless DriverOptions::tls says otherwise) and
// "grpcs" (always TLS). Each connection is one long-lived bidirectional stream of the generic
// method "/nvflare.Cellnet/Stream" on a channel of its own; one frame travels as one gRPC message
// made of the frame's slices (no copy on send; received payloads stay in gRPC's slices).
//
// TLS follows FLARE's connection_security: kTls (server certificate checked against the root CA)
// or kMtls (the server also requires a client certificate signed by the root CA). The client
// checks the server certificate against tls.target_name (FLARE's servers[0].identity); PeerInfo::
// common_name is the peer certificate's CN.
//
// The driver owns gRPC's servers and channels and a watchdog thread that closes connections whose
// write has waited longer than DriverOptions::send_timeout. Thread-safety: all methods may be
// called from any thread, except that stop() (and the destructor, which calls it) must not run on
// a handler callback. This header deliberately includes no gRPC header.
#pragma once

#include <memory>

#include "cellnet/driver.h"

namespace nvf::cellnet_grpc {

/// A new gRPC driver serving "grpc" and "grpcs" with `options`. listen()/connect() errors are
/// those of cellnet::Driver; a missing or unreadable PEM file gives FAILED_PRECONDITION naming it.
std::unique_ptr<cellnet::Driver> make_grpc_driver(cellnet::DriverOptions options);

}  // namespace nvf::cellnet_grpc
