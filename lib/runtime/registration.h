// Registration with the server parent, FLARE's scheme (spec runtime §1.2) over cellnet:
//  1. challenge: the registrant sends its name and a nonce; the server answers with its own
//     nonce, its certificate and a signature of (server CN + client nonce). The registrant checks
//     that the certificate chains to the project's root CA, that its CN is the server identity of
//     the kit, and the signature.
//  2. register: the registrant sends its certificate and a signature of (its CN + server nonce).
//     The server checks the chain, that the CN is the name registered, the signature, and the
//     project; it answers with a token and the token's signature (server-signed name + token).
// Every later message carries client_name, __token__, __token_signature__ and ssid; the server
// parent checks them on every frame arriving from outside (Registrar::check).
//
// Registrar: the server side. Thread-safe (one mutex). Owned by the server parent.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "cellnet/cell.h"
#include "cellnet/message.h"
#include "runtime/startup_kit.h"
#include "security/authorization.h"

namespace nvf::runtime {

struct Credentials {
  std::string name;
  std::string token;
  std::string token_signature;
  std::string ssid;
  std::string server_cert_pem;  // the server's certificate, checked against the root CA
};

/// The headers a registered sender stamps on everything it sends.
cellnet::Headers auth_headers(const Credentials& credentials);

/// Runs challenge + register with the server through `cell` (connected to the server).
/// `kind`: "client", "relay" or "admin". Errors: UNAUTHENTICATED naming what the server or we refused,
/// UNAVAILABLE / DEADLINE_EXCEEDED when the server cannot be reached.
Result<Credentials> register_with_server(cellnet::Cell& cell, const KitCommon& kit, const std::string& kind,
                                         std::chrono::milliseconds timeout);

/// The maintenance loop of a daemon that registers with the server (the client parent, a relay),
/// run on its own thread with `mu` unlocked: until `done()` holds (checked with `mu` held), it
/// registers (`register_once`, again every `register_interval` until it succeeds), then sends a
/// heartbeat (`heartbeat_once`) every `heart_beat_interval`; a heartbeat that finds the
/// registration gone sets `registered` to false (with `mu` held) and the loop registers again.
/// Notifying `cv` wakes it early (to stop).
struct RegistrationLoop {
  std::mutex& mu;
  std::condition_variable& cv;
  bool& registered;  // guarded by mu
  std::function<bool()> done;
  std::function<bool()> register_once;
  std::function<void()> heartbeat_once;
  std::chrono::milliseconds register_interval, heart_beat_interval;
  void run();
};

/// Someone registered with the server.
struct Principal {
  std::string name;       // client name or admin user
  std::string kind;       // client | relay | admin
  /// The cell it registered from ("site-1", or "R1.site-1" behind a relay). Its later messages
  /// must come from this cell or a cell below it (its job cells); its name is `name`, never a part
  /// of this.
  std::string fqcn;
  security::Person person;
  std::string token, token_signature;
  std::string session_id;  // shown by list_sessions (the token is a secret)
  std::chrono::steady_clock::time_point registered, last_seen;
};

/// A relay's check of every frame its children send (FLARE's relays check auth headers too): the
/// token's signature must be the server's (verified with the server certificate the relay got when
/// it registered) and the sender's cell must lie below the relay and carry the token's name
/// ("relay-1.site-1", "relay-1.site-1.<job>"). The server still checks the token itself and binds
/// it to the registered cell. Verified tokens are remembered (at most kMaxRemembered). Thread-safe.
class TokenVerifier {
 public:
  explicit TokenVerifier(std::string relay_fqcn) : relay_fqcn_(std::move(relay_fqcn)) {}
  /// The server's certificate (after each registration: a restarted server may have a new one).
  void set_server_cert(std::string pem);
  /// As an IncomingFilter: the token's name; "" for challenge and register requests. Errors:
  /// UNAVAILABLE before the relay has registered, UNAUTHENTICATED naming what is wrong.
  Result<std::string> check(const cellnet::Headers& headers) const;

  static constexpr size_t kMaxRemembered = 4096;

 private:
  const std::string relay_fqcn_;
  mutable std::mutex mu_;
  std::string server_cert_;                 // guarded by mu_
  mutable std::set<std::string> verified_;  // name, token, signature; guarded by mu_
};

class Registrar {
 public:
  struct Identity {
    std::string name, project;
    std::string cert_pem, key_pem, root_pem;
  };
  explicit Registrar(Identity identity);

  const std::string& ssid() const { return ssid_; }
  void handle_challenge(const cellnet::Message& request, cellnet::Responder respond);
  /// `on_registered` runs (outside the lock) after a successful registration.
  void handle_register(const cellnet::Message& request, cellnet::Responder respond);
  void on_registered(std::function<void(const Principal&)> callback);

  /// The incoming filter (cellnet::IncomingFilter): the name of the registered principal whose
  /// auth headers a frame carries and whose cell (or a cell below it) sent it; "" for challenge
  /// and register requests, which pass without them. Errors: UNAUTHENTICATED.
  Result<std::string> check(const cellnet::Headers& headers) const;

  /// The principal a message came from. Errors: UNAUTHENTICATED.
  Result<Principal> principal_of(const cellnet::Headers& headers) const;
  /// Notes activity (heartbeats). Returns false when the name is not registered.
  bool touch(const std::string& name);
  std::vector<Principal> principals(const std::string& kind) const;
  void remove(const std::string& name);
  /// One admin session, by its token: notes activity (admin commands) / ends it (`_logout`).
  void touch_session(const std::string& token);
  void remove_session(const std::string& token);

 private:
  struct Pending {
    std::string server_nonce;
    std::chrono::steady_clock::time_point expires;
  };

  Identity id_;
  std::string ssid_;
  mutable std::mutex mu_;
  std::map<std::string, Pending> pending_;      // by the registrant's cell and name
  std::map<std::string, Principal> principals_;  // by name (clients) or by token (admins)
  std::function<void(const Principal&)> on_registered_;
};

}  // namespace nvf::runtime
