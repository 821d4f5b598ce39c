// Private to preflight.cc: the network and process probes behind its checks (name resolution,
// binding a port, a TCP connect, one transport connection, one registration) and the kit's running
// daemon. Each returns a Status whose message is one line for the report. Stateless; any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/startup_kit.h"

namespace nvf::tools::preflight_net {

/// The numeric addresses of `host` (at most 4). Errors: NOT_FOUND with the resolver's reason.
Result<std::vector<std::string>> resolve(const std::string& host);

/// Binds (and releases) an IPv4 TCP socket on host:port, as a listener would (SO_REUSEADDR, no
/// SO_REUSEPORT). Errors: ALREADY_EXISTS when the port is in use, UNAVAILABLE otherwise.
Status try_bind(const std::string& host, int port);

/// Opens (and closes) a TCP connection. Errors: UNAVAILABLE ("connection refused", unreachable,
/// unresolved), DEADLINE_EXCEEDED.
Status tcp_connect(const std::string& host, int port, std::chrono::milliseconds timeout);

/// One connection to `url` through a driver made by `factory` with the client-side TLS settings
/// `tls`, closed at once. Errors: the driver's (UNAVAILABLE naming a refused port or a failed TLS
/// handshake, DEADLINE_EXCEEDED).
Status probe_connection(const cellnet::TlsConfig& tls, const std::string& url, const runtime::DriverFactory& factory,
                        std::chrono::milliseconds timeout);

/// A cell (its own FQCN, the factory's driver with `tls`) connects to `url` (the server, or the
/// relay `parent_cell` — the cell is then named below it), registers as `kind` ("client", "relay"
/// or "admin") with the kit's credentials, leaves again (clients and relays) and stops. Errors:
/// DEADLINE_EXCEEDED when the parent does not answer, those of runtime::register_with_server.
Status register_once(const runtime::KitCommon& kit, const std::string& kind, const cellnet::TlsConfig& tls,
                     const std::string& url, const std::string& parent_cell, const runtime::DriverFactory& factory,
                     std::chrono::milliseconds timeout);

/// The daemon of the kit in `root` when its pid.fl names a live process (not a zombie).
std::optional<pid_t> running_pid(const std::filesystem::path& root);

}  // namespace nvf::tools::preflight_net
