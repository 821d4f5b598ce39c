#include "cellnet_grpc/grpc_server_internal.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <chrono>

#include "cellnet_grpc/grpc_credentials_internal.h"

namespace nvf::cellnet_grpc {
namespace {

// How long a stopping listener lets streams finish before gRPC cancels them. Our streams are
// already ended or aborted by then, so this only bounds a misbehaving peer.
constexpr std::chrono::milliseconds kShutdownGrace{500};

// "ipv4:127.0.0.1:5000" -> "127.0.0.1:5000".
std::string strip_family(const std::string& peer) {
  for (const char* prefix : {"ipv4:", "ipv6:"}) {
    if (peer.rfind(prefix, 0) == 0) return peer.substr(5);
  }
  return peer;
}

// Answers a call we do not serve (another method, or a listener that is stopping).
class RefusedStream final : public grpc::ServerGenericBidiReactor {
 public:
  explicit RefusedStream(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// One accepted stream. Owned by gRPC until OnDone, where it deletes itself.
class ServerStream final : public grpc::ServerGenericBidiReactor, public StreamOps {
 public:
  ServerStream(grpc::GenericCallbackServerContext* ctx, std::shared_ptr<GrpcConnection> conn,
               std::shared_ptr<StreamRegistry> registry)
      : ctx_(ctx), conn_(std::move(conn)), registry_(std::move(registry)) {}

  // StreamOps (called with the connection's lock held, while this reactor is alive)
  void start_read(grpc::ByteBuffer* message) override { StartRead(message); }
  void start_write(const grpc::ByteBuffer* message) override { StartWrite(message); }
  void end(const grpc::Status& status) override { Finish(status); }
  void cancel() override { ctx_->TryCancel(); }

  // Reactions
  void OnReadDone(bool ok) override { conn_->on_read_done(ok); }
  void OnWriteDone(bool ok) override { conn_->on_write_done(ok); }
  void OnCancel() override {
    conn_->abort(UnavailableError("connection from " + conn_->describe() + " was cancelled (peer gone or shutdown)"));
  }
  void OnDone() override {
    conn_->on_stream_done(std::nullopt);
    registry_->remove(conn_.get());
    delete this;
  }

 private:
  grpc::GenericCallbackServerContext* const ctx_;  // owned by gRPC; valid until OnDone returns
  const std::shared_ptr<GrpcConnection> conn_;
  const std::shared_ptr<StreamRegistry> registry_;
};

}  // namespace

class StreamService final : public grpc::CallbackGenericService {
 public:
  StreamService(std::string url, cellnet::ConnectionHandler* handler, cellnet::DriverOptions options,
                std::shared_ptr<StreamRegistry> registry)
      : url_(std::move(url)), handler_(handler), options_(std::move(options)), registry_(std::move(registry)) {}

  void set_url(std::string url) {
    std::lock_guard<std::mutex> lock(mu_);
    url_ = std::move(url);
  }

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    if (ctx->method() != kStreamMethod) {
      return new RefusedStream(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                            "method " + ctx->method() + " is not served; nvflare uses " + kStreamMethod));
    }
    std::string url;
    {
      std::lock_guard<std::mutex> lock(mu_);
      url = url_;
    }
    cellnet::PeerInfo peer{url, strip_family(ctx->peer()), peer_common_name(ctx->auth_context())};
    auto conn = std::make_shared<GrpcConnection>(std::move(peer), handler_, options_);
    if (!registry_->add(conn)) {
      return new RefusedStream(grpc::Status(grpc::StatusCode::UNAVAILABLE, "listener " + url + " is stopping"));
    }
    auto* stream = new ServerStream(ctx, conn, registry_);
    conn->attach(stream);
    // Tells the client the stream is accepted: its connect() returns on this.
    stream->StartSendInitialMetadata();
    conn->start();
    return stream;
  }

 private:
  std::mutex mu_;
  std::string url_;  // guarded by mu_: the port is known only after the server starts
  cellnet::ConnectionHandler* const handler_;
  const cellnet::DriverOptions options_;
  const std::shared_ptr<StreamRegistry> registry_;
};

Result<std::shared_ptr<ListenerCore>> ListenerCore::start(const std::string& url, cellnet::ConnectionHandler* handler,
                                                          const cellnet::DriverOptions& options) {
  NVF_ASSIGN_OR_RETURN(cellnet::Url parsed, cellnet::parse_url(url));
  if (parsed.scheme != "grpc" && parsed.scheme != "grpcs") {
    return InvalidArgumentError("the gRPC driver cannot listen on '" + url + "': scheme must be grpc or grpcs");
  }
  const cellnet::TlsConfig& tls = options.listen_tls ? *options.listen_tls : options.tls;
  auto mode = effective_tls_mode(parsed.scheme, tls);
  NVF_ASSIGN_OR_RETURN(auto creds, make_server_credentials(mode, tls));

  std::shared_ptr<ListenerCore> core(new ListenerCore());
  core->registry_ = std::make_shared<StreamRegistry>();
  core->service_ = std::make_unique<StreamService>(url, handler, options, core->registry_);

  grpc::ServerBuilder builder;
  int port = 0;
  cellnet::Url bind = parsed;
  bind.path.clear();
  std::string address = bind.to_string().substr(bind.scheme.size() + 3);  // host:port
  builder.AddListeningPort(address, creds, &port);
  apply_server_arguments(options, &builder);
  builder.RegisterCallbackGenericService(core->service_.get());
  core->server_ = builder.BuildAndStart();
  if (!core->server_ || port == 0) {
    core->server_.reset();
    return UnavailableError("cannot listen on " + url + ": the address is in use or not local");
  }
  bind.port = port;
  core->url_ = bind.to_string();
  core->service_->set_url(core->url_);
  return core;
}

ListenerCore::~ListenerCore() { stop(); }

void ListenerCore::stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopped_ || !server_) return;
  stopped_ = true;
  registry_->close_all(UnavailableError("listener " + url_ + " stopped"));
  server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  registry_->wait_empty();
}

}  // namespace nvf::cellnet_grpc
