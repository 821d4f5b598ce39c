#include "cellnet_grpc/grpc_client_internal.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/client_callback.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <fcntl.h>
#include <mutex>
#include <thread>

#include "cellnet_grpc/grpc_credentials_internal.h"
#include "cellnet_grpc/grpc_server_internal.h"

namespace nvf::cellnet_grpc {
namespace {

using Clock = std::chrono::steady_clock;

// connect() and the reactor agree through this on whether the stream was accepted in time.
struct Handshake {
  enum class State { kPending, kStarting, kEstablished, kFailed, kAbandoned };
  std::mutex mu;
  std::condition_variable cv;         // guarded by mu
  State state = State::kPending;      // guarded by mu
  grpc::Status failure;               // guarded by mu: the call's status when kFailed
};

// One connected stream. Owned by itself: a hold keeps gRPC from finishing it until the
// connection ends our side (end()); OnDone deletes it.
class ClientStream final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>, public StreamOps {
 public:
  ClientStream(std::shared_ptr<grpc::Channel> channel, std::shared_ptr<GrpcConnection> conn,
               std::shared_ptr<StreamRegistry> registry, std::shared_ptr<Handshake> handshake, std::string target_cn)
      : channel_(std::move(channel)),
        conn_(std::move(conn)),
        registry_(std::move(registry)),
        handshake_(std::move(handshake)),
        target_cn_(std::move(target_cn)) {}

  void begin() {
    grpc::GenericStub stub(channel_);
    stub.PrepareBidiStreamingCall(&context_, kStreamMethod, grpc::StubOptions(), this);
    AddHold();
    StartCall();
  }

  // StreamOps (called with the connection's lock held, before end() released the hold)
  void start_read(grpc::ByteBuffer* message) override { StartRead(message); }
  void start_write(const grpc::ByteBuffer* message) override { StartWrite(message); }
  void end(const grpc::Status& /*status*/) override {
    if (!cancelled_) StartWritesDone();  // the server sees EOF and finishes the call
    RemoveHold();
  }
  void cancel() override {
    cancelled_ = true;
    context_.TryCancel();
  }

  // Reactions
  void OnReadInitialMetadataDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(handshake_->mu);
      ok = ok && handshake_->state == Handshake::State::kPending;
      if (ok) handshake_->state = Handshake::State::kStarting;
    }
    if (!ok) {  // refused, or connect() gave up: OnDone follows once our hold is released
      conn_->abort(UnavailableError("stream to " + conn_->describe() + " was not accepted"));
      return;
    }
    std::string cn = peer_common_name(context_.auth_context());
    conn_->set_common_name(cn.empty() ? target_cn_ : cn);
    conn_->start();
    {
      std::lock_guard<std::mutex> lock(handshake_->mu);
      handshake_->state = Handshake::State::kEstablished;
    }
    handshake_->cv.notify_all();
  }
  void OnReadDone(bool ok) override { conn_->on_read_done(ok); }
  void OnWriteDone(bool ok) override { conn_->on_write_done(ok); }
  void OnDone(const grpc::Status& status) override {
    {
      std::lock_guard<std::mutex> lock(handshake_->mu);
      if (handshake_->state == Handshake::State::kPending) {
        handshake_->state = Handshake::State::kFailed;
        handshake_->failure = status;
      }
    }
    handshake_->cv.notify_all();
    conn_->on_stream_done(status);
    registry_->retire(channel_);  // released by the driver's own thread, never here
    registry_->remove(conn_.get());
    delete this;
  }

 private:
  const std::shared_ptr<grpc::Channel> channel_;  // outlives context_ (declared first)
  grpc::ClientContext context_;
  const std::shared_ptr<GrpcConnection> conn_;
  const std::shared_ptr<StreamRegistry> registry_;
  const std::shared_ptr<Handshake> handshake_;
  const std::string target_cn_;  // the peer CN when the auth context has none
  bool cancelled_ = false;       // guarded by the connection's lock (StreamOps calls only)
};

// Whether a TCP connection to host:port opens within `timeout`: tells a TLS handshake failure
// (TCP fine) from a refused or unreachable server when the channel reports TRANSIENT_FAILURE.
bool tcp_reachable(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return false;
  bool ok = false;
  for (addrinfo* ai = res; ai && !ok; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      if (poll(&pfd, 1, static_cast<int>(timeout.count())) == 1) {
        int err = 0;
        socklen_t len = sizeof(err);
        ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
      }
    }
    ::close(fd);
  }
  freeaddrinfo(res);
  return ok;
}

// Waits until the channel's transport is up. gRPC retries a failed connection with backoff until
// the deadline, and keeps reporting TRANSIENT_FAILURE meanwhile, so we decide at the first failure:
// nothing listening is kRefused (the caller's connector retries on its own schedule); a port that
// accepts TCP is kFailedAfterTcp, which may be transient (a busy listener under many simultaneous
// connects) and is retried on a fresh channel by the caller.
enum class TransportWait { kReady, kRefused, kFailedAfterTcp, kTimedOut };

TransportWait wait_for_transport(grpc::Channel& channel, const cellnet::Url& url, Clock::time_point deadline) {
  auto state = channel.GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return tcp_reachable(url.host, url.port, std::chrono::milliseconds(500)) ? TransportWait::kFailedAfterTcp
                                                                                : TransportWait::kRefused;
    }
    auto system_deadline = std::chrono::system_clock::now() + (deadline - Clock::now());
    if (!channel.WaitForStateChange(state, system_deadline)) return TransportWait::kTimedOut;
    state = channel.GetState(/*try_to_connect=*/true);
  }
  return TransportWait::kReady;
}

}  // namespace

Result<std::shared_ptr<cellnet::Connection>> connect_stream(const std::string& url, cellnet::ConnectionHandler* handler,
                                                            std::chrono::milliseconds timeout,
                                                            const cellnet::DriverOptions& options,
                                                            const std::shared_ptr<StreamRegistry>& registry) {
  const auto deadline = Clock::now() + timeout;
  NVF_ASSIGN_OR_RETURN(cellnet::Url parsed, cellnet::parse_url(url));
  if (parsed.scheme != "grpc" && parsed.scheme != "grpcs") {
    return InvalidArgumentError("the gRPC driver cannot connect to '" + url + "': scheme must be grpc or grpcs");
  }
  auto mode = effective_tls_mode(parsed.scheme, options.tls);
  bool tls = mode != cellnet::TlsConfig::Mode::kClear;
  NVF_ASSIGN_OR_RETURN(auto creds, make_channel_credentials(mode, options.tls));
  cellnet::Url target_url = parsed;
  target_url.path.clear();
  std::string target = target_url.to_string().substr(target_url.scheme.size() + 3);  // host:port
  std::string target_name = options.tls.target_name.empty() ? parsed.host : options.tls.target_name;
  // A transport that fails although the port accepts TCP gets a few fresh channels before we call it
  // a mismatch (TLS vs plain, wrong CA or name): under load a listener can drop a handshake.
  constexpr int kAttempts = 3;
  std::shared_ptr<grpc::Channel> channel;
  for (int attempt = 1;; ++attempt) {
    channel = grpc::CreateCustomChannel(target, creds, make_channel_arguments(options, tls));
    auto outcome = wait_for_transport(*channel, parsed, deadline);
    if (outcome == TransportWait::kReady) break;
    if (outcome == TransportWait::kRefused) {
      return UnavailableError("cannot connect to " + parsed.to_string() + ": connection refused or host unreachable");
    }
    if (outcome == TransportWait::kTimedOut) {
      return DeadlineExceededError("cannot connect to " + parsed.to_string() + ": no connection within the timeout");
    }
    if (attempt >= kAttempts || Clock::now() + std::chrono::milliseconds(100) >= deadline) {
      if (tls) {
        return UnavailableError("cannot connect to " + parsed.to_string() + ": TLS handshake failed (target name '" +
                                target_name + "'): check that the root CA signed the server certificate, that the "
                                "certificates are valid now, and that the server certificate names the target");
      }
      return UnavailableError("cannot connect to " + parsed.to_string() +
                              ": the port accepts TCP but no gRPC transport could be set up (" +
                              std::to_string(attempt) + " attempts): is a TLS (grpcs) server listening there?");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));  // backoff between fresh channels
  }

  cellnet::PeerInfo peer{parsed.to_string(), target, ""};
  auto conn = std::make_shared<GrpcConnection>(std::move(peer), handler, options);
  if (!registry->add(conn)) return UnavailableError("cannot connect to " + url + ": the driver is stopped");
  auto handshake = std::make_shared<Handshake>();
  auto* stream = new ClientStream(channel, conn, registry, handshake, tls ? target_name : "");
  conn->attach(stream);
  stream->begin();

  std::unique_lock<std::mutex> lock(handshake->mu);
  using State = Handshake::State;
  bool settled = handshake->cv.wait_until(lock, deadline, [&] {
    return handshake->state == State::kEstablished || handshake->state == State::kFailed;
  });
  if (!settled && handshake->state == State::kPending) {
    handshake->state = State::kAbandoned;
    lock.unlock();
    conn->abort(DeadlineExceededError("connect to " + url + " timed out"));
    return DeadlineExceededError("cannot connect to " + url + ": the server did not accept the stream within " +
                                 std::to_string(timeout.count()) + " ms");
  }
  // kStarting only runs on_connected; it always ends in kEstablished.
  handshake->cv.wait(lock, [&] { return handshake->state == State::kEstablished || handshake->state == State::kFailed; });
  if (handshake->state == State::kFailed) {
    std::string why = handshake->failure.error_message().empty() ? "stream refused" : handshake->failure.error_message();
    return UnavailableError("cannot open a stream to " + url + ": " + why +
                            (tls ? " (TLS: the server may have rejected our certificate)" : ""));
  }
  return std::shared_ptr<cellnet::Connection>(conn);
}

}  // namespace nvf::cellnet_grpc
