// TLS credentials and channel/server arguments for the gRPC driver: which schemes use TLS, how
// PEM files become gRPC credentials (server cert + optional required client cert; client root CA +
// optional client cert), and the message-size, keepalive and flow-control arguments both ends
// use. Private to cellnet_grpc. Stateless functions, safe from any thread.
#pragma once

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "cellnet/driver.h"

namespace nvf::cellnet_grpc {

/// The TLS mode a URL scheme gets: "grpcs" is always TLS (kClear is promoted to kTls); "grpc"
/// uses `tls.mode` as configured.
cellnet::TlsConfig::Mode effective_tls_mode(const std::string& scheme, const cellnet::TlsConfig& tls);

/// Server credentials: insecure for kClear; else the server cert/key, and for kMtls a client
/// certificate that must verify against the root CA.
/// Errors: FAILED_PRECONDITION naming a missing, unreadable or empty PEM file (and its field).
Result<std::shared_ptr<grpc::ServerCredentials>> make_server_credentials(cellnet::TlsConfig::Mode mode,
                                                                         const cellnet::TlsConfig& tls);

/// Channel credentials: insecure for kClear; else verify the server with the root CA, and for
/// kMtls present the client cert/key. Errors: FAILED_PRECONDITION as above.
Result<std::shared_ptr<grpc::ChannelCredentials>> make_channel_credentials(cellnet::TlsConfig::Mode mode,
                                                                           const cellnet::TlsConfig& tls);

/// Message size, keepalive and flow-control arguments for a client channel; with TLS, the target
/// name override (`tls.target_name`) when set.
grpc::ChannelArguments make_channel_arguments(const cellnet::DriverOptions& options, bool tls);

/// The same limits for a server.
void apply_server_arguments(const cellnet::DriverOptions& options, grpc::ServerBuilder* builder);

/// The peer certificate's common name from a TLS auth context, or "" (plain, or no client cert).
std::string peer_common_name(const std::shared_ptr<const grpc::AuthContext>& auth);

}  // namespace nvf::cellnet_grpc
