#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/files.h"
#include "base/process.h"
#include "base/strings.h"
#include "cellnet/cell.h"
#include "runtime/deploy_protocol.h"
#include "runtime/registration.h"
#include "tools/preflight_net_internal.h"

namespace nvf::tools::preflight_net {
namespace fs = std::filesystem;

namespace {

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

struct AddrInfo {
  addrinfo* list = nullptr;
  ~AddrInfo() {
    if (list != nullptr) freeaddrinfo(list);
  }
};

std::string numeric_host(const sockaddr* sa, socklen_t len) {
  char buf[NI_MAXHOST] = {};
  if (getnameinfo(sa, len, buf, sizeof(buf), nullptr, 0, NI_NUMERICHOST) != 0) return "?";
  return buf;
}

// Connects one socket without blocking longer than `timeout`. Returns 0 or an errno
// (ETIMEDOUT when no answer came).
int connect_one(const addrinfo* ai, std::chrono::milliseconds timeout) {
  Fd s(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
  if (s.fd < 0) return errno;
  if (::connect(s.fd, ai->ai_addr, ai->ai_addrlen) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{s.fd, POLLOUT, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n == 0) return ETIMEDOUT;
  if (n < 0) return errno;
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

// Drops everything a probe connection receives.
struct NullHandler : cellnet::ConnectionHandler {
  void on_connected(const std::shared_ptr<cellnet::Connection>&) override {}
  void on_frame(const std::shared_ptr<cellnet::Connection>&, cellnet::Frame) override {}
  void on_closed(const std::shared_ptr<cellnet::Connection>&, const Status&) override {}
};

}  // namespace

Result<std::vector<std::string>> resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  AddrInfo res;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res.list);
  if (rc != 0) return NotFoundError(rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc));
  std::vector<std::string> out;
  for (const addrinfo* ai = res.list; ai != nullptr && out.size() < 4; ai = ai->ai_next) {
    std::string a = numeric_host(ai->ai_addr, ai->ai_addrlen);
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  if (out.empty()) return NotFoundError("no address");
  return out;
}

Status try_bind(const std::string& host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    return UnavailableError("'" + host + "' is not an IPv4 address");
  }
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.fd < 0) return UnavailableError(base::errno_text(errno));
  int one = 1;
  ::setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // TIME_WAIT leftovers are fine
  if (::bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    int err = errno;
    if (err == EADDRINUSE) return AlreadyExistsError("in use");
    return UnavailableError(base::errno_text(err));
  }
  return Status::OK();
}

Status tcp_connect(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  AddrInfo res;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res.list);
  if (rc != 0) return UnavailableError("'" + host + "' does not resolve: " + gai_strerror(rc));
  int last = ECONNREFUSED;
  for (const addrinfo* ai = res.list; ai != nullptr; ai = ai->ai_next) {
    last = connect_one(ai, timeout);
    if (last == 0) return Status::OK();
  }
  if (last == ETIMEDOUT) return DeadlineExceededError("no answer");
  if (last == ECONNREFUSED)
    return UnavailableError("connection refused: nothing listens on that port");
  return UnavailableError(base::errno_text(last));
}

Status probe_connection(const cellnet::TlsConfig& tls, const std::string& url, const runtime::DriverFactory& factory,
                        std::chrono::milliseconds timeout) {
  cellnet::DriverOptions dopt;
  dopt.tls = tls;
  NullHandler handler;
  auto driver = factory(dopt);
  auto conn = driver->connect(url, &handler, timeout);
  if (conn.ok()) (*conn)->close(Status::OK());
  driver->stop();
  return conn.status();
}

Status register_once(const runtime::KitCommon& kit, const std::string& kind, const cellnet::TlsConfig& tls,
                     const std::string& url, const std::string& parent_cell, const runtime::DriverFactory& factory,
                     std::chrono::milliseconds timeout) {
  cellnet::DriverRegistry drivers;
  cellnet::DriverOptions dopt;
  dopt.tls = tls;
  drivers.add(factory(dopt));
  cellnet::CellOptions co;
  // Its own cell name, so that a running site keeps its route at the server while the check
  // registers. A client registers from a cell named for it (the server refuses any other), here
  // as if behind a relay of its own: "preflight_<hex>.site-1".
  // Behind a relay the cell is below it: "relay-1.preflight_<hex>.site-1".
  co.fqcn = "preflight_" + base::random_hex(6) + (kind != "admin" ? "." + kit.name : "");
  if (parent_cell != "server") co.fqcn = parent_cell + "." + co.fqcn;
  co.drivers = &drivers;
  co.connect_timeout = timeout;
  cellnet::Cell cell(co);
  Status s = cell.start();
  if (s.ok()) s = cell.connect(url);
  if (s.ok() && !cell.wait_for_peer(parent_cell, timeout).ok()) {
    s = DeadlineExceededError((parent_cell == "server" ? std::string("the server") : "relay " + parent_cell) + " at " +
                              url + " did not answer within " + std::to_string(timeout.count() / 1000) + " s");
  }
  if (s.ok()) {
    auto creds = runtime::register_with_server(cell, kit, kind, timeout);
    s = creds.status();
    if (creds.ok() && kind != "admin") {
      // Leave again, so that the server does not list a client that is not running.
      cell.set_auth_headers(runtime::auth_headers(*creds));
      cell.request("server", std::string(runtime::deploy::kChannelTask), std::string(runtime::deploy::kTopicQuit),
                   cellnet::Message{}, timeout)
          .status()
          .ignore();
    }
  }
  cell.stop();
  drivers.stop_all();
  return s;
}

std::optional<pid_t> running_pid(const fs::path& root) {
  auto pid = base::read_pid_file(root / "pid.fl");
  if (!pid || !base::process_running(*pid)) return std::nullopt;
  return pid;
}

}  // namespace nvf::tools::preflight_net
