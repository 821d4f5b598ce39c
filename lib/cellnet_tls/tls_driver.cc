#include "cellnet_tls/tls_driver.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "cellnet/socket_driver.h"

namespace nvf::cellnet_tls {
namespace {

using cellnet::SecureSession;
using cellnet::TlsConfig;
using Clock = std::chrono::steady_clock;

// TLS 1.3 suites, fastest first on x86 with AES-NI (openssl speed: AES-128-GCM 3.8 GB/s,
// AES-256-GCM 3.2, ChaCha20-Poly1305 3.5 on the benchmark machine).
constexpr char kCipherSuites[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
// Read ahead: one recv() brings many records (a 1 MiB chunk is 64 of them).
constexpr size_t kReadBufferBytes = 256u << 10;

// Every queued OpenSSL error as one line (and the queue cleared).
std::string openssl_errors() {
  std::string text;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    // "error:0A000086:SSL routines::certificate verify failed" -> the reason after the last ':'
    const char* reason = std::strrchr(buf, ':');
    text += (text.empty() ? "" : "; ") + std::string(reason && reason[1] ? reason + 1 : buf);
  }
  return text;
}

// --- The socket under a session: a BIO that never raises SIGPIPE (OpenSSL's own writes with
// write()) and, once the handshake is done, gathers records (16 KiB each) into sends of up to
// kSendBytes: a 1 MiB frame is 4 system calls and 4 wake-ups of the receiver instead of 64. ---

constexpr size_t kSendBytes = 256u << 10;

struct SocketState {
  int fd = -1;
  bool gather = false;    // after the handshake
  std::vector<char> out;  // records gathered and not yet sent, from `sent` on
  size_t sent = 0;

  size_t pending() const { return out.size() - sent; }
  // Sends what is gathered; true when all of it went, false with errno (EAGAIN: try later).
  bool flush(size_t* n) {
    *n = 0;
    while (sent < out.size()) {
      ssize_t k = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        if (k == 0) errno = EPIPE;
        return false;
      }
      sent += static_cast<size_t>(k);
      *n += static_cast<size_t>(k);
    }
    out.clear();
    sent = 0;
    return true;
  }
};

SocketState* state_of(BIO* b) { return static_cast<SocketState*>(BIO_get_data(b)); }

int bio_write(BIO* b, const char* data, size_t len, size_t* written) {
  BIO_clear_retry_flags(b);
  SocketState* st = state_of(b);
  if (st->gather) {
    size_t n = 0;
    if (st->pending() >= kSendBytes && !st->flush(&n) && st->pending() >= kSendBytes) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
      return 0;
    }
    st->out.insert(st->out.end(), data, data + len);
    *written = len;
    return 1;
  }
  for (;;) {
    ssize_t n = ::send(st->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      *written = static_cast<size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
    return 0;
  }
}

int bio_read(BIO* b, char* data, size_t len, size_t* got) {
  BIO_clear_retry_flags(b);
  for (;;) {
    ssize_t n = ::recv(state_of(b)->fd, data, len, MSG_DONTWAIT);
    if (n > 0) {
      *got = static_cast<size_t>(n);
      return 1;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(b);
    return 0;  // n == 0: end of stream
  }
}

long bio_ctrl(BIO* b, int cmd, long, void* ptr) {
  switch (cmd) {
    case BIO_C_GET_FD:
      if (ptr) *static_cast<int*>(ptr) = state_of(b)->fd;
      return state_of(b)->fd;
    case BIO_CTRL_FLUSH:
      return 1;  // SocketState::flush() is called by the session, which knows when it may wait
    default:
      return 0;
  }
}

const BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "nvf stcp socket");
    BIO_meth_set_write_ex(m, bio_write);
    BIO_meth_set_read_ex(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    return m;
  }();
  return method;
}

// --- One session. ---

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  void operator()(X509* x) const { X509_free(x); }
};

class OpenSslSession : public SecureSession {
 public:
  OpenSslSession(std::unique_ptr<SocketState> socket, std::unique_ptr<SSL, SslFree> ssl)
      : socket_(std::move(socket)), ssl_(std::move(ssl)) {
    socket_->gather = true;
  }

  Io read(std::byte* p, size_t len, size_t* n) override {
    ERR_clear_error();
    Io io = SSL_read_ex(ssl_.get(), p, len, n) == 1 ? Io::kDone : outcome(0);
    // Reading may have written (an alert, a key update): send it now, as far as it goes without
    // waiting; the writer's next flush sends any rest.
    size_t sent = 0;
    if (socket_->pending() > 0) socket_->flush(&sent);
    return io;
  }
  Io write(const std::byte* p, size_t len, size_t* n) override {
    ERR_clear_error();
    if (SSL_write_ex(ssl_.get(), p, len, n) == 1) return Io::kDone;
    return outcome(0);
  }
  Io flush(size_t* n) override {
    if (socket_->flush(n)) return Io::kDone;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::kWantWrite;
    if (errno == EPIPE || errno == ECONNRESET) return Io::kEof;
    error_ = std::strerror(errno);
    return Io::kError;
  }
  std::string error_text() override { return error_; }

 private:
  Io outcome(int ret) {
    int e = SSL_get_error(ssl_.get(), ret);
    switch (e) {
      case SSL_ERROR_WANT_READ:
        return Io::kWantRead;
      case SSL_ERROR_WANT_WRITE:
        return Io::kWantWrite;
      case SSL_ERROR_ZERO_RETURN:
        return Io::kEof;
      case SSL_ERROR_SYSCALL: {
        int err = errno;
        std::string queued = openssl_errors();
        if (queued.empty() && (err == 0 || err == ECONNRESET || err == EPIPE)) return Io::kEof;
        error_ = queued.empty() ? std::strerror(err) : queued;
        return Io::kError;
      }
      default:
        error_ = openssl_errors();
        if (error_.empty()) error_ = "TLS error " + std::to_string(e);
        return Io::kError;
    }
  }

  std::unique_ptr<SocketState> socket_;  // the BIO's state: outlives ssl_ (declared first)
  std::unique_ptr<SSL, SslFree> ssl_;
  std::string error_;
};

// The client's wait for the server's first session ticket: set by the new-session callback.
int on_new_session(SSL* ssl, SSL_SESSION*) {
  if (auto* accepted = static_cast<bool*>(SSL_get_app_data(ssl))) *accepted = true;
  return 0;  // not kept
}

// Waits until `fd` is ready for `events` or `deadline`; false at the deadline.
bool wait_until(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return true;  // let the next TLS call report it
  }
}

std::string peer_common_name(SSL* ssl) {
  std::unique_ptr<X509, SslFree> cert(SSL_get1_peer_certificate(ssl));
  if (!cert) return "";
  X509_NAME* name = X509_get_subject_name(cert.get());
  int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return "";
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
  if (len < 0) return "";
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return cn;
}

class OpenSslSecurity : public cellnet::SocketSecurity {
 public:
  explicit OpenSslSecurity(const cellnet::DriverOptions& options)
      : connect_tls_(options.tls), listen_tls_(options.listen_tls.value_or(options.tls)) {}

  Status prepare(bool server) override { return context(server).status(); }

  Result<std::unique_ptr<SecureSession>> handshake(int fd, bool server, const std::string& peer,
                                                   Clock::time_point deadline, std::string* common_name) override {
    NVF_ASSIGN_OR_RETURN(SSL_CTX * ctx, context(server));
    auto socket = std::make_unique<SocketState>();
    socket->fd = fd;
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx));
    BIO* bio = ssl ? BIO_new(socket_method()) : nullptr;
    if (!bio) return UnavailableError("TLS with " + peer + ": cannot make a session: " + openssl_errors());
    BIO_set_data(bio, socket.get());
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl.get(), bio, bio);
    bool accepted = false;
    if (server) {
      SSL_set_accept_state(ssl.get());
    } else {
      SSL_set_connect_state(ssl.get());
      SSL_set_app_data(ssl.get(), &accepted);
      NVF_RETURN_IF_ERROR(expect_name(ssl.get(), peer));
    }
    auto failed = [&](const std::string& during) -> Status {
      std::string why = openssl_errors();
      long verify = SSL_get_verify_result(ssl.get());
      if (verify != X509_V_OK) why += std::string(why.empty() ? "" : " (") + X509_verify_cert_error_string(verify) + (why.empty() ? "" : ")");
      if (why.empty()) why = "the peer closed the connection (is it a TLS endpoint with our CA?)";
      return UnavailableError("TLS handshake with " + peer + " failed" + (during.empty() ? "" : " " + during) + ": " +
                              why);
    };
    auto timed_out = [&]() -> Status {
      return DeadlineExceededError("TLS handshake with " + peer + " did not finish in time");
    };
    for (;;) {
      ERR_clear_error();
      int r = SSL_do_handshake(ssl.get());
      if (r == 1) break;
      int e = SSL_get_error(ssl.get(), r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (!wait_until(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) return timed_out();
        continue;
      }
      return failed("");
    }
    // TLS 1.3 lets the client finish before the server has checked its certificate; the
    // server's session ticket (or its first frame) says it has.
    while (!server && !accepted) {
      ERR_clear_error();
      char b;
      size_t n = 0;
      int r = SSL_peek_ex(ssl.get(), &b, 1, &n);
      if (r == 1 || accepted) break;
      int e = SSL_get_error(ssl.get(), r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (!wait_until(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) return timed_out();
        continue;
      }
      return failed("(the server refused us)");
    }
    SSL_set_app_data(ssl.get(), nullptr);
    *common_name = peer_common_name(ssl.get());
    return std::unique_ptr<SecureSession>(std::make_unique<OpenSslSession>(std::move(socket), std::move(ssl)));
  }

 private:
  // One side's context, made on first use.
  Result<SSL_CTX*> context(bool server) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& ctx = server ? server_ctx_ : client_ctx_;
    if (!ctx) {
      NVF_ASSIGN_OR_RETURN(ctx, make_context(server));
    }
    return ctx.get();
  }

  // The client checks the server certificate against the target name, else the URL's host.
  Status expect_name(SSL* ssl, const std::string& url) {
    std::string name = connect_tls_.target_name;
    if (name.empty()) {
      auto u = cellnet::parse_url(url);
      if (u.ok()) name = u->host;
    }
    if (name.empty()) return Status::OK();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    unsigned char ip[16];
    bool is_ip = ::inet_pton(AF_INET, name.c_str(), ip) == 1 || ::inet_pton(AF_INET6, name.c_str(), ip) == 1;
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                   : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (ok != 1) return InvalidArgumentError("TLS target name '" + name + "' is not a host name or IP address");
    if (!is_ip) SSL_set_tlsext_host_name(ssl, name.c_str());
    return Status::OK();
  }

  Result<std::unique_ptr<SSL_CTX, SslFree>> make_context(bool server) {
    const TlsConfig& tls = server ? listen_tls_ : connect_tls_;
    const bool mtls = tls.mode == TlsConfig::Mode::kMtls;
    std::unique_ptr<SSL_CTX, SslFree> ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
    if (!ctx) return UnavailableError("cannot make a TLS context: " + openssl_errors());
    SSL_CTX* c = ctx.get();
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(c, kCipherSuites);
    SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_default_read_buffer_len(c, kReadBufferBytes);
    auto bad = [&](const std::string& path, const char* field) {
      return FailedPreconditionError("TLS file '" + path + "' (tls." + field + ") was refused: " + openssl_errors());
    };
    if (server || mtls) {
      NVF_RETURN_IF_ERROR(cellnet::read_tls_pem(tls.cert_path, "cert_path").status());
      NVF_RETURN_IF_ERROR(cellnet::read_tls_pem(tls.key_path, "key_path").status());
      if (SSL_CTX_use_certificate_chain_file(c, tls.cert_path.c_str()) != 1) return bad(tls.cert_path, "cert_path");
      bool key_loaded = SSL_CTX_use_PrivateKey_file(c, tls.key_path.c_str(), SSL_FILETYPE_PEM) == 1;
      if (!key_loaded && ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        return bad(tls.key_path, "key_path");
      }
      if (!key_loaded || SSL_CTX_check_private_key(c) != 1) {
        ERR_clear_error();
        return FailedPreconditionError("TLS key '" + tls.key_path + "' does not belong to the certificate '" +
                                       tls.cert_path + "' (tls.key_path)");
      }
    }
    if (!server || mtls) {
      NVF_RETURN_IF_ERROR(cellnet::read_tls_pem(tls.root_ca_path, "root_ca_path").status());
      if (SSL_CTX_load_verify_locations(c, tls.root_ca_path.c_str(), nullptr) != 1) {
        return bad(tls.root_ca_path, "root_ca_path");
      }
      SSL_CTX_set_verify(c, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, nullptr);
    }
    if (server) {
      SSL_CTX_set_num_tickets(c, 1);  // the client's sign that its certificate was accepted
    } else {
      SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(c, on_new_session);
    }
    return ctx;
  }

  const TlsConfig connect_tls_;
  const TlsConfig listen_tls_;
  std::mutex mu_;
  std::unique_ptr<SSL_CTX, SslFree> server_ctx_;  // guarded by mu_; never replaced once set
  std::unique_ptr<SSL_CTX, SslFree> client_ctx_;  // guarded by mu_; never replaced once set
};

}  // namespace

std::shared_ptr<cellnet::SocketSecurity> make_tls_security(const cellnet::DriverOptions& options) {
  return std::make_shared<OpenSslSecurity>(options);
}

std::unique_ptr<cellnet::Driver> make_stcp_driver(cellnet::DriverOptions options) {
  auto security = make_tls_security(options);
  return std::make_unique<cellnet::SocketDriver>(cellnet::SocketDriver::Kind::kTcp, std::move(options),
                                                 std::move(security));
}

}  // namespace nvf::cellnet_tls
