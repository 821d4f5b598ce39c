#include "cellnet_grpc/grpc_credentials_internal.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security_constants.h>

#include <algorithm>
#include <climits>

#include "base/files.h"

namespace nvf::cellnet_grpc {
namespace {

using cellnet::TlsConfig;

// Keepalive: a client pings an idle connection every 30 s and gives up after 20 s without an
// answer; servers accept pings that often (their default would answer with GOAWAY "too_many_pings").
constexpr int kKeepaliveTimeMs = 30000;
constexpr int kKeepaliveTimeoutMs = 20000;
constexpr int kServerMinPingIntervalMs = 10000;

int message_limit(const cellnet::DriverOptions& options) {
  uint64_t limit = options.max_payload + cellnet::kMaxHeaderBytes + cellnet::kFramePrefixSize;
  return static_cast<int>(std::min<uint64_t>(limit, INT_MAX));
}

}  // namespace

TlsConfig::Mode effective_tls_mode(const std::string& scheme, const TlsConfig& tls) {
  if (scheme == "grpcs" && tls.mode == TlsConfig::Mode::kClear) return TlsConfig::Mode::kTls;
  return tls.mode;
}

Result<std::shared_ptr<grpc::ServerCredentials>> make_server_credentials(TlsConfig::Mode mode,
                                                                         const TlsConfig& tls) {
  if (mode == TlsConfig::Mode::kClear) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions opts(
      mode == TlsConfig::Mode::kMtls ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                     : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  NVF_ASSIGN_OR_RETURN(pair.cert_chain, cellnet::read_tls_pem(tls.cert_path, "cert_path"));
  NVF_ASSIGN_OR_RETURN(pair.private_key, cellnet::read_tls_pem(tls.key_path, "key_path"));
  opts.pem_key_cert_pairs.push_back(std::move(pair));
  if (mode == TlsConfig::Mode::kMtls || !tls.root_ca_path.empty()) {
    NVF_ASSIGN_OR_RETURN(opts.pem_root_certs, cellnet::read_tls_pem(tls.root_ca_path, "root_ca_path"));
  }
  return grpc::SslServerCredentials(opts);
}

Result<std::shared_ptr<grpc::ChannelCredentials>> make_channel_credentials(TlsConfig::Mode mode,
                                                                           const TlsConfig& tls) {
  if (mode == TlsConfig::Mode::kClear) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions opts;
  NVF_ASSIGN_OR_RETURN(opts.pem_root_certs, cellnet::read_tls_pem(tls.root_ca_path, "root_ca_path"));
  if (mode == TlsConfig::Mode::kMtls) {
    NVF_ASSIGN_OR_RETURN(opts.pem_cert_chain, cellnet::read_tls_pem(tls.cert_path, "cert_path"));
    NVF_ASSIGN_OR_RETURN(opts.pem_private_key, cellnet::read_tls_pem(tls.key_path, "key_path"));
  }
  return grpc::SslCredentials(opts);
}

grpc::ChannelArguments make_channel_arguments(const cellnet::DriverOptions& options, bool tls) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(message_limit(options));
  args.SetMaxReceiveMessageSize(message_limit(options));
  // Each connection gets its own TCP connection: a stalled peer stream must not share HTTP/2
  // connection-level flow control with another connection's traffic.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 1);
  if (tls && !options.tls.target_name.empty()) args.SetSslTargetNameOverride(options.tls.target_name);
  return args;
}

void apply_server_arguments(const cellnet::DriverOptions& options, grpc::ServerBuilder* builder) {
  builder->SetMaxSendMessageSize(message_limit(options));
  builder->SetMaxReceiveMessageSize(message_limit(options));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, kServerMinPingIntervalMs);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 1);
  // One port, one server: gRPC sets SO_REUSEPORT by default, so a second server on a taken port
  // bound too and the kernel split the connections between two federations.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

std::string peer_common_name(const std::shared_ptr<const grpc::AuthContext>& auth) {
  if (!auth) return "";
  auto values = auth->FindPropertyValues("x509_common_name");
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

}  // namespace nvf::cellnet_grpc
