// The client side of the gRPC driver: connect() opens a channel of its own (own TCP connection)
// and one generic bidi call on it, and returns once the server has accepted the stream. Private to
// cellnet_grpc.
//
// Threads: connect_stream() blocks the calling thread up to its timeout; the stream's reactions
// run on gRPC's callback threads.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cellnet/driver.h"
#include "cellnet_grpc/grpc_connection_internal.h"

namespace nvf::cellnet_grpc {

/// Connects to `url` (grpc:// or grpcs://) and registers the stream in `registry`. on_connected
/// runs (on a gRPC thread) before this returns.
/// Errors: INVALID_ARGUMENT (bad URL or scheme), FAILED_PRECONDITION (TLS files), UNAVAILABLE
/// (refused, unreachable, "TLS handshake failed", stream refused, driver stopped),
/// DEADLINE_EXCEEDED (no answer within `timeout`).
Result<std::shared_ptr<cellnet::Connection>> connect_stream(const std::string& url, cellnet::ConnectionHandler* handler,
                                                            std::chrono::milliseconds timeout,
                                                            const cellnet::DriverOptions& options,
                                                            const std::shared_ptr<StreamRegistry>& registry);

}  // namespace nvf::cellnet_grpc
