#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "cellnet/socket_connection_internal.h"

namespace nvf::cellnet {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

SocketConnection::SocketConnection(int fd, PeerInfo peer, ConnectionHandler* handler,
                                   const DriverOptions& options,
                                   std::unique_ptr<SecureSession> session,
                                   std::shared_ptr<SocketSecurity> accept_security,
                                   std::chrono::milliseconds handshake_timeout)
    : peer_(std::move(peer)),
      handler_(handler),
      max_payload_(options.max_payload),
      send_timeout_(options.send_timeout),
      session_(std::move(session)),
      accept_security_(std::move(accept_security)),
      handshake_timeout_(handshake_timeout),
      fd_(fd),
      secure_ready_(accept_security_ == nullptr) {}

SocketConnection::~SocketConnection() {
  // Only when the threads never started (or both finished, which already closed it).
  if (fd_open_) ::close(fd_);
}

void SocketConnection::start(ThreadGroup& threads) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads_left_ = 2;
  }
  auto self = shared_from_this();
  threads.spawn([self] { self->read_loop(); });
  threads.spawn([self] { self->write_loop(); });
}

Status SocketConnection::send(Frame frame) {
  if (frame.payload.size() > max_payload_) {
    return InvalidArgumentError("frame payload of " + std::to_string(frame.payload.size()) +
                                " bytes exceeds max_message_size (" + std::to_string(max_payload_) +
                                "): send it as a stream");
  }
  if (frame.headers.encoded_size() > kMaxHeaderBytes) {
    return InvalidArgumentError("frame headers of " + std::to_string(frame.headers.encoded_size()) +
                                " bytes exceed the limit of " + std::to_string(kMaxHeaderBytes));
  }
  if (closed() || !out_.push(std::move(frame))) {
    return UnavailableError("connection to " + peer_.address + " is closed");
  }
  return Status::OK();
}

void SocketConnection::close(const Status& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  reason_ = reason.ok() ? CancelledError("connection to " + peer_.address + " closed") : reason;
  out_.close();  // before the threads can observe the shutdown: send() fails from now on
  ready_cv_.notify_all();
  // Wakes the reader (recv returns 0) and the writer (poll/sendmsg fail); the descriptor itself
  // stays open until both threads are done, so it cannot be reused under them.
  if (fd_open_) ::shutdown(fd_, SHUT_RDWR);
}

bool SocketConnection::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

std::chrono::milliseconds SocketConnection::current_write_age() const {
  int64_t since = write_since_ns_.load();
  if (since == 0) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::nanoseconds(now_ns() - since));
}

void SocketConnection::thread_done() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--threads_left_ == 0 && fd_open_) {
    ::close(fd_);
    fd_open_ = false;
  }
}

bool SocketConnection::accept_handshake() {
  std::string common_name;
  auto session = accept_security_->handshake(
      fd_, true, peer_.address, std::chrono::steady_clock::now() + handshake_timeout_, &common_name);
  if (!session.ok()) {
    close(session.status());
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(session_mu_);
    session_ = std::move(session).value();
  }
  peer_.common_name = std::move(common_name);
  std::lock_guard<std::mutex> lock(mu_);
  secure_ready_ = true;
  ready_cv_.notify_all();
  return !closed_;
}

bool SocketConnection::wait_handshake() {
  std::unique_lock<std::mutex> lock(mu_);
  ready_cv_.wait(lock, [this] { return secure_ready_ || closed_; });
  return !closed_;
}

void SocketConnection::wait_socket(short events, int timeout_ms) const {
  pollfd p{fd_, events, 0};
  ::poll(&p, 1, timeout_ms);  // EINTR, timeout or a shut-down socket: the caller tries again
}

Status SocketConnection::wait_writable(short events,
                                       std::chrono::steady_clock::time_point last_progress) const {
  auto blocked = std::chrono::steady_clock::now() - last_progress;
  if (blocked >= send_timeout_) {
    return DeadlineExceededError(
        "a write to " + peer_.address + " made no progress for " +
        std::to_string(send_timeout_.count()) +
        " ms (streaming_send_timeout): the peer is not reading; closing the connection");
  }
  auto remaining = std::chrono::ceil<std::chrono::milliseconds>(send_timeout_ - blocked);
  wait_socket(events, static_cast<int>(remaining.count()));
  return Status::OK();
}

void SocketConnection::read_loop() {
  if (accept_security_ && !accept_handshake()) {
    thread_done();  // never announced: no on_connected, no on_closed
    return;
  }
  auto self = shared_from_this();
  handler_->on_connected(self);
  Status why;
  for (;;) {
    Frame frame;
    why = read_frame(self, &frame);
    if (!why.ok()) break;
    handler_->on_frame(self, std::move(frame));
  }
  close(why);  // keeps an earlier reason (close() by a user, a send timeout)
  Status reason;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reason = reason_;
  }
  handler_->on_closed(self, reason);
  thread_done();
}

Status SocketConnection::read_exact(std::byte* p, size_t n, size_t frame_offset,
                                    uint64_t frame_size) {
  size_t got = 0;
  auto ended = [&]() -> Status {
    size_t at = frame_offset + got;
    if (at == 0) return UnavailableError("peer closed the connection (" + peer_.address + ")");
    std::string total = frame_size ? std::to_string(frame_size) : "at least 16";
    return InvalidArgumentError("truncated frame from " + peer_.address +
                                ": the connection ended after " + std::to_string(at) + " of " +
                                total + " bytes");
  };
  while (session_ && got < n) {
    size_t k = 0;
    SecureSession::Io io;
    std::string error;
    {
      std::lock_guard<std::mutex> lock(session_mu_);
      io = session_->read(p + got, n - got, &k);
      if (io == SecureSession::Io::kError) error = session_->error_text();
    }
    switch (io) {
      case SecureSession::Io::kDone:
        got += k;
        break;
      case SecureSession::Io::kWantRead:
        wait_socket(POLLIN, -1);
        break;
      case SecureSession::Io::kWantWrite:
        wait_socket(POLLOUT, -1);
        break;
      case SecureSession::Io::kEof:
        if (closed()) return CancelledError("connection closed");
        return ended();
      case SecureSession::Io::kError:
        if (closed()) return CancelledError("connection closed");
        return UnavailableError("TLS read from " + peer_.address + " failed: " + error);
    }
  }
  while (got < n) {
    ssize_t r = ::recv(fd_, p + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (closed()) return CancelledError("connection closed");
    if (r == 0) return ended();
    int err = errno;
    if (err == ECONNRESET)
      return UnavailableError("connection reset by peer (" + peer_.address + ")");
    return UnavailableError("read from " + peer_.address + " failed: " + errno_text(err));
  }
  return Status::OK();
}

// Smaller payloads come from malloc, which reuses small blocks well by itself.
constexpr uint64_t kPooledMinBytes = 64u << 10;

Status SocketConnection::read_frame(const std::shared_ptr<Connection>& self, Frame* out) {
  std::byte prefix[kFramePrefixSize];
  NVF_RETURN_IF_ERROR(read_exact(prefix, kFramePrefixSize, 0, 0));
  auto pf = decode_prefix(prefix, max_payload_);
  if (!pf.ok())
    return InvalidArgumentError("malformed frame from " + peer_.address + ": " +
                                pf.status().message());
  const uint64_t total = kFramePrefixSize + uint64_t{pf->header_len} + pf->payload_len;
  auto malformed = [&](const Status& s) {
    return InvalidArgumentError("malformed frame from " + peer_.address + ": " + s.message());
  };
  out->type = pf->type;
  out->flags = pf->flags;
  if (pf->payload_len < ConnectionHandler::kPlaceMinBytes) {
    // Small frames: headers and payload in one allocation and one read.
    uint64_t body = uint64_t{pf->header_len} + pf->payload_len;
    std::byte* data = nullptr;
    Slice block = body >= kPooledMinBytes ? frames_.allocate(body, &data) : Slice::allocate(body, &data);
    NVF_RETURN_IF_ERROR(read_exact(data, body, kFramePrefixSize, total));
    auto headers = decode_headers(data, pf->header_len);
    if (!headers.ok()) return malformed(headers.status());
    out->headers = std::move(*headers);
    out->payload = Buffer(block.sub(pf->header_len, pf->payload_len));
    return Status::OK();
  }
  // Large payloads: headers first, so the handler can name the memory the payload belongs in.
  std::vector<std::byte> head(pf->header_len);
  NVF_RETURN_IF_ERROR(read_exact(head.data(), head.size(), kFramePrefixSize, total));
  auto headers = decode_headers(head.data(), pf->header_len);
  if (!headers.ok()) return malformed(headers.status());
  out->headers = std::move(*headers);
  PayloadTarget target = handler_->payload_target(self, *out, pf->payload_len);
  std::byte* data = target.data;
  Slice block;
  if (data != nullptr) {
    block = Slice{data, static_cast<size_t>(pf->payload_len), std::move(target.owner)};
  } else {
    block = pf->payload_len >= kPooledMinBytes ? frames_.allocate(pf->payload_len, &data)
                                                : Slice::allocate(pf->payload_len, &data);
  }
  NVF_RETURN_IF_ERROR(read_exact(data, pf->payload_len, kFramePrefixSize + pf->header_len, total));
  out->payload = Buffer(std::move(block));
  return Status::OK();
}

void SocketConnection::write_loop() {
  if (!wait_handshake()) {
    thread_done();
    return;
  }
  while (auto frame = out_.pop()) {
    Buffer wire = encode_frame(*frame);
    write_since_ns_ = now_ns();
    Status s = session_ ? write_secure(wire) : write_all(wire);
    write_since_ns_ = 0;
    if (!s.ok()) {
      close(s);
      break;
    }
  }
  thread_done();
}

Status SocketConnection::write_all(const Buffer& wire) {
  std::vector<iovec> iov;
  iov.reserve(wire.slices().size());
  for (const Slice& s : wire.slices()) iov.push_back({const_cast<std::byte*>(s.data), s.size});
  size_t idx = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (idx < iov.size()) {
    msghdr msg{};
    msg.msg_iov = &iov[idx];
    msg.msg_iovlen = std::min<size_t>(iov.size() - idx, IOV_MAX);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      auto left = static_cast<size_t>(n);
      while (left > 0 && left >= iov[idx].iov_len) left -= iov[idx++].iov_len;
      if (left > 0) {
        iov[idx].iov_base = static_cast<char*>(iov[idx].iov_base) + left;
        iov[idx].iov_len -= left;
      }
      last_progress = std::chrono::steady_clock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      NVF_RETURN_IF_ERROR(wait_writable(POLLOUT, last_progress));
      continue;
    }
    int err = n < 0 ? errno : EIO;
    if (closed()) return CancelledError("connection closed");
    if (err == EPIPE || err == ECONNRESET)
      return UnavailableError("peer closed the connection (" + peer_.address + ")");
    return UnavailableError("write to " + peer_.address + " failed: " + errno_text(err));
  }
  return Status::OK();
}

// Frames up to this size are gathered into one TLS write (one record, one system call): a
// frame's prefix and headers are separate small slices.
constexpr size_t kGatherBytes = 16u << 10;

Status SocketConnection::write_secure(const Buffer& wire) {
  std::vector<std::byte> gathered;
  std::vector<std::pair<const std::byte*, size_t>> pieces;
  if (wire.size() <= kGatherBytes) {
    gathered.reserve(wire.size());
    for (const Slice& s : wire.slices()) gathered.insert(gathered.end(), s.data, s.data + s.size);
    pieces.emplace_back(gathered.data(), gathered.size());
  } else {
    for (const Slice& s : wire.slices()) pieces.emplace_back(s.data, s.size);
  }
  auto last_progress = std::chrono::steady_clock::now();
  // The pieces, then one empty piece: the flush of what the session held back.
  pieces.emplace_back(nullptr, 0);
  for (auto [p, left] : pieces) {
    const bool flushing = p == nullptr;
    while (flushing || left > 0) {
      size_t k = 0;
      SecureSession::Io io;
      std::string error;
      {
        std::lock_guard<std::mutex> lock(session_mu_);
        io = flushing ? session_->flush(&k) : session_->write(p, left, &k);
        if (io == SecureSession::Io::kError) error = session_->error_text();
      }
      if (k > 0) last_progress = std::chrono::steady_clock::now();
      if (io == SecureSession::Io::kDone) {
        if (flushing) break;
        p += k;
        left -= k;
        continue;
      }
      if (closed()) return CancelledError("connection closed");
      if (io == SecureSession::Io::kEof)
        return UnavailableError("peer closed the connection (" + peer_.address + ")");
      if (io == SecureSession::Io::kError)
        return UnavailableError("TLS write to " + peer_.address + " failed: " + error);
      NVF_RETURN_IF_ERROR(
          wait_writable(io == SecureSession::Io::kWantRead ? POLLIN : POLLOUT, last_progress));
    }
  }
  return Status::OK();
}

}  // namespace nvf::cellnet
