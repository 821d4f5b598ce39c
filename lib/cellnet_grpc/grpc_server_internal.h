// The server side of the gRPC driver: a listener is one grpc::Server with a generic callback
// service; each accepted "/nvflare.Cellnet/Stream" call becomes a GrpcConnection reported to the
// listener's handler. Private to cellnet_grpc.
//
// Threads: gRPC's callback threads create reactors and run their reactions; stop() may be called
// from any thread (idempotent) and waits until every accepted stream is done.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "cellnet/driver.h"
#include "cellnet_grpc/grpc_connection_internal.h"

namespace grpc {
class Server;
}

namespace nvf::cellnet_grpc {

/// The gRPC method every connection's stream calls.
inline constexpr char kStreamMethod[] = "/nvflare.Cellnet/Stream";

class StreamService;

/// A running grpc::Server; shared by the Listener handed to the caller and the driver (whose
/// stop() stops every listener).
class ListenerCore {
 public:
  /// Binds and starts. Errors: INVALID_ARGUMENT (bad URL or scheme), FAILED_PRECONDITION (TLS
  /// files), UNAVAILABLE (cannot bind).
  static Result<std::shared_ptr<ListenerCore>> start(const std::string& url, cellnet::ConnectionHandler* handler,
                                                     const cellnet::DriverOptions& options);
  ~ListenerCore();

  const std::string& url() const { return url_; }
  const std::shared_ptr<StreamRegistry>& registry() const { return registry_; }
  /// Refuses new streams, closes the accepted ones, shuts the server down and waits for them.
  void stop();

 private:
  ListenerCore() = default;

  std::string url_;
  std::shared_ptr<StreamRegistry> registry_;
  std::unique_ptr<StreamService> service_;  // outlives server_
  std::unique_ptr<grpc::Server> server_;
  std::mutex stop_mu_;  // serializes stop()
  bool stopped_ = false;  // guarded by stop_mu_
};

/// The Listener handed to callers; stopping or destroying it stops the core.
class GrpcListener final : public cellnet::Listener {
 public:
  explicit GrpcListener(std::shared_ptr<ListenerCore> core) : core_(std::move(core)) {}
  ~GrpcListener() override { core_->stop(); }
  std::string url() const override { return core_->url(); }
  void stop() override { core_->stop(); }

 private:
  std::shared_ptr<ListenerCore> core_;
};

}  // namespace nvf::cellnet_grpc
