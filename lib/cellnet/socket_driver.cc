#include "cellnet/socket_driver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "cellnet/socket_connection_internal.h"

namespace nvf::cellnet {
namespace {

constexpr int kSocketBufferBytes = 4 << 20;
// How long an accepted stcp peer has to finish its TLS handshake.
constexpr std::chrono::milliseconds kHandshakeTimeout{10000};

std::string errno_text(int err) { return std::strerror(err); }

void set_buffers(int fd) {
  int size = kSocketBufferBytes;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));  // best effort: capped by the OS
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void set_blocking(int fd, bool blocking) {
  int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK));
}

std::string sockaddr_text(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "unknown address";
}

// The remote end of an accepted socket, for messages: "127.0.0.1:54321" or "pid 123 on /x.sock".
std::string describe_accepted(int fd, SocketDriver::Kind kind, const std::string& path) {
  if (kind == SocketDriver::Kind::kUds) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      return "pid " + std::to_string(cred.pid) + " on " + path;
    }
    return "a peer on " + path;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown tcp peer";
  return sockaddr_text(reinterpret_cast<sockaddr*>(&ss));
}

Result<sockaddr_un> unix_address(const std::string& url, const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path[0] != '/') {
    return InvalidArgumentError("bad URL '" + url +
                                "': the socket path must be absolute (uds:///dir/name.sock)");
  }
  if (path.size() >= sizeof(sa.sun_path)) {
    return InvalidArgumentError(
        "socket path '" + path + "' is " + std::to_string(path.size()) +
        " bytes; a Unix socket path must be shorter than " + std::to_string(sizeof(sa.sun_path)) +
        " bytes (sun_path): use a shorter directory such as one under /tmp");
  }
  std::memcpy(sa.sun_path, path.data(), path.size());
  return sa;
}

// Waits for a non-blocking connect; returns the socket error (0 when connected) or ETIMEDOUT.
int finish_connect(int fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return ETIMEDOUT;
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err;
  }
}

// Connects a fresh socket to `sa`; returns the connected (blocking) fd or an errno.
int connect_one(const sockaddr* sa, socklen_t len, bool tcp,
                std::chrono::steady_clock::time_point deadline, int* fd_out) {
  int fd = ::socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return errno;
  set_buffers(fd);
  if (tcp) set_nodelay(fd);
  int err = 0;
  if (::connect(fd, sa, len) != 0) {
    err = errno;
    if (err == EINPROGRESS || err == EINTR) err = finish_connect(fd, deadline);
  }
  if (err != 0) {
    ::close(fd);
    return err;
  }
  set_blocking(fd, true);
  *fd_out = fd;
  return 0;
}

std::string connect_error_text(int err) {
  switch (err) {
    case ECONNREFUSED:
      return "connection refused (nothing listens there)";
    case ENOENT:
      return "no socket file there (nothing listens there)";
    case EAGAIN:
      return "the listener's backlog is full";
    default:
      return errno_text(err);
  }
}

}  // namespace

class SocketListener;

// State shared by the driver object, its listeners and the accept threads.
struct SocketDriver::Core {
  Kind kind;
  DriverOptions options;
  std::shared_ptr<SocketSecurity> security;  // set: stcp
  std::mutex mu;
  bool stopped = false;                                  // guarded by mu
  std::vector<std::weak_ptr<SocketListener>> listeners;  // guarded by mu
  std::vector<std::weak_ptr<SocketConnection>> conns;    // guarded by mu
  ThreadGroup threads;

  std::string scheme() const {
    if (kind == Kind::kUds) return "uds";
    return security ? "stcp" : "tcp";
  }

  // Registers and starts a connection; false (and the connection closed) when stopped.
  bool adopt(const std::shared_ptr<SocketConnection>& conn) {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped) return false;
    std::erase_if(conns, [](const auto& w) { return w.expired(); });
    conns.push_back(conn);
    conn->start(threads);
    return true;
  }
};

// A listening socket and its accept thread. Shared between the Listener handed to the caller and
// the driver (which stops it on Driver::stop()).
class SocketListener : public std::enable_shared_from_this<SocketListener> {
 public:
  SocketListener(std::shared_ptr<SocketDriver::Core> core, int fd, std::string url,
                 std::string path, ConnectionHandler* handler)
      : core_(std::move(core)),
        fd_(fd),
        url_(std::move(url)),
        path_(std::move(path)),
        handler_(handler) {}
  ~SocketListener() { stop(); }

  Status start() {
    if (!path_.empty()) {
      struct stat st {};
      if (::lstat(path_.c_str(), &st) == 0) {
        dev_ = st.st_dev;
        ino_ = st.st_ino;
      }
    }
    if (::pipe2(wake_, O_CLOEXEC) != 0)
      return UnavailableError("cannot create a pipe: " + errno_text(errno));
    accept_thread_ = std::thread([this] { accept_loop(); });
    return Status::OK();
  }

  const std::string& url() const { return url_; }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    if (accept_thread_.joinable()) {
      char b = 1;
      while (::write(wake_[1], &b, 1) < 0 && errno == EINTR) {
      }
      accept_thread_.join();
    }
    ::close(fd_);
    for (int w : wake_) {
      if (w >= 0) ::close(w);
    }
    if (!path_.empty()) {
      struct stat st {};  // remove the socket file only if it is still ours
      if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
        ::unlink(path_.c_str());
    }
    std::vector<std::weak_ptr<SocketConnection>> accepted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      accepted.swap(accepted_);
    }
    for (auto& w : accepted) {
      if (auto c = w.lock()) c->close(UnavailableError("listener " + url_ + " stopped"));
    }
  }

 private:
  void accept_loop() {
    for (;;) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      int r = ::poll(fds, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 || fds[1].revents) return;
      int cfd =
          ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);  // blocking: accept4 does not inherit
      if (cfd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          pollfd w{wake_[0], POLLIN, 0};
          ::poll(&w, 1, 100);  // out of descriptors: back off instead of spinning
        }
        continue;
      }
      set_buffers(cfd);
      if (core_->kind == SocketDriver::Kind::kTcp) set_nodelay(cfd);
      PeerInfo peer{url_, describe_accepted(cfd, core_->kind, path_), ""};
      if (core_->security) set_blocking(cfd, false);  // the reader does the handshake
      auto conn = std::make_shared<SocketConnection>(cfd, std::move(peer), handler_,
                                                     core_->options, nullptr, core_->security,
                                                     kHandshakeTimeout);
      {
        std::lock_guard<std::mutex> lock(mu_);
        std::erase_if(accepted_, [](const auto& w) { return w.expired(); });
        accepted_.push_back(conn);
      }
      if (!core_->adopt(conn)) conn->close(UnavailableError("the driver stopped"));
    }
  }

  const std::shared_ptr<SocketDriver::Core> core_;
  const int fd_;
  const std::string url_;
  const std::string path_;  // uds only
  ConnectionHandler* const handler_;
  int wake_[2] = {-1, -1};
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  bool stopped_ = false;                                   // guarded by mu_
  std::vector<std::weak_ptr<SocketConnection>> accepted_;  // guarded by mu_
};

namespace {

class ListenerHandle : public Listener {
 public:
  explicit ListenerHandle(std::shared_ptr<SocketListener> l) : l_(std::move(l)) {}
  ~ListenerHandle() override { l_->stop(); }
  std::string url() const override { return l_->url(); }
  void stop() override { l_->stop(); }

 private:
  std::shared_ptr<SocketListener> l_;
};

// Binds a Unix socket at `path`, replacing a stale socket file nobody listens on.
Result<int> bind_unix(const std::string& url, const std::string& path) {
  NVF_ASSIGN_OR_RETURN(sockaddr_un sa, unix_address(url, path));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return UnavailableError("cannot listen on " + url + ": '" + path +
                              "' exists and is not a socket");
    }
    int probe = -1;
    int err = connect_one(reinterpret_cast<sockaddr*>(&sa), sizeof(sa), false,
                          std::chrono::steady_clock::now() + std::chrono::seconds(1), &probe);
    if (err == 0) {
      ::close(probe);
      return UnavailableError("cannot listen on " + url +
                              ": another process already listens there");
    }
    if (err == ECONNREFUSED) ::unlink(path.c_str());  // stale: its listener is gone
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return UnavailableError("cannot create a socket for " + url + ": " + errno_text(errno));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int err = errno;
    ::close(fd);
    return UnavailableError("cannot listen on " + url + ": " + errno_text(err));
  }
  ::chmod(path.c_str(), 0600);
  return fd;
}

// Binds a TCP socket; returns the fd and the port actually bound.
Result<std::pair<int, int>> bind_tcp(const std::string& url, const Url& u) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res);
  if (rc != 0) return UnavailableError("cannot listen on " + url + ": " + ::gai_strerror(rc));
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    set_buffers(fd);  // inherited by accepted sockets, before the window is negotiated
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      last = errno_text(errno);
      ::close(fd);
      continue;
    }
    ::freeaddrinfo(res);
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    int port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return std::make_pair(fd, port);
  }
  ::freeaddrinfo(res);
  return UnavailableError("cannot listen on " + url + ": " + last);
}

}  // namespace

SocketDriver::SocketDriver(Kind kind, DriverOptions options,
                           std::shared_ptr<SocketSecurity> security)
    : core_(std::make_shared<Core>()) {
  core_->kind = kind;
  core_->options = std::move(options);
  core_->security = std::move(security);
}

SocketDriver::~SocketDriver() { stop(); }

std::vector<std::string> SocketDriver::schemes() const { return {core_->scheme()}; }

Result<std::unique_ptr<Listener>> SocketDriver::listen(const std::string& url,
                                                       ConnectionHandler* handler) {
  NVF_ASSIGN_OR_RETURN(Url u, parse_url(url));
  if (u.scheme != core_->scheme()) {
    return InvalidArgumentError("the " + core_->scheme() + " driver cannot serve '" + url + "'");
  }
  if (core_->security) {
    Status ready = core_->security->prepare(true);
    if (!ready.ok()) return Status(ready.code(), "cannot listen on " + url + ": " + ready.message());
  } else if (core_->options.tls.mode != TlsConfig::Mode::kClear) {
    return FailedPreconditionError("cannot listen on " + url + ": the " + core_->scheme() +
                                   " driver is plain only; use stcp or grpcs for TLS");
  }
  int fd = -1;
  std::string real_url;
  std::string path;
  if (core_->kind == Kind::kUds) {
    NVF_ASSIGN_OR_RETURN(fd, bind_unix(url, u.path));
    path = u.path;
    real_url = "uds://" + path;
  } else {
    NVF_ASSIGN_OR_RETURN(auto bound, bind_tcp(url, u));
    fd = bound.first;
    u.port = bound.second;
    real_url = u.to_string();
  }
  if (::listen(fd, SOMAXCONN) != 0) {
    int err = errno;
    ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
    return UnavailableError("cannot listen on " + url + ": " + errno_text(err));
  }
  auto listener = std::make_shared<SocketListener>(core_, fd, real_url, path, handler);
  std::lock_guard<std::mutex> lock(core_->mu);
  if (core_->stopped)
    return UnavailableError("cannot listen on " + url + ": the driver was stopped");
  NVF_RETURN_IF_ERROR(listener->start());
  std::erase_if(core_->listeners, [](const auto& w) { return w.expired(); });
  core_->listeners.push_back(listener);
  return std::unique_ptr<Listener>(std::make_unique<ListenerHandle>(listener));
}

Result<std::shared_ptr<Connection>> SocketDriver::connect(const std::string& url,
                                                          ConnectionHandler* handler,
                                                          std::chrono::milliseconds timeout) {
  NVF_ASSIGN_OR_RETURN(Url u, parse_url(url));
  if (u.scheme != core_->scheme()) {
    return InvalidArgumentError("the " + core_->scheme() + " driver cannot serve '" + url + "'");
  }
  if (core_->security) {
    Status ready = core_->security->prepare(false);
    if (!ready.ok()) return Status(ready.code(), "cannot connect to " + url + ": " + ready.message());
  } else if (core_->options.tls.mode != TlsConfig::Mode::kClear) {
    return FailedPreconditionError("cannot connect to " + url + ": the " + core_->scheme() +
                                   " driver is plain only; use stcp or grpcs for TLS");
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int fd = -1;
  int err = 0;
  std::string address;
  if (core_->kind == Kind::kUds) {
    NVF_ASSIGN_OR_RETURN(sockaddr_un sa, unix_address(url, u.path));
    err = connect_one(reinterpret_cast<sockaddr*>(&sa), sizeof(sa), false, deadline, &fd);
    address = u.path;
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res);
    if (rc != 0) return UnavailableError("cannot connect to " + url + ": " + ::gai_strerror(rc));
    err = ENOENT;
    for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
      err = connect_one(ai->ai_addr, ai->ai_addrlen, true, deadline, &fd);
      if (err == 0) address = sockaddr_text(ai->ai_addr);
      if (err == ETIMEDOUT) break;
    }
    ::freeaddrinfo(res);
  }
  if (err == ETIMEDOUT) {
    return DeadlineExceededError("cannot connect to " + url + ": no answer within " +
                                 std::to_string(timeout.count()) + " ms");
  }
  if (err != 0)
    return UnavailableError("cannot connect to " + url + ": " + connect_error_text(err));
  PeerInfo peer{url, address, ""};
  std::unique_ptr<SecureSession> session;
  if (core_->security) {
    set_blocking(fd, false);
    auto done = core_->security->handshake(fd, false, url, deadline, &peer.common_name);
    if (!done.ok()) {
      ::close(fd);
      return Status(done.status().code(), "cannot connect to " + url + ": " + done.status().message());
    }
    session = std::move(done).value();
  }
  auto conn = std::make_shared<SocketConnection>(fd, std::move(peer), handler, core_->options,
                                                 std::move(session));
  if (!core_->adopt(conn))
    return UnavailableError("cannot connect to " + url + ": the driver was stopped");
  return std::shared_ptr<Connection>(conn);
}

void SocketDriver::stop() {
  std::vector<std::weak_ptr<SocketListener>> listeners;
  std::vector<std::weak_ptr<SocketConnection>> conns;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->stopped = true;
    listeners.swap(core_->listeners);
    conns.swap(core_->conns);
  }
  for (auto& w : listeners) {
    if (auto l = w.lock()) l->stop();
  }
  for (auto& w : conns) {
    if (auto c = w.lock()) c->close(UnavailableError("the " + core_->scheme() + " driver stopped"));
  }
  core_->threads.join_all();
}

}  // namespace nvf::cellnet
