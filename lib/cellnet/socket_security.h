// Encryption of a stream socket's bytes (TLS) for SocketDriver. cellnet defines the interface; a
// module that links a TLS library implements it (cellnet_tls: OpenSSL), so cellnet links none.
//
// A SocketDriver given a SocketSecurity serves the secure TCP scheme (`stcp`): the frames are the
// plain driver's, carried inside the session. The driver does the socket work (connect, accept,
// poll, deadlines); the session only turns bytes into records and back.
//
// Threads: one session is used by its connection's reader and writer threads, never at the same
// time (the connection holds a mutex around every call). A SocketSecurity is shared by every
// connection of its driver; its methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "base/status.h"

namespace nvf::cellnet {

/// One connection's session after its handshake. Non-blocking on a non-blocking socket: each call
/// moves what it can at once and says what it waits for otherwise.
class SecureSession {
 public:
  enum class Io {
    kDone,       // moved *n > 0 bytes
    kWantRead,   // nothing moved: wait until the socket is readable, then call again
    kWantWrite,  // nothing moved: wait until the socket is writable, then call again
    kEof,        // the peer ended the session (or the socket closed)
    kError,      // error_text() says why
  };
  virtual ~SecureSession() = default;
  /// Decrypts up to `len` bytes into `p`.
  virtual Io read(std::byte* p, size_t len, size_t* n) = 0;
  /// Encrypts up to `len` bytes of `p` (after kWantWrite: call again with the same bytes). The
  /// session may hold what it encrypted until flush().
  virtual Io write(const std::byte* p, size_t len, size_t* n) = 0;
  /// Sends what write() held back: kDone once nothing is held, else kWantWrite (or an error);
  /// `*n`: the bytes sent by this call.
  virtual Io flush(size_t* n) = 0;
  /// The last error, for messages ("certificate verify failed: certificate has expired").
  virtual std::string error_text() = 0;
};

class SocketSecurity {
 public:
  virtual ~SocketSecurity() = default;
  /// Loads what one side needs (certificates, keys, the CA), once; listen() and connect() call it
  /// first. Errors: FAILED_PRECONDITION naming the file or field.
  virtual Status prepare(bool server) = 0;
  /// The handshake on the connected non-blocking socket `fd`, as the accepting (`server`) or the
  /// connecting side, finished before `deadline`. `peer` names the remote end in messages;
  /// `*common_name` receives the peer certificate's CN (empty without one). The client side
  /// also waits until the server has accepted its certificate. Errors: UNAVAILABLE with the
  /// reason (certificate refused, not TLS, closed), DEADLINE_EXCEEDED.
  virtual Result<std::unique_ptr<SecureSession>> handshake(int fd, bool server, const std::string& peer,
                                                           std::chrono::steady_clock::time_point deadline,
                                                           std::string* common_name) = 0;
};

}  // namespace nvf::cellnet
